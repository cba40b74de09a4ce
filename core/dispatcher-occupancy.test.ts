// Goal: viewer counts keep a cut-off datacenter's share, flagged stale once it has been silent for
// staleMs, and a peer's total outlasts the silence it takes to find the peer stale, whatever the
// lease is to the interval. Method: two datacenters in the test harness, watchers on both sides,
// then every message from dc-b to dc-a dropped; read every count dc-a's watchers are told.
import { describe, expect, it } from 'vitest';
import { Harness } from './test-harness.ts';
import type { Ms, Occupancy } from './types.ts';

/** dc-a: 2 watchers, dc-b: 3; `occupancyEveryMs` as given (the harness' lease is 1 s). */
function watched(occupancyEveryMs: Ms): Harness {
  const h = new Harness(
    { 'dc-a': { frontends: 1, dispatchers: 1 }, 'dc-b': { frontends: 1, dispatchers: 1 } },
    {
      occupancyEveryMs,
    },
  );
  for (const [frontend, connections] of [
    ['dc-a/fe-1', ['a1', 'a2']],
    ['dc-b/fe-1', ['b1', 'b2', 'b3']],
  ] as const)
    for (const c of connections) {
      h.client(frontend, c, { type: 'connect' });
      h.client(frontend, c, { type: 'subscribe', topic: 'live', occupancy: true });
    }
  return h;
}

function toldSince(h: Harness, connection: string, since: Ms): { at: Ms; occupancy: Occupancy }[] {
  return (h.occupancies.get(connection) ?? []).filter((told) => told.at >= since);
}

describe('occupancy across a cut', () => {
  // Intervals of 1 to 3 s against the harness' 1 s lease: a total that held only a lease and two
  // intervals ran out before its silent datacenter was stale, and its share vanished meanwhile.
  it.each([1_000, 1_500, 2_000, 3_000])(
    'interval %i ms: the share of a datacenter cut off is kept, then flagged stale, never dropped',
    (everyMs) => {
      const h = watched(everyMs);
      h.run(10 * everyMs);
      expect(h.occupancies.get('a1')?.at(-1)?.occupancy).toMatchObject({
        count: 5,
        byDc: { 'dc-a': 2, 'dc-b': 3 },
      });
      const cutAt = h.now;
      h.rule = (source, target) =>
        source.startsWith('dc-b/') && target.startsWith('dc-a/') ? 'drop' : 'pass';
      h.run(cutAt + 20 * everyMs);
      const told = toldSince(h, 'a1', cutAt);
      expect(told.length).toBeGreaterThan(0);
      for (const { occupancy } of told) expect(occupancy.byDc['dc-b']).toBe(3);
      expect(told.at(-1)?.occupancy).toMatchObject({ count: 5, stale: ['dc-b'] });
      // dc-b, which still hears dc-a, never counts it stale.
      for (const { occupancy } of toldSince(h, 'b1', cutAt)) expect(occupancy.stale).toEqual([]);
    },
  );
});
