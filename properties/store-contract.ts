/**
 * The subscription store's contract, one suite run against every implementation of the port (the
 * embedded memory store and Redis), so production's stores mean what the simulator's store means:
 * generation-ordered writes, leases that die by the store's own clock, lookups in first-registered
 * order, named limits answered `rejected/full`, and bad requests answered, never thrown.
 * Reliable mode's histories too: seqs from 1 per topic and epoch, idempotent appends by event id,
 * trimming by count and age with ids remembered past their events, reads by seq or id bounded by
 * `readEventsMax`, heads on lease writes, and a new epoch starting every topic again.
 * Occupancy too: every lease write answers its topics' viewer counts (the counts of their live
 * leases summed, and the peer datacenters' totals held, in the order the datacenters first sent
 * one), a peer's total is kept only when its stamp is newer, reported expired after its validMs and
 * forgotten remoteKeepMs later, and bad counts and totals are refused with nothing written.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type {
  Event,
  OccupancyTotal,
  StoreLimits,
  StoreOccupancy,
  StoreReply,
  StoreRequest,
} from '../core/index.ts';
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

    const occupancyRead = async (
      store: SubscriptionStorePort,
      topics: string[],
    ): Promise<StoreOccupancy[]> => {
      const reply = await store.request({ op: 'occupancy', topics });
      if (reply.op !== 'occupancy') throw new Error(`occupancy read answered ${JSON.stringify(reply)}`);
      return reply.occupancy;
    };
    /** A lease write's answered occupancy, or what the write answered instead. */
    const occupancyOfWrite = (reply: StoreReply): StoreOccupancy[] | string =>
      reply.op === 'written' && reply.occupancy !== undefined ? reply.occupancy : JSON.stringify(reply);
    const local = (topic: string, count: number): StoreOccupancy => ({ topic, local: count, remote: [] });
    const total = (
      topic: string,
      count: number,
      epoch: number,
      ageMs: number,
      validMs = 60_000,
    ): OccupancyTotal => ({
      topic,
      count,
      epoch,
      ageMs,
      validMs,
    });
    const remoteTotals = (
      store: SubscriptionStorePort,
      dc: string,
      totals: OccupancyTotal[],
    ): Promise<StoreReply> => store.request({ op: 'remote-totals', dc, totals });

    it("lease writes answer their topics' occupancy: live leases' counts summed, a renewal replacing its count, none counting 0", async () => {
      const store = await open();
      const first = await store.request({
        op: 'add',
        topic: 't',
        frontend: 'f1',
        leaseMs: 60_000,
        generation: 1,
        count: 3,
      });
      expect(occupancyOfWrite(first)).toEqual([local('t', 3)]);
      const second = await store.request({
        op: 'add',
        topic: 't',
        frontend: 'f2',
        leaseMs: 60_000,
        generation: 1,
        count: 4,
      });
      expect(occupancyOfWrite(second)).toEqual([local('t', 7)]);
      const renewed = await store.request({
        op: 'renew',
        topics: ['t', 'u'],
        frontend: 'f1',
        leaseMs: 60_000,
        generation: 2,
        counts: [10, 2],
      });
      expect(renewed).toMatchObject(written(2, 0));
      expect(occupancyOfWrite(renewed)).toEqual([local('t', 14), local('u', 2)]);
      const uncounted = await store.request({
        op: 'add',
        topic: 't',
        frontend: 'f3',
        leaseMs: 60_000,
        generation: 1,
      });
      expect(occupancyOfWrite(uncounted)).toEqual([local('t', 14)]);
      const withoutCounts = await store.request({
        op: 'renew',
        topics: ['t'],
        frontend: 'f2',
        leaseMs: 60_000,
        generation: 2,
      });
      expect(occupancyOfWrite(withoutCounts)).toEqual([local('t', 10)]);
      const read = await store.request({ op: 'occupancy', topics: ['u', 't', 'nobody', 'u'] });
      expect(read).toEqual({
        op: 'occupancy',
        occupancy: [local('u', 2), local('t', 10), local('nobody', 0), local('u', 2)],
        epoch: first.op === 'written' ? first.epoch : -1,
        epochAgeMs: expect.any(Number) as number,
      });
    });

    it("an expired lease's count leaves the sum, a removed lease counts 0, and ignored writes change no count", async () => {
      const store = await open({ lapsedKeepMs: 5_000 });
      await store.request({
        op: 'add',
        topic: 't',
        frontend: 'f-short',
        leaseMs: 150,
        generation: 1,
        count: 3,
      });
      const both = await store.request({
        op: 'add',
        topic: 't',
        frontend: 'f-long',
        leaseMs: 60_000,
        generation: 1,
        count: 4,
      });
      expect(occupancyOfWrite(both)).toEqual([local('t', 7)]);
      await sleep(300);
      expect(await occupancyRead(store, ['t'])).toEqual([local('t', 4)]);
      const removed = await store.request({ op: 'remove', topic: 't', frontend: 'f-long', generation: 2 });
      expect(removed).toMatchObject(written(1, 0));
      expect(occupancyOfWrite(removed)).toEqual([local('t', 0)]);
      // Ignored writes (older than the tombstone, a second removal) answer the occupancy all the same.
      const late = await store.request({
        op: 'add',
        topic: 't',
        frontend: 'f-long',
        leaseMs: 60_000,
        generation: 1,
        count: 9,
      });
      expect(late).toMatchObject(written(0, 1));
      expect(occupancyOfWrite(late)).toEqual([local('t', 0)]);
      const again = await store.request({ op: 'remove', topic: 't', frontend: 'f-long', generation: 2 });
      expect(again).toMatchObject(written(0, 1));
      expect(occupancyOfWrite(again)).toEqual([local('t', 0)]);
      const regranted = await store.request({
        op: 'add',
        topic: 't',
        frontend: 'f-short',
        leaseMs: 60_000,
        generation: 2,
        count: 5,
      });
      expect(occupancyOfWrite(regranted)).toEqual([local('t', 5)]);
      const older = await store.request({
        op: 'add',
        topic: 't',
        frontend: 'f-short',
        leaseMs: 60_000,
        generation: 1,
        count: 8,
      });
      expect(older).toMatchObject(written(0, 1));
      expect(occupancyOfWrite(older)).toEqual([local('t', 5)]);
      expect(await occupancyRead(store, ['t'])).toEqual([local('t', 5)]);
    });

    it('a renewal that partly fits answers the occupancy of every topic it named; one that fits none is rejected full', async () => {
      const store = await open({ topicsMax: 1 });
      await store.request({
        op: 'add',
        topic: 'a',
        frontend: 'f1',
        leaseMs: 60_000,
        generation: 1,
        count: 2,
      });
      const partly = await store.request({
        op: 'renew',
        topics: ['a', 'b'],
        frontend: 'f1',
        leaseMs: 60_000,
        generation: 2,
        counts: [3, 4],
      });
      expect(partly).toMatchObject(written(1, 0));
      expect(occupancyOfWrite(partly)).toEqual([local('a', 3), local('b', 0)]);
      const refused = await store.request({
        op: 'add',
        topic: 'b',
        frontend: 'f1',
        leaseMs: 60_000,
        generation: 3,
        count: 4,
      });
      expect(refused).toMatchObject({ op: 'rejected', reason: 'full' });
      expect(refused).not.toHaveProperty('occupancy');
      expect(await occupancyRead(store, ['a', 'b'])).toEqual([local('a', 3), local('b', 0)]);
    });

    it('a peer datacenter’s total is kept only when its stamp (epoch, then age) is newer; datacenters in the order they first sent one', async () => {
      const store = await open();
      const first = await remoteTotals(store, 'dc-c', [total('t', 5, 10, 100)]);
      expect(first).toMatchObject(written(1, 0));
      expect(first.op === 'written' && Number.isSafeInteger(first.epoch) && first.epochAgeMs >= 0).toBe(true);
      expect(await remoteTotals(store, 'dc-b', [total('t', 7, 10, 50), total('u', 1, 10, 50)])).toMatchObject(
        written(2, 0),
      );
      // Older by age, equal, older by epoch although much older in age: all ignored.
      expect(
        await remoteTotals(store, 'dc-c', [
          total('t', 6, 10, 99),
          total('t', 6, 10, 100),
          total('t', 6, 9, 5_000),
        ]),
      ).toMatchObject(written(0, 3));
      // A newer epoch wins whatever its age; the same stamp twice in one write is kept once.
      expect(await remoteTotals(store, 'dc-c', [total('t', 8, 11, 0), total('t', 9, 11, 0)])).toMatchObject(
        written(1, 1),
      );
      expect(await remoteTotals(store, 'dc-b', [])).toMatchObject(written(0, 0));
      const remoteOfT = [
        { dc: 'dc-c', count: 8, expired: false },
        { dc: 'dc-b', count: 7, expired: false },
      ];
      expect(await occupancyRead(store, ['t', 'u'])).toEqual([
        { topic: 't', local: 0, remote: remoteOfT },
        { topic: 'u', local: 0, remote: [{ dc: 'dc-b', count: 1, expired: false }] },
      ]);
      const lease = await store.request({
        op: 'add',
        topic: 't',
        frontend: 'f1',
        leaseMs: 60_000,
        generation: 1,
        count: 2,
      });
      expect(occupancyOfWrite(lease)).toEqual([{ topic: 't', local: 2, remote: remoteOfT }]);
    });

    it('a peer total is reported expired once its validMs passed, still held against older stamps, and forgotten remoteKeepMs later', async () => {
      const store = await open({ remoteKeepMs: 400, sweepEveryMs: 50 });
      await remoteTotals(store, 'dc-b', [total('t', 5, 1, 0, 250)]);
      await remoteTotals(store, 'dc-c', [total('t', 2, 1, 0, 60_000)]);
      expect(await occupancyRead(store, ['t'])).toEqual([
        {
          topic: 't',
          local: 0,
          remote: [
            { dc: 'dc-b', count: 5, expired: false },
            { dc: 'dc-c', count: 2, expired: false },
          ],
        },
      ]);
      await sleep(400);
      expect(await occupancyRead(store, ['t'])).toEqual([
        {
          topic: 't',
          local: 0,
          remote: [
            { dc: 'dc-b', count: 5, expired: true },
            { dc: 'dc-c', count: 2, expired: false },
          ],
        },
      ]);
      expect(await remoteTotals(store, 'dc-b', [total('t', 9, 0, 0)])).toMatchObject(written(0, 1));
      // Past validMs + remoteKeepMs (and a sweep) it is gone: any stamp is kept again, and its datacenter comes last.
      await sleep(650);
      expect(await occupancyRead(store, ['t'])).toEqual([
        { topic: 't', local: 0, remote: [{ dc: 'dc-c', count: 2, expired: false }] },
      ]);
      expect(await remoteTotals(store, 'dc-b', [total('t', 9, 0, 0)])).toMatchObject(written(1, 0));
      expect(await occupancyRead(store, ['t'])).toEqual([
        {
          topic: 't',
          local: 0,
          remote: [
            { dc: 'dc-c', count: 2, expired: false },
            { dc: 'dc-b', count: 9, expired: false },
          ],
        },
      ]);
    });

    it('past remoteDcsMax a total from one more datacenter is rejected full, past topicsMax one for one more topic; nothing changes', async () => {
      const store = await open({ remoteDcsMax: 2, topicsMax: 1 });
      await remoteTotals(store, 'dc-b', [total('t', 1, 1, 0)]);
      await remoteTotals(store, 'dc-c', [total('t', 2, 1, 0)]);
      const crowded = await remoteTotals(store, 'dc-d', [total('t', 3, 1, 0)]);
      expect(crowded.op === 'rejected' && crowded.reason).toBe('full');
      // A datacenter already held still updates its total.
      expect(await remoteTotals(store, 'dc-b', [total('t', 4, 1, 1)])).toMatchObject(written(1, 0));
      const remoteOfT = [
        { dc: 'dc-b', count: 4, expired: false },
        { dc: 'dc-c', count: 2, expired: false },
      ];
      expect(await occupancyRead(store, ['t'])).toEqual([{ topic: 't', local: 0, remote: remoteOfT }]);
      const oneTopicMore = await remoteTotals(store, 'dc-b', [total('u', 1, 1, 0)]);
      expect(oneTopicMore.op === 'rejected' && oneTopicMore.reason).toBe('full');
      expect(await occupancyRead(store, ['u'])).toEqual([local('u', 0)]);
      // Leases count their topics apart from peers' totals.
      const lease = await store.request({
        op: 'add',
        topic: 'u',
        frontend: 'f1',
        leaseMs: 60_000,
        generation: 1,
        count: 1,
      });
      expect(occupancyOfWrite(lease)).toEqual([local('u', 1)]);
    });

    it('bad counts, totals and occupancy reads are answered rejected/bad-request and write nothing', async () => {
      const store = await open({ countMax: 100 });
      const lease = { op: 'add', topic: 'ok', frontend: 'f1', leaseMs: 60_000, generation: 1 } as const;
      const renewal = (counts: number[]): StoreRequest => ({
        op: 'renew',
        topics: ['ok', 'ok2'],
        frontend: 'f1',
        leaseMs: 60_000,
        generation: 1,
        counts,
      });
      const countWords = 'a count is a whole number from 0 to 100';
      const totalWords = 'a total is a whole number from 0 to 100';
      const stampWords = 'a total needs its store epoch and epoch age';
      const cases: [StoreRequest, string][] = [
        [{ ...lease, count: -1 }, countWords],
        [{ ...lease, count: 1.5 }, countWords],
        [{ ...lease, count: 101 }, countWords],
        [{ ...lease, count: '3' as unknown as number }, countWords],
        [renewal([1]), 'counts must match topics one for one'],
        [renewal([1, 2, 3]), 'counts must match topics one for one'],
        [renewal([1, 101]), countWords],
        [
          { op: 'remote-totals', dc: '', totals: [total('ok', 1, 1, 0)] },
          'remote totals need the datacenter they came from',
        ],
        [
          { op: 'remote-totals', dc: 'dc-b', totals: 'ok' as unknown as OccupancyTotal[] },
          'remote totals must be a list',
        ],
        [
          { op: 'remote-totals', dc: 'dc-b', totals: [total('bad topic', 1, 1, 0)] },
          'topic "bad topic" may only hold letters, digits and _ . : - /',
        ],
        [
          { op: 'remote-totals', dc: 'dc-b', totals: [total('ok', 1, 1, 0), total('ok2', 101, 1, 0)] },
          totalWords,
        ],
        [{ op: 'remote-totals', dc: 'dc-b', totals: [total('ok', -1, 1, 0)] }, totalWords],
        [{ op: 'remote-totals', dc: 'dc-b', totals: [total('ok', 1, 1.5, 0)] }, stampWords],
        [{ op: 'remote-totals', dc: 'dc-b', totals: [total('ok', 1, 1, -1)] }, stampWords],
        [
          { op: 'remote-totals', dc: 'dc-b', totals: [total('ok', 1, 1, 0, 0)] },
          'a total needs a positive validMs',
        ],
        [
          { op: 'remote-totals', dc: 'dc-b', totals: [null as unknown as OccupancyTotal] },
          'a total is an object {topic, count, epoch, ageMs, validMs}',
        ],
        [{ op: 'occupancy', topics: [] }, 'an occupancy read names at least one topic'],
        [
          { op: 'occupancy', topics: ['ok', 'no spaces'] },
          'topic "no spaces" may only hold letters, digits and _ . : - /',
        ],
      ];
      for (const [request, message] of cases)
        expect(await store.request(request), JSON.stringify(request)).toEqual({
          op: 'rejected',
          reason: 'bad-request',
          message,
        });
      expect(await occupancyRead(store, ['ok', 'ok2'])).toEqual([local('ok', 0), local('ok2', 0)]);
      expect(await lookup(store, 'ok')).toEqual([]);
      expect(await lookup(store, 'ok2')).toEqual([]);
    });

    const event = (topic: string, id: string, payload: Event['payload'] = `payload of ${id}`): Event => ({
      id,
      topic,
      origin: 'dc-a',
      publishedAtMs: 1_700_000_000_000,
      payload,
    });
    const append = async (store: SubscriptionStorePort, e: Event): Promise<StoreReply> =>
      store.request({ op: 'append', event: e });
    const seqOf = (reply: StoreReply): number | string =>
      reply.op === 'appended' ? reply.seq : `${reply.op} ${reply.op === 'rejected' ? reply.message : ''}`;
    const read = async (
      store: SubscriptionStorePort,
      topic: string,
      after: Extract<StoreRequest, { op: 'read' }>['after'],
      limit = 100,
    ): Promise<{
      afterSeq: number | null;
      firstSeq: number;
      headSeq: number;
      seqs: number[];
      ids: string[];
    }> => {
      const reply = await store.request({ op: 'read', topic, after, limit });
      if (reply.op !== 'range') throw new Error(`read answered ${JSON.stringify(reply)}`);
      return {
        afterSeq: reply.afterSeq,
        firstSeq: reply.firstSeq,
        headSeq: reply.headSeq,
        seqs: reply.events.map((e) => e.seq),
        ids: reply.events.map((e) => e.event.id),
      };
    };

    it('appends number each topic from 1; a retried id answers its first seq as a duplicate', async () => {
      const store = await open();
      expect(seqOf(await append(store, event('h', 'a1')))).toBe(1);
      expect(seqOf(await append(store, event('h', 'a2')))).toBe(2);
      expect(seqOf(await append(store, event('other', 'b1')))).toBe(1);
      const retried = await append(store, event('h', 'a1'));
      expect(retried).toMatchObject({ op: 'appended', seq: 1, duplicate: true });
      expect(await append(store, event('h', 'a3'))).toMatchObject({ seq: 3, duplicate: false });
      expect(await read(store, 'h', { seq: 0 })).toEqual({
        afterSeq: 0,
        firstSeq: 1,
        headSeq: 3,
        seqs: [1, 2, 3],
        ids: ['a1', 'a2', 'a3'],
      });
    });

    it('a read hands back each event as it was appended, whatever its payload holds', async () => {
      const store = await open();
      const odd = event('p', 'odd', 'quotes " \\ backslash, newline\n, unicode ✓ 𝄞, and {"json": [1]}');
      // A JSON value that is not a string (payloads are any JSON value): the store keeps the event's JSON text.
      const value = event('p', 'value', {
        likes: 3,
        tags: ['a', null],
        nested: { ok: true },
      } as unknown as string);
      await append(store, odd);
      await append(store, value);
      const reply = await store.request({ op: 'read', topic: 'p', after: { seq: 0 }, limit: 10 });
      expect(reply).toMatchObject({
        op: 'range',
        events: [
          { seq: 1, event: odd },
          { seq: 2, event: value },
        ],
      });
    });

    it("an append answers the topic's frontends as a lookup does, with each live lease's time left", async () => {
      const store = await open({ lapsedKeepMs: 5_000 });
      await store.request({ op: 'add', topic: 'f', frontend: 'f-b', leaseMs: 60_000, generation: 1 });
      await store.request({ op: 'add', topic: 'f', frontend: 'f-a', leaseMs: 30_000, generation: 1 });
      await store.request({ op: 'add', topic: 'f', frontend: 'f-lapsing', leaseMs: 50, generation: 1 });
      await sleep(120);
      const first = await append(store, event('f', 'e1'));
      expect(first).toMatchObject({
        op: 'appended',
        seq: 1,
        duplicate: false,
        frontends: ['f-b', 'f-a'],
        lapsed: ['f-lapsing'],
      });
      if (first.op !== 'appended') return;
      expect(first.leaseLeftMs).toHaveLength(2);
      expect(first.leaseLeftMs[0]).toBeGreaterThan(50_000);
      expect(first.leaseLeftMs[0]).toBeLessThanOrEqual(60_000);
      expect(first.leaseLeftMs[1]).toBeGreaterThan(20_000);
      expect(first.leaseLeftMs[1]).toBeLessThanOrEqual(30_000);
      const lookedUp = await store.request({ op: 'lookup', topic: 'f' });
      expect(lookedUp).toMatchObject({
        frontends: first.frontends,
        lapsed: first.lapsed,
        epoch: first.epoch,
      });
      expect(await append(store, event('f', 'e1'))).toMatchObject({
        seq: 1,
        duplicate: true,
        frontends: ['f-b', 'f-a'],
      });
      expect(await append(store, event('nobody', 'e1'))).toMatchObject({
        seq: 1,
        frontends: [],
        leaseLeftMs: [],
        lapsed: [],
      });
    });

    it('appends asked together (more than one call of a batching store holds) keep each topic in asking order', async () => {
      const store = await open();
      const asked = Array.from({ length: 300 }, (_, i) => event(`t${i % 7}`, `e${i % 140}`));
      const replies = await Promise.all(asked.map((e) => append(store, e)));
      const expected = new Map<string, number>();
      const heads = new Map<string, number>();
      const wanted = asked.map((e) => {
        const key = `${e.topic} ${e.id}`;
        const known = expected.get(key);
        if (known !== undefined) return { seq: known, duplicate: true };
        const seq = (heads.get(e.topic) ?? 0) + 1;
        heads.set(e.topic, seq);
        expected.set(key, seq);
        return { seq, duplicate: false };
      });
      expect(replies.map((r) => (r.op === 'appended' ? { seq: r.seq, duplicate: r.duplicate } : r))).toEqual(
        wanted,
      );
      const t3 = await read(store, 't3', { seq: 0 });
      expect(t3.seqs).toEqual(Array.from({ length: heads.get('t3')! }, (_, i) => i + 1));
      expect(t3.ids).toEqual(
        asked.filter((e, i) => e.topic === 't3' && !wanted[i]!.duplicate).map((e) => e.id),
      );
    });

    it('past historyEventsMax the oldest events are trimmed; their ids are remembered up to historyIdsMax', async () => {
      const store = await open({ historyEventsMax: 3, historyIdsMax: 6 });
      for (let i = 1; i <= 5; i++) expect(seqOf(await append(store, event('c', `e${i}`)))).toBe(i);
      expect(await read(store, 'c', { seq: 0 })).toMatchObject({
        afterSeq: 0,
        firstSeq: 3,
        headSeq: 5,
        seqs: [3, 4, 5],
      });
      expect(await read(store, 'c', { eventId: 'e1' })).toMatchObject({
        afterSeq: 1,
        firstSeq: 3,
        seqs: [3, 4, 5],
      });
      expect(await read(store, 'c', { eventId: 'e4' })).toMatchObject({ afterSeq: 4, seqs: [5] });
      expect(await append(store, event('c', 'e1'))).toMatchObject({ seq: 1, duplicate: true });
      for (let i = 6; i <= 7; i++) await append(store, event('c', `e${i}`));
      // Seven appended, six ids remembered: e1 is forgotten, so it is a new event now.
      expect(await read(store, 'c', { eventId: 'e1' })).toMatchObject({
        afterSeq: null,
        firstSeq: 5,
        headSeq: 7,
        seqs: [],
      });
      expect(await read(store, 'c', { eventId: 'e2' })).toMatchObject({ afterSeq: 2, seqs: [5, 6, 7] });
      expect(await append(store, event('c', 'e1'))).toMatchObject({ seq: 8, duplicate: false });
      expect(await read(store, 'c', { seq: 6 })).toMatchObject({
        firstSeq: 6,
        headSeq: 8,
        seqs: [7, 8],
        ids: ['e7', 'e1'],
      });
    });

    it('past historyAgeMs events and ids are forgotten, but the head is not: seqs are never handed out twice', async () => {
      const store = await open({ historyAgeMs: 1_000, sweepEveryMs: 50 });
      await append(store, event('old', 'o1'));
      await append(store, event('old', 'o2'));
      await sleep(600);
      await append(store, event('old', 'o3'));
      await sleep(500);
      // o1 and o2 are past the age bound, o3 is not.
      expect(await read(store, 'old', { seq: 0 })).toMatchObject({ firstSeq: 3, headSeq: 3, seqs: [3] });
      expect(await read(store, 'old', { eventId: 'o1' })).toMatchObject({ afterSeq: null });
      await sleep(600);
      expect(await read(store, 'old', { seq: 0 })).toMatchObject({
        afterSeq: 0,
        firstSeq: 4,
        headSeq: 3,
        seqs: [],
      });
      expect(await append(store, event('old', 'o1'))).toMatchObject({ seq: 4, duplicate: false });
      const renewed = await store.request({
        op: 'renew',
        topics: ['old'],
        frontend: 'f1',
        leaseMs: 5_000,
        generation: 1,
      });
      expect(renewed).toMatchObject({ op: 'written', heads: [{ topic: 'old', seq: 4 }] });
    });

    it('a read answers at most its limit and readEventsMax; an unknown topic or id is an empty range', async () => {
      const store = await open({ readEventsMax: 2 });
      for (let i = 1; i <= 5; i++) await append(store, event('r', `e${i}`));
      expect(await read(store, 'r', { seq: 1 }, 10)).toMatchObject({ afterSeq: 1, seqs: [2, 3] });
      expect(await read(store, 'r', { seq: 1 }, 1)).toMatchObject({ seqs: [2] });
      expect(await read(store, 'r', { seq: 5 })).toMatchObject({
        afterSeq: 5,
        firstSeq: 1,
        headSeq: 5,
        seqs: [],
      });
      expect(await read(store, 'r', { seq: 9 })).toMatchObject({ afterSeq: 9, seqs: [] });
      expect(await read(store, 'r', { eventId: 'nope' })).toMatchObject({
        afterSeq: null,
        headSeq: 5,
        seqs: [],
      });
      expect(await read(store, 'none', { seq: 0 })).toEqual({
        afterSeq: 0,
        firstSeq: 1,
        headSeq: 0,
        seqs: [],
        ids: [],
      });
      expect(await read(store, 'none', { eventId: 'e1' })).toEqual({
        afterSeq: null,
        firstSeq: 1,
        headSeq: 0,
        seqs: [],
        ids: [],
      });
    });

    it('past historyTopicsMax an append to a new topic is rejected full; known topics go on', async () => {
      const store = await open({ historyTopicsMax: 2 });
      await append(store, event('one', 'a'));
      await append(store, event('two', 'a'));
      const third = await append(store, event('three', 'a'));
      expect(third.op === 'rejected' && third.reason).toBe('full');
      expect(await append(store, event('one', 'b'))).toMatchObject({ seq: 2 });
      expect(await read(store, 'three', { seq: 0 })).toMatchObject({ headSeq: 0, seqs: [] });
    });

    it('lease writes name the heads of their topics once any topic has a history, refused ones with the epoch', async () => {
      const store = await open({ topicsMax: 1 });
      const before = await store.request({
        op: 'add',
        topic: 'h',
        frontend: 'f1',
        leaseMs: 5_000,
        generation: 1,
      });
      expect(before).toMatchObject({ op: 'written', applied: 1 });
      expect(before.op === 'written' && before.heads).toBeUndefined();
      await append(store, event('h', 'x1'));
      const appended = await append(store, event('h', 'x2'));
      const added = await store.request({
        op: 'add',
        topic: 'h',
        frontend: 'f2',
        leaseMs: 5_000,
        generation: 1,
      });
      expect(added).toMatchObject({ op: 'written', heads: [{ topic: 'h', seq: 2 }] });
      const renewed = await store.request({
        op: 'renew',
        topics: ['h', 'cold'],
        frontend: 'f1',
        leaseMs: 5_000,
        generation: 2,
      });
      expect(renewed).toMatchObject({
        op: 'written',
        applied: 1,
        heads: [
          { topic: 'h', seq: 2 },
          { topic: 'cold', seq: 0 },
        ],
      });
      const refused = await store.request({
        op: 'add',
        topic: 'cold',
        frontend: 'f1',
        leaseMs: 5_000,
        generation: 3,
      });
      expect(refused).toMatchObject({
        op: 'rejected',
        reason: 'full',
        epoch: appended.op === 'appended' ? appended.epoch : -1,
        heads: [{ topic: 'cold', seq: 0 }],
      });
    });

    it('a store that lost its data starts every history again at seq 1 under a larger epoch', async () => {
      const underTest = await openUnderTest();
      const first = await append(underTest.store, event('e', 'a1'));
      await append(underTest.store, event('e', 'a2'));
      const afterLoss = await underTest.loseData();
      if (afterLoss !== underTest.store) opened.push(afterLoss);
      const again = await append(afterLoss, event('e', 'a2'));
      expect(again).toMatchObject({ op: 'appended', seq: 1, duplicate: false });
      if (first.op !== 'appended' || again.op !== 'appended') return;
      expect(again.epoch).toBeGreaterThan(first.epoch);
      const range = await afterLoss.request({ op: 'read', topic: 'e', after: { seq: 0 }, limit: 10 });
      expect(range).toMatchObject({ op: 'range', epoch: again.epoch, firstSeq: 1, headSeq: 1 });
      expect(range.op === 'range' && range.events.map((e) => e.event.id)).toEqual(['a2']);
    });

    it('bad history requests are answered rejected/bad-request and write nothing', async () => {
      const store = await open();
      const cases = [
        await append(store, event('bad topic', 'x')),
        await store.request({ op: 'read', topic: 'ok', after: { seq: 0 }, limit: 0 }),
        await store.request({ op: 'read', topic: 'ok', after: { seq: -1 }, limit: 5 }),
        await store.request({ op: 'read', topic: 'ok', after: { seq: 1.5 }, limit: 5 }),
        await store.request({ op: 'read', topic: 'ok', after: { eventId: 'has space' }, limit: 5 }),
        await store.request({ op: 'read', topic: 'no spaces', after: { seq: 0 }, limit: 5 }),
      ];
      for (const reply of cases) expect(reply.op === 'rejected' && reply.reason).toBe('bad-request');
      expect(await read(store, 'ok', { seq: 0 })).toMatchObject({ headSeq: 0 });
    });
  });
}
