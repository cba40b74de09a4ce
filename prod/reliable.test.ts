// Goal: `stadium serve --mode reliable` keeps reliable mode's promises to real clients over real
// sockets: every event carries its position, SSE ids are the connection's cursor text, and a
// viewer that comes back with its cursor (Last-Event-ID, ?lastEventId=, WebSocket `resume`) gets
// exactly what it missed, in order, without duplicates — from the same frontend, another of its
// datacenter, or one in another datacenter — or a gap notice where the history no longer holds it; a bad cursor is refused.
// Method: servers in this process on free ports (one in role all, or a dispatcher with the memory
// store and two frontends), driven with fetch-based SSE readers and `ws`; what each viewer received
// is compared with what was published, event by event.
import { afterEach, describe, expect, it } from 'vitest';
import { decodeCursors, encodeCursors, isCursorText } from '../core/index.ts';
import type { TopicCursor } from '../core/index.ts';
import { parseClientMessage, parseInternalMessage, parseStreamQuery } from './http-input.ts';
import { freePorts } from './cluster.ts';
import type { RunningServer } from './server.ts';
import { closeTestServers, metric, openStream, openWs, publish, start, wsUrl } from './test-server.ts';
import type { TestStream, WsClient } from './test-server.ts';
import { waitFor } from './wait-for.ts';

afterEach(closeTestServers);

const internalToken = 'between-nodes-0123456789';

/** One dispatcher with the memory store and `frontends` frontends, all reliable, in dc-a. */
async function reliableDc(
  frontends: number,
): Promise<{ dispatcher: RunningServer; frontends: RunningServer[] }> {
  const dispatcher = await start({ role: 'dispatcher', dc: 'dc-a', mode: 'reliable', internalToken });
  const started: RunningServer[] = [];
  for (let i = 0; i < frontends; i++) {
    started.push(
      await start({
        role: 'frontend',
        dc: 'dc-a',
        mode: 'reliable',
        dispatchers: dispatcher.url,
        internalToken,
      }),
    );
  }
  return { dispatcher, frontends: started };
}

/** Publish `payloads` to `topic` one by one (each acknowledged before the next); their ids. */
async function publishAll(base: string, topic: string, payloads: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const payload of payloads) {
    const answer = await publish(base, { topic, payload });
    expect(answer.status, JSON.stringify(answer.json)).toBe(200);
    ids.push(answer.json.id as string);
  }
  return ids;
}

const subscribedFrames = (stream: TestStream): number =>
  stream.frames.filter((f) => f.event === 'subscribed').length;

/** The last SSE `id:` a browser's EventSource would send back as Last-Event-ID. */
function lastId(stream: TestStream): string {
  const id = stream.frames.filter((f) => f.id !== undefined).at(-1)?.id;
  expect(id).toBeDefined();
  return id as string;
}

const wsEvents = (ws: WsClient): Record<string, unknown>[] => ws.messages.filter((m) => m.type === 'event');

/** Events received per topic, as `topic:payload`, in arrival order. */
const received = (events: Record<string, unknown>[]): string[] =>
  events.map((e) => `${String(e.topic)}:${String(e.payload)}`);

describe('reliable mode: positions, cursor ids, subscribed frames', () => {
  it('SSE and WebSocket viewers get events with positions; SSE ids are the connection cursor text after each event', async () => {
    const server = await start({ mode: 'reliable', dc: 'dc-a' });
    const sse = await openStream(`${server.url}/v1/stream?topic=room&topic=lobby`);
    const ws = await openWs(wsUrl(server));
    ws.send({ type: 'subscribe', topic: 'room' });
    await waitFor(() => subscribedFrames(sse) === 2, 'the SSE subscribed frames');
    const wsJoined = await waitFor(() => ws.messages.find((m) => m.type === 'subscribed'), 'WS subscribed');
    expect(wsJoined).toMatchObject({ topic: 'room', position: { dc: 'dc-a', seq: 0 } });
    const joinedText = lastId(sse);
    expect(isCursorText(joinedText)).toBe(true);
    const joined = decodeCursors(joinedText);
    expect(joined.ok && joined.cursors.map((c) => [c.topic, c.seq])).toEqual([
      ['lobby', 0],
      ['room', 0],
    ]);

    const answers: Awaited<ReturnType<typeof publish>>[] = [];
    for (const payload of ['one', 'two', 'three'])
      answers.push(await publish(server.url, { topic: 'room', payload }));
    expect(answers.map((a) => a.json.position)).toEqual(
      [1, 2, 3].map((seq) => ({ epoch: expect.any(Number), seq })),
    );
    await waitFor(() => sse.events().length === 3 && wsEvents(ws).length === 3, 'three events on each');
    const epoch = (answers[0]!.json.position as { epoch: number }).epoch;
    for (const events of [sse.events(), wsEvents(ws)]) {
      expect(events.map((e) => e.position)).toEqual([1, 2, 3].map((seq) => ({ dc: 'dc-a', epoch, seq })));
      expect(events.map((e) => e.payload)).toEqual(['one', 'two', 'three']);
    }
    const eventFrames = sse.frames.filter((f) => f.event === 'message');
    eventFrames.forEach((frame, i) => {
      const decoded = decodeCursors(frame.id!);
      expect(decoded.ok).toBe(true);
      const cursors = decoded.ok ? decoded.cursors : [];
      expect(cursors.find((c) => c.topic === 'room')).toEqual({
        topic: 'room',
        dc: 'dc-a',
        epoch,
        seq: i + 1,
        lastEventId: answers[i]!.json.id,
      });
      // The other topic's cursor stays where it joined.
      expect(cursors.find((c) => c.topic === 'lobby')).toMatchObject({ seq: 0 });
    });
  });
});

describe('reliable mode: resume from a cursor gets exactly what was missed', () => {
  it('SSE Last-Event-ID and ?lastEventId=, over two topics, from the same frontend (role all)', async () => {
    const server = await start({ mode: 'reliable' });
    for (const via of ['header', 'query'] as const) {
      const [a, b] = [`a-${via}`, `b-${via}`];
      const first = await openStream(`${server.url}/v1/stream?topic=${a}&topic=${b}`);
      await waitFor(() => subscribedFrames(first) === 2, 'joined');
      await publishAll(server.url, a, ['1', '2']);
      await publishAll(server.url, b, ['1']);
      await waitFor(() => first.events().length === 3, 'the first events');
      const cursor = lastId(first);
      first.close();
      // Missed: published while no viewer is connected (the frontend even drops its streams).
      await publishAll(server.url, a, ['3', '4', '5']);
      await publishAll(server.url, b, ['2', '3']);
      const url = `${server.url}/v1/stream?topic=${a}&topic=${b}`;
      const again =
        via === 'header'
          ? await openStream(url, { 'Last-Event-ID': cursor })
          : await openStream(`${url}&lastEventId=${encodeURIComponent(cursor)}`);
      expect(again.status).toBe(200);
      await waitFor(() => again.events().length === 5, 'the missed events');
      await publishAll(server.url, a, ['6']);
      await waitFor(() => again.events().length === 6, 'the live event');
      const got = received(again.events());
      expect(got.filter((e) => e.startsWith(`${a}:`))).toEqual([`${a}:3`, `${a}:4`, `${a}:5`, `${a}:6`]);
      expect(got.filter((e) => e.startsWith(`${b}:`))).toEqual([`${b}:2`, `${b}:3`]);
      expect(again.notices()).toEqual([]);
      again.close();
    }
    expect(await metric(server, 'stadium_history_reads_total', { result: 'ok' })).toBeGreaterThan(0);
    expect(await metric(server, 'stadium_deliver_ack_seconds_count')).toBeGreaterThan(0);
  });

  it('SSE resume on another frontend of the datacenter (one dispatcher, memory store) is exact too', async () => {
    const { dispatcher, frontends } = await reliableDc(2);
    const [one, two] = frontends as [RunningServer, RunningServer];
    // A viewer that stays on frontend two keeps the topic's live stream there.
    const stays = await openStream(`${two.url}/v1/stream?topic=match`);
    const first = await openStream(`${one.url}/v1/stream?topic=match`);
    await waitFor(() => subscribedFrames(first) === 1 && subscribedFrames(stays) === 1, 'both joined');
    await publishAll(dispatcher.url, 'match', ['kickoff', 'goal']);
    await waitFor(() => first.events().length === 2, 'the first events');
    const cursor = lastId(first);
    first.close();
    await publishAll(dispatcher.url, 'match', ['red card', 'penalty', 'goal 2']);
    const moved = await openStream(`${two.url}/v1/stream?topic=match`, { 'Last-Event-ID': cursor });
    await waitFor(() => moved.events().length === 3, 'the missed events on frontend two');
    await publishAll(dispatcher.url, 'match', ['final whistle']);
    await waitFor(() => moved.events().length === 4 && stays.events().length === 6, 'the live event');
    expect(moved.events().map((e) => e.payload)).toEqual(['red card', 'penalty', 'goal 2', 'final whistle']);
    expect(moved.events().map((e) => (e.position as { seq: number }).seq)).toEqual([3, 4, 5, 6]);
    expect(await metric(dispatcher, 'stadium_deliver_ack_seconds_count')).toBeGreaterThanOrEqual(6);
    expect(await metric(dispatcher, 'stadium_delivery_retries_total')).toBe(0);
  });

  it('WebSocket resume with a cursor (built from the positions received) is exact', async () => {
    const { dispatcher, frontends } = await reliableDc(2);
    const [one, two] = frontends as [RunningServer, RunningServer];
    const first = await openWs(wsUrl(one));
    first.send({ type: 'subscribe', topics: ['x', 'y'] });
    await waitFor(() => first.messages.filter((m) => m.type === 'subscribed').length === 2, 'joined');
    await publishAll(dispatcher.url, 'x', ['1', '2']);
    await waitFor(() => wsEvents(first).length === 2, 'the first events');
    // What a client keeps: per topic, the position of the last event (or of its join).
    const cursors = new Map<string, TopicCursor>();
    for (const m of first.messages) {
      const p = m.position as { dc: string; epoch: number; seq: number } | undefined;
      if (p === undefined) continue;
      const topic = m.topic as string;
      cursors.set(topic, { topic, ...p, ...(m.type === 'event' ? { lastEventId: m.id as string } : {}) });
    }
    first.socket.close();
    await publishAll(dispatcher.url, 'x', ['3', '4']);
    await publishAll(dispatcher.url, 'y', ['1']);
    const again = await openWs(wsUrl(two));
    again.send({ type: 'resume', cursor: encodeCursors([...cursors.values()]) });
    await waitFor(() => wsEvents(again).length === 3, 'the missed events');
    expect(received(wsEvents(again)).sort()).toEqual(['x:3', 'x:4', 'y:1']);
    expect(received(wsEvents(again)).filter((e) => e.startsWith('x:'))).toEqual(['x:3', 'x:4']);
    expect(again.messages.filter((m) => m.type === 'error' || m.type === 'notice')).toEqual([]);
  });
});

describe('reliable mode: resume in another datacenter', () => {
  it('a dc-a cursor resumed on a dc-b frontend is located by its last event id: exactly what came after it', async () => {
    const [portA, portB] = (await freePorts('127.0.0.1', 20_000 + Math.floor(Math.random() * 20_000), 2)) as [
      number,
      number,
    ];
    const dispatcher = async (dc: string, port: number, peer: string): Promise<RunningServer> =>
      start({ role: 'dispatcher', dc, port: String(port), mode: 'reliable', internalToken, peers: peer });
    const dispatcherA = await dispatcher('dc-a', portA, `dc-b=http://127.0.0.1:${portB}`);
    await dispatcher('dc-b', portB, `dc-a=http://127.0.0.1:${portA}`);
    const frontend = (dc: string, port: number): Promise<RunningServer> =>
      start({
        role: 'frontend',
        dc,
        mode: 'reliable',
        dispatchers: `http://127.0.0.1:${port}`,
        internalToken,
      });
    const [frontendA, frontendB] = [await frontend('dc-a', portA), await frontend('dc-b', portB)];
    const first = await openStream(`${frontendA.url}/v1/stream?topic=match`);
    // A dc-b viewer keeps dc-b's stream of the topic going (and shows forwards arrive).
    const stays = await openStream(`${frontendB.url}/v1/stream?topic=match`);
    await waitFor(() => subscribedFrames(first) === 1 && subscribedFrames(stays) === 1, 'both joined');
    await publishAll(dispatcherA.url, 'match', ['kickoff', 'goal']);
    await waitFor(() => first.events().length === 2 && stays.events().length === 2, 'the first events');
    const cursor = lastId(first);
    first.close();
    await publishAll(dispatcherA.url, 'match', ['red card', 'penalty']);
    await waitFor(() => stays.events().length === 4, 'dc-b has them');
    const moved = await openStream(`${frontendB.url}/v1/stream?topic=match`, { 'Last-Event-ID': cursor });
    await waitFor(() => moved.events().length === 2, 'the missed events in dc-b');
    await publishAll(dispatcherA.url, 'match', ['final whistle']);
    await waitFor(() => moved.events().length === 3, 'the live event');
    expect(moved.events().map((e) => e.payload)).toEqual(['red card', 'penalty', 'final whistle']);
    expect(moved.events().map((e) => (e.position as { dc: string }).dc)).toEqual(['dc-b', 'dc-b', 'dc-b']);
    expect(moved.notices()).toEqual([]);
    // The cursor now counts in dc-b's history.
    const now = decodeCursors(lastId(moved));
    expect(now.ok && now.cursors[0]).toMatchObject({ dc: 'dc-b', seq: 5 });
    expect(await metric(dispatcherA, 'stadium_forward_acks_total', { direction: 'received' })).toBe(5);
  });
});

describe('reliable mode: what cannot be resumed is said', () => {
  it('a cursor older than the history gets a trimmed gap notice, then everything the history holds', async () => {
    const server = await start({ mode: 'reliable' });
    const first = await openStream(`${server.url}/v1/stream?topic=long`);
    await waitFor(() => subscribedFrames(first) === 1, 'joined');
    const cursor = lastId(first);
    first.close();
    // The memory store holds 1,000 events per topic (core defaults); the frontend's own recent ones
    // went with its stream when the viewer left.
    const total = 1_100;
    for (let start = 0; start < total; start += 550) {
      const batch = Array.from({ length: 550 }, (_, i) => ({
        topic: 'long',
        payload: String(start + i + 1),
      }));
      expect((await publish(server.url, batch)).status).toBe(200);
    }
    const again = await openStream(`${server.url}/v1/stream?topic=long`, { 'Last-Event-ID': cursor });
    await waitFor(() => again.events().length === 1_000, 'what the history holds', 20_000);
    expect(again.notices()).toEqual([
      expect.objectContaining({
        code: 'gap',
        topic: 'long',
        gap: expect.objectContaining({ why: 'trimmed', fromSeq: 1, toSeq: 100 }),
      }),
    ]);
    const seqs = again.events().map((e) => (e.position as { seq: number }).seq);
    expect(seqs).toEqual(Array.from({ length: 1_000 }, (_, i) => 101 + i));
    expect(await metric(server, 'stadium_gap_notices_total', { why: 'trimmed' })).toBe(1);
    // The store trimmed the 100 oldest as the 1,001st to 1,100th were appended, and said so.
    expect(await metric(server, 'stadium_history_trims_total')).toBeGreaterThan(0);
    expect(await metric(server, 'stadium_history_appends_total', { result: 'new' })).toBe(total);
  });

  it('a malformed cursor is refused 400 bad-cursor naming the problem (SSE header, query, WebSocket)', async () => {
    const server = await start({ mode: 'reliable' });
    const cut = 'c1 @local,1 room,5'; // no " $": a text cut short
    const viaHeader = await openStream(`${server.url}/v1/stream?topic=room`, { 'Last-Event-ID': cut });
    expect(viaHeader.status).toBe(400);
    expect(viaHeader.json).toMatchObject({
      code: 'bad-cursor',
      error: expect.stringContaining('Last-Event-ID'),
    });
    const viaQuery = await openStream(
      `${server.url}/v1/stream?topic=room&lastEventId=${encodeURIComponent('c1 nonsense $')}`,
    );
    expect(viaQuery.status).toBe(400);
    expect(viaQuery.json).toMatchObject({
      code: 'bad-cursor',
      error: expect.stringContaining('lastEventId'),
    });
    const ws = await openWs(wsUrl(server));
    ws.send({ type: 'resume', topics: ['room'], cursor: cut });
    const error = await waitFor(() => ws.messages.find((m) => m.type === 'error'), 'the error');
    expect(error).toMatchObject({ status: 400, code: 'bad-cursor' });
    expect(ws.messages.filter((m) => m.type === 'subscribed')).toEqual([]);
  });
});

describe('reliable mode: parsing', () => {
  const text = encodeCursors([
    { topic: 'a', dc: 'dc-a', epoch: 7, seq: 3, lastEventId: 'e-3' },
    { topic: 'b', dc: 'dc-a', epoch: 7, seq: 0 },
  ]);

  it('a cursor text in Last-Event-ID becomes the cursors of the requested topics; a plain id stays an id', () => {
    expect(parseStreamQuery('topic=a', text, 64)).toEqual({
      topics: ['a'],
      lastEventId: null,
      cursors: [{ topic: 'a', dc: 'dc-a', epoch: 7, seq: 3, lastEventId: 'e-3' }],
      token: null,
      occupancy: false,
    });
    expect(parseStreamQuery('topic=a', 'e-3', 64)).toEqual({
      topics: ['a'],
      lastEventId: 'e-3',
      token: null,
      occupancy: false,
    });
  });

  it('WebSocket resume takes `cursor` (topics default to its own) or a cursor text as lastEventId', () => {
    expect(parseClientMessage(JSON.stringify({ type: 'resume', cursor: text }), 8)).toMatchObject({
      type: 'resume',
      topics: ['a', 'b'],
      lastEventId: null,
      cursors: [{ topic: 'a' }, { topic: 'b' }],
    });
    expect(
      parseClientMessage(JSON.stringify({ type: 'resume', topics: ['b'], lastEventId: text }), 8),
    ).toMatchObject({
      topics: ['b'],
      cursors: [{ topic: 'b', seq: 0 }],
    });
    expect(parseClientMessage(JSON.stringify({ type: 'resume', cursor: 'e-1' }), 8)).toMatchObject({
      code: 'bad-cursor',
    });
  });

  it("reliable node messages pass the internal transport's shape check; malformed ones do not", () => {
    const event = { id: 'e-1', topic: 't', origin: 'dc-a', publishedAtMs: 1, payload: 'p' };
    const good = [
      { type: 'deliver', event, position: { epoch: 5, seq: 1 }, deliveryId: 9 },
      { type: 'deliver-ack', deliveryId: 9 },
      { type: 'history-read', requestId: 1, topic: 't', after: { seq: 0 }, limit: 500 },
      { type: 'history-read', requestId: 1, topic: 't', after: { eventId: 'e-1' }, limit: 500 },
      {
        type: 'history-reply',
        requestId: 1,
        reply: { ok: true, epoch: 5, afterSeq: null, firstSeq: 1, headSeq: 1, events: [{ seq: 1, event }] },
      },
      { type: 'history-reply', requestId: 1, reply: { ok: false, message: 'store down' } },
      { type: 'lease-reply', requestId: 1, ok: true, epoch: 5, heads: [{ topic: 't', seq: 4 }] },
      {
        type: 'publish-reply',
        requestId: 1,
        result: {
          ok: true,
          eventId: 'e-1',
          position: { epoch: 5, seq: 1 },
          warning: { code: 'forward-pending', message: 'm' },
        },
      },
    ];
    for (const message of good)
      expect(parseInternalMessage(JSON.stringify({ source: 's', message })), message.type).toMatchObject({
        message,
      });
    const bad = [
      { type: 'deliver', event, position: { epoch: 5, seq: -1 } },
      { type: 'deliver', event, deliveryId: 'x' },
      { type: 'deliver-ack' },
      { type: 'history-read', requestId: 1, topic: 't', after: {}, limit: 5 },
      { type: 'history-read', requestId: 1, topic: 't', after: { seq: 0 }, limit: -1 },
      {
        type: 'history-reply',
        requestId: 1,
        reply: { ok: true, epoch: 5, afterSeq: 0, firstSeq: 1, headSeq: 1, events: [{ seq: 1 }] },
      },
      { type: 'history-reply', requestId: 1, reply: { ok: false } },
      { type: 'lease-reply', requestId: 1, ok: true, heads: [{ topic: 't' }] },
    ];
    for (const message of bad)
      expect(
        parseInternalMessage(JSON.stringify({ source: 's', message })),
        JSON.stringify(message),
      ).toMatchObject({
        code: 'bad-message',
      });
  });
});
