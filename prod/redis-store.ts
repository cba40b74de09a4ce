/**
 * The subscription store in Redis, for datacenters with more than one dispatcher. It keeps the
 * contract of the core's store (`core/subscription-store.ts`), checked by one shared suite:
 *
 * - Layout, per datacenter prefix P: `P topic:<T>` is a hash
 *   `frontend -> "expiresAtMs:generation:seq:removedAtMs"` (removedAtMs 0: not removed; else the
 *   entry is a tombstone keeping its generation for `tombstoneMs`, as in the core; an entry past its
 *   expiry but not removed is a lapsed lease, reported by lookups for `lapsedKeepMs`);
 *   `P topics` is a sorted set `topic -> latest expiry` that bounds the topic count; `P seq` numbers
 *   first registrations so lookups list frontends in the order they first registered; `P epoch` is
 *   `"id:bornAtMs"`, made from Redis' clock by whichever script finds it missing (Redis came back
 *   empty), so the epoch every answer carries grows exactly when the data was lost.
 * - A lapsed lease is reported `expired` when it is deleted, `lapsedKeepMs` after it lapsed (the
 *   core's store reports it when it lapses).
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
import { defaultStoreLimits, topicError } from '../core/index.ts';
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
-- The store's epoch: "id:bornAtMs", made when missing (Redis came back empty, or a new prefix), its
-- id the current time in microseconds so that a later epoch is larger. Returns id, age in ms.
local function epoch(key, ttlMs)
  local v = redis.call('GET', key)
  local id, born
  if v then
    id, born = string.match(v, '^(%d+):(%d+)$')
    id, born = tonumber(id), tonumber(born)
  end
  if not id then
    id, born = tonumber(t[1]) * 1000000 + tonumber(t[2]), now
    redis.call('SET', key, string.format('%.0f:%.0f', id, born), 'PX', ttlMs)
  else
    redis.call('PEXPIRE', key, ttlMs)
  end
  return string.format('%.0f', id), now - born
end
`;

/**
 * KEYS: epoch, topics, seq, topic keys...
 * ARGV: frontend, leaseMs, generation, topicsMax, perTopicMax, ttlMs (seq and epoch), tombstoneMs,
 * lapsedKeepMs, topic names...
 * Returns { full, applied, ignored, changes, epoch id, epoch age }.
 */
const writeScript = `${now}
local epochId, epochAge = epoch(KEYS[1], tonumber(ARGV[6]))
local frontend = ARGV[1]
local leaseMs = tonumber(ARGV[2])
local generation = tonumber(ARGV[3])
local topicsMax = tonumber(ARGV[4])
local perTopicMax = tonumber(ARGV[5])
local seqTtlMs = tonumber(ARGV[6])
local tombstoneMs = tonumber(ARGV[7])
-- A lease that lapses stays (as lapsed) for lapsedKeepMs, so keys live that much longer.
local keepMs = leaseMs + tonumber(ARGV[8])
local expires = now + leaseMs
local full, applied, ignored = 0, 0, 0
local out = {}
local topicsPruned = false
for i = 4, #KEYS do
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
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
        topicsPruned = true
      end
      if redis.call('ZSCORE', KEYS[2], topic) == false and redis.call('ZCARD', KEYS[2]) >= topicsMax then
        refuse = true
      end
    elseif size >= perTopicMax then
      refuse = true
    end
    if refuse then
      full = 1
    else
      local seq = redis.call('INCR', KEYS[3])
      -- Outlives every lease numbered from it, and dies with an abandoned prefix.
      redis.call('PEXPIRE', KEYS[3], seqTtlMs)
      redis.call('HSET', key, frontend, fmt(expires, generation, seq, 0))
      change = 'granted'
    end
  end
  if change then
    applied = applied + 1
    extendTtl(key, keepMs)
    raiseScore(KEYS[2], topic, now + keepMs)
    table.insert(out, change)
    table.insert(out, topic)
    table.insert(out, string.format('%.0f', expires))
  end
end
if applied > 0 then extendTtl(KEYS[2], keepMs) end
return { full, applied, ignored, out, epochId, epochAge }
`;

/**
 * KEYS: epoch, topics, topic key.  ARGV: frontend, generation, topic, tombstoneMs, epochTtlMs.
 * Returns { removed (0 or 1), epoch id, epoch age }.
 * A removal leaves a tombstone with its generation for tombstoneMs, so a renewal sent before the
 * unsubscribe but arriving after it cannot bring the lease back.
 */
const removeScript = `${now}
local epochId, epochAge = epoch(KEYS[1], tonumber(ARGV[5]))
local function remove()
  local tombstoneMs = tonumber(ARGV[4])
  local generation = tonumber(ARGV[2])
  local current = redis.call('HGET', KEYS[3], ARGV[1])
  if not current then return 0 end
  local e, g, s, r = parse(current)
  if r > 0 and now >= r + tombstoneMs then
    redis.call('HDEL', KEYS[3], ARGV[1])
    if redis.call('HLEN', KEYS[3]) == 0 then redis.call('ZREM', KEYS[2], ARGV[3]) end
    return 0
  end
  if generation < g or r > 0 then
    if r > 0 and generation > g then redis.call('HSET', KEYS[3], ARGV[1], fmt(e, generation, s, r)) end
    return 0
  end
  redis.call('HSET', KEYS[3], ARGV[1], fmt(now, generation, s, now))
  extendTtl(KEYS[3], tombstoneMs)
  raiseScore(KEYS[2], ARGV[3], now + tombstoneMs)
  extendTtl(KEYS[2], tombstoneMs)
  return 1
end
return { remove(), epochId, epochAge }
`;

/**
 * KEYS: epoch, topics, topic keys...  ARGV: tombstoneMs, epochTtlMs, lapsedKeepMs, topic names...
 * Returns { per topic in order { live frontends, lapsed frontends (both in first-registered
 * order), frontends forgotten now that their lapse is older than lapsedKeepMs }, epoch id, epoch
 * age }.
 */
const lookupScript = `${now}
local epochId, epochAge = epoch(KEYS[1], tonumber(ARGV[2]))
local tombstoneMs = tonumber(ARGV[1])
local lapsedKeepMs = tonumber(ARGV[3])
local function names(list)
  table.sort(list, function(a, b) return a[2] < b[2] end)
  local out = {}
  for i = 1, #list do out[i] = list[i][1] end
  return out
end
local out = {}
for k = 3, #KEYS do
  local key = KEYS[k]
  local all = redis.call('HGETALL', key)
  local live, lapsed, dead = {}, {}, {}
  for i = 1, #all, 2 do
    local e, g, s, r = parse(all[i + 1])
    if e == nil then
      redis.call('HDEL', key, all[i])
    elseif r > 0 then
      if now >= r + tombstoneMs then redis.call('HDEL', key, all[i]) end
    elseif now >= e + lapsedKeepMs then
      redis.call('HDEL', key, all[i])
      table.insert(dead, all[i])
    elseif now >= e then
      table.insert(lapsed, { all[i], s })
    else
      table.insert(live, { all[i], s })
    end
  end
  if redis.call('HLEN', key) == 0 then redis.call('ZREM', KEYS[2], ARGV[k + 1]) end
  out[k - 2] = { names(live), names(lapsed), dead }
end
return { out, epochId, epochAge }
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
    this.limits = { ...defaultStoreLimits, ...options.limits };
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
        const keys = [
          this.key('epoch'),
          this.key('topics'),
          this.key('seq'),
          ...topics.map((t) => this.topicKey(t)),
        ];
        const [full, applied, ignored, flat, epochId, epochAgeMs] = (await this.run('stadiumWrite')(
          keys.length,
          ...keys,
          request.frontend,
          leaseMs,
          request.generation,
          this.limits.topicsMax,
          this.limits.frontendsPerTopicMax,
          this.epochTtlMs(),
          this.limits.tombstoneMs,
          this.limits.lapsedKeepMs,
          ...topics,
        )) as [number, number, number, string[], string, number];
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
        const written = { op: 'written', applied, ignored, epoch: Number(epochId), epochAgeMs } as const;
        if (request.op === 'add') return written;
        const regranted: string[] = [];
        for (let i = 0; i + 2 < flat.length; i += 3)
          if (flat[i] === 'granted') regranted.push(flat[i + 1] as string);
        return { ...written, regranted };
      }
      case 'remove': {
        const error = topicError(request.topic);
        if (error !== null) return rejected('bad-request', error);
        const [removed, epochId, epochAgeMs] = (await this.run('stadiumRemove')(
          3,
          this.key('epoch'),
          this.key('topics'),
          this.topicKey(request.topic),
          request.frontend,
          request.generation,
          request.topic,
          this.limits.tombstoneMs,
          this.epochTtlMs(),
        )) as [number, string, number];
        if (removed === 1)
          this.onLease({ change: 'removed', topic: request.topic, frontend: request.frontend });
        return {
          op: 'written',
          applied: removed,
          ignored: 1 - removed,
          epoch: Number(epochId),
          epochAgeMs,
        };
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
      const keys = [this.key('epoch'), this.key('topics'), ...chunk.map((l) => this.topicKey(l.topic))];
      this.run('stadiumLookup')(
        keys.length,
        ...keys,
        this.limits.tombstoneMs,
        this.epochTtlMs(),
        this.limits.lapsedKeepMs,
        ...chunk.map((l) => l.topic),
      ).then(
        (answer) => {
          const [replies, epochId, epochAgeMs] = answer as [[string[], string[], string[]][], string, number];
          const epoch = Number(epochId);
          chunk.forEach((lookup, i) => {
            const [live, lapsed, dead] = replies[i]!;
            for (const frontend of dead) this.onLease({ change: 'expired', topic: lookup.topic, frontend });
            lookup.resolve({ op: 'frontends', frontends: live, lapsed, epoch, epochAgeMs });
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

  /** The epoch outlives every lease and tombstone written under it, and dies with an abandoned prefix. */
  private epochTtlMs(): number {
    return 2 * Math.max(this.limits.leaseMsMax + this.limits.lapsedKeepMs, this.limits.tombstoneMs);
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
