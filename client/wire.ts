/**
 * What the client reads off the wire, transport aside (the contract is /work/notes/wire-reliable.md,
 * summed up in the README's API section): SSE frames and WebSocket messages both become `Frame`s.
 *
 * - An event: `{id, topic, payload, publishedAtMs, origin, position?}` (SSE `event: message`,
 *   WebSocket `type: "event"`); `position` ({dc, epoch, seq}) only from a reliable server.
 * - A subscription took effect: WebSocket `type: "subscribed"`, SSE `event: subscribed` (reliable
 *   only), with the position the viewer joined at when the server is reliable.
 * - A notice (SSE `event: notice`, WebSocket `type: "notice"`): `gap`, `token-expired` and the others.
 * - An error about one message (WebSocket `type: "error"`, with the HTTP-like status and code).
 * - A topic's viewer count, to a connection that asked (SSE `event: occupancy`, WebSocket
 *   `type: "occupancy"`): `{topic, count, byDc, stale}`.
 *
 * Anything else (pongs, `refreshed`, SSE comments and `retry:` hints, unknown types a newer server
 * may send) is ignored, so an older client keeps working against a newer server. A frame that does
 * not parse, or an event without its fields, is reported as `malformed` rather than thrown.
 */

/** Where an event stands in its datacenter's history of its topic (reliable servers only). */
export interface EventPosition {
  dc: string;
  epoch: number;
  seq: number;
}

/** The events a connection will never receive (reliable servers), as the server's `gap` notice says. */
export interface GapNotice {
  topic: string;
  epoch: number;
  /** The first seq missed, */
  fromSeq: number;
  /** and the last (null: every seq of that epoch from `fromSeq` on). */
  toSeq: number | null;
  why: 'trimmed' | 'epoch' | 'unknown-cursor' | 'duplicate';
  /** `duplicate`: the event the seq holds again. */
  eventId?: string;
  /** The server's words. */
  message: string;
}

export interface WireEvent {
  id: string;
  topic: string;
  payload: unknown;
  publishedAtMs: number;
  origin: string;
  position?: EventPosition;
}

export interface WireNotice {
  code: string;
  message: string;
  topic?: string;
  gap?: Omit<GapNotice, 'message'>;
}

/**
 * How many connections watch a topic: `count` in all, `byDc` per datacenter, and `stale` the
 * datacenters the server could not hear from lately, whose share is their last known one.
 */
export interface Occupancy {
  topic: string;
  count: number;
  byDc: Record<string, number>;
  stale: string[];
}

export type Frame =
  | { kind: 'event'; event: WireEvent }
  | { kind: 'occupancy'; occupancy: Occupancy }
  | { kind: 'subscribed'; topic: string; position?: EventPosition }
  | { kind: 'notice'; notice: WireNotice }
  | { kind: 'error'; status: number; code: string; message: string }
  | { kind: 'malformed'; why: string }
  | { kind: 'ignored' };

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isWhole = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

function positionOf(value: unknown): EventPosition | undefined | null {
  if (value === undefined) return undefined;
  if (!isRecord(value) || typeof value.dc !== 'string' || !isWhole(value.epoch) || !isWhole(value.seq))
    return null;
  return { dc: value.dc, epoch: value.epoch, seq: value.seq };
}

function eventOf(body: Record<string, unknown>): Frame {
  const { id, topic, publishedAtMs, origin } = body;
  if (typeof id !== 'string' || typeof topic !== 'string' || !('payload' in body))
    return { kind: 'malformed', why: 'an event without id, topic or payload' };
  const position = positionOf(body.position);
  if (position === null)
    return { kind: 'malformed', why: `event ${id}: a position must be {dc, epoch, seq}` };
  const event: WireEvent = {
    id,
    topic,
    payload: body.payload,
    publishedAtMs: typeof publishedAtMs === 'number' ? publishedAtMs : 0,
    origin: typeof origin === 'string' ? origin : '',
  };
  if (position !== undefined) event.position = position;
  return { kind: 'event', event };
}

function subscribedOf(body: Record<string, unknown>): Frame {
  if (typeof body.topic !== 'string')
    return { kind: 'malformed', why: 'a subscribed message without a topic' };
  const position = positionOf(body.position);
  if (position === null) return { kind: 'malformed', why: `subscribed ${body.topic}: a bad position` };
  return position === undefined
    ? { kind: 'subscribed', topic: body.topic }
    : { kind: 'subscribed', topic: body.topic, position };
}

function noticeOf(body: Record<string, unknown>): Frame {
  if (typeof body.code !== 'string') return { kind: 'malformed', why: 'a notice without a code' };
  const notice: WireNotice = {
    code: body.code,
    message: typeof body.message === 'string' ? body.message : body.code,
  };
  if (typeof body.topic === 'string') notice.topic = body.topic;
  const gap = body.gap;
  if (body.code === 'gap') {
    if (
      !isRecord(gap) ||
      typeof gap.topic !== 'string' ||
      !isWhole(gap.epoch) ||
      !isWhole(gap.fromSeq) ||
      !(gap.toSeq === null || gap.toSeq === undefined || isWhole(gap.toSeq))
    )
      return { kind: 'malformed', why: 'a gap notice without its gap {topic, epoch, fromSeq, toSeq}' };
    notice.gap = {
      topic: gap.topic,
      epoch: gap.epoch,
      fromSeq: gap.fromSeq,
      toSeq: (gap.toSeq ?? null) as number | null,
      why: (typeof gap.why === 'string' ? gap.why : 'unknown-cursor') as GapNotice['why'],
    };
    if (typeof gap.eventId === 'string') notice.gap.eventId = gap.eventId;
  }
  return { kind: 'notice', notice };
}

function occupancyOf(body: Record<string, unknown>): Frame {
  const { topic, count, byDc, stale } = body;
  if (
    typeof topic !== 'string' ||
    !isWhole(count) ||
    !isRecord(byDc) ||
    !Object.values(byDc).every(isWhole) ||
    !Array.isArray(stale) ||
    !stale.every((dc) => typeof dc === 'string')
  )
    return { kind: 'malformed', why: 'a viewer count without its topic, count, byDc or stale' };
  return { kind: 'occupancy', occupancy: { topic, count, byDc: byDc as Record<string, number>, stale } };
}

function parseJson(text: string): Record<string, unknown> | string {
  try {
    const value: unknown = JSON.parse(text);
    return isRecord(value) ? value : 'not a JSON object';
  } catch {
    return 'not JSON';
  }
}

/** The SSE event types the client reads, and how; any other is ignored. */
const sseFrameTypes: ReadonlyMap<string, (body: Record<string, unknown>) => Frame> = new Map([
  ['message', eventOf],
  ['subscribed', subscribedOf],
  ['notice', noticeOf],
  ['occupancy', occupancyOf],
]);

/** One SSE frame (its `event:` type and its `data:`). */
export function sseFrame(type: string, data: string): Frame {
  const of = sseFrameTypes.get(type);
  if (of === undefined) return { kind: 'ignored' };
  const body = parseJson(data);
  if (typeof body === 'string') return { kind: 'malformed', why: `SSE ${type}: ${body}` };
  return of(body);
}

/** One WebSocket message. */
export function wsFrame(data: string): Frame {
  const body = parseJson(data);
  if (typeof body === 'string') return { kind: 'malformed', why: `WebSocket message: ${body}` };
  switch (body.type) {
    case 'event':
      return eventOf(body);
    case 'subscribed':
      return subscribedOf(body);
    case 'notice':
      return noticeOf(body);
    case 'occupancy':
      return occupancyOf(body);
    case 'error':
      return {
        kind: 'error',
        status: typeof body.status === 'number' ? body.status : 0,
        code: typeof body.code === 'string' ? body.code : 'error',
        message: typeof body.error === 'string' ? body.error : String(body.code),
      };
    default:
      return { kind: 'ignored' };
  }
}

/**
 * An incremental reader of a Server-Sent Events stream (the WHATWG HTML "event stream" rules, as
 * far as this server's frames need: `event:`, `data:` (joined by LF), `id:`, comments; CR, LF and
 * CRLF line ends; a frame ends at a blank line). Feed it text as it arrives.
 */
export class SseReader {
  private buffered = '';
  private type = '';
  private data: string[] = [];

  constructor(private readonly onFrame: (type: string, data: string, id: string | null) => void) {}

  private id: string | null = null;

  feed(text: string): void {
    this.buffered += text;
    for (;;) {
      const end = this.buffered.search(/\r\n|\r|\n/);
      // A lone CR at the end may be the first half of a CRLF still on its way.
      if (end < 0 || (end === this.buffered.length - 1 && this.buffered[end] === '\r')) return;
      const line = this.buffered.slice(0, end);
      this.buffered = this.buffered.slice(end + (this.buffered.startsWith('\r\n', end) ? 2 : 1));
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0) this.onFrame(this.type || 'message', this.data.join('\n'), this.id);
      this.type = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.id = value;
  }
}
