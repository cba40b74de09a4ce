// Goal: the occupancy checker holds a run to its two promises — counts converge to the truth within
// B of the last change, and a cut-off datacenter's share is kept and flagged stale, never dropped —
// and is seen to fail when a count breaks either, naming who told what, the truth, and since when.
// Method: hand-written facts of a small two-datacenter run fed to the whole suite; each test moves
// the clock around B, B_death and the stale time as the scenario's settings make them.
import { describe, expect, it } from 'vitest';
import type { DcId, NodeId, Us } from '../../core/index.ts';
import type { Fact } from '../facts.ts';
import { occupancyBounds } from '../occupancy-bounds.ts';
import { parseScenario } from '../scenario-parse.ts';
import { nodeIds, type Fault, type Scenario } from '../scenario.ts';
import { smallScenario } from '../test-fixtures.ts';
import { Checkers, type CheckerSummary } from './index.ts';

const topic = 'live';
const fa = 'dc-a/frontend-1';
const fb = 'dc-b/frontend-1';
const da = 'dc-a/dispatcher-1';

/** Facts by hand, in time order: `at` moves the clock (never back), each fact is a microsecond after the last. */
class Facts {
  readonly facts: Fact[] = [];
  private t: Us = 0;
  private m = 0;
  private readonly nodes = new Map<number, NodeId>();

  constructor(
    readonly scenario: Scenario = smallScenario({ name: 'occupancy' }),
    faults: Fault[] = [],
  ) {
    this.facts.push({ kind: 'run', t: 0, scenario, seed: 'x', nodes: nodeIds(scenario), faults });
  }

  at(ms: number): this {
    this.t = Math.max(this.t, ms * 1_000);
    return this;
  }

  /** Connection `c` opens at `node` and joins the topic; `watches`: its viewer asks for counts. */
  viewer(c: number, node: NodeId, watches = true): this {
    this.nodes.set(c, node);
    const id = `${node}#${c}`;
    this.push({
      kind: 'connection',
      op: 'opened',
      t: this.tick(),
      c,
      id,
      node,
      viewer: c,
      ...(watches ? { occupancy: true as const } : {}),
    });
    return this.push({ kind: 'connection', op: 'joined', t: this.tick(), c, id, node, viewer: c, topic });
  }

  close(c: number): this {
    const node = this.nodes.get(c) as NodeId;
    return this.push({
      kind: 'connection',
      op: 'closed',
      t: this.tick(),
      c,
      id: `${node}#${c}`,
      node,
      viewer: c,
    });
  }

  /** A dispatcher's lease reply reaches a frontend: the counts it carries were composed when it was sent. */
  reply(from: NodeId, to: NodeId): this {
    const message = { m: ++this.m, from, to, type: 'lease-reply' as const, leaseOf: to };
    this.push({ kind: 'sent', t: this.tick(), message, copies: 1 });
    return this.push({ kind: 'received', t: this.tick(), message });
  }

  /** `node` tells connections the count: `byDc` its shares, `stale` the datacenters flagged. */
  tell(node: NodeId, connections: number[], byDc: Record<DcId, number>, stale: DcId[] = []): this {
    const count = Object.values(byDc).reduce((a, b) => a + b, 0);
    return this.push({ kind: 'occupancy', t: this.tick(), node, topic, connections, count, byDc, stale });
  }

  fault(f: number, phase: 'start' | 'end', fault: Fault): this {
    return this.push({ kind: 'fault', t: this.tick(), f, phase, fault });
  }

  node(node: NodeId, op: 'down' | 'up'): this {
    return this.push({ kind: 'node', t: this.tick(), node, op });
  }

  judge(): CheckerSummary {
    const checkers = new Checkers();
    for (const fact of this.facts) checkers.apply(fact);
    checkers.apply({ kind: 'end', t: this.t + 1, items: 1 });
    return checkers.summary();
  }

  private tick(): Us {
    return ++this.t;
  }

  private push(fact: Fact): this {
    this.facts.push(fact);
    return this;
  }
}

const bounds = occupancyBounds(smallScenario());
const bMs = Math.ceil(bounds.convergeUs / 1_000);
const deathMs = Math.ceil(bounds.deathUs / 1_000);
const staleMs = bounds.staleMs;

function violationsOf(summary: CheckerSummary, invariant: 'occupancy-converge' | 'occupancy-stale-dropped') {
  return summary.violations.filter((v) => v.invariant === invariant);
}

describe('occupancy-converge', () => {
  it('watchers told the truth by B after the last change: holds, and the stretch is judged', () => {
    const summary = new Facts()
      .viewer(1, fa)
      .viewer(2, fb)
      .at(1_000)
      .tell(fa, [1], { 'dc-a': 1 })
      .tell(fb, [2], { 'dc-b': 1 })
      .at(3_000)
      .tell(fa, [1], { 'dc-a': 1, 'dc-b': 1 })
      .tell(fb, [2], { 'dc-a': 1, 'dc-b': 1 })
      .at(bMs + 100)
      .judge();
    expect(summary.violations).toEqual([]);
    expect(summary.occupancy.windowsJudged).toBe(1);
    expect(summary.occupancy.watchers).toBe(2);
    expect(summary.occupancy.maxError).toMatchObject({ viewers: 1, topic, told: 1, truth: 2 });
    expect(summary.occupancy.maxErrorJudgedViewers).toBe(0);
    expect(summary.occupancy.convergence.map((c) => c.dc)).toEqual(['dc-a', 'dc-b']);
  });

  it('a watcher still told a stale count when B has passed is a violation that says who, what, the truth and since when', () => {
    const summary = new Facts()
      .viewer(1, fa)
      .viewer(2, fb)
      .at(1_000)
      .tell(fa, [1], { 'dc-a': 1 })
      .tell(fb, [2], { 'dc-a': 1, 'dc-b': 1 })
      .at(bMs + 100)
      .judge();
    const [violation, ...rest] = violationsOf(summary, 'occupancy-converge');
    expect(rest).toEqual([]);
    expect(violation?.node).toBe(fa);
    expect(violation?.connection).toBe(`${fa}#1`);
    expect(violation?.message).toMatch(
      /1 watcher\(s\) of "live" at dc-a\/frontend-1 \(first: dc-a\/frontend-1#1\) had last been told 1 \(dc-a 1\) at 1\.000001s, and still had at .*, but 2 connections watch it \(dc-a 1, dc-b 1\) and nothing had changed since 0\.000004s \(dc-b\/frontend-1#2 joined at dc-b\/frontend-1\): counts must converge within B = /,
    );
    expect(violation?.chain[0]).toMatch(/the last change of "live": dc-b\/frontend-1#2 joined/);
  });

  it('a count told in a quiet stretch must be the truth; one told before B may lag', () => {
    const lagging = new Facts().viewer(1, fa).viewer(2, fa).at(500).tell(fa, [1, 2], { 'dc-a': 1 });
    expect(lagging.at(1_000).tell(fa, [1, 2], { 'dc-a': 2 }).judge().violations).toEqual([]);
    const wrong = new Facts()
      .viewer(1, fa)
      .viewer(2, fa)
      .at(1_000)
      .tell(fa, [1, 2], { 'dc-a': 2 })
      .at(bMs + 500)
      .tell(fa, [1, 2], { 'dc-a': 3 })
      .judge();
    expect(violationsOf(wrong, 'occupancy-converge').map((v) => v.message)).toEqual([
      expect.stringMatching(
        /dc-a\/frontend-1 told 2 watcher\(s\) of "live" \(first: .*\) 3 \(dc-a 3\), but 2 connections watch it/,
      ),
    ]);
    expect(wrong.occupancy.maxErrorJudgedViewers).toBe(1);
  });

  it('a datacenter still flagged stale once quiet is a violation too', () => {
    const summary = new Facts()
      .viewer(1, fa)
      .viewer(2, fb)
      .at(1_000)
      .tell(fa, [1], { 'dc-a': 1, 'dc-b': 1 }, ['dc-b'])
      .at(bMs + 100)
      .judge();
    expect(violationsOf(summary, 'occupancy-converge')[0]?.message).toMatch(
      /had last been told 2 \(dc-a 1, dc-b 1 stale\)/,
    );
  });

  it('nothing is judged while a fault is in force; B after it ends, and B_death after a frontend died', () => {
    const kill: Fault = { kind: 'kill', atMs: 1_000, node: 'dc-b/frontend-2', restartAfterMs: 500 };
    const facts = (untilMs: number): CheckerSummary =>
      new Facts()
        .viewer(1, fa)
        .at(500)
        .tell(fa, [1], { 'dc-a': 1, 'dc-b': 4 })
        .at(1_000)
        .fault(1, 'start', kill)
        .node(kill.node, 'down')
        .at(1_500)
        .fault(1, 'end', kill)
        .node(kill.node, 'up')
        .at(untilMs)
        .judge();
    // The dead frontend's four viewers are in the count until its lease and B_death have passed.
    expect(facts(1_000 + deathMs - 10).violations).toEqual([]);
    expect(violationsOf(facts(1_000 + deathMs + 10), 'occupancy-converge')[0]?.message).toMatch(
      /had last been told 5 \(dc-a 1, dc-b 4\) .* but 1 connections watch it .* since 1\.500\d+s \(dc-b\/frontend-2 came back \(fault #1; it died at 1\.000\d+s, its viewers' count held by its lease\)\)/,
    );
  });

  it('a frontend that dies for good: its viewers leave the count within B_death of its death', () => {
    const kill: Fault = { kind: 'kill', atMs: 1_000, node: fb };
    const summary = new Facts(smallScenario({ name: 'occupancy' }), [kill])
      .viewer(1, fa)
      .viewer(2, fb)
      .at(500)
      .tell(fa, [1], { 'dc-a': 1, 'dc-b': 1 })
      .at(1_000)
      .fault(1, 'start', kill)
      .node(fb, 'down')
      .close(2)
      .at(1_000 + deathMs + 10)
      .judge();
    expect(violationsOf(summary, 'occupancy-converge')[0]?.message).toMatch(/but 1 connections watch it/);
    expect(violationsOf(summary, 'occupancy-converge')[0]?.chain).toEqual([
      expect.stringMatching(/^1\.000\d+s dc-b\/frontend-1 died for good$/),
      expect.stringMatching(/the last change of "live": dc-b\/frontend-1#2 closed at dc-b\/frontend-1$/),
      expect.stringMatching(
        /every effect of dc-b\/frontend-1 died for good out of every count \(B \d+ ms, B_death \d+ ms after a death\)$/,
      ),
      expect.stringMatching(
        /dc-a\/frontend-1 told dc-a\/frontend-1#1 2 \(dc-a 1, dc-b 1\); the truth: 1 \(dc-a 1, dc-b 0\)$/,
      ),
    ]);
  });

  it('judges nothing when occupancy is off, nobody watches, or the store could refuse a total', () => {
    const stuck = (scenario: Scenario): CheckerSummary =>
      new Facts(scenario)
        .viewer(1, fa)
        .at(500)
        .tell(fa, [1], { 'dc-a': 7 })
        .at(bMs + 500)
        .judge();
    const base = smallScenario({ name: 'occupancy' });
    expect(stuck(base).violations).toHaveLength(1);
    const off = parseScenario({ ...base, roles: { ...base.roles, occupancyEveryMs: 0 } }, 'x');
    expect(stuck(off).occupancy.notJudged).toMatch(/occupancy is off/);
    expect(stuck(off).violations).toEqual([]);
    const tight = parseScenario({ ...base, roles: { ...base.roles, storeLimits: { topicsMax: 1 } } }, 'x');
    expect(stuck(tight).occupancy.notJudged).toMatch(/store limits could refuse/);
    expect(stuck(tight).violations).toEqual([]);
  });
});

describe('occupancy-stale-dropped', () => {
  const partition: Fault = {
    kind: 'partition',
    atMs: 2_000,
    between: ['dc-a', 'dc-b'],
    repairAfterMs: 60_000,
  };
  /** dc-a's watcher told both shares, then dc-a and dc-b cut apart at 2 s. */
  const cutAt2s = (): Facts =>
    new Facts()
      .viewer(1, fa)
      .viewer(2, fb)
      .at(1_000)
      .reply(da, fa)
      .tell(fa, [1], { 'dc-a': 1, 'dc-b': 1 })
      .at(2_000)
      .fault(1, 'start', partition);

  it("a cut-off datacenter's share that vanishes from a count composed in the cut is a silent drop", () => {
    const summary = cutAt2s().at(2_500).reply(da, fa).at(3_000).tell(fa, [1], { 'dc-a': 1 }).judge();
    const [violation] = violationsOf(summary, 'occupancy-stale-dropped');
    expect(violation?.message).toMatch(
      /dc-a\/frontend-1 told 1 watcher\(s\) of "live" \(first: dc-a\/frontend-1#1\) 1 \(dc-a 1\), without dc-b's share, which it had told as 1 at .*, while dc-b has been cut off from dc-a since 2\.\d+s/,
    );
    expect(
      violation?.chain.some((step) => /dc-a\/dispatcher-1 composed a count for dc-a\/frontend-1/.test(step)),
    ).toBe(true);
  });

  it('a count composed before the cut is not judged against it', () => {
    const summary = cutAt2s().at(2_500).tell(fa, [1], { 'dc-a': 1 }).judge();
    expect(violationsOf(summary, 'occupancy-stale-dropped')).toEqual([]);
  });

  it('kept and flagged stale once staleMs has passed: holds; kept as fresh after it: a violation', () => {
    const flagged = cutAt2s()
      .at(2_000 + staleMs + 100)
      .reply(da, fa)
      .at(2_000 + staleMs + 500)
      .tell(fa, [1], { 'dc-a': 2, 'dc-b': 1 }, ['dc-b'])
      .judge();
    expect(violationsOf(flagged, 'occupancy-stale-dropped')).toEqual([]);
    const fresh = cutAt2s()
      .at(2_000 + staleMs + 100)
      .reply(da, fa)
      .at(2_000 + staleMs + 500)
      .tell(fa, [1], { 'dc-a': 2, 'dc-b': 1 })
      .judge();
    expect(violationsOf(fresh, 'occupancy-stale-dropped')[0]?.message).toMatch(
      /dc-b's share as fresh, composed more than staleMs 3000 ms after/,
    );
  });

  it('a watcher never told the cut-off datacenter is stale, well past staleMs, is a violation; a restarted store excuses the cut', () => {
    const never = cutAt2s()
      .at(2_000 + staleMs + 5_000)
      .judge();
    expect(violationsOf(never, 'occupancy-stale-dropped')[0]?.message).toMatch(
      /1 watcher\(s\) of "live" at dc-a\/frontend-1 .* still counted dc-b's share as fresh at .*, though dc-b had been cut off from dc-a since 2\.\d+s/,
    );
    const restarted = cutAt2s()
      .at(2_500)
      .node('dc-a/store', 'up')
      .at(2_600)
      .reply(da, fa)
      .at(3_000)
      .tell(fa, [1], { 'dc-a': 1 })
      .at(2_000 + staleMs + 5_000)
      .judge();
    expect(violationsOf(restarted, 'occupancy-stale-dropped')).toEqual([]);
  });
});
