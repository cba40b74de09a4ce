// Goal: a server with a recorder tells it everything a chaos run writes as facts, in the order it
// happens, and a message's tag reaches the target's recorder with the message; a server without one
// behaves as before. Method: a dispatcher and a frontend, each with a recorder that logs its calls;
// an SSE and a WebSocket viewer that name themselves; one publish.
import { afterEach, describe, expect, it } from 'vitest';
import type { Effect, Message } from '../core/index.ts';
import type { Recorder, RecordTag } from './recorder.ts';
import { closeTestServers, openStream, openWs, publish, start, wsUrl } from './test-server.ts';
import { waitFor } from './wait-for.ts';

afterEach(closeTestServers);

interface Call {
  call: keyof Recorder;
  what: string;
  tag?: unknown;
}

/** A recorder that logs each call as `call` and a short description, tagging sends `<node>:<n>`. */
function loggingRecorder(node: string): Recorder & { calls: Call[] } {
  const calls: Call[] = [];
  let sent = 0;
  const effectName = (effect: Effect): string =>
    effect.kind === 'send' ? `send ${effect.message.type}` : effect.kind;
  return {
    calls,
    performed: (role, effect) => calls.push({ call: 'performed', what: `${role} ${effectName(effect)}` }),
    sending: (_target, message: Message): RecordTag => {
      const tag = `${node}:${++sent}`;
      calls.push({ call: 'sending', what: message.type, tag });
      return tag;
    },
    received: (_source, message, tag) => calls.push({ call: 'received', what: message.type, tag }),
    sendFailed: (_target, message, tag, why) =>
      calls.push({ call: 'sendFailed', what: `${message.type} ${why}`, tag }),
    storeAnswered: (_requestId, reply) => calls.push({ call: 'storeAnswered', what: reply.op }),
    storeFailed: (_requestId, why) => calls.push({ call: 'storeFailed', what: why }),
    lease: (change) => calls.push({ call: 'lease', what: `${change.change} ${change.topic}` }),
    history: (effect) => calls.push({ call: 'history', what: effect.kind }),
    connectionOpened: (connection, viewer) =>
      calls.push({ call: 'connectionOpened', what: `${connection} ${viewer}` }),
    connectionClosed: (connection) => calls.push({ call: 'connectionClosed', what: connection }),
  };
}

describe('a recorded server', () => {
  it('tells its recorder every connection, effect, store answer and lease; tags travel with messages', async () => {
    const internalToken = 'between-nodes-0123456789';
    const dispatcherLog = loggingRecorder('d');
    const frontendLog = loggingRecorder('f');
    const dispatcher = await start(
      { role: 'dispatcher', dc: 'dc-a', internalToken },
      { recorder: dispatcherLog },
    );
    const frontend = await start(
      { role: 'frontend', dc: 'dc-a', dispatchers: dispatcher.url, internalToken },
      { recorder: frontendLog },
    );
    const sse = await openStream(`${frontend.url}/v1/stream?topic=t`, { 'x-stadium-viewer': 'v7' });
    const ws = await openWs(wsUrl(frontend), { 'x-stadium-viewer': 'v8' });
    ws.send({ type: 'subscribe', topic: 't' });
    await waitFor(() => dispatcherLog.calls.some((c) => c.call === 'lease'), 'a lease granted');
    expect((await publish(dispatcher.url, { topic: 't', payload: 'hi' })).status).toBe(200);
    await waitFor(
      () => sse.events().length === 1 && ws.messages.some((m) => m.type === 'event'),
      'the event on both viewers',
    );

    const opened = frontendLog.calls.filter((c) => c.call === 'connectionOpened').map((c) => c.what);
    expect(opened).toEqual([expect.stringMatching(/#\d+ v7$/), expect.stringMatching(/#\d+ v8$/)]);
    const frontendEffects = frontendLog.calls.filter((c) => c.call === 'performed').map((c) => c.what);
    expect(frontendEffects).toEqual(expect.arrayContaining(['frontend joined', 'frontend deliver']));

    // The dispatcher tagged its deliver; the frontend's recorder got that very tag with it.
    const deliverSent = dispatcherLog.calls.find((c) => c.call === 'sending' && c.what === 'deliver');
    const deliverHeard = frontendLog.calls.find((c) => c.call === 'received' && c.what === 'deliver');
    expect(deliverSent?.tag).toMatch(/^d:\d+$/);
    expect(deliverHeard?.tag).toBe(deliverSent?.tag);
    // And the other way: the frontend's subscribe reached the dispatcher with the frontend's tag.
    const subscribeHeard = dispatcherLog.calls.find((c) => c.call === 'received' && c.what === 'subscribe');
    expect(subscribeHeard?.tag).toMatch(/^f:\d+$/);

    // The store's work: asked (an effect), its lease granted, then answered, in that order.
    const dispatcherCalls = dispatcherLog.calls.map((c) => `${c.call} ${c.what}`);
    const asked = dispatcherCalls.indexOf('performed dispatcher store-request');
    const granted = dispatcherCalls.indexOf('lease granted t');
    const answered = dispatcherCalls.findIndex((c) => c.startsWith('storeAnswered'));
    expect(asked).toBeGreaterThanOrEqual(0);
    expect(granted).toBeGreaterThan(asked);
    expect(answered).toBeGreaterThan(granted);

    sse.close();
    await waitFor(() => frontendLog.calls.some((c) => c.call === 'connectionClosed'), 'the close told');
    // A received message is told before the role handles it: the deliver before its fan-out.
    const frontendCalls = frontendLog.calls.map((c) => `${c.call} ${c.what}`);
    expect(frontendCalls.indexOf('received deliver')).toBeLessThan(
      frontendCalls.indexOf('performed frontend deliver'),
    );
  });

  it('tells its recorder of a message that never arrived', async () => {
    const internalToken = 'between-nodes-0123456789';
    const log = loggingRecorder('f');
    // Its dispatcher is a port nothing listens on: every subscribe fails to send.
    const frontend = await start(
      { role: 'frontend', dc: 'dc-a', dispatchers: 'http://127.0.0.1:9', internalToken },
      { recorder: log },
    );
    await openStream(`${frontend.url}/v1/stream?topic=t`);
    await waitFor(() => log.calls.some((c) => c.call === 'sendFailed'), 'a failed send told');
    const failed = log.calls.find((c) => c.call === 'sendFailed');
    const sent = log.calls.find((c) => c.call === 'sending' && c.tag === failed?.tag);
    expect(failed?.what).toMatch(/^subscribe /);
    expect(sent?.what).toBe('subscribe');
  });
});
