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
 * Occupancy (viewer counts; the rules of core/subscription-store.ts): `P counts:<T>` is a hash
 * `frontend -> "count:expiresAtMs"` beside the lease hash, holding a lease's count while it is
 * positive (a write with count 0, or a removal, deletes the field), so a topic's local occupancy is
 * the sum over the fields whose lease is live, and a store where nobody reports counts pays one
 * HDEL and one read of an empty key per topic written. The count is not in the lease entry so that
 * the entry keeps the format every script (of every version, during a rolling upgrade) parses.
 * `P remote:<T>` is a hash `dc -> "order:count:epoch:ageMs:expiresAtMs"` of the peer datacenters'
 * totals (order: the datacenters in the order they first sent one), each forgotten `remoteKeepMs`
 * after it expired, by whichever script meets it then, and by the key's TTL; `P remotes` is a sorted
 * set `topic -> when its last total is forgotten` that bounds the topics with totals (topicsMax).
 *
 * Each script's KEYS, ARGV and reply are written above it; the caller passes them in that order.
 */
import type { StoreOccupancy, Topic } from '../core/index.ts';

/** What every script starts with: Redis' clock as `now`, the entry format, TTLs, and the epoch (the cluster store's scripts share it, prod/redis-cluster-store-scripts.ts). */
export const prelude = `
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
-- The heads hash lives exactly as long as the epoch: a head forgotten within its epoch would hand
-- out its seqs again, and heads left from an older epoch would count on from its seqs.
local function epoch(key, ttlMs, headsKey)
  local v = redis.call('GET', key)
  local id, born
  if v then
    id, born = string.match(v, '^(%d+):(%d+)$')
    id, born = tonumber(id), tonumber(born)
  end
  if not id then
    id, born = tonumber(t[1]) * 1000000 + tonumber(t[2]), now
    redis.call('SET', key, string.format('%.0f:%.0f', id, born), 'PX', ttlMs)
    redis.call('DEL', headsKey)
  else
    redis.call('PEXPIRE', key, ttlMs)
    redis.call('PEXPIRE', headsKey, ttlMs)
  end
  return string.format('%.0f', id), now - born
end
-- A topic's frontends by its lease hash, deleting dead entries on the way: live ones (in
-- first-registered order) with their lease left in ms, lapsed ones (same order), and those
-- forgotten now that their lapse is older than lapsedKeepMs.
local function frontendsOf(key, tombstoneMs, lapsedKeepMs)
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
      table.insert(lapsed, { all[i], s, 0 })
    else
      table.insert(live, { all[i], s, e - now })
    end
  end
  local function byFirstRegistered(list)
    table.sort(list, function(a, b) return a[2] < b[2] end)
    local names, left = {}, {}
    for i = 1, #list do
      names[i] = list[i][1]
      left[i] = list[i][3]
    end
    return names, left
  end
  local liveNames, leaseLeft = byFirstRegistered(live)
  local lapsedNames = byFirstRegistered(lapsed)
  return liveNames, leaseLeft, lapsedNames, dead, #all == 0 or redis.call('HLEN', key) == 0
end
`;

/**
 * Occupancy's Lua (the cluster store's scripts share it): a lease's count, the peer totals held, and
 * a topic's occupancy as the core's `occupancyOf` answers it. Needs `prelude` before it.
 */
export const occupancyPrelude = `
local function setCount(counts, frontend, count, expires, ttlMs)
  if count > 0 then
    redis.call('HSET', counts, frontend, string.format('%.0f:%.0f', count, expires))
    extendTtl(counts, ttlMs)
  else
    redis.call('HDEL', counts, frontend)
  end
end
-- The peer totals held in a topic's remote hash, in the order their datacenters first sent one,
-- each { dc, order, count, epoch, ageMs, expiresAtMs }; those forgotten by now (keepMs after their
-- expiry) are deleted on the way.
local function remoteTotals(remote, keepMs)
  local all = redis.call('HGETALL', remote)
  local held = {}
  for i = 1, #all, 2 do
    local o, c, ep, a, x = string.match(all[i + 1], '^(%d+):(%d+):(%-?%d+):(%d+):(%d+)$')
    if o == nil or now >= tonumber(x) + keepMs then
      redis.call('HDEL', remote, all[i])
    else
      held[#held + 1] = { all[i], tonumber(o), tonumber(c), tonumber(ep), tonumber(a), tonumber(x) }
    end
  end
  table.sort(held, function(p, q) return p[2] < q[2] end)
  return held
end
-- Keep dc's total unless its held one has an equal or newer stamp (epoch, then age). Returns
-- 'kept' and when the hash's last total is forgotten, or 'ignored', or 'full' (dcsMax datacenters
-- held already); \`admit(topic)\` says whether a topic holding no total may hold one (topicsMax).
local function writeRemote(remote, topic, dc, count, ep, age, validMs, keepMs, dcsMax, admit)
  local held = remoteTotals(remote, keepMs)
  local mine, order = nil, 0
  for _, h in ipairs(held) do
    if h[1] == dc then mine = h end
    order = math.max(order, h[2])
  end
  if mine and (mine[4] > ep or (mine[4] == ep and mine[5] >= age)) then return 'ignored' end
  if not mine and #held >= dcsMax then return 'full' end
  if #held == 0 and not admit(topic) then return 'full' end
  local expires = now + validMs
  if mine then order = mine[2] else order = order + 1 end
  redis.call('HSET', remote, dc, string.format('%.0f:%.0f:%.0f:%.0f:%.0f', order, count, ep, age, expires))
  local last = expires + keepMs
  for _, h in ipairs(held) do
    if h[1] ~= dc then last = math.max(last, h[6] + keepMs) end
  end
  redis.call('PEXPIREAT', remote, last)
  return 'kept', last
end
-- A topic's occupancy: { local (the counts of its live leases summed), flat peer totals (dc, count,
-- 1 when expired else 0, per total) }. Counts of leases no longer live are deleted on the way.
local function occupancyOf(counts, remote, keepMs)
  local sum = 0
  local all = redis.call('HGETALL', counts)
  for i = 1, #all, 2 do
    local c, x = string.match(all[i + 1], '^(%d+):(%d+)$')
    if c == nil or now >= tonumber(x) then
      redis.call('HDEL', counts, all[i])
    else
      sum = sum + tonumber(c)
    end
  end
  local flat = {}
  for _, h in ipairs(remoteTotals(remote, keepMs)) do
    flat[#flat + 1] = h[1]
    flat[#flat + 1] = h[3]
    if now >= h[6] then flat[#flat + 1] = 1 else flat[#flat + 1] = 0 end
  end
  return { sum, flat }
end
`;

/** One topic's occupancy as `occupancyOf` answers it (a Lua script's reply), as the core's store says it. */
export function storeOccupancyOf(topic: Topic, answer: unknown): StoreOccupancy {
  const [local, flat] = answer as [number, (string | number)[]];
  const remote: StoreOccupancy['remote'] = [];
  for (let i = 0; i + 2 < flat.length; i += 3)
    remote.push({ dc: String(flat[i]), count: Number(flat[i + 1]), expired: flat[i + 2] === 1 });
  return { topic, local: Number(local), remote };
}

/**
 * KEYS: epoch, topics, seq, heads, then per topic: its lease key, counts key, remote key.
 * ARGV: frontend, leaseMs, generation, topicsMax, perTopicMax, ttlMs (seq and epoch), tombstoneMs,
 * lapsedKeepMs, remoteKeepMs, then per topic: its name, its count.
 * Returns { full, applied, ignored, changes (flat: granted|renewed|refused, topic, expires), epoch id,
 * epoch age, heads (each topic's head in order, 0 without a history; empty while no topic has one),
 * occupancy (each topic's, in order, after the whole write; empty when every topic was refused) }.
 */
export const writeScript = `${prelude}${occupancyPrelude}
local epochId, epochAge = epoch(KEYS[1], tonumber(ARGV[6]), KEYS[4])
local frontend = ARGV[1]
local leaseMs = tonumber(ARGV[2])
local generation = tonumber(ARGV[3])
local topicsMax = tonumber(ARGV[4])
local perTopicMax = tonumber(ARGV[5])
local seqTtlMs = tonumber(ARGV[6])
local tombstoneMs = tonumber(ARGV[7])
-- A lease that lapses stays (as lapsed) for lapsedKeepMs, so keys live that much longer.
local keepMs = leaseMs + tonumber(ARGV[8])
local remoteKeepMs = tonumber(ARGV[9])
local topicCount = (#KEYS - 4) / 3
local expires = now + leaseMs
local full, applied, ignored = 0, 0, 0
local out = {}
local topicsPruned = false
for i = 1, topicCount do
  local key, counts = KEYS[3 * i + 2], KEYS[3 * i + 3]
  local topic, count = ARGV[2 * i + 8], tonumber(ARGV[2 * i + 9])
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
    setCount(counts, frontend, count, expires, leaseMs)
    table.insert(out, change)
    table.insert(out, topic)
    table.insert(out, string.format('%.0f', expires))
  end
end
if applied > 0 then extendTtl(KEYS[2], keepMs) end
local heads = {}
if redis.call('HLEN', KEYS[4]) > 0 then
  -- One HGET per topic: unpack() of a long renewal could pass Lua's C stack limit.
  for i = 1, topicCount do heads[i] = tonumber(redis.call('HGET', KEYS[4], ARGV[2 * i + 8]) or 0) end
end
local occupancy = {}
-- As the core's store: a write refused for every topic answers no occupancy.
if full == 0 or applied > 0 then
  for i = 1, topicCount do occupancy[i] = occupancyOf(KEYS[3 * i + 3], KEYS[3 * i + 4], remoteKeepMs) end
end
return { full, applied, ignored, out, epochId, epochAge, heads, occupancy }
`;

/**
 * KEYS: epoch, topics, topic key, heads, counts key, remote key.
 * ARGV: frontend, generation, topic, tombstoneMs, epochTtlMs, remoteKeepMs.
 * Returns { removed (0 or 1), epoch id, epoch age, the topic's occupancy after it }.
 * A removal leaves a tombstone with its generation for tombstoneMs, so a renewal sent before the
 * unsubscribe but arriving after it cannot bring the lease back; its count goes at once.
 */
export const removeScript = `${prelude}${occupancyPrelude}
local epochId, epochAge = epoch(KEYS[1], tonumber(ARGV[5]), KEYS[4])
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
  redis.call('HDEL', KEYS[5], ARGV[1])
  extendTtl(KEYS[3], tombstoneMs)
  raiseScore(KEYS[2], ARGV[3], now + tombstoneMs)
  extendTtl(KEYS[2], tombstoneMs)
  return 1
end
local removed = remove()
return { removed, epochId, epochAge, occupancyOf(KEYS[5], KEYS[6], tonumber(ARGV[6])) }
`;

/**
 * KEYS: epoch, topics, heads, topic keys...  ARGV: tombstoneMs, epochTtlMs, lapsedKeepMs, topic names...
 * Returns { per topic in order { live frontends, lapsed frontends (both in first-registered
 * order), frontends forgotten now that their lapse is older than lapsedKeepMs }, epoch id, epoch
 * age }.
 */
export const lookupScript = `${prelude}
local epochId, epochAge = epoch(KEYS[1], tonumber(ARGV[2]), KEYS[3])
local tombstoneMs = tonumber(ARGV[1])
local lapsedKeepMs = tonumber(ARGV[3])
local out = {}
for k = 4, #KEYS do
  local live, _, lapsed, dead, empty = frontendsOf(KEYS[k], tombstoneMs, lapsedKeepMs)
  if empty then redis.call('ZREM', KEYS[2], ARGV[k]) end
  out[k - 3] = { live, lapsed, dead }
end
return { out, epochId, epochAge }
`;

/**
 * KEYS: epoch, heads, then per topic: its counts key, remote key.  ARGV: epochTtlMs, remoteKeepMs.
 * Returns { each topic's occupancy in order, epoch id, epoch age }.
 */
export const occupancyScript = `${prelude}${occupancyPrelude}
local epochId, epochAge = epoch(KEYS[1], tonumber(ARGV[1]), KEYS[2])
local keepMs = tonumber(ARGV[2])
local out = {}
for i = 1, (#KEYS - 2) / 2 do out[i] = occupancyOf(KEYS[2 * i + 1], KEYS[2 * i + 2], keepMs) end
return { out, epochId, epochAge }
`;

/**
 * A peer datacenter's totals, each kept in order as the core's store keeps them; at a bound the
 * write stops there (what was kept before stays) and answers full, as the core's store does.
 * KEYS: epoch, heads, remotes, then per total: its topic's remote key.
 * ARGV: epochTtlMs, topicsMax, remoteDcsMax, remoteKeepMs, dc, then per total: topic, count, epoch,
 * ageMs, validMs.
 * Returns { 'ok' or 'full', applied, ignored, epoch id, epoch age }.
 */
export const remoteTotalsScript = `${prelude}${occupancyPrelude}
local epochId, epochAge = epoch(KEYS[1], tonumber(ARGV[1]), KEYS[2])
local topicsMax, dcsMax, keepMs, dc = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local pruned = false
local function admit(topic)
  if not pruned then
    redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
    pruned = true
  end
  return redis.call('ZSCORE', KEYS[3], topic) ~= false or redis.call('ZCARD', KEYS[3]) < topicsMax
end
local applied, ignored = 0, 0
for i = 1, #KEYS - 3 do
  local at = 5 * i + 1
  local topic = ARGV[at]
  local kept, last = writeRemote(KEYS[i + 3], topic, dc, tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]),
    tonumber(ARGV[at + 3]), tonumber(ARGV[at + 4]), keepMs, dcsMax, admit)
  if kept == 'full' then return { 'full', applied, ignored, epochId, epochAge } end
  if kept == 'kept' then
    applied = applied + 1
    redis.call('ZADD', KEYS[3], last, topic)
    extendTtl(KEYS[3], last - now)
  else
    ignored = ignored + 1
  end
end
return { 'ok', applied, ignored, epochId, epochAge }
`;

/**
 * Histories (reliable mode). Per topic T: `P hist:<T>` is a stream whose entry ids are the seqs
 * (`<seq>-0`, fields `t` appendedAtMs and `e` the event's JSON text), so a read is one XRANGE from
 * the seq it wants and count trimming is an exact `XTRIM MINID`; `P ids:<T>` lists
 * `"appendedAtMs:id"` in seq order and `P idx:<T>` maps id -> seq, the ids remembered for
 * idempotent appends; all three expire historyAgeMs after the topic's last append, which is when
 * age trimming would have emptied them anyway. `P heads` maps topic -> newest seq, lives and dies
 * with the epoch (see `epoch`), and bounds the topics with a history (historyTopicsMax).
 *
 * Why a stream: measured against a list of `"appendedAtMs:json"` entries (index = seq - firstSeq)
 * with bench/redis-history-candidates.ts (private redis-server 7.0, 20,000 appends of ~300-byte
 * events to 100 topics, a 2-core machine shared with a load average of 7-17, so +-30%): the two
 * are a tie on speed (batch 16: stream 33,000 vs list 35,000 appends/s, 20 vs 18 us of Redis per
 * append; batch 1: 6,000 vs 4,400; batch 256: 14,000 each) and the list holds ~36 bytes less per
 * event (7.13 vs 7.85 MB for 20,000 events). The stream wins on what it promises: an entry names
 * its own seq, so a read is `XRANGE <after+1>-0 + COUNT n` with nothing computed from an assumed
 * contiguity, and XADD refuses an id not above the stream's last one, so a seq handed out twice
 * fails loudly instead of serving two events under one seq. MINID cannot trim by age (ids are
 * seqs, not times): age is the `t` field of the oldest entries, checked one entry at a time.
 */
export const historyPrelude = `${prelude}
local function seqOf(id) return tonumber(string.match(id, '^(%d+)%-')) end
local function streamId(seq) return string.format('%.0f-0', seq) end
-- Trim a history by count and age, and its remembered ids likewise (the rules of
-- core/store-history.ts). Returns the newest seq trimming forgot now, 0 when none. \`countOnly\`:
-- right after an append, whose trim by age was done just before it.
local function trimHistory(hist, ids, idx, head, eventsMax, ageMs, idsMax, countOnly)
  local oldest = now - ageMs
  local through = 0
  if redis.call('XLEN', hist) > eventsMax then through = head - eventsMax end
  -- The oldest entry alone first: it is young enough at nearly every call.
  local after, count = streamId(through + 1), 1
  while not countOnly do
    local batch = redis.call('XRANGE', hist, after, '+', 'COUNT', count)
    local fresh = false
    for j = 1, #batch do
      if tonumber(batch[j][2][2]) > oldest then
        fresh = true
        break
      end
      through = seqOf(batch[j][1])
    end
    if fresh or #batch < count then break end
    after, count = '(' .. batch[#batch][1], 32
  end
  if through > 0 then redis.call('XTRIM', hist, 'MINID', streamId(through + 1)) end
  local n = redis.call('LLEN', ids)
  while n > 0 do
    if n <= idsMax and countOnly then break end
    local at, id = string.match(redis.call('LINDEX', ids, 0), '^(%d+):(.*)$')
    if n <= idsMax and tonumber(at) > oldest then break end
    redis.call('LPOP', ids)
    redis.call('HDEL', idx, id)
    n = n - 1
  end
  return through
end
`;

/**
 * KEYS: epoch, topics, heads, then per event: its topic's lease key, hist, ids, idx.
 * ARGV: epochTtlMs, tombstoneMs, lapsedKeepMs, historyEventsMax, historyAgeMs, historyIdsMax,
 * historyTopicsMax, then per event: topic, event id, event JSON.
 * Returns { per event in order: { 'full', topics with a history } or { seq, duplicate (0/1), seq
 * trimmed through (0: none), live frontends, their lease left in ms, lapsed frontends, frontends
 * forgotten now }, epoch id, epoch age }. Events of one topic are appended in the order given.
 */
export const appendScript = `${historyPrelude}
local epochTtlMs = tonumber(ARGV[1])
local epochId, epochAge = epoch(KEYS[1], epochTtlMs, KEYS[3])
local tombstoneMs, lapsedKeepMs = tonumber(ARGV[2]), tonumber(ARGV[3])
local eventsMax, ageMs = tonumber(ARGV[4]), tonumber(ARGV[5])
local idsMax, topicsMax = tonumber(ARGV[6]), tonumber(ARGV[7])
local looked = {}
local out = {}
for i = 1, (#ARGV - 7) / 3 do
  local topic, id, json = ARGV[3 * i + 5], ARGV[3 * i + 6], ARGV[3 * i + 7]
  local leases, hist, ids, idx = KEYS[4 * i], KEYS[4 * i + 1], KEYS[4 * i + 2], KEYS[4 * i + 3]
  local head = redis.call('HGET', KEYS[3], topic)
  local topicCount = 0
  if not head then topicCount = redis.call('HLEN', KEYS[3]) end
  if not head and topicCount >= topicsMax then
    out[i] = { 'full', topicCount }
  else
    head = tonumber(head or 0)
    local through = trimHistory(hist, ids, idx, head, eventsMax, ageMs, idsMax)
    local seq = tonumber(redis.call('HGET', idx, id) or 0)
    local duplicate = 1
    if seq == 0 then
      duplicate = 0
      seq = head + 1
      redis.call('XADD', hist, streamId(seq), 't', now, 'e', json)
      redis.call('RPUSH', ids, string.format('%.0f:', now) .. id)
      redis.call('HSET', idx, id, seq)
      redis.call('HSET', KEYS[3], topic, seq)
      redis.call('PEXPIRE', hist, ageMs)
      redis.call('PEXPIRE', ids, ageMs)
      redis.call('PEXPIRE', idx, ageMs)
      through = math.max(through, trimHistory(hist, ids, idx, seq, eventsMax, ageMs, idsMax, true))
    end
    local found = looked[topic]
    if found then
      -- Looked up already in this call: the same answer, its forgotten frontends reported once.
      found = { found[1], found[2], found[3], {} }
    else
      local live, left, lapsed, dead, empty = frontendsOf(leases, tombstoneMs, lapsedKeepMs)
      if empty then redis.call('ZREM', KEYS[2], topic) end
      found = { live, left, lapsed, dead }
      looked[topic] = found
    end
    out[i] = { seq, duplicate, through, found[1], found[2], found[3], found[4] }
  end
end
-- A heads hash made by this call gets the epoch's TTL too.
if redis.call('PTTL', KEYS[3]) == -1 then redis.call('PEXPIRE', KEYS[3], epochTtlMs) end
return { out, epochId, epochAge }
`;

/**
 * KEYS: epoch, heads, hist, ids, idx.
 * ARGV: epochTtlMs, historyEventsMax, historyAgeMs, historyIdsMax, topic, 'seq' or 'id', the seq or
 * event id the read starts after, how many events at most.
 * Returns { afterSeq (-1: the id is not remembered), firstSeq, headSeq, seqs, event JSON texts, seq
 * trimmed through (0: none), epoch id, epoch age }.
 */
export const readScript = `${historyPrelude}
local epochId, epochAge = epoch(KEYS[1], tonumber(ARGV[1]), KEYS[2])
local head = tonumber(redis.call('HGET', KEYS[2], ARGV[5]) or 0)
local through = 0
if head > 0 then
  through = trimHistory(KEYS[3], KEYS[4], KEYS[5], head, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
end
local firstSeq = head + 1
local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)[1]
if first then firstSeq = seqOf(first[1]) end
local afterSeq
if ARGV[6] == 'seq' then
  afterSeq = tonumber(ARGV[7])
else
  afterSeq = tonumber(redis.call('HGET', KEYS[5], ARGV[7]) or -1)
end
local count = tonumber(ARGV[8])
local seqs, events = {}, {}
if afterSeq >= 0 and head > 0 and count > 0 then
  local from = math.max(afterSeq, firstSeq - 1) + 1
  local entries = redis.call('XRANGE', KEYS[3], streamId(from), '+', 'COUNT', count)
  for j = 1, #entries do
    seqs[j] = seqOf(entries[j][1])
    events[j] = entries[j][2][4]
  end
end
return { afterSeq, firstSeq, head, seqs, events, through, epochId, epochAge }
`;
