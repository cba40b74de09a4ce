/**
 * The property run behind `stadium check` and the property tests: for every generated scenario,
 * every invariant of the checker holds (fault-free liveness only where the run has no faults) and
 * the run is deterministic; across a whole run, every kind of fault that was asked for really took
 * effect and every coverage mark fired (properties/marks.ts). A failure is shrunk by fast-check to
 * a minimal scenario.
 *
 * A run is its scenario indexes 0 .. runs-1, judged in ranges (check-range.ts) by this thread, by
 * worker threads (check-workers.ts) or by shards on other machines (shard.ts). Its outcome is the
 * ranges summed up to the first failure, and that failure shrunk in one thread
 * (counterexample.ts): the same for any way of cutting the run.
 *
 * Which scenario a run generates depends on the seed, its index, the scenario size and the mode; while
 * shrinking, on which candidates fail, so on the roles too (a planted bug). The number of runs
 * plays no part.
 */
import type { DeliveryMode } from '../core/index.ts';
import type { FaultKind, PlantedBug } from '../sim/index.ts';
import type { ScenarioSize } from './arbitraries.ts';
import { checkRange, type RangeResult } from './check-range.ts';
import { replayPath, shrinkFailure, type Counterexample } from './counterexample.ts';
import {
  emptyMarkCounts,
  marksJudgedFromRuns,
  marksOf,
  unreachedMarks,
  type Mark,
  type MarkCounts,
} from './marks.ts';
import type { RunContext } from './scenario-check.ts';
import { shardRange, type Shard } from './shard-range.ts';
import { emptyTally, ineffectiveKinds, type FaultTally } from './tally.ts';

export interface CheckOptions {
  runs: number;
  seed: number;
  size?: ScenarioSize;
  /** The delivery mode of every generated scenario; best-effort when absent. */
  mode?: DeliveryMode;
  /**
   * Check just one scenario: fast-check's path from a failing run with the same seed, size and
   * roles (`runs` is then ignored). A path that leads nowhere with these throws a ReplayPathError.
   */
  path?: string;
  /** Check only this shard's slice of the run's indexes (see shard-range.ts). */
  shard?: Shard;
  /** Run copies of the roles with this planted bug; the core's roles when absent. */
  bug?: PlantedBug | null;
  /** Check determinism (two runs, one traceHash) on every n-th scenario. */
  determinismEvery?: number;
  /** The coverage marks a whole run must reach; the mode's (`marksOf`) by default. */
  marks?: readonly Mark[];
  /** Called as scenarios are judged: how many so far (shrink candidates too), and the faults seen. */
  onProgress?: (scenariosDone: number, faultsStarted: number) => void;
}

export interface CheckResult {
  ok: boolean;
  /** Generated scenarios checked: all of the range, or up to and including the first failure. */
  runs: number;
  seed: number;
  /** The indexes asked for: [0, runs) for a whole run, a shard's slice, or a path's first segment. */
  range: { from: number; to: number };
  /** Whether the indexes are a whole run: only then are fault kinds and marks judged. */
  whole: boolean;
  durationMs: number;
  /** The threads that judged the scenarios: this one, and `workers - 1` worker threads. */
  workers: number;
  tally: FaultTally;
  /** Every declared mark's count over the generated scenarios (not the shrink candidates). */
  marks: MarkCounts;
  /**
   * Fault kinds that were requested but never took effect (a run with any of these fails); none
   * when a property failed (the run stopped early) or when the indexes are not a whole run.
   */
  ineffective: FaultKind[];
  /** Declared marks that never fired in a whole run that held (listed below `marksJudgedFromRuns` too). */
  unreachedMarks: string[];
  /** Whether unreached marks fail the run: a whole run that held, of `marksJudgedFromRuns` or more. */
  marksJudged: boolean;
  counterexample: Counterexample | null;
}

/** The run's context, for this thread or a worker's. */
export function contextOf(options: CheckOptions): RunContext {
  return {
    seed: options.seed,
    size: options.size ?? 'small',
    mode: options.mode ?? 'best-effort',
    bug: options.bug ?? null,
    determinismEvery: options.determinismEvery ?? 10,
    marks: options.marks ?? marksOf(options.mode ?? 'best-effort'),
  };
}

/** The indexes a run checks: all of them, or its shard's. */
export function rangeOf(options: CheckOptions): { from: number; to: number } {
  return options.shard === undefined
    ? { from: 0, to: options.runs }
    : shardRange(options.runs, options.shard);
}

/** Check the properties in this thread. */
export function checkProperties(options: CheckOptions): CheckResult {
  const started = performance.now();
  const context = contextOf(options);
  let done = 0;
  let faults = 0;
  const onScenario = (faultsStarted: number): void => {
    faults += faultsStarted;
    options.onProgress?.(++done, faults);
  };
  if (options.path !== undefined) return replay(context, options.path, started, onScenario);
  const { from, to } = rangeOf(options);
  const range = checkRange(context, from, to, onScenario);
  return finishRun(context, options, range, { started, workers: 1, onCandidate: () => onScenario(0) });
}

/** A run's outcome from its combined range: its failure shrunk in this thread, then the verdict. */
export function finishRun(
  context: RunContext,
  options: CheckOptions,
  range: RangeResult,
  how: { started: number; workers: number; onCandidate: () => void },
): CheckResult {
  const tally = range.tally;
  const counterexample =
    range.failure === null ? null : shrinkFailure(context, range.failure, tally, how.onCandidate);
  return {
    ...verdictOf({
      declared: context.marks,
      whole: options.shard === undefined || options.shard.count === 1,
      failed: counterexample !== null,
      tally,
      marks: range.marks,
    }),
    seed: context.seed,
    range: { from: range.from, to: range.to },
    durationMs: Math.round(performance.now() - how.started),
    workers: how.workers,
    tally,
    marks: range.marks,
    counterexample,
  };
}

/** What a run's counts say about it, beyond its failure: the judgements made over a whole run. */
export function verdictOf(run: {
  declared: readonly Mark[];
  whole: boolean;
  failed: boolean;
  tally: FaultTally;
  marks: MarkCounts;
}): Pick<CheckResult, 'ok' | 'runs' | 'whole' | 'ineffective' | 'unreachedMarks' | 'marksJudged'> {
  const runs = run.tally.generated;
  // Judgements over a whole run: a run that stopped at its first failure, or a slice, cannot make them.
  const judged = run.whole && !run.failed;
  const ineffective = judged ? ineffectiveKinds(run.tally) : [];
  const unreached = judged ? unreachedMarks(run.declared, run.marks) : [];
  const marksJudged = judged && runs >= marksJudgedFromRuns;
  return {
    ok: !run.failed && ineffective.length === 0 && !(marksJudged && unreached.length > 0),
    runs,
    whole: run.whole,
    ineffective,
    unreachedMarks: unreached,
    marksJudged,
  };
}

function replay(
  context: RunContext,
  path: string,
  started: number,
  onScenario: (faultsStarted: number) => void,
): CheckResult {
  const tally = emptyTally();
  const counts = emptyMarkCounts(context.marks);
  const counterexample = replayPath(context, path, tally, counts);
  onScenario(0);
  const index = Number(path.split(':')[0]);
  return {
    ok: counterexample === null,
    runs: 1,
    seed: context.seed,
    range: { from: index, to: index + 1 },
    whole: false,
    durationMs: Math.round(performance.now() - started),
    workers: 1,
    tally,
    marks: counts,
    ineffective: [],
    unreachedMarks: [],
    marksJudged: false,
    counterexample,
  };
}
