// Goal: the client library keeps its promises against a real `stadium serve`, over SSE and over
// WebSocket: typed events arrive, a replayed id reaches the application once, and a lost connection
// (cut under it, or the whole server killed and restarted) is retried and resumed from the cursor;
// against a reliable server, nothing is lost and seqs come in order, and an emptied history is a gap;
// viewer counts reach the clients that ask for them.
// Method: servers started in this process (prod/test-server.ts); Node 20 gets the `ws` package as its
// WebSocket; a TCP proxy of the test's own sits between client and server so connections can be cut
// while the server keeps its history.
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { closeTestServers, publish, start } from '../prod/test-server.ts';
import { waitFor } from '../prod/wait-for.ts';
import { createClient } from './index.ts';
import type { Client, ClientOptions, ConnectionState, Event, WebSocketConstructor } from './index.ts';

const transports = ['sse', 'ws'] as const;
const fastBackoff = { initialMs: 20, maxMs: 200 };

interface Watched<T> {
  client: Client<T>;
  events: Event<T>[];
  states: ConnectionState[];
  errors: string[];
}

const clients: Client<unknown>[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const proxy of proxies.splice(0)) await proxy.close();
  await closeTestServers();
});

function watch<T>(options: ClientOptions): Watched<T> {
  const client = createClient<T>({
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    backoff: fastBackoff,
    ...options,
  });
  clients.push(client as Client<unknown>);
  const watched: Watched<T> = { client, events: [], states: [], errors: [] };
  client.on('event', (event) => watched.events.push(event));
  client.on('state', (state) => watched.states.push(state));
  client.on('error', (error) => watched.errors.push(`${error.code}: ${error.message}`));
  return watched;
}

const opened = (w: Watched<unknown>, times = 1): Promise<unknown> =>
  waitFor(() => w.states.filter((s) => s === 'open').length >= times, `the client open ${times} time(s)`);

let probes = 0;

/**
 * Until the subscription took effect (no `subscribed` frame over best-effort SSE): publish probes
 * until one arrives, then a last one; once that arrives, every probe has, and they are forgotten.
 */
async function settle(base: string, w: Watched<unknown>, topic: string): Promise<void> {
  const arrived = (id: string): boolean => w.events.some((e) => e.id === id);
  await waitFor(async () => {
    const id = `probe-${++probes}`;
    await publish(base, { topic, payload: 'probe', id });
    return waitFor(() => arrived(id), id, 200).catch(() => false);
  }, `a probe on ${topic}`);
  const last = `probe-${++probes}`;
  await publish(base, { topic, payload: 'probe', id: last });
  await waitFor(() => arrived(last), last);
  w.events.splice(0);
}

interface Proxy {
  url: string;
  /** Drop every connection through it (the server behind keeps running). */
  cut(): void;
  /** Forward new connections to `target`; null: drop them at once, as a dead server would. */
  retarget(target: string | null): void;
  close(): Promise<void>;
}
const proxies: Proxy[] = [];

/** A TCP proxy of the test's own, at an address that outlives the servers behind it. */
async function proxyTo(target: string | null): Promise<Proxy> {
  let port = target === null ? null : Number(new URL(target).port);
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    if (port === null) return void inbound.destroy();
    const outbound = connect(port, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
  const proxy: Proxy = {
    url: `http://127.0.0.1:${address.port}`,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    retarget: (next) => {
      port = next === null ? null : Number(new URL(next).port);
    },
    close: () =>
      new Promise<void>((resolve) => {
        proxy.cut();
        server.close(() => resolve());
      }),
  };
  proxies.push(proxy);
  return proxy;
}

describe.each(transports)('client over %s against stadium serve', (transport) => {
  it('receives events with their payload and fields', async () => {
    const server = await start();
    const w = watch<string>({ url: server.url, transport, topics: ['room'] });
    await opened(w as Watched<unknown>);
    await settle(server.url, w as Watched<unknown>, 'room');
    const answer = await publish(server.url, { topic: 'room', payload: 'hello', id: 'greeting-1' });
    expect(answer.status).toBe(200);
    await waitFor(() => w.events.length === 1, 'the event');
    const event = w.events[0]!;
    expect(event).toMatchObject({ id: 'greeting-1', topic: 'room', payload: 'hello', origin: 'local' });
    expect(event.publishedAtMs).toBeGreaterThan(0);
    expect(w.client.cursor()).toBe('greeting-1');
    expect(w.errors).toEqual([]);
  });

  it('subscribes and unsubscribes topics on the one connection', async () => {
    const server = await start();
    const w = watch<string>({ url: server.url, transport, topics: ['a'] });
    await opened(w as Watched<unknown>);
    await settle(server.url, w as Watched<unknown>, 'a');
    w.client.subscribe('b');
    await settle(server.url, w as Watched<unknown>, 'b');
    w.client.unsubscribe('a');
    await publish(server.url, { topic: 'a', payload: 'not for me' });
    await publish(server.url, { topic: 'b', payload: 'for me' });
    await waitFor(() => w.events.some((e) => e.payload === 'for me'), 'the event on b');
    expect(w.events.map((e) => e.payload)).toEqual(['for me']);
    expect(w.client.topics()).toEqual(['b']);
  });

  it('viewer counts: clients that ask see how many watch, as others come and go; a client that does not ask sees none', async () => {
    const server = await start({ occupancyEveryMs: '100' });
    const counts = (w: Watched<unknown>): number[] => {
      const seen: number[] = [];
      w.client.on('occupancy', (o) => seen.push(o.count));
      return seen;
    };
    const asking = watch({ url: server.url, transport, topics: ['room'], occupancy: true });
    const askingSeen = counts(asking);
    const later = watch({ url: server.url, transport, topics: ['lobby'] });
    const laterSeen = counts(later);
    const plain = watch({ url: server.url, transport, topics: ['room'] });
    const plainSeen = counts(plain);
    await opened(later);
    later.client.subscribe('room', { occupancy: true });
    await waitFor(() => askingSeen.at(-1) === 3 && laterSeen.at(-1) === 3, 'both told 3');
    expect(asking.client.occupancy('room')).toEqual({
      topic: 'room',
      count: 3,
      byDc: { local: 3 },
      stale: [],
    });
    plain.client.close();
    await waitFor(() => askingSeen.at(-1) === 2 && laterSeen.at(-1) === 2, 'both told 2');
    expect(plainSeen).toEqual([]);
    expect(later.client.occupancy('lobby')).toBeNull();
    expect([...asking.errors, ...later.errors]).toEqual([]);
  });

  it('a connection cut under it: reconnects and resumes from its cursor, nothing lost, nothing twice', async () => {
    const server = await start();
    const proxy = await proxyTo(server.url);
    // Best-effort: the frontend keeps a topic's recent events only while someone watches it there.
    const keeper = watch<string>({ url: server.url, transport, topics: ['room'] });
    await opened(keeper as Watched<unknown>);
    const w = watch<string>({ url: proxy.url, transport, topics: ['room'] });
    await opened(w as Watched<unknown>);
    await settle(server.url, w as Watched<unknown>, 'room');
    await publish(server.url, { topic: 'room', payload: 'before', id: 'e-1' });
    await waitFor(() => w.events.length === 1, 'the first event');
    proxy.cut();
    await waitFor(() => w.states.includes('reconnecting'), 'reconnecting');
    // Published while the client is away (the backoff is at most 200 ms): the resume brings them.
    await publish(server.url, { topic: 'room', payload: 'away-1', id: 'e-2' });
    await publish(server.url, { topic: 'room', payload: 'away-2', id: 'e-3' });
    await opened(w as Watched<unknown>, 2);
    await publish(server.url, { topic: 'room', payload: 'after', id: 'e-4' });
    await waitFor(() => w.events.length >= 4, 'every event');
    expect(w.events.map((e) => e.id)).toEqual(['e-1', 'e-2', 'e-3', 'e-4']);
  });

  it('a replayed id reaches the application once', async () => {
    const server = await start();
    const proxy = await proxyTo(server.url);
    // The second connection resumes from the first event, not from the cursor: the server replays
    // e-2 and e-3, which the application has already had.
    const resumeFrom: string[] = [];
    const sent: string[] = [];
    const fetchStale: typeof fetch = (input, init) => {
      const url = new URL(String(input));
      if (url.searchParams.has('lastEventId') && resumeFrom[0] !== undefined)
        url.searchParams.set('lastEventId', resumeFrom[0]);
      sent.push(url.searchParams.get('lastEventId') ?? '');
      return fetch(url, init);
    };
    class StaleWebSocket extends WebSocket {
      override send(data: string): void {
        const message = JSON.parse(data) as Record<string, unknown>;
        if (message.type === 'resume' && resumeFrom[0] !== undefined) message.lastEventId = resumeFrom[0];
        sent.push(String(message.lastEventId ?? ''));
        super.send(JSON.stringify(message));
      }
    }
    const w = watch<string>({
      url: proxy.url,
      transport,
      topics: ['room'],
      fetch: fetchStale,
      WebSocket: StaleWebSocket as unknown as WebSocketConstructor,
    });
    await opened(w as Watched<unknown>);
    await settle(server.url, w as Watched<unknown>, 'room');
    for (const id of ['e-1', 'e-2', 'e-3']) await publish(server.url, { topic: 'room', payload: id, id });
    await waitFor(() => w.events.length === 3, 'three events');
    resumeFrom.push('e-1');
    proxy.cut();
    await opened(w as Watched<unknown>, 2);
    await publish(server.url, { topic: 'room', payload: 'e-4', id: 'e-4' });
    await waitFor(() => w.events.length >= 4, 'the fourth event');
    expect(sent.at(-1)).toBe('e-1');
    expect(w.events.map((e) => e.id)).toEqual(['e-1', 'e-2', 'e-3', 'e-4']);
  });

  it('the server killed and another started at its address: reconnecting, then open, then events again', async () => {
    // The address is a proxy's: a server closed by the test leaves its port in TIME_WAIT for a minute.
    const first = await start();
    const proxy = await proxyTo(first.url);
    const w = watch<string>({ url: proxy.url, transport, topics: ['room'] });
    await opened(w as Watched<unknown>);
    await settle(first.url, w as Watched<unknown>, 'room');
    proxy.retarget(null);
    await first.close();
    await waitFor(() => w.states.filter((s) => s === 'reconnecting').length >= 2, 'reconnect attempts');
    expect(w.client.state()).toBe('reconnecting');
    const second = await start();
    proxy.retarget(second.url);
    await opened(w as Watched<unknown>, 2);
    await settle(second.url, w as Watched<unknown>, 'room');
    await publish(second.url, { topic: 'room', payload: 'back', id: 'back-1' });
    await waitFor(() => w.events.some((e) => e.id === 'back-1'), 'an event from the new server');
  });
});

describe.each(transports)('client over %s against stadium serve --mode reliable', (transport) => {
  const positions = (w: Watched<unknown>): number[] => w.events.map((e) => e.position?.seq ?? -1);

  it('a connection cut under it: resumed from the cursor, every event once and in seq order, no gap', async () => {
    const server = await start({ mode: 'reliable' });
    const proxy = await proxyTo(server.url);
    const w = watch<{ n: number }>({ url: proxy.url, transport, topics: ['room'] });
    const gaps: unknown[] = [];
    w.client.on('gap', (gap) => gaps.push(gap));
    await opened(w as Watched<unknown>);
    await settle(server.url, w as Watched<unknown>, 'room');
    const published: string[] = [];
    const send = async (n: number): Promise<void> => {
      const answer = await publish(server.url, {
        topic: 'room',
        payload: JSON.stringify({ n }),
        id: `r-${n}`,
      });
      expect(answer.status).toBe(200);
      published.push(`r-${n}`);
    };
    for (let n = 1; n <= 3; n++) await send(n);
    await waitFor(() => w.events.length === 3, 'the first three events');
    const cursorBefore = w.client.cursor();
    expect(cursorBefore).toMatch(/^c1 /);
    proxy.cut();
    await waitFor(() => w.states.includes('reconnecting'), 'reconnecting');
    // Published while the client is away: no one else watches, the history in the store keeps them.
    for (let n = 4; n <= 6; n++) await send(n);
    await opened(w as Watched<unknown>, 2);
    for (let n = 7; n <= 8; n++) await send(n);
    await waitFor(() => w.events.length >= 8, 'every event');
    expect(w.events.map((e) => e.id)).toEqual(published);
    const seqs = positions(w as Watched<unknown>);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(gaps).toEqual([]);

    // A reload: a new client from the stored cursor gets what came after it, nothing before.
    const reloaded = watch<{ n: number }>({
      url: server.url,
      transport,
      topics: ['room'],
      cursor: cursorBefore,
    });
    await waitFor(() => reloaded.events.length >= 5, 'the events after the stored cursor');
    expect(reloaded.events.map((e) => e.id)).toEqual(published.slice(3));
  });

  it('the server replaced by one with an empty history: the gap callback says so, events flow again', async () => {
    const first = await start({ mode: 'reliable' });
    const proxy = await proxyTo(first.url);
    const w = watch<string>({ url: proxy.url, transport, topics: ['room'] });
    const gaps: { topic: string; why: string }[] = [];
    w.client.on('gap', (gap) => gaps.push(gap));
    await opened(w as Watched<unknown>);
    await settle(first.url, w as Watched<unknown>, 'room');
    await publish(first.url, { topic: 'room', payload: 'x', id: 'old-1' });
    await waitFor(() => w.events.length === 1, 'the first event');
    proxy.retarget(null);
    await first.close();
    const second = await start({ mode: 'reliable' });
    proxy.retarget(second.url);
    await opened(w as Watched<unknown>, 2);
    await waitFor(() => gaps.length > 0, 'a gap notice');
    expect(gaps[0]!.topic).toBe('room');
    await settle(second.url, w as Watched<unknown>, 'room');
    await publish(second.url, { topic: 'room', payload: 'y', id: 'new-1' });
    await waitFor(() => w.events.some((e) => e.id === 'new-1'), 'an event from the new server');
  });
});
