/**
 * The subscription store's rules as Lua scripts run inside Redis (prod/redis-store.ts calls them):
 * each operation is one script, so a read-compare-write on a generation is atomic, and lease expiry
 * is computed from Redis' own clock (`TIME`): no two machines ever compare clocks.
 *
 * Layout, per datacenter prefix P: `P topic:<T>` is a hash
 * `frontend -> "expiresAtMs:generation:seq:removedAtMs"` (removedAtMs 0: not removed; else the entry
 * is a tombstone keeping its generation for `tombstoneMs`, as in the core; an entry past its expiry
 * but not removed is a lapsed lease, reported by lookups for `lapsedKeepMs`); `P topics` is a sorted
 * set `topic -> latest expiry` that bounds the topic count; `P seq` numbers first registrations so
 * lookups list frontends in the order they first registered; `P epoch` is `"id:bornAtMs"`, made from
 * Redis' clock by whichever script finds it missing (Redis came back empty), so the epoch every
 * answer carries grows exactly when the data was lost.
 *
 * Each script's KEYS, ARGV and reply are written above it; the caller passes them in that order.
 */

/** What every script starts with: Redis' clock as `now`, the entry format, TTLs, and the epoch. */
const prelude = `
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
 * Returns { full, applied, ignored, changes (flat: granted|renewed|refused, topic, expires), epoch id,
 * epoch age }.
 */
export const writeScript = `${prelude}
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
      table.insert(out, 'refused')
      table.insert(out, topic)
      table.insert(out, '0')
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
export const removeScript = `${prelude}
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
export const lookupScript = `${prelude}
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
