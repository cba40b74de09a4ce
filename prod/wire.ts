/**
 * What clients see on the wire: Server-Sent Events frames and WebSocket JSON messages. Each event
 * is formatted once per fan-out, not once per connection.
 *
 * SSE: `id:` carries the event id so EventSource sends it back as `Last-Event-ID`; `data:` is one
 * line of JSON (JSON.stringify never emits a raw newline). WebSocket: one JSON object per message,
 * `type` first.
 */
import type { Event, JsonValue, Notice } from '../core/index.ts';

/** The event as clients receive it, SSE `data:` and WebSocket alike. */
export interface EventBody {
  id: string;
  topic: string;
  /** The published JSON value itself, embedded in the event's JSON (a string stays a string). */
  payload: JsonValue;
  publishedAtMs: number;
  origin: string;
}

function eventBody(event: Event): EventBody {
  return {
    id: event.id,
    topic: event.topic,
    payload: event.payload,
    publishedAtMs: event.publishedAtMs,
    origin: event.origin,
  };
}

export function sseEvent(event: Event): string {
  return `id: ${event.id}\nevent: message\ndata: ${JSON.stringify(eventBody(event))}\n\n`;
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

export function wsEvent(event: Event): string {
  return JSON.stringify({ type: 'event', ...eventBody(event) });
}

export function wsNotice(notice: Notice): string {
  return JSON.stringify({ type: 'notice', ...notice });
}

/** An error about one client message; the connection stays open. `status` mirrors the HTTP status. */
export function wsError(status: number, code: string, message: string): string {
  return JSON.stringify({ type: 'error', status, code, error: message });
}

export function wsSubscribed(topic: string): string {
  return JSON.stringify({ type: 'subscribed', topic });
}
