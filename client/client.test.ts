// Goal: the client's own rules hold whatever the network does: the backoff stays inside its full
// jitter bounds and resets after a stable connection, a gap notice reaches the application, a
// replayed id is given once, out-of-order seqs are put back in order (or given after the wait), the
// cursor is sent on every reconnect, and the token is asked for on each connect and refreshed when
// it expires. Method: a fake WebSocket and a fake fetch the test drives frame by frame, a manual
// clock for the client's timers, and an injected random.
import { describe, expect, it } from 'vitest';
import { decodeCursors } from '../core/cursor.ts';
import { backoffCeilingMs, backoffDelayMs } from './backoff.ts';
import { createClient } from './index.ts';
import type { ClientOptions, ConnectionState, Event, GapNotice, StateDetail, Timers } from './index.ts';
import { dedupeIdsMax } from './delivery.ts';

/** A manual clock: timers fire only when the test advances it. */
class Clock implements Timers {
  nowMs = 0;
  private next = 1;
  private readonly due = new Map<number, { atMs: number; callback: () => void }>();
  setTimeout(callback: () => void, ms: number): number {
    const id = this.next++;
    this.due.set(id, { atMs: this.nowMs + ms, callback });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.due.delete(handle as number);
  }
  async advance(ms: number): Promise<void> {
    const until = this.nowMs + ms;
    for (;;) {
      const [id, timer] = [...this.due].sort((a, b) => a[1].atMs - b[1].atMs || a[0] - b[0])[0] ?? [];
      if (id === undefined || timer === undefined || timer.atMs > until) break;
      this.due.delete(id);
      this.nowMs = timer.atMs;
      timer.callback();
      await settled();
    }
    this.nowMs = until;
  }
}

/** Let the client's microtasks (topic sync, token promises) run. */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

class FakeSocket {
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  constructor(readonly url: string) {
    sockets.push(this);
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(): void {
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(message: Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
}
let sockets: FakeSocket[] = [];

interface Harness {
  clock: Clock;
  events: Event<unknown>[];
  gaps: GapNotice[];
  states: [ConnectionState, StateDetail][];
  errors: string[];
  client: ReturnType<typeof createClient>;
  socket(): FakeSocket;
}

async function harness(options: ClientOptions = {}): Promise<Harness> {
  sockets = [];
  const clock = new Clock();
  const client = createClient({
    url: 'http://stadium.test',
    transport: 'ws',
    topics: ['room'],
    WebSocket: FakeSocket,
    timers: clock,
    random: () => 0.5,
    backoff: { initialMs: 100, maxMs: 3_000 },
    ...options,
  });
  const h: Harness = {
    clock,
    events: [],
    gaps: [],
    states: [],
    errors: [],
    client,
    socket: () => {
      const last = sockets.at(-1);
      if (last === undefined) throw new Error('no socket was made');
      return last;
    },
  };
  client.on('event', (event) => h.events.push(event));
  client.on('gap', (gap) => h.gaps.push(gap));
  client.on('state', (state, detail) => h.states.push([state, detail]));
  client.on('error', (error) => h.errors.push(error.code));
  await settled();
  return h;
}

const at = (seq: number, epoch = 1) => ({ dc: 'dc-a', epoch, seq });
const event = (id: string, seq?: number, topic = 'room') => ({
  type: 'event',
  id,
  topic,
  payload: { n: id },
  publishedAtMs: 1,
  origin: 'dc-a',
  ...(seq === undefined ? {} : { position: at(seq) }),
});
const ids = (h: Harness): string[] => h.events.map((e) => e.id);

describe('backoff with full jitter', () => {
  const backoff = { initialMs: 100, maxMs: 3_000 };

  it('the ceiling doubles from initialMs up to maxMs, and stays finite for any attempt', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50, 5_000].map((n) => backoffCeilingMs(n, backoff))).toEqual([
      100, 200, 400, 800, 1_600, 3_000, 3_000, 3_000, 3_000,
    ]);
  });

  it('every wait lies in [0, ceiling]: the lowest draw waits 0, the highest the whole ceiling', () => {
    for (let attempt = 0; attempt < 8; attempt++) {
      const ceiling = backoffCeilingMs(attempt, backoff);
      expect(backoffDelayMs(attempt, backoff, () => 0)).toBe(0);
      expect(backoffDelayMs(attempt, backoff, () => 1 - Number.EPSILON)).toBe(ceiling);
      for (const draw of [0.1, 0.25, 0.5, 0.9]) {
        const delay = backoffDelayMs(attempt, backoff, () => draw);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
    expect(() => backoffDelayMs(0, backoff, () => 1)).toThrow(/\[0, 1\)/);
  });

  it('the client waits the drawn time before each attempt, and starts over after a stable open', async () => {
    const h = await harness();
    h.socket().open();
    for (let attempt = 0; attempt < 7; attempt++) {
      const before = sockets.length;
      h.socket().drop();
      const [state, detail] = h.states.at(-1)!;
      expect(state).toBe('reconnecting');
      expect(detail.delayMs).toBe(Math.floor(0.5 * (backoffCeilingMs(attempt, backoff) + 1)));
      await h.clock.advance(detail.delayMs! - 1);
      expect(sockets.length).toBe(before);
      await h.clock.advance(1);
      expect(sockets.length).toBe(before + 1);
    }
    // Open long enough to count as stable: the next loss waits as the first did.
    h.socket().open();
    await h.clock.advance(10_000);
    h.socket().drop();
    expect(h.states.at(-1)![1].delayMs).toBe(Math.floor(0.5 * (backoffCeilingMs(0, backoff) + 1)));
  });
});

describe('client over a fake WebSocket', () => {
  it('subscribes its topics on open, and announces each state once', async () => {
    const h = await harness({ topics: ['room', 'lobby'] });
    expect(h.socket().url).toBe('ws://stadium.test/v1/ws');
    h.socket().open();
    expect(h.socket().sent).toEqual([{ type: 'subscribe', topics: ['room', 'lobby'] }]);
    expect(h.states.map(([s]) => s)).toEqual(['connecting', 'open']);
    h.client.close();
    expect(h.states.map(([s]) => s)).toEqual(['connecting', 'open', 'closed']);
  });

  it('a replayed event id is given to the application once', async () => {
    const h = await harness();
    h.socket().open();
    h.socket().receive(event('a'));
    h.socket().receive(event('b'));
    h.socket().receive(event('a'));
    h.socket().drop();
    await h.clock.advance(3_000);
    h.socket().open();
    h.socket().receive(event('b'));
    h.socket().receive(event('c'));
    expect(ids(h)).toEqual(['a', 'b', 'c']);
    expect(h.events[0]!.payload).toEqual({ n: 'a' });
  });

  it(`dedupe remembers the last ${dedupeIdsMax} ids, no more`, async () => {
    const h = await harness();
    h.socket().open();
    for (let i = 0; i <= dedupeIdsMax; i++) h.socket().receive(event(`e-${i}`));
    h.socket().receive(event(`e-${dedupeIdsMax}`));
    h.socket().receive(event('e-0'));
    expect(h.events.length).toBe(dedupeIdsMax + 2);
  });

  it('a gap notice reaches the gap listener, and what waited for the missing seqs is given', async () => {
    const h = await harness();
    h.socket().open();
    h.socket().receive({ type: 'subscribed', topic: 'room', position: at(10) });
    h.socket().receive(event('x-11', 11));
    h.socket().receive(event('x-14', 14));
    expect(ids(h)).toEqual(['x-11']);
    const gap = { topic: 'room', epoch: 1, fromSeq: 12, toSeq: 13, why: 'trimmed' };
    h.socket().receive({ type: 'notice', code: 'gap', message: 'trimmed', topic: 'room', gap });
    expect(h.gaps).toEqual([{ ...gap, message: 'trimmed' }]);
    expect(ids(h)).toEqual(['x-11', 'x-14']);
  });

  it('seqs that arrive out of order are given in order; a missing one is waited for at most reorderWaitMs', async () => {
    const h = await harness({ reorderWaitMs: 500 });
    h.socket().open();
    h.socket().receive({ type: 'subscribed', topic: 'room', position: at(0) });
    h.socket().receive(event('s-2', 2));
    h.socket().receive(event('s-1', 1));
    expect(ids(h)).toEqual(['s-1', 's-2']);
    h.socket().receive(event('s-5', 5));
    h.socket().receive(event('s-4', 4));
    await h.clock.advance(499);
    expect(ids(h)).toEqual(['s-1', 's-2']);
    await h.clock.advance(1);
    expect(ids(h)).toEqual(['s-1', 's-2', 's-4', 's-5']);
    // Late, but not lost.
    h.socket().receive(event('s-3', 3));
    expect(ids(h)).toEqual(['s-1', 's-2', 's-4', 's-5', 's-3']);
  });

  it('each reconnect resumes from the cursor: its dc, epoch, seq and last event id per topic', async () => {
    const h = await harness({ topics: ['room', 'lobby'] });
    h.socket().open();
    h.socket().receive({ type: 'subscribed', topic: 'room', position: at(4) });
    h.socket().receive({ type: 'subscribed', topic: 'lobby', position: at(9) });
    h.socket().receive(event('r-5', 5));
    const cursor = h.client.cursor()!;
    expect(decodeCursors(cursor)).toEqual({
      ok: true,
      cursors: [
        { topic: 'lobby', dc: 'dc-a', epoch: 1, seq: 9 },
        { topic: 'room', dc: 'dc-a', epoch: 1, seq: 5, lastEventId: 'r-5' },
      ],
    });
    h.socket().drop();
    await h.clock.advance(3_000);
    h.socket().open();
    expect(h.socket().sent).toEqual([{ type: 'resume', topics: ['room', 'lobby'], cursor }]);
    // The joins that answer the resume keep the cursor where it was.
    h.socket().receive({ type: 'subscribed', topic: 'room', position: at(7) });
    expect(h.client.cursor()).toBe(cursor);
    h.socket().receive(event('r-6', 6));
    expect(ids(h)).toEqual(['r-5', 'r-6']);
  });

  it('a best-effort server (no positions): the cursor is the last event id, sent as lastEventId', async () => {
    const h = await harness({ cursor: 'from-last-visit' });
    h.socket().open();
    expect(h.socket().sent).toEqual([{ type: 'resume', topics: ['room'], lastEventId: 'from-last-visit' }]);
    h.socket().receive(event('e-1'));
    expect(h.client.cursor()).toBe('e-1');
  });

  it('subscribe and unsubscribe after open are messages on the same socket; a left topic gives nothing', async () => {
    const h = await harness();
    h.socket().open();
    h.client.subscribe('lobby');
    h.client.unsubscribe('room');
    await settled();
    expect(sockets.length).toBe(1);
    expect(h.socket().sent.slice(1)).toEqual([
      { type: 'unsubscribe', topics: ['room'] },
      { type: 'subscribe', topics: ['lobby'] },
    ]);
    h.socket().receive(event('late', undefined, 'room'));
    h.socket().receive(event('new', undefined, 'lobby'));
    expect(ids(h)).toEqual(['new']);
  });

  it('a damaged stored cursor is reported and ignored', async () => {
    const h = await harness({ cursor: 'c1 @dc-a,1 room,5' });
    await settled();
    expect(h.errors).toEqual(['bad-cursor']);
    h.socket().open();
    expect(h.socket().sent).toEqual([{ type: 'subscribe', topics: ['room'] }]);
  });
});

describe('viewer counts over WebSocket', () => {
  const count = (topic: string, n: number): Record<string, unknown> => ({
    type: 'occupancy',
    topic,
    count: n,
    byDc: { 'dc-a': n },
    stale: [],
  });

  it('the client option asks for every topic; counts reach occupancy listeners, and occupancy() keeps the latest', async () => {
    const h = await harness({ occupancy: true });
    const told: unknown[] = [];
    h.client.on('occupancy', (o) => told.push(o));
    h.socket().open();
    expect(h.socket().sent).toEqual([{ type: 'subscribe', topics: ['room'], occupancy: true }]);
    expect(h.client.occupancy('room')).toBeNull();
    h.socket().receive(count('room', 3));
    h.socket().receive(count('room', 4));
    expect(told).toEqual([
      { topic: 'room', count: 3, byDc: { 'dc-a': 3 }, stale: [] },
      { topic: 'room', count: 4, byDc: { 'dc-a': 4 }, stale: [] },
    ]);
    expect(h.client.occupancy('room')).toEqual({ topic: 'room', count: 4, byDc: { 'dc-a': 4 }, stale: [] });
    h.client.subscribe('lobby');
    await settled();
    expect(h.socket().sent.at(-1)).toEqual({ type: 'subscribe', topics: ['lobby'], occupancy: true });
  });

  it('per topic: only the topics that ask, in a message of their own; a topic joined already asks by subscribing again', async () => {
    const h = await harness({ topics: ['room', 'lobby'] });
    const told: string[] = [];
    h.client.on('occupancy', (o) => told.push(`${o.topic}=${o.count}`));
    h.socket().open();
    h.client.subscribe('stage', { occupancy: true });
    h.client.subscribe('lobby', { occupancy: true });
    await settled();
    expect(h.socket().sent).toEqual([
      { type: 'subscribe', topics: ['room', 'lobby'] },
      { type: 'subscribe', topics: ['stage'], occupancy: true },
      { type: 'subscribe', topics: ['lobby'], occupancy: true },
    ]);
    // A count of a topic that did not ask is dropped.
    h.socket().receive(count('room', 9));
    h.socket().receive(count('lobby', 2));
    expect(told).toEqual(['lobby=2']);
    // After a reconnect the asks go again, with the resume or the subscribe.
    h.socket().drop();
    await h.clock.advance(3_000);
    h.socket().open();
    expect(h.socket().sent).toEqual([
      { type: 'subscribe', topics: ['lobby', 'stage'], occupancy: true },
      { type: 'subscribe', topics: ['room'] },
    ]);
    h.client.unsubscribe('lobby');
    expect(h.client.occupancy('lobby')).toBeNull();
    h.socket().receive(count('lobby', 5));
    expect(told).toEqual(['lobby=2']);
  });

  it('a malformed count is reported, not thrown', async () => {
    const h = await harness({ occupancy: true });
    h.socket().open();
    h.socket().receive({ type: 'occupancy', topic: 'room', count: 'many', byDc: {}, stale: [] });
    expect(h.errors).toEqual(['malformed']);
  });
});

describe('liveness and several servers', () => {
  it('a silent WebSocket is pinged, and dropped once silent for idleTimeoutMs; any message keeps it', async () => {
    const h = await harness({ idleTimeoutMs: 3_000 });
    h.socket().open();
    await h.clock.advance(1_000);
    expect(h.socket().sent.at(-1)).toEqual({ type: 'ping' });
    // Heard at 1,000: the checks at 2,000, 3,000 and 4,000 find it silent, and the third drops it.
    h.socket().receive({ type: 'pong' });
    await h.clock.advance(2_999);
    expect(h.client.state()).toBe('open');
    await h.clock.advance(1);
    expect(h.states.at(-1)).toEqual([
      'reconnecting',
      { attempt: 1, delayMs: 50, reason: 'nothing heard for 3000 ms' },
    ]);
  });

  it('several urls: each attempt after a loss goes to the next', async () => {
    const h = await harness({ url: ['http://a.test', 'http://b.test/'] });
    expect(h.socket().url).toBe('ws://a.test/v1/ws');
    h.socket().drop();
    await h.clock.advance(3_000);
    expect(h.socket().url).toBe('ws://b.test/v1/ws');
    h.socket().drop();
    await h.clock.advance(3_000);
    expect(h.socket().url).toBe('ws://a.test/v1/ws');
  });
});

describe('tokens', () => {
  it('a token function is asked before every connect, and token-expired reconnects at once with a fresh one', async () => {
    let issued = 0;
    const h = await harness({ token: () => Promise.resolve(`jwt-${++issued}`) });
    expect(h.socket().url).toBe('ws://stadium.test/v1/ws?token=jwt-1');
    h.socket().open();
    h.socket().receive({ type: 'error', status: 401, code: 'token-expired', error: 'expired' });
    h.socket().drop(1008);
    expect(h.states.at(-1)).toEqual(['reconnecting', { attempt: 0, delayMs: 0, reason: expect.any(String) }]);
    await h.clock.advance(0);
    expect(h.socket().url).toBe('ws://stadium.test/v1/ws?token=jwt-2');
    expect(h.errors).toEqual(['token-expired']);
  });

  it('a fixed token that expired ends the client: the same one would be refused again', async () => {
    const h = await harness({ token: 'only-one' });
    h.socket().open();
    h.socket().receive({ type: 'error', status: 401, code: 'token-expired', error: 'expired' });
    h.socket().drop(1008);
    expect(h.client.state()).toBe('closed');
    await h.clock.advance(60_000);
    expect(sockets.length).toBe(1);
  });

  it('a token function that fails is reported and retried after the backoff', async () => {
    let calls = 0;
    const h = await harness({
      token: () => (++calls === 1 ? Promise.reject(new Error('auth server down')) : Promise.resolve('ok')),
    });
    expect(sockets.length).toBe(0);
    expect(h.errors).toEqual(['token-unavailable']);
    await h.clock.advance(3_000);
    expect(h.socket().url).toBe('ws://stadium.test/v1/ws?token=ok');
  });
});

describe('client over SSE (a fake fetch)', () => {
  interface Stream {
    url: URL;
    push(text: string): void;
    end(): void;
  }

  function fakeFetch(streams: Stream[]): typeof fetch {
    return (input) => {
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
      const encoder = new TextEncoder();
      streams.push({
        url: new URL(String(input)),
        push: (text) => controller.enqueue(encoder.encode(text)),
        end: () => controller.close(),
      });
      return Promise.resolve(new Response(body, { status: 200 }));
    };
  }

  it('topics, cursor and token go in the URL; a topic change reconnects at once, resuming', async () => {
    const streams: Stream[] = [];
    const h = await harness({ transport: 'sse', fetch: fakeFetch(streams), token: 'jwt' });
    await settled();
    expect(streams[0]!.url.searchParams.getAll('topic')).toEqual(['room']);
    expect(streams[0]!.url.searchParams.get('token')).toBe('jwt');
    expect(streams[0]!.url.searchParams.has('lastEventId')).toBe(false);
    streams[0]!.push(
      'event: subscribed\ndata: {"topic":"room","position":{"dc":"dc-a","epoch":1,"seq":2}}\n\n' +
        `event: message\ndata: ${JSON.stringify(event('m-3', 3))}\r\n\r\n: heartbeat\n\n`,
    );
    await settled();
    expect(ids(h)).toEqual(['m-3']);
    h.client.subscribe('lobby');
    await settled();
    expect(streams.length).toBe(2);
    expect(streams[1]!.url.searchParams.getAll('topic')).toEqual(['room', 'lobby']);
    expect(streams[1]!.url.searchParams.get('lastEventId')).toBe(h.client.cursor());
    expect(h.states.filter(([s]) => s === 'reconnecting')).toEqual([]);
    // The server ends the stream: a retry after the backoff, from the same cursor.
    streams[1]!.end();
    await settled();
    expect(h.client.state()).toBe('reconnecting');
    await h.clock.advance(3_000);
    await settled();
    expect(streams[2]!.url.searchParams.get('lastEventId')).toBe(h.client.cursor());
  });

  it('viewer counts: a stream asks for all its topics (occupancy=1), a topic that asks later reopens it, and counts of topics that did not ask are dropped', async () => {
    const streams: Stream[] = [];
    const h = await harness({ transport: 'sse', fetch: fakeFetch(streams), topics: ['room', 'lobby'] });
    const told: string[] = [];
    h.client.on('occupancy', (o) => told.push(`${o.topic}=${o.count}`));
    await settled();
    expect(streams[0]!.url.searchParams.has('occupancy')).toBe(false);
    h.client.subscribe('room', { occupancy: true });
    await settled();
    expect(streams.length).toBe(2);
    expect(streams[1]!.url.searchParams.get('occupancy')).toBe('1');
    streams[1]!.push(
      'event: occupancy\ndata: {"topic":"room","count":7,"byDc":{"dc-a":7},"stale":[]}\n\n' +
        'event: occupancy\ndata: {"topic":"lobby","count":3,"byDc":{"dc-a":3},"stale":[]}\n\n',
    );
    await settled();
    expect(told).toEqual(['room=7']);
    // Asking again changes nothing: the stream asks already.
    h.client.subscribe('room', { occupancy: true });
    await settled();
    expect(streams.length).toBe(2);
  });

  it('a refused stream reports the server status and code, and is retried', async () => {
    const h = await harness({
      transport: 'sse',
      fetch: () =>
        Promise.resolve(
          new Response(JSON.stringify({ error: 'topic not allowed', code: 'forbidden' }), { status: 403 }),
        ),
    });
    await settled();
    expect(h.errors).toEqual(['forbidden']);
    expect(h.client.state()).toBe('reconnecting');
  });
});
