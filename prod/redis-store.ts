/**
 * The subscription store in Redis, for datacenters with more than one dispatcher. It keeps the
 * contract of the core's store (`core/subscription-store.ts`), checked by one shared suite:
 *
 * - Layout, per datacenter prefix P: `P topic:<T>` is a hash
 *   `frontend -> "expiresAtMs:generation:seq:removedAtMs"` (removedAtMs 0: not removed; else the
 *   entry is a tombstone keeping its generation for `tombstoneMs`, as in the core);
 *   `P topics` is a sorted set `topic -> latest expiry` that bounds the topic count; `P seq` numbers
 *   first registrations so lookups list frontends in the order they first registered.
 * - Every operation is one Lua script, so a read-compare-write on a generation is atomic, and lease
 *   expiry is computed from Redis' own clock (`TIME`): no two machines ever compare clocks.
 * - Lookups asked in one event-loop iteration (a batch publish, or many publishers at once) go to
 *   Redis as one script call over all their topics, answered one by one: a dispatcher spent more
 *   of its CPU on a command per lookup than on everything else a publish does.
 * - Keys carry a TTL as long as their longest lease, so a crashed frontend's entries, and a whole
 *   abandoned datacenter prefix, die by themselves; lookups also delete dead entries they meet.
 * - Redis being down is the weather: with no offline queue and no retries a request rejects at once,
 *   the dispatcher's store timeout answers the publisher 503, and the frontends' renewals repair
 *   every registration once Redis is back.
 */
import { Redis } from 'ioredis';
import { store, topicError } from '../core/index.ts';
import type { LeaseChange, StoreLimits, StoreReply, StoreRequest } from '../core/index.ts';
import type { LeaseListener, SubscriptionStorePort } from './store-port.ts';

const now = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function parse(v)
  local e, g, s, r = string.match(v, '^(%d+):(%d+):(%d+):(%d+)$')
  return tonumber(e), tonumber(g), tonumber(s), tonumber(r)
end
local function fmt(e, g, s, r) return string.format('%.0f:%.0f:%.0f:%.0f', e, g, s, r) end
local function extendTtl(key, ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
local function raiseScore(key, member, score)
  local best = redis.call('ZSCORE', key, member)
  if best == false or tonumber(best) < score then redis.call('ZADD', key, score, member) end
end
`;

/**
 * KEYS: topics, seq, topic keys...
 * ARGV: frontend, leaseMs, generation, topicsMax, perTopicMax, seqTtlMs, tombstoneMs, topic names...
 */
const writeScript = `${now}
local frontend = ARGV[1]
local leaseMs = tonumber(ARGV[2])
local generation = tonumber(ARGV[3])
local topicsMax = tonumber(ARGV[4])
local perTopicMax = tonumber(ARGV[5])
local seqTtlMs = tonumber(ARGV[6])
local tombstoneMs = tonumber(ARGV[7])
local expires = now + leaseMs
local full, applied, ignored = 0, 0, 0
local out = {}
local topicsPruned = false
for i = 3, #KEYS do
  local key = KEYS[i]
  local topic = ARGV[i + 5]
  local current = redis.call('HGET', key, frontend)
  local e, g, s, r
  if current then
    e, g, s, r = parse(current)
    -- A tombstone past its time is forgotten, as the core's sweep forgets it.
    if r > 0 and now >= r + tombstoneMs then
      redis.call('HDEL', key, frontend)
      current = nil
    end
  end
  local change = nil
  if current then
    if generation < g then
      ignored = ignored + 1
    else
      redis.call('HSET', key, frontend, fmt(expires, generation, s, 0))
      if now < e and r == 0 then change = 'renewed' else change = 'granted' end
    end
  else
    local size = redis.call('HLEN', key)
    local refuse = false
    if size == 0 then
      if not topicsPruned then
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        topicsPruned = true
      end
      if redis.call('ZSCORE', KEYS[1], topic) == false and redis.call('ZCARD', KEYS[1]) >= topicsMax then
        refuse = true
      end
    elseif size >= perTopicMax then
      refuse = true
    end
    if refuse then
      full = 1
    else
      local seq = redis.call('INCR', KEYS[2])
      -- Outlives every lease numbered from it, and dies with an abandoned prefix.
      redis.call('PEXPIRE', KEYS[2], seqTtlMs)
      redis.call('HSET', key, frontend, fmt(expires, generation, seq, 0))
      change = 'granted'
    end
  end
  if change then
    applied = applied + 1
    extendTtl(key, leaseMs)
    raiseScore(KEYS[1], topic, expires)
    table.insert(out, change)
    table.insert(out, topic)
    table.insert(out, string.format('%.0f', expires))
  end
end
if applied > 0 then extendTtl(KEYS[1], leaseMs) end
return { full, applied, ignored, out }
`;

/**
 * KEYS: topics, topic key.  ARGV: frontend, generation, topic, tombstoneMs.
 * A removal leaves a tombstone with its generation for tombstoneMs, so a renewal sent before the
 * unsubscribe but arriving after it cannot bring the lease back.
 */
const removeScript = `${now}
local tombstoneMs = tonumber(ARGV[4])
local generation = tonumber(ARGV[2])
local current = redis.call('HGET', KEYS[2], ARGV[1])
if not current then return 0 end
local e, g, s, r = parse(current)
if r > 0 and now >= r + tombstoneMs then
  redis.call('HDEL', KEYS[2], ARGV[1])
  if redis.call('HLEN', KEYS[2]) == 0 then redis.call('ZREM', KEYS[1], ARGV[3]) end
  return 0
end
if generation < g or r > 0 then
  if r > 0 and generation > g then redis.call('HSET', KEYS[2], ARGV[1], fmt(e, generation, s, r)) end
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], fmt(now, generation, s, now))
extendTtl(KEYS[2], tombstoneMs)
raiseScore(KEYS[1], ARGV[3], now + tombstoneMs)
extendTtl(KEYS[1], tombstoneMs)
return 1
`;

/**
 * KEYS: topics, topic keys...  ARGV: tombstoneMs, topic names...
 * Returns, per topic in order, { live frontends in first-registered order, frontends whose lease
 * expired }.
 */
const lookupScript = `${now}
local tombstoneMs = tonumber(ARGV[1])
local out = {}
for k = 2, #KEYS do
  local key = KEYS[k]
  local all = redis.call('HGETALL', key)
  local live, dead = {}, {}
  for i = 1, #all, 2 do
    local e, g, s, r = parse(all[i + 1])
    if e == nil then
      redis.call('HDEL', key, all[i])
    elseif r > 0 then
      if now >= r + tombstoneMs then redis.call('HDEL', key, all[i]) end
    elseif now >= e then
      redis.call('HDEL', key, all[i])
      table.insert(dead, all[i])
    else
      table.insert(live, { all[i], s })
    end
  end
  if redis.call('HLEN', key) == 0 then redis.call('ZREM', KEYS[1], ARGV[k]) end
  table.sort(live, function(a, b) return a[2] < b[2] end)
  local names = {}
  for i = 1, #live do names[i] = live[i][1] end
  out[k - 1] = { names, dead }
end
return out
`;

/** Lookups in one script call at most (a larger batch is split). */
const lookupsPerCallMax = 256;

interface PendingLookup {
  topic: string;
  resolve: (reply: StoreReply) => void;
  reject: (error: unknown) => void;
}

export interface RedisStoreOptions {
  url: string;
  /** Every key starts with it: one prefix per datacenter (and per test run). */
  prefix: string;
  limits?: Partial<StoreLimits>;
  onLease?: LeaseListener;
  /** Told when the connection goes up or down, with the error that took it down. */
  onStatus?: (status: 'up' | 'down', error?: Error) => void;
}

type ScriptRunner = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;

export class RedisStore implements SubscriptionStorePort {
  private readonly redis: Redis;
  private readonly limits: StoreLimits;
  private readonly prefix: string;
  private readonly onLease: LeaseListener;
  /** The last status reported to `onStatus`; null until the first verdict, which is always reported. */
  private lastStatus: 'up' | 'down' | null = null;
  /** Lookups of this event-loop iteration, sent together after it. */
  private lookups: PendingLookup[] = [];

  constructor(options: RedisStoreOptions) {
    this.prefix = options.prefix;
    this.limits = { ...store.defaultStoreLimits, ...options.limits };
    this.onLease = options.onLease ?? (() => {});
    const onStatus = options.onStatus ?? (() => {});
    this.redis = new Redis(options.url, {
      // Fail fast while disconnected: the dispatcher's timeout turns silence into a 503.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 1_000,
      // A Redis that stops answering without closing must not let requests pile up unanswered.
      commandTimeout: 2_000,
      retryStrategy: (attempt) => Math.min(100 * attempt, 1_000),
      lazyConnect: false,
    });
    this.redis.on('ready', () => {
      if (this.lastStatus !== 'up') onStatus('up');
      this.lastStatus = 'up';
    });
    this.redis.on('error', (error: Error) => {
      if (this.lastStatus !== 'down') onStatus('down', error);
      this.lastStatus = 'down';
    });
    this.redis.on('close', () => {
      if (this.lastStatus !== 'down') onStatus('down');
      this.lastStatus = 'down';
    });
    this.redis.defineCommand('stadiumWrite', { lua: writeScript });
    this.redis.defineCommand('stadiumRemove', { lua: removeScript });
    this.redis.defineCommand('stadiumLookup', { lua: lookupScript });
  }

  /** Resolves once connected (or rejects after `timeoutMs`): for tests and startup checks. */
  ready(timeoutMs = 2_000): Promise<void> {
    if (this.redis.status === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.redis.off('ready', onReady);
        reject(new Error(`Redis not ready after ${timeoutMs} ms`));
      }, timeoutMs);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.redis.once('ready', onReady);
    });
  }

  async request(request: StoreRequest): Promise<StoreReply> {
    switch (request.op) {
      case 'lookup': {
        const error = topicError(request.topic);
        if (error !== null) return rejected('bad-request', error);
        return new Promise((resolve, reject) => {
          if (this.lookups.length === 0) setImmediate(() => this.flushLookups());
          this.lookups.push({ topic: request.topic, resolve, reject });
        });
      }
      case 'add':
      case 'renew': {
        const topics = request.op === 'add' ? [request.topic] : request.topics;
        if (!(request.leaseMs > 0)) return rejected('bad-request', 'leaseMs must be positive');
        for (const topic of topics) {
          const error = topicError(topic);
          if (error !== null) return rejected('bad-request', error);
        }
        const leaseMs = Math.min(Math.floor(request.leaseMs), this.limits.leaseMsMax);
        const keys = [this.key('topics'), this.key('seq'), ...topics.map((t) => this.topicKey(t))];
        const [full, applied, ignored, flat] = (await this.run('stadiumWrite')(
          keys.length,
          ...keys,
          request.frontend,
          leaseMs,
          request.generation,
          this.limits.topicsMax,
          this.limits.frontendsPerTopicMax,
          2 * this.limits.leaseMsMax,
          this.limits.tombstoneMs,
          ...topics,
        )) as [number, number, number, string[]];
        for (let i = 0; i + 2 < flat.length; i += 3) {
          const change: LeaseChange = {
            change: flat[i] as 'granted' | 'renewed',
            topic: flat[i + 1] as string,
            frontend: request.frontend,
            expiresAtMs: Number(flat[i + 2]),
          };
          this.onLease(change);
        }
        if (full === 1 && applied === 0) {
          return rejected(
            'full',
            `store is full (topicsMax ${this.limits.topicsMax}, frontendsPerTopicMax ${this.limits.frontendsPerTopicMax})`,
          );
        }
        return { op: 'written', applied, ignored };
      }
      case 'remove': {
        const error = topicError(request.topic);
        if (error !== null) return rejected('bad-request', error);
        const removed = (await this.run('stadiumRemove')(
          2,
          this.key('topics'),
          this.topicKey(request.topic),
          request.frontend,
          request.generation,
          request.topic,
          this.limits.tombstoneMs,
        )) as number;
        if (removed === 1)
          this.onLease({ change: 'removed', topic: request.topic, frontend: request.frontend });
        return { op: 'written', applied: removed, ignored: 1 - removed };
      }
    }
  }

  status(): 'up' | 'down' {
    return this.redis.status === 'ready' ? 'up' : 'down';
  }

  async close(): Promise<void> {
    if (this.redis.status === 'ready') {
      await Promise.race([this.redis.quit().catch(() => 'gone'), new Promise((r) => setTimeout(r, 500))]);
    }
    this.redis.disconnect();
  }

  private flushLookups(): void {
    const lookups = this.lookups;
    this.lookups = [];
    for (let at = 0; at < lookups.length; at += lookupsPerCallMax) {
      const chunk = lookups.slice(at, at + lookupsPerCallMax);
      const keys = [this.key('topics'), ...chunk.map((l) => this.topicKey(l.topic))];
      this.run('stadiumLookup')(
        keys.length,
        ...keys,
        this.limits.tombstoneMs,
        ...chunk.map((l) => l.topic),
      ).then(
        (replies) => {
          chunk.forEach((lookup, i) => {
            const [live, dead] = (replies as [string[], string[]][])[i]!;
            for (const frontend of dead) this.onLease({ change: 'expired', topic: lookup.topic, frontend });
            lookup.resolve({ op: 'frontends', frontends: live });
          });
        },
        (error: unknown) => {
          for (const lookup of chunk) lookup.reject(error);
        },
      );
    }
  }

  private run(name: string): ScriptRunner {
    return (this.redis as unknown as Record<string, ScriptRunner>)[name]!.bind(this.redis);
  }

  private key(name: string): string {
    return `${this.prefix}${name}`;
  }

  private topicKey(topic: string): string {
    return `${this.prefix}topic:${topic}`;
  }
}

function rejected(reason: 'full' | 'bad-request', message: string): StoreReply {
  return { op: 'rejected', reason, message };
}
