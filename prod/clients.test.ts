// Goal: the frontend's writes are batched per event-loop iteration without changing what each
// connection receives, or its order.
// Method: Clients over fake uWebSockets.js objects that log every write, publish and subscription
// change into one list; the order in that list is what the sockets would see.
import { describe, expect, it } from 'vitest';
import type { HttpResponse, WebSocket } from 'uWebSockets.js';
import type { Event, Occupancy } from '../core/index.ts';
import { Clients } from './clients.ts';
import type { WsData } from './clients.ts';
import { createLogger } from './log.ts';
import { createMetrics } from './metrics.ts';

const nextIteration = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function event(id: string, topic = 'live'): Event {
  return { id, topic, payload: id, publishedAtMs: 1, origin: 'dc-a' };
}

function setup(): { clients: Clients; log: string[]; ws: (id: string) => void; sse: (id: string) => void } {
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
  /** Each fake socket's pub/sub topics, as uWebSockets.js keeps them. */
  const subscribed = new Map<string, string[]>();
  const clients = new Clients(
    { slowClientPolicy: 'close', slowClientBytes: 1 << 20, sseRetryMs: 1_000 },
    metrics,
    createLogger('silent'),
    () => {},
    {
      publish: (topic, frame) => {
        const message = JSON.parse(frame) as Record<string, unknown>;
        log.push(`publish ${topic} ${String(message.id ?? message.count)}`);
      },
      subscribers: (topic) => [...subscribed.values()].filter((topics) => topics.includes(topic)).length,
    },
  );
  const ws = (id: string): void => {
    const topics: string[] = [];
    subscribed.set(id, topics);
    const fake = {
      getUserData: () => ({ id, grant: null }),
      getTopics: () => [...topics],
      subscribe: (topic: string) => (topics.push(topic), log.push(`${id} subscribe ${topic}`)),
      unsubscribe: (topic: string) => (
        topics.splice(topics.indexOf(topic), 1),
        log.push(`${id} unsubscribe ${topic}`)
      ),
      getBufferedAmount: () => 0,
      cork: (f: () => void) => f(),
      send: (text: string) => (log.push(`${id} send ${text}`), 1),
    };
    clients.openWs(fake as unknown as WebSocket<WsData>);
  };
  const sse = (id: string): void => {
    const fake = {
      cork: (f: () => void) => f(),
      writeStatus: () => fake,
      writeHeader: () => fake,
      write: (chunk: string) => {
        const ids = [...chunk.matchAll(/^id: (.*)$/gm)].map((m) => m[1]);
        if (ids.length > 0) log.push(`${id} write ${ids.join(',')}`);
        for (const [frame] of chunk.matchAll(/^event: occupancy\n.*$/gm))
          log.push(`${id} write ${frame.replace('\n', ' ')}`);
        return true;
      },
    };
    clients.openSse(id, fake as unknown as HttpResponse);
  };
  return { clients, log, ws, sse };
}

describe('Clients batches per event-loop iteration', () => {
  it('an iteration of events is one publish per event and one write per SSE stream, after the iteration', async () => {
    const { clients, log, ws, sse } = setup();
    ws('w1');
    sse('s1');
    clients.joined('w1', 'live');
    clients.deliver(['w1', 's1'], event('e1'), true);
    clients.deliver(['w1', 's1'], event('e2'), true);
    expect(log).toEqual(['w1 subscribe live', 'w1 send {"type":"subscribed","topic":"live"}']);
    await nextIteration();
    expect(log.slice(2)).toEqual(['publish live e1', 'publish live e2', 's1 write e1,e2']);
  });

  it('queued publishes are made before a topic change, so a resume replay and a live event never both arrive', async () => {
    const { clients, log, ws } = setup();
    ws('w1');
    ws('w2');
    clients.joined('w1', 'live');
    // e1 goes to the topic's viewers of the moment (w1); then w2 resumes: joined, then replayed e1.
    clients.deliver(['w1'], event('e1'), true);
    clients.joined('w2', 'live');
    clients.deliver(['w2'], event('e1'), false);
    await nextIteration();
    expect(log.filter((line) => !line.startsWith('w1 '))).toEqual([
      'publish live e1',
      'w2 subscribe live',
      'w2 send {"type":"subscribed","topic":"live"}',
      'w2 send {"type":"event","id":"e1","topic":"live","payload":"e1","publishedAtMs":1,"origin":"dc-a"}',
    ]);
  });

  it('a WebSocket that joins a topic after an event was fanned out does not get that event', async () => {
    const { clients, log, ws } = setup();
    ws('w1');
    ws('w2');
    clients.joined('w1', 'live');
    clients.deliver(['w1'], event('e1'), true);
    clients.joined('w2', 'live');
    await nextIteration();
    expect(log.slice(2)).toEqual([
      'publish live e1',
      'w2 subscribe live',
      'w2 send {"type":"subscribed","topic":"live"}',
    ]);
  });

  it('a WebSocket that leaves a topic still gets the events fanned out before it left', async () => {
    const { clients, log, ws } = setup();
    ws('w1');
    clients.joined('w1', 'live');
    clients.deliver(['w1'], event('e1'), true);
    clients.left('w1', 'live');
    await nextIteration();
    expect(log.slice(2)).toEqual(['publish live e1', 'w1 unsubscribe live']);
  });

  it('a direct write to a WebSocket comes after the live events queued before it', async () => {
    const { clients, log, ws } = setup();
    ws('w1');
    clients.joined('w1', 'live');
    clients.deliver(['w1'], event('e1'), true);
    clients.notice('w1', { code: 'published', message: 'published', topic: 'live', eventId: 'e1' });
    await nextIteration();
    expect(log.slice(2).map((line) => line.slice(0, 24))).toEqual([
      'publish live e1',
      'w1 send {"type":"notice"',
    ]);
  });
});

describe('Clients write viewer counts', () => {
  const counted = (count: number, topic = 'live'): Occupancy => ({
    topic,
    count,
    byDc: { 'dc-a': count },
    stale: [],
  });
  const wsFrame = (count: number): string =>
    `{"type":"occupancy","topic":"live","count":${count},"byDc":{"dc-a":${count}},"stale":[]}`;

  it("a watcher's first count is written to it, then it joins the channel; a count to the whole channel is one publish", async () => {
    const { clients, log, ws, sse } = setup();
    ws('w1');
    ws('w2');
    sse('s1');
    clients.occupancy(['w1', 'w2', 's1'], counted(3));
    expect(log).toEqual([
      `w1 send ${wsFrame(3)}`,
      'w1 subscribe occupancy live',
      `w2 send ${wsFrame(3)}`,
      'w2 subscribe occupancy live',
    ]);
    await nextIteration();
    expect(log.slice(4)).toEqual([
      's1 write event: occupancy data: {"topic":"live","count":3,"byDc":{"dc-a":3},"stale":[]}',
    ]);
    clients.occupancy(['w1', 'w2', 's1'], counted(4));
    await nextIteration();
    expect(log.slice(5)).toEqual([
      'publish occupancy live 4',
      's1 write event: occupancy data: {"topic":"live","count":4,"byDc":{"dc-a":4},"stale":[]}',
    ]);
  });

  it('a new watcher listed beside the channel gets the count once: the publish goes before it joins', async () => {
    const { clients, log, ws } = setup();
    ws('w1');
    ws('w2');
    clients.occupancy(['w1'], counted(1));
    clients.occupancy(['w1', 'w2'], counted(2));
    await nextIteration();
    expect(log).toEqual([
      `w1 send ${wsFrame(1)}`,
      'w1 subscribe occupancy live',
      'publish occupancy live 2',
      `w2 send ${wsFrame(2)}`,
      'w2 subscribe occupancy live',
    ]);
  });

  it('a socket of the channel the core does not list keeps the channel unused: each listed one is written to', async () => {
    const { clients, log, ws } = setup();
    ws('w1');
    ws('w2');
    clients.occupancy(['w1', 'w2'], counted(2));
    // w2 stopped watching without leaving the topic's channel (no `left` came): it must not get 5.
    clients.occupancy(['w1'], counted(5));
    await nextIteration();
    expect(log.slice(4)).toEqual([`w1 send ${wsFrame(5)}`]);
  });

  it('a WebSocket that leaves the topic leaves its occupancy channel too', async () => {
    const { clients, log, ws } = setup();
    ws('w1');
    clients.joined('w1', 'live');
    clients.occupancy(['w1'], counted(1));
    clients.left('w1', 'live');
    expect(log.slice(2)).toEqual([
      `w1 send ${wsFrame(1)}`,
      'w1 subscribe occupancy live',
      'w1 unsubscribe live',
      'w1 unsubscribe occupancy live',
    ]);
  });
});
