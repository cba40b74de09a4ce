// Goal: the delivery invariants (and the viewer counts') hold in every generated failure scenario,
// runs are deterministic, and every kind of fault the generators asked for really took effect.
// Method: fast-check over the simulator with a fixed seed; `npm run properties:long` runs 10,000.
import { describe, expect, it } from 'vitest';
import { faultKinds } from '../sim/index.ts';
import { checkProperties } from './check.ts';
import { formatTally, ineffectiveKinds } from './tally.ts';

const runs = Number(process.env.STADIUM_PROPERTY_RUNS ?? 400);

describe('delivery invariants over generated failure scenarios', () => {
  it(`hold in ${runs} small scenarios (seed 20261121), with every fault kind seen to take effect`, () => {
    const result = checkProperties({ runs, seed: 20_261_121, size: 'small' });
    process.stdout.write(`\n${formatTally(result.tally)}\n`);
    expect(result.counterexample?.problem ?? null).toBeNull();
    expect(result.ineffective).toEqual([]);
    expect(result.ok).toBe(true);
    for (const kind of faultKinds) expect(result.tally.started[kind], kind).toBeGreaterThan(0);
    for (const role of ['frontend', 'dispatcher', 'store'] as const)
      expect(result.tally.deathsByRole[role], role).toBeGreaterThan(0);
    for (const mix of ['none', 'deaths', 'partitions', 'network', 'everything'] as const)
      expect(result.tally.byMix[mix], mix).toBeGreaterThan(0);
    // Viewer counts were judged, in quiet stretches and against partitions, not only present.
    expect(result.tally.occupancy.scenarios).toBeGreaterThan(runs / 10);
    expect(result.tally.occupancy.stretches).toBeGreaterThan(runs / 10);
    expect(result.tally.occupancy.againstCuts).toBeGreaterThan(0);
  });

  it('hold in 40 large scenarios (seed 20261122)', () => {
    const result = checkProperties({ runs: 40, seed: 20_261_122, size: 'large' });
    expect(result.counterexample?.problem ?? null).toBeNull();
    expect(result.ok).toBe(true);
  });

  it('a fault kind asked for but never effective is named, and fails the run', () => {
    const { tally } = checkProperties({ runs: 60, seed: 5, size: 'small' });
    expect(ineffectiveKinds(tally)).toEqual([]);
    // As if the world let every partitioned message through, or never let a node die.
    expect(ineffectiveKinds({ ...tally, drops: { ...tally.drops, partition: 0 } })).toEqual(['partition']);
    expect(ineffectiveKinds({ ...tally, started: { ...tally.started, kill: 0 } })).toEqual(['kill']);
    expect(ineffectiveKinds({ ...tally, drops: { ...tally.drops, isolated: 0, loss: 0 } })).toEqual([
      'isolate',
      'loss-burst',
    ]);
  });
});
