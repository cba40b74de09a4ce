/**
 * Which Redis structure holds a topic's history best: the measurement behind the choice written
 * in prod/redis-store-scripts.ts. Not part of `npm run bench`; run it by hand:
 *
 *   node --experimental-strip-types bench/redis-history-candidates.ts   (or: npx tsx ...)
 *
 * It starts a private `redis-server` on a free port and times the append path alone (sequence,
 * idempotency index, count and age trimming, TTLs; no lease lookup, which both candidates share)
 * for two candidates, 20,000 appends over 100 topics in script calls of `batch` appends each:
 * - stream: `XADD <seq>-0 t <appendedAtMs> e <json>`, `XTRIM MAXLEN`, age checked on the oldest entry;
 * - list:   `RPUSH "<appendedAtMs>:<json>"`, `LPOP` past the bound, age checked with `LINDEX 0`.
 * Both remember ids the same way (a list of "appendedAtMs:id" in seq order and a hash id -> seq).
 * Then, through prod/redis-store.ts as a dispatcher uses it: appends/s (10,000 appends to 100
 * topics, each with one live frontend, `inFlight` asked per event-loop iteration) beside lookups/s.
 */
import { Redis } from 'ioredis';
import { freePorts, RedisStore, startRedisServer } from '../prod/index.ts';
import type { StoreRequest } from '../core/index.ts';

const common = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local eventsMax, ageMs, idsMax = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i = 1, (#ARGV - 3) / 3 do
  local topic, id, json = ARGV[3 + 3 * i - 2], ARGV[3 + 3 * i - 1], ARGV[3 + 3 * i]
  local ev, ids, ix = KEYS[3 * i - 1], KEYS[3 * i], KEYS[3 * i + 1]
  local known = redis.call('HGET', ix, id)
  if known then
    out[i] = tonumber(known)
  else
    local seq = redis.call('HINCRBY', KEYS[1], topic, 1)
    APPEND
    redis.call('RPUSH', ids, now .. ':' .. id)
    redis.call('HSET', ix, id, seq)
    if redis.call('LLEN', ids) > idsMax then
      local gone = redis.call('LPOP', ids)
      redis.call('HDEL', ix, string.match(gone, '^%d+:(.*)$'))
    end
    redis.call('PEXPIRE', ev, ageMs)
    redis.call('PEXPIRE', ids, ageMs)
    redis.call('PEXPIRE', ix, ageMs)
    out[i] = seq
  end
end
return out
`;

const candidates: Record<string, string> = {
  stream: common.replace(
    'APPEND',
    `redis.call('XADD', ev, seq .. '-0', 't', now, 'e', json)
    if redis.call('XLEN', ev) > eventsMax then redis.call('XTRIM', ev, 'MAXLEN', eventsMax) end
    local first = redis.call('XRANGE', ev, '-', '+', 'COUNT', 1)[1]
    if first and tonumber(first[2][2]) <= now - ageMs then redis.call('XTRIM', ev, 'MINID', seq) end`,
  ),
  list: common.replace(
    'APPEND',
    `redis.call('RPUSH', ev, now .. ':' .. json)
    if redis.call('LLEN', ev) > eventsMax then redis.call('LPOP', ev) end
    local first = redis.call('LINDEX', ev, 0)
    if first and tonumber(string.match(first, '^(%d+):')) <= now - ageMs then redis.call('LTRIM', ev, -1, -1) end`,
  ),
};

const appends = 20_000;
// 100 holds 100 of the 200 events each topic gets: every append past the first half trims.
const eventsMax = Number(process.env.EVENTS_MAX ?? 1_000);
const topics = 100;
const payload = JSON.stringify({ text: 'x'.repeat(120), likes: 42 });

async function measure(redis: Redis, name: string, script: string, batch: number): Promise<number> {
  const sha = (await redis.script('LOAD', script)) as string;
  const prefix = `cand:${name}:${batch}:`;
  const started = performance.now();
  for (let at = 0; at < appends; at += batch) {
    const keys = [`${prefix}heads`];
    const args: (string | number)[] = [eventsMax, 120_000, 4 * eventsMax];
    for (let i = at; i < Math.min(at + batch, appends); i++) {
      const topic = `t${i % topics}`;
      keys.push(`${prefix}ev:${topic}`, `${prefix}ids:${topic}`, `${prefix}ix:${topic}`);
      const event = { id: `e${i}`, topic, origin: 'dc-a', publishedAtMs: Date.now(), payload };
      args.push(topic, event.id, JSON.stringify(event));
    }
    await redis.evalsha(sha, keys.length, ...keys, ...args);
  }
  const perSecond = appends / ((performance.now() - started) / 1000);
  const memory = (await redis.info('memory')).match(/used_memory:(\d+)/)?.[1];
  const stats = (await redis.info('commandstats')).match(/cmdstat_evalsha:calls=(\d+),usec=(\d+)/);
  const redisUsPerAppend = stats === null ? NaN : Number(stats[2]) / appends;
  await redis.config('RESETSTAT');
  await redis.flushall();
  console.log(
    `${name.padEnd(6)} batch ${String(batch).padStart(4)}: ${Math.round(perSecond)} appends/s, Redis ${redisUsPerAppend.toFixed(1)} us per append (memory ${memory} bytes)`,
  );
  return perSecond;
}

async function throughStore(url: string, inFlight: number): Promise<void> {
  const store = new RedisStore({ url, prefix: `rate:${inFlight}:` });
  await store.ready();
  for (let t = 0; t < topics; t++)
    await store.request({ op: 'add', topic: `t${t}`, frontend: 'f1', leaseMs: 60_000, generation: 1 });
  const rate = async (make: (i: number) => StoreRequest): Promise<number> => {
    const total = 10_000;
    const started = performance.now();
    for (let at = 0; at < total; at += inFlight)
      await Promise.all(
        Array.from({ length: Math.min(inFlight, total - at) }, (_, j) => store.request(make(at + j))),
      );
    return total / ((performance.now() - started) / 1000);
  };
  const redis = new Redis(url);
  await redis.config('RESETSTAT');
  const appendsPerSecond = await rate((i) => {
    const topic = `t${i % topics}`;
    return { op: 'append', event: { id: `e${i}`, topic, origin: 'dc-a', publishedAtMs: 1, payload } };
  });
  const redisUs = (await redis.info('commandstats')).match(/cmdstat_evalsha:calls=(\d+),usec=(\d+)/);
  await redis.config('RESETSTAT');
  const lookupsPerSecond = await rate((i) => ({ op: 'lookup', topic: `t${i % topics}` }));
  const lookupUs = (await redis.info('commandstats')).match(/cmdstat_evalsha:calls=(\d+),usec=(\d+)/);
  redis.disconnect();
  console.log(
    `  Redis: appends ${redisUs?.[1]} calls ${Number(redisUs?.[2]) / 10_000} us/append; lookups ${lookupUs?.[1]} calls ${Number(lookupUs?.[2]) / 10_000} us/lookup`,
  );
  console.log(
    `RedisStore, ${String(inFlight).padStart(4)} per iteration: ${Math.round(appendsPerSecond)} appends/s, ${Math.round(lookupsPerSecond)} lookups/s`,
  );
  await store.close();
}

const [port] = await freePorts('127.0.0.1', 20_000 + Math.floor(Math.random() * 20_000), 1);
const server = await startRedisServer(port!);
const redis = new Redis(server.url);
try {
  if (process.env.STORE_ONLY === undefined)
    for (const batch of [1, 16, 64, 256])
      for (const [name, script] of Object.entries(candidates)) await measure(redis, name, script, batch);
  for (const inFlight of [1, 64, 512]) await throughStore(server.url, inFlight);
} finally {
  redis.disconnect();
  await server.stop();
}
