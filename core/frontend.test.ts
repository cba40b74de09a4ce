// Goal: the frontend registers, renews and unregisters topics, fans out at most once per event id,
// and answers every bad input with a notice. Method: feed inputs at chosen times and read the effects.
import { describe, expect, it } from 'vitest';
import { createFrontend, deadline, handle, localTopics, type FrontendState } from './frontend.ts';
import type { ClientAction, Effect, Event, Message } from './types.ts';

const fe = (overrides: Parameters<typeof createFrontend>[0]['limits'] = {}) =>
  createFrontend({
    nodeId: 'dc-a/fe-1',
    dc: 'dc-a',
    dispatchers: ['dc-a/d-1', 'dc-a/d-2'],
    leaseMs: 3_000,
    renewEveryMs: 1_000,
    leaseRequestTimeoutMs: 100,
    leaseAttemptsMax: 2,
    limits: overrides,
  });
const client = (state: FrontendState, connection: string, action: ClientAction, now = 0) =>
  handle(state, { kind: 'client', connection, action }, now);
const message = (state: FrontendState, msg: Message, now = 0) =>
  handle(state, { kind: 'message', source: 'dc-a/d-1', message: msg }, now);
const event = (id: string, topic = 'live', publishedAtMs = 0): Event => ({
  id,
  topic,
  origin: 'dc-a',
  publishedAtMs,
  payload: `like ${id}`,
});
const sends = (effects: Effect[]) => effects.filter((e) => e.kind === 'send');
const notices = (effects: Effect[]) => effects.flatMap((e) => (e.kind === 'notice' ? [e.notice.code] : []));

function connected(...connections: string[]): FrontendState {
  const state = fe();
  for (const c of connections) client(state, c, { type: 'connect' });
  return state;
}

describe('frontend registration', () => {
  it('the first viewer of a topic registers it; later viewers do not', () => {
    const state = connected('c1', 'c2');
    const first = client(state, 'c1', { type: 'subscribe', topic: 'live' });
    expect(sends(first)).toHaveLength(1);
    expect(first).toMatchObject([
      { kind: 'joined', connection: 'c1', topic: 'live' },
      { kind: 'send', message: { type: 'subscribe', topic: 'live', frontend: 'dc-a/fe-1', leaseMs: 3_000 } },
    ]);
    expect(client(state, 'c2', { type: 'subscribe', topic: 'live' })).toEqual([
      { kind: 'joined', connection: 'c2', topic: 'live' },
    ]);
    // Already on it: nothing changes, nothing is said.
    expect(client(state, 'c2', { type: 'subscribe', topic: 'live' })).toEqual([]);
    expect(localTopics(state)).toEqual(['live']);
  });

  it('the last viewer leaving unregisters the topic with a newer generation', () => {
    const state = connected('c1', 'c2');
    const sub = sends(client(state, 'c1', { type: 'subscribe', topic: 'live' }));
    client(state, 'c2', { type: 'subscribe', topic: 'live' });
    expect(client(state, 'c1', { type: 'unsubscribe', topic: 'live' })).toEqual([
      { kind: 'left', connection: 'c1', topic: 'live' },
    ]);
    // Unsubscribing from a topic it is not on says nothing.
    expect(client(state, 'c1', { type: 'unsubscribe', topic: 'live' })).toEqual([]);
    const unsub = client(state, 'c2', { type: 'disconnect' });
    expect(unsub).toMatchObject([
      { kind: 'left', connection: 'c2', topic: 'live' },
      { kind: 'send', message: { type: 'unsubscribe', topic: 'live' } },
    ]);
    const subGen = (sub[0] as { message: { generation: number } }).message.generation;
    expect((unsub[1] as { message: { generation: number } }).message.generation).toBeGreaterThan(subGen);
    expect(localTopics(state)).toEqual([]);
  });

  it('renews every topic with viewers on its timer, and stops when none are left', () => {
    const state = connected('c1');
    client(state, 'c1', { type: 'subscribe', topic: 'a' }, 0);
    client(state, 'c1', { type: 'subscribe', topic: 'b' }, 0);
    expect(deadline(state)).toBe(100); // the subscribe timeouts come first
    for (const e of sends(client(state, 'c1', { type: 'subscribe', topic: 'c' }, 0))) {
      message(state, {
        type: 'lease-reply',
        requestId: (e.message as { requestId: number }).requestId,
        ok: true,
      });
    }
    message(state, { type: 'lease-reply', requestId: 1, ok: true });
    message(state, { type: 'lease-reply', requestId: 2, ok: true });
    expect(deadline(state)).toBe(1_000);
    const renew = handle(state, { kind: 'deadline' }, 1_000);
    expect(renew).toMatchObject([{ kind: 'send', message: { type: 'renew', topics: ['a', 'b', 'c'] } }]);
    client(state, 'c1', { type: 'disconnect' }, 1_001);
    expect(state.renewAtMs).toBeNull();
  });

  it('renewals are batched by topicsPerRenewMax', () => {
    const state = createFrontend({
      nodeId: 'f',
      dc: 'd',
      dispatchers: ['x'],
      limits: { topicsPerRenewMax: 2 },
    });
    client(state, 'c', { type: 'connect' });
    for (const t of ['a', 'b', 'c']) client(state, 'c', { type: 'subscribe', topic: t });
    const effects = handle(state, { kind: 'deadline' }, state.renewAtMs ?? 0);
    const renews = effects.filter((e) => e.kind === 'send' && e.message.type === 'renew');
    expect(renews.map((e) => (e as { message: { topics: string[] } }).message.topics)).toEqual([
      ['a', 'b'],
      ['c'],
    ]);
  });

  it('an unanswered lease request goes to the next dispatcher, then is given up with a drop', () => {
    const state = connected('c1');
    const [first] = client(state, 'c1', { type: 'subscribe', topic: 'live' });
    const firstTarget = (first as { target: string }).target;
    const retry = handle(state, { kind: 'deadline' }, 100);
    expect(retry).toHaveLength(1);
    expect((retry[0] as { target: string }).target).not.toBe(firstTarget);
    expect(retry[0]).toMatchObject({ message: { type: 'subscribe', topic: 'live' } });
    const gaveUp = handle(state, { kind: 'deadline' }, 200);
    expect(gaveUp).toEqual([{ kind: 'drop', reason: 'lease-request-exhausted', topic: 'live' }]);
    expect(state.counters['lease-requests-exhausted']).toBe(1);
  });

  it('a refused lease request is retried at once elsewhere', () => {
    const state = connected('c1');
    client(state, 'c1', { type: 'subscribe', topic: 'live' });
    const effects = message(state, { type: 'lease-reply', requestId: 1, ok: false, error: 'store full' });
    expect(effects).toMatchObject([{ kind: 'send', message: { type: 'subscribe', topic: 'live' } }]);
  });

  it('a retry for a topic whose viewers all left meanwhile is not sent', () => {
    const state = connected('c1');
    client(state, 'c1', { type: 'subscribe', topic: 'live' });
    client(state, 'c1', { type: 'unsubscribe', topic: 'live' });
    message(state, { type: 'lease-reply', requestId: 2, ok: true });
    expect(handle(state, { kind: 'deadline' }, 100)).toEqual([]);
  });

  it('a subscribe answered after its last viewer left is given back again: its unsubscribe may have overtaken it', () => {
    const state = connected('c1');
    const [subscribe] = sends(client(state, 'c1', { type: 'subscribe', topic: 'live' }));
    const [unsubscribe] = sends(client(state, 'c1', { type: 'unsubscribe', topic: 'live' }));
    // The store removed nothing (the unsubscribe came first), then granted the subscribe.
    message(state, { type: 'lease-reply', requestId: 2, ok: true });
    const again = sends(message(state, { type: 'lease-reply', requestId: 1, ok: true }));
    expect(again).toMatchObject([{ message: { type: 'unsubscribe', topic: 'live', frontend: 'dc-a/fe-1' } }]);
    const generation = (effect: Effect | undefined): number =>
      (effect as { message: { generation: number } }).message.generation;
    expect(generation(again[0])).toBeGreaterThan(generation(unsubscribe));
    expect(generation(unsubscribe)).toBeGreaterThan(generation(subscribe));
    // A topic with viewers again by the time its answer comes keeps its lease.
    client(state, 'c1', { type: 'subscribe', topic: 'live' });
    expect(sends(message(state, { type: 'lease-reply', requestId: 4, ok: true }))).toEqual([]);
    expect(localTopics(state)).toEqual(['live']);
  });

  it('lease requests past pendingRequestsMax are shed with a drop, and the renewal repairs them', () => {
    const state = createFrontend({
      nodeId: 'f',
      dc: 'd',
      dispatchers: ['x'],
      limits: { pendingRequestsMax: 1 },
    });
    client(state, 'c', { type: 'connect' });
    client(state, 'c', { type: 'subscribe', topic: 'a' });
    expect(client(state, 'c', { type: 'subscribe', topic: 'b' })).toEqual([
      { kind: 'joined', connection: 'c', topic: 'b' },
      { kind: 'drop', reason: 'pending-full', topic: 'b' },
    ]);
    expect(localTopics(state)).toEqual(['a', 'b']);
  });
});

describe('frontend delivery', () => {
  it('a delivered event reaches every local viewer of its topic in one effect, and no one else', () => {
    const state = connected('c1', 'c2', 'c3');
    client(state, 'c1', { type: 'subscribe', topic: 'live' });
    client(state, 'c2', { type: 'subscribe', topic: 'live' });
    client(state, 'c3', { type: 'subscribe', topic: 'other' });
    expect(message(state, { type: 'deliver', event: event('e1') })).toEqual([
      { kind: 'deliver', connections: ['c1', 'c2'], event: event('e1'), wholeTopic: true },
    ]);
  });

  it('the same event id delivered twice reaches viewers once', () => {
    const state = connected('c1');
    client(state, 'c1', { type: 'subscribe', topic: 'live' });
    expect(message(state, { type: 'deliver', event: event('e1') })).toHaveLength(1);
    expect(message(state, { type: 'deliver', event: event('e1') })).toEqual([]);
    expect(state.counters['duplicate-events']).toBe(1);
  });

  it('dedupe survives the topic losing and regaining its viewers', () => {
    const state = connected('c1');
    client(state, 'c1', { type: 'subscribe', topic: 'live' });
    message(state, { type: 'deliver', event: event('e1') });
    client(state, 'c1', { type: 'unsubscribe', topic: 'live' });
    client(state, 'c1', { type: 'subscribe', topic: 'live' });
    expect(message(state, { type: 'deliver', event: event('e1') })).toEqual([]);
  });

  it('a retried forward arriving after newer events is dropped, however small the history', () => {
    const state = fe({ historyEventsPerTopicMax: 1 });
    client(state, 'c1', { type: 'connect' });
    client(state, 'c1', { type: 'subscribe', topic: 'live' });
    message(state, { type: 'deliver', event: event('e1') }, 0);
    message(state, { type: 'deliver', event: event('e2') }, 100);
    // e1 has left the one-event history, but not the dedupe window.
    expect(message(state, { type: 'deliver', event: event('e1') }, 1_600)).toEqual([]);
    expect(state.counters['duplicate-events']).toBe(1);
  });

  it('the dedupe memory forgets ids older than its window, and the oldest beyond its bound', () => {
    const state = createFrontend({
      nodeId: 'dc-a/fe-1',
      dc: 'dc-a',
      dispatchers: ['dc-a/d-1'],
      dedupeWindowMs: 1_000,
      limits: { dedupeIdsMax: 2, historyEventsPerTopicMax: 1 },
    });
    for (const [id, now] of [
      ['e1', 0],
      ['e2', 10],
      ['e3', 20],
    ] as const)
      message(state, { type: 'deliver', event: event(id) }, now);
    expect([...state.seen.keys()]).toEqual(['e2', 'e3']);
    expect(state.counters['dedupe-ids-evicted']).toBe(1);
    message(state, { type: 'deliver', event: event('e4') }, 1_015);
    expect([...state.seen.keys()]).toEqual(['e3', 'e4']);
    message(state, { type: 'deliver', event: event('e5') }, 2_100);
    expect([...state.seen.keys()]).toEqual(['e5']);
  });

  it('history is bounded per topic and in topics; the oldest is forgotten', () => {
    const state = fe({ historyEventsPerTopicMax: 2, historyTopicsMax: 2 });
    for (const id of ['e1', 'e2', 'e3']) message(state, { type: 'deliver', event: event(id) });
    expect(state.history.get('live')?.events.map((e) => e.id)).toEqual(['e2', 'e3']);
    message(state, { type: 'deliver', event: event('x1', 'b') });
    message(state, { type: 'deliver', event: event('y1', 'c') });
    expect([...state.history.keys()]).toEqual(['b', 'c']);
    expect(state.counters['events-without-viewers']).toBe(5);
  });

  it('malformed delivered events are counted and ignored', () => {
    const state = connected('c1');
    expect(message(state, { type: 'deliver', event: event('e1', 'bad topic') })).toEqual([]);
    expect(message(state, { type: 'deliver', event: event('', 'live') })).toEqual([]);
    expect(state.counters['malformed-events']).toBe(2);
  });

  it('resume replays what the history still holds after the last seen event', () => {
    const state = connected('c1', 'c2');
    client(state, 'c1', { type: 'subscribe', topic: 'live' });
    for (const [i, id] of ['e1', 'e2', 'e3'].entries())
      message(state, { type: 'deliver', event: event(id, 'live', i) });
    message(state, { type: 'deliver', event: event('o1', 'other', 5) });
    const effects = client(state, 'c2', { type: 'resume', topics: ['live', 'other'], lastEventId: 'e1' });
    const replayed = effects.flatMap((e) => (e.kind === 'deliver' ? [[e.connections, e.event.id]] : []));
    expect(replayed).toEqual([
      [['c2'], 'e2'],
      [['c2'], 'e3'],
      [['c2'], 'o1'],
    ]);
    // A replay is to one connection, never the topic's whole fan-out (hosts may publish those).
    expect(effects.some((e) => e.kind === 'deliver' && e.wholeTopic)).toBe(false);
  });

  it('resume from an event the frontend does not remember says history is unavailable', () => {
    const state = connected('c1');
    const effects = client(state, 'c1', { type: 'resume', topics: ['live'], lastEventId: 'gone' });
    expect(notices(effects)).toEqual(['history-unavailable']);
    expect(localTopics(state)).toEqual(['live']);
  });
});

describe('frontend bad input', () => {
  it('answers each bad client action with a notice and changes nothing', () => {
    const state = fe({ topicsPerConnectionMax: 1, connectionsMax: 1, payloadBytesMax: 4 });
    expect(notices(client(state, 'ghost', { type: 'subscribe', topic: 'live' }))).toEqual(['not-connected']);
    client(state, 'c1', { type: 'connect' });
    expect(notices(client(state, 'c1', { type: 'connect' }))).toEqual(['already-connected']);
    const full = client(state, 'c2', { type: 'connect' });
    expect(full).toContainEqual({ kind: 'close', connection: 'c2', reason: 'frontend-full' });
    expect(notices(client(state, 'c1', { type: 'subscribe', topic: 'no spaces' }))).toEqual(['bad-topic']);
    expect(notices(client(state, 'c1', { type: 'subscribe', topic: '' }))).toEqual(['bad-topic']);
    client(state, 'c1', { type: 'subscribe', topic: 'a' });
    expect(notices(client(state, 'c1', { type: 'subscribe', topic: 'b' }))).toEqual(['too-many-topics']);
    expect(notices(client(state, 'c1', { type: 'resume', topics: ['a'], lastEventId: '' }))).toEqual([
      'bad-id',
    ]);
    expect(notices(client(state, 'c1', { type: 'resume', topics: ['b'], lastEventId: 'e1' }))).toEqual([
      'too-many-topics',
    ]);
    expect(notices(client(state, 'c1', { type: 'publish', topic: 'a', payload: 'héllo' }))).toEqual([
      'payload-too-large',
    ]);
    expect(notices(client(state, 'c1', { type: 'publish', topic: 'a b', payload: '' }))).toEqual([
      'bad-topic',
    ]);
    expect(client(state, 'c1', { type: 'unsubscribe', topic: 'never' })).toEqual([]);
    expect(localTopics(state)).toEqual(['a']);
    expect(state.connections.size).toBe(1);
  });

  it('ignores messages meant for other roles', () => {
    const state = fe();
    expect(message(state, { type: 'forward-ack', forwardId: 3 })).toEqual([]);
    expect(message(state, { type: 'lease-reply', requestId: 99, ok: true })).toEqual([]);
    expect(
      message(state, { type: 'publish-reply', requestId: 99, result: { ok: true, eventId: 'x' } }),
    ).toEqual([]);
    expect(state.counters['unexpected-messages']).toBe(1);
  });
});

describe('frontend client publish', () => {
  it('passes a client publish to a dispatcher and tells the client the id', () => {
    const state = connected('c1');
    const [sent] = client(state, 'c1', { type: 'publish', topic: 'live', payload: 'like' });
    expect(sent).toMatchObject({
      kind: 'send',
      message: { type: 'publish', topic: 'live', payload: 'like' },
    });
    const requestId = (sent as { message: { requestId: number } }).message.requestId;
    expect(message(state, { type: 'publish-reply', requestId, result: { ok: true, eventId: 'e9' } })).toEqual(
      [
        {
          kind: 'notice',
          connection: 'c1',
          notice: { code: 'published', message: 'published', topic: 'live', eventId: 'e9' },
        },
      ],
    );
  });

  it('reports a refused or unanswered publish to the client', () => {
    const state = connected('c1');
    client(state, 'c1', { type: 'publish', topic: 'live', payload: 'a' });
    expect(
      notices(
        message(state, {
          type: 'publish-reply',
          requestId: 1,
          result: { ok: false, code: 'overloaded', message: 'busy' },
        }),
      ),
    ).toEqual(['publish-failed']);
    client(state, 'c1', { type: 'publish', topic: 'live', payload: 'b' }, 0);
    const timedOut = handle(state, { kind: 'deadline' }, 2_000);
    expect(notices(timedOut)).toEqual(['publish-failed']);
    expect(timedOut).toContainEqual({ kind: 'drop', reason: 'publish-timeout', topic: 'live' });
  });

  it('refuses publishes past the pending bound', () => {
    const state = createFrontend({
      nodeId: 'f',
      dc: 'd',
      dispatchers: ['x'],
      limits: { pendingRequestsMax: 1 },
    });
    client(state, 'c', { type: 'connect' });
    client(state, 'c', { type: 'publish', topic: 'a', payload: '' });
    expect(notices(client(state, 'c', { type: 'publish', topic: 'a', payload: '' }))).toEqual([
      'publish-failed',
    ]);
  });
});

describe('frontend and store epochs', () => {
  const leaseReply = (requestId: number, epoch: number): Message => ({
    type: 'lease-reply',
    requestId,
    ok: true,
    epoch,
  });
  const renewals = (effects: Effect[]) =>
    sends(effects).flatMap((e) =>
      e.kind === 'send' && e.message.type === 'renew' ? [e.message.topics] : [],
    );

  it('a lease reply from a newer store epoch makes it renew every topic at once', () => {
    const state = connected('c1');
    const [subscribe] = sends(client(state, 'c1', { type: 'subscribe', topic: 'live' }));
    client(state, 'c1', { type: 'subscribe', topic: 'chat' }, 1);
    const requestId =
      subscribe?.kind === 'send' && subscribe.message.type === 'subscribe' ? subscribe.message.requestId : -1;
    expect(renewals(message(state, leaseReply(requestId, 3), 2))).toEqual([]);
    // The same or an older epoch is nothing new.
    expect(renewals(message(state, leaseReply(requestId + 1, 3), 3))).toEqual([]);
    const renewed = message(state, { type: 'store-reset', epoch: 2 }, 4);
    expect(renewals(renewed)).toEqual([]);
    // The store lost its data: a lease reply shows a larger epoch. Renew now, not at the timer.
    const tick = sends(handle(state, { kind: 'deadline' }, 1_000)).find(
      (e) => e.kind === 'send' && e.message.type === 'renew',
    );
    const renewId = tick?.kind === 'send' && tick.message.type === 'renew' ? tick.message.requestId : -1;
    expect(renewals(message(state, leaseReply(renewId, 4), 1_005))).toEqual([['live', 'chat']]);
    expect(deadline(state)).toBeLessThanOrEqual(1_005 + 1_000);
    expect(state.counters['store-epoch-renewals']).toBe(1);
  });

  it('a store-reset from a dispatcher makes it renew every topic at once, once per epoch', () => {
    const state = connected('c1');
    client(state, 'c1', { type: 'subscribe', topic: 'live' });
    expect(renewals(message(state, { type: 'store-reset', epoch: 7 }, 10))).toEqual([['live']]);
    // The second dispatcher's reset for the same epoch is nothing new.
    expect(renewals(message(state, { type: 'store-reset', epoch: 7 }, 11))).toEqual([]);
    // Without viewers there is nothing to register.
    const idle = connected('c2');
    expect(message(idle, { type: 'store-reset', epoch: 7 }, 10)).toEqual([]);
  });

  it("a renewal's regranted topics get a registration-lapsed notice to each of their viewers", () => {
    const state = connected('c1', 'c2', 'c3');
    client(state, 'c1', { type: 'subscribe', topic: 'live' });
    client(state, 'c2', { type: 'subscribe', topic: 'live' });
    client(state, 'c3', { type: 'subscribe', topic: 'chat' });
    const renewal = handle(state, { kind: 'deadline' }, 1_000);
    const renew = sends(renewal).find((e) => e.kind === 'send' && e.message.type === 'renew');
    const requestId = renew?.kind === 'send' && renew.message.type === 'renew' ? renew.message.requestId : -1;
    const effects = message(
      state,
      { type: 'lease-reply', requestId, ok: true, epoch: 1, regranted: ['live', 'gone'] },
      1_001,
    );
    expect(effects).toEqual([
      {
        kind: 'notice',
        connection: 'c1',
        notice: expect.objectContaining({ code: 'registration-lapsed', topic: 'live' }),
      },
      {
        kind: 'notice',
        connection: 'c2',
        notice: expect.objectContaining({ code: 'registration-lapsed', topic: 'live' }),
      },
    ]);
  });
});
