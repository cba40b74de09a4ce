/**
 * The event pane's filter: space-separated terms that must all match. `node:ID` (a node id, or a
 * datacenter name for all its nodes), `topic:T`, `conn:C`, `e:ID`; a bare word matches any of them.
 */
import { unreachable } from '../../core/index.ts';
import type { SendInfo } from './format.ts';
import { eventOfRecord, type TraceRecord } from '../../sim/index.ts';
import type { ReplayState } from './replay-state.ts';

type Field = 'node' | 'topic' | 'conn' | 'e';
interface Term {
  field: Field | 'any';
  value: string;
}

export interface Filter {
  text: string;
  terms: Term[];
}

const prefixes: Record<string, Field> = {
  node: 'node',
  n: 'node',
  dc: 'node',
  topic: 'topic',
  t: 'topic',
  conn: 'conn',
  c: 'conn',
  connection: 'conn',
  e: 'e',
  event: 'e',
};

/** Parse a filter; an empty text gives null (everything shown). Throws a message for an unknown prefix. */
export function parseFilter(text: string): Filter | null {
  const terms: Term[] = [];
  for (const word of text.trim().split(/\s+/)) {
    if (word === '') continue;
    const colon = word.indexOf(':');
    if (colon <= 0) {
      terms.push({ field: 'any', value: word });
      continue;
    }
    const field = prefixes[word.slice(0, colon)];
    if (!field) throw new Error(`unknown filter "${word.slice(0, colon)}:" (use node:, topic:, conn: or e:)`);
    terms.push({ field, value: word.slice(colon + 1) });
  }
  return terms.length === 0 ? null : { text: text.trim(), terms };
}

function nodesOf(record: TraceRecord, send: SendInfo | undefined): (string | null | undefined)[] {
  switch (record.k) {
    case 'publish':
    case 'role-drop':
    case 'deliver':
    case 'fanout':
    case 'client-drop':
    case 'conn':
    case 'node':
    case 'loss':
    case 'gap':
      return [record.node];
    case 'send':
      return [record.from, record.to];
    case 'recv':
    case 'drop':
      return send ? [send.from, send.to] : [];
    case 'lease':
      return [record.fe, `${record.dc}/store`];
    case 'append':
    case 'trim':
      return [`${record.dc}/store`];
    case 'answer':
      return [`${record.dc}/publisher`];
    case 'violation':
      return [record.violation.node];
    case 'fault': {
      const fault = record.fault;
      if (fault.kind === 'partition') return fault.between.map((dc) => `${dc}/`);
      if (fault.kind === 'kill' || fault.kind === 'isolate') return [fault.node];
      return fault.dc ? [`${fault.dc}/`] : [];
    }
    case 'run':
    case 'due':
    case 'end':
      return [];
    default:
      return unreachable(record);
  }
}

function topicOf(record: TraceRecord): string | undefined {
  return 'topic' in record ? record.topic : undefined;
}

function eventOf(record: TraceRecord, send: SendInfo | undefined): string | undefined {
  return record.k === 'recv' || record.k === 'drop' ? send?.e : eventOfRecord(record);
}

function nodeMatches(id: string | null | undefined, value: string): boolean {
  if (!id) return false;
  return id === value || id.startsWith(`${value}/`) || (id.endsWith('/') && value.startsWith(id));
}

function connMatches(record: TraceRecord, value: string, state: ReplayState | undefined): boolean {
  if (record.k === 'conn') return record.c === value;
  if (record.k === 'violation') return record.violation.connection === value;
  if (record.k !== 'deliver') return false;
  if (record.c) return record.c.includes(value);
  // Without `c` the recipients are the topic's subscribers at that frontend, per the conn records so far.
  return state?.recipients(record).includes(value) ?? false;
}

function termMatches(
  term: Term,
  record: TraceRecord,
  send: SendInfo | undefined,
  state: ReplayState | undefined,
): boolean {
  switch (term.field) {
    case 'node':
      return nodesOf(record, send).some((id) => nodeMatches(id, term.value));
    case 'topic':
      return topicOf(record) === term.value;
    case 'conn':
      return connMatches(record, term.value, state);
    case 'e':
      return eventOf(record, send) === term.value;
    case 'any':
      return (
        nodesOf(record, send).some((id) => nodeMatches(id, term.value)) ||
        topicOf(record) === term.value ||
        eventOf(record, send) === term.value ||
        connMatches(record, term.value, state)
      );
    default:
      return unreachable(term.field);
  }
}

/** Whether a record passes the filter; `state` is the world just after the record (for connection terms). */
export function matches(
  filter: Filter,
  record: TraceRecord,
  send: SendInfo | undefined,
  state: ReplayState | undefined,
): boolean {
  return filter.terms.every((term) => termMatches(term, record, send, state));
}

/** Whether the filter needs the world's state to decide (connection terms on deliveries). */
export function needsState(filter: Filter): boolean {
  return filter.terms.some((term) => term.field === 'conn' || term.field === 'any');
}
