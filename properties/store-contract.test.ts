// Goal: the core's store, the memory store and the Redis store keep one contract, the core store's.
// Method: the same suite against all four (the core's pure store run as its node is: swept when
// its deadline is due); Redis under a unique key prefix per store, deleted afterwards; the Redis
// Cluster store against a private 3-master cluster started for this file.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { applyStoreRequest, createStore, storeDeadline, storeRole } from '../core/index.ts';
import type { StoreLimits } from '../core/index.ts';
import { MemoryStore, RedisClusterStore, RedisStore, startRedisCluster } from '../prod/index.ts';
import type { RedisClusterProcess } from '../prod/index.ts';
import type { SubscriptionStorePort } from '../prod/index.ts';
import { redisClusterGate, redisGate, redisUrl, uniquePrefix } from '../prod/test-gate.ts';
import { describeStoreContract } from './store-contract.ts';

/** The core's store with no host around it but a clock: its deadline handled before each request. */
function coreStore(limits: Partial<StoreLimits>, epoch: number): SubscriptionStorePort {
  const state = createStore(limits, epoch);
  const started = performance.now();
  const now = (): number => Math.floor(performance.now() - started);
  return {
    request: (request) => {
      const due = storeDeadline(state);
      if (due !== null && now() >= due) storeRole.handle(state, { kind: 'deadline' }, now());
      return Promise.resolve(applyStoreRequest(state, request, now()).reply);
    },
    status: () => 'up',
    close: () => Promise.resolve(),
  };
}

describeStoreContract('core', (limits) =>
  Promise.resolve({ store: coreStore(limits, 1), loseData: () => Promise.resolve(coreStore(limits, 2)) }),
);

describeStoreContract('memory', (limits) => {
  const store = new MemoryStore(limits);
  // The memory store loses its data only with its process: a restart is a new store.
  return Promise.resolve({
    store,
    loseData: async () => {
      await store.close();
      await new Promise((resolve) => setTimeout(resolve, 2));
      return new MemoryStore(limits);
    },
  });
});

const redis = await redisGate();
const runPrefix = uniquePrefix('store-contract');

if (!redis.up && !redis.required) {
  it.skip(redis.skipMessage, () => {});
} else {
  describe('redis', () => {
    beforeAll(() => {
      if (!redis.up) throw new Error(redis.requiredMessage);
    });
    afterAll(async () => {
      const client = new Redis(redisUrl);
      const keys = await client.keys(`${runPrefix}*`);
      if (keys.length > 0) await client.del(...keys);
      await client.quit();
    });
    let n = 0;
    describeStoreContract('redis', async (limits) => {
      const prefix = `${runPrefix}${n++}:`;
      const store = new RedisStore({ url: redisUrl, prefix, limits });
      await store.ready();
      // Redis restarted empty: every key of this store is gone (the shared Redis is never flushed).
      const loseData = async (): Promise<RedisStore> => {
        const client = new Redis(redisUrl);
        const keys = await client.keys(`${prefix}*`);
        if (keys.length > 0) await client.del(...keys);
        await client.quit();
        return store;
      };
      return { store, loseData };
    });
  });
}

const clusterGate = redisClusterGate();

if (!clusterGate.up && !clusterGate.required) {
  it.skip(clusterGate.skipMessage, () => {});
} else {
  describe('redis cluster', () => {
    let cluster: RedisClusterProcess | null = null;
    beforeAll(async () => {
      if (!clusterGate.up) throw new Error(clusterGate.requiredMessage);
      cluster = await startRedisCluster();
    }, 60_000);
    afterAll(async () => {
      await cluster?.stop();
    });
    let n = 0;
    describeStoreContract('redis cluster', async (limits) => {
      const prefix = `contract${n++}:`;
      const store = new RedisClusterStore({ url: cluster!.url, prefix, limits });
      await store.ready();
      // Every shard restarted empty: every key of this store is gone, on every master.
      const loseData = async (): Promise<RedisClusterStore> => {
        for (const port of cluster!.ports) {
          const client = new Redis({ port, host: '127.0.0.1' });
          const keys = await client.keys(`{${prefix}*`);
          for (const key of keys) await client.del(key);
          await client.quit();
        }
        return store;
      };
      return { store, loseData };
    });
  });
}
