/**
 * One line of a trace, checked: the single place that turns a line of text into a trace record
 * (sim/trace.ts). The trace reader reads every line through it, and so does replay, which re-reads
 * stretches of a trace it has indexed.
 *
 * The check is of the line alone, and shallow on purpose, fast enough for millions of lines: the
 * kind, an integer time, every field a record of that kind has and its type, and the value of every
 * field a reader switches on (so a switch over those values is exhaustive, and a value no case
 * handles is a bug of ours, not a strange file). What a record means where it stands (a run record
 * first, time never going backwards, a fate for a message in flight) is the fact decoder's to judge
 * (trace-reader.ts).
 */
import type { EventId, Gap, MessageType, PublishErrorCode, PublishWarning } from '../core/index.ts';
import type { NetworkDropReason, NodeRole } from './facts.ts';
import { faultKinds } from './scenario.ts';
import type { TraceKind, TraceRecord } from './trace.ts';

/** A line that breaks the format; the reader that knows the file and the line names them. */
export class TraceFormatError extends Error {
  override name = 'TraceFormatError';
}

/**
 * Field checks per kind: `s` string, `n` number, `b` boolean, `o` object, `a` array, `sn` string or
 * null, `nn` number or null; a trailing `?` marks an optional field.
 */
const shapes: Record<TraceKind, Record<string, string>> = {
  run: { version: 'n', seed: 's', nodes: 'a', faults: 'a?', slackUs: 'n?' },
  fault: { f: 'n', phase: 's', fault: 'o' },
  publish: { e: 's', topic: 's', origin: 's', node: 's', bytes: 'n', d: 's?' },
  send: {
    m: 'n',
    from: 's',
    to: 's',
    type: 's',
    e: 's?',
    topic: 's?',
    r: 'n?',
    fe: 's?',
    copies: 'n?',
    ep: 'n?',
    seq: 'n?',
    h: 'o?',
  },
  recv: { m: 'n' },
  drop: { m: 'n', why: 's', f: 'n?' },
  'role-drop': { node: 's', why: 's', e: 's?', topic: 's?', dc: 's?' },
  fanout: { node: 's', e: 's', topic: 's', n: 'n', c: 'a?', add: 'a?', omit: 'a?', ep: 'n?', seq: 'n?' },
  deliver: {
    node: 's',
    e: 's',
    topic: 's',
    n: 'n',
    d: 's?',
    c: 'a?',
    add: 'a?',
    omit: 'a?',
    ep: 'n?',
    seq: 'n?',
  },
  'client-drop': { node: 's', e: 's', n: 'n', why: 's' },
  conn: {
    c: 's',
    node: 's',
    v: 'n',
    op: 's',
    topic: 's?',
    ep: 'n?',
    seq: 'n?',
    res: 'a?',
    resumed: 'b?',
    occ: 'b?',
  },
  occupancy: {
    node: 's',
    topic: 's',
    n: 'n',
    count: 'n',
    byDc: 'o',
    stale: 'a?',
    c: 'a?',
    add: 'a?',
    omit: 'a?',
  },
  append: { dc: 's', e: 's', topic: 's', ep: 'n', seq: 'n', dup: 'b?' },
  trim: { dc: 's', topic: 's', ep: 'n', seq: 'n' },
  gap: {
    node: 's',
    topic: 's',
    n: 'n',
    ep: 'n',
    from: 'n',
    to: 'nn',
    why: 's',
    e: 's?',
    c: 'a?',
    add: 'a?',
    omit: 'a?',
  },
  answer: { dc: 's', ok: 'b', e: 's?', w: 's?', code: 's?' },
  lease: { dc: 's', topic: 's', fe: 's', change: 's', exp: 'n?' },
  node: { node: 's', op: 's' },
  due: { e: 's' },
  loss: { e: 's', node: 'sn', n: 'n', explained: 'b', cause: 's', f: 'n?' },
  violation: { violation: 'o' },
  end: { report: 'o' },
};

/** Every kind of record, in the order sim/trace.ts lists them. */
export const traceKinds = Object.keys(shapes) as TraceKind[];

type FieldOf<K extends TraceKind, F extends string> =
  Extract<TraceRecord, { k: K }> extends Record<F, infer V> ? V : never;

// Records rather than lists, so that a value added to one of these unions must be added here too.
const messageTypes: Record<MessageType, true> = {
  publish: true,
  'publish-reply': true,
  subscribe: true,
  renew: true,
  unsubscribe: true,
  'lease-reply': true,
  'store-reset': true,
  deliver: true,
  'deliver-ack': true,
  'history-read': true,
  'history-reply': true,
  occupancy: true,
  forward: true,
  'forward-ack': true,
  'store-request': true,
  'store-reply': true,
};
const networkDropReasons: Record<NetworkDropReason, true> = {
  loss: true,
  partition: true,
  isolated: true,
  'target-dead': true,
  'source-dead': true,
  'connection-closed': true,
};
const nodeRoles: Record<NodeRole, true> = { frontend: true, dispatcher: true, store: true };
const gapReasons: Record<Gap['why'], true> = {
  trimmed: true,
  epoch: true,
  'unknown-cursor': true,
  duplicate: true,
};
const publishWarnings: Record<PublishWarning['code'], true> = {
  'store-rebuilding': true,
  'frontend-lapsed': true,
  'forward-pending': true,
};
const publishErrors: Record<PublishErrorCode, true> = {
  'bad-topic': true,
  'bad-id': true,
  'bad-payload': true,
  'payload-too-large': true,
  'store-unavailable': true,
  overloaded: true,
};

/** Every value of a field's union, as a record so that a value added to the union must be added here. */
function valuesOf<K extends TraceKind, F extends string>(
  all: Record<FieldOf<K, F> & string, true>,
): string[] {
  return Object.keys(all);
}

/** The values a field a reader switches on may take. */
const choices: Partial<Record<TraceKind, Record<string, readonly unknown[]>>> = {
  fault: { phase: valuesOf<'fault', 'phase'>({ start: true, end: true }) },
  send: { type: Object.keys(messageTypes), copies: [undefined, 2] },
  drop: { why: Object.keys(networkDropReasons) },
  'client-drop': { why: Object.keys(networkDropReasons) },
  conn: { op: valuesOf<'conn', 'op'>({ open: true, close: true, sub: true, unsub: true, refused: true }) },
  lease: {
    change: valuesOf<'lease', 'change'>({
      granted: true,
      renewed: true,
      removed: true,
      expired: true,
      refused: true,
    }),
  },
  node: { op: valuesOf<'node', 'op'>({ down: true, up: true }) },
  append: { dup: [undefined, true] },
  gap: { why: Object.keys(gapReasons) },
  answer: {
    w: [undefined, ...Object.keys(publishWarnings)],
    code: [undefined, ...Object.keys(publishErrors)],
  },
};

/** One kind's rules, compiled once: checking a line allocates nothing unless it is broken. */
interface KindRules {
  fields: { field: string; type: string; optional: boolean }[];
  choices: { field: string; allowed: ReadonlySet<unknown>; list: readonly unknown[] }[];
}

const rulesOf = new Map<string, KindRules>(
  traceKinds.map((kind) => [
    kind,
    {
      fields: Object.entries(shapes[kind]).map(([field, spec]) => ({
        field,
        type: spec.replace('?', ''),
        optional: spec.endsWith('?'),
      })),
      choices: Object.entries(choices[kind] ?? {}).map(([field, list]) => ({
        field,
        allowed: new Set(list),
        list,
      })),
    },
  ]),
);

function typeOk(value: unknown, type: string): boolean {
  switch (type) {
    case 's':
      return typeof value === 'string';
    case 'n':
      return typeof value === 'number' && Number.isFinite(value);
    case 'b':
      return typeof value === 'boolean';
    case 'o':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'a':
      return Array.isArray(value);
    case 'sn':
      return value === null || typeof value === 'string';
    case 'nn':
      return value === null || (typeof value === 'number' && Number.isFinite(value));
    default:
      return false;
  }
}

/**
 * The record a line holds; throws a TraceFormatError saying why it holds none, naming the field so
 * that a person can find it in the line the caller names.
 */
export function parseTraceLine(text: string): TraceRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    if (text.trim() === '') throw new TraceFormatError('empty line');
    throw new TraceFormatError(`malformed JSON (${(error as Error).message})`);
  }
  const problem = recordProblem(value);
  if (problem !== null) throw new TraceFormatError(problem);
  return value as TraceRecord;
}

function recordProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const record = value as Record<string, unknown>;
  const kind = record['k'];
  if (typeof kind !== 'string') return 'no record kind `k`';
  const rules = rulesOf.get(kind);
  if (rules === undefined) return `unknown record kind ${JSON.stringify(kind)}`;
  const t = record['t'];
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 0)
    return `${kind}: time \`t\` must be a non-negative integer (microseconds), got ${JSON.stringify(t)}`;
  for (const { field, type, optional } of rules.fields) {
    const value = record[field];
    if (value === undefined ? !optional : !typeOk(value, type))
      return `${kind}: field \`${field}\` is missing or has the wrong type (${JSON.stringify(value) ?? 'missing'})`;
  }
  for (const { field, allowed, list } of rules.choices) {
    if (!allowed.has(record[field]))
      return `${kind}: field \`${field}\` must be one of ${list.filter((a) => a !== undefined).join(', ')} (got ${JSON.stringify(record[field])})`;
  }
  if (kind === 'run') {
    for (const node of record['nodes'] as unknown[]) {
      const n = node as Record<string, unknown> | null;
      if (
        typeof n?.['id'] !== 'string' ||
        typeof n['dc'] !== 'string' ||
        !Object.hasOwn(nodeRoles, n['role'] as string)
      )
        return `run: malformed node ${JSON.stringify(node)}`;
    }
  } else if (kind === 'fault') {
    const faultKind = (record['fault'] as Record<string, unknown>)['kind'];
    if (!faultKinds.includes(faultKind as (typeof faultKinds)[number]))
      return `fault: \`fault.kind\` must be one of ${faultKinds.join(', ')} (got ${JSON.stringify(faultKind)})`;
  } else if (kind === 'send' && record['h'] !== undefined) {
    const problem = historyProblem(record['type'] as MessageType, record['h'] as Record<string, unknown>);
    if (problem !== null) return `send: \`h\` ${problem} (got ${JSON.stringify(record['h'])})`;
  } else if (kind === 'answer') {
    if (record['ok'] === true && (record['e'] === undefined || record['code'] !== undefined))
      return 'answer: an OK answer needs its event `e` and no `code`';
    if (record['ok'] === false && (record['code'] === undefined || record['w'] !== undefined))
      return 'answer: a refusal needs its `code` and no warning `w`';
  } else if (kind === 'occupancy') {
    const problem = occupancyProblem(record);
    if (problem !== null) return `occupancy: ${problem}`;
  } else if (kind === 'violation') {
    const violation = record['violation'] as Record<string, unknown>;
    if (
      typeof violation['invariant'] !== 'string' ||
      typeof violation['message'] !== 'string' ||
      !Array.isArray(violation['chain'])
    )
      return 'violation: `violation` needs an `invariant`, a `message` and a `chain`';
  }
  return null;
}

/** Why an occupancy's counts are not whole numbers per datacenter and its stale ones names, or null. */
function occupancyProblem(record: Record<string, unknown>): string | null {
  const count = (value: unknown): boolean =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
  if (!count(record['count']))
    return `\`count\` must be a whole number (got ${JSON.stringify(record['count'])})`;
  const byDc = record['byDc'] as Record<string, unknown>;
  if (!Object.values(byDc).every(count))
    return `\`byDc\` must map datacenters to whole numbers (got ${JSON.stringify(byDc)})`;
  const stale = record['stale'];
  if (stale !== undefined && !(stale as unknown[]).every((dc) => typeof dc === 'string'))
    return `\`stale\` must list datacenters (got ${JSON.stringify(stale)})`;
  return null;
}

/** Why a send's `h` is not what its message type carries there, or null when it is. */
function historyProblem(type: MessageType, h: Record<string, unknown>): string | null {
  const seq = (value: unknown): boolean => typeof value === 'number' && Number.isInteger(value) && value >= 0;
  if (type === 'history-read') {
    const ok = Object.hasOwn(h, 'seq') ? seq(h['seq']) : typeof h['eventId'] === 'string';
    return ok ? null : 'of a history-read must be {seq} or {eventId}';
  }
  if (type !== 'history-reply') return 'belongs only to history-read and history-reply';
  if (h['ok'] === false)
    return typeof h['message'] === 'string' ? null : 'of a failed read needs a `message`';
  const range = h['fromSeq'] === undefined ? h['toSeq'] === undefined : seq(h['fromSeq']) && seq(h['toSeq']);
  const ok =
    h['ok'] === true &&
    seq(h['epoch']) &&
    (h['afterSeq'] === null || seq(h['afterSeq'])) &&
    seq(h['firstSeq']) &&
    seq(h['headSeq']) &&
    seq(h['n']) &&
    range;
  return ok
    ? null
    : 'of a history-reply must be {ok, epoch, afterSeq, firstSeq, headSeq, n[, fromSeq, toSeq]}';
}

/** The event a record names, if it names one (a `recv` or `drop` names only its message's number). */
export function eventOfRecord(record: TraceRecord): EventId | undefined {
  if (record.k === 'violation') return record.violation.e;
  return 'e' in record ? record.e : undefined;
}
