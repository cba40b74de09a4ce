// Goal: the properties find each known bug and shrink it to a scenario of a handful of faults and
// nodes that `stadium sim` can replay. Method: run the property with a planted bug in a copy of a role.
import { describe, expect, it } from 'vitest';
import { nodeIds, rolesWithBug, runScenario, type PlantedBug } from '../sim/index.ts';
import { checkProperties } from './check.ts';

const cases: [PlantedBug, RegExp][] = [
  ['no-dedupe', /no-duplicates/],
  ['leases-ignored', /lease-hygiene/],
  ['forward-twice', /forward-discipline/],
  ['unsubscribe-lost', /lease-release/],
];

describe('planted bugs are found and shrunk', () => {
  it.each(cases)('%s: found, shrunk to at most 2 faults and 8 nodes, and replayable', (bug, invariant) => {
    const result = checkProperties({ runs: 300, seed: 7, bug });
    expect(result.ok).toBe(false);
    // The run stopped at its first failure: whether every fault kind took effect is not judged.
    expect(result.ineffective).toEqual([]);
    expect(result.tally.generated).toBe(result.runs);
    const counterexample = result.counterexample!;
    expect(counterexample.problem).toMatch(invariant);
    const { scenario, seed } = counterexample.generated;
    expect(scenario.faults.length).toBeLessThanOrEqual(2);
    expect(nodeIds(scenario).length).toBeLessThanOrEqual(8);
    expect(counterexample.path).toMatch(/^\d+(:\d+)*$/);
    // The shrunk scenario replays: the same violation with the bug, none with the correct core.
    expect(runScenario(scenario, seed, { tracePath: null, roles: rolesWithBug(bug) }).ok).toBe(false);
    expect(runScenario(scenario, seed, { tracePath: null }).ok).toBe(true);
    // And fast-check's path replays the failure directly: that one scenario, not shrunk again.
    const replay = checkProperties({
      runs: 300,
      seed: result.seed,
      path: counterexample.path,
      bug,
    });
    expect(replay.ok).toBe(false);
    expect(replay.runs).toBe(1);
    expect(replay.counterexample?.generated).toEqual(counterexample.generated);
    expect(replay.counterexample?.problem).toBe(counterexample.problem);
  });
});
