/**
 * The subscription store's rules for a Redis Cluster, as Lua scripts (prod/redis-cluster-store.ts
 * calls them). The rules are those of prod/redis-store-scripts.ts (the same prelude: Redis' clock,
 * the lease entry format, history trimming); what changes is where the keys live, because a script
 * in a cluster may only touch keys of one slot.
 *
 * Layout, per datacenter prefix P (its keys hash-tagged so each script's keys share one slot):
 * - the store's slot, tag `{P}`: `{P}epoch` is `"id:bornAtMs"` as in the one-Redis store;
 *   `{P}topics` is the sorted set `topic -> latest lease expiry` that bounds the topic count;
 *   `{P}histories` is the sorted set `topic -> first append at ms` of the topics with a history in
 *   this epoch (it bounds their count, and remembers which topics must have a head), living and
 *   dying with the epoch as the one-Redis store's heads hash does.
 * - each topic's slot, tag `{P<topic>}`: `leases` (the hash `frontend -> entry`), `meta` (the hash
 *   `e` the epoch its history belongs to, `h` its head seq, `s` its first-registration counter),
 *   and the history: `hist` (the stream), `ids`, `idx`, as in the one-Redis store; occupancy's
 *   `counts` (the leases' counts) and `remote` (the peer datacenters' totals), as in the one-Redis
 *   store too, so a lease write sums its topic's counts in the script that writes the lease.
 * - occupancy in the store's slot: `{P}remotes`, the sorted set `topic -> latest forget time` of
 *   the topics with peer totals (it bounds their count, topicsMax, as `{P}topics` bounds leases').
 *
 * `{P}topics` loses a topic only by its score (its latest lease expiry plus lapsedKeepMs), never by
 * a lookup or a removal that empties it, as the one-Redis store's does: that would be a second call
 * to the store's slot. A topic emptied early still counts against topicsMax until then. Likewise
 * `{P}remotes` keeps a topic until the latest validity a `remote-totals` write named for it, plus
 * remoteKeepMs, even when that total was ignored as older.
 *
 * Each script's KEYS, ARGV and reply are written above it; the caller passes them in that order.
 */
import { historyPrelude, occupancyPrelude, prelude } from './redis-store-scripts.ts';

/**
 * A topic's head under the epoch `epochId`, from its meta hash. A meta of an older epoch means the
 * epoch was reborn since (the store's slot lost its data): the topic's history starts again. A
 * missing meta for a topic the store's slot says has a history (`known`) means the topic's own slot
 * lost its data (its node restarted empty, or failed over to a replica that had not seen it): the
 * caller must start a new epoch (`lost`). A meta of a newer epoch than the caller's: ask again
 * (`retry`). Returns head, or nil and the trouble.
 */
const topicPrelude = `
local function headOf(meta, hist, ids, idx, epochId, status, ttlMs, create)
  local m = redis.call('HMGET', meta, 'e', 'h')
  local e, h = m[1], m[2]
  if e == epochId then
    redis.call('PEXPIRE', meta, ttlMs)
    return tonumber(h or 0)
  end
  if e and tonumber(e) > tonumber(epochId) then return nil, 'retry' end
  if not e and status == 'known' then return nil, 'lost' end
  if e then redis.call('DEL', hist, ids, idx) end
  if e or create then
    redis.call('HSET', meta, 'e', epochId, 'h', 0)
    redis.call('PEXPIRE', meta, ttlMs)
  end
  return 0
end
`;

/**
 * The store's slot, asked first by every operation that needs the epoch or an admission.
 * KEYS: epoch, topics, histories, remotes.
 * ARGV: epochTtlMs, graceMs, topicsMax, keepMs, historyTopicsMax, then pairs (op, topic): op `w` a
 * lease write (admit the topic under topicsMax), `r` a read (no admission), `a` an append (admit
 * its history under historyTopicsMax), `o` a peer's total (admit the topic's totals under
 * topicsMax; after one refused, every later `o` is refused too, as the core's store stops there).
 * keepMs: how long an admitted topic stays counted (its lease or total's life and its keep).
 * Returns { epoch id, epoch age, 1 when any topic has a history, per pair: admission (`ok` or
 * `full`) and history (`known`: for longer than graceMs, `fresh`: newer, so its first append may
 * still be on its way to the topic's slot, or `none`) }.
 */
export const epochScript = `${prelude}
local epochTtlMs, graceMs = tonumber(ARGV[1]), tonumber(ARGV[2])
local topicsMax, keepMs, historyTopicsMax = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local epochId, epochAge = epoch(KEYS[1], epochTtlMs, KEYS[3])
local function history(topic)
  local since = redis.call('ZSCORE', KEYS[3], topic)
  if not since then return 'none' end
  if now - tonumber(since) > graceMs then return 'known' end
  return 'fresh'
end
local out = {}
local pruned, admitted, histories = false, false, false
local remotesPruned, remotesAdmitted, remotesFull = false, false, false
for i = 6, #ARGV, 2 do
  local op, topic = ARGV[i], ARGV[i + 1]
  local admission = 'ok'
  local status = history(topic)
  if op == 'o' then
    if not remotesPruned then
      redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
      remotesPruned = true
    end
    if remotesFull then
      admission = 'full'
    elseif redis.call('ZSCORE', KEYS[4], topic) then
      raiseScore(KEYS[4], topic, now + keepMs)
    elseif redis.call('ZCARD', KEYS[4]) >= topicsMax then
      admission = 'full'
      remotesFull = true
    else
      redis.call('ZADD', KEYS[4], now + keepMs, topic)
    end
    remotesAdmitted = true
  elseif op == 'w' then
    if not pruned then
      redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
      pruned = true
    end
    if redis.call('ZSCORE', KEYS[2], topic) then
      raiseScore(KEYS[2], topic, now + keepMs)
    elseif redis.call('ZCARD', KEYS[2]) >= topicsMax then
      admission = 'full'
    else
      redis.call('ZADD', KEYS[2], now + keepMs, topic)
    end
    admitted = true
  elseif op == 'a' and status == 'none' then
    if redis.call('ZCARD', KEYS[3]) >= historyTopicsMax then
      admission = 'full'
    else
      redis.call('ZADD', KEYS[3], now, topic)
      status = 'fresh'
      histories = true
    end
  end
  out[#out + 1] = admission
  out[#out + 1] = status
end
if admitted then extendTtl(KEYS[2], keepMs) end
if remotesAdmitted then extendTtl(KEYS[4], keepMs) end
-- A histories set made by this call gets the epoch's TTL too.
if histories and redis.call('PTTL', KEYS[3]) == -1 then redis.call('PEXPIRE', KEYS[3], epochTtlMs) end
local any = 0
if redis.call('ZCARD', KEYS[3]) > 0 then any = 1 end
return { epochId, epochAge, any, out }
`;

/**
 * A topic's slot lost its data: start a new epoch, unless another caller started one already.
 * KEYS: epoch, histories.  ARGV: the epoch id the loss was seen under, epochTtlMs.
 * Returns the epoch id now.
 */
export const bumpScript = `${prelude}
local v = redis.call('GET', KEYS[1])
local id = v and string.match(v, '^(%d+):')
if (not id) or id == ARGV[1] then
  local fresh = math.max(tonumber(t[1]) * 1000000 + tonumber(t[2]), tonumber(ARGV[1]) + 1)
  id = string.format('%.0f', fresh)
  redis.call('SET', KEYS[1], id .. string.format(':%.0f', now), 'PX', tonumber(ARGV[2]))
  redis.call('DEL', KEYS[2])
end
return id
`;

/**
 * Lease writes to the topics of one slot.
 * KEYS per topic: leases, meta, hist, ids, idx, counts, remote.
 * ARGV: frontend, leaseMs, generation, perTopicMax, tombstoneMs, lapsedKeepMs, epoch id, metaTtlMs,
 * remoteKeepMs, then per topic: admission (`ok`/`full`, from the epoch script), history status,
 * count.
 * Returns per topic { change (granted, renewed, refused, ignored, lost, retry), expiry, head,
 * occupancy (after the whole write, as occupancyOf answers it) }.
 */
export const clusterWriteScript = `${prelude}${occupancyPrelude}${topicPrelude}
local frontend, leaseMs, generation = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local perTopicMax, tombstoneMs = tonumber(ARGV[4]), tonumber(ARGV[5])
local keepMs = leaseMs + tonumber(ARGV[6])
local epochId, metaTtlMs, remoteKeepMs = ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
local expires = now + leaseMs
local out = {}
for i = 1, #KEYS / 7 do
  local leases, meta = KEYS[7 * i - 6], KEYS[7 * i - 5]
  local admission, status, count = ARGV[7 + 3 * i], ARGV[8 + 3 * i], tonumber(ARGV[9 + 3 * i])
  local head, change = headOf(meta, KEYS[7 * i - 4], KEYS[7 * i - 3], KEYS[7 * i - 2], epochId, status, metaTtlMs, true)
  if not change then
    local current = redis.call('HGET', leases, frontend)
    local e, g, s, r
    if current then
      e, g, s, r = parse(current)
      -- A tombstone past its time is forgotten, as the core's sweep forgets it.
      if r > 0 and now >= r + tombstoneMs then
        redis.call('HDEL', leases, frontend)
        current = nil
      end
    end
    if current then
      if generation < g then
        change = 'ignored'
      else
        redis.call('HSET', leases, frontend, fmt(expires, generation, s, 0))
        if now < e and r == 0 then change = 'renewed' else change = 'granted' end
      end
    else
      local size = redis.call('HLEN', leases)
      if (size == 0 and admission == 'full') or size >= perTopicMax then
        change = 'refused'
      else
        local seq = redis.call('HINCRBY', meta, 's', 1)
        redis.call('HSET', leases, frontend, fmt(expires, generation, seq, 0))
        change = 'granted'
      end
    end
    if change == 'granted' or change == 'renewed' then
      extendTtl(leases, keepMs)
      setCount(KEYS[7 * i - 1], frontend, count, expires, leaseMs)
    end
  end
  out[i] = { change, string.format('%.0f', expires), head or 0 }
end
-- After the whole write: a topic named twice answers its last count both times, as in the core.
for i = 1, #KEYS / 7 do out[i][4] = occupancyOf(KEYS[7 * i - 1], KEYS[7 * i], remoteKeepMs) end
return out
`;

/**
 * KEYS: leases, counts, remote.  ARGV: frontend, generation, tombstoneMs, remoteKeepMs.
 * Returns { removed (0 or 1), the topic's occupancy after it }.
 * A removal leaves a tombstone with its generation for tombstoneMs, as in the one-Redis store.
 */
export const clusterRemoveScript = `${prelude}${occupancyPrelude}
local frontend, generation, tombstoneMs = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local function remove()
  local current = redis.call('HGET', KEYS[1], frontend)
  if not current then return 0 end
  local e, g, s, r = parse(current)
  if r > 0 and now >= r + tombstoneMs then
    redis.call('HDEL', KEYS[1], frontend)
    return 0
  end
  if generation < g or r > 0 then
    if r > 0 and generation > g then redis.call('HSET', KEYS[1], frontend, fmt(e, generation, s, r)) end
    return 0
  end
  redis.call('HSET', KEYS[1], frontend, fmt(now, generation, s, now))
  redis.call('HDEL', KEYS[2], frontend)
  extendTtl(KEYS[1], tombstoneMs)
  return 1
end
local removed = remove()
return { removed, occupancyOf(KEYS[2], KEYS[3], tonumber(ARGV[4])) }
`;

/**
 * Occupancy of the topics of one slot.  KEYS per topic: counts, remote.  ARGV: remoteKeepMs.
 * Returns each topic's occupancy in order.
 */
export const clusterOccupancyScript = `${prelude}${occupancyPrelude}
local keepMs = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS / 2 do out[i] = occupancyOf(KEYS[2 * i - 1], KEYS[2 * i], keepMs) end
return out
`;

/**
 * A peer datacenter's totals for the topics of one slot (admitted by the epoch script already, so
 * topicsMax is not checked again), each kept in order as in the one-Redis store; at remoteDcsMax
 * this slot's write stops there, as the core's store stops (another slot's totals are written all
 * the same: see the cluster store).
 * KEYS per total: its topic's remote key.
 * ARGV: remoteDcsMax, remoteKeepMs, dc, then per total: count, epoch, ageMs, validMs.
 * Returns per total: `kept`, `ignored`, `full`, or `skipped` (after a `full`).
 */
export const clusterRemoteTotalsScript = `${prelude}${occupancyPrelude}
local dcsMax, keepMs, dc = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local function admitted() return true end
local out = {}
local stopped = false
for i = 1, #KEYS do
  local at = 4 * i
  if stopped then
    out[i] = 'skipped'
  else
    out[i] = writeRemote(KEYS[i], nil, dc, tonumber(ARGV[at]), tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]),
      tonumber(ARGV[at + 3]), keepMs, dcsMax, admitted)
    stopped = out[i] == 'full'
  end
end
return out
`;

/**
 * Lookups of the topics of one slot.
 * KEYS: leases per topic.  ARGV: tombstoneMs, lapsedKeepMs.
 * Returns per topic in order { live frontends, lapsed frontends, frontends forgotten now }.
 */
export const clusterLookupScript = `${prelude}
local tombstoneMs, lapsedKeepMs = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for k = 1, #KEYS do
  local live, _, lapsed, dead = frontendsOf(KEYS[k], tombstoneMs, lapsedKeepMs)
  out[k] = { live, lapsed, dead }
end
return out
`;

/**
 * Appends to the topics of one slot (their histories admitted by the epoch script already).
 * KEYS per topic: leases, meta, hist, ids, idx.
 * ARGV: epoch id, metaTtlMs, tombstoneMs, lapsedKeepMs, historyEventsMax, historyAgeMs,
 * historyIdsMax, then per topic its history status, then per event: its topic's index (from 1),
 * event id, event JSON.
 * Returns per event in order: { 'lost' } or { 'retry' } (see headOf), or { seq, duplicate (0/1),
 * seq trimmed through (0: none), live frontends, their lease left in ms, lapsed frontends,
 * frontends forgotten now }. Events of one topic are appended in the order given.
 */
export const clusterAppendScript = `${historyPrelude}${topicPrelude}
local epochId, metaTtlMs = ARGV[1], tonumber(ARGV[2])
local tombstoneMs, lapsedKeepMs = tonumber(ARGV[3]), tonumber(ARGV[4])
local eventsMax, ageMs, idsMax = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local topics = #KEYS / 5
local heads, troubles, looked = {}, {}, {}
local out = {}
for i = 1, (#ARGV - 7 - topics) / 3 do
  local at = 7 + topics + 3 * i
  local k, id, json = tonumber(ARGV[at - 2]), ARGV[at - 1], ARGV[at]
  local leases, meta, hist, ids, idx = KEYS[5 * k - 4], KEYS[5 * k - 3], KEYS[5 * k - 2], KEYS[5 * k - 1], KEYS[5 * k]
  if heads[k] == nil and troubles[k] == nil then
    heads[k], troubles[k] = headOf(meta, hist, ids, idx, epochId, ARGV[7 + k], metaTtlMs, true)
  end
  if troubles[k] then
    out[i] = { troubles[k] }
  else
    local head = heads[k]
    local through = trimHistory(hist, ids, idx, head, eventsMax, ageMs, idsMax)
    local seq = tonumber(redis.call('HGET', idx, id) or 0)
    local duplicate = 1
    if seq == 0 then
      duplicate = 0
      seq = head + 1
      redis.call('XADD', hist, streamId(seq), 't', now, 'e', json)
      redis.call('RPUSH', ids, string.format('%.0f:', now) .. id)
      redis.call('HSET', idx, id, seq)
      redis.call('HSET', meta, 'h', seq)
      heads[k] = seq
      redis.call('PEXPIRE', hist, ageMs)
      redis.call('PEXPIRE', ids, ageMs)
      redis.call('PEXPIRE', idx, ageMs)
      through = math.max(through, trimHistory(hist, ids, idx, seq, eventsMax, ageMs, idsMax, true))
    end
    local found = looked[k]
    if found then
      -- Looked up already in this call: the same answer, its forgotten frontends reported once.
      found = { found[1], found[2], found[3], {} }
    else
      local live, left, lapsed, dead = frontendsOf(leases, tombstoneMs, lapsedKeepMs)
      found = { live, left, lapsed, dead }
      looked[k] = found
    end
    out[i] = { seq, duplicate, through, found[1], found[2], found[3], found[4] }
  end
end
return out
`;

/**
 * KEYS: meta, hist, ids, idx.
 * ARGV: epoch id, history status, metaTtlMs, historyEventsMax, historyAgeMs, historyIdsMax, 'seq'
 * or 'id', the seq or event id the read starts after, how many events at most.
 * Returns { 'lost' } or { 'retry' } (see headOf), or { 'ok', afterSeq (-1: the id is not
 * remembered), firstSeq, headSeq, seqs, event JSON texts, seq trimmed through (0: none) }.
 */
export const clusterReadScript = `${historyPrelude}${topicPrelude}
local head, trouble = headOf(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], tonumber(ARGV[3]), false)
if trouble then return { trouble } end
local through = 0
if head > 0 then
  through = trimHistory(KEYS[2], KEYS[3], KEYS[4], head, tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]))
end
local firstSeq = head + 1
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
if first then firstSeq = seqOf(first[1]) end
local afterSeq
if ARGV[7] == 'seq' then
  afterSeq = tonumber(ARGV[8])
else
  afterSeq = tonumber(redis.call('HGET', KEYS[4], ARGV[8]) or -1)
end
local count = tonumber(ARGV[9])
local seqs, events = {}, {}
if afterSeq >= 0 and head > 0 and count > 0 then
  local from = math.max(afterSeq, firstSeq - 1) + 1
  local entries = redis.call('XRANGE', KEYS[2], streamId(from), '+', 'COUNT', count)
  for j = 1, #entries do
    seqs[j] = seqOf(entries[j][1])
    events[j] = entries[j][2][4]
  end
end
return { 'ok', afterSeq, firstSeq, head, seqs, events, through }
`;
