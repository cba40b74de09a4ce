/**
 * The view a screen asks for most: the world at a time and the records around it, optionally
 * filtered. It restores the checkpoint before the one for the time (so that records just before
 * a checkpoint are at hand), reads forward to the time and a little past it, and with a filter that
 * matches too little near the time, searches earlier stretches of the trace a checkpoint at a time.
 *
 * A `recv` or `drop` names only its message's number; the window names the message's hop and
 * event too, from the `send` read in the stretch before (see `Sends`). A forward-ack names only its
 * forward's id; the window names the event of the forward it acknowledges, the same way.
 */
import { type Filter, matches, needsState } from './filter.ts';
import type { FaultSpan } from './fault-spans.ts';
import { type SendInfo, sendInfo } from './format.ts';
import type { TraceRecord } from '../../sim/index.ts';
import type { Counters, NodeView, ReplayState } from './replay-state.ts';
import type { TraceIndex } from './trace-index.ts';

/** One record as the event pane shows it. */
export interface Entry {
  line: number;
  record: TraceRecord;
  /** For `recv` and `drop`: the send they answer, when it was read; for a `send`: itself, as named. */
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

/**
 * The sends read so far, by message number, and the event of each forward by its sender and id (a
 * retry keeps the id, and the ack carries it back), so a forward-ack can name its event.
 */
class Sends {
  private readonly byMessage = new Map<number, SendInfo>();
  private readonly forwards = new Map<string, string>();

  /** Note a send; returns it as named. */
  note(record: Extract<TraceRecord, { k: 'send' }>): SendInfo {
    let e = record.e;
    if (record.r !== undefined) {
      if (record.type === 'forward' && e !== undefined)
        this.forwards.set(`${record.from}\u0000${record.r}`, e);
      else if (record.type === 'forward-ack') e = this.forwards.get(`${record.to}\u0000${record.r}`);
    }
    const info = sendInfo(record, e);
    this.byMessage.set(record.m, info);
    return info;
  }

  /** The send a record names: itself for a `send`, the one it answers for a `recv` or `drop`. */
  of(record: TraceRecord): SendInfo | undefined {
    const message = record.k === 'send' || record.k === 'recv' || record.k === 'drop';
    return message ? this.byMessage.get(record.m) : undefined;
  }
}

function viewOf(index: TraceIndex, state: ReplayState, t: number): View {
  return {
    t,
    counters: { ...state.counters },
    nodes: state.nodeViews(),
    faults: [...state.faults.keys()].map((f) => index.faultSpan(f)),
  };
}

/**
 * The world at `t` and the records around it: up to `before` matching records at or before `t`
 * and `after` matching records after it. With a filter, earlier stretches of the trace are read
 * (up to `searchCheckpoints` of them) until enough records match.
 */
export function traceWindow(
  index: TraceIndex,
  t: number,
  before: number,
  after: number,
  filter: Filter | null,
  searchCheckpoints: number,
): Window {
  // Start one checkpoint early so that `before` records are at hand even just after a checkpoint.
  const start = Math.max(0, index.checkpointFor(t) - 1);
  const state = index.restore(start);
  let view: View | null = null;
  const sends = sendsBefore(index, start);
  const ring: Entry[] = [];
  const later: Entry[] = [];
  let scannedAfter = 0;
  const scanLimitAfter = index.checkpointEvery * searchCheckpoints;
  index.scan(start, state, (record, line) => {
    if (record.k === 'send') sends.note(record);
    const send = sends.of(record);
    const keep = !filter || matches(filter, record, send, state);
    const entry: Entry = send ? { line, record, send } : { line, record };
    if (record.t <= t) {
      if (keep) {
        ring.push(entry);
        if (ring.length > before) ring.shift();
      }
      return true;
    }
    view ??= viewOf(index, state, t);
    if (keep && later.length < after) later.push(entry);
    scannedAfter++;
    return later.length < after && scannedAfter < scanLimitAfter;
  });
  view ??= viewOf(index, state, t);
  if (filter && ring.length < before && start > 0) {
    ring.unshift(...searchBack(index, start, before - ring.length, filter, searchCheckpoints));
  }
  return { view, before: ring, after: later };
}

/**
 * The sends of the stretch before checkpoint `k`, so that a `recv` or `drop` read from `k` on can
 * name its message (one stretch covers every message in flight unless latencies span more).
 */
function sendsBefore(index: TraceIndex, k: number): Sends {
  const sends = new Sends();
  if (k === 0) return sends;
  const endLine = index.checkpoints[k]!.line;
  index.scan(
    k - 1,
    null,
    (record) => {
      if (record.k === 'send') sends.note(record);
      return true;
    },
    // Only sends matter, and a send's line names its kind.
    { wanted: (text) => text.includes('"send"'), untilLine: endLine },
  );
  return sends;
}

/** Matching records before checkpoint `k`, newest last, at most `want`. */
function searchBack(index: TraceIndex, k: number, want: number, filter: Filter, limit: number): Entry[] {
  const found: Entry[] = [];
  for (let j = k - 1; j >= 0 && j >= k - limit && found.length < want; j--) {
    const state = needsState(filter) ? index.restore(j) : null;
    const endLine = index.checkpoints[j + 1]!.line;
    const segment: Entry[] = [];
    const sends = sendsBefore(index, j);
    index.scan(j, state, (record, line) => {
      if (record.k === 'send') sends.note(record);
      const send = sends.of(record);
      if (line >= endLine) return false;
      if (matches(filter, record, send, state ?? undefined))
        segment.push(send ? { line, record, send } : { line, record });
      return true;
    });
    found.unshift(...segment);
  }
  return found.slice(Math.max(0, found.length - want));
}
