/**
 * A range of a property run's scenario indexes, judged in order. fast-check's scenario number i of
 * a seed is the one at its path "i" — reached by jumping its random generator, without generating
 * the scenarios before it — so a range [from, to) can be judged anywhere (this thread, a worker
 * thread, another machine) and the ranges of a run add up to the whole run.
 *
 * A range stops at its first failure, as a whole run does: the scenarios after it are not counted.
 * Ranges combine in index order up to the first failure among them; which thread judged which
 * range, and how the run was cut, changes nothing in the sum.
 */
import fc from 'fast-check';
import { scenarioArbitrary } from './arbitraries.ts';
import { addMarkCounts, countMarks, emptyMarkCounts, type Mark, type MarkCounts } from './marks.ts';
import { checkScenario, type RunContext } from './scenario-check.ts';
import { addTally, emptyTally, record, type FaultTally } from './tally.ts';

export interface RangeResult {
  /** The indexes asked for: [from, to). */
  from: number;
  to: number;
  /** Over the scenarios judged: from `from` up to the end, or up to and including the failure. */
  tally: FaultTally;
  marks: MarkCounts;
  failure: RangeFailure | null;
}

export interface RangeFailure {
  /** The scenario's index in the run, the first segment of its fast-check path. */
  index: number;
  problem: string;
}

/** Judge the scenarios [from, to) in this thread; `onScenario` hears of each as it is judged. */
export function checkRange(
  context: RunContext,
  from: number,
  to: number,
  onScenario?: (faultsStarted: number) => void,
): RangeResult {
  const result: RangeResult = {
    from,
    to,
    tally: emptyTally(),
    marks: emptyMarkCounts(context.marks),
    failure: null,
  };
  if (from >= to) return result;
  let index = from;
  const property = fc.property(scenarioArbitrary(context.size, context.mode), (generated) => {
    const verdict = checkScenario(context, generated, index % context.determinismEvery === 0);
    record(result.tally, generated, verdict.report, false);
    if (verdict.report !== null) countMarks(context.marks, verdict.report.counters, result.marks);
    onScenario?.(
      verdict.report === null ? 0 : Object.values(verdict.report.faults).reduce((a, b) => a + b, 0),
    );
    if (verdict.problem !== null) result.failure = { index, problem: verdict.problem };
    index++;
    return verdict.problem === null;
  });
  // fast-check as a lazy iterator over the range: it stops at the first failure and does not shrink.
  const details = fc.check(property, {
    seed: context.seed,
    path: String(from),
    numRuns: to - from,
    endOnFailure: true,
  });
  if (details.failed && result.failure === null) throw details.errorInstance;
  return result;
}

/**
 * The ranges, which cover [from, to) without overlap, as one: summed in index order up to the first
 * failure. Ranges past that failure may be missing, or cut short at failures of their own.
 */
export function combineRanges(
  declared: readonly Mark[],
  from: number,
  to: number,
  parts: readonly RangeResult[],
): RangeResult {
  const combined: RangeResult = {
    from,
    to,
    tally: emptyTally(),
    marks: emptyMarkCounts(declared),
    failure: null,
  };
  let next = from;
  for (const part of [...parts].sort((a, b) => a.from - b.from)) {
    if (part.from !== next) throw new Error(`ranges do not meet: ${next} then ${part.from}`);
    addTally(combined.tally, part.tally);
    addMarkCounts(combined.marks, part.marks);
    if (part.failure !== null) {
      combined.failure = part.failure;
      return combined;
    }
    next = part.to;
  }
  if (next !== to) throw new Error(`ranges end at ${next}, not ${to}`);
  return combined;
}
