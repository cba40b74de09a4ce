/**
 * The trace index: what lets replay open a trace of millions of lines in seconds and scrub it
 * without holding its records in memory.
 *
 * One streaming pass over the file validates every line, and keeps:
 * - a checkpoint every `checkpointEvery` records: the byte offset and line of the next record, the
 *   time reached, the counters, the faults in force, and per-node (alive, connections, topics,
 *   leases) counts;
 * - a structural log: every `conn`, `lease` and `node` record as a few integers (strings interned),
 *   from which the full subscription and lease tables at any checkpoint are rebuilt, plus the full
 *   tables at a checkpoint every `structureEvery` entries, so a rebuild replays a bounded stretch;
 * - the faults, the violations, and per event the byte offsets and times of its first and last
 *   records (for follow);
 * - the lines of deliveries that repeated an event to a connection, and how many (see duplicates.ts).
 * Any view (the world at time T, the records around T, one event's path) restores the nearest
 * checkpoint at or before it and re-reads only the lines from there.
 *
 * Every problem with the file becomes a UsageError naming the file and the line.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { UsageError } from '../usage-error.ts';
import { DuplicateTracker } from './duplicates.ts';
import { type Filter, matches, needsState } from './filter.ts';
import { type SendInfo, describeFault, formatDelay } from './format.ts';
import {
  type EndRecord,
  type Fault,
  type RunRecord,
  type TraceNode,
  type TraceRecord,
  type Violation,
  eventOf,
  recordProblem,
} from './records.ts';
import { type Counters, type NodeView, ReplayState, type Structure } from './replay-state.ts';

export interface Checkpoint {
  /** Byte offset and 1-based line number of the first record not yet applied. */
  offset: number;
  line: number;
  /** Records applied (the `run` line included) and the time of the last one. */
  records: number;
  t: number;
  counters: Counters;
  faults: number[];
  /** Entries of the structural log applied. */
  structural: number;
  /** Per node: alive, connections, topics, leases. */
  nodeCounts: Int32Array;
}

export interface FaultSpan {
  f: number;
  fault: Fault;
  start: number;
  end: number | null;
  line: number;
}

export interface ViolationEntry {
  /** The line of the `violation` record (written when the checker noticed). */
  line: number;
  /** When it went wrong: the violation's own time, which may precede its record. */
  t: number;
  violation: Violation;
}

/** One record as the event pane shows it. */
export interface Entry {
  line: number;
  record: TraceRecord;
  /** For `recv` and `drop`: the send they answer, when it was read. */
  send?: SendInfo;
}

/** The world at a time, as plain values the UI can keep. */
export interface View {
  t: number;
  counters: Counters;
  nodes: NodeView[];
  faults: FaultSpan[];
}

export interface Window {
  view: View;
  /** Matching records at or before the time (oldest first), then after it. */
  before: Entry[];
  after: Entry[];
}

export interface FollowStep {
  t: number;
  line: number;
  text: string;
  /** Something went wrong here: a drop, a loss, a violation. */
  bad: boolean;
}

export interface Followed {
  e: string;
  found: boolean;
  topic?: string;
  steps: FollowStep[];
  violations: ViolationEntry[];
}

export interface IndexOptions {
  checkpointEvery?: number;
  chunkBytes?: number;
  /** Keep the full structure at a checkpoint once this many structural entries have passed since the last. */
  structureEvery?: number;
  /** Told the bytes read so far and the file's size, about every chunk (a progress bar for large traces). */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

const structuralOps = {
  open: 1,
  close: 2,
  sub: 3,
  unsub: 4,
  refused: 5,
  down: 6,
  up: 7,
  granted: 8,
  renewed: 9,
  removed: 10,
  expired: 11,
} as const;
const opNames = Object.keys(structuralOps) as (keyof typeof structuralOps)[];

/** A growable column of integers, doubling like an array but holding raw numbers. */
class Column {
  data: Float64Array | Int32Array;
  constructor(private readonly kind: 'f64' | 'i32') {
    this.data = kind === 'f64' ? new Float64Array(1024) : new Int32Array(1024);
  }
  set(i: number, value: number): void {
    if (i >= this.data.length) {
      const grown =
        this.kind === 'f64' ? new Float64Array(this.data.length * 2) : new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[i] = value;
  }
  get(i: number): number {
    return this.data[i]!;
  }
  bytes(): number {
    return this.data.byteLength;
  }
}

/** How long deliveries of an event are compared for duplicates: twice the scenario's delivery deadline, or 10 s. */
function keepFor(run: RunRecord | null): number {
  const deadline = (run?.scenario as { deliveryDeadlineMs?: unknown } | null)?.deliveryDeadlineMs;
  return typeof deadline === 'number' && deadline > 0 ? deadline * 2000 : 10_000_000;
}

function sendInfo(record: Extract<TraceRecord, { k: 'send' }>): SendInfo {
  const info: SendInfo = { from: record.from, to: record.to, type: record.type };
  if (record.e !== undefined) info.e = record.e;
  return info;
}

/** Calls `visit` with each line from `start`; `complete` is false for a last line without a newline. Stops when it returns false. */
function readLines(
  fd: number,
  size: number,
  start: number,
  chunkBytes: number,
  visit: (text: string, offset: number, complete: boolean) => boolean,
): void {
  const buffer = Buffer.allocUnsafe(chunkBytes);
  let carry: Buffer | null = null;
  let carryOffset = start;
  let position = start;
  while (position < size) {
    const read = readSync(fd, buffer, 0, Math.min(chunkBytes, size - position), position);
    if (read === 0) break;
    const data: Buffer = carry ? Buffer.concat([carry, buffer.subarray(0, read)]) : buffer.subarray(0, read);
    const base = carry ? carryOffset : position;
    position += read;
    let from = 0;
    for (;;) {
      const newline = data.indexOf(10, from);
      if (newline < 0) break;
      if (!visit(data.toString('utf8', from, newline), base + from, true)) return;
      from = newline + 1;
    }
    carry = from < data.length ? Buffer.from(data.subarray(from)) : null;
    carryOffset = base + from;
  }
  if (carry) visit(carry.toString('utf8'), carryOffset, false);
}

export class TraceIndex {
  readonly path: string;
  readonly sizeBytes: number;
  readonly run: RunRecord;
  readonly end: EndRecord | null;
  readonly nodes: readonly TraceNode[];
  readonly datacenters: readonly string[];
  /** Number of lines (records) in the trace. */
  readonly lines: number;
  /** Time of the last record. */
  readonly endT: number;
  /** The counters over the whole trace: what the run's report totals. */
  readonly totals: Counters;
  readonly checkpoints: Checkpoint[] = [];
  readonly faults: FaultSpan[] = [];
  readonly violations: ViolationEntry[] = [];
  readonly checkpointEvery: number;
  private readonly chunkBytes: number;
  private readonly strings: string[] = [];
  private readonly stringIds = new Map<string, number>();
  private structuralLength = 0;
  private readonly structural = {
    op: new Column('i32'),
    a: new Column('i32'),
    b: new Column('i32'),
    c: new Column('i32'),
    exp: new Column('f64'),
  };
  private readonly eventIds = new Map<string, number>();
  private readonly eventFirst = { offset: new Column('f64'), t: new Column('f64') };
  private readonly eventLast = { offset: new Column('f64'), t: new Column('f64') };
  private readonly faultsByNumber = new Map<number, FaultSpan>();
  /** Full structures at some checkpoints (ascending), so `restore` replays a bounded stretch of the log. */
  private readonly structures: { k: number; structure: Structure }[] = [];
  private readonly structureEvery: number;
  /** Lines of `deliver` records some of whose recipients already had the event, and how many. */
  private readonly duplicateLines = new Map<number, number>();

  /** Index a trace file; throws a UsageError naming the line for any problem with it. */
  constructor(path: string, options: IndexOptions = {}) {
    this.path = path;
    this.checkpointEvery = options.checkpointEvery ?? 4096;
    this.structureEvery = options.structureEvery ?? 16_384;
    this.chunkBytes = options.chunkBytes ?? 1 << 20;
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new UsageError(
        code === 'ENOENT'
          ? `trace ${path}: no such file`
          : `trace ${path}: cannot open (${code ?? String(error)})`,
      );
    }
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new UsageError(`trace ${path}: not a file`);
      this.sizeBytes = stat.size;
      const result = this.build(fd, options.onProgress);
      this.run = result.run;
      this.end = result.end;
      this.lines = result.lines;
      this.endT = result.endT;
      this.totals = result.totals;
    } finally {
      closeSync(fd);
    }
    this.nodes = this.run.nodes;
    this.datacenters = [...new Set(this.nodes.map((node) => node.dc))];
  }

  private fail(line: number, problem: string): never {
    throw new UsageError(`trace ${this.path}, line ${line}: ${problem}`);
  }

  private intern(text: string): number {
    let id = this.stringIds.get(text);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(text);
      this.stringIds.set(text, id);
    }
    return id;
  }

  private log(
    op: keyof typeof structuralOps,
    a: string,
    b: string,
    c: string | undefined,
    exp?: number,
  ): void {
    const i = this.structuralLength++;
    const s = this.structural;
    s.op.set(i, structuralOps[op]);
    s.a.set(i, this.intern(a));
    s.b.set(i, this.intern(b));
    s.c.set(i, c === undefined ? -1 : this.intern(c));
    s.exp.set(i, exp ?? -1);
  }

  private build(
    fd: number,
    onProgress: IndexOptions['onProgress'],
  ): { run: RunRecord; end: EndRecord | null; lines: number; endT: number; totals: Counters } {
    let line = 0;
    let run: RunRecord | null = null;
    let end: EndRecord | null = null;
    let state: ReplayState | null = null;
    let duplicates: DuplicateTracker | null = null;
    let lastT = 0;
    let reported = 0;
    readLines(fd, this.sizeBytes, 0, this.chunkBytes, (text, offset, complete) => {
      line++;
      if (onProgress && offset - reported >= this.chunkBytes) {
        reported = offset;
        onProgress(offset, this.sizeBytes);
      }
      if (end) this.fail(line, 'a record after the `end` record');
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        if (!complete) this.fail(line, 'truncated: the file ends in the middle of a record');
        this.fail(line, text.trim() === '' ? 'empty line' : `malformed JSON (${(error as Error).message})`);
      }
      const problem = recordProblem(value);
      if (problem) this.fail(line, problem);
      const record = value as TraceRecord;
      if (line === 1) {
        if (record.k !== 'run') this.fail(line, `the first record must be \`run\`, found \`${record.k}\``);
        for (const node of record.nodes as unknown[]) {
          const n = node as Partial<TraceNode> | null;
          if (
            typeof n?.id !== 'string' ||
            typeof n.dc !== 'string' ||
            !['frontend', 'dispatcher', 'store'].includes(n.role as string)
          ) {
            this.fail(line, `run: malformed node ${JSON.stringify(node)}`);
          }
        }
        run = record;
        state = new ReplayState(record.nodes);
        duplicates = new DuplicateTracker(state, keepFor(record));
      } else if (record.k === 'run') {
        this.fail(line, 'a second `run` record');
      }
      if (record.t < lastT) this.fail(line, `time goes backwards (${record.t} after ${lastT})`);
      lastT = record.t;
      this.note(record, line, offset);
      duplicates!.advance(record.t);
      const repeated = record.k === 'deliver' ? duplicates!.duplicates(record, state!) : 0;
      if (repeated > 0) this.duplicateLines.set(line, repeated);
      state!.apply(record, repeated);
      if (record.k === 'end') end = record;
      if (state!.records % this.checkpointEvery === 0 || line === 1) {
        this.checkpoint(state!, offset + Buffer.byteLength(text) + 1, line + 1);
      }
      return true;
    });
    if (!run) throw new UsageError(`trace ${this.path}: empty file (expected a \`run\` record on line 1)`);
    this.violations.sort((a, b) => a.t - b.t || a.line - b.line);
    state!.onMembership = null;
    return { run, end, lines: line, endT: lastT, totals: { ...state!.counters } };
  }

  /** Record what the index keeps from one record, before the state applies it. */
  private note(record: TraceRecord, line: number, offset: number): void {
    if (record.k === 'conn') this.log(record.op, record.c, record.node, record.topic);
    else if (record.k === 'lease') this.log(record.change, record.dc, record.topic, record.fe, record.exp);
    else if (record.k === 'node') this.log(record.op, record.node, record.node, undefined);
    else if (record.k === 'violation')
      this.violations.push({ line, t: record.violation.t, violation: record.violation });
    else if (record.k === 'fault' && record.phase === 'start') {
      const span: FaultSpan = { f: record.f, fault: record.fault, start: record.t, end: null, line };
      this.faults.push(span);
      this.faultsByNumber.set(record.f, span);
    } else if (record.k === 'fault') {
      const span = this.faultsByNumber.get(record.f);
      if (!span) this.fail(line, `fault #${record.f} ends but never started`);
      span.end = record.t;
    }
    const e = eventOf(record);
    if (e === undefined) return;
    let id = this.eventIds.get(e);
    if (id === undefined) {
      if (record.k !== 'publish') return;
      id = this.eventIds.size;
      this.eventIds.set(e, id);
      this.eventFirst.offset.set(id, offset);
      this.eventFirst.t.set(id, record.t);
    }
    this.eventLast.offset.set(id, offset);
    this.eventLast.t.set(id, record.t);
  }

  private checkpoint(state: ReplayState, offset: number, line: number): void {
    const since = this.structures.at(-1)?.k;
    const last = since === undefined ? 0 : this.checkpoints[since]!.structural;
    if (this.structuralLength - last >= this.structureEvery) {
      this.structures.push({
        k: this.checkpoints.length,
        structure: state.exportStructure((text) => this.intern(text)),
      });
    }
    this.checkpoints.push({
      offset,
      line,
      records: state.records,
      t: state.t,
      counters: { ...state.counters },
      faults: [...state.faults.keys()],
      structural: this.structuralLength,
      nodeCounts: state.nodeCounts(),
    });
  }

  /** Number of distinct events published. */
  get events(): number {
    return this.eventIds.size;
  }

  /** About how many bytes the index holds in typed arrays (structural log, event table, checkpoints, structures), for the benchmark. */
  heldBytes(): number {
    const s = this.structural;
    return (
      s.op.bytes() +
      s.a.bytes() +
      s.b.bytes() +
      s.c.bytes() +
      s.exp.bytes() +
      this.eventFirst.offset.bytes() * 4 +
      this.checkpoints.length * (64 + this.nodes.length * 16) +
      this.structures.reduce(
        (sum, { structure: x }) =>
          sum +
          x.alive.byteLength +
          x.connections.byteLength +
          x.subscribers.byteLength +
          x.leases.byteLength,
        0,
      )
    );
  }

  /** How many structural entries and interned strings the index holds (the only per-record memory). */
  held(): {
    checkpoints: number;
    structural: number;
    strings: number;
    events: number;
    duplicateLines: number;
    structures: number;
  } {
    return {
      checkpoints: this.checkpoints.length,
      structural: this.structuralLength,
      strings: this.strings.length,
      events: this.eventIds.size,
      duplicateLines: this.duplicateLines.size,
      structures: this.structures.length,
    };
  }

  faultName(f: number): string {
    const span = this.faultsByNumber.get(f);
    return span ? `fault #${f} ${describeFault(span.fault)}` : `fault #${f}`;
  }

  /** The checkpoint to start from for time `t`: the last one whose applied records are all at or before `t`. */
  checkpointFor(t: number): number {
    let low = 0;
    let high = this.checkpoints.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.checkpoints[mid]!.t <= t) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  private checkpointAtOffset(offset: number): number {
    let low = 0;
    let high = this.checkpoints.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.checkpoints[mid]!.offset <= offset) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  /**
   * The full state at checkpoint `k`: the structure kept at or before it, the structural log
   * replayed from there, counters and faults from the checkpoint.
   */
  restore(k: number): ReplayState {
    const checkpoint = this.checkpoints[k]!;
    const str = (id: number): string => this.strings[id]!;
    const base = this.structures.findLast((kept) => kept.k <= k);
    const state = base
      ? ReplayState.fromStructure(this.nodes, base.structure, str)
      : new ReplayState(this.nodes);
    const from = base ? this.checkpoints[base.k]!.structural : 0;
    const s = this.structural;
    for (let i = from; i < checkpoint.structural; i++) {
      const op = opNames[s.op.get(i) - 1]!;
      const c = s.c.get(i);
      switch (op) {
        case 'open':
        case 'close':
        case 'sub':
        case 'unsub':
        case 'refused':
          state.connection(op, str(s.a.get(i)), str(s.b.get(i)), c < 0 ? undefined : str(c));
          break;
        case 'down':
        case 'up':
          state.liveness(str(s.a.get(i)), op);
          break;
        case 'granted':
        case 'renewed':
        case 'removed':
        case 'expired': {
          const exp = s.exp.get(i);
          state.lease(str(s.a.get(i)), str(s.b.get(i)), str(c), op, exp < 0 ? undefined : exp);
        }
      }
    }
    state.records = checkpoint.records;
    state.t = checkpoint.t;
    state.counters = { ...checkpoint.counters };
    for (const f of checkpoint.faults) state.faults.set(f, this.faultsByNumber.get(f)!.fault);
    return state;
  }

  /**
   * Read records from checkpoint `k` on. `visit` sees each record with `state` as it stood just
   * before it; returning true applies the record and goes on, false stops (the record unapplied).
   */
  private scan(
    k: number,
    state: ReplayState | null,
    visit: (record: TraceRecord, line: number, offset: number) => boolean,
    only?: { wanted: (text: string) => boolean; untilLine: number },
  ): void {
    const checkpoint = this.checkpoints[k]!;
    let line = checkpoint.line - 1;
    const fd = openSync(this.path, 'r');
    try {
      if (fstatSync(fd).size !== this.sizeBytes) {
        throw new UsageError(`trace ${this.path} changed since it was opened; open it again`);
      }
      readLines(fd, this.sizeBytes, checkpoint.offset, 1 << 16, (text, offset) => {
        line++;
        // Without a state to keep, lines the caller cannot want are not even parsed.
        if (only) {
          if (line >= only.untilLine) return false;
          if (!only.wanted(text)) return true;
        }
        let record: TraceRecord;
        try {
          record = JSON.parse(text) as TraceRecord;
        } catch {
          this.fail(line, 'malformed JSON (the file changed since it was opened)');
        }
        if (!visit(record, line, offset)) return false;
        state?.apply(record, record.k === 'deliver' ? (this.duplicateLines.get(line) ?? 0) : 0);
        return true;
      });
    } finally {
      closeSync(fd);
    }
  }

  private view(state: ReplayState, t: number): View {
    return {
      t,
      counters: { ...state.counters },
      nodes: state.nodeViews(),
      faults: [...state.faults.keys()].map((f) => this.faultsByNumber.get(f)!),
    };
  }

  /** The world after every record at or before `t`. */
  stateAt(t: number): ReplayState {
    const k = this.checkpointFor(t);
    const state = this.restore(k);
    this.scan(k, state, (record) => record.t <= t);
    return state;
  }

  /**
   * The world at `t` and the records around it: up to `before` matching records at or before `t`
   * and `after` matching records after it. With a filter, earlier stretches of the trace are read
   * (up to `searchCheckpoints` of them) until enough records match.
   */
  window(
    t: number,
    before: number,
    after: number,
    filter: Filter | null = null,
    searchCheckpoints = 64,
  ): Window {
    // Start one checkpoint early so that `before` records are at hand even just after a checkpoint.
    const start = Math.max(0, this.checkpointFor(t) - 1);
    const state = this.restore(start);
    let view: View | null = null;
    const sends = this.sendsBefore(start);
    const ring: Entry[] = [];
    const later: Entry[] = [];
    let scannedAfter = 0;
    const scanLimitAfter = this.checkpointEvery * searchCheckpoints;
    this.scan(start, state, (record, line) => {
      if (record.k === 'send') sends.set(record.m, sendInfo(record));
      const send = record.k === 'recv' || record.k === 'drop' ? sends.get(record.m) : undefined;
      const keep = !filter || matches(filter, record, send, state);
      const entry: Entry = send ? { line, record, send } : { line, record };
      if (record.t <= t) {
        if (keep) {
          ring.push(entry);
          if (ring.length > before) ring.shift();
        }
        return true;
      }
      view ??= this.view(state, t);
      if (keep && later.length < after) later.push(entry);
      scannedAfter++;
      return later.length < after && scannedAfter < scanLimitAfter;
    });
    view ??= this.view(state, t);
    if (filter && ring.length < before && start > 0) {
      ring.unshift(...this.searchBack(start, before - ring.length, filter, searchCheckpoints));
    }
    return { view, before: ring, after: later };
  }

  /**
   * The sends of the stretch before checkpoint `k`, so that a `recv` or `drop` read from `k` on can
   * name its message (one stretch covers every message in flight unless latencies span more).
   */
  private sendsBefore(k: number): Map<number, SendInfo> {
    const sends = new Map<number, SendInfo>();
    if (k === 0) return sends;
    const endLine = this.checkpoints[k]!.line;
    this.scan(
      k - 1,
      null,
      (record) => {
        if (record.k === 'send') sends.set(record.m, sendInfo(record));
        return true;
      },
      // Only sends matter, and a send's line names its kind.
      { wanted: (text) => text.includes('"send"'), untilLine: endLine },
    );
    return sends;
  }

  /** Matching records before checkpoint `k`, newest last, at most `want`. */
  private searchBack(k: number, want: number, filter: Filter, limit: number): Entry[] {
    const found: Entry[] = [];
    for (let j = k - 1; j >= 0 && j >= k - limit && found.length < want; j--) {
      const state = needsState(filter) ? this.restore(j) : null;
      const endLine = this.checkpoints[j + 1]!.line;
      const segment: Entry[] = [];
      const sends = this.sendsBefore(j);
      this.scan(j, state, (record, line) => {
        if (record.k === 'send') sends.set(record.m, sendInfo(record));
        const send = record.k === 'recv' || record.k === 'drop' ? sends.get(record.m) : undefined;
        if (line >= endLine) return false;
        if (matches(filter, record, send, state ?? undefined))
          segment.push(send ? { line, record, send } : { line, record });
        return true;
      });
      found.unshift(...segment);
    }
    return found.slice(Math.max(0, found.length - want));
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

  /** Whether the trace holds an event with this id. */
  hasEvent(e: string): boolean {
    return this.eventIds.has(e);
  }

  /** When the first event was published, or null if the trace has no publish. */
  firstPublishTime(): number | null {
    return this.eventIds.size === 0 ? null : this.eventFirst.t.get(0);
  }

  /** When an event was published, or null if the trace has no such event. */
  publishTime(e: string): number | null {
    const id = this.eventIds.get(e);
    return id === undefined ? null : this.eventFirst.t.get(id);
  }

  /**
   * One event's path through the world: its publish, every message that carried or served it with
   * that message's fate, the frontends that delivered it and to which connections, the drops and
   * losses with their reasons and faults, and the violations that name it.
   */
  follow(e: string): Followed {
    const violations = this.violations.filter((v) => v.violation.e === e);
    const id = this.eventIds.get(e);
    if (id === undefined) return { e, found: false, steps: [], violations };
    const firstOffset = this.eventFirst.offset.get(id);
    const lastOffset = this.eventLast.offset.get(id);
    const lastT = this.eventLast.t.get(id);
    const k = this.checkpointAtOffset(firstOffset);
    const state = this.restore(k);
    const steps: FollowStep[] = [];
    const pending = new Map<number, FollowStep>();
    let topic: string | undefined;
    let extra = 0;
    const extraMax = this.checkpointEvery * 4;
    const fault = (f: number | undefined): string => (f === undefined ? '' : ` (${this.faultName(f)})`);
    this.scan(k, state, (record, line, offset) => {
      if (offset < firstOffset) return true;
      const at = (text: string, bad = false): void => {
        steps.push({ t: record.t, line, text, bad });
      };
      switch (record.k) {
        case 'publish':
          if (record.e === e) {
            topic = record.topic;
            at(`published on ${record.topic} at ${record.node} (origin ${record.origin}, ${record.bytes} B)`);
          }
          break;
        case 'send':
          if (record.e === e) {
            const label =
              record.type === 'store-request'
                ? 'store lookup'
                : record.type === 'store-reply'
                  ? 'store answer'
                  : record.type === 'forward'
                    ? 'cross-DC forward'
                    : record.type === 'deliver'
                      ? 'to frontend'
                      : record.type;
            const step: FollowStep = {
              t: record.t,
              line,
              text: `${record.from} -> ${record.to} ${label} #${record.m}: in flight`,
              bad: false,
            };
            steps.push(step);
            pending.set(record.m, step);
          }
          break;
        case 'recv': {
          const step = pending.get(record.m);
          if (step) {
            step.text = step.text.replace(': in flight', `: arrived ${formatDelay(record.t - step.t)}`);
            pending.delete(record.m);
          }
          break;
        }
        case 'drop': {
          const step = pending.get(record.m);
          if (step) {
            step.text = step.text.replace(
              ': in flight',
              `: DROPPED ${formatDelay(record.t - step.t)}, ${record.why}${fault(record.f)}`,
            );
            step.bad = true;
            pending.delete(record.m);
          }
          break;
        }
        case 'role-drop':
          if (record.e === e)
            at(`${record.node} gave up: ${record.why}${record.dc ? ` (for ${record.dc})` : ''}`, true);
          break;
        case 'deliver':
          if (record.e === e) {
            const recipients = state.recipients(record);
            const shown = recipients.slice(0, 6).join(' ');
            const more = recipients.length > 6 ? ` +${recipients.length - 6} more` : '';
            at(
              `${record.node} delivered to ${record.n} connection${record.n === 1 ? '' : 's'}: ${shown}${more}`,
            );
          }
          break;
        case 'client-drop':
          if (record.e === e)
            at(`${record.node} lost the batch for ${record.n} connections: ${record.why}`, true);
          break;
        case 'loss':
          if (record.e === e) {
            at(
              `LOST ${record.n} deliver${record.n === 1 ? 'y' : 'ies'} at ${record.node ?? 'unknown frontend'}: ${record.cause}, ${record.explained ? 'explained' : 'UNEXPLAINED'}${fault(record.f)}`,
              true,
            );
          }
          break;
        case 'violation':
          if (record.violation.e === e)
            at(`VIOLATION ${record.violation.invariant}: ${record.violation.message}`, true);
          break;
        case 'conn':
        case 'lease':
        case 'node':
        case 'fault':
        case 'fanout':
        case 'due':
        case 'run':
        case 'end':
          break;
      }
      if (offset < lastOffset) return true;
      extra++;
      return pending.size > 0 && extra < extraMax && record.t <= lastT + 10_000_000;
    });
    for (const step of pending.values())
      step.text = step.text.replace(': in flight', ': no fate in the trace');
    return topic === undefined
      ? { e, found: true, steps, violations }
      : { e, found: true, topic, steps, violations };
  }
}
