// Goal: the dispatcher stamps, fans out, forwards with failover, writes leases, and turns every
// failure into a reply or a drop. Method: feed inputs at chosen times and read the effects.
import { describe, expect, it } from 'vitest';
import {
  createDispatcher,
  deadline,
  eventOfStoreRequest,
  handle,
  type DispatcherState,
} from './dispatcher.ts';
import type { Effect, Message } from './types.ts';

const make = (limits = {}) =>
  createDispatcher({
    nodeId: 'dc-a/d-1',
    dc: 'dc-a',
    idPrefix: 'a1-',
    peers: { 'dc-b': ['dc-b/d-1', 'dc-b/d-2'], 'dc-c': ['dc-c/d-1'] },
    storeRequestTimeoutMs: 50,
    forwardTimeoutMs: 100,
    forwardAttemptsMax: 2,
    limits,
  });
const msg = (state: DispatcherState, message: Message, now = 0, source = 'app') =>
  handle(state, { kind: 'message', source, message }, now);
const publish = (
  state: DispatcherState,
  now = 0,
  extra: Partial<Extract<Message, { type: 'publish' }>> = {},
) => msg(state, { type: 'publish', requestId: 1, topic: 'live', payload: '{"like":1}', ...extra }, now);
const of = <K extends Effect['kind']>(effects: Effect[], kind: K) =>
  effects.filter((e): e is Extract<Effect, { kind: K }> => e.kind === kind);

describe('dispatcher publish', () => {
  it('stamps the event, asks the store, forwards to one dispatcher per peer datacenter', () => {
    const state = make();
    const effects = publish(state, 7);
    const [lookup] = of(effects, 'store-request');
    expect(lookup).toMatchObject({ request: { op: 'lookup', topic: 'live' } });
    expect(of(effects, 'published')).toMatchObject([{ event: { id: '~a1-1', topic: 'live' } }]);
    expect(eventOfStoreRequest(state, lookup!.requestId)?.id).toBe('~a1-1');
    const forwards = of(effects, 'send').map((e) => [e.target, e.message.type]);
    expect(forwards).toHaveLength(2);
    expect(forwards.map(([t]) => t?.split('/')[0]).sort()).toEqual(['dc-b', 'dc-c']);
    const forward = of(effects, 'send')[0]?.message;
    expect(forward).toMatchObject({
      type: 'forward',
      event: { id: '~a1-1', topic: 'live', origin: 'dc-a', publishedAtMs: 7, payload: '{"like":1}' },
    });
    const reply = handle(
      state,
      {
        kind: 'store-reply',
        requestId: lookup!.requestId,
        reply: { op: 'frontends', frontends: ['f1', 'f2'], lapsed: [], epoch: 1, epochAgeMs: 60_000 },
      },
      8,
    );
    expect(of(reply, 'send').map((e) => [e.target, e.message.type])).toEqual([
      ['f1', 'deliver'],
      ['f2', 'deliver'],
      ['app', 'publish-reply'],
    ]);
    expect(of(reply, 'send')[2]?.message).toEqual({
      type: 'publish-reply',
      requestId: 1,
      result: { ok: true, eventId: '~a1-1' },
    });
  });

  it('stamps any JSON value as the payload, as it is', () => {
    for (const payload of [{ like: 1, by: ['ann'] }, [1, 2], 3.5, true, null, '']) {
      const effects = publish(make(), 0, { payload });
      expect(of(effects, 'published')[0]?.event.payload).toEqual(payload);
      expect(of(effects, 'send')[0]?.message).toMatchObject({ event: { payload } });
    }
  });

  it('keeps an id the publisher gave, so a retry is recognisable downstream', () => {
    const state = make();
    const effects = publish(state, 0, { id: 'order-42' });
    expect(of(effects, 'send')[0]?.message).toMatchObject({ event: { id: 'order-42' } });
  });

  it('assigns distinct ids to successive publishes', () => {
    const state = make();
    const ids = [publish(state), publish(state)].map(
      (effects) => (of(effects, 'send')[0]?.message as { event: { id: string } }).event.id,
    );
    expect(new Set(ids).size).toBe(2);
  });

  it('refuses bad publishes with a named error and does nothing else', () => {
    // The default payload, the string {"like":1}, is 16 bytes of JSON text.
    const state = make({ payloadBytesMax: 16 });
    const code = (effects: Effect[]) => {
      expect(effects).toHaveLength(1);
      const m = of(effects, 'send')[0]?.message;
      return m?.type === 'publish-reply' && !m.result.ok ? m.result.code : 'accepted';
    };
    expect(code(publish(state, 0, { topic: 'a b' }))).toBe('bad-topic');
    expect(code(publish(state, 0, { payload: 'x'.repeat(15) }))).toBe('payload-too-large');
    expect(code(publish(state, 0, { payload: { likes: 1_234_567 } }))).toBe('payload-too-large');
    expect(code(publish(state, 0, { payload: [NaN] }))).toBe('bad-payload');
    expect(code(publish(state, 0, { id: 'has space' }))).toBe('bad-id');
    expect(state.pendingStore.entries.size).toBe(0);
  });

  it("a publisher cannot choose an id in the servers' namespace, so it cannot take the next one assigned", () => {
    const state = make();
    const assigned = (effects: Effect[]): string | undefined => of(effects, 'published')[0]?.event.id;
    const first = assigned(publish(state, 0));
    expect(first).toBe('~a1-1');
    const refused = of(publish(state, 0, { id: '~a1-2' }), 'send')[0]?.message;
    expect(refused).toMatchObject({ type: 'publish-reply', result: { ok: false, code: 'bad-id' } });
    expect(assigned(publish(state, 0))).toBe('~a1-2');
    // Any other printable id is the publisher's own, for idempotent retries.
    expect(assigned(publish(state, 0, { id: 'a1-3' }))).toBe('a1-3');
  });

  it('a store that does not answer: the publisher is told to retry, the loss is reported', () => {
    const state = make();
    publish(state, 0);
    expect(deadline(state)).toBe(50);
    const effects = handle(state, { kind: 'deadline' }, 50);
    expect(of(effects, 'drop')).toEqual([
      { kind: 'drop', reason: 'store-timeout', eventId: '~a1-1', topic: 'live', dc: 'dc-a' },
    ]);
    expect(of(effects, 'send')[0]?.message).toMatchObject({
      type: 'publish-reply',
      result: { ok: false, code: 'store-unavailable', retryAfterMs: 1_000 },
    });
    // The late answer changes nothing.
    expect(
      handle(
        state,
        {
          kind: 'store-reply',
          requestId: 1,
          reply: { op: 'frontends', frontends: ['f1'], lapsed: [], epoch: 1, epochAgeMs: 60_000 },
        },
        60,
      ),
    ).toEqual([]);
  });

  it('a store that refuses a lookup: the loss is reported and the publisher told', () => {
    const state = make();
    publish(state);
    const effects = handle(
      state,
      { kind: 'store-reply', requestId: 1, reply: { op: 'rejected', reason: 'full', message: 'full' } },
      1,
    );
    expect(of(effects, 'drop')[0]).toMatchObject({ reason: 'store-full', eventId: '~a1-1' });
    expect(of(effects, 'send')[0]?.message).toMatchObject({
      result: { ok: false, code: 'store-unavailable' },
    });
  });

  it('past pendingRequestsMax a publish is refused overloaded', () => {
    const state = make({ pendingRequestsMax: 1 });
    publish(state);
    expect(of(publish(state), 'send')[0]?.message).toMatchObject({
      result: { ok: false, code: 'overloaded' },
    });
  });
});

describe('dispatcher cross-datacenter forwarding', () => {
  it('a forwarded event is acknowledged, fanned out locally, and not forwarded again', () => {
    const state = createDispatcher({
      nodeId: 'dc-b/d-1',
      dc: 'dc-b',
      idPrefix: 'b',
      peers: { 'dc-a': ['dc-a/d-1'] },
    });
    const event = { id: 'a1-1', topic: 'live', origin: 'dc-a', publishedAtMs: 0, payload: 'x' };
    const effects = msg(state, { type: 'forward', forwardId: 9, event }, 0, 'dc-a/d-1');
    expect(of(effects, 'send')).toEqual([
      { kind: 'send', target: 'dc-a/d-1', message: { type: 'forward-ack', forwardId: 9 } },
    ]);
    const [lookup] = of(effects, 'store-request');
    const fanOut = handle(
      state,
      {
        kind: 'store-reply',
        requestId: lookup!.requestId,
        reply: { op: 'frontends', frontends: ['dc-b/f1'], lapsed: [], epoch: 1, epochAgeMs: 60_000 },
      },
      1,
    );
    expect(fanOut).toEqual([{ kind: 'send', target: 'dc-b/f1', message: { type: 'deliver', event } }]);
  });

  it("refuses a forward of its own datacenter's event (a loop) but still acknowledges it", () => {
    const state = make();
    const event = { id: 'x', topic: 'live', origin: 'dc-a', publishedAtMs: 0, payload: 'x' };
    const effects = msg(state, { type: 'forward', forwardId: 1, event }, 0, 'dc-b/d-1');
    expect(effects.map((e) => e.kind)).toEqual(['send']);
    expect(state.counters['forwards-refused']).toBe(1);
  });

  it('an unacknowledged forward goes to another dispatcher of that datacenter, then is reported lost', () => {
    const state = make();
    const first = of(publish(state, 0), 'send').find((e) => e.target.startsWith('dc-b'))!;
    const retry = of(handle(state, { kind: 'deadline' }, 100), 'send').filter((e) =>
      e.target.startsWith('dc-b'),
    );
    expect(retry).toHaveLength(1);
    expect(retry[0]!.target).not.toBe(first.target);
    const final = handle(state, { kind: 'deadline' }, 200);
    expect(of(final, 'drop').map((d) => [d.reason, d.dc])).toEqual([
      ['forward-exhausted', 'dc-b'],
      ['forward-exhausted', 'dc-c'],
    ]);
  });

  it('an acknowledged forward is settled; a suspected dispatcher is passed over for later events', () => {
    const state = make();
    const first = of(publish(state, 0), 'send').find((e) => e.target.startsWith('dc-b'))!;
    const forwardId = (first.message as { forwardId: number }).forwardId;
    msg(state, { type: 'forward-ack', forwardId }, 10, first.target);
    expect([...state.pendingForwards.entries.values()].map((p) => p.request.dc)).toEqual(['dc-c']);
    // The dc-c forward times out and its only dispatcher is suspected, yet it is still tried.
    handle(state, { kind: 'deadline' }, 100);
    expect(state.suspects.has('dc-c/d-1')).toBe(true);
    // Make dc-b/d-1 suspect, then check later forwards avoid it.
    state.suspects.set('dc-b/d-1', 10_000);
    for (let i = 0; i < 4; i++) {
      const target = of(publish(state, 200 + i), 'send').find((e) => e.target.startsWith('dc-b'))!.target;
      expect(target).toBe('dc-b/d-2');
    }
    // Once suspicion lapses the dispatcher is back in rotation.
    const later = [0, 1].map(
      (i) => of(publish(state, 30_000 + i), 'send').find((e) => e.target.startsWith('dc-b'))!.target,
    );
    expect(later.sort()).toEqual(['dc-b/d-1', 'dc-b/d-2']);
  });
});

describe('dispatcher forward retries', () => {
  it('a late ack for an earlier attempt stops further retries', () => {
    const state = make();
    const first = of(publish(state, 0), 'send').find((e) => e.target.startsWith('dc-b'))!;
    const forwardId = (first.message as { forwardId: number }).forwardId;
    const retry = of(handle(state, { kind: 'deadline' }, 100), 'send').find((e) =>
      e.target.startsWith('dc-b'),
    )!;
    expect((retry.message as { forwardId: number }).forwardId).toBe(forwardId);
    msg(state, { type: 'forward-ack', forwardId }, 150, first.target);
    const later = handle(state, { kind: 'deadline' }, 200);
    expect(of(later, 'send').filter((e) => e.target.startsWith('dc-b'))).toEqual([]);
    expect(of(later, 'drop').map((d) => d.dc)).toEqual(['dc-c']);
  });
});

describe('dispatcher lease writes', () => {
  it.each([
    [
      { type: 'subscribe', requestId: 3, frontend: 'f', topic: 't', leaseMs: 10, generation: 1 },
      { op: 'add' },
    ],
    [
      { type: 'renew', requestId: 3, frontend: 'f', topics: ['t'], leaseMs: 10, generation: 1 },
      { op: 'renew' },
    ],
    [{ type: 'unsubscribe', requestId: 3, frontend: 'f', topic: 't', generation: 1 }, { op: 'remove' }],
  ] as const)('%o becomes a store %o and is answered once the store answers', (message, request) => {
    const state = make();
    const [req] = of(msg(state, message as Message, 0, 'f'), 'store-request');
    expect(req?.request).toMatchObject(request);
    const reply = handle(
      state,
      {
        kind: 'store-reply',
        requestId: req!.requestId,
        reply: { op: 'written', applied: 1, ignored: 0, epoch: 1, epochAgeMs: 60_000 },
      },
      1,
    );
    expect(reply).toEqual([
      { kind: 'send', target: 'f', message: { type: 'lease-reply', requestId: 3, ok: true, epoch: 1 } },
    ]);
  });

  it('a lease write the store refuses or never answers is answered negatively', () => {
    const state = make();
    msg(
      state,
      { type: 'subscribe', requestId: 3, frontend: 'f', topic: 't', leaseMs: 10, generation: 1 },
      0,
      'f',
    );
    const refused = handle(
      state,
      {
        kind: 'store-reply',
        requestId: 1,
        reply: { op: 'rejected', reason: 'full', message: 'store is full' },
      },
      1,
    );
    expect(refused).toEqual([
      {
        kind: 'send',
        target: 'f',
        message: { type: 'lease-reply', requestId: 3, ok: false, error: 'store is full' },
      },
    ]);
    msg(
      state,
      { type: 'subscribe', requestId: 4, frontend: 'f', topic: 't', leaseMs: 10, generation: 2 },
      1,
      'f',
    );
    expect(handle(state, { kind: 'deadline' }, 51)).toMatchObject([
      { message: { type: 'lease-reply', requestId: 4, ok: false } },
    ]);
  });

  it('a lease write past pendingRequestsMax is answered negatively at once', () => {
    const state = make({ pendingRequestsMax: 0 });
    const effects = msg(
      state,
      { type: 'unsubscribe', requestId: 5, frontend: 'f', topic: 't', generation: 1 },
      0,
      'f',
    );
    expect(effects).toMatchObject([{ message: { type: 'lease-reply', requestId: 5, ok: false } }]);
  });

  it('ignores messages meant for other roles', () => {
    const state = make();
    expect(msg(state, { type: 'lease-reply', requestId: 1, ok: true })).toEqual([]);
    expect(msg(state, { type: 'forward-ack', forwardId: 77 })).toEqual([]);
    expect(state.counters['unexpected-messages']).toBe(1);
  });
});

describe('dispatcher and store epochs', () => {
  // One clock for the helpers below: a role's time never runs backwards.
  let clock = 0;
  const tick = (): number => ++clock;
  const lookupReply = (
    state: DispatcherState,
    requestId: number,
    epoch: number,
    epochAgeMs: number,
    now = tick(),
    lapsed: string[] = [],
  ) =>
    handle(
      state,
      {
        kind: 'store-reply',
        requestId,
        reply: { op: 'frontends', frontends: ['f1'], lapsed, epoch, epochAgeMs },
      },
      now,
    );
  const lease = (state: DispatcherState, frontend: string, requestId: number) =>
    of(
      msg(
        state,
        { type: 'renew', requestId, frontend, topics: ['t'], leaseMs: 10, generation: 1 },
        tick(),
        frontend,
      ),
      'store-request',
    )[0]!.requestId;
  const written = (state: DispatcherState, requestId: number, epoch: number) =>
    handle(
      state,
      {
        kind: 'store-reply',
        requestId,
        reply: { op: 'written', applied: 1, ignored: 0, epoch, epochAgeMs: 9_000 },
      },
      tick(),
    );

  it('a store epoch that grows makes it tell every frontend it knows to register again', () => {
    const state = make();
    written(state, lease(state, 'dc-a/f1', 1), 5);
    written(state, lease(state, 'dc-a/f2', 2), 5);
    const [lookup] = of(publish(state, tick()), 'store-request');
    // The store came back empty: a new, larger epoch.
    const effects = lookupReply(state, lookup!.requestId, 6, 40);
    const resets = of(effects, 'send').filter((e) => e.message.type === 'store-reset');
    expect(resets).toEqual([
      { kind: 'send', target: 'dc-a/f1', message: { type: 'store-reset', epoch: 6 } },
      { kind: 'send', target: 'dc-a/f2', message: { type: 'store-reset', epoch: 6 } },
    ]);
    expect(state.counters['store-epoch-changes']).toBe(1);
    // A late answer from the old epoch, and the same epoch again, change nothing.
    for (const epoch of [5, 6]) {
      const [again] = of(publish(state, tick()), 'store-request');
      const more = of(lookupReply(state, again!.requestId, epoch, 50), 'send');
      expect(more.filter((e) => e.message.type === 'store-reset')).toEqual([]);
    }
  });

  it('a publish while the store epoch is younger than the rebuild window is answered with a warning', () => {
    const state = createDispatcher({
      nodeId: 'dc-a/d-1',
      dc: 'dc-a',
      idPrefix: 'a1-',
      storeRebuildWindowMs: 3_000,
    });
    const answer = (epochAgeMs: number) => {
      const [lookup] = of(publish(state, tick()), 'store-request');
      const reply = of(lookupReply(state, lookup!.requestId, 1, epochAgeMs), 'send').find(
        (e) => e.message.type === 'publish-reply',
      );
      return reply?.message.type === 'publish-reply' ? reply.message.result : null;
    };
    expect(answer(2_999)).toMatchObject({ ok: true, warning: { code: 'store-rebuilding' } });
    const after = answer(3_000);
    expect(after).toMatchObject({ ok: true });
    expect(after).not.toHaveProperty('warning');
  });

  it('remembers at most knownFrontendsMax frontends, forgetting the least recently heard from', () => {
    const state = make({ knownFrontendsMax: 2 });
    lease(state, 'f1', 1);
    lease(state, 'f2', 2);
    lease(state, 'f1', 3);
    lease(state, 'f3', 4);
    expect([...state.knownFrontends]).toEqual(['f1', 'f3']);
  });

  it('a publish whose lookup found a lapsed frontend is answered with a frontend-lapsed warning', () => {
    const state = make();
    const [lookup] = of(publish(state, tick()), 'store-request');
    const effects = lookupReply(state, lookup!.requestId, 1, 60_000, tick(), ['dc-a/f-frozen']);
    const answer = of(effects, 'send').find((e) => e.message.type === 'publish-reply')?.message;
    expect(answer).toMatchObject({ result: { ok: true, warning: { code: 'frontend-lapsed' } } });
    // Only the live frontends get the event.
    expect(
      of(effects, 'send')
        .filter((e) => e.message.type === 'deliver')
        .map((e) => e.target),
    ).toEqual(['f1']);
  });

  it("a renewal's regranted topics go back to the frontend", () => {
    const state = make();
    const [req] = of(
      msg(
        state,
        { type: 'renew', requestId: 8, frontend: 'f', topics: ['a', 'b'], leaseMs: 10, generation: 1 },
        0,
        'f',
      ),
      'store-request',
    );
    const effects = handle(
      state,
      {
        kind: 'store-reply',
        requestId: req!.requestId,
        reply: { op: 'written', applied: 2, ignored: 0, epoch: 1, epochAgeMs: 9_000, regranted: ['b'] },
      },
      1,
    );
    expect(effects).toEqual([
      {
        kind: 'send',
        target: 'f',
        message: { type: 'lease-reply', requestId: 8, ok: true, epoch: 1, regranted: ['b'] },
      },
    ]);
  });
});
