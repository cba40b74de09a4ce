/**
 * The trace records replay reads (the simulator's format, sim/trace.ts), and the check that a
 * parsed line is one of them.
 *
 * Validation is shallow on purpose: it checks what replay relies on (kind, integer time, the
 * fields each kind needs and their types, and the value of every field replay switches on),
 * fast enough for a million lines. So a switch over those values is exhaustive, and a value no
 * case handles is a bug of ours, not a strange file.
 */
import { type TraceKind, type TraceRecord, faultKinds } from '../../sim/index.ts';

export type { Fault, InvariantName, TraceKind, TraceRecord, Violation } from '../../sim/index.ts';
export type RunRecord = Extract<TraceRecord, { k: 'run' }>;
export type EndRecord = Extract<TraceRecord, { k: 'end' }>;
export type TraceNode = RunRecord['nodes'][number];
export type NodeRole = TraceNode['role'];

/** Field checks per kind: `s` string, `n` number, `b` boolean, `o` object, `a` array; a trailing `?` marks optional, `sn` string or null. */
const shapes: Record<TraceKind, Record<string, string>> = {
  run: { version: 'n', seed: 's', nodes: 'a' },
  fault: { f: 'n', phase: 's', fault: 'o' },
  publish: { e: 's', topic: 's', origin: 's', node: 's', bytes: 'n' },
  send: { m: 'n', from: 's', to: 's', type: 's', e: 's?', topic: 's?' },
  recv: { m: 'n' },
  drop: { m: 'n', why: 's', f: 'n?' },
  'role-drop': { node: 's', why: 's', e: 's?', topic: 's?', dc: 's?' },
  deliver: { node: 's', e: 's', topic: 's', n: 'n', c: 'a?', add: 'a?', omit: 'a?' },
  fanout: { node: 's', e: 's', topic: 's', n: 'n', c: 'a?', add: 'a?', omit: 'a?' },
  due: { e: 's' },
  'client-drop': { node: 's', e: 's', n: 'n', why: 's' },
  conn: { c: 's', node: 's', v: 'n', op: 's', topic: 's?' },
  lease: { dc: 's', topic: 's', fe: 's', change: 's', exp: 'n?' },
  node: { node: 's', op: 's' },
  loss: { e: 's', node: 'sn', n: 'n', explained: 'b', cause: 's', f: 'n?' },
  violation: { violation: 'o' },
  end: {},
};

export const traceKinds = Object.keys(shapes) as TraceKind[];

type FieldOf<K extends TraceKind, F extends string> =
  Extract<TraceRecord, { k: K }> extends Record<F, infer V> ? V : never;

/** The values a field replay switches on may take. */
const choices: Partial<Record<TraceKind, Record<string, readonly string[]>>> = {
  fault: { phase: ['start', 'end'] satisfies FieldOf<'fault', 'phase'>[] },
  conn: { op: ['open', 'close', 'sub', 'unsub', 'refused'] satisfies FieldOf<'conn', 'op'>[] },
  lease: {
    change: ['granted', 'renewed', 'removed', 'expired', 'refused'] satisfies FieldOf<'lease', 'change'>[],
  },
  node: { op: ['down', 'up'] satisfies FieldOf<'node', 'op'>[] },
};

function typeOk(value: unknown, spec: string): boolean {
  if (value === undefined) return spec.endsWith('?');
  switch (spec.replace('?', '')) {
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
    default:
      return false;
  }
}

/**
 * Why a parsed line is not a trace record, or null when it is one. The message names the field,
 * so a person can find it in the line the caller names.
 */
export function recordProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const record = value as Record<string, unknown>;
  const kind = record['k'];
  if (typeof kind !== 'string') return 'no record kind `k`';
  const shape = Object.hasOwn(shapes, kind) ? shapes[kind as TraceKind] : undefined;
  if (!shape) return `unknown record kind "${kind}"`;
  const t = record['t'];
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 0) {
    return `${kind}: time \`t\` must be a non-negative integer (microseconds), got ${JSON.stringify(t)}`;
  }
  for (const field in shape) {
    if (!typeOk(record[field], shape[field]!)) {
      return `${kind}: field \`${field}\` is missing or has the wrong type (${JSON.stringify(record[field]) ?? 'missing'})`;
    }
  }
  for (const [field, allowed] of Object.entries(choices[kind as TraceKind] ?? {})) {
    if (!allowed.includes(record[field] as string)) {
      return `${kind}: field \`${field}\` must be one of ${allowed.join(', ')} (got ${JSON.stringify(record[field])})`;
    }
  }
  if (kind === 'violation') {
    const violation = record['violation'] as Record<string, unknown>;
    if (typeof violation['invariant'] !== 'string' || !Array.isArray(violation['chain'])) {
      return 'violation: `violation` needs an `invariant` and a `chain`';
    }
  }
  if (kind === 'fault') {
    const faultKind = (record['fault'] as Record<string, unknown>)['kind'];
    if (!faultKinds.includes(faultKind as (typeof faultKinds)[number])) {
      return `fault: \`fault.kind\` must be one of ${faultKinds.join(', ')} (got ${JSON.stringify(faultKind)})`;
    }
  }
  return null;
}

/** Every record that names an event, by that name (recv and drop name only a message number). */
export function eventOf(record: TraceRecord): string | undefined {
  if (record.k === 'violation') return record.violation.e;
  return 'e' in record ? record.e : undefined;
}
