// Goal: the facts name what each message is about truthfully, across restarts.
// Method: run the world with dispatcher kills and lossy links and read its facts directly.
import { describe, expect, it } from 'vitest';
import type { Fact, MessageFacts } from '../facts.ts';
import { smallScenario } from '../test-fixtures.ts';
import { runWorld } from './world.ts';

describe('network facts', () => {
  it('a store write is never taken for the lookup of an earlier incarnation that reused its request id', () => {
    // Request ids restart at 1 with a dispatcher; a lookup whose reply was lost must not leave its
    // event attached to the next request of the same id (a lease write), or a lost lease message
    // would be filed as the loss of an old event.
    const scenario = smallScenario({
      durationMs: 8_000,
      lossPerMillion: 20_000,
      randomFaults: {
        killsPerMinute: 30,
        partitionsPerMinute: 5,
        isolationsPerMinute: 5,
        jitterStormsPerMinute: 0,
        lossBurstsPerMinute: 5,
        durationMs: { min: 200, max: 1_500 },
      },
    });
    const sent: MessageFacts[] = [];
    const record = (fact: Fact): void => {
      if (fact.kind === 'sent' && fact.message.type === 'store-request') sent.push(fact.message);
    };
    for (const seed of ['10', '13', '20']) runWorld(scenario, seed, { facts: [record] });
    expect(sent.filter((m) => m.leaseOf !== undefined).length).toBeGreaterThan(50);
    expect(sent.filter((m) => m.e !== undefined && m.leaseOf !== undefined)).toEqual([]);
  });
});
