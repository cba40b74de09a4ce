/**
 * From a failing scenario to its counterexample, and back by its path. A run that fails at index i
 * is shrunk here, in one thread, as fast-check shrinks it in a run that stops there: `fc.check`
 * with the path "i" re-judges scenario i and walks the same shrink candidates, so the shrunk
 * scenario and its path are the same whichever thread, worker count or shard found the failure.
 *
 * Which scenario a path leads to depends on the seed, the scenario size, the mode and (past its
 * first segment, which candidates fail) the roles: a path replays only with the options of its run.
 */
import fc from 'fast-check';
import type { Violation } from '../sim/index.ts';
import { scenarioArbitrary, type GeneratedScenario } from './arbitraries.ts';
import type { RangeFailure } from './check-range.ts';
import { countMarks, type MarkCounts } from './marks.ts';
import { checkScenario, type RunContext, type ScenarioVerdict } from './scenario-check.ts';
import { record, type FaultTally } from './tally.ts';

export interface Counterexample {
  generated: GeneratedScenario;
  violations: Violation[];
  problem: string;
  /** fast-check's replay key: `--seed <seed> --path <path>` reproduces the failure. */
  path: string;
  shrinks: number;
}

/** A `path` that does not lead to a scenario of this seed, size, mode and roles: it came from another run. */
export class ReplayPathError extends Error {
  override name = 'ReplayPathError';
  constructor(readonly path: string) {
    super(`path ${path} does not lead to a scenario of this seed, size, mode and roles`);
  }
}

/**
 * Shrink the failure found at `failure.index`; every candidate after the failing scenario itself
 * (which its range counted already) is counted in `tally` as a shrink candidate.
 */
export function shrinkFailure(
  context: RunContext,
  failure: RangeFailure,
  tally: FaultTally,
  onCandidate?: () => void,
): Counterexample {
  let candidates = 0;
  let last: { problem: string; violations: Violation[] } | null = null;
  const property = fc.property(scenarioArbitrary(context.size, context.mode), (generated) => {
    const verdict = checkScenario(context, generated, candidates % context.determinismEvery === 0);
    if (candidates > 0) {
      record(tally, generated, verdict.report, true);
      onCandidate?.();
    }
    candidates++;
    // fast-check reports the last candidate that failed: the shrunk scenario.
    if (verdict.problem !== null) last = failed(verdict, verdict.problem);
    return verdict.problem === null;
  });
  const path = String(failure.index);
  const details = fc.check(property, { seed: context.seed, path, numRuns: 1 });
  if (details.failed && details.counterexample !== null && last !== null) {
    const { problem, violations } = last;
    return {
      generated: details.counterexample[0],
      problem,
      violations,
      path: details.counterexamplePath ?? path,
      shrinks: details.numShrinks,
    };
  }
  if (details.failed) throw details.errorInstance;
  // Judged again, the scenario held: only a run that is not deterministic does that.
  const [generated] = fc.sample(scenarioArbitrary(context.size, context.mode), {
    seed: context.seed,
    path,
    numRuns: 1,
  });
  if (generated === undefined) throw new Error(`no scenario at index ${path}`);
  return {
    generated,
    problem: `${failure.problem} (judged again, it held: the run is not deterministic)`,
    violations: [],
    path,
    shrinks: 0,
  };
}

/**
 * Judge the one scenario at `path`, the end of a failing run's shrinking: it is not shrunk again.
 * It is counted in `tally` and `marks` as a generated scenario.
 */
export function replayPath(
  context: RunContext,
  path: string,
  tally: FaultTally,
  marks: MarkCounts,
): Counterexample | null {
  let judged: { problem: string; violations: Violation[] } | null | undefined;
  const property = fc.property(scenarioArbitrary(context.size, context.mode), (generated) => {
    // fast-check goes on from a scenario that holds to the candidates after it; only the first
    // is the one asked for.
    if (judged !== undefined) return true;
    const verdict = checkScenario(context, generated, true);
    record(tally, generated, verdict.report, false);
    if (verdict.report !== null) countMarks(context.marks, verdict.report.counters, marks);
    judged = verdict.problem === null ? null : failed(verdict, verdict.problem);
    return verdict.problem === null;
  });
  let details;
  try {
    details = fc.check(property, { seed: context.seed, path, numRuns: 1, endOnFailure: true });
  } catch (error) {
    // fast-check walks the path before it runs anything, and says so in plain words.
    if (error instanceof Error && error.message.startsWith('Unable to replay'))
      throw new ReplayPathError(path);
    throw error;
  }
  // A last step past the end of its shrink candidates leaves fast-check nothing to run.
  if (details.numRuns === 0 || judged === undefined) throw new ReplayPathError(path);
  if (judged === null) return null;
  if (details.counterexample === null) throw details.errorInstance;
  return { generated: details.counterexample[0], ...judged, path, shrinks: 0 };
}

function failed(verdict: ScenarioVerdict, problem: string): { problem: string; violations: Violation[] } {
  return { problem, violations: verdict.report?.violations ?? [] };
}
