// Goal: `stadium serve` with `--store redis-cluster://` delivers in both modes across dispatchers that
// share the cluster, groups a batch by slot, and answers a dead shard with 503s, never a crash.
// Method: a private 3-master Redis Cluster (prod/redis-cluster-process.ts); servers in this process
// on free ports, driven by SSE streams and publishes; a shard killed with SIGKILL and started again.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryMode, Event } from '../core/index.ts';
import { keySlot } from './redis-cluster-slot.ts';
import { startRedisCluster } from './redis-cluster-process.ts';
import type { RedisClusterProcess } from './redis-cluster-process.ts';
import { RedisClusterStore } from './redis-cluster-store.ts';
import { redisClusterGate } from './test-gate.ts';
import { closeTestServers, openStream, publish, start } from './test-server.ts';
import { waitFor } from './wait-for.ts';

const gate = redisClusterGate();
const internalToken = 'between-nodes-0123456789';

/** The master serving `slot`, by its index in `cluster.ports` (`redis-cli --cluster create` splits slots evenly, in order). */
const masterOf = (slot: number): number => Math.min(2, Math.floor(slot / (16_384 / 3)));

/** A topic whose keys under `prefix` live on master `node`. */
function topicOn(prefix: string, node: number, name: string): string {
  for (let i = 0; ; i++) {
    const topic = `${name}-${i}`;
    if (masterOf(keySlot(`{${prefix}${topic}}leases`)) === node) return topic;
  }
}

/** Script calls (EVAL and EVALSHA) every node has run so far. */
async function scriptCalls(ports: readonly number[]): Promise<number> {
  let calls = 0;
  for (const port of ports) {
    const client = new Redis({ port, host: '127.0.0.1' });
    const stats = await client.info('commandstats');
    await client.quit();
    for (const match of stats.matchAll(/cmdstat_eval(?:sha)?:calls=(\d+)/g)) calls += Number(match[1]);
  }
  return calls;
}

if (!gate.up && !gate.required) {
  it.skip(gate.skipMessage, () => {});
} else {
  describe('Redis Cluster store, with real servers', () => {
    let cluster: RedisClusterProcess | null = null;
    beforeAll(async () => {
      if (!gate.up) throw new Error(gate.requiredMessage);
      cluster = await startRedisCluster();
    }, 60_000);
    afterAll(async () => {
      await cluster?.stop();
    });
    afterEach(closeTestServers);

    for (const mode of ['best-effort', 'reliable'] as DeliveryMode[]) {
      it(`${mode}: a viewer registered through one dispatcher gets what another publishes, on every shard`, async () => {
        const redisPrefix = `serve-${mode}:`;
        const store = { store: cluster!.url, redisPrefix, mode, internalToken, storeTimeoutMs: '1000' };
        const d1 = await start({ role: 'dispatcher', dc: 'dc-a', ...store });
        const d2 = await start({ role: 'dispatcher', dc: 'dc-a', ...store });
        const frontend = await start({
          role: 'frontend',
          dc: 'dc-a',
          mode,
          dispatchers: d1.url,
          internalToken,
        });
        const topics = [0, 1, 2].map((node) => topicOn(redisPrefix, node, 'likes'));
        const stream = await openStream(`${frontend.url}/v1/stream?topic=${topics.join(',')}`);
        expect(stream.status).toBe(200);
        for (const topic of topics) {
          await waitFor(async () => {
            const reply = await publish(d2.url, { topic, payload: `to ${topic}` });
            return reply.status === 200 && stream.events().some((e) => e.payload === `to ${topic}`);
          }, `delivery of ${topic} (${mode})`);
        }
        if (mode === 'reliable') {
          const reply = await publish(d2.url, { topic: topics[0], payload: 'sequenced', id: 'seq-check' });
          expect(reply.status).toBe(200);
          await waitFor(() => stream.events().some((e) => e.id === 'seq-check'), 'the sequenced event');
        }
      });
    }

    it('a batch of lookups is answered topic by topic, with one script call per slot, not per topic', async () => {
      const prefix = 'batch:';
      const store = new RedisClusterStore({ url: cluster!.url, prefix });
      try {
        await store.ready();
        // 40 topics of one slot, and 40 spread over the slots of every node.
        const slot = keySlot(`{${prefix}same-0}leases`);
        const same: string[] = [];
        for (let i = 0; same.length < 40; i++) {
          if (keySlot(`{${prefix}same-${i}}leases`) === slot) same.push(`same-${i}`);
        }
        const spread = Array.from({ length: 40 }, (_, i) => `spread-${i}`);
        const topics = [...same, ...spread];
        for (const topic of topics.filter((_, i) => i % 3 === 0)) {
          await store.request({ op: 'add', topic, frontend: `f-${topic}`, leaseMs: 5_000, generation: 1 });
        }
        const slots = new Set(topics.map((topic) => keySlot(`{${prefix}${topic}}leases`)));
        const before = await scriptCalls(cluster!.ports);
        const replies = await Promise.all(topics.map((topic) => store.request({ op: 'lookup', topic })));
        const calls = (await scriptCalls(cluster!.ports)) - before;
        expect(replies.map((r) => (r.op === 'frontends' ? r.frontends : r))).toEqual(
          topics.map((topic, i) => (i % 3 === 0 ? [`f-${topic}`] : [])),
        );
        // One call per slot, and one to the store's slot for the epoch.
        expect(calls).toBe(slots.size + 1);
      } finally {
        await store.close();
      }
    });

    it("a topic's shard restarted empty is a new epoch: its seqs never start again under the old one", async () => {
      const prefix = 'lost:';
      const storeNode = masterOf(keySlot(`{${prefix}}epoch`));
      const victim = (storeNode + 2) % 3;
      const topic = topicOn(prefix, victim, 'history');
      const event = (id: string): Event => ({ id, topic, origin: 'dc-a', publishedAtMs: 1, payload: id });
      const store = new RedisClusterStore({ url: cluster!.url, prefix, lossGraceMs: 0 });
      try {
        await store.ready();
        await store.request({ op: 'append', event: event('e1') });
        const first = await store.request({ op: 'append', event: event('e2') });
        expect(first).toMatchObject({ op: 'appended', seq: 2 });
        await cluster!.kill(victim);
        await cluster!.restart(victim);
        const again = await waitFor(
          async () => {
            const reply = await store.request({ op: 'append', event: event('e3') }).catch(() => null);
            return reply?.op === 'appended' ? reply : null;
          },
          'an append once the shard is back',
          30_000,
          200,
        );
        expect(again).toMatchObject({ seq: 1, duplicate: false });
        expect(first.op === 'appended' && again.epoch > first.epoch).toBe(true);
        // Every topic answers the new epoch, the store's slot's own.
        const other = await store.request({ op: 'lookup', topic: topicOn(prefix, storeNode, 'other') });
        expect(other).toMatchObject({ op: 'frontends', epoch: again.epoch });
      } finally {
        await store.close();
      }
    }, 60_000);

    it('a shard killed mid-run: its topics answer 503 store-unavailable, the server lives on, and all is back once it restarts', async () => {
      const redisPrefix = 'failover:';
      const storeNode = masterOf(keySlot(`{${redisPrefix}}epoch`));
      const victim = (storeNode + 1) % 3;
      const doomed = topicOn(redisPrefix, victim, 'doomed');
      const server = await start({
        store: cluster!.url,
        redisPrefix,
        storeTimeoutMs: '300',
        leaseMs: '1500',
      });
      const stream = await openStream(`${server.url}/v1/stream?topic=${doomed}`);
      await waitFor(async () => {
        const reply = await publish(server.url, { topic: doomed, payload: 'before' });
        return reply.status === 200 && stream.events().some((e) => e.payload === 'before');
      }, 'delivery before the kill');

      await cluster!.kill(victim);
      const during = await publish(server.url, { topic: doomed, payload: 'during' });
      expect(during.status).toBe(503);
      expect(during.json).toMatchObject({ code: 'store-unavailable' });
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: 'degraded', store: 'down' });
      expect(stream.ended()).toBe(false);

      await cluster!.restart(victim);
      await waitFor(
        async () => {
          const reply = await publish(server.url, { topic: doomed, payload: 'after' });
          return reply.status === 200 && stream.events().some((e) => e.payload === 'after');
        },
        'delivery after the shard is back',
        30_000,
        200,
      );
      expect(stream.events().some((e) => e.payload === 'during')).toBe(false);
      expect(await (await fetch(`${server.url}/healthz`)).json()).toMatchObject({
        status: 'ok',
        store: 'up',
      });
    }, 60_000);
  });
}
