// Goal: the measurement viewers read SSE and WebSocket exactly, so a miss they report is a real miss.
// Method: feed the parsers split, CRLF, fragmented and control input; then stream from a real
// frontend (`startServer`, memory store) and see an SSE and a WebSocket viewer receive, and notice a drop.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveConfigFrom } from './config.ts';
import { clientFrame, FrameReader, SseParser, sseViewer, wsViewer } from './raw-viewers.ts';
import type { RawViewer } from './raw-viewers.ts';
import { startServer } from './server.ts';
import type { RunningServer } from './server.ts';
import { waitFor } from './wait-for.ts';

describe('SSE parser', () => {
  it('dispatches events by type across chunk boundaries and line endings, skipping comments and retry', () => {
    const seen: [string, string][] = [];
    const parser = new SseParser((type, data) => seen.push([type, data]));
    for (const chunk of [
      'retry: 2000\n\n: connected\n\nid: 1\nda',
      'ta: {"a":1}\r\n\r',
      '\nevent: notice\ndata:x\ndata: y\n\n',
    ])
      parser.push(chunk);
    expect(seen).toEqual([
      ['message', '{"a":1}'],
      ['notice', 'x\ny'],
    ]);
  });

  it('keeps the last event id as EventSource does: set by id lines, kept across events naming none', () => {
    const seen: [string, string][] = [];
    const parser = new SseParser((_type, data, lastEventId) => seen.push([data, lastEventId]));
    parser.push(
      'data: a\n\nid: c1 @dc-a,1 t,1 $\ndata: b\n\ndata: c\n\nid: x\0y\ndata: d\n\nid\ndata: e\n\n',
    );
    expect(seen).toEqual([
      ['a', ''],
      ['b', 'c1 @dc-a,1 t,1 $'],
      ['c', 'c1 @dc-a,1 t,1 $'],
      ['d', 'c1 @dc-a,1 t,1 $'],
      ['e', ''],
    ]);
  });
});

describe('WebSocket frame reader', () => {
  const serverFrame = (opcode: number, payload: Buffer, fin = true): Buffer => {
    const header =
      payload.length < 126
        ? Buffer.from([(fin ? 0x80 : 0) | opcode, payload.length])
        : Buffer.from([(fin ? 0x80 : 0) | opcode, 126, payload.length >> 8, payload.length & 0xff]);
    return Buffer.concat([header, payload]);
  };

  it('reassembles fragmented and split frames, and passes control frames through', () => {
    const seen: [number, string][] = [];
    const reader = new FrameReader((opcode, payload) => seen.push([opcode, payload.toString()]));
    const long = 'x'.repeat(300);
    const bytes = Buffer.concat([
      serverFrame(1, Buffer.from('hel'), false),
      serverFrame(9, Buffer.from('ping')),
      serverFrame(0, Buffer.from('lo')),
      serverFrame(1, Buffer.from(long)),
    ]);
    for (let i = 0; i < bytes.length; i += 7) reader.push(bytes.subarray(i, i + 7));
    expect(seen).toEqual([
      [9, 'ping'],
      [1, 'hello'],
      [1, long],
    ]);
  });

  it('refuses a masked server frame', () => {
    const reader = new FrameReader(() => {});
    expect(() => reader.push(clientFrame(1, Buffer.from('hi')))).toThrow(/masked/);
  });
});

describe('raw viewers against a real frontend', () => {
  let server: RunningServer;
  const viewers: RawViewer[] = [];

  beforeAll(async () => {
    const parsed = serveConfigFrom({ port: '0', logLevel: 'silent', shutdownGraceMs: '200' }, {});
    if (!parsed.ok) throw new Error(parsed.error);
    server = await startServer(parsed.config);
  });
  afterAll(async () => {
    for (const viewer of viewers) viewer.close();
    await server.close();
  });

  it('an SSE and a WebSocket viewer receive a publish once, and a server shutdown shows as a drop', async () => {
    viewers.push(await sseViewer('sse', server.url, 'likes'), await wsViewer('ws', server.url, 'likes'));
    await waitFor(async () => {
      const response = await fetch(`${server.url}/v1/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ topic: 'likes', payload: 'héllo', id: 'raw-1' }),
      });
      await response.arrayBuffer();
      return viewers.every((v) => v.received.has('raw-1'));
    }, 'both viewers to receive raw-1');
    for (const viewer of viewers) {
      expect(viewer.received.get('raw-1')?.payload, viewer.name).toBe('héllo');
      expect(viewer.duplicates, viewer.name).toEqual([]);
      expect(viewer.dropped(), viewer.name).toBeNull();
    }
    await server.close();
    await waitFor(() => viewers.every((v) => v.dropped() !== null), 'both viewers to notice the drop');
  });
});
