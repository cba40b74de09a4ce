// Goal: in reliable mode the frontend's transports keep the core's order per connection: a
// WebSocket told `subscribed` while it still catches up gets no live frame before its catch-up (it
// enters uWebSockets.js' pub/sub only at the first whole-topic fan-out that lists it), and every
// SSE connection's `id:` is its own cursor text while the rest of the frame is shared.
// Method: Clients over fake uWebSockets.js objects that log every write, publish and subscription
// change into one list; the order in that list is what the sockets would see.
import { describe, expect, it } from 'vitest';
import type { HttpResponse, WebSocket } from 'uWebSockets.js';
import { decodeCursors } from '../core/index.ts';
import type { Event, Position } from '../core/index.ts';
import { Clients } from './clients.ts';
import type { WsData } from './clients.ts';
import { createLogger } from './log.ts';
import { createMetrics } from './metrics.ts';

const nextIteration = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function event(id: string, topic = 'live'): Event {
  return { id, topic, payload: id, publishedAtMs: 1, origin: 'dc-a' };
}

const at = (seq: number): Position => ({ epoch: 7, seq });

function setup(): {
  clients: Clients;
  log: string[];
  ws: (id: string) => void;
  sse: (id: string) => { chunks: string[] };
} {
  const log: string[] = [];
  const metrics = createMetrics(
    {
      connections: () => ({ sse: 0, ws: 0 }),
      subscriptions: () => 0,
      topics: () => 0,
      storeUp: () => null,
      coreCounters: () => [],
      topicOccupancy: () => [],
    },
    {},
  );
  const clients = new Clients(
    { slowClientPolicy: 'close', slowClientBytes: 1 << 20, sseRetryMs: 1_000, mode: 'reliable', dc: 'dc-a' },
    metrics,
    createLogger('silent'),
    () => {},
    {
      publish: (topic, frame) => log.push(`publish ${topic} ${JSON.parse(frame).id as string}`),
      subscribers: () => 0,
    },
  );
  const ws = (id: string): void => {
    const fake = {
      getUserData: () => ({ id, grant: null }),
      subscribe: (topic: string) => log.push(`${id} subscribe ${topic}`),
      unsubscribe: (topic: string) => log.push(`${id} unsubscribe ${topic}`),
      getBufferedAmount: () => 0,
      cork: (f: () => void) => f(),
      send: (text: string) => {
        const m = JSON.parse(text) as Record<string, unknown>;
        log.push(`${id} send ${String(m.type)} ${String(m.id ?? m.topic)}`);
        return 1;
      },
    };
    clients.openWs(fake as unknown as WebSocket<WsData>);
  };
  const sse = (id: string): { chunks: string[] } => {
    const written = { chunks: [] as string[] };
    const fake = {
      cork: (f: () => void) => f(),
      writeStatus: () => fake,
      writeHeader: () => fake,
      write: (chunk: string) => (written.chunks.push(chunk), true),
    };
    clients.openSse(id, fake as unknown as HttpResponse, [
      { topic: 'live', dc: 'dc-a', epoch: 7, seq: 1, lastEventId: 'e1' },
    ]);
    return written;
  };
  return { clients, log, ws, sse };
}

describe('Clients in reliable mode', () => {
  it('a WebSocket joined while catching up gets its catch-up first; it enters the pub/sub at its first live fan-out', async () => {
    const { clients, log, ws } = setup();
    ws('old');
    ws('new');
    clients.joined('old', 'live', at(0));
    clients.deliver(['old'], event('e1'), true, at(1));
    // `new` resumes from seq 0: joined at once, caught up (a read) while e2 goes live without it.
    clients.joined('new', 'live', at(0));
    clients.deliver(['old'], event('e2'), true, at(2));
    clients.deliver(['new'], event('e1'), false, at(1));
    clients.deliver(['new'], event('e2'), false, at(2));
    clients.deliver(['old', 'new'], event('e3'), true, at(3));
    await nextIteration();
    expect(log).toEqual([
      'old send subscribed live',
      'old subscribe live',
      // Every direct write goes after the live frames queued before it (which `new` does not get).
      'publish live e1',
      'new send subscribed live',
      'publish live e2',
      'new send event e1',
      'new send event e2',
      'new subscribe live',
      'publish live e3',
    ]);
    clients.left('new', 'live');
    expect(log.at(-1)).toBe('new unsubscribe live');
  });

  it('SSE ids are each connection cursor text after the event; the rest of the frame is the same for all', async () => {
    const { clients, sse } = setup();
    const resumed = sse('resumed');
    const fresh = sse('fresh');
    // Not a resume of its own: `fresh` was opened with the same resume cursor only to keep setup
    // small; what counts is that `joined` answers the resume (kept) the first time only.
    clients.joined('resumed', 'live', at(0));
    clients.left('fresh', 'live');
    clients.joined('fresh', 'live', at(3));
    clients.deliver(['resumed', 'fresh'], event('e4'), true, at(4));
    await nextIteration();
    const ids = (chunks: string[]): string[] =>
      [...chunks.join('').matchAll(/^id: (.*)$/gm)].map((m) => m[1]!);
    const seqs = (text: string): unknown => {
      const decoded = decodeCursors(text);
      return decoded.ok ? decoded.cursors.map((c) => [c.seq, c.lastEventId]) : decoded.error;
    };
    // The resumed one's `subscribed` keeps the cursor it resumed from (seq 1, e1), not seq 0.
    expect(ids(resumed.chunks).map(seqs)).toEqual([[[1, 'e1']], [[4, 'e4']]]);
    expect(ids(fresh.chunks).map(seqs)).toEqual([[[3, undefined]], [[4, 'e4']]]);
    const tail = (chunks: string[]): string => chunks.join('').split('event: message')[1]!;
    expect(tail(resumed.chunks)).toBe(tail(fresh.chunks));
  });
});
