/**
 * The trace reader: a trace file back into the facts it serializes, so the checkers can judge a
 * trace exactly as they judged the live run (sim/check-trace.ts), and replay can follow the same
 * facts.
 *
 * - It streams: the file is read a chunk at a time and never held whole; what it keeps is what the
 *   format refers back to — each connection's number (in the order it first meets their ids), the
 *   subscriptions projection that recipient lists are relative to, and each message in flight until
 *   every copy's fate (`recv` or `drop`) has been read.
 * - Records of what the checkers concluded (`violation`, `loss`) are not facts: a re-check computes
 *   them again. The `end` record becomes the `end` fact (the count of heap items it carries).
 * - It reads only this version of the format: older traces lack what the checkers need (digests,
 *   fan-outs, deadlines). A record that breaks the format is a TraceError naming the file and line.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { unreachable, type ConnectionId } from '../core/index.ts';
import type { ConnectionOp, Fact, MessageFacts } from './facts.ts';
import { decodeRecipients, type Recipients } from './recipients.ts';
import { parseScenario, ScenarioError } from './scenario.ts';
import { Subscriptions } from './subscriptions.ts';
import { traceVersion, type TraceKind, type TraceRecord } from './trace.ts';

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

/** A record that breaks the format, before the reader knows where it is. */
class FormatError extends Error {}

const chunkBytes = 1 << 20;

const recordKinds: ReadonlySet<string> = new Set<TraceKind>([
  'run',
  'fault',
  'publish',
  'send',
  'recv',
  'drop',
  'role-drop',
  'fanout',
  'deliver',
  'client-drop',
  'conn',
  'lease',
  'node',
  'due',
  'loss',
  'violation',
  'end',
]);

/** Every record of a trace file, in order, with its line number. */
export function* readTraceRecords(path: string): Generator<{ line: number; record: TraceRecord }> {
  let line = 0;
  for (const text of linesOf(path)) {
    line++;
    if (text === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new TraceError(path, line, `not JSON (${(error as Error).message}); is the trace cut short?`);
    }
    const record = value as Partial<TraceRecord> | null;
    if (typeof record !== 'object' || record === null || !recordKinds.has(record.k as string))
      throw new TraceError(path, line, 'not a trace record (no known `k`)');
    if (typeof record.t !== 'number' || !Number.isInteger(record.t))
      throw new TraceError(path, line, `a ${record.k} record without an integer time \`t\``);
    yield { line, record: record as TraceRecord };
  }
}

/** Every fact of a trace file, in order. */
export function* readTraceFacts(path: string): Generator<Fact> {
  const decoder = new FactDecoder();
  for (const { line, record } of readTraceRecords(path)) {
    let fact: Fact | null;
    try {
      fact = decoder.decode(record);
    } catch (error) {
      if (error instanceof FormatError) throw new TraceError(path, line, error.message);
      throw error;
    }
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
export class FactDecoder {
  private readonly subscriptions = new Subscriptions();
  private readonly connections = new Map<ConnectionId, number>();
  private readonly opened = new Set<number>();
  private readonly inFlight = new Map<number, { message: MessageFacts; fates: number }>();
  private started = false;
  private ended = false;

  /** The fact a record serializes, or null for a record of what the checkers concluded. */
  decode(record: TraceRecord): Fact | null {
    if (!this.started && record.k !== 'run')
      throw new FormatError(`a ${record.k} record before the run record`);
    if (this.ended) throw new FormatError(`a ${record.k} record after the end record`);
    const fact = this.factOf(record);
    if (fact !== null) this.subscriptions.apply(fact);
    return fact;
  }

  private factOf(record: TraceRecord): Fact | null {
    const { t } = record;
    switch (record.k) {
      case 'run': {
        if (this.started) throw new FormatError('a second run record');
        this.started = true;
        if (record.version !== traceVersion)
          throw new FormatError(
            `trace version ${String(record.version)}; this reader reads version ${traceVersion} (run the scenario again to write one)`,
          );
        let scenario;
        try {
          scenario = parseScenario(record.scenario, 'the run record');
        } catch (error) {
          if (error instanceof ScenarioError) throw new FormatError(error.message);
          throw error;
        }
        return {
          kind: 'run',
          t: 0,
          scenario,
          seed: record.seed,
          nodes: record.nodes,
          faults: need(record.faults, 'faults'),
        };
      }
      case 'fault':
        return { kind: 'fault', t, f: record.f, phase: record.phase, fault: record.fault };
      case 'node':
        return { kind: 'node', t, node: record.node, op: record.op };
      case 'publish': {
        const event = { id: record.e, topic: record.topic, digest: need(record.d, 'd') };
        return { kind: 'published', t, node: record.node, event, origin: record.origin, bytes: record.bytes };
      }
      case 'send': {
        const { m, from, to, type, e, topic, r, fe } = record;
        const message: MessageFacts = {
          m,
          from,
          to,
          type,
          ...(e === undefined ? {} : { e }),
          ...(topic === undefined ? {} : { topic }),
          ...(r === undefined ? {} : { forwardId: r }),
          ...(fe === undefined ? {} : { leaseOf: fe }),
        };
        const copies = record.copies === 2 ? 2 : 1;
        if (this.inFlight.has(m)) throw new FormatError(`message #${m} sent twice`);
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
        return { kind: 'fanned-out', t, node, e, topic, connections: this.recipients(record) };
      }
      case 'deliver': {
        const event = { id: record.e, topic: record.topic, digest: need(record.d, 'd') };
        return { kind: 'batch-received', t, node: record.node, event, connections: this.recipients(record) };
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
        if (typeof items !== 'number') throw new FormatError('an end record without report.items');
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
      throw new FormatError(`connection ${id} ${op} before it opened`);
    if (op === 'joined' || op === 'left')
      return { kind: 'connection', op, t, c, id, node, viewer, topic: need(record.topic, 'topic') };
    return { kind: 'connection', op, t, c, id, node, viewer };
  }

  /** A fan-out's or a batch's connections, by the numbers this reader gave them. */
  private recipients(record: Recipients & { node: string; topic: string; n: number }): number[] {
    const subscribers = this.subscriptions.at(record.node, record.topic) ?? new Set<number>();
    const connections = decodeRecipients(subscribers, record, (id) => {
      // A connection no record opened (a frontend's invention) still gets a number of its own.
      let c = this.connections.get(id);
      if (c === undefined) this.connections.set(id, (c = this.connections.size));
      return c;
    });
    if (connections.length !== record.n)
      throw new FormatError(`names ${connections.length} connections, but says n: ${record.n}`);
    return connections;
  }

  /** The message a `recv` or `drop` is about, forgotten once all its copies have a fate. */
  private fateOf(m: number): MessageFacts {
    const entry = this.inFlight.get(m);
    if (entry === undefined) throw new FormatError(`the fate of message #${m}, which is not in flight`);
    if (--entry.fates === 0) this.inFlight.delete(m);
    return entry.message;
  }
}

function need<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new FormatError(`no \`${field}\``);
  return value;
}

/** The lines of a file, read a chunk at a time. */
function* linesOf(path: string): Generator<string> {
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
      yield* lines;
    }
    rest += text.end();
    if (rest !== '') yield rest;
  } finally {
    closeSync(fd);
  }
}
