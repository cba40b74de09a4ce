/**
 * What clients see on the wire: Server-Sent Events frames and WebSocket JSON messages (the contract
 * with client libraries: /work/notes/wire-reliable.md, summed up in the README's "Delivery modes").
 * Each event is formatted once per fan-out, not once per connection.
 *
 * SSE: `id:` carries what EventSource sends back as `Last-Event-ID`; `data:` is one line of JSON
 * (JSON.stringify never emits a raw newline). WebSocket: one JSON object per message, `type` first.
 *
 * Best-effort: the `id:` is the event id, the same for every viewer, so a whole SSE frame is made
 * once per fan-out. Reliable: events carry their `position` ({dc, epoch, seq}: the same for every
 * viewer), and an SSE `id:` is the connection's own cursor text after the event (core/cursor.ts),
 * so the frame's `event:`/`data:` part is made once per fan-out and only its `id:` line once per
 * connection. A reliable SSE stream also hears `event: subscribed` (with its cursor as `id:`) when
 * a topic joins, as a WebSocket hears `{"type":"subscribed"}`.
 *
 * Viewer counts (to connections that asked): SSE `event: occupancy` with `data:
 * {"topic","count","byDc","stale"}` and no `id:` line, so the stream's Last-Event-ID stays the last
 * event's; WebSocket `{"type":"occupancy","topic","count","byDc","stale"}`. Both made once per
 * update, not once per connection.
 */
import type { DcId, Event, JsonValue, Notice, Occupancy, Position } from '../core/index.ts';

/** Where an event stands in its datacenter's history of its topic (reliable mode). */
export interface WirePosition {
  dc: DcId;
  epoch: number;
  seq: number;
}

export function wirePosition(dc: DcId, position: Position): WirePosition {
  return { dc, epoch: position.epoch, seq: position.seq };
}

/** The event as clients receive it, SSE `data:` and WebSocket alike. */
export interface EventBody {
  id: string;
  topic: string;
  /** The published JSON value itself, embedded in the event's JSON (a string stays a string). */
  payload: JsonValue;
  publishedAtMs: number;
  origin: string;
  /** Reliable mode only. */
  position?: WirePosition;
}

function eventBody(event: Event, position?: WirePosition): EventBody {
  const body: EventBody = {
    id: event.id,
    topic: event.topic,
    payload: event.payload,
    publishedAtMs: event.publishedAtMs,
    origin: event.origin,
  };
  if (position !== undefined) body.position = position;
  return body;
}

/** Best-effort: the whole frame, its `id:` the event id. */
export function sseEvent(event: Event): string {
  return `id: ${event.id}\nevent: message\ndata: ${JSON.stringify(eventBody(event))}\n\n`;
}

/** Reliable: the frame after its `id:` line (`sseIdLine`), the same for every viewer. */
export function sseEventTail(event: Event, position: WirePosition): string {
  return `event: message\ndata: ${JSON.stringify(eventBody(event, position))}\n\n`;
}

/** Reliable: a connection's `id:` line, its cursor text; none when it has no cursor (nothing to resume). */
export function sseIdLine(cursorText: string | null): string {
  return cursorText === null ? '' : `id: ${cursorText}\n`;
}

/** Reliable: a topic joined at `position`; `id:` is the connection's cursor text then. */
export function sseSubscribed(cursorText: string | null, topic: string, position: WirePosition): string {
  return `${sseIdLine(cursorText)}event: subscribed\ndata: ${JSON.stringify({ topic, position })}\n\n`;
}

export function sseNotice(notice: Notice): string {
  return `event: notice\ndata: ${JSON.stringify(notice)}\n\n`;
}

export function sseRetry(retryMs: number): string {
  return `retry: ${retryMs}\n\n`;
}

/** A comment line: EventSource ignores it; proxies see traffic and keep the stream open. */
export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

/** `position`: reliable mode only. */
export function wsEvent(event: Event, position?: WirePosition): string {
  return JSON.stringify({ type: 'event', ...eventBody(event, position) });
}

export function wsNotice(notice: Notice): string {
  return JSON.stringify({ type: 'notice', ...notice });
}

/** An error about one client message; the connection stays open. `status` mirrors the HTTP status. */
export function wsError(status: number, code: string, message: string): string {
  return JSON.stringify({ type: 'error', status, code, error: message });
}

/** `position`: reliable mode only. */
export function wsSubscribed(topic: string, position?: WirePosition): string {
  return JSON.stringify(
    position === undefined ? { type: 'subscribed', topic } : { type: 'subscribed', topic, position },
  );
}

/** The viewer count of a topic as clients receive it, SSE `data:` and WebSocket alike. */
function occupancyBody({ topic, count, byDc, stale }: Occupancy): Occupancy {
  return { topic, count, byDc, stale };
}

/** No `id:`: a count is not an event, and must not move where EventSource resumes from. */
export function sseOccupancy(occupancy: Occupancy): string {
  return `event: occupancy\ndata: ${JSON.stringify(occupancyBody(occupancy))}\n\n`;
}

export function wsOccupancy(occupancy: Occupancy): string {
  return JSON.stringify({ type: 'occupancy', ...occupancyBody(occupancy) });
}
