// Goal: clients get EventSource-compatible frames and one-line JSON messages, whatever the payload
// holds. Method: format events with awkward payloads and parse them back the way a client would.
import { describe, expect, it } from 'vitest';
import type { Event } from '../core/index.ts';
import type { Occupancy } from '../core/index.ts';
import {
  sseComment,
  sseEvent,
  sseNotice,
  sseOccupancy,
  sseRetry,
  wsError,
  wsEvent,
  wsNotice,
  wsOccupancy,
} from './wire.ts';

const occupancy: Occupancy = {
  topic: 'likes',
  count: 12_345,
  byDc: { 'dc-a': 9_000, 'dc-b': 3_345 },
  stale: ['dc-b'],
};

const event: Event = {
  id: 'dc-a.abc-7',
  topic: 'likes',
  origin: 'dc-a',
  publishedAtMs: 1_700_000_000_000,
  payload: 'two\nlines\r\nand "quotes" \u2764',
};

/** Parse one SSE frame the way EventSource does: field lines until a blank line. */
function parseFrame(frame: string): Record<string, string> {
  expect(frame.endsWith('\n\n')).toBe(true);
  const fields: Record<string, string> = {};
  for (const line of frame.slice(0, -2).split('\n')) {
    const colon = line.indexOf(':');
    fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, '');
  }
  return fields;
}

describe('SSE frames', () => {
  it('an event carries its id, the message event type and the whole event as one data line', () => {
    const frame = sseEvent(event);
    expect(frame.split('\n')).toHaveLength(5);
    const fields = parseFrame(frame);
    expect(fields.id).toBe(event.id);
    expect(fields.event).toBe('message');
    expect(JSON.parse(fields.data!)).toEqual({
      id: event.id,
      topic: 'likes',
      payload: event.payload,
      publishedAtMs: event.publishedAtMs,
      origin: 'dc-a',
    });
  });

  it('notices are their own event type; retry and comments are single lines', () => {
    const fields = parseFrame(sseNotice({ code: 'history-unavailable', message: 'gone', eventId: 'x' }));
    expect(fields.event).toBe('notice');
    expect(JSON.parse(fields.data!)).toEqual({ code: 'history-unavailable', message: 'gone', eventId: 'x' });
    expect(sseRetry(2000)).toBe('retry: 2000\n\n');
    expect(sseComment('a\nb')).toBe(': a b\n\n');
  });
});

describe('viewer counts', () => {
  it('SSE: event occupancy with the count as one data line and no id, so Last-Event-ID stays put', () => {
    const frame = sseOccupancy(occupancy);
    expect(frame).toBe(
      'event: occupancy\ndata: {"topic":"likes","count":12345,"byDc":{"dc-a":9000,"dc-b":3345},"stale":["dc-b"]}\n\n',
    );
    expect(parseFrame(frame)).not.toHaveProperty('id');
  });

  it('WebSocket: type occupancy, then the same fields', () => {
    expect(JSON.parse(wsOccupancy(occupancy))).toEqual({ type: 'occupancy', ...occupancy });
    expect(wsOccupancy(occupancy).startsWith('{"type":"occupancy",')).toBe(true);
  });
});

describe('WebSocket messages', () => {
  it('events, notices and errors are JSON objects tagged by type', () => {
    expect(JSON.parse(wsEvent(event))).toEqual({ type: 'event', ...event });
    expect(JSON.parse(wsNotice({ code: 'bad-topic', message: 'no', topic: 'x y' }))).toEqual({
      type: 'notice',
      code: 'bad-topic',
      message: 'no',
      topic: 'x y',
    });
    expect(JSON.parse(wsError(403, 'forbidden', 'not yours'))).toEqual({
      type: 'error',
      status: 403,
      code: 'forbidden',
      error: 'not yours',
    });
  });
});
