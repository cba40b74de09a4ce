/**
 * The subscription store's contract, one suite run against every implementation of the port (the
 * embedded memory store and Redis), so production's stores mean what the simulator's store means:
 * generation-ordered writes, leases that die by the store's own clock, lookups in first-registered
 * order, named limits answered `rejected/full`, and bad requests answered, never thrown.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { StoreLimits, StoreReply } from '../core/index.ts';
import type { SubscriptionStorePort } from '../prod/index.ts';

/** A store for the suite, and a way to make it lose all its data as a restart without persistence does. */
export interface StoreUnderTest {
  store: SubscriptionStorePort;
  /** Lose every lease; resolves to the store to use afterwards (the same one, or its restarted self). */
  loseData(): Promise<SubscriptionStorePort>;
}

export type StoreFactory = (limits: Partial<StoreLimits>) => Promise<StoreUnderTest>;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function describeStoreContract(name: string, makeStore: StoreFactory): void {
  describe(`store contract: ${name}`, () => {
    const opened: SubscriptionStorePort[] = [];
    const openUnderTest = async (limits: Partial<StoreLimits> = {}): Promise<StoreUnderTest> => {
      const underTest = await makeStore(limits);
      opened.push(underTest.store);
      return underTest;
    };
    const open = async (limits: Partial<StoreLimits> = {}): Promise<SubscriptionStorePort> =>
      (await openUnderTest(limits)).store;
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()));
    });
    const lookup = async (store: SubscriptionStorePort, topic: string): Promise<string[]> => {
      const reply = await store.request({ op: 'lookup', topic });
      expect(reply.op).toBe('frontends');
      return reply.op === 'frontends' ? reply.frontends : [];
    };
    const written = (applied: number, ignored: number): Partial<StoreReply> => ({
      op: 'written',
      applied,
      ignored,
    });

    it('a granted lease is found by lookup; an unknown topic has no frontends', async () => {
      const store = await open();
      expect(
        await store.request({ op: 'add', topic: 'likes', frontend: 'f1', leaseMs: 5_000, generation: 1 }),
      ).toMatchObject(written(1, 0));
      expect(await lookup(store, 'likes')).toEqual(['f1']);
      expect(await lookup(store, 'nobody-here')).toEqual([]);
    });

    it('lookup lists frontends in the order they first registered, renewals do not reorder', async () => {
      const store = await open();
      for (const frontend of ['f-c', 'f-a', 'f-b']) {
        await store.request({ op: 'add', topic: 'video:1', frontend, leaseMs: 5_000, generation: 1 });
      }
      await store.request({
        op: 'renew',
        topics: ['video:1'],
        frontend: 'f-c',
        leaseMs: 5_000,
        generation: 2,
      });
      await store.request({ op: 'add', topic: 'video:1', frontend: 'f-a', leaseMs: 5_000, generation: 2 });
      expect(await lookup(store, 'video:1')).toEqual(['f-c', 'f-a', 'f-b']);
      expect(await lookup(store, 'video:1')).toEqual(['f-c', 'f-a', 'f-b']);
    });

    it('lookups asked together (more than one call of a batching store holds) each get their own topic', async () => {
      const store = await open();
      const topics = Array.from({ length: 300 }, (_, i) => `t${i % 150}`);
      for (let i = 0; i < 150; i += 7) {
        await store.request({ op: 'add', topic: `t${i}`, frontend: `f${i}`, leaseMs: 5_000, generation: 1 });
      }
      const answers = await Promise.all(topics.map((topic) => lookup(store, topic)));
      expect(answers).toEqual(
        topics.map((topic) => (Number(topic.slice(1)) % 7 === 0 ? [`f${topic.slice(1)}`] : [])),
      );
    });

    it('a write older than the entry generation is ignored: a late unsubscribe cannot undo a newer subscribe', async () => {
      const store = await open();
      await store.request({ op: 'add', topic: 't', frontend: 'f1', leaseMs: 5_000, generation: 10 });
      expect(await store.request({ op: 'remove', topic: 't', frontend: 'f1', generation: 9 })).toMatchObject(
        written(0, 1),
      );
      expect(await lookup(store, 't')).toEqual(['f1']);
      expect(
        await store.request({ op: 'add', topic: 't', frontend: 'f1', leaseMs: 5_000, generation: 8 }),
      ).toMatchObject(written(0, 1));
      expect(
        await store.request({ op: 'renew', topics: ['t'], frontend: 'f1', leaseMs: 5_000, generation: 7 }),
      ).toMatchObject(written(0, 1));
      expect(await store.request({ op: 'remove', topic: 't', frontend: 'f1', generation: 11 })).toMatchObject(
        written(1, 0),
      );
      expect(await lookup(store, 't')).toEqual([]);
      expect(await store.request({ op: 'remove', topic: 't', frontend: 'f1', generation: 12 })).toMatchObject(
        written(0, 1),
      );
    });

    it('a removal leaves a tombstone: a renewal sent before the unsubscribe but arriving after it is ignored', async () => {
      const store = await open();
      await store.request({ op: 'add', topic: 't', frontend: 'f1', leaseMs: 5_000, generation: 1 });
      expect(await store.request({ op: 'remove', topic: 't', frontend: 'f1', generation: 3 })).toMatchObject(
        written(1, 0),
      );
      expect(
        await store.request({ op: 'renew', topics: ['t'], frontend: 'f1', leaseMs: 5_000, generation: 2 }),
      ).toMatchObject(written(0, 1));
      expect(await lookup(store, 't')).toEqual([]);
      expect(
        await store.request({ op: 'add', topic: 't', frontend: 'f1', leaseMs: 5_000, generation: 4 }),
      ).toMatchObject(written(1, 0));
      expect(await lookup(store, 't')).toEqual(['f1']);
    });

    it('a frontend that subscribes again after unsubscribing keeps its place in the lookup order', async () => {
      const store = await open();
      await store.request({ op: 'add', topic: 't', frontend: 'f-a', leaseMs: 5_000, generation: 1 });
      await store.request({ op: 'add', topic: 't', frontend: 'f-b', leaseMs: 5_000, generation: 1 });
      await store.request({ op: 'remove', topic: 't', frontend: 'f-a', generation: 2 });
      expect(await lookup(store, 't')).toEqual(['f-b']);
      await store.request({ op: 'add', topic: 't', frontend: 'f-a', leaseMs: 5_000, generation: 3 });
      expect(await lookup(store, 't')).toEqual(['f-a', 'f-b']);
    });

    it('a tombstone is forgotten after tombstoneMs', async () => {
      const store = await open({ tombstoneMs: 200, sweepEveryMs: 50 });
      await store.request({ op: 'add', topic: 't', frontend: 'f1', leaseMs: 5_000, generation: 5 });
      await store.request({ op: 'remove', topic: 't', frontend: 'f1', generation: 6 });
      expect(
        await store.request({ op: 'add', topic: 't', frontend: 'f1', leaseMs: 5_000, generation: 2 }),
      ).toMatchObject(written(0, 1));
      await sleep(400);
      expect(
        await store.request({ op: 'add', topic: 't', frontend: 'f1', leaseMs: 5_000, generation: 2 }),
      ).toMatchObject(written(1, 0));
      expect(await lookup(store, 't')).toEqual(['f1']);
    });

    it('generations as large as production uses (clock in microseconds) still compare exactly', async () => {
      const store = await open();
      const base = 1_763_700_000_000_000;
      await store.request({ op: 'add', topic: 't', frontend: 'f1', leaseMs: 5_000, generation: base + 2 });
      expect(
        await store.request({ op: 'remove', topic: 't', frontend: 'f1', generation: base + 1 }),
      ).toMatchObject(written(0, 1));
      expect(
        await store.request({ op: 'remove', topic: 't', frontend: 'f1', generation: base + 2 }),
      ).toMatchObject(written(1, 0));
    });

    it("a lease dies by the store's clock unless renewed", async () => {
      const store = await open();
      await store.request({ op: 'add', topic: 'short', frontend: 'dies', leaseMs: 200, generation: 1 });
      await store.request({ op: 'add', topic: 'short', frontend: 'renews', leaseMs: 200, generation: 1 });
      expect(await lookup(store, 'short')).toEqual(['dies', 'renews']);
      await sleep(120);
      await store.request({
        op: 'renew',
        topics: ['short'],
        frontend: 'renews',
        leaseMs: 200,
        generation: 2,
      });
      await sleep(180);
      expect(await lookup(store, 'short')).toEqual(['renews']);
      await sleep(150);
      expect(await lookup(store, 'short')).toEqual([]);
    });

    it('a lease longer than leaseMsMax is cut to it', async () => {
      const store = await open({ leaseMsMax: 200 });
      await store.request({ op: 'add', topic: 'capped', frontend: 'f1', leaseMs: 3_600_000, generation: 1 });
      expect(await lookup(store, 'capped')).toEqual(['f1']);
      await sleep(300);
      expect(await lookup(store, 'capped')).toEqual([]);
    });

    it('past topicsMax or frontendsPerTopicMax a write is rejected full and changes nothing', async () => {
      const store = await open({ topicsMax: 2, frontendsPerTopicMax: 2 });
      await store.request({ op: 'add', topic: 'a', frontend: 'f1', leaseMs: 5_000, generation: 1 });
      await store.request({ op: 'add', topic: 'b', frontend: 'f1', leaseMs: 5_000, generation: 1 });
      const third = await store.request({
        op: 'add',
        topic: 'c',
        frontend: 'f1',
        leaseMs: 5_000,
        generation: 2,
      });
      expect(third.op === 'rejected' && third.reason).toBe('full');
      expect(await lookup(store, 'c')).toEqual([]);
      expect(
        await store.request({ op: 'add', topic: 'a', frontend: 'f2', leaseMs: 5_000, generation: 1 }),
      ).toMatchObject(written(1, 0));
      const crowded = await store.request({
        op: 'add',
        topic: 'a',
        frontend: 'f3',
        leaseMs: 5_000,
        generation: 1,
      });
      expect(crowded.op === 'rejected' && crowded.reason).toBe('full');
      expect(await lookup(store, 'a')).toEqual(['f1', 'f2']);
      // A renewal of known topics still succeeds when a new topic in the same batch does not fit.
      expect(
        await store.request({
          op: 'renew',
          topics: ['a', 'c'],
          frontend: 'f1',
          leaseMs: 5_000,
          generation: 3,
        }),
      ).toMatchObject(written(1, 0));
    });

    it('bad requests are answered rejected/bad-request and write nothing', async () => {
      const store = await open();
      const cases = [
        await store.request({ op: 'lookup', topic: 'no spaces' }),
        await store.request({ op: 'add', topic: '', frontend: 'f1', leaseMs: 5_000, generation: 1 }),
        await store.request({ op: 'add', topic: 'ok', frontend: 'f1', leaseMs: 0, generation: 1 }),
        await store.request({
          op: 'renew',
          topics: ['ok', 'bad topic'],
          frontend: 'f1',
          leaseMs: 5_000,
          generation: 1,
        }),
        await store.request({ op: 'remove', topic: 'x'.repeat(500), frontend: 'f1', generation: 1 }),
      ];
      for (const reply of cases) expect(reply.op === 'rejected' && reply.reason).toBe('bad-request');
      expect(await lookup(store, 'ok')).toEqual([]);
    });

    it('a renewal writes every topic of its batch and counts what it applied', async () => {
      const store = await open();
      await store.request({ op: 'add', topic: 'x', frontend: 'f1', leaseMs: 5_000, generation: 5 });
      expect(
        await store.request({
          op: 'renew',
          topics: ['x', 'y', 'z'],
          frontend: 'f1',
          leaseMs: 5_000,
          generation: 6,
        }),
      ).toMatchObject(written(3, 0));
      for (const topic of ['x', 'y', 'z']) expect(await lookup(store, topic)).toEqual(['f1']);
    });

    it('every answer names the epoch of the store data; a store that lost its data answers a larger, young one', async () => {
      const underTest = await openUnderTest();
      const store = underTest.store;
      const add = await store.request({
        op: 'add',
        topic: 'e',
        frontend: 'f1',
        leaseMs: 60_000,
        generation: 1,
      });
      const found = await store.request({ op: 'lookup', topic: 'e' });
      const removed = await store.request({ op: 'remove', topic: 'nothing', frontend: 'f1', generation: 1 });
      await sleep(30);
      const later = await store.request({ op: 'lookup', topic: 'e' });
      const epochs = [add, found, removed, later].map((reply) =>
        reply.op === 'rejected' ? null : { epoch: reply.epoch, ageMs: reply.epochAgeMs },
      );
      const first = epochs[0]!;
      expect(Number.isSafeInteger(first.epoch) && first.epoch > 0).toBe(true);
      expect(epochs.map((e) => e?.epoch)).toEqual([first.epoch, first.epoch, first.epoch, first.epoch]);
      expect(first.ageMs).toBeGreaterThanOrEqual(0);
      expect(epochs[3]!.ageMs).toBeGreaterThanOrEqual(first.ageMs + 20);

      const afterLoss = await underTest.loseData();
      if (afterLoss !== store) opened.push(afterLoss);
      const reborn = await afterLoss.request({ op: 'lookup', topic: 'e' });
      expect(reborn).toMatchObject({ op: 'frontends', frontends: [] });
      if (reborn.op !== 'frontends') return;
      expect(reborn.epoch).toBeGreaterThan(first.epoch);
      expect(reborn.epochAgeMs).toBeLessThan(epochs[3]!.ageMs + 1_000);
      expect(reborn.epochAgeMs).toBeLessThan(1_000);
    });

    it('a lease that lapses without an unsubscribe is reported lapsed until lapsedKeepMs, and a renewal names it regranted', async () => {
      const store = await open({ lapsedKeepMs: 400 });
      await store.request({ op: 'add', topic: 'l', frontend: 'frozen', leaseMs: 60, generation: 1 });
      await store.request({ op: 'add', topic: 'l', frontend: 'gone', leaseMs: 60, generation: 1 });
      await store.request({ op: 'add', topic: 'l', frontend: 'alive', leaseMs: 60_000, generation: 1 });
      await store.request({ op: 'remove', topic: 'l', frontend: 'gone', generation: 2 });
      await sleep(120);
      expect(await store.request({ op: 'lookup', topic: 'l' })).toMatchObject({
        frontends: ['alive'],
        lapsed: ['frozen'],
      });
      const renewed = await store.request({
        op: 'renew',
        topics: ['l', 'other'],
        frontend: 'frozen',
        leaseMs: 60_000,
        generation: 3,
      });
      expect(renewed).toMatchObject({ op: 'written', applied: 2, regranted: ['l', 'other'] });
      expect(await store.request({ op: 'lookup', topic: 'l' })).toMatchObject({
        frontends: ['frozen', 'alive'],
        lapsed: [],
      });
      const again = await store.request({
        op: 'renew',
        topics: ['l'],
        frontend: 'frozen',
        leaseMs: 60,
        generation: 4,
      });
      expect(again).toMatchObject({ regranted: [] });
      // Past lapsedKeepMs a lapsed lease is forgotten.
      await sleep(600);
      expect(await store.request({ op: 'lookup', topic: 'l' })).toMatchObject({
        frontends: ['alive'],
        lapsed: [],
      });
    });
  });
}
