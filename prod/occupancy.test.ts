// Goal: viewer counts ("N watching") keep the HTTP API's promises on one real server: viewers that
// ask over SSE or WebSocket get their topic's count as it changes, and nobody else does; a count
// never moves an SSE stream's Last-Event-ID; bad asks get a clear 400; `GET /v1/topics/T/occupancy`
// answers where publishes are answered, with its errors; `/metrics` shows the most watched topics.
// Method: servers started in this process on free ports, with a short interval, driven by raw SSE
// readers, `ws` and fetch (prod/test-server.ts); the memory store, and once the Redis store.
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { deliveryModes } from '../core/index.ts';
import { topicOccupancyMax } from './metrics.ts';
import { redisGate, redisUrl, uniquePrefix } from './test-gate.ts';
import {
  closeTestServers,
  metric,
  openStream,
  openWs,
  publish,
  start,
  startPair,
  wsUrl,
} from './test-server.ts';
import type { TestStream, WsClient } from './test-server.ts';
import { sleep, waitFor } from './wait-for.ts';

afterEach(closeTestServers);

/** Short, so counts converge in a fraction of a second. */
const everyMs = '100';

const sseCounts = (stream: TestStream): Record<string, unknown>[] =>
  stream.frames
    .filter((f) => f.event === 'occupancy')
    .map((f) => JSON.parse(f.data!) as Record<string, unknown>);
const wsCounts = (ws: WsClient): Record<string, unknown>[] =>
  ws.messages.filter((m) => m.type === 'occupancy');
const lastCount = (counts: Record<string, unknown>[]): unknown => counts.at(-1)?.count;

async function subscribedWs(url: string, topic: string, occupancy: boolean | undefined): Promise<WsClient> {
  const ws = await openWs(url);
  ws.send(occupancy === undefined ? { type: 'subscribe', topic } : { type: 'subscribe', topic, occupancy });
  await waitFor(() => ws.messages.find((m) => m.type === 'subscribed'), 'subscribed');
  return ws;
}

describe.each(deliveryModes)('viewer counts on one server (%s)', (mode) => {
  it('SSE and WebSocket viewers that ask get the count as viewers come and go; others get none', async () => {
    const server = await start({ mode, occupancyEveryMs: everyMs });
    const stream = `${server.url}/v1/stream?topic=room`;
    const sse = await openStream(`${stream}&occupancy=1`);
    const ws = await subscribedWs(wsUrl(server), 'room', true);
    const plainSse = await openStream(stream);
    const plainWs = await subscribedWs(wsUrl(server), 'room', false);
    await waitFor(() => lastCount(sseCounts(sse)) === 4 && lastCount(wsCounts(ws)) === 4, 'both told 4');
    expect(sseCounts(sse).at(-1)).toEqual({ topic: 'room', count: 4, byDc: { local: 4 }, stale: [] });
    expect(wsCounts(ws).at(-1)).toEqual({
      type: 'occupancy',
      topic: 'room',
      count: 4,
      byDc: { local: 4 },
      stale: [],
    });

    plainSse.close();
    plainWs.socket.close();
    await waitFor(() => lastCount(sseCounts(sse)) === 2 && lastCount(wsCounts(ws)) === 2, 'both told 2');
    // At most one count per interval, and only on a change: no count is told twice in a row.
    for (const counts of [sseCounts(sse), wsCounts(ws)])
      for (let i = 1; i < counts.length; i++) expect(counts[i]!.count).not.toBe(counts[i - 1]!.count);
    expect(sseCounts(plainSse)).toEqual([]);
    expect(wsCounts(plainWs)).toEqual([]);
    expect(
      await metric(server, 'stadium_occupancy_updates_total', { transport: 'sse' }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      await metric(server, 'stadium_occupancy_updates_total', { transport: 'ws' }),
    ).toBeGreaterThanOrEqual(2);
  });

  it("a count carries no SSE id: the stream's Last-Event-ID stays the last event's", async () => {
    const server = await start({ mode, occupancyEveryMs: everyMs });
    const sse = await openStream(`${server.url}/v1/stream?topic=room&occupancy=1`);
    await waitFor(() => sseCounts(sse).length > 0, 'a first count');
    const { json } = await publish(server.url, { topic: 'room', payload: 'goal' });
    await waitFor(() => sse.events().some((e) => e.id === json.id), 'the event');
    const extra = await openStream(`${server.url}/v1/stream?topic=room`);
    await waitFor(() => lastCount(sseCounts(sse)) === 2, 'a count after the event');
    expect(sse.frames.filter((f) => f.event === 'occupancy' && f.id !== undefined)).toEqual([]);
    // The last id a reconnecting EventSource would send is still the event's (its cursor, reliable).
    expect(sse.frames.filter((f) => f.id !== undefined).at(-1)?.event).toBe('message');
    extra.close();
  });
});

describe('asking for viewer counts', () => {
  it('a WebSocket subscribe with occupancy on a topic already joined starts the counts; leaving it stops them', async () => {
    const server = await start({ occupancyEveryMs: everyMs });
    const ws = await subscribedWs(wsUrl(server), 'room', undefined);
    await sleep(300);
    expect(wsCounts(ws)).toEqual([]);
    ws.send({ type: 'subscribe', topic: 'room', occupancy: true });
    await waitFor(() => lastCount(wsCounts(ws)) === 1, 'told 1');
    ws.send({ type: 'unsubscribe', topic: 'room' });
    // Two others join: a watcher among them sees 2, the one that left is told nothing more.
    const watcher = await subscribedWs(wsUrl(server), 'room', true);
    await subscribedWs(wsUrl(server), 'room', undefined);
    await waitFor(() => lastCount(wsCounts(watcher)) === 2, 'the watcher told 2');
    await sleep(300);
    expect(wsCounts(ws).map((m) => m.count)).toEqual([1]);
  });

  it('a resume asks too: SSE with Last-Event-ID and occupancy=1, WebSocket resume with occupancy', async () => {
    const server = await start({ occupancyEveryMs: everyMs });
    const sse = await openStream(`${server.url}/v1/stream?topic=room&occupancy=true`, {
      'last-event-id': 'seen-1',
    });
    const ws = await openWs(wsUrl(server));
    ws.send({ type: 'resume', topics: ['room'], lastEventId: 'seen-1', occupancy: true });
    await waitFor(() => lastCount(sseCounts(sse)) === 2 && lastCount(wsCounts(ws)) === 2, 'both told 2');
  });

  it('a bad ask is refused clearly: SSE occupancy=yes is 400, a WebSocket gets an error and stays open', async () => {
    const server = await start({ occupancyEveryMs: everyMs });
    const refused = await openStream(`${server.url}/v1/stream?topic=room&occupancy=yes`);
    expect(refused.status).toBe(400);
    expect(refused.json).toEqual({
      code: 'bad-request',
      error: 'occupancy must be given once, as 1 or 0 (true or false), got "yes"',
    });
    const ws = await openWs(wsUrl(server));
    ws.send({ type: 'subscribe', topic: 'room', occupancy: 'yes' });
    await waitFor(() => ws.messages.find((m) => m.type === 'error'), 'the error');
    expect(ws.messages).toEqual([
      {
        type: 'error',
        status: 400,
        code: 'bad-request',
        error: 'occupancy must be true or false, got "yes"',
      },
    ]);
    ws.send({ type: 'subscribe', topic: 'room', occupancy: true });
    await waitFor(() => lastCount(wsCounts(ws)) === 1, 'told 1 after all');
  });

  it('counts off (--occupancy-every-ms 0): the ask gets notice occupancy-off, and events still flow', async () => {
    const server = await start({ occupancyEveryMs: '0' });
    const sse = await openStream(`${server.url}/v1/stream?topic=room&occupancy=1`);
    const ws = await openWs(wsUrl(server));
    ws.send({ type: 'subscribe', topic: 'room', occupancy: true });
    await waitFor(
      () => sse.notices().length > 0 && ws.messages.some((m) => m.type === 'notice'),
      'both notices',
    );
    const notice = {
      code: 'occupancy-off',
      message: 'this frontend does not report viewer counts',
      topic: 'room',
    };
    expect(sse.notices()).toEqual([notice]);
    expect(ws.messages.find((m) => m.type === 'notice')).toEqual({ type: 'notice', ...notice });
    const { json } = await publish(server.url, { topic: 'room', payload: 'still here' });
    await waitFor(
      () => sse.events().some((e) => e.id === json.id) && ws.messages.some((m) => m.id === json.id),
      'the event on both',
    );
    const answer = await fetch(`${server.url}/v1/topics/room/occupancy`);
    expect(answer.status).toBe(404);
    expect(await answer.json()).toEqual({
      code: 'occupancy-off',
      error:
        'occupancy is off on this dispatcher: viewer counts are off in this deployment (--occupancy-every-ms 0)',
    });
  });
});

describe('GET /v1/topics/T/occupancy', () => {
  const ask = async (
    base: string,
    path: string,
    init: RequestInit = {},
  ): Promise<{ status: number; json: unknown; headers: Headers }> => {
    const response = await fetch(`${base}/v1/topics/${path}`, init);
    const text = await response.text();
    return {
      status: response.status,
      json: text === '' ? null : (JSON.parse(text) as unknown),
      headers: response.headers,
    };
  };

  it('answers the count of every viewer, asked for or not; a topic with a slash written either way', async () => {
    const server = await start({ occupancyEveryMs: everyMs });
    await openStream(`${server.url}/v1/stream?topic=video:7`);
    await subscribedWs(wsUrl(server), 'video:7', undefined);
    await openStream(`${server.url}/v1/stream?topic=a/b`);
    const answer = await waitFor(async () => {
      const reply = await ask(server.url, 'video:7/occupancy');
      return (reply.json as { count?: number }).count === 2 ? reply : null;
    }, 'a count of 2');
    expect(answer).toMatchObject({
      status: 200,
      json: { topic: 'video:7', count: 2, byDc: { local: 2 }, stale: [] },
    });
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.headers.get('access-control-allow-origin')).toBe('*');
    for (const path of ['a/b/occupancy', 'a%2Fb/occupancy'])
      expect(await ask(server.url, path)).toMatchObject({ status: 200, json: { topic: 'a/b', count: 1 } });
    expect(await ask(server.url, 'nobody/occupancy')).toMatchObject({
      status: 200,
      json: { count: 0, byDc: { local: 0 } },
    });
    expect(await ask(server.url, 'video:7/occupancy', { method: 'HEAD' })).toMatchObject({
      status: 200,
      json: null,
    });
  });

  it('bad input: 400 bad-topic, 405 with Allow, 404 for another path under /v1/topics/', async () => {
    const server = await start({ occupancyEveryMs: everyMs });
    expect(await ask(server.url, 'bad%20topic/occupancy')).toMatchObject({
      status: 400,
      json: { code: 'bad-topic', error: 'topic "bad topic" may only hold letters, digits and _ . : - /' },
    });
    expect(await ask(server.url, '%E0/occupancy')).toMatchObject({
      status: 400,
      json: { code: 'bad-topic' },
    });
    const posted = await ask(server.url, 'room/occupancy', { method: 'POST' });
    expect(posted).toMatchObject({ status: 405, json: { code: 'method-not-allowed' } });
    expect(posted.headers.get('allow')).toBe('GET, HEAD');
    expect(await ask(server.url, 'room')).toMatchObject({ status: 404, json: { code: 'not-found' } });
    expect(await metric(server, 'stadium_occupancy_queries_total', { result: 'bad-topic' })).toBe(1);
  });

  it('is a dispatcher route: a frontend-only node answers 404, as it does a publish', async () => {
    const { dispatcher, frontend } = await startPair();
    expect(await ask(frontend.url, 'room/occupancy')).toMatchObject({
      status: 404,
      json: { code: 'not-found' },
    });
    expect(await publish(frontend.url, { topic: 'room', payload: 1 })).toMatchObject({ status: 404 });
    await openStream(`${frontend.url}/v1/stream?topic=room`);
    await waitFor(
      async () => ((await ask(dispatcher.url, 'room/occupancy')).json as { count?: number }).count === 1,
      "the dispatcher's count of the frontend's viewer",
    );
  });

  it('a store that does not answer: 503 store-unavailable with Retry-After', async () => {
    const server = await start({
      store: 'redis://127.0.0.1:1',
      storeTimeoutMs: '200',
      occupancyEveryMs: everyMs,
    });
    const answer = await ask(server.url, 'room/occupancy');
    expect(answer).toMatchObject({ status: 503, json: { code: 'store-unavailable' } });
    expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('/metrics', () => {
  it(`stadium_topic_occupancy holds the ${topicOccupancyMax} most watched topics of the frontend, and no more`, async () => {
    const server = await start({ occupancyEveryMs: everyMs });
    const topics = Array.from({ length: topicOccupancyMax + 5 }, (_, i) => `t${i + 1}`);
    // Stream j joins t_j..t_25, so topic t_k has k viewers.
    for (let j = 1; j <= topics.length; j++)
      await openStream(
        `${server.url}/v1/stream?${topics
          .slice(j - 1)
          .map((t) => `topic=${t}`)
          .join('&')}`,
      );
    const exported = async (): Promise<string[]> =>
      (await (await fetch(`${server.url}/metrics`)).text())
        .split('\n')
        .filter((line) => line.startsWith('stadium_topic_occupancy{'));
    const lines = await waitFor(async () => {
      const now = await exported();
      return now.some((line) => line.startsWith(`stadium_topic_occupancy{topic="t${topics.length}"`)) &&
        now.every((line) => line.endsWith(` ${/topic="t(\d+)"/.exec(line)![1]}`))
        ? now
        : null;
    }, 'every count right');
    expect(lines).toHaveLength(topicOccupancyMax);
    const exportedTopics = lines.map((line) => /topic="(t\d+)"/.exec(line)![1]).sort();
    expect(exportedTopics).toEqual(topics.slice(5).sort());
  });
});

const redis = await redisGate();

if (!redis.up && !redis.required) {
  it.skip(redis.skipMessage, () => {});
} else {
  describe('with the Redis store', () => {
    const prefix = uniquePrefix('occupancy');
    afterAll(async () => {
      if (!redis.up) return;
      const client = new Redis(redisUrl);
      const keys = await client.keys(`${prefix}*`);
      if (keys.length > 0) await client.del(...keys);
      await client.quit();
    });

    it("a dispatcher on Redis counts its frontend's viewers: watchers are told, GET answers the same", async () => {
      if (!redis.up) throw new Error(redis.requiredMessage);
      const internalToken = 'between-nodes-0123456789';
      const flags = { internalToken, occupancyEveryMs: everyMs };
      const dispatcher = await start({ ...flags, role: 'dispatcher', store: redisUrl, redisPrefix: prefix });
      const frontend = await start({ ...flags, role: 'frontend', dispatchers: dispatcher.url });
      const sse = await openStream(`${frontend.url}/v1/stream?topic=room&occupancy=1`);
      const ws = await subscribedWs(wsUrl(frontend), 'room', true);
      await waitFor(() => lastCount(sseCounts(sse)) === 2 && lastCount(wsCounts(ws)) === 2, 'both told 2');
      const answer = await fetch(`${dispatcher.url}/v1/topics/room/occupancy`);
      expect(await answer.json()).toEqual({ topic: 'room', count: 2, byDc: { local: 2 }, stale: [] });
    });
  });
}
