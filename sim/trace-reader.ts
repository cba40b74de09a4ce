/**
 * The trace reader: a trace file back into the facts it serializes, so the checkers can judge a
 * trace exactly as they judged the live run (sim/check-trace.ts), and replay can follow the same
 * facts.
 *
 * - A `TraceReader` takes a trace's lines in order, one at a time, and gives each line's record
 *   (checked by trace-line.ts) and the fact it serializes. Whoever holds the lines feeds it: the
 *   file reader below, or replay's index, which reads the file itself to keep byte offsets.
 * - It streams: what it keeps is what the format refers back to — each connection's number (in
 *   the order it first meets their ids), the subscriptions projection that recipient lists are
 *   relative to, the faults in force, and each message in flight until every copy's fate (`recv` or
 *   `drop`) has been read.
 * - Records of what the checkers concluded (`violation`, `loss`) are not facts: a re-check computes
 *   them again. The `end` record becomes the `end` fact (the count of heap items it carries).
 * - It reads only this version of the format: older traces lack what the checkers need (digests,
 *   fan-outs, deadlines). A record that breaks the format, alone or where it stands, is a
 *   TraceError naming the file and the line.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import {
  unreachable,
  type ConnectionId,
  type HistoryAfter,
  type Seq,
  type StoreEpoch,
} from '../core/index.ts';
import type { ConnectionOp, Fact, HistoryAnswer, MessageFacts } from './facts.ts';
import { decodeRecipients, type Recipients } from './recipients.ts';
import { parseScenario } from './scenario-parse.ts';
import { ScenarioError } from './scenario.ts';
import { Subscriptions } from './subscriptions.ts';
import { parseTraceLine, TraceFormatError } from './trace-line.ts';
import { traceVersion, type TraceRecord } from './trace.ts';

/** A trace that cannot be read: the file, the line (1-based; 0 when it is about the whole file) and why. */
export class TraceError extends Error {
  override name = 'TraceError';
  constructor(
    readonly path: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${path}${line > 0 ? `:${line}` : ''}: ${reason}`);
  }
}

const chunkBytes = 1 << 20;

/** One line read: its record, and the fact it serializes (null for a record of what the checkers concluded). */
export interface TraceLine {
  record: TraceRecord;
  fact: Fact | null;
}

/** Reads the lines of one trace, in order, into records and facts. */
export class TraceReader {
  private readonly decoder = new FactDecoder();
  /** Lines read so far: the number of the last one. */
  line = 0;

  constructor(readonly path: string) {}

  /**
   * The next line's record and fact. `complete` is false for a last line the file ends without a
   * newline (a trace cut short while it was written). Throws a TraceError naming the line.
   */
  read(text: string, complete = true): TraceLine {
    this.line++;
    try {
      const record = parseTraceLine(text);
      return { record, fact: this.decoder.decode(record) };
    } catch (error) {
      if (!(error instanceof TraceFormatError)) throw error;
      const cut = !complete && error.message.startsWith('malformed JSON');
      throw new TraceError(
        this.path,
        this.line,
        cut ? 'truncated: the file ends in the middle of a record' : error.message,
      );
    }
  }
}

/** Every fact of a trace file, in order. */
export function* readTraceFacts(path: string): Generator<Fact> {
  const reader = new TraceReader(path);
  for (const [text, complete] of linesOf(path)) {
    const { fact } = reader.read(text, complete);
    if (fact !== null) yield fact;
  }
}

const connectionOps: Record<Extract<TraceRecord, { k: 'conn' }>['op'], ConnectionOp> = {
  open: 'opened',
  refused: 'refused',
  close: 'closed',
  sub: 'joined',
  unsub: 'left',
};

/** Turns the records of one trace, in order, back into facts. */
class FactDecoder {
  private readonly subscriptions = new Subscriptions();
  private readonly connections = new Map<ConnectionId, number>();
  private readonly opened = new Set<number>();
  private readonly inFlight = new Map<number, { message: MessageFacts; fates: number }>();
  /** Faults started and not yet ended. */
  private readonly inForce = new Set<number>();
  private started = false;
  private ended = false;
  private lastT = 0;

  /**
   * The fact a record serializes, or null for a record of what the checkers concluded. Throws a
   * TraceFormatError for a record that cannot stand where it is.
   */
  decode(record: TraceRecord): Fact | null {
    if (!this.started && record.k !== 'run')
      throw new TraceFormatError(`the first record must be \`run\`, found \`${record.k}\``);
    if (this.ended) throw new TraceFormatError(`a ${record.k} record after the \`end\` record`);
    if (record.t < this.lastT)
      throw new TraceFormatError(`time goes backwards (${record.t} after ${this.lastT})`);
    this.lastT = record.t;
    const fact = this.factOf(record);
    if (fact !== null) this.subscriptions.apply(fact);
    return fact;
  }

  private factOf(record: TraceRecord): Fact | null {
    const { t } = record;
    switch (record.k) {
      case 'run': {
        if (this.started) throw new TraceFormatError('a second `run` record');
        this.started = true;
        if (record.version !== traceVersion)
          throw new TraceFormatError(
            `trace version ${String(record.version)}; this reader reads version ${traceVersion} (run the scenario again to write one)`,
          );
        let scenario;
        try {
          scenario = parseScenario(record.scenario, 'the run record');
        } catch (error) {
          if (error instanceof ScenarioError) throw new TraceFormatError(error.message);
          throw error;
        }
        return {
          kind: 'run',
          t: 0,
          scenario,
          seed: record.seed,
          nodes: record.nodes,
          faults: need(record.faults, 'faults'),
          ...(record.slackUs === undefined ? {} : { timerSlackUs: record.slackUs }),
        };
      }
      case 'fault': {
        const { f, phase, fault } = record;
        if (phase === 'start') this.inForce.add(f);
        else if (!this.inForce.delete(f)) throw new TraceFormatError(`fault #${f} ends but never started`);
        return { kind: 'fault', t, f, phase, fault };
      }
      case 'node':
        return { kind: 'node', t, node: record.node, op: record.op };
      case 'publish': {
        const event = { id: record.e, topic: record.topic, digest: need(record.d, 'd') };
        return { kind: 'published', t, node: record.node, event, origin: record.origin, bytes: record.bytes };
      }
      case 'send': {
        const { m, from, to, type, e, topic, r, fe, h } = record;
        // `r` and `h` mean what the message's type makes them (sim/trace.ts).
        const delivery = type === 'deliver' || type === 'deliver-ack';
        const message: MessageFacts = {
          m,
          from,
          to,
          type,
          ...(e === undefined ? {} : { e }),
          ...(topic === undefined ? {} : { topic }),
          ...(r === undefined ? {} : delivery ? { deliveryId: r } : { forwardId: r }),
          ...(fe === undefined ? {} : { leaseOf: fe }),
          ...positionOf(record),
          ...(h === undefined
            ? {}
            : type === 'history-read'
              ? { historyAfter: h as HistoryAfter }
              : { historyAnswer: h as HistoryAnswer }),
        };
        const copies = record.copies === 2 ? 2 : 1;
        if (this.inFlight.has(m)) throw new TraceFormatError(`message #${m} sent twice`);
        this.inFlight.set(m, { message, fates: copies });
        return { kind: 'sent', t, message, copies };
      }
      case 'recv':
        return { kind: 'received', t, message: this.fateOf(record.m) };
      case 'drop': {
        const { why, f } = record;
        return { kind: 'dropped', t, message: this.fateOf(record.m), why, ...(f === undefined ? {} : { f }) };
      }
      case 'role-drop': {
        const { node, why, e, topic, dc } = record;
        return {
          kind: 'role-drop',
          t,
          node,
          reason: why,
          ...(e === undefined ? {} : { e }),
          ...(topic === undefined ? {} : { topic }),
          ...(dc === undefined ? {} : { dc }),
        };
      }
      case 'fanout': {
        const { node, e, topic } = record;
        const connections = this.recipients(record);
        return { kind: 'fanned-out', t, node, e, topic, connections, ...positionOf(record) };
      }
      case 'deliver': {
        const event = { id: record.e, topic: record.topic, digest: need(record.d, 'd') };
        const connections = this.recipients(record);
        return { kind: 'batch-received', t, node: record.node, event, connections, ...positionOf(record) };
      }
      case 'append': {
        const { dc, e, topic, ep: epoch, seq } = record;
        return { kind: 'appended', t, dc, e, topic, epoch, seq, dup: record.dup === true };
      }
      case 'trim': {
        const { dc, topic, ep: epoch, seq } = record;
        return { kind: 'trimmed', t, dc, topic, epoch, seq };
      }
      case 'gap': {
        const { node, topic, ep: epoch, from, to, why, e } = record;
        const connections = this.recipients(record);
        const named = e === undefined ? {} : { e };
        return { kind: 'gap', t, node, topic, connections, epoch, from, to, why, ...named };
      }
      case 'answer': {
        const { dc } = record;
        if (record.ok) {
          const { e, w } = record;
          return { kind: 'answered', t, dc, ok: true, e, ...(w === undefined ? {} : { warning: w }) };
        }
        const { e, code } = record;
        return { kind: 'answered', t, dc, ok: false, ...(e === undefined ? {} : { e }), code };
      }
      case 'occupancy': {
        const { node, topic, count, byDc, stale } = record;
        const watchers = this.subscriptions.watchersAt(node, topic);
        const connections = this.recipients(record, watchers);
        return { kind: 'occupancy', t, node, topic, connections, count, byDc, stale: stale ?? [] };
      }
      case 'client-drop':
        return { kind: 'batch-lost', t, node: record.node, e: record.e, n: record.n, why: record.why };
      case 'conn':
        return this.connectionFact(record);
      case 'lease': {
        const { dc, topic, fe, change, exp } = record;
        return {
          kind: 'lease',
          t,
          dc,
          topic,
          frontend: fe,
          change,
          ...(exp === undefined ? {} : { expUs: exp }),
        };
      }
      case 'due':
        return { kind: 'due', t, e: record.e };
      case 'end': {
        this.ended = true;
        const items = (record.report as { items?: unknown } | null)?.items;
        if (typeof items !== 'number') throw new TraceFormatError('an end record without report.items');
        return { kind: 'end', t, items };
      }
      case 'loss':
      case 'violation':
        return null;
      default:
        return unreachable(record);
    }
  }

  private connectionFact(record: Extract<TraceRecord, { k: 'conn' }>): Fact {
    const { t, c: id, node, v: viewer } = record;
    const op = connectionOps[record.op];
    let c = this.connections.get(id);
    if (c === undefined) this.connections.set(id, (c = this.connections.size));
    if (op === 'opened') this.opened.add(c);
    else if (op !== 'refused' && !this.opened.has(c))
      throw new TraceFormatError(`connection ${id} ${op} before it opened`);
    if (op === 'joined' || op === 'left') {
      const topic = need(record.topic, 'topic');
      const resumed = op === 'joined' && record.resumed === true ? { resumed: true as const } : {};
      return { kind: 'connection', op, t, c, id, node, viewer, topic, ...positionOf(record), ...resumed };
    }
    const watches = op === 'opened' && record.occ === true ? { occupancy: true as const } : {};
    if (op === 'opened' && record.res !== undefined) {
      if (!record.res.every((topic) => typeof topic === 'string'))
        throw new TraceFormatError(`connection ${id} opened resuming something other than topics`);
      return { kind: 'connection', op, t, c, id, node, viewer, resumes: record.res, ...watches };
    }
    return { kind: 'connection', op, t, c, id, node, viewer, ...watches };
  }

  /**
   * A fan-out's or a batch's connections (an occupancy's: relative to `base`, the watchers), by the
   * numbers this reader gave them.
   */
  private recipients(
    record: Recipients & { node: string; topic: string; n: number },
    base?: ReadonlySet<number>,
  ): number[] {
    const subscribers = base ?? this.subscriptions.at(record.node, record.topic) ?? new Set<number>();
    const connections = decodeRecipients(subscribers, record, (id) => {
      // A connection no record opened (a frontend's invention) still gets a number of its own.
      let c = this.connections.get(id);
      if (c === undefined) this.connections.set(id, (c = this.connections.size));
      return c;
    });
    if (connections.length !== record.n)
      throw new TraceFormatError(`names ${connections.length} connections, but says n: ${record.n}`);
    return connections;
  }

  /** The message a `recv` or `drop` is about, forgotten once all its copies have a fate. */
  private fateOf(m: number): MessageFacts {
    const entry = this.inFlight.get(m);
    if (entry === undefined) throw new TraceFormatError(`the fate of message #${m}, which is not in flight`);
    if (--entry.fates === 0) this.inFlight.delete(m);
    return entry.message;
  }
}

/** A record's `ep`/`seq` as a fact's position (reliable mode; nothing in best-effort). */
function positionOf(record: { ep?: StoreEpoch; seq?: Seq }): { epoch?: StoreEpoch; seq?: Seq } {
  return {
    ...(record.ep === undefined ? {} : { epoch: record.ep }),
    ...(record.seq === undefined ? {} : { seq: record.seq }),
  };
}

function need<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new TraceFormatError(`no \`${field}\``);
  return value;
}

/** The lines of a file, read a chunk at a time, each with whether a newline ends it. */
function* linesOf(path: string): Generator<[text: string, complete: boolean]> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new TraceError(path, 0, `cannot open: ${(error as Error).message}`);
  }
  try {
    const buffer = Buffer.alloc(chunkBytes);
    const text = new StringDecoder('utf8');
    let rest = '';
    for (;;) {
      const read = readSync(fd, buffer, 0, chunkBytes, null);
      if (read === 0) break;
      const lines = (rest + text.write(buffer.subarray(0, read))).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) yield [line, true];
    }
    rest += text.end();
    if (rest !== '') yield [rest, false];
  } finally {
    closeSync(fd);
  }
}
