/**
 * Redis for the benchmark: is it there, how much CPU it has used, and removing every key the run
 * wrote under its prefix.
 */
import { Redis } from 'ioredis';

function client(url: string): Redis {
  return new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
}

/** null when Redis answers PING; otherwise why not. */
export async function redisProblem(url: string): Promise<string | null> {
  const redis = client(url);
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    redis.disconnect();
  }
}

/** Delete every key starting with `prefix`; returns how many. */
export async function deleteKeys(url: string, prefix: string): Promise<number> {
  const redis = client(url);
  redis.on('error', () => {});
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** CPU seconds (user + system, all its threads) the Redis server has used since it started. */
export async function redisCpuSeconds(url: string): Promise<number> {
  const redis = client(url);
  redis.on('error', () => {});
  try {
    await redis.connect();
    return cpuSecondsOf(await redis.info('cpu'));
  } finally {
    redis.disconnect();
  }
}

/** used_cpu_sys + used_cpu_user from the text of INFO cpu; throws when either is missing. */
export function cpuSecondsOf(info: string): number {
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:([0-9.]+)\\r?$`, 'm').exec(info);
    if (match === null) throw new Error(`INFO cpu has no ${name} field`);
    return Number(match[1]);
  };
  return field('used_cpu_sys') + field('used_cpu_user');
}
