/**
 * The trace index: what lets replay open a trace of millions of lines in seconds and scrub it
 * without holding its records in memory.
 *
 * Opening a trace is one streaming pass over the file (index-pass.ts) that reads every line with
 * the sim's trace reader, re-checks the trace with the sim's checkers, and keeps checkpoints, a
 * compact structural log, the faults, the checkers' violations and counts, and where each event's
 * records lie. Any view (the world at time T, the records around T in trace-window.ts, one
 * event's path in follow-event.ts) restores the nearest checkpoint at or before it and re-reads
 * only the lines from there.
 */
import {
  parseTraceLine,
  TraceFormatError,
  type CheckersHeld,
  type CheckerSummary,
  type TopologyNode,
  type TraceRecord,
} from '../../sim/index.ts';
import type { Filter } from './filter.ts';
import { type Followed, followEvent } from './follow-event.ts';
import type { FaultSpan } from './fault-spans.ts';
import {
  type EndRecord,
  type IndexOptions,
  type IndexedTrace,
  type RunRecord,
  type ViolationEntry,
  indexTrace,
} from './index-pass.ts';
import type { Checkpoint } from './checkpoints.ts';
import type { EventSpan } from './event-table.ts';
import type { GapTable } from './gap-table.ts';
import type { Counters, ReplayState } from './replay-state.ts';
import { TraceFile } from './trace-file.ts';
import { type Window, traceWindow } from './trace-window.ts';

export type { Checkpoint } from './checkpoints.ts';
export type { FaultSpan } from './fault-spans.ts';
export type { GapEntry, GapTable } from './gap-table.ts';
export type { Followed, FollowStep } from './follow-event.ts';
export type { EndRecord, IndexOptions, RunRecord, ViolationEntry } from './index-pass.ts';
export { isReliable } from './index-pass.ts';
export type { Entry, View, Window } from './trace-window.ts';

/** Sees a record, its line and its byte offset; true applies it and goes on, false stops (the record unapplied). */
export type RecordVisitor = (record: TraceRecord, line: number, offset: number) => boolean;

export class TraceIndex {
  readonly path: string;
  readonly sizeBytes: number;
  readonly run: RunRecord;
  readonly end: EndRecord | null;
  readonly nodes: readonly TopologyNode[];
  readonly datacenters: readonly string[];
  /** Number of lines (records) in the trace. */
  readonly lines: number;
  /** Time of the last record. */
  readonly endT: number;
  /** The counters over the whole trace: what the run's report totals. */
  readonly totals: Counters;
  readonly checkpoints: readonly Checkpoint[];
  /** In the order they started. */
  readonly faults: readonly FaultSpan[];
  /** The violations the checkers keep in detail (as the run's report lists them), by time. */
  readonly violations: readonly ViolationEntry[];
  /** What re-checking the whole trace concluded: the run's report, when the trace is whole. */
  readonly checked: CheckerSummary;
  readonly checkpointEvery: number;
  private readonly file: TraceFile;
  private readonly indexed: IndexedTrace;

  /** Index a trace file; throws a UsageError naming the line for any problem with it. */
  constructor(path: string, options: IndexOptions = {}) {
    this.path = path;
    this.file = new TraceFile(path);
    this.sizeBytes = this.file.sizeBytes;
    this.indexed = indexTrace(this.file, options);
    this.run = this.indexed.run;
    this.end = this.indexed.end;
    this.lines = this.indexed.lines;
    this.endT = this.indexed.endT;
    this.totals = this.indexed.totals;
    this.checkpoints = this.indexed.checkpoints.list;
    this.faults = this.indexed.faults.list;
    this.violations = this.indexed.violations;
    this.checked = this.indexed.checked;
    this.checkpointEvery = this.indexed.checkpointEvery;
    this.nodes = this.run.nodes;
    this.datacenters = [...new Set(this.nodes.map((node) => node.dc))];
  }

  /** Number of distinct events published. */
  get events(): number {
    return this.indexed.events.size;
  }

  /** About how many bytes the index holds in typed arrays (structural log, event table, checkpoints, structures), for the benchmark. */
  heldBytes(): number {
    const { log, events, gaps, checkpoints } = this.indexed;
    return log.bytes() + events.bytes() + gaps.bytes() + checkpoints.bytes(this.nodes.length);
  }

  /** How many structural entries and interned strings the index holds (the only per-record memory). */
  held(): {
    checkpoints: number;
    structural: number;
    strings: number;
    events: number;
    corrections: number;
    structures: number;
  } {
    const { checkpoints, log, strings, events, corrections } = this.indexed;
    return {
      checkpoints: checkpoints.list.length,
      structural: log.length,
      strings: strings.size,
      events: events.size,
      corrections: corrections.size,
      structures: checkpoints.structuresKept,
    };
  }

  /** What the checkers held per event when the pass ended (their memory is given back after it). */
  checkersHeld(): CheckersHeld {
    return this.indexed.checkersHeld;
  }

  /** `fault #2 partition dc-a | dc-b`: how records that name a fault by number show it. */
  faultName(f: number): string {
    return this.indexed.faults.name(f);
  }

  /** The fault numbered `f`, which the trace started. */
  faultSpan(f: number): FaultSpan {
    return this.indexed.faults.get(f);
  }

  /** The checkpoint to start from for time `t`: the last one whose applied records are all at or before `t`. */
  checkpointFor(t: number): number {
    return this.indexed.checkpoints.forTime(t);
  }

  /** The last checkpoint at or before byte `offset`. */
  checkpointAtOffset(offset: number): number {
    return this.indexed.checkpoints.atOffset(offset);
  }

  /** The full state at checkpoint `k`. */
  restore(k: number): ReplayState {
    return this.indexed.checkpoints.restore(k, this.nodes);
  }

  /**
   * Read records from checkpoint `k` on. `visit` sees each record with `state` as it stood just
   * before it; returning true applies the record and goes on, false stops (the record unapplied).
   * With `only`, lines that `wanted` refuses are not even parsed, and reading stops at `untilLine`
   * (for reads that keep no state).
   */
  scan(
    k: number,
    state: ReplayState | null,
    visit: RecordVisitor,
    only?: { wanted: (text: string) => boolean; untilLine: number },
  ): void {
    const checkpoint = this.checkpoints[k]!;
    const corrections = this.indexed.corrections;
    let line = checkpoint.line - 1;
    this.file.lines(checkpoint.offset, 1 << 16, (text, offset) => {
      line++;
      if (only) {
        if (line >= only.untilLine) return false;
        if (!only.wanted(text)) return true;
      }
      let record: TraceRecord;
      try {
        record = parseTraceLine(text);
      } catch (error) {
        if (!(error instanceof TraceFormatError)) throw error;
        this.file.fail(line, `${error.message} (the file changed since it was opened)`);
      }
      if (!visit(record, line, offset)) return false;
      state?.apply(record, corrections.get(line));
      return true;
    });
  }

  /** The world after every record at or before `t`. */
  stateAt(t: number): ReplayState {
    const k = this.checkpointFor(t);
    const state = this.restore(k);
    this.scan(k, state, (record) => record.t <= t);
    return state;
  }

  /** The time of the first record after `t`, or null at the end. */
  nextTime(t: number): number | null {
    let next: number | null = null;
    this.scan(this.checkpointFor(t), null, (record) => {
      if (record.t > t) next = record.t;
      return next === null;
    });
    return next;
  }

  /** The time of the last record before `t`, or null at the start. */
  previousTime(t: number): number | null {
    let k = this.checkpointFor(t);
    while (k > 0 && this.checkpoints[k]!.t >= t) k--;
    let previous: number | null = this.checkpoints[k]!.t < t ? this.checkpoints[k]!.t : null;
    this.scan(k, null, (record) => {
      if (record.t >= t) return false;
      previous = record.t;
      return true;
    });
    return previous;
  }

  /** The gap notices of the trace (reliable mode), in trace order. */
  get gaps(): GapTable {
    return this.indexed.gaps;
  }

  /** The record at byte `offset` (the start of line `line`), read alone. */
  recordAt(offset: number, line: number): TraceRecord {
    let record: TraceRecord | null = null;
    this.file.lines(offset, 1 << 12, (text) => {
      try {
        record = parseTraceLine(text);
      } catch (error) {
        if (!(error instanceof TraceFormatError)) throw error;
        this.file.fail(line, `${error.message} (the file changed since it was opened)`);
      }
      return false;
    });
    if (record === null) this.file.fail(line, 'no record there (the file changed since it was opened)');
    return record;
  }

  /** Whether the trace holds an event with this id. */
  hasEvent(e: string): boolean {
    return this.indexed.events.has(e);
  }

  /** Where event `e`'s records lie, or null if the trace has no such event. */
  eventSpan(e: string): EventSpan | null {
    return this.indexed.events.span(e);
  }

  /** When the first event was published, or null if the trace has no publish. */
  firstPublishTime(): number | null {
    return this.indexed.events.firstPublishTime();
  }

  /** When an event was published, or null if the trace has no such event. */
  publishTime(e: string): number | null {
    return this.indexed.events.publishTime(e);
  }

  /** The world at `t` and the records around it (see trace-window.ts). */
  window(
    t: number,
    before: number,
    after: number,
    filter: Filter | null = null,
    searchCheckpoints = 64,
  ): Window {
    return traceWindow(this, t, before, after, filter, searchCheckpoints);
  }

  /** One event's path through the world (see follow-event.ts). */
  follow(e: string): Followed {
    return followEvent(this, e);
  }
}
