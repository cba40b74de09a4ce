/**
 * Occupancy (viewer counts) across the three roles: what watchers are told, when, and what it costs.
 * Method: the deterministic core harness (1 ms per message) with two datacenters, an interval of
 * 100 ms, leases of 1,000 ms renewed every 300 ms; faults are rules that drop messages or kill nodes.
 */
import { describe, expect, it } from 'vitest';
import { Harness } from './test-harness.ts';
import { createDispatcher, handle as handleDispatcher } from './dispatcher.ts';
import { apply as applyStoreRequest, createStore, sweep } from './subscription-store.ts';
import type { Occupancy, StoreReply } from './types.ts';

const everyMs = 100;

function twoDcs(): Harness {
  return new Harness(
    { a: { frontends: 2, dispatchers: 2 }, b: { frontends: 1, dispatchers: 1 } },
    { occupancyEveryMs: everyMs },
  );
}

function subscribe(h: Harness, frontend: string, connection: string, topic: string, occupancy = false): void {
  h.client(frontend, connection, { type: 'connect' });
  h.client(frontend, connection, { type: 'subscribe', topic, ...(occupancy ? { occupancy: true } : {}) });
}

function last(h: Harness, connection: string): Occupancy | undefined {
  return h.occupancies.get(connection)?.at(-1)?.occupancy;
}

describe('occupancy', () => {
  it('watchers in every datacenter are told the exact count, per datacenter, of every connection on the topic', () => {
    const h = twoDcs();
    subscribe(h, 'a/fe-1', 'w-a', 'live', true);
    for (let i = 0; i < 5; i++) subscribe(h, 'a/fe-1', `a1-${i}`, 'live');
    for (let i = 0; i < 3; i++) subscribe(h, 'a/fe-2', `a2-${i}`, 'live');
    subscribe(h, 'b/fe-1', 'w-b', 'live', true);
    for (let i = 0; i < 4; i++) subscribe(h, 'b/fe-1', `b1-${i}`, 'live');
    subscribe(h, 'b/fe-1', 'other', 'elsewhere');
    h.run(2_000);
    const expected = { topic: 'live', count: 14, byDc: { a: 9, b: 5 }, stale: [] };
    expect(last(h, 'w-a')).toEqual(expected);
    expect(last(h, 'w-b')).toEqual(expected);
    expect(h.occupancies.has('a1-0')).toBe(false);
    expect(h.occupancies.has('other')).toBe(false);
  });

  it('a watcher is told only on change, at most once per interval, however fast viewers come and go', () => {
    const h = twoDcs();
    subscribe(h, 'a/fe-1', 'w', 'live', true);
    h.run(1_000);
    const settled = h.occupancies.get('w')!.length;
    h.run(3_000);
    expect(h.occupancies.get('w')!.length).toBe(settled);
    // 40 joins and leaves, 5 ms apart, over 200 ms.
    for (let i = 0; i < 40; i++) {
      h.run(h.now + 5);
      if (i % 2 === 0) subscribe(h, 'a/fe-2', `v-${i}`, 'live');
      else h.client('a/fe-2', `v-${i - 1}`, { type: 'disconnect' });
    }
    h.run(h.now + 2_000);
    const told = h.occupancies.get('w')!;
    for (let i = 1; i < told.length; i++)
      expect(told[i]!.at - told[i - 1]!.at).toBeGreaterThanOrEqual(everyMs);
    for (let i = settled; i < told.length; i++)
      expect(told[i]!.occupancy.count).not.toBe(told[i - 1]!.occupancy.count);
    expect(last(h, 'w')?.count).toBe(1);
  });

  it("a changed count reaches its datacenter's watchers within three intervals and the peer's within five, long before the next renewal", () => {
    const h = new Harness(
      { a: { frontends: 2, dispatchers: 2 }, b: { frontends: 1, dispatchers: 1 } },
      { occupancyEveryMs: everyMs, leaseMs: 6_000, renewEveryMs: 2_000 },
    );
    subscribe(h, 'a/fe-1', 'w-a', 'live', true);
    subscribe(h, 'b/fe-1', 'w-b', 'live', true);
    h.run(3_000);
    for (let i = 0; i < 6; i++) subscribe(h, 'a/fe-2', `v-${i}`, 'live');
    h.run(h.now + 3 * everyMs + 10);
    expect(last(h, 'w-a')?.count).toBe(8);
    // The peer datacenter: one more interval for the dispatchers' message, one for its watcher's renewal.
    h.run(h.now + 2 * everyMs);
    expect(last(h, 'w-b')).toEqual({ topic: 'live', count: 8, byDc: { a: 7, b: 1 }, stale: [] });
  });

  it("a dead frontend's viewers leave the count within its lease, in both datacenters", () => {
    const h = twoDcs();
    subscribe(h, 'a/fe-1', 'w-a', 'live', true);
    for (let i = 0; i < 7; i++) subscribe(h, 'a/fe-2', `doomed-${i}`, 'live');
    subscribe(h, 'b/fe-1', 'w-b', 'live', true);
    h.run(2_000);
    expect(last(h, 'w-b')?.count).toBe(9);
    h.kill('a/fe-2');
    const diedAt = h.now;
    h.run(diedAt + 1_000 + 4 * everyMs);
    expect(last(h, 'w-a')).toEqual({ topic: 'live', count: 2, byDc: { a: 1, b: 1 }, stale: [] });
    // The peer learns it at the next renewal in a (every 300 ms) plus an interval.
    h.run(diedAt + 1_000 + 300 + 4 * everyMs);
    expect(last(h, 'w-b')?.count).toBe(2);
  });

  it("a cut-off datacenter's share is shown stale, not dropped, and fresh again after the heal", () => {
    const h = twoDcs();
    subscribe(h, 'a/fe-1', 'w-a', 'live', true);
    for (let i = 0; i < 4; i++) subscribe(h, 'b/fe-1', `b-${i}`, 'live');
    h.run(2_000);
    expect(last(h, 'w-a')).toEqual({ topic: 'live', count: 5, byDc: { a: 1, b: 4 }, stale: [] });
    const dcOf = (node: string): string => node.split('/')[0]!;
    h.rule = (source, target) =>
      source.includes('/') && target.includes('/') && dcOf(source) !== dcOf(target) ? 'drop' : 'pass';
    h.run(h.now + 5_000);
    expect(last(h, 'w-a')).toEqual({ topic: 'live', count: 5, byDc: { a: 1, b: 4 }, stale: ['b'] });
    h.rule = () => 'pass';
    h.run(h.now + 1_000);
    expect(last(h, 'w-a')).toEqual({ topic: 'live', count: 5, byDc: { a: 1, b: 4 }, stale: [] });
  });

  it('a quiet datacenter, renewing only every 2 s, is never reported stale: its empty messages say it is there', () => {
    const h = new Harness(
      { a: { frontends: 1, dispatchers: 2 }, b: { frontends: 1, dispatchers: 2 } },
      { occupancyEveryMs: everyMs, leaseMs: 6_000, renewEveryMs: 2_000 },
    );
    subscribe(h, 'a/fe-1', 'w-a', 'live', true);
    for (let i = 0; i < 3; i++) subscribe(h, 'b/fe-1', `b-${i}`, 'live');
    h.run(10_000);
    for (const { occupancy } of h.occupancies.get('w-a')!.slice(1)) expect(occupancy.stale).toEqual([]);
    expect(last(h, 'w-a')).toEqual({ topic: 'live', count: 4, byDc: { a: 1, b: 3 }, stale: [] });
  });

  it('traffic per interval does not grow with viewers: 10 and 1,000 viewers per frontend send the same messages', () => {
    const messages = (viewers: number): number => {
      const h = twoDcs();
      for (const frontend of ['a/fe-1', 'a/fe-2', 'b/fe-1'])
        for (let i = 0; i < viewers; i++) subscribe(h, frontend, `${frontend}:${i}`, 'live', i === 0);
      h.run(1_000);
      const before = [...h.messagesTo.values()].reduce((sum, list) => sum + list.length, 0);
      h.run(11_000);
      return [...h.messagesTo.values()].reduce((sum, list) => sum + list.length, 0) - before;
    };
    const few = messages(10);
    expect(few).toBeGreaterThan(0);
    expect(messages(1_000)).toBe(few);
  });

  it('occupancy off: no counts travel, and a viewer that asks is told it is off', () => {
    const h = new Harness({ a: { frontends: 1, dispatchers: 1 } }, { occupancyEveryMs: 0 });
    subscribe(h, 'a/fe-1', 'w', 'live', true);
    h.run(2_000);
    expect(h.occupancies.has('w')).toBe(false);
    const toDispatcher = h.messagesTo.get('a/d-1') ?? [];
    expect(toDispatcher.length).toBeGreaterThan(0);
    for (const message of toDispatcher) {
      expect(message).not.toHaveProperty('count');
      expect(message).not.toHaveProperty('counts');
    }
  });
});

describe('occupancy in the store', () => {
  const renew = (frontend: string, topics: string[], counts: number[], generation: number) =>
    ({ op: 'renew', topics, frontend, leaseMs: 1_000, generation, counts }) as const;

  it("sums live leases' counts; an expired or removed lease counts nothing", () => {
    const store = createStore();
    applyStoreRequest(store, renew('fe-1', ['t'], [3], 1), 0);
    const { reply } = applyStoreRequest(store, renew('fe-2', ['t', 'u'], [4, 1], 1), 500);
    expect(reply.op === 'written' && reply.occupancy).toEqual([
      { topic: 't', local: 7, remote: [] },
      { topic: 'u', local: 1, remote: [] },
    ]);
    const later = applyStoreRequest(store, { op: 'occupancy', topics: ['t'] }, 1_200).reply;
    expect(later.op === 'occupancy' && later.occupancy[0]?.local).toBe(4);
    const removed = applyStoreRequest(
      store,
      { op: 'remove', topic: 't', frontend: 'fe-2', generation: 2 },
      1_201,
    ).reply;
    expect(removed.op === 'written' && removed.occupancy?.[0]?.local).toBe(0);
  });

  it("keeps a peer's newer total, ignores an older one, and reports it expired after validMs", () => {
    const store = createStore({ remoteKeepMs: 1_000, sweepEveryMs: 100 });
    const total = (count: number, epoch: number, ageMs: number) => ({
      topic: 't',
      count,
      epoch,
      ageMs,
      validMs: 500,
    });
    applyStoreRequest(store, { op: 'remote-totals', dc: 'b', totals: [total(5, 1, 100)] }, 0);
    const older = applyStoreRequest(
      store,
      { op: 'remote-totals', dc: 'b', totals: [total(9, 1, 50)] },
      10,
    ).reply;
    expect(older).toMatchObject({ op: 'written', applied: 0, ignored: 1 });
    applyStoreRequest(store, { op: 'remote-totals', dc: 'b', totals: [total(6, 2, 0)] }, 20);
    const read = (now: number) => {
      const { reply } = applyStoreRequest(store, { op: 'occupancy', topics: ['t'] }, now);
      return reply.op === 'occupancy' ? reply.occupancy[0] : undefined;
    };
    expect(read(100)).toEqual({ topic: 't', local: 0, remote: [{ dc: 'b', count: 6, expired: false }] });
    expect(read(520)).toEqual({ topic: 't', local: 0, remote: [{ dc: 'b', count: 6, expired: true }] });
    // The sweep forgets it `remoteKeepMs` after it expired.
    sweep(store, 1_500);
    expect(store.remote.size).toBe(1);
    sweep(store, 1_520);
    expect(store.remote.size).toBe(0);
  });

  it('bad counts and totals are refused and write nothing', () => {
    const store = createStore();
    for (const counts of [[-1], [1.5], [1, 2], [Number.MAX_SAFE_INTEGER]]) {
      const { reply } = applyStoreRequest(store, renew('fe-1', ['t'], counts, 1), 0);
      expect(reply.op).toBe('rejected');
    }
    const bad = applyStoreRequest(
      store,
      { op: 'remote-totals', dc: 'b', totals: [{ topic: 't', count: 1, epoch: 1, ageMs: 0, validMs: 0 }] },
      0,
    ).reply;
    expect(bad).toMatchObject({ op: 'rejected', reason: 'bad-request' });
    expect(store.topics.size + store.remote.size).toBe(0);
  });
});

describe('occupancy in the dispatcher', () => {
  it('ignores occupancy messages from nodes that are not peer dispatchers', () => {
    const state = createDispatcher({ nodeId: 'a/d-1', dc: 'a', idPrefix: 'x', peers: { b: ['b/d-1'] } });
    const forged = handleDispatcher(
      state,
      {
        kind: 'message',
        source: 'evil',
        message: { type: 'occupancy', totals: [{ topic: 't', count: 1e6, epoch: 1, ageMs: 0, validMs: 1 }] },
      },
      0,
    );
    expect(forged).toEqual([]);
    expect(state.counters['occupancy-from-strangers']).toBe(1);
  });

  it('answers a host query from its store, and says when occupancy is off', () => {
    const on = createDispatcher({ nodeId: 'a/d-1', dc: 'a', idPrefix: 'x' });
    const [request] = handleDispatcher(on, { kind: 'occupancy', queryId: 7, topic: 't' }, 0);
    expect(request).toMatchObject({ kind: 'store-request', request: { op: 'occupancy', topics: ['t'] } });
    const requestId = request?.kind === 'store-request' ? request.requestId : -1;
    const reply: StoreReply = {
      op: 'occupancy',
      occupancy: [{ topic: 't', local: 3, remote: [] }],
      epoch: 1,
      epochAgeMs: 0,
    };
    expect(handleDispatcher(on, { kind: 'store-reply', requestId, reply }, 1)).toEqual([
      {
        kind: 'occupancy-reply',
        queryId: 7,
        result: { ok: true, occupancy: { topic: 't', count: 3, byDc: { a: 3 }, stale: [] } },
      },
    ]);
    const off = createDispatcher({ nodeId: 'a/d-1', dc: 'a', idPrefix: 'x', occupancyEveryMs: 0 });
    expect(handleDispatcher(off, { kind: 'occupancy', queryId: 8, topic: 't' }, 0)).toMatchObject([
      { kind: 'occupancy-reply', queryId: 8, result: { ok: false, code: 'disabled' } },
    ]);
  });
});
