// Goal: a payload is any JSON value, and every viewer receives that very value: over SSE (an
// EventSource and the raw frames) and over WebSocket, published by POST, by batch or by WebSocket,
// on one server and across a dispatcher and a frontend; what is not one (too deep, missing) or is
// too large is refused with a JSON body naming the problem.
// Method: start servers in this process on free ports, publish one payload of each JSON kind, and
// compare what each viewer gets with what was sent; the comparison is first shown to fail on a
// planted wire that encodes payloads twice.
import { isDeepStrictEqual } from 'node:util';
import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import type { Event, JsonValue } from '../core/index.ts';
import type { RunningServer } from './server.ts';
import {
  cleanups,
  closeTestServers,
  openStream,
  openWs,
  publish,
  start,
  startPair,
  wsUrl,
} from './test-server.ts';
import type { TestStream, WsClient } from './test-server.ts';
import { waitFor } from './wait-for.ts';
import { sseEvent, wsEvent } from './wire.ts';

afterEach(closeTestServers);

/** One payload of each JSON kind, and strings that look like JSON (they must stay strings). */
const payloads: JsonValue[] = [
  { user: 42, name: 'Zoë ❤', tags: ['a', 'b'], nested: { deep: [[], {}], none: null } },
  [1, 'two', null, false, { three: 3 }],
  42,
  -7.25,
  0,
  true,
  false,
  null,
  'a plain string',
  '',
  '{"user":42}',
  '[1,2]',
  '42',
  'null',
];

/** The payloads a viewer got that differ from those sent, in order (extra ones count as differences). */
function altered(sent: readonly JsonValue[], received: readonly unknown[]): string[] {
  const problems: string[] = [];
  for (let i = 0; i < Math.max(sent.length, received.length); i++) {
    if (!isDeepStrictEqual(received[i], sent[i]))
      problems.push(`#${i}: sent ${JSON.stringify(sent[i])}, received ${JSON.stringify(received[i])}`);
  }
  return problems;
}

describe('the comparison catches a wire that encodes payloads twice', () => {
  const event = (payload: JsonValue): Event => ({
    id: 'e-1',
    topic: 't',
    origin: 'local',
    publishedAtMs: 1,
    payload,
  });
  const viaSse = (format: (event: Event) => string): unknown[] =>
    payloads.map((payload) => {
      const data = /^data: (.*)$/m.exec(format(event(payload)))?.[1] as string;
      return (JSON.parse(data) as { payload: unknown }).payload;
    });
  const viaWs = (format: (event: Event) => string): unknown[] =>
    payloads.map((payload) => (JSON.parse(format(event(payload))) as { payload: unknown }).payload);

  it('the real wire: nothing altered', () => {
    expect(altered(payloads, viaSse(sseEvent))).toEqual([]);
    expect(altered(payloads, viaWs(wsEvent))).toEqual([]);
  });

  it('planted: payloads stringified before embedding are caught, strings and all', () => {
    const twice = (event: Event): Event => ({ ...event, payload: JSON.stringify(event.payload) });
    expect(
      altered(
        payloads,
        viaSse((e) => sseEvent(twice(e))),
      ),
    ).toHaveLength(payloads.length);
    expect(
      altered(
        payloads,
        viaWs((e) => wsEvent(twice(e))),
      ),
    ).toHaveLength(payloads.length);
  });

  it('planted: the usual half-fix (strings as they are, other values as JSON text) is caught too', () => {
    const halfFixed = (event: Event): Event => ({
      ...event,
      payload: typeof event.payload === 'string' ? event.payload : JSON.stringify(event.payload),
    });
    const nonStrings = payloads.filter((p) => typeof p !== 'string').length;
    expect(
      altered(
        payloads,
        viaSse((e) => sseEvent(halfFixed(e))),
      ),
    ).toHaveLength(nonStrings);
    expect(
      altered(
        payloads,
        viaWs((e) => wsEvent(halfFixed(e))),
      ),
    ).toHaveLength(nonStrings);
  });
});

/** Viewers of `topic` on `frontend`: an EventSource, a raw SSE reader and a WebSocket. */
async function viewers(
  frontend: RunningServer,
  topic: string,
): Promise<{ payloads: () => Record<string, unknown[]>; raw: TestStream; ws: WsClient }> {
  const eventSource: unknown[] = [];
  const source = new EventSource(`${frontend.url}/v1/stream?topic=${topic}`);
  cleanups.push(() => source.close());
  source.addEventListener('message', (message) =>
    eventSource.push((JSON.parse(message.data) as { payload: unknown }).payload),
  );
  await new Promise((resolve) => source.addEventListener('open', resolve));
  const raw = await openStream(`${frontend.url}/v1/stream?topic=${topic}`);
  const ws = await openWs(wsUrl(frontend));
  ws.send({ type: 'subscribe', topic });
  await waitFor(() => ws.messages.find((m) => m.type === 'subscribed'), 'ws subscribed');
  return {
    payloads: () => ({
      eventSource,
      sse: raw.events().map((e) => e.payload),
      ws: ws.messages.filter((m) => m.type === 'event').map((m) => m.payload),
    }),
    raw,
    ws,
  };
}

/** Waits until every viewer has `count` events, then returns what differs from `sent`, per viewer. */
async function delivered(
  watching: Awaited<ReturnType<typeof viewers>>,
  sent: readonly JsonValue[],
): Promise<Record<string, string[]>> {
  await waitFor(
    () => Object.values(watching.payloads()).every((got) => got.length >= sent.length),
    'every viewer has every event',
  );
  return Object.fromEntries(
    Object.entries(watching.payloads()).map(([viewer, got]) => [viewer, altered(sent, got)]),
  );
}

const nothingAltered = { eventSource: [], sse: [], ws: [] };

describe('any JSON payload reaches viewers as the same JSON value', () => {
  it('published one by one over HTTP: SSE and WebSocket viewers get each value as it was', async () => {
    const server = await start();
    const watching = await viewers(server, 'kinds');
    for (const payload of payloads) {
      expect(await publish(server.url, { topic: 'kinds', payload }), JSON.stringify(payload)).toMatchObject({
        status: 200,
      });
    }
    expect(await delivered(watching, payloads)).toEqual(nothingAltered);
    // On the wire itself: the object is embedded as JSON, the string that looks like JSON stays a string.
    const data = watching.raw.frames.filter((f) => f.event === 'message').map((f) => f.data);
    expect(data[0]).toContain('"payload":{"user":42,');
    expect(data[10]).toContain('"payload":"{\\"user\\":42}"');
  });

  it('published as a batch and over WebSocket, through a dispatcher and a frontend of their own', async () => {
    const { dispatcher, frontend } = await startPair();
    const watching = await viewers(frontend, 'kinds');
    const batch = await publish(
      dispatcher.url,
      payloads.map((payload) => ({ topic: 'kinds', payload })),
    );
    expect(batch.status).toBe(200);
    expect(await delivered(watching, payloads)).toEqual(nothingAltered);
    const publisher = await openWs(wsUrl(frontend));
    for (const payload of payloads) publisher.send({ type: 'publish', topic: 'kinds', payload });
    expect(await delivered(watching, [...payloads, ...payloads])).toEqual(nothingAltered);
  });
});

describe('payloads that are not JSON values, or too large, are refused naming the problem', () => {
  const deep = (depth: number): JsonValue => {
    let value: JsonValue = 'bottom';
    for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { a: value };
    return value;
  };
  // {"n":"xxx…"}: 8 bytes around the string.
  const sized = (bytes: number): JsonValue => ({ n: 'x'.repeat(bytes - 8) });

  it('POST: 413 for JSON text over the limit, 400 for nesting past 64 or no payload; batches event by event', async () => {
    const server = await start({ payloadLimit: '1024' });
    expect(await publish(server.url, { topic: 't', payload: sized(1_024) })).toMatchObject({ status: 200 });
    expect(await publish(server.url, { topic: 't', payload: deep(64) })).toMatchObject({ status: 200 });
    const tooLarge = await publish(server.url, { topic: 't', payload: sized(1_100) });
    expect(tooLarge).toMatchObject({
      status: 413,
      json: { code: 'payload-too-large', error: 'payload is 1,100 bytes of JSON, over the limit of 1,024' },
    });
    expect(tooLarge.headers.get('content-type')).toMatch(/application\/json/);
    // A string is measured as JSON too: its quotes count, and each escaped character as its escape.
    expect(await publish(server.url, { topic: 't', payload: '"'.repeat(512) })).toMatchObject({
      status: 413,
      json: { error: 'payload is 1,026 bytes of JSON, over the limit of 1,024' },
    });
    expect(await publish(server.url, { topic: 't', payload: deep(65) })).toMatchObject({
      status: 400,
      json: { code: 'bad-payload', error: 'payload nests deeper than 64' },
    });
    expect(await publish(server.url, { topic: 't' })).toMatchObject({
      status: 400,
      json: { code: 'bad-payload', error: expect.stringContaining('any JSON value') },
    });
    const batch = await publish(server.url, [
      { topic: 't', payload: { ok: true } },
      { topic: 't', payload: sized(2_000) },
      { topic: 't', payload: deep(100) },
      { topic: 't', payload: null },
    ]);
    expect(batch.status).toBe(200);
    expect(batch.json.results).toEqual([
      { id: expect.any(String) },
      {
        status: 413,
        code: 'payload-too-large',
        error: 'payload is 2,000 bytes of JSON, over the limit of 1,024',
      },
      { status: 400, code: 'bad-payload', error: 'payload nests deeper than 64' },
      { id: expect.any(String) },
    ]);
  });

  it('WebSocket publish: a notice names the problem, and the socket stays open', async () => {
    const server = await start({ payloadLimit: '1024' });
    const ws = await openWs(wsUrl(server));
    ws.send({ type: 'publish', topic: 't', payload: sized(1_100) });
    ws.send({ type: 'publish', topic: 't', payload: deep(65) });
    ws.send({ type: 'publish', topic: 't' });
    await waitFor(() => ws.messages.length >= 3, 'three answers');
    expect(ws.messages).toMatchObject([
      {
        type: 'notice',
        code: 'payload-too-large',
        message: 'payload is 1,100 bytes of JSON, over the limit of 1,024',
      },
      { type: 'notice', code: 'bad-payload', message: 'payload nests deeper than 64' },
      { type: 'error', status: 400, code: 'bad-payload' },
    ]);
    ws.send({ type: 'ping' });
    await waitFor(() => ws.messages.find((m) => m.type === 'pong'), 'pong after refusals');
  });
});
