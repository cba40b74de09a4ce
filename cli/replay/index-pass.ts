/**
 * The pass that opens a trace: one streaming read of the file, a chunk at a time. Every line goes
 * through the sim's trace reader, which checks it and turns it back into the fact it serializes,
 * and every fact goes to the sim's checkers, which judge the trace again as they judged the run.
 * The pass keeps what later views need, never the records themselves:
 * - a checkpoint every `checkpointEvery` records (checkpoints.ts);
 * - the structural log of every `conn`, `lease` and `node` record (structural-log.ts), names
 *   interned (string-table.ts);
 * - the faults with their spans, per event where its records lie (event-table.ts), and the gap
 *   notices with what they cover (gap-table.ts);
 * - what the checkers concluded: the violations they keep in detail (the run's report lists the
 *   same), each at the line of the record that revealed it, and their running totals, as the
 *   difference from what a record obviously adds wherever there is one (replay-state.ts).
 *
 * The checkers forget each event's details once it is past its retention, so the pass holds
 * bounded memory on a trace of millions of lines. Every problem with the file becomes a UsageError
 * naming the file and the line.
 */
import { assert } from '../../core/index.ts';
import {
  Checkers,
  eventOfRecord,
  TraceError,
  TraceReader,
  type CheckersHeld,
  type CheckerSummary,
  type CheckerTotals,
  type TraceLine,
  type TraceRecord,
  type Violation,
} from '../../sim/index.ts';
import { UsageError } from '../usage-error.ts';
import { Checkpoints } from './checkpoints.ts';
import { EventTable } from './event-table.ts';
import { FaultSpans } from './fault-spans.ts';
import { GapTable } from './gap-table.ts';
import {
  type CounterCorrection,
  type Counters,
  ReplayState,
  assumedCounts,
  zeroCounters,
} from './replay-state.ts';
import { StringTable } from './string-table.ts';
import { StructuralLog } from './structural-log.ts';
import type { TraceFile } from './trace-file.ts';

export type RunRecord = Extract<TraceRecord, { k: 'run' }>;
export type EndRecord = Extract<TraceRecord, { k: 'end' }>;

/** Whether a trace is of a reliable-mode run (its run record names the mode). */
export function isReliable(trace: { run: RunRecord }): boolean {
  return (trace.run.scenario as { mode?: unknown } | null)?.mode === 'reliable';
}

export interface IndexOptions {
  checkpointEvery?: number;
  chunkBytes?: number;
  /** Keep the full structure at a checkpoint once this many structural entries have passed since the last. */
  structureEvery?: number;
  /** Told the bytes read so far and the file's size, about every chunk (a progress bar for large traces). */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

export interface ViolationEntry {
  /** The line of the record whose fact revealed it to the checkers. */
  line: number;
  /** When it went wrong: the violation's own time. */
  t: number;
  violation: Violation;
}

/** What the pass keeps of a trace. */
export interface IndexedTrace {
  run: RunRecord;
  end: EndRecord | null;
  /** Number of lines (records). */
  lines: number;
  /** Time of the last record. */
  endT: number;
  /** The counters over the whole trace. */
  totals: Counters;
  checkpointEvery: number;
  checkpoints: Checkpoints;
  strings: StringTable;
  log: StructuralLog;
  events: EventTable;
  faults: FaultSpans;
  gaps: GapTable;
  /** The violations the checkers keep in detail, by time, then line. */
  violations: ViolationEntry[];
  /** Per line, where the checkers counted otherwise than a record obviously adds. */
  corrections: Map<number, CounterCorrection>;
  /** What the re-check concluded over the whole trace (the run's report, when the trace is whole). */
  checked: CheckerSummary;
  /** What the checkers held per event when the pass ended. */
  checkersHeld: CheckersHeld;
}

/** The checkers' change of totals for one record, less what the record obviously adds; null when nothing is left. */
function correctionOf(
  record: TraceRecord,
  before: CheckerTotals,
  after: CheckerTotals,
): CounterCorrection | null {
  const assumed = assumedCounts(record);
  const correction: Counters = {
    published: after.published - before.published - assumed.published,
    delivered: after.delivered - before.delivered - assumed.delivered,
    duplicates: after.duplicates - before.duplicates,
    lostExplained: after.lostExplained - before.lostExplained,
    lostUnexplained: after.lostUnexplained - before.lostUnexplained,
    violations: after.violations - before.violations,
  };
  for (const name in correction) if (correction[name as keyof Counters] !== 0) return correction;
  return null;
}

function sameCounts(a: Counters, b: Counters): boolean {
  for (const name in a) if (a[name as keyof Counters] !== b[name as keyof Counters]) return false;
  return true;
}

/** Index a trace file; throws a UsageError naming the line for any problem with it. */
export function indexTrace(file: TraceFile, options: IndexOptions = {}): IndexedTrace {
  const checkpointEvery = options.checkpointEvery ?? 4096;
  const chunkBytes = options.chunkBytes ?? 1 << 20;
  const strings = new StringTable();
  const log = new StructuralLog(strings);
  const events = new EventTable();
  const faults = new FaultSpans();
  const gaps = new GapTable(strings);
  const violations: ViolationEntry[] = [];
  const checkpoints = new Checkpoints({
    structureEvery: options.structureEvery ?? 16_384,
    log,
    strings,
    faults,
  });
  const corrections = new Map<number, CounterCorrection>();
  const onProgress = options.onProgress;
  const reader = new TraceReader(file.path);
  let line = 0;
  const checkers = new Checkers((output) => {
    if (output.kind === 'violation')
      violations.push({ line, t: output.violation.t, violation: output.violation });
  });

  /** Keep what the index needs of one record, before the state applies it. */
  const note = (record: TraceRecord, offset: number): void => {
    if (record.k === 'conn' || record.k === 'lease' || record.k === 'node') log.append(record);
    else if (record.k === 'fault') faults.note(record, line);
    else if (record.k === 'gap') gaps.note(record, offset, line);
    const e = eventOfRecord(record);
    if (e !== undefined) events.note(e, record.k === 'publish', offset, record.t);
  };

  let run: RunRecord | null = null;
  let end: EndRecord | null = null;
  let state: ReplayState | null = null;
  let totals: CheckerTotals = zeroCounters();
  let lastT = 0;
  let reported = 0;
  file.lines(0, chunkBytes, (text, offset, complete) => {
    line++;
    if (onProgress && offset - reported >= chunkBytes) {
      reported = offset;
      onProgress(offset, file.sizeBytes);
    }
    let read: TraceLine;
    try {
      read = reader.read(text, complete);
    } catch (error) {
      if (error instanceof TraceError) file.fail(error.line, error.reason);
      throw error;
    }
    const { record, fact } = read;
    if (record.k === 'run') {
      run = record;
      state = new ReplayState(record.nodes);
    }
    assert(state !== null, 'the reader lets only a run record come first');
    lastT = record.t;
    note(record, offset);
    let correction: CounterCorrection | null = null;
    if (fact !== null) {
      try {
        checkers.apply(fact);
      } catch (error) {
        // A trace the reader accepts may still say something no run could (a batch for a connection
        // nothing opened): the checkers' own assertions then name it.
        file.fail(line, `the checkers cannot judge this record: ${(error as Error).message}`);
      }
      const after = checkers.totals();
      correction = correctionOf(record, totals, after);
      totals = after;
    }
    if (correction !== null) corrections.set(line, correction);
    state.apply(record, correction ?? undefined);
    if (record.k === 'end') end = record;
    if (state.records % checkpointEvery === 0 || line === 1) {
      assert(sameCounts(state.counters, totals), `the counters at line ${line} are not the checkers'`);
      checkpoints.take(state, offset + Buffer.byteLength(text) + 1, line + 1);
    }
    return true;
  });
  if (run === null || state === null)
    throw new UsageError(`trace ${file.path}: empty file (expected a \`run\` record on line 1)`);
  const final: ReplayState = state;
  assert(sameCounts(final.counters, totals), "the counters at the end are not the checkers'");
  violations.sort((a, b) => a.t - b.t || a.line - b.line);
  return {
    run,
    end,
    lines: line,
    endT: lastT,
    totals: { ...final.counters },
    checkpointEvery,
    checkpoints,
    strings,
    log,
    events,
    faults,
    gaps,
    violations,
    corrections,
    checked: checkers.summary(),
    checkersHeld: checkers.held(),
  };
}
