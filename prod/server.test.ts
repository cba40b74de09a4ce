// Goal: one `stadium serve` process keeps every promise of the HTTP API with real clients over real
// sockets: SSE (EventSource) and WebSocket delivery, resume, bad input, auth, slow clients,
// metrics, graceful shutdown, and Redis going away and coming back.
// Method: start servers in this process on free ports (port 0) and drive them with `eventsource`,
// `ws`, fetch and raw TCP sockets.
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import type { Server as NetServer, Socket } from 'node:net';
import { EventSource } from 'eventsource';
import { SignJWT } from 'jose';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { serveConfigFrom } from './config.ts';
import { createLogger } from './log.ts';
import { startServer } from './server.ts';
import type { RunningServer } from './server.ts';
import { redisGate, redisUrl, uniquePrefix } from './test-gate.ts';
import {
  cleanups,
  closeTestServers,
  metric,
  openStream,
  openWs,
  publish,
  servers,
  start,
  startPair,
  wsUrl,
} from './test-server.ts';
import { sleep, waitFor } from './wait-for.ts';

afterEach(closeTestServers);

describe('delivery', () => {
  it('an EventSource client and a WebSocket client each receive a published event exactly once', async () => {
    const server = await start();
    const received: Record<string, unknown>[] = [];
    const source = new EventSource(`${server.url}/v1/stream?topic=likes`);
    cleanups.push(() => source.close());
    source.addEventListener('message', (message) =>
      received.push(JSON.parse(message.data) as Record<string, unknown>),
    );
    await new Promise((resolve) => source.addEventListener('open', resolve));
    const ws = await openWs(wsUrl(server));
    ws.send({ type: 'subscribe', topic: 'likes' });
    await waitFor(() => ws.messages.find((m) => m.type === 'subscribed'), 'ws subscribed');

    const reply = await publish(server.url, { topic: 'likes', payload: 'hello ❤' });
    expect(reply.status).toBe(200);
    const id = reply.json.id as string;
    await waitFor(
      () => received.length >= 1 && ws.messages.some((m) => m.type === 'event'),
      'both deliveries',
    );
    await sleep(100);
    expect(received).toEqual([
      { id, topic: 'likes', payload: 'hello ❤', origin: 'local', publishedAtMs: expect.any(Number) },
    ]);
    expect(ws.messages.filter((m) => m.type === 'event')).toEqual([
      {
        type: 'event',
        id,
        topic: 'likes',
        payload: 'hello ❤',
        origin: 'local',
        publishedAtMs: expect.any(Number),
      },
    ]);
    expect(await metric(server, 'stadium_events_delivered_total')).toBe(2);
  });

  it('a publish with an id is idempotent for viewers: a retry with the same id is not delivered twice', async () => {
    const server = await start();
    const stream = await openStream(`${server.url}/v1/stream?topic=orders`);
    expect((await publish(server.url, { topic: 'orders', payload: 'a', id: 'order-1' })).json).toEqual({
      id: 'order-1',
    });
    expect((await publish(server.url, { topic: 'orders', payload: 'a', id: 'order-1' })).json).toEqual({
      id: 'order-1',
    });
    await waitFor(() => stream.events().length === 1, 'the event');
    await sleep(100);
    expect(stream.events().map((e) => e.id)).toEqual(['order-1']);
  });

  it('a batch publish answers each event in order; bad events fail alone and the good ones are delivered', async () => {
    const server = await start({ payloadLimit: '1024' });
    const stream = await openStream(`${server.url}/v1/stream?topic=scores&topic=goals`);
    const ws = await openWs(wsUrl(server));
    ws.send({ type: 'subscribe', topic: 'goals' });
    await waitFor(() => ws.messages.find((m) => m.type === 'subscribed'), 'subscribed');
    const batch = await publish(server.url, [
      { topic: 'scores', payload: '1-0' },
      { topic: 'bad topic', payload: 'x' },
      { topic: 'goals', payload: 'header', id: 'goal-1' },
      { topic: 'goals', payload: 'x'.repeat(2_000) },
      'not an event',
    ]);
    expect(batch.status).toBe(200);
    const results = batch.json.results as Record<string, unknown>[];
    expect(results.map((r) => r.id ?? `${String(r.status)} ${String(r.code)}`)).toEqual([
      expect.any(String),
      '400 bad-topic',
      'goal-1',
      '413 payload-too-large',
      '400 bad-request',
    ]);
    await waitFor(() => stream.events().length === 2, 'both good events on SSE');
    await waitFor(() => ws.messages.some((m) => m.type === 'event'), 'the goal on WebSocket');
    await sleep(100);
    expect(stream.events().map((e) => e.payload)).toEqual(['1-0', 'header']);
    expect(ws.messages.filter((m) => m.type === 'event').map((m) => m.payload)).toEqual(['header']);
    expect(await metric(server, 'stadium_events_published_total', { result: 'ok' })).toBe(2);
    // A batch with nothing to publish still gets its answers; an empty one is refused.
    expect((await publish(server.url, [{ topic: '' }])).json).toEqual({
      results: [{ status: 400, code: 'bad-topic', error: expect.any(String) }],
    });
    expect(await publish(server.url, [])).toMatchObject({ status: 400, json: { code: 'bad-request' } });
  });

  it('SSE: a retry hint and heartbeats; Last-Event-ID replays what history holds, or says it cannot', async () => {
    const server = await start({ heartbeatMs: '100', sseRetryMs: '1234' });
    const first = await openStream(`${server.url}/v1/stream?topic=room`);
    expect(await waitFor(() => first.frames[0], 'the first frame')).toEqual({ retry: '1234' });
    const ids: string[] = [];
    for (const payload of ['one', 'two', 'three'])
      ids.push((await publish(server.url, { topic: 'room', payload })).json.id as string);
    await waitFor(() => first.events().length === 3, 'three events');
    await waitFor(() => first.frames.some((f) => f.comment === 'heartbeat'), 'a heartbeat');

    const resumed = await openStream(`${server.url}/v1/stream?topic=room`, { 'Last-Event-ID': ids[0]! });
    await waitFor(() => resumed.events().length === 2, 'the replay');
    expect(resumed.events().map((e) => e.payload)).toEqual(['two', 'three']);

    const viaQuery = await openStream(`${server.url}/v1/stream?topic=room&lastEventId=${ids[1]}`);
    await waitFor(() => viaQuery.events().length === 1, 'the replay via query');
    expect(viaQuery.events()[0]!.payload).toBe('three');

    const unknown = await openStream(`${server.url}/v1/stream?topic=room`, {
      'Last-Event-ID': 'long-gone-1',
    });
    await waitFor(() => unknown.notices().length === 1, 'the notice');
    expect(unknown.notices()[0]).toMatchObject({ code: 'history-unavailable', eventId: 'long-gone-1' });
  });

  it('WebSocket clients can unsubscribe, publish and ping', async () => {
    const server = await start();
    // A viewer that stays on `a`: events to `a` still fan out (through uWebSockets.js' pub/sub for
    // WebSockets), and must not reach a WebSocket that left it.
    const stays = await openWs(wsUrl(server));
    stays.send({ type: 'subscribe', topic: 'a' });
    await waitFor(() => stays.messages.find((m) => m.type === 'subscribed'), 'the viewer that stays');
    const ws = await openWs(wsUrl(server));
    ws.send({ type: 'subscribe', topics: ['a', 'b'] });
    await waitFor(() => ws.messages.filter((m) => m.type === 'subscribed').length === 2, 'subscribed twice');
    ws.send({ type: 'unsubscribe', topic: 'a' });
    ws.send({ type: 'publish', topic: 'b', payload: 'from ws' });
    await waitFor(
      () => ws.messages.find((m) => m.type === 'notice' && m.code === 'published'),
      'published notice',
    );
    await waitFor(() => ws.messages.find((m) => m.type === 'event'), 'the event');
    await publish(server.url, { topic: 'a', payload: 'not for ws on a' });
    await waitFor(
      () => stays.messages.find((m) => m.type === 'event' && m.payload === 'not for ws on a'),
      'the event on a',
    );
    ws.send({ type: 'ping' });
    await waitFor(() => ws.messages.find((m) => m.type === 'pong'), 'pong');
    expect(ws.messages.filter((m) => m.type === 'event').map((m) => m.payload)).toEqual(['from ws']);
    expect(await metric(server, 'stadium_events_published_total', { result: 'ok' })).toBe(2);
  });
});

describe('resume over WebSocket', () => {
  it('a WebSocket client resuming from an event id gets what came after it, then live events', async () => {
    const server = await start();
    const viewer = await openStream(`${server.url}/v1/stream?topic=match`);
    const ids: string[] = [];
    for (const payload of ['kickoff', 'goal', 'red card']) {
      ids.push((await publish(server.url, { topic: 'match', payload })).json.id as string);
    }
    await waitFor(() => viewer.events().length === 3, 'history on the frontend');
    const ws = await openWs(wsUrl(server));
    ws.send({ type: 'resume', topics: ['match'], lastEventId: ids[0] });
    await waitFor(() => ws.messages.filter((m) => m.type === 'event').length === 2, 'the replay');
    await publish(server.url, { topic: 'match', payload: 'final whistle' });
    await waitFor(() => ws.messages.filter((m) => m.type === 'event').length === 3, 'the live event');
    expect(ws.messages.filter((m) => m.type === 'event').map((m) => m.payload)).toEqual([
      'goal',
      'red card',
      'final whistle',
    ]);
  });
});

describe('bad input gets a 4xx naming the problem, and the server keeps serving', () => {
  it('publish: malformed JSON, bad topic, bad id, payload too large (parsed and streamed), wrong method, unknown route', async () => {
    const server = await start({ payloadLimit: '1024' });
    expect(await publish(server.url, '{"topic":')).toMatchObject({
      status: 400,
      json: { code: 'malformed-json' },
    });
    expect(await publish(server.url, { topic: 'no spaces', payload: 'x' })).toMatchObject({
      status: 400,
      json: { code: 'bad-topic', error: expect.stringContaining('no spaces') },
    });
    expect(await publish(server.url, { topic: 't', payload: 'x', id: 'a b' })).toMatchObject({
      status: 400,
      json: { code: 'bad-id' },
    });
    expect(await publish(server.url, { topic: 't', payload: 'x'.repeat(1025) })).toMatchObject({
      status: 413,
      json: { code: 'payload-too-large', error: expect.stringContaining('1,024') },
    });
    // A body far past the limit is refused from its Content-Length, before it is read.
    const early = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${server.url}/v1/publish`,
        { method: 'POST', headers: { 'content-length': String(50_000_000) } },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write('{"topic":"t","payload":"');
    });
    expect(early.status).toBe(413);
    expect(JSON.parse(early.body)).toMatchObject({ code: 'payload-too-large' });
    // A chunked body with no length is cut off as soon as it passes the limit.
    const streamed = await fetch(`${server.url}/v1/publish`, {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(`{"topic":"t","payload":"${'y'.repeat(40_000)}`));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);

    const wrongMethod = await fetch(`${server.url}/v1/publish`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect(await wrongMethod.json()).toMatchObject({ code: 'method-not-allowed' });
    const deleteStream = await fetch(`${server.url}/v1/stream?topic=t`, { method: 'DELETE' });
    expect(deleteStream.status).toBe(405);
    const unknown = await fetch(`${server.url}/v2/everything`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({
      code: 'not-found',
      error: expect.stringContaining('/v2/everything'),
    });

    expect(await publish(server.url, { topic: 't', payload: 'still fine' })).toMatchObject({ status: 200 });
    expect(
      await metric(server, 'stadium_http_errors_total', { code: 'payload-too-large' }),
    ).toBeGreaterThanOrEqual(2);
  });

  it('stream: no topic, bad topic, too many topics, bad Last-Event-ID', async () => {
    const server = await start({ maxTopics: '2' });
    expect(await openStream(`${server.url}/v1/stream`)).toMatchObject({
      status: 400,
      json: { code: 'missing-topic' },
    });
    expect(await openStream(`${server.url}/v1/stream?topic=a%20b`)).toMatchObject({
      status: 400,
      json: { code: 'bad-topic' },
    });
    expect(await openStream(`${server.url}/v1/stream?topic=a&topic=b&topic=c`)).toMatchObject({
      status: 400,
      json: { code: 'too-many-topics', error: expect.stringContaining('2') },
    });
    expect(await openStream(`${server.url}/v1/stream?topic=a`, { 'Last-Event-ID': 'x y' })).toMatchObject({
      status: 400,
      json: { code: 'bad-id' },
    });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('WebSocket: malformed JSON, unknown types, too many topics, oversize frames; the socket stays open until a frame is absurd', async () => {
    const server = await start({ payloadLimit: '1024', maxTopics: '2' });
    const ws = await openWs(wsUrl(server));
    ws.send('{nope');
    ws.send({ type: 'dance' });
    ws.send({ type: 'subscribe', topics: ['a', 'b', 'c'] });
    ws.send({ type: 'subscribe', topic: 'bad topic' });
    ws.send({ type: 'publish', topic: 't', payload: 'z'.repeat(3000) });
    ws.send('x'.repeat(7_000));
    await waitFor(() => ws.messages.length >= 6, 'six answers');
    expect(ws.messages.map((m) => `${m.type} ${m.status ?? ''} ${m.code}`)).toEqual([
      'error 400 malformed-json',
      'error 400 unknown-type',
      'error 400 too-many-topics',
      'error 400 bad-topic',
      'notice  payload-too-large',
      'error 413 payload-too-large',
    ]);
    ws.send({ type: 'ping' });
    await waitFor(() => ws.messages.find((m) => m.type === 'pong'), 'pong after errors');
    ws.send('x'.repeat(20_000));
    // Past twice the limit uWebSockets.js drops the connection outright (no close frame: 1006).
    await waitFor(() => ws.closed, 'the close');
    expect([1006, 1009]).toContain(ws.closed?.code);
    expect(await publish(server.url, { topic: 't', payload: 'ok' })).toMatchObject({ status: 200 });
  });

  it('internal messages are checked too', async () => {
    const internalToken = 'internal-0123456789abcdef';
    const server = await start({ internalToken });
    const post = (body: string): Promise<Response> =>
      fetch(`${server.url}/internal/message`, {
        method: 'POST',
        body,
        headers: { authorization: `Bearer ${internalToken}` },
      });
    expect((await post('{')).status).toBe(400);
    const bad = await post(JSON.stringify({ source: 'x', message: { type: 'renew', topics: 'nope' } }));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'bad-message' });
    const good = await post(JSON.stringify({ source: 'x', message: { type: 'forward-ack', forwardId: 99 } }));
    expect(good.status).toBe(202);
  });
});

describe('auth', () => {
  const jwtSecret = 'jwt-test-secret';
  const token = (topics: string[]): Promise<string> =>
    new SignJWT({ topics })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(jwtSecret));

  it('publish token: missing 401, wrong 403, right 200, over HTTP and over WebSocket alike', async () => {
    const server = await start({ publishToken: 's3cret' });
    const ws = await openWs(wsUrl(server));
    ws.send({ type: 'subscribe', topic: 't' });
    ws.send({ type: 'publish', topic: 't', payload: 'sneaky' });
    ws.send({ type: 'publish', topic: 't', payload: 'guess', token: 'nope' });
    ws.send({ type: 'publish', topic: 't', payload: 'ws ok', token: 's3cret' });
    await waitFor(() => ws.messages.some((m) => m.type === 'event'), 'the allowed ws publish');
    expect(ws.messages.filter((m) => m.type === 'error').map((m) => m.status)).toEqual([401, 403]);
    expect(ws.messages.filter((m) => m.type === 'event').map((m) => m.payload)).toEqual(['ws ok']);
    expect(await publish(server.url, { topic: 't', payload: 'x' })).toMatchObject({
      status: 401,
      json: { code: 'unauthorized' },
    });
    expect(
      await publish(server.url, { topic: 't', payload: 'x' }, { authorization: 'Bearer nope' }),
    ).toMatchObject({
      status: 403,
      json: { code: 'forbidden' },
    });
    expect(
      await publish(server.url, { topic: 't', payload: 'x' }, { authorization: 'Bearer s3cret' }),
    ).toMatchObject({ status: 200 });
  });

  it('subscribe tokens: missing 401, other topics 403 and nothing subscribed, granted topics stream', async () => {
    const server = await start({ jwtSecret });
    expect(await openStream(`${server.url}/v1/stream?topic=likes`)).toMatchObject({
      status: 401,
      json: { code: 'unauthorized' },
    });
    const other = await openStream(`${server.url}/v1/stream?topic=likes&token=${await token(['other'])}`);
    expect(other).toMatchObject({
      status: 403,
      json: { code: 'forbidden', error: expect.stringContaining('likes') },
    });
    expect((await (await fetch(`${server.url}/healthz`)).json()) as unknown).toMatchObject({
      connections: 0,
      topics: 0,
    });

    const granted = await openStream(`${server.url}/v1/stream?topic=likes`, {
      authorization: `Bearer ${await token(['likes'])}`,
    });
    expect(granted.status).toBe(200);
    await publish(server.url, { topic: 'likes', payload: 'for you' });
    await waitFor(() => granted.events().length === 1, 'the granted event');

    await expect(openWs(wsUrl(server))).rejects.toThrow('HTTP 401');
    // A token is checked right after the upgrade: a bad one gets a 403 error and the socket is
    // closed; what it asked for meanwhile is never done.
    const forged = await openWs(wsUrl(server, '?token=forged.token.here'));
    forged.send({ type: 'subscribe', topic: 'likes' });
    await waitFor(() => forged.closed, 'the forged socket closed');
    expect(forged.messages).toEqual([
      { type: 'error', status: 403, code: 'forbidden', error: expect.stringContaining('not valid') },
    ]);
    expect(forged.closed?.code).toBe(1008);
    expect(await metric(server, 'stadium_subscriptions')).toBe(1);
    const ws = await openWs(wsUrl(server, `?token=${await token(['likes'])}`));
    ws.send({ type: 'subscribe', topic: 'secret' });
    ws.send({ type: 'subscribe', topic: 'likes' });
    await waitFor(() => ws.messages.length >= 2, 'two answers');
    expect(ws.messages.slice(0, 2)).toEqual([
      { type: 'error', status: 403, code: 'forbidden', error: 'the token does not allow topic "secret"' },
      { type: 'subscribed', topic: 'likes' },
    ]);
    const wildcard = await openWs(wsUrl(server), { authorization: `Bearer ${await token(['*'])}` });
    wildcard.send({ type: 'subscribe', topic: 'anything' });
    await waitFor(() => wildcard.messages.find((m) => m.type === 'subscribed'), 'wildcard subscribed');
  });
});

describe('slow clients', () => {
  /** An SSE client that never reads: the kernel buffers fill, then the server's. */
  async function stalledSse(
    server: RunningServer,
    topic: string,
  ): Promise<{ socket: Socket; closed: () => boolean }> {
    const { port } = new URL(server.url);
    const socket = connect(Number(port), '127.0.0.1');
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('error', () => (closed = true));
    cleanups.push(() => socket.destroy());
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`GET /v1/stream?topic=${topic} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await waitFor(
      async () => (await metric(server, 'stadium_connections', { transport: 'sse' })) === 1,
      'connection',
    );
    socket.pause();
    return { socket, closed: () => closed };
  }

  const big = 'p'.repeat(60_000);

  it('policy close: a stalled SSE client past the limit is closed and counted; others keep receiving', async () => {
    const server = await start({ slowClientBytes: '65536' });
    const stalled = await stalledSse(server, 'flood');
    const healthy = await openStream(`${server.url}/v1/stream?topic=flood`);
    for (let i = 0; i < 400; i++) {
      await publish(server.url, { topic: 'flood', payload: big });
      if ((await metric(server, 'stadium_backpressure_total', { transport: 'sse', action: 'close' })) === 1)
        break;
    }
    expect(await metric(server, 'stadium_backpressure_total', { transport: 'sse', action: 'close' })).toBe(1);
    expect(await metric(server, 'stadium_connections', { transport: 'sse' })).toBe(1);
    // A paused socket does not notice its end until it reads again.
    stalled.socket.resume();
    await waitFor(() => stalled.closed(), 'the slow client closed');
    await publish(server.url, { topic: 'flood', payload: 'after' });
    await waitFor(() => healthy.events().some((e) => e.payload === 'after'), 'healthy client still served');
  });

  it('policy drop: a stalled SSE client loses events, stays connected, and is served again once it drains', async () => {
    const server = await start({ slowClientBytes: '65536', slowClientPolicy: 'drop' });
    const stalled = await stalledSse(server, 'flood');
    for (let i = 0; i < 400; i++) {
      await publish(server.url, { topic: 'flood', payload: big });
      if ((await metric(server, 'stadium_backpressure_total', { action: 'drop' })) >= 5) break;
    }
    expect(
      await metric(server, 'stadium_backpressure_total', { transport: 'sse', action: 'drop' }),
    ).toBeGreaterThanOrEqual(5);
    expect(stalled.closed()).toBe(false);
    let tail = '';
    stalled.socket.on('data', (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-2_000)));
    stalled.socket.resume();
    await sleep(300);
    await waitFor(async () => {
      await publish(server.url, { topic: 'flood', payload: 'drained' });
      return tail.includes('"payload":"drained"');
    }, 'delivery after draining');
    expect(stalled.closed()).toBe(false);
  });

  it('policy drop: a stalled WebSocket client loses events but stays connected', async () => {
    const server = await start({ slowClientBytes: '65536', slowClientPolicy: 'drop' });
    const ws = await openWs(wsUrl(server));
    ws.send({ type: 'subscribe', topic: 'flood' });
    await waitFor(() => ws.messages.find((m) => m.type === 'subscribed'), 'subscribed');
    (ws.socket as unknown as { _socket: Socket })._socket.pause();
    for (let i = 0; i < 400; i++) {
      await publish(server.url, { topic: 'flood', payload: big });
      if ((await metric(server, 'stadium_backpressure_total', { transport: 'ws', action: 'drop' })) >= 5)
        break;
    }
    expect(
      await metric(server, 'stadium_backpressure_total', { transport: 'ws', action: 'drop' }),
    ).toBeGreaterThanOrEqual(5);
    expect(await metric(server, 'stadium_backpressure_total', { transport: 'ws', action: 'close' })).toBe(0);
    expect(await metric(server, 'stadium_connections', { transport: 'ws' })).toBe(1);
  });

  it('policy close: a stalled WebSocket client past the limit is closed and counted', async () => {
    const server = await start({ slowClientBytes: '65536' });
    const ws = await openWs(wsUrl(server));
    ws.send({ type: 'subscribe', topic: 'flood' });
    await waitFor(() => ws.messages.find((m) => m.type === 'subscribed'), 'subscribed');
    (ws.socket as unknown as { _socket: Socket })._socket.pause();
    for (let i = 0; i < 400; i++) {
      await publish(server.url, { topic: 'flood', payload: big });
      if ((await metric(server, 'stadium_backpressure_total', { transport: 'ws', action: 'close' })) === 1)
        break;
    }
    expect(await metric(server, 'stadium_backpressure_total', { transport: 'ws', action: 'close' })).toBe(1);
    expect(await metric(server, 'stadium_connections', { transport: 'ws' })).toBe(0);
  });
});

describe('operations', () => {
  it('a client that leaves is forgotten: its connection, and the topic it alone watched', async () => {
    const server = await start();
    const stream = await openStream(`${server.url}/v1/stream?topic=alone`);
    const ws = await openWs(wsUrl(server));
    ws.send({ type: 'subscribe', topic: 'alone-too' });
    await waitFor(() => ws.messages.find((m) => m.type === 'subscribed'), 'subscribed');
    const health = async (): Promise<Record<string, unknown>> =>
      (await (await fetch(`${server.url}/healthz`)).json()) as Record<string, unknown>;
    expect(await health()).toMatchObject({ connections: 2, topics: 2 });
    stream.close();
    ws.socket.close();
    await waitFor(async () => (await health()).connections === 0, 'both connections forgotten');
    expect(await health()).toMatchObject({ topics: 0 });
  });

  it('/healthz and /metrics describe the node', async () => {
    const server = await start({ dc: 'dc-x' });
    const stream = await openStream(`${server.url}/v1/stream?topic=t1&topic=t2`);
    expect(stream.status).toBe(200);
    await publish(server.url, { topic: 't1', payload: 'x' });
    await publish(server.url, { topic: 'bad topic', payload: 'x' });
    await waitFor(() => stream.events().length === 1, 'event');
    const health = (await (await fetch(`${server.url}/healthz`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({
      status: 'ok',
      role: 'all',
      dc: 'dc-x',
      connections: 1,
      topics: 2,
      store: 'up',
      node: server.url,
    });
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const text = await metrics.text();
    for (const name of [
      'stadium_connections',
      'stadium_subscriptions',
      'stadium_events_published_total',
      'stadium_events_delivered_total',
      'stadium_store_request_seconds_bucket',
      'stadium_core_events_total',
    ]) {
      expect(text).toContain(name);
    }
    expect(await metric(server, 'stadium_subscriptions')).toBe(2);
    expect(await metric(server, 'stadium_events_published_total', { result: 'ok' })).toBe(1);
    expect(await metric(server, 'stadium_http_errors_total', { code: 'bad-topic' })).toBe(1);
  });

  it('two processes in one: a frontend reaches its dispatcher over HTTP, and SIGTERM-style shutdown unregisters its topics', async () => {
    // (Forged node messages are refused: prod/internal-auth.test.ts.)
    const { dispatcher, frontend } = await startPair();
    const stream = await openStream(`${frontend.url}/v1/stream?topic=live`);
    const ws = await openWs(wsUrl(frontend));
    ws.send({ type: 'subscribe', topic: 'live' });
    await waitFor(() => ws.messages.find((m) => m.type === 'subscribed'), 'subscribed');
    await waitFor(
      async () => (await metric(dispatcher, 'stadium_lease_changes_total', { change: 'granted' })) === 1,
      'lease',
    );
    await publish(dispatcher.url, { topic: 'live', payload: 'over http' });
    await waitFor(
      () => stream.events().length === 1 && ws.messages.some((m) => m.type === 'event'),
      'both deliveries',
    );

    const closing = frontend.close();
    servers.splice(servers.indexOf(frontend), 1);
    await closing;
    await waitFor(() => stream.ended(), 'the SSE stream ends');
    expect(stream.frames.at(-1)?.retry).toBe('2000');
    await waitFor(() => ws.closed, 'the WebSocket closes');
    expect(ws.closed?.code).toBe(1001);
    expect(await metric(dispatcher, 'stadium_lease_changes_total', { change: 'removed' })).toBe(1);
    await expect(fetch(`${frontend.url}/healthz`)).rejects.toThrow();
  });
});

describe('store faults', () => {
  it('Redis unreachable: logged at start, /healthz 503 degraded, publish 503 JSON with a retry hint', async () => {
    const lines: string[] = [];
    const parsed = serveConfigFrom(
      { port: '0', store: 'redis://127.0.0.1:1', storeTimeoutMs: '200', shutdownGraceMs: '200' },
      {},
    );
    if (!parsed.ok) throw new Error(parsed.error);
    const server = await startServer(
      parsed.config,
      createLogger('info', {}, (line) => lines.push(line)),
    );
    servers.push(server);
    const warning = await waitFor(
      () => lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((l) => l.level === 'warn'),
      'the store-down warning',
    );
    expect(warning).toMatchObject({ store: 'redis://127.0.0.1:1' });
    expect(String(warning.msg)).toContain('store down');
    expect(String(warning.error)).toContain('ECONNREFUSED');
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'degraded', store: 'down', role: 'all' });
    const reply = await publish(server.url, { topic: 'likes', payload: 'x' });
    expect(reply.status).toBe(503);
    expect(reply.json).toMatchObject({
      code: 'store-unavailable',
      retryAfterMs: expect.any(Number),
      error: expect.any(String),
    });
    expect(Number(reply.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

const redis = await redisGate();

/** A TCP proxy to Redis that the test can cut and restore, on a port that stays the same. */
async function redisProxy(): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: NetServer | null = null;
  let port = 0;
  const listen = async (): Promise<void> => {
    server = createServer((client) => {
      const upstream = connect(6379, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    port = (server!.address() as { port: number }).port;
  };
  await listen();
  const cut = async (): Promise<void> => {
    const closing = new Promise((resolve) => server!.close(resolve));
    for (const s of sockets) s.destroy();
    await closing;
  };
  cleanups.push(() => void cut().catch(() => {}));
  return { port, cut, restore: listen };
}

if (!redis.up && !redis.required) {
  it.skip(redis.skipMessage, () => {});
} else {
  describe('Redis store', () => {
    const prefix = uniquePrefix('server');
    afterAll(async () => {
      if (!redis.up) return;
      const client = new Redis(redisUrl);
      const keys = await client.keys(`${prefix}*`);
      if (keys.length > 0) await client.del(...keys);
      await client.quit();
    });

    it('Redis goes away and comes back: 503 meanwhile, connections stay, the frontend re-registers by itself', async () => {
      if (!redis.up) throw new Error(redis.requiredMessage);
      const proxy = await redisProxy();
      const server = await start({
        store: `redis://127.0.0.1:${proxy.port}`,
        redisPrefix: `${prefix}comeback:`,
        leaseMs: '900',
        storeTimeoutMs: '200',
      });
      await waitFor(
        async () =>
          ((await (await fetch(`${server.url}/healthz`)).json()) as { store: string }).store === 'up',
        'store up',
      );
      const stream = await openStream(`${server.url}/v1/stream?topic=likes`);
      await waitFor(async () => {
        await publish(server.url, { topic: 'likes', payload: 'before' });
        return stream.events().length > 0;
      }, 'delivery before the cut');

      await proxy.cut();
      const down = await publish(server.url, { topic: 'likes', payload: 'during' });
      expect(down.status).toBe(503);
      expect(down.json).toMatchObject({ code: 'store-unavailable' });
      // Long enough for the lease to have died in Redis had it been reachable.
      await sleep(1_200);
      expect(stream.ended()).toBe(false);

      await proxy.restore();
      const delivered = await waitFor(
        async () => {
          const reply = await publish(server.url, { topic: 'likes', payload: 'after' });
          return reply.status === 200 && stream.events().some((e) => e.payload === 'after');
        },
        'delivery after Redis is back',
        10_000,
      );
      expect(delivered).toBe(true);
      expect(stream.events().some((e) => e.payload === 'during')).toBe(false);
    });
  });
}
