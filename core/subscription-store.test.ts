// Goal: the store answers every request per its contract: live leases only, generations ordered, limits defined.
// Method: drive the pure functions and the node form directly at chosen times.
import { describe, expect, it } from 'vitest';
import { apply, createStore, deadline, handle, liveFrontends, sweep } from './subscription-store.ts';
import type { StoreRequest } from './types.ts';

const add = (topic: string, frontend: string, leaseMs = 1_000, generation = 1) =>
  ({ op: 'add', topic, frontend, leaseMs, generation }) as const;

describe('subscription store', () => {
  it('a granted lease is live until it expires, then lookups leave it out', () => {
    const store = createStore();
    expect(apply(store, add('likes', 'fe-1'), 0).changes).toEqual([
      { change: 'granted', topic: 'likes', frontend: 'fe-1', expiresAtMs: 1_000 },
    ]);
    expect(liveFrontends(store, 'likes', 999)).toEqual(['fe-1']);
    expect(liveFrontends(store, 'likes', 1_000)).toEqual([]);
    expect(apply(store, { op: 'lookup', topic: 'likes' }, 500).reply).toMatchObject({
      op: 'frontends',
      frontends: ['fe-1'],
    });
  });

  it('renewal extends every listed lease and re-grants a dead one', () => {
    const store = createStore();
    apply(store, add('a', 'fe-1'), 0);
    const { reply, changes } = apply(
      store,
      { op: 'renew', topics: ['a', 'b'], frontend: 'fe-1', leaseMs: 1_000, generation: 2 },
      500,
    );
    expect(reply).toMatchObject({ op: 'written', applied: 2, ignored: 0 });
    expect(changes.map((c) => c.change)).toEqual(['renewed', 'granted']);
    expect(liveFrontends(store, 'a', 1_400)).toEqual(['fe-1']);
    expect(apply(store, add('a', 'fe-1', 1_000, 3), 5_000).changes[0]?.change).toBe('granted');
  });

  it('a late write with an older generation is ignored: an old unsubscribe cannot remove a new subscribe', () => {
    const store = createStore();
    apply(store, add('a', 'fe-1', 1_000, 5), 0);
    expect(
      apply(store, { op: 'remove', topic: 'a', frontend: 'fe-1', generation: 4 }, 1).reply,
    ).toMatchObject({
      op: 'written',
      applied: 0,
      ignored: 1,
    });
    expect(apply(store, add('a', 'fe-1', 5_000, 3), 2).reply).toMatchObject({
      op: 'written',
      applied: 0,
      ignored: 1,
    });
    expect(liveFrontends(store, 'a', 999)).toEqual(['fe-1']);
    expect(liveFrontends(store, 'a', 1_000)).toEqual([]);
    expect(apply(store, { op: 'remove', topic: 'a', frontend: 'fe-1', generation: 6 }, 3).changes).toEqual([
      { change: 'removed', topic: 'a', frontend: 'fe-1' },
    ]);
    expect(liveFrontends(store, 'a', 4)).toEqual([]);
  });

  it('a renewal sent before an unsubscribe but arriving after it cannot bring the lease back', () => {
    const store = createStore({ sweepEveryMs: 100, tombstoneMs: 1_000 });
    apply(store, add('a', 'fe-1', 1_000, 1), 0);
    apply(store, { op: 'remove', topic: 'a', frontend: 'fe-1', generation: 3 }, 10);
    const late = apply(
      store,
      { op: 'renew', topics: ['a'], frontend: 'fe-1', leaseMs: 1_000, generation: 2 },
      11,
    );
    expect(late.reply).toMatchObject({ op: 'written', applied: 0, ignored: 1 });
    expect(liveFrontends(store, 'a', 12)).toEqual([]);
    // A newer subscribe does bring it back.
    expect(apply(store, add('a', 'fe-1', 1_000, 4), 13).changes[0]?.change).toBe('granted');
    expect(liveFrontends(store, 'a', 14)).toEqual(['fe-1']);
  });

  it('tombstones are forgotten after tombstoneMs, and a removal is not reported as an expiry', () => {
    const store = createStore({ sweepEveryMs: 100, tombstoneMs: 500 });
    apply(store, add('a', 'fe-1', 1_000, 1), 0);
    apply(store, { op: 'remove', topic: 'a', frontend: 'fe-1', generation: 2 }, 10);
    expect(
      apply(store, { op: 'remove', topic: 'a', frontend: 'fe-1', generation: 5 }, 11).reply,
    ).toMatchObject({
      op: 'written',
      applied: 0,
      ignored: 1,
    });
    expect(sweep(store, 400)).toEqual([]);
    expect(store.leaseCount).toBe(1);
    expect(sweep(store, 600)).toEqual([]);
    expect(store.leaseCount).toBe(0);
    expect(store.topics.size).toBe(0);
  });

  it('removing an unknown lease is a no-op answer, not an error', () => {
    const store = createStore();
    expect(
      apply(store, { op: 'remove', topic: 'a', frontend: 'fe-9', generation: 1 }, 0).reply,
    ).toMatchObject({
      op: 'written',
      applied: 0,
      ignored: 1,
    });
  });

  it('at its limits the store answers rejected/full and changes nothing', () => {
    const store = createStore({ topicsMax: 1, frontendsPerTopicMax: 2 });
    apply(store, add('a', 'fe-1'), 0);
    apply(store, add('a', 'fe-2'), 0);
    const refusal = apply(store, add('a', 'fe-3'), 0);
    expect(refusal.reply).toMatchObject({ op: 'rejected', reason: 'full' });
    // The refusal is a change the host reports, so a checker can tell why fe-3 holds no lease.
    expect(refusal.changes).toEqual([{ change: 'refused', topic: 'a', frontend: 'fe-3' }]);
    expect(apply(store, add('b', 'fe-1'), 0).reply).toMatchObject({ op: 'rejected', reason: 'full' });
    expect(liveFrontends(store, 'a', 1)).toEqual(['fe-1', 'fe-2']);
    expect(liveFrontends(store, 'b', 1)).toEqual([]);
    expect(store.counters['rejected-full']).toBe(2);
  });

  it('a renewal that partly fits applies what fits', () => {
    const store = createStore({ topicsMax: 1 });
    const { reply, changes } = apply(
      store,
      { op: 'renew', topics: ['a', 'b'], frontend: 'fe-1', leaseMs: 10, generation: 1 },
      0,
    );
    expect(reply).toMatchObject({ op: 'written', applied: 1, ignored: 0 });
    expect(changes.map((c) => `${c.change} ${c.topic}`)).toEqual(['granted a', 'refused b']);
    expect(store.counters['renewals-partly-refused']).toBe(1);
  });

  it('leases longer than leaseMsMax are cut to it', () => {
    const store = createStore({ leaseMsMax: 100 });
    expect(apply(store, add('a', 'fe-1', 10_000), 0).changes[0]?.expiresAtMs).toBe(100);
  });

  it('bad requests are answered rejected/bad-request, never thrown', () => {
    const store = createStore();
    expect(apply(store, add('bad topic!', 'fe-1'), 0).reply).toMatchObject({ reason: 'bad-request' });
    expect(apply(store, add('a', 'fe-1', 0), 0).reply).toMatchObject({ reason: 'bad-request' });
    expect(apply(store, { op: 'lookup', topic: '' }, 0).reply).toMatchObject({ reason: 'bad-request' });
    expect(
      apply(store, { op: 'remove', topic: 'x'.repeat(500), frontend: 'f', generation: 1 }, 0).reply,
    ).toMatchObject({
      reason: 'bad-request',
    });
    expect(
      apply(store, { op: 'renew', topics: ['ok', 'no spaces'], frontend: 'f', leaseMs: 5, generation: 1 }, 0)
        .reply,
    ).toMatchObject({ reason: 'bad-request' });
    expect(store.leaseCount).toBe(0);
  });

  it('remote totals that are not objects are answered rejected/bad-request, never thrown', () => {
    const store = createStore();
    for (const total of [null, 7, 'likes', ['likes']]) {
      const request = { op: 'remote-totals', dc: 'dc-b', totals: [total] } as unknown as StoreRequest;
      expect(apply(store, request, 0).reply).toMatchObject({
        op: 'rejected',
        reason: 'bad-request',
        message: 'a total is an object {topic, count, epoch, ageMs, validMs}',
      });
    }
    expect(store.remote.size).toBe(0);
  });

  it('a read starting after a fractional or negative seq, or a malformed id, is refused, not thrown', () => {
    const store = createStore();
    const event = { id: 'e1', topic: 'a', origin: 'dc-a', publishedAtMs: 0, payload: 'p' };
    apply(store, { op: 'append', event }, 0);
    for (const after of [{ seq: 0.5 }, { seq: -1 }, { seq: Number.NaN }, { eventId: '' }, { eventId: 'a b' }])
      expect(
        apply(store, { op: 'read', topic: 'a', after, limit: 5 }, 1).reply,
        JSON.stringify(after),
      ).toMatchObject({
        op: 'rejected',
        reason: 'bad-request',
      });
    expect(apply(store, { op: 'read', topic: 'a', after: { seq: 0 }, limit: 5 }, 1).reply).toMatchObject({
      op: 'range',
      events: [{ seq: 1, event }],
    });
  });

  it('the sweep deletes dead leases, reports them, and stops when the store is empty', () => {
    // Lapsed leases are kept for lapsedKeepMs (see below); here they go at once.
    const store = createStore({ sweepEveryMs: 100, lapsedKeepMs: 0 });
    apply(store, add('a', 'fe-1', 150), 0);
    apply(store, add('a', 'fe-2', 1_000), 0);
    expect(deadline(store)).toBe(100);
    expect(sweep(store, 100)).toEqual([]);
    expect(sweep(store, 200)).toEqual([
      { change: 'expired', topic: 'a', frontend: 'fe-1', expiresAtMs: 150 },
    ]);
    expect(deadline(store)).toBe(300);
    sweep(store, 1_000);
    expect(store.leaseCount).toBe(0);
    expect(deadline(store)).toBeNull();
  });

  it('as a node it answers store-request messages and ignores everything else', () => {
    const store = createStore({ sweepEveryMs: 50 });
    const effects = handle(
      store,
      {
        kind: 'message',
        source: 'd-1',
        message: { type: 'store-request', requestId: 7, request: add('a', 'fe-1', 20) },
      },
      0,
    );
    expect(effects).toEqual([
      { kind: 'lease', lease: { change: 'granted', topic: 'a', frontend: 'fe-1', expiresAtMs: 20 } },
      {
        kind: 'send',
        target: 'd-1',
        message: {
          type: 'store-reply',
          requestId: 7,
          reply: {
            op: 'written',
            applied: 1,
            ignored: 0,
            epoch: 1,
            epochAgeMs: 0,
            occupancy: [{ topic: 'a', local: 0, remote: [] }],
          },
        },
      },
    ]);
    expect(
      handle(store, { kind: 'message', source: 'x', message: { type: 'forward-ack', forwardId: 1 } }, 1),
    ).toEqual([]);
    expect(store.counters['unexpected-messages']).toBe(1);
    expect(handle(store, { kind: 'deadline' }, 10)).toEqual([]);
    expect(handle(store, { kind: 'deadline' }, 50)).toEqual([
      { kind: 'lease', lease: { change: 'expired', topic: 'a', frontend: 'fe-1', expiresAtMs: 20 } },
    ]);
  });
});

describe('store epochs', () => {
  it('every answer carries the epoch the host gave and its age since the first request', () => {
    const store = createStore({}, 7);
    expect(apply(store, add('a', 'fe-1'), 100).reply).toMatchObject({ epoch: 7, epochAgeMs: 0 });
    expect(apply(store, { op: 'lookup', topic: 'a' }, 350).reply).toMatchObject({
      op: 'frontends',
      epoch: 7,
      epochAgeMs: 250,
    });
    const removed = apply(store, { op: 'remove', topic: 'a', frontend: 'fe-1', generation: 2 }, 400);
    expect(removed.reply).toMatchObject({ op: 'written', epoch: 7, epochAgeMs: 300 });
    // A refusal is about the request, not the data: it carries no epoch.
    expect(apply(store, { op: 'lookup', topic: 'bad topic' }, 500).reply).toEqual({
      op: 'rejected',
      reason: 'bad-request',
      message: expect.any(String),
    });
  });

  it('an epoch must be a positive integer', () => {
    expect(() => createStore({}, 0)).toThrow(/positive integer/);
    expect(() => createStore({}, 1.5)).toThrow(/positive integer/);
  });
});

describe('lapsed leases', () => {
  it('a lease that expired without an unsubscribe is reported lapsed for lapsedKeepMs, then forgotten', () => {
    const store = createStore({ lapsedKeepMs: 500, sweepEveryMs: 100 });
    apply(store, add('a', 'fe-1', 1_000), 0);
    apply(store, add('a', 'fe-2', 5_000), 0);
    apply(store, add('a', 'fe-3', 1_000), 0);
    apply(store, { op: 'remove', topic: 'a', frontend: 'fe-3', generation: 2 }, 10);
    const at = (now: number) => apply(store, { op: 'lookup', topic: 'a' }, now).reply;
    expect(at(999)).toMatchObject({ frontends: ['fe-1', 'fe-2'], lapsed: [] });
    // An unsubscribed lease is not lapsed: its frontend said goodbye.
    expect(at(1_000)).toMatchObject({ frontends: ['fe-2'], lapsed: ['fe-1'] });
    expect(sweep(store, 1_100)).toEqual([
      { change: 'expired', topic: 'a', frontend: 'fe-1', expiresAtMs: 1_000 },
    ]);
    // Reported once, kept until lapsedKeepMs after it lapsed.
    expect(sweep(store, 1_400)).toEqual([]);
    expect(at(1_499)).toMatchObject({ lapsed: ['fe-1'] });
    expect(at(1_500)).toMatchObject({ lapsed: [] });
    sweep(store, 1_500);
    expect(store.topics.get('a')?.has('fe-1')).toBe(false);
  });

  it('a renewal names the topics it had to grant again; a lapsed lease renewed is live and not lapsed', () => {
    const store = createStore({ lapsedKeepMs: 500 });
    apply(store, add('a', 'fe-1', 1_000), 0);
    apply(store, add('b', 'fe-1', 5_000), 0);
    const renew = (now: number, generation: number) =>
      apply(
        store,
        { op: 'renew', topics: ['a', 'b', 'c'], frontend: 'fe-1', leaseMs: 1_000, generation },
        now,
      ).reply;
    expect(renew(1_200, 2)).toMatchObject({ op: 'written', applied: 3, regranted: ['a', 'c'] });
    expect(apply(store, { op: 'lookup', topic: 'a' }, 1_300).reply).toMatchObject({
      frontends: ['fe-1'],
      lapsed: [],
    });
    expect(renew(1_300, 3)).toMatchObject({ regranted: [] });
    // A first subscription is not a re-grant.
    expect(apply(store, add('d', 'fe-1'), 1_300).reply).not.toHaveProperty('regranted');
  });
});
