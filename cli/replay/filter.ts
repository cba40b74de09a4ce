/**
 * The event pane's filter: space-separated terms that must all match. `node:ID` (a node id, or a
 * datacenter name for all its nodes), `topic:T`, `conn:C`, `e:ID`, `kind:K`; a bare word matches
 * any of them.
 *
 * A kind is a record's (`gap`, `append`, `trim`, `answer`, `fault`, …), a message's type for the
 * records of a message (`history-read`, `deliver-ack`, …: its send, receipt or drop), or one of
 * the groups `history` (history reads and their answers) and `ack` (deliver-acks and forward-acks).
 */
import { unreachable, type MessageType } from '../../core/index.ts';
import type { SendInfo } from './format.ts';
import { eventOfRecord, traceKinds, type TraceRecord } from '../../sim/index.ts';
import type { ReplayState } from './replay-state.ts';

type Field = 'node' | 'topic' | 'conn' | 'e' | 'kind';
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
  kind: 'kind',
  k: 'kind',
  is: 'kind',
};

// A record, so that a message type added to the union must be added here.
const messageTypes: Record<MessageType, true> = {
  publish: true,
  'publish-reply': true,
  subscribe: true,
  renew: true,
  unsubscribe: true,
  'lease-reply': true,
  'store-reset': true,
  occupancy: true,
  deliver: true,
  'deliver-ack': true,
  forward: true,
  'forward-ack': true,
  'store-request': true,
  'store-reply': true,
  'history-read': true,
  'history-reply': true,
};

/** The groups a kind term may name, each the record kinds and message types it stands for. */
const kindGroups: Record<string, readonly string[]> = {
  history: ['history-read', 'history-reply'],
  ack: ['deliver-ack', 'forward-ack'],
};

/** Every word a kind term accepts. */
const kindWords = new Set<string>([...traceKinds, ...Object.keys(messageTypes), ...Object.keys(kindGroups)]);

/** Whether a record is of the kind: its own kind, or for a message's records the message's type. */
function kindMatches(record: TraceRecord, send: SendInfo | undefined, value: string): boolean {
  const wanted = kindGroups[value] ?? [value];
  return wanted.includes(record.k) || (send !== undefined && wanted.includes(send.type));
}

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
    if (!field)
      throw new Error(`unknown filter "${word.slice(0, colon)}:" (use node:, topic:, conn:, e: or kind:)`);
    const value = word.slice(colon + 1);
    if (field === 'kind' && !kindWords.has(value))
      throw new Error(
        `unknown kind "${value}" (a record kind such as gap, append or answer; a message type such as history-read or deliver-ack; or history, ack)`,
      );
    terms.push({ field, value });
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
    case 'occupancy':
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
  // A message's records name the event its send does (a forward-ack's as the window named it).
  return send !== undefined ? send.e : eventOfRecord(record);
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
    case 'kind':
      return kindMatches(record, send, term.value);
    case 'any':
      return (
        nodesOf(record, send).some((id) => nodeMatches(id, term.value)) ||
        topicOf(record) === term.value ||
        eventOf(record, send) === term.value ||
        (kindWords.has(term.value) && kindMatches(record, send, term.value)) ||
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
