// Goal: the raw load clients read HTTP/1.1 and Server-Sent Events correctly however the bytes are split.
// Method: feed the same stream whole and split at every offset; the events seen must not change.
import { describe, expect, it } from 'vitest';
import {
  ChunkedDecoder,
  parseResponseHead,
  ResponseReader,
  SseParser,
  stampOf,
  stampPayload,
} from './sse-parser.ts';
import type { SseEvent } from './sse-parser.ts';

function chunked(...parts: string[]): string {
  return parts.map((p) => `${p.length.toString(16)}\r\n${p}\r\n`).join('');
}

function eventsOf(pieces: string[]): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = new SseParser((e) => events.push(e));
  for (const piece of pieces) parser.push(piece);
  return events;
}

describe('parseResponseHead', () => {
  it('waits for the blank line, then reads the status and headers', () => {
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n')).toBeNull();
    const text = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A:  b \r\n\r\nrest';
    const head = parseResponseHead(text);
    expect(head).toEqual({
      status: 200,
      headers: { 'transfer-encoding': 'chunked', 'x-a': 'b' },
      length: text.indexOf('rest'),
    });
  });

  it('rejects what is not HTTP', () => {
    expect(() => parseResponseHead('SSH-2.0\r\n\r\n')).toThrow(/not an HTTP\/1.1 response/);
  });
});

describe('ChunkedDecoder', () => {
  const body = chunked('retry: 2000\n\n', 'id: 1\ndata: {"a":1}\n\n', 'x'.repeat(300)) + '0\r\n\r\n';
  const payload = 'retry: 2000\n\nid: 1\ndata: {"a":1}\n\n' + 'x'.repeat(300);

  it('decodes a body given whole', () => {
    const decoder = new ChunkedDecoder();
    expect(decoder.push(body)).toBe(payload);
    expect(decoder.ended).toBe(true);
  });

  it('decodes the same body split at every offset, and byte by byte', () => {
    for (let at = 0; at <= body.length; at++) {
      const decoder = new ChunkedDecoder();
      expect(decoder.push(body.slice(0, at)) + decoder.push(body.slice(at)), `split at ${at}`).toBe(payload);
    }
    const decoder = new ChunkedDecoder();
    expect([...body].map((c) => decoder.push(c)).join('')).toBe(payload);
  });

  it('reports a malformed size or framing', () => {
    expect(() => new ChunkedDecoder().push('zz\r\n')).toThrow(/bad chunk size/);
    expect(() => new ChunkedDecoder().push('2\r\nabXY')).toThrow(/missing CRLF/);
  });
});

describe('SseParser', () => {
  const stream =
    ': connected\n\nid: e1\nevent: message\ndata: {"n":1}\n\nevent: notice\ndata: a\ndata: b\n\ndata: last\r\n\r\n';
  const expected: SseEvent[] = [
    { id: 'e1', event: 'message', data: '{"n":1}' },
    { id: 'e1', event: 'notice', data: 'a\nb' },
    { id: 'e1', event: 'message', data: 'last' },
  ];

  it('reads events, ignores comments, joins data lines and keeps the last id', () => {
    expect(eventsOf([stream])).toEqual(expected);
  });

  it('gives the same events split at every offset', () => {
    for (let at = 0; at <= stream.length; at++) {
      expect(eventsOf([stream.slice(0, at), stream.slice(at)]), `split at ${at}`).toEqual(expected);
    }
  });

  it('treats CR, LF and CRLF alike, also when CRLF is split across pushes', () => {
    expect(eventsOf(['data: x\r', '\ndata: y\r', '\r'])).toEqual([
      { id: null, event: 'message', data: 'x\ny' },
    ]);
    expect(eventsOf(['data: x\rdata: y\r\r'])).toEqual([{ id: null, event: 'message', data: 'x\ny' }]);
  });

  it('does not dispatch an event without data', () => {
    expect(eventsOf(['retry: 2000\n\n: heartbeat\n\n'])).toEqual([]);
  });
});

describe('ResponseReader', () => {
  it('splits keep-alive responses by Content-Length however they arrive', () => {
    const wire =
      'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{"id":"a"}' +
      'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\nRetry-After: 1\r\n\r\n{}';
    for (let at = 0; at <= wire.length; at += 5) {
      const seen: [number, string][] = [];
      const reader = new ResponseReader((status, body) => seen.push([status, body]));
      reader.push(wire.slice(0, at));
      reader.push(wire.slice(at));
      expect(seen).toEqual([
        [200, '{"id":"a"}'],
        [503, '{}'],
      ]);
    }
  });

  it('refuses a response it cannot delimit', () => {
    const reader = new ResponseReader(() => {});
    expect(() => reader.push('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')).toThrow(
      /Content-Length/,
    );
  });
});

describe('stamps', () => {
  it('reads the publish time back from any frame that carries the payload', () => {
    const payload = stampPayload(1_763_700_000_123.5, 42);
    expect(payload).toBe('bench:1763700000123.500:42');
    expect(stampOf(`data: {"id":"x","payload":"${payload}","origin":"local"}`)).toBe(1_763_700_000_123.5);
    expect(stampOf(`42["event",{"payload":"${payload}"}]`)).toBe(1_763_700_000_123.5);
    expect(stampOf('{"type":"event","payload":"hello"}')).toBeNaN();
  });
});
