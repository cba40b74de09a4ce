/** Redis for the benchmark: is it there, and removing every key the run wrote under its prefix. */
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
