/**
 * Parsing what arrives over HTTP and WebSocket into the core's vocabulary. Bad input is the
 * weather: every function returns either a value or an `HttpError` naming the problem, and never
 * throws. The core checks the rules it owns (topic syntax, payload size) again; these checks only
 * make sure the shapes are right and answer early where HTTP can say it better.
 */
import {
  decodeCursors,
  eventIdError,
  isCursorText,
  isEventId,
  publisherEventIdError,
  topicError,
  totalsPerMessageMax,
} from '../core/index.ts';
import type {
  PublishRequest,
  Event,
  EventId,
  HistoryReply,
  JsonValue,
  Message,
  NodeId,
  Position,
  PublishErrorCode,
  PublishResult,
  Topic,
  TopicCursor,
} from '../core/index.ts';

export interface HttpError {
  status: number;
  code: string;
  message: string;
}

export function httpError(status: number, code: string, message: string): HttpError {
  return { status, code, message };
}

export function isHttpError(value: unknown): value is HttpError {
  return typeof value === 'object' && value !== null && 'status' in value && 'code' in value;
}

/** The JSON body of every error reply. */
export function errorBody(error: HttpError, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ error: error.message, code: error.code, ...extra });
}

/** One event to publish, as the core takes it. */
export type { PublishRequest } from '../core/index.ts';

/** At most this many events in one batch publish. */
export const publishBatchMax = 1_000;

export type PublishBody =
  | { batch: false; request: PublishRequest }
  /** One entry per event of the batch, in order: a request, or what is wrong with that event. */
  | { batch: true; items: (PublishRequest | HttpError)[] };

/**
 * `POST /v1/publish` body: one event `{"topic": ..., "payload": <any JSON value>, "id"?: ...}`, or
 * a batch, a JSON array of 1 to `publishBatchMax` such objects. A batch is checked event by event:
 * a bad event gets its own error and does not spoil the others. Whatever JSON.parse returns is a
 * JSON value; its depth and size are the core's rules (`payloadError`), answered 400 `bad-payload`
 * or 413 `payload-too-large` from there, so the payload is walked once per publish, not twice.
 */
export function parsePublishBody(body: string): PublishBody | HttpError {
  const value = parseJson(body);
  if (isHttpError(value)) return value;
  if (Array.isArray(value)) {
    if (value.length === 0 || value.length > publishBatchMax)
      return httpError(
        400,
        'bad-request',
        `a batch holds 1 to ${publishBatchMax} events, not ${value.length}`,
      );
    return { batch: true, items: value.map(publishRequest) };
  }
  const request = publishRequest(value);
  return isHttpError(request) ? request : { batch: false, request };
}

function publishRequest(value: unknown): PublishRequest | HttpError {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return httpError(
      400,
      'bad-request',
      'an event must be a JSON object {"topic": ..., "payload": ...} (a batch is an array of them)',
    );
  }
  const { topic, payload, id } = value as Record<string, unknown>;
  const topicProblem = topicError(topic);
  if (topicProblem !== null) return httpError(400, 'bad-topic', topicProblem);
  if (payload === undefined) return missingPayload;
  if (id === undefined) return { topic: topic as Topic, payload: payload as JsonValue };
  const idProblem = publisherEventIdError(id);
  if (idProblem !== null) return httpError(400, 'bad-id', idProblem);
  return { topic: topic as Topic, payload: payload as JsonValue, id: id as EventId };
}

const missingPayload = httpError(400, 'bad-payload', 'a publish needs a "payload": any JSON value');

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    return httpError(400, 'malformed-json', `malformed JSON: ${(error as Error).message}`);
  }
}

export interface StreamRequest {
  topics: Topic[];
  /** A plain event id to resume after (best-effort's meaning), or null. */
  lastEventId: EventId | null;
  /** Reliable mode's resume: the cursors of the requested topics, when the id was a cursor text. */
  cursors?: TopicCursor[];
  token: string | null;
  /** `?occupancy=1`: every topic of the stream also gets its viewer count (`event: occupancy`). */
  occupancy: boolean;
}

/** What `?occupancy=` may say: on or off (a Map: a name like `constructor` is not a value). */
const occupancyValues: ReadonlyMap<string, boolean> = new Map([
  ['1', true],
  ['true', true],
  ['0', false],
  ['false', false],
]);

/** `?occupancy=`: absent (off), or once, one of `occupancyValues`. */
function occupancyParam(params: URLSearchParams): boolean | HttpError {
  const values = params.getAll('occupancy');
  if (values.length === 0) return false;
  const value = values.length === 1 ? occupancyValues.get(values[0] as string) : undefined;
  if (value === undefined)
    return httpError(
      400,
      'bad-request',
      `occupancy must be given once, as 1 or 0 (true or false), got ${values.map((v) => JSON.stringify(v)).join(', ')}`,
    );
  return value;
}

/**
 * `GET /v1/stream?topic=a&topic=b[&lastEventId=..][&token=..][&occupancy=1]`; the `Last-Event-ID` header wins
 * over the query parameter (EventSource sets the header on its own reconnects). Either holds a
 * plain event id or a cursor text (core/cursor.ts; `isCursorText` tells them apart): a cursor text
 * is decoded, and its cursors of the requested topics are where the stream resumes; one that does
 * not decode is refused `400 bad-cursor`, naming what is wrong.
 */
export function parseStreamQuery(
  query: string,
  lastEventIdHeader: string,
  topicsMax: number,
): StreamRequest | HttpError {
  const params = new URLSearchParams(query);
  const topics = [...new Set(params.getAll('topic').flatMap((t) => t.split(',')))];
  const badTopics = topicsError(topics, topicsMax, 'name at least one topic: ?topic=T');
  if (badTopics !== null) return badTopics;
  const occupancy = occupancyParam(params);
  if (isHttpError(occupancy)) return occupancy;
  const fromHeader = lastEventIdHeader !== '';
  const lastEventIdText = fromHeader ? lastEventIdHeader : (params.get('lastEventId') ?? '');
  let lastEventId: EventId | null = null;
  if (isCursorText(lastEventIdText)) {
    const cursors = cursorsOf(lastEventIdText, topics, fromHeader ? 'Last-Event-ID' : 'lastEventId');
    if (isHttpError(cursors)) return cursors;
    return { topics, lastEventId: null, cursors, token: params.get('token'), occupancy };
  }
  if (lastEventIdText !== '') {
    const problem = eventIdError(lastEventIdText);
    if (problem !== null) return httpError(400, 'bad-id', `Last-Event-ID: ${problem}`);
    lastEventId = lastEventIdText;
  }
  return { topics, lastEventId, token: params.get('token'), occupancy };
}

/**
 * The cursors of a cursor text that belong to `topics` (a topic without one starts from now), or
 * `400 bad-cursor` naming what is wrong with the text and where it came from.
 */
function cursorsOf(text: string, topics: readonly Topic[] | null, where: string): TopicCursor[] | HttpError {
  const decoded = decodeCursors(text);
  if (!decoded.ok) return httpError(400, 'bad-cursor', `${where}: not a valid cursor: ${decoded.error}`);
  return topics === null
    ? decoded.cursors
    : decoded.cursors.filter((cursor) => topics.includes(cursor.topic));
}

/** The topics one request joins: at least one (else `missing`), at most `topicsMax`, each valid. */
function topicsError(topics: readonly unknown[], topicsMax: number, missing: string): HttpError | null {
  if (topics.length === 0) return httpError(400, 'missing-topic', missing);
  if (topics.length > topicsMax) {
    return httpError(400, 'too-many-topics', `a connection may join at most ${topicsMax} topics`);
  }
  for (const topic of topics) {
    const problem = topicError(topic);
    if (problem !== null) return httpError(400, 'bad-topic', problem);
  }
  return null;
}

/** What a WebSocket client may send. `occupancy`: the topics' viewer counts are wanted too. */
export type ClientMessage =
  | { type: 'subscribe'; topics: Topic[]; occupancy: boolean }
  | { type: 'unsubscribe'; topics: Topic[] }
  /** `lastEventId` null: the resume is by `cursors` only. */
  | {
      type: 'resume';
      topics: Topic[];
      lastEventId: EventId | null;
      cursors?: TopicCursor[];
      occupancy: boolean;
    }
  | { type: 'publish'; topic: Topic; payload: JsonValue; token: string | null }
  /** A fresh subscribe token, before the current one expires. */
  | { type: 'refresh'; token: string }
  | { type: 'ping' };

/**
 * `{"type":"subscribe","topic":"likes"}` (or `"topics": [...]`; `"occupancy": true` for the
 * topics' viewer counts too), `unsubscribe` alike,
 * `{"type":"resume","topics":[...],"lastEventId":"..."}` or (reliable mode) `"cursor":"<cursor text>"`
 * instead of (or beside) `lastEventId` — topics may then be left out: the cursor's are resumed —,
 * `{"type":"publish","topic":..,"payload":<JSON>}`,
 * `{"type":"refresh","token":"<JWT>"}`, `{"type":"ping"}`. A publish carries `"token"` when the
 * server requires a publish token.
 */
export function parseClientMessage(text: string, topicsMax: number): ClientMessage | HttpError {
  const value = parseJson(text);
  if (isHttpError(value)) return value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return httpError(400, 'bad-request', 'a message must be a JSON object with a "type"');
  }
  const message = value as Record<string, unknown>;
  const topicsOf = (): Topic[] | HttpError => {
    const list: unknown[] =
      message.topics !== undefined
        ? Array.isArray(message.topics)
          ? message.topics
          : [message.topics]
        : [message.topic];
    return topicsError(list, topicsMax, 'name at least one topic') ?? (list as Topic[]);
  };
  const occupancy = occupancyField(message.occupancy);
  switch (message.type) {
    case 'subscribe': {
      const topics = topicsOf();
      if (isHttpError(topics)) return topics;
      return isHttpError(occupancy) ? occupancy : { type: 'subscribe', topics, occupancy };
    }
    case 'unsubscribe': {
      const topics = topicsOf();
      return isHttpError(topics) ? topics : { type: message.type, topics };
    }
    case 'resume': {
      if (isHttpError(occupancy)) return occupancy;
      // A cursor text in `cursor`, or where an event id would be (as SSE's Last-Event-ID carries it).
      const cursorField = message.cursor !== undefined ? 'cursor' : 'lastEventId';
      const cursorText = message[cursorField];
      if (message.cursor !== undefined || (typeof cursorText === 'string' && isCursorText(cursorText))) {
        if (typeof cursorText !== 'string' || !isCursorText(cursorText))
          return httpError(400, 'bad-cursor', 'cursor must be a cursor text ("c1 @dc,epoch topic,seq,id $")');
        const all = cursorsOf(cursorText, null, cursorField);
        if (isHttpError(all)) return all;
        const named = message.topics !== undefined || message.topic !== undefined;
        const topics = named
          ? topicsOf()
          : (topicsError(
              all.map((c) => c.topic),
              topicsMax,
              'name at least one topic',
            ) ?? all.map((c) => c.topic));
        if (isHttpError(topics)) return topics;
        const cursors = all.filter((cursor) => topics.includes(cursor.topic));
        let lastEventId: EventId | null = null;
        if (cursorField === 'cursor' && message.lastEventId !== undefined) {
          const problem = eventIdError(message.lastEventId);
          if (problem !== null) return httpError(400, 'bad-id', problem);
          lastEventId = message.lastEventId as EventId;
        }
        return { type: 'resume', topics, lastEventId, cursors, occupancy };
      }
      const topics = topicsOf();
      if (isHttpError(topics)) return topics;
      const problem = eventIdError(message.lastEventId);
      if (problem !== null) return httpError(400, 'bad-id', problem);
      return { type: 'resume', topics, lastEventId: message.lastEventId as EventId, occupancy };
    }
    case 'publish': {
      const problem = topicError(message.topic);
      if (problem !== null) return httpError(400, 'bad-topic', problem);
      if (message.payload === undefined) return missingPayload;
      const token = typeof message.token === 'string' ? message.token : null;
      return { type: 'publish', topic: message.topic as Topic, payload: message.payload as JsonValue, token };
    }
    case 'refresh':
      if (typeof message.token !== 'string' || message.token === '')
        return httpError(400, 'bad-request', 'refresh needs "token": a fresh subscribe token');
      return { type: 'refresh', token: message.token };
    case 'ping':
      return { type: 'ping' };
    default:
      return httpError(
        400,
        'unknown-type',
        `unknown message type ${JSON.stringify(message.type)}; use subscribe, unsubscribe, resume, publish, refresh or ping`,
      );
  }
}

/** A WebSocket `subscribe`'s or `resume`'s `occupancy`: true, false, or absent (false). */
function occupancyField(value: unknown): boolean | HttpError {
  if (value === undefined || typeof value === 'boolean') return value === true;
  return httpError(400, 'bad-request', `occupancy must be true or false, got ${JSON.stringify(value)}`);
}

export function publishErrorStatus(code: PublishErrorCode): number {
  switch (code) {
    case 'bad-topic':
    case 'bad-id':
    case 'bad-payload':
      return 400;
    case 'payload-too-large':
      return 413;
    case 'store-unavailable':
    case 'overloaded':
      return 503;
  }
}

/** `Authorization: Bearer T` -> `T`, or null. */
export function bearerToken(header: string): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match === null ? null : (match[1] as string);
}

/** The body of `POST /internal/message`: `{source, message}`, shape-checked field by field. */
/**
 * A node message's envelope: `{source, message}`, and in chaos runs `trace`, the source recorder's
 * tag for it (any JSON value; the body limit bounds it).
 */
export function parseInternalMessage(
  body: string,
): { source: NodeId; message: Message; trace?: unknown } | HttpError {
  const value = parseJson(body);
  if (isHttpError(value)) return value;
  const bad = (why: string): HttpError => httpError(400, 'bad-message', why);
  if (!isRecord(value)) return bad('body must be {"source": ..., "message": ...}');
  if (typeof value.source !== 'string' || value.source === '') return bad('source must be a node id');
  const m = value.message;
  if (!isRecord(m) || typeof m.type !== 'string') return bad('message must be an object with a type');
  const message = messageShape(m);
  if (message === null) return bad(`malformed ${m.type} message`);
  return value.trace === undefined
    ? { source: value.source, message }
    : { source: value.source, message, trace: value.trace };
}

function messageShape(m: Record<string, unknown>): Message | null {
  const int = (v: unknown): v is number => Number.isSafeInteger(v);
  const str = (v: unknown): v is string => typeof v === 'string';
  switch (m.type) {
    case 'publish':
      // The dispatcher checks the payload itself, as it does every publish's.
      return int(m.requestId) && str(m.topic) && m.payload !== undefined && (m.id === undefined || str(m.id))
        ? (m as Message)
        : null;
    case 'publish-reply':
      return int(m.requestId) && isPublishResult(m.result) ? (m as Message) : null;
    case 'subscribe':
      return int(m.requestId) &&
        str(m.frontend) &&
        str(m.topic) &&
        int(m.leaseMs) &&
        int(m.generation) &&
        (m.count === undefined || count(m.count))
        ? (m as Message)
        : null;
    case 'renew':
      return int(m.requestId) &&
        str(m.frontend) &&
        Array.isArray(m.topics) &&
        m.topics.every(str) &&
        int(m.leaseMs) &&
        int(m.generation) &&
        (m.counts === undefined ||
          (Array.isArray(m.counts) && m.counts.length === m.topics.length && m.counts.every(count)))
        ? (m as Message)
        : null;
    case 'unsubscribe':
      return int(m.requestId) && str(m.frontend) && str(m.topic) && int(m.generation) ? (m as Message) : null;
    case 'lease-reply':
      return int(m.requestId) &&
        typeof m.ok === 'boolean' &&
        (m.error === undefined || str(m.error)) &&
        (m.epoch === undefined || int(m.epoch)) &&
        (m.regranted === undefined || (Array.isArray(m.regranted) && m.regranted.every(str))) &&
        (m.heads === undefined || (Array.isArray(m.heads) && m.heads.every(isTopicHead))) &&
        (m.occupancy === undefined || (Array.isArray(m.occupancy) && m.occupancy.every(isOccupancy)))
        ? (m as Message)
        : null;
    case 'store-reset':
      return int(m.epoch) ? (m as Message) : null;
    case 'deliver':
      return isEvent(m.event) &&
        (m.position === undefined || isPosition(m.position)) &&
        (m.deliveryId === undefined || int(m.deliveryId))
        ? (m as Message)
        : null;
    case 'deliver-ack':
      return int(m.deliveryId) ? (m as Message) : null;
    case 'forward':
      return int(m.forwardId) && isEvent(m.event) ? (m as Message) : null;
    case 'forward-ack':
      return int(m.forwardId) ? (m as Message) : null;
    case 'history-read':
      return int(m.requestId) && str(m.topic) && isHistoryAfter(m.after) && count(m.limit)
        ? (m as Message)
        : null;
    case 'history-reply':
      return int(m.requestId) && isHistoryReply(m.reply) ? (m as Message) : null;
    case 'occupancy':
      return Array.isArray(m.totals) &&
        m.totals.length <= totalsPerMessageMax &&
        m.totals.every(isOccupancyTotal)
        ? (m as Message)
        : null;
    default:
      // store-request and store-reply never travel between production nodes.
      return null;
  }
}

function isOccupancy(value: unknown): boolean {
  return (
    isRecord(value) &&
    typeof value.topic === 'string' &&
    count(value.count) &&
    isRecord(value.byDc) &&
    Object.values(value.byDc).every(count) &&
    Array.isArray(value.stale) &&
    value.stale.every((dc) => typeof dc === 'string')
  );
}

function isOccupancyTotal(value: unknown): boolean {
  return (
    isRecord(value) &&
    typeof value.topic === 'string' &&
    count(value.count) &&
    Number.isSafeInteger(value.epoch) &&
    count(value.ageMs) &&
    count(value.validMs)
  );
}

/** A non-negative safe integer: a seq, an epoch, a count. */
function count(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isPosition(value: unknown): value is Position {
  return isRecord(value) && count(value.epoch) && count(value.seq);
}

function isTopicHead(value: unknown): boolean {
  return isRecord(value) && typeof value.topic === 'string' && count(value.seq);
}

function isHistoryAfter(value: unknown): boolean {
  return isRecord(value) && (count(value.seq) || isEventId(value.eventId));
}

function isHistoryReply(value: unknown): value is HistoryReply {
  if (!isRecord(value)) return false;
  if (value.ok === false) return typeof value.message === 'string';
  return (
    value.ok === true &&
    count(value.epoch) &&
    (value.afterSeq === null || count(value.afterSeq)) &&
    count(value.firstSeq) &&
    count(value.headSeq) &&
    Array.isArray(value.events) &&
    value.events.every((item) => isRecord(item) && count(item.seq) && isEvent(item.event))
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEvent(value: unknown): value is Event {
  return (
    isRecord(value) &&
    isEventId(value.id) &&
    typeof value.topic === 'string' &&
    typeof value.origin === 'string' &&
    Number.isFinite(value.publishedAtMs) &&
    value.payload !== undefined
  );
}

function isPublishResult(value: unknown): value is PublishResult {
  if (!isRecord(value)) return false;
  if (value.ok === true) {
    return (
      typeof value.eventId === 'string' &&
      (value.warning === undefined ||
        (isRecord(value.warning) &&
          (value.warning.code === 'store-rebuilding' ||
            value.warning.code === 'frontend-lapsed' ||
            value.warning.code === 'forward-pending') &&
          typeof value.warning.message === 'string')) &&
      (value.position === undefined || isPosition(value.position))
    );
  }
  return value.ok === false && typeof value.code === 'string' && typeof value.message === 'string';
}
