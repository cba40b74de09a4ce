/**
 * The pass that opens a trace: one streaming read of the file, a chunk at a time, that validates
 * every line and keeps what later views need, never the records themselves:
 * - a checkpoint every `checkpointEvery` records (checkpoints.ts);
 * - the structural log of every `conn`, `lease` and `node` record (structural-log.ts), names
 *   interned (string-table.ts);
 * - the faults with their spans, the violations, and per event where its records lie
 *   (event-table.ts);
 * - the lines of deliveries that repeated an event to a connection, and how many (duplicates.ts):
 *   the checker writes only its first violations, so duplicates are recounted here.
 *
 * Every problem with the file becomes a UsageError naming the file and the line.
 */
import { UsageError } from '../usage-error.ts';
import { Checkpoints } from './checkpoints.ts';
import { DuplicateTracker } from './duplicates.ts';
import { EventTable } from './event-table.ts';
import { FaultSpans } from './fault-spans.ts';
import {
  type EndRecord,
  type RunRecord,
  type TraceNode,
  type TraceRecord,
  type Violation,
  eventOf,
  recordProblem,
} from './records.ts';
import { type Counters, ReplayState } from './replay-state.ts';
import { StringTable } from './string-table.ts';
import { StructuralLog } from './structural-log.ts';
import type { TraceFile } from './trace-file.ts';

export interface IndexOptions {
  checkpointEvery?: number;
  chunkBytes?: number;
  /** Keep the full structure at a checkpoint once this many structural entries have passed since the last. */
  structureEvery?: number;
  /** Told the bytes read so far and the file's size, about every chunk (a progress bar for large traces). */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

export interface ViolationEntry {
  /** The line of the `violation` record (written when the checker noticed). */
  line: number;
  /** When it went wrong: the violation's own time, which may precede its record. */
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
  /** By time, then line. */
  violations: ViolationEntry[];
  /** Lines of `deliver` records some of whose recipients already had the event, and how many. */
  duplicateLines: Map<number, number>;
}

/** How long deliveries of an event are compared for duplicates: twice the scenario's delivery deadline, or 10 s. */
function keepFor(run: RunRecord): number {
  const deadline = (run.scenario as { deliveryDeadlineMs?: unknown } | null)?.deliveryDeadlineMs;
  return typeof deadline === 'number' && deadline > 0 ? deadline * 2000 : 10_000_000;
}

/** Index a trace file; throws a UsageError naming the line for any problem with it. */
export function indexTrace(file: TraceFile, options: IndexOptions = {}): IndexedTrace {
  const checkpointEvery = options.checkpointEvery ?? 4096;
  const chunkBytes = options.chunkBytes ?? 1 << 20;
  const strings = new StringTable();
  const log = new StructuralLog(strings);
  const events = new EventTable();
  const faults = new FaultSpans();
  const violations: ViolationEntry[] = [];
  const checkpoints = new Checkpoints({
    structureEvery: options.structureEvery ?? 16_384,
    log,
    strings,
    faults,
  });
  const duplicateLines = new Map<number, number>();
  const onProgress = options.onProgress;

  /** Keep what the index needs of one record, before the state applies it. */
  const note = (record: TraceRecord, line: number, offset: number): void => {
    if (record.k === 'conn' || record.k === 'lease' || record.k === 'node') log.append(record);
    else if (record.k === 'violation')
      violations.push({ line, t: record.violation.t, violation: record.violation });
    else if (record.k === 'fault' && !faults.note(record, line)) {
      file.fail(line, `fault #${record.f} ends but never started`);
    }
    const e = eventOf(record);
    if (e !== undefined) events.note(e, record.k === 'publish', offset, record.t);
  };

  let line = 0;
  let run: RunRecord | null = null;
  let end: EndRecord | null = null;
  let state: ReplayState | null = null;
  let duplicates: DuplicateTracker | null = null;
  let lastT = 0;
  let reported = 0;
  file.lines(0, chunkBytes, (text, offset, complete) => {
    line++;
    if (onProgress && offset - reported >= chunkBytes) {
      reported = offset;
      onProgress(offset, file.sizeBytes);
    }
    if (end) file.fail(line, 'a record after the `end` record');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      if (!complete) file.fail(line, 'truncated: the file ends in the middle of a record');
      file.fail(line, text.trim() === '' ? 'empty line' : `malformed JSON (${(error as Error).message})`);
    }
    const problem = recordProblem(value);
    if (problem) file.fail(line, problem);
    const record = value as TraceRecord;
    if (line === 1) {
      if (record.k !== 'run') file.fail(line, `the first record must be \`run\`, found \`${record.k}\``);
      for (const node of record.nodes as unknown[]) {
        const n = node as Partial<TraceNode> | null;
        if (
          typeof n?.id !== 'string' ||
          typeof n.dc !== 'string' ||
          !['frontend', 'dispatcher', 'store'].includes(n.role as string)
        ) {
          file.fail(line, `run: malformed node ${JSON.stringify(node)}`);
        }
      }
      run = record;
      state = new ReplayState(record.nodes);
      duplicates = new DuplicateTracker(state, keepFor(record));
    } else if (record.k === 'run') {
      file.fail(line, 'a second `run` record');
    }
    if (record.t < lastT) file.fail(line, `time goes backwards (${record.t} after ${lastT})`);
    lastT = record.t;
    note(record, line, offset);
    duplicates!.advance(record.t);
    const repeated = record.k === 'deliver' ? duplicates!.duplicates(record, state!) : 0;
    if (repeated > 0) duplicateLines.set(line, repeated);
    state!.apply(record, repeated);
    if (record.k === 'end') end = record;
    if (state!.records % checkpointEvery === 0 || line === 1) {
      checkpoints.take(state!, offset + Buffer.byteLength(text) + 1, line + 1);
    }
    return true;
  });
  if (!run || !state)
    throw new UsageError(`trace ${file.path}: empty file (expected a \`run\` record on line 1)`);
  violations.sort((a, b) => a.t - b.t || a.line - b.line);
  const final: ReplayState = state;
  final.onMembership = null;
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
    violations,
    duplicateLines,
  };
}
