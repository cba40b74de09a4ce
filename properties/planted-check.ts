/** The test both planted-bug files run: found, shrunk small, and replayable, for each entry given. */
import { expect, it } from 'vitest';
import { nodeIds, rolesWithBug, runScenario } from '../sim/index.ts';
import { checkProperties } from './check.ts';
import { catalogueRuns, catalogueSeed, type CatalogueEntry } from './planted-catalogue.ts';

export function plantedBugIsCaught(entries: CatalogueEntry[]): void {
  it.each(entries.map((entry) => [entry.bug, entry] as const))(
    `%s: found by ${catalogueRuns} runs of seed ${catalogueSeed}, shrunk to at most 3 faults, and replayable`,
    (bug, { invariant, nodesMax }) => {
      const result = checkProperties({
        runs: catalogueRuns,
        seed: catalogueSeed,
        bug,
      });
      expect(result.ok).toBe(false);
      // The run stopped at its first failure: whether every fault kind took effect is not judged.
      expect(result.ineffective).toEqual([]);
      expect(result.tally.generated).toBe(result.runs);
      const counterexample = result.counterexample!;
      expect(counterexample.problem).toMatch(invariant);
      const { scenario, seed } = counterexample.generated;
      expect(scenario.faults.length).toBeLessThanOrEqual(3);
      expect(nodeIds(scenario).length).toBeLessThanOrEqual(nodesMax);
      expect(counterexample.path).toMatch(/^\d+(:\d+)*$/);
      // The shrunk scenario replays: the same violation with the bug, none with the correct core.
      expect(runScenario(scenario, seed, { tracePath: null, roles: rolesWithBug(bug) }).ok).toBe(false);
      expect(runScenario(scenario, seed, { tracePath: null }).ok).toBe(true);
      // And fast-check's path replays the failure directly: that one scenario, not shrunk again.
      const replay = checkProperties({
        runs: catalogueRuns,
        seed: result.seed,
        path: counterexample.path,
        bug,
      });
      expect(replay.ok).toBe(false);
      expect(replay.runs).toBe(1);
      expect(replay.counterexample?.generated).toEqual(counterexample.generated);
      expect(replay.counterexample?.problem).toBe(counterexample.problem);
    },
    // A bug found late costs up to a thousand runs and a long shrink: ~45 s alone, more in parallel.
    240_000,
  );
}
