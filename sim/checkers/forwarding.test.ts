// Goal: forward discipline lets a publish accepted again (a publisher's retry, a duplicated
// message) forward afresh once, whenever that forward goes out, and nothing more.
// Method: small fact streams written by hand (test-facts.ts), judged by the whole checker suite.
import { describe, expect, it } from 'vitest';
import type { Fact } from '../facts.ts';
import { Checkers, type InvariantName } from './index.ts';
import { SyntheticFacts, syntheticScenario } from './test-facts.ts';

const a1 = 'dc-a/dispatcher-1';
const b1 = 'dc-b/dispatcher-1';
const { forwardTimeoutMs } = syntheticScenario('reliable').roles;

function broken(facts: Fact[]): Partial<Record<InvariantName, number>> {
  const checkers = new Checkers();
  for (const fact of facts) checkers.apply(fact);
  return Object.fromEntries(Object.entries(checkers.summary().violationCounts).filter(([, n]) => n > 0));
}

describe('forward discipline', () => {
  it("a publish accepted again forwards afresh, though the first acceptance's forward was acknowledged meanwhile", () => {
    const s = new SyntheticFacts('reliable').at(1_000).publish('e1', 'live', 'dc-a');
    s.forward(a1, b1, 'e1', 1).publish('e1', 'live', 'dc-a');
    // Accepted again while forward 1 is unacknowledged; forward 1 is retried and acknowledged, and
    // then the second acceptance's own forward leaves.
    s.at(1_000 + forwardTimeoutMs + 2)
      .forward(a1, b1, 'e1', 1)
      .forwardAcked(b1, a1, 1);
    s.forward(a1, b1, 'e1', 2).forwardAcked(b1, a1, 2);
    expect(broken(s.end())).toEqual({});
  });

  it('a dispatcher that restarted numbers its forwards afresh: accepting the event again, it forwards it anew', () => {
    const s = new SyntheticFacts('reliable').publish('e1', 'live', 'dc-a').forward(a1, b1, 'e1', 1);
    s.forwardAcked(b1, a1, 1).down(a1).up(a1);
    s.publish('e1', 'live', 'dc-a').forward(a1, b1, 'e1', 1).forwardAcked(b1, a1, 1);
    expect(broken(s.end())).toEqual({});
  });

  it('planted: a forward after the acknowledgement, with no acceptance again, is reported', () => {
    const s = new SyntheticFacts('reliable').publish('e1', 'live', 'dc-a').forward(a1, b1, 'e1', 1);
    s.forwardAcked(b1, a1, 1).forward(a1, b1, 'e1', 2).forwardAcked(b1, a1, 2);
    expect(broken(s.end())).toEqual({ 'forward-discipline': 1 });
  });

  it('planted: one acceptance again allows one fresh forward, not two', () => {
    const s = new SyntheticFacts('reliable').publish('e1', 'live', 'dc-a').forward(a1, b1, 'e1', 1);
    s.publish('e1', 'live', 'dc-a').forwardAcked(b1, a1, 1).forward(a1, b1, 'e1', 2);
    s.forwardAcked(b1, a1, 2).forward(a1, b1, 'e1', 3).forwardAcked(b1, a1, 3);
    expect(broken(s.end())).toEqual({ 'forward-discipline': 1 });
  });
});
