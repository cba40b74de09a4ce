/**
 * Subscription store: one datacenter's map `topic -> frontend -> lease`.
 *
 * Theory of operation
 * - A lease says "frontend F has viewers of topic T until `expiresAtMs`". Dispatchers write leases
 *   on behalf of frontends (add, renew, remove) and read the live ones (lookup) to fan out.
 * - Lease lengths arrive as durations and the store applies its own clock, so no two nodes ever
 *   compare clocks.
 * - Every write carries the frontend's generation. A write older than the entry's generation is
 *   ignored, so a late unsubscribe cannot remove a newer subscription, whatever the network did.
 *   A removal leaves a tombstone with its generation for `tombstoneMs`, so a renewal sent before
 *   the unsubscribe but arriving after it cannot bring the lease back either.
 * - A lease is live while `now < expiresAtMs` and not removed. Lookups return the live leases, and
 *   separately the frontends whose lease lapsed (expired without an unsubscribe) within
 *   `lapsedKeepMs`: such a frontend may be frozen or cut off with its viewers still connected, and
 *   a publish that misses them must not be answered as if it reached everyone. A sweep every
 *   `sweepEveryMs` reports each lapse once (`expired`) and deletes lapsed leases and tombstones past
 *   their time, which bounds memory even when frontends die without unsubscribing.
 * - A renewal reports the topics it had to grant again (their lease was not live), so the frontend
 *   can tell those viewers that events may have passed them by.
 * - Limits: `topicsMax` topics and `frontendsPerTopicMax` frontends per topic. A write past them is
 *   answered `rejected/full` and changes nothing (but for naming the epoch and its topics' heads, as
 *   a written answer does); a lease longer than `leaseMsMax` is cut to it.
 * - Epoch: the host names this store's data with an epoch that grows every time the data is lost
 *   (a restart). Every answer carries it and its age, counted from the first request, so
 *   dispatchers notice a store that forgot every registration and tell the frontends at once.
 *
 * - Histories (reliable mode, `store-history.ts`): `append` sequences an event in its topic's
 *   history and answers, in the same round trip, the topic's frontends as a lookup would; `read`
 *   answers part of a history; lease writes answer the heads of their topics that have a history.
 *   Appends and trims are reported as effects (`appended`, `trimmed`) so traces know what a
 *   history holds.
 *
 * - Occupancy: a lease carries the frontend's count of connections on its topic (the `count` or
 *   `counts` of the write; none when absent), so a topic's local occupancy is the sum over its live
 *   leases and a dead frontend's viewers leave it when its lease expires. Every lease write answers
 *   the occupancy of its topics. Peer datacenters' totals arrive as `remote-totals` writes, each kept
 *   only when newer (by the sender store's epoch and epoch age) than the one held; a total is
 *   reported `expired` once its `validMs` passed and forgotten `remoteKeepMs` later (by the sweep).
 *   `remoteDcsMax` totals per topic, `topicsMax` topics:
 *   past them a `remote-totals` write is refused `full`, keeping the totals listed before.
 *
 * The pure functions (`apply`, `sweep`, `liveFrontends`) serve the simulator's store node (through
 * `handle`/`deadline`) and production's embedded in-memory store alike.
 */
import { assert, increment, unreachable } from './assert.ts';
import type {
  Counters,
  DcId,
  Effect,
  Event,
  Generation,
  LeaseChange,
  Message,
  Ms,
  NodeId,
  OccupancyTotal,
  StoreEpoch,
  StoreOccupancy,
  StoreReply,
  StoreRequest,
  Topic,
} from './types.ts';
import type { Role } from './role.ts';
import {
  appendEvent,
  defaultHistoryLimits,
  headsOf,
  historyAfterError,
  readHistory,
  sweepHistories,
  type Histories,
  type HistoryLimits,
  type Trim,
} from './store-history.ts';
import { topicError } from './validation.ts';

export interface StoreLimits extends HistoryLimits {
  topicsMax: number;
  frontendsPerTopicMax: number;
  leaseMsMax: Ms;
  sweepEveryMs: Ms;
  tombstoneMs: Ms;
  /** How long a lapsed lease is still reported by lookups (and kept) after it expired. */
  lapsedKeepMs: Ms;
  /** How long a peer datacenter's occupancy total is kept (reported `expired`) after it stopped being valid. */
  remoteKeepMs: Ms;
  /**
   * Peer datacenters' totals kept per topic. A `remote-totals` write that meets this bound (or
   * `topicsMax`) is answered `rejected/full`; the totals listed before the one refused are kept.
   */
  remoteDcsMax: number;
  /** Largest count a lease may carry. */
  countMax: number;
}

export const defaultStoreLimits: StoreLimits = {
  topicsMax: 1_000_000,
  frontendsPerTopicMax: 10_000,
  leaseMsMax: 10 * 60_000,
  sweepEveryMs: 1_000,
  tombstoneMs: 60_000,
  lapsedKeepMs: 10_000,
  remoteKeepMs: 5 * 60_000,
  remoteDcsMax: 64,
  countMax: 10_000_000,
  ...defaultHistoryLimits,
};

interface Lease {
  expiresAtMs: Ms;
  generation: Generation;
  /** Set when the frontend unsubscribed: the entry is a tombstone until `removedAtMs + tombstoneMs`. */
  removedAtMs: Ms | null;
  /** The sweep reported its lapse (`expired`); it stays a lapsed entry until `lapsedKeepMs` after it. */
  lapseReported: boolean;
  /** The frontend's connections on the topic, as its last write said. */
  count: number;
}

/** A peer datacenter's total of one topic, with its sender store's stamp. */
interface RemoteTotal {
  count: number;
  epoch: StoreEpoch;
  ageMs: Ms;
  expiresAtMs: Ms;
}

export interface StoreState {
  readonly limits: StoreLimits;
  readonly epoch: StoreEpoch;
  /** When the epoch began: the first request this store answered (null before it). */
  epochStartedAtMs: Ms | null;
  readonly topics: Map<Topic, Map<NodeId, Lease>>;
  /** Occupancy: peer datacenters' totals per topic, each datacenter's in arrival order. */
  readonly remote: Map<Topic, Map<DcId, RemoteTotal>>;
  /** Reliable mode's per-topic histories; empty in a best-effort deployment. */
  readonly histories: Histories;
  /** Some history holds an event or remembers an id: sweeps have trimming to do. */
  historiesHolding: boolean;
  /** Entries held, live leases and tombstones alike. */
  leaseCount: number;
  /** When the next sweep is due; null while the store holds no lease. */
  sweepAtMs: Ms | null;
  readonly counters: Counters;
}

/** `epoch` must be larger than any epoch a previous incarnation of this store had. */
export function createStore(limits: Partial<StoreLimits> = {}, epoch: StoreEpoch = 1): StoreState {
  const merged = { ...defaultStoreLimits, ...limits };
  assert(merged.topicsMax > 0 && merged.frontendsPerTopicMax > 0, 'store limits must be positive');
  assert(merged.sweepEveryMs > 0 && merged.leaseMsMax > 0, 'store durations must be positive');
  assert(merged.lapsedKeepMs >= 0 && merged.tombstoneMs >= 0, 'store durations must not be negative');
  assert(merged.remoteKeepMs >= 0 && merged.remoteDcsMax >= 1, 'occupancy limits out of range');
  assert(
    Number.isSafeInteger(merged.countMax) && merged.countMax >= 1,
    'countMax must be a positive integer',
  );
  assert(Number.isSafeInteger(epoch) && epoch > 0, 'a store epoch is a positive integer');
  assert(merged.historyEventsMax >= 1 && merged.historyAgeMs > 0, 'history limits must be positive');
  assert(
    merged.historyIdsMax >= merged.historyEventsMax,
    'historyIdsMax must cover historyEventsMax: a held event must be found by its id',
  );
  return {
    limits: merged,
    epoch,
    epochStartedAtMs: null,
    topics: new Map(),
    remote: new Map(),
    histories: new Map(),
    historiesHolding: false,
    leaseCount: 0,
    sweepAtMs: null,
    counters: {},
  };
}

export interface ApplyResult {
  reply: StoreReply;
  changes: LeaseChange[];
  /** Reliable mode: what the request did to the histories. */
  history?: { appended?: { event: Event; seq: number; duplicate: boolean }; trims: Trim[] };
}

/** Apply one request at `now`. Never throws on bad input: it answers `rejected/bad-request`. */
export function apply(state: StoreState, request: StoreRequest, now: Ms): ApplyResult {
  state.epochStartedAtMs ??= now;
  assert(now >= state.epochStartedAtMs, 'store time went backwards');
  const epoch = { epoch: state.epoch, epochAgeMs: now - state.epochStartedAtMs };
  switch (request.op) {
    case 'lookup': {
      const error = topicError(request.topic);
      if (error !== null) return rejected(state, 'bad-request', error);
      increment(state.counters, 'lookups');
      const frontends = liveFrontends(state, request.topic, now);
      const lapsed = lapsedFrontends(state, request.topic, now);
      return { reply: { op: 'frontends', frontends, lapsed, ...epoch }, changes: [] };
    }
    case 'add':
    case 'renew': {
      const topics = request.op === 'add' ? [request.topic] : request.topics;
      const problem = leaseWriteError(state.limits, request);
      if (problem !== null) return rejected(state, 'bad-request', problem);
      const counts =
        request.op === 'add' ? (request.count === undefined ? undefined : [request.count]) : request.counts;
      const leaseMs = Math.min(request.leaseMs, state.limits.leaseMsMax);
      if (leaseMs < request.leaseMs) increment(state.counters, 'leases-cut-to-max');
      const changes: LeaseChange[] = [];
      let ignored = 0;
      const refused: LeaseChange[] = [];
      for (const [index, topic] of topics.entries()) {
        const count = counts?.[index] ?? 0;
        const change = writeLease(
          state,
          topic,
          request.frontend,
          now + leaseMs,
          request.generation,
          count,
          now,
        );
        if (change === 'full') refused.push({ change: 'refused', topic, frontend: request.frontend });
        else if (change === null) ignored++;
        else changes.push(change);
      }
      if (refused.length > 0 && changes.length === 0) {
        const refusal = rejected(state, 'full', fullMessage(state)).reply;
        const heads = headsOf(state.histories, topics);
        return {
          reply: { ...refusal, epoch: state.epoch, ...(heads.length === 0 ? {} : { heads }) },
          changes: refused,
        };
      }
      scheduleSweep(state, now);
      increment(state.counters, 'writes');
      const occupancy = topics.map((topic) => occupancyOf(state, topic, now));
      const written = { op: 'written', applied: changes.length, ignored, ...epoch, occupancy } as const;
      // A renewal that found room for some topics and none for others is written; the rest refused.
      if (refused.length > 0) increment(state.counters, 'renewals-partly-refused');
      changes.push(...refused);
      const heads = headsOf(state.histories, topics);
      const withHeads = heads.length === 0 ? written : { ...written, heads };
      if (request.op === 'add') return { reply: withHeads, changes };
      const regranted = changes.flatMap((c) => (c.change === 'granted' ? [c.topic] : []));
      return { reply: { ...withHeads, regranted }, changes };
    }
    case 'remove': {
      const error = topicError(request.topic);
      if (error !== null) return rejected(state, 'bad-request', error);
      const lease = state.topics.get(request.topic)?.get(request.frontend);
      if (lease === undefined || request.generation < lease.generation || lease.removedAtMs !== null) {
        if (lease !== undefined && request.generation > lease.generation)
          lease.generation = request.generation;
        increment(state.counters, 'removes-ignored');
        const occupancy = [occupancyOf(state, request.topic, now)];
        return { reply: { op: 'written', applied: 0, ignored: 1, ...epoch, occupancy }, changes: [] };
      }
      lease.removedAtMs = now;
      lease.expiresAtMs = now;
      lease.generation = request.generation;
      lease.count = 0;
      increment(state.counters, 'writes');
      const occupancy = [occupancyOf(state, request.topic, now)];
      return {
        reply: { op: 'written', applied: 1, ignored: 0, ...epoch, occupancy },
        changes: [{ change: 'removed', topic: request.topic, frontend: request.frontend }],
      };
    }
    case 'append': {
      const { event } = request;
      const error = topicError(event.topic);
      if (error !== null) return rejected(state, 'bad-request', error);
      const appended = appendEvent(state.histories, state.limits, event, now, state.counters);
      if (appended.kind === 'full') return rejected(state, 'full', appended.message);
      state.historiesHolding = true;
      scheduleSweep(state, now);
      const { seq, duplicate, trims } = appended;
      const frontends = liveFrontends(state, event.topic, now);
      const leases = state.topics.get(event.topic);
      const leaseLeftMs = frontends.map((frontend) => (leases?.get(frontend)?.expiresAtMs ?? now) - now);
      const lapsed = lapsedFrontends(state, event.topic, now);
      return {
        reply: { op: 'appended', seq, duplicate, frontends, leaseLeftMs, lapsed, ...epoch },
        changes: [],
        history: { appended: { event, seq, duplicate }, trims },
      };
    }
    case 'read': {
      const error = topicError(request.topic);
      if (error !== null) return rejected(state, 'bad-request', error);
      if (!Number.isSafeInteger(request.limit) || request.limit < 1)
        return rejected(state, 'bad-request', 'a read needs a positive whole limit');
      const afterError = historyAfterError(request.after);
      if (afterError !== null) return rejected(state, 'bad-request', afterError);
      const { trims, ...range } = readHistory(
        state.histories,
        state.limits,
        request.topic,
        request.after,
        request.limit,
        now,
        state.counters,
      );
      return { reply: { op: 'range', ...range, ...epoch }, changes: [], history: { trims } };
    }
    case 'remote-totals': {
      const problem = remoteTotalsError(state.limits, request.dc, request.totals);
      if (problem !== null) return rejected(state, 'bad-request', problem);
      let applied = 0;
      let ignored = 0;
      for (const total of request.totals) {
        const kept = writeRemoteTotal(state, request.dc, total, now);
        if (kept === 'full') return rejected(state, 'full', fullMessage(state));
        if (kept) applied++;
        else ignored++;
      }
      scheduleSweep(state, now);
      increment(state.counters, 'remote-totals-kept', applied);
      increment(state.counters, 'remote-totals-ignored', ignored);
      return { reply: { op: 'written', applied, ignored, ...epoch }, changes: [] };
    }
    case 'occupancy': {
      const problem = occupancyTopicsError(request.topics);
      if (problem !== null) return rejected(state, 'bad-request', problem);
      increment(state.counters, 'occupancy-reads');
      const occupancy = request.topics.map((topic) => occupancyOf(state, topic, now));
      return { reply: { op: 'occupancy', occupancy, ...epoch }, changes: [] };
    }
    default:
      return unreachable(request);
  }
}

/** The frontends holding a live lease on `topic` at `now`, in the order they first registered. */
export function liveFrontends(state: Readonly<StoreState>, topic: Topic, now: Ms): NodeId[] {
  const leases = state.topics.get(topic);
  if (leases === undefined) return [];
  const live: NodeId[] = [];
  for (const [frontend, lease] of leases)
    if (now < lease.expiresAtMs && lease.removedAtMs === null) live.push(frontend);
  return live;
}

/**
 * The frontends whose lease on `topic` lapsed (expired, not removed) less than `lapsedKeepMs`
 * before `now`, in the order they first registered.
 */
export function lapsedFrontends(state: Readonly<StoreState>, topic: Topic, now: Ms): NodeId[] {
  const leases = state.topics.get(topic);
  if (leases === undefined) return [];
  const lapsed: NodeId[] = [];
  for (const [frontend, lease] of leases) {
    if (
      lease.removedAtMs === null &&
      now >= lease.expiresAtMs &&
      now < lease.expiresAtMs + state.limits.lapsedKeepMs
    )
      lapsed.push(frontend);
  }
  return lapsed;
}

/**
 * A topic's occupancy at `now`: the counts of its live leases summed, and the peer datacenters'
 * totals held (in the order the datacenters first sent one).
 */
export function occupancyOf(state: Readonly<StoreState>, topic: Topic, now: Ms): StoreOccupancy {
  let local = 0;
  for (const lease of state.topics.get(topic)?.values() ?? [])
    if (now < lease.expiresAtMs && lease.removedAtMs === null) local += lease.count;
  const remote: StoreOccupancy['remote'] = [];
  for (const [dc, total] of state.remote.get(topic) ?? [])
    remote.push({ dc, count: total.count, expired: now >= total.expiresAtMs });
  assert(Number.isSafeInteger(local) && local >= 0, `occupancy of ${topic} out of range: ${local}`);
  return { topic, local, remote };
}

/**
 * Report every lease that lapsed by `now` (once); delete lapsed leases older than `lapsedKeepMs`
 * and tombstones older than `tombstoneMs`.
 */
export function sweep(state: StoreState, now: Ms): LeaseChange[] {
  const changes: LeaseChange[] = [];
  for (const [topic, leases] of state.topics) {
    for (const [frontend, lease] of leases) {
      if (lease.removedAtMs !== null) {
        if (now >= lease.removedAtMs + state.limits.tombstoneMs) {
          deleteLease(state, topic, leases, frontend);
          increment(state.counters, 'tombstones-forgotten');
        }
        continue;
      }
      if (now < lease.expiresAtMs) continue;
      if (!lease.lapseReported) {
        lease.lapseReported = true;
        changes.push({ change: 'expired', topic, frontend, expiresAtMs: lease.expiresAtMs });
      }
      if (now >= lease.expiresAtMs + state.limits.lapsedKeepMs) {
        deleteLease(state, topic, leases, frontend);
        increment(state.counters, 'lapsed-forgotten');
      }
    }
  }
  increment(state.counters, 'leases-expired', changes.length);
  for (const [topic, totals] of state.remote) {
    for (const [dc, total] of totals) {
      if (now < total.expiresAtMs + state.limits.remoteKeepMs) continue;
      totals.delete(dc);
      increment(state.counters, 'remote-totals-forgotten');
    }
    if (totals.size === 0) state.remote.delete(topic);
  }
  state.sweepAtMs = holding(state) ? now + state.limits.sweepEveryMs : null;
  return changes;
}

export type StoreInput = { kind: 'message'; source: NodeId; message: Message } | { kind: 'deadline' };

/** The store as a node: answers `store-request` messages and sweeps on its deadline. */
export function handle(state: StoreState, input: StoreInput, now: Ms): Effect[] {
  if (input.kind === 'deadline') {
    if (state.sweepAtMs === null || now < state.sweepAtMs) return [];
    const { trims, holding } = sweepHistories(state.histories, state.limits, now);
    state.historiesHolding = holding;
    const effects: Effect[] = sweep(state, now).map((lease) => ({ kind: 'lease', lease }));
    for (const { topic, throughSeq } of trims)
      effects.push({ kind: 'trimmed', topic, epoch: state.epoch, throughSeq });
    return effects;
  }
  const message = input.message;
  if (message.type !== 'store-request') {
    increment(state.counters, 'unexpected-messages');
    return [];
  }
  const { reply, changes, history } = apply(state, message.request, now);
  const effects: Effect[] = changes.map((lease) => ({ kind: 'lease', lease }));
  if (history?.appended !== undefined)
    effects.push({ kind: 'appended', epoch: state.epoch, ...history.appended });
  for (const { topic, throughSeq } of history?.trims ?? [])
    effects.push({ kind: 'trimmed', topic, epoch: state.epoch, throughSeq });
  effects.push({
    kind: 'send',
    target: input.source,
    message: { type: 'store-reply', requestId: message.requestId, reply },
  });
  return effects;
}

export function deadline(state: Readonly<StoreState>): Ms | null {
  return state.sweepAtMs;
}

export { deadline as storeDeadline };

export interface StoreOptions {
  limits?: Partial<StoreLimits>;
  /** Larger than any epoch a previous incarnation of this store had. */
  epoch?: StoreEpoch;
}

/** The store as a role: what a host needs to run it as a node. */
export const storeRole: Role<StoreState, StoreInput, StoreOptions> = {
  create: (options) => createStore(options.limits, options.epoch),
  handle,
  deadline,
};

function writeLease(
  state: StoreState,
  topic: Topic,
  frontend: NodeId,
  expiresAtMs: Ms,
  generation: Generation,
  count: number,
  now: Ms,
): LeaseChange | 'full' | null {
  let leases = state.topics.get(topic);
  const existing = leases?.get(frontend);
  if (existing !== undefined) {
    if (generation < existing.generation) {
      // A tombstone refusing an older write is what keeps a late renewal from reviving a lease.
      increment(
        state.counters,
        existing.removedAtMs === null ? 'writes-older-generation' : 'writes-refused-by-tombstone',
      );
      return null;
    }
    const wasLive = now < existing.expiresAtMs && existing.removedAtMs === null;
    if (!wasLive)
      increment(
        state.counters,
        existing.removedAtMs === null ? 'lapsed-leases-regranted' : 'tombstones-overwritten',
      );
    existing.expiresAtMs = expiresAtMs;
    existing.generation = generation;
    existing.removedAtMs = null;
    existing.lapseReported = false;
    existing.count = count;
    return { change: wasLive ? 'renewed' : 'granted', topic, frontend, expiresAtMs };
  }
  if (leases === undefined) {
    if (state.topics.size >= state.limits.topicsMax) return 'full';
    leases = new Map();
    state.topics.set(topic, leases);
  } else if (leases.size >= state.limits.frontendsPerTopicMax) return 'full';
  leases.set(frontend, { expiresAtMs, generation, removedAtMs: null, lapseReported: false, count });
  state.leaseCount++;
  assert(leases.size <= state.limits.frontendsPerTopicMax, 'a topic exceeded frontendsPerTopicMax');
  return { change: 'granted', topic, frontend, expiresAtMs };
}

function deleteLease(state: StoreState, topic: Topic, leases: Map<NodeId, Lease>, frontend: NodeId): void {
  assert(leases.delete(frontend), `deleting a lease that is not there: ${topic} ${frontend}`);
  state.leaseCount--;
  assert(state.leaseCount >= 0, 'lease count went negative');
  if (leases.size === 0) state.topics.delete(topic);
}

function scheduleSweep(state: StoreState, now: Ms): void {
  if (state.sweepAtMs === null && holding(state)) state.sweepAtMs = now + state.limits.sweepEveryMs;
}

/** The store holds something a sweep may have to forget. */
function holding(state: Readonly<StoreState>): boolean {
  return state.leaseCount > 0 || state.historiesHolding || state.remote.size > 0;
}

/** Keep a peer's total unless an equal or newer one is held; 'full' past the named bounds. */
function writeRemoteTotal(state: StoreState, dc: DcId, total: OccupancyTotal, now: Ms): boolean | 'full' {
  let totals = state.remote.get(total.topic);
  const held = totals?.get(dc);
  if (
    held !== undefined &&
    (held.epoch > total.epoch || (held.epoch === total.epoch && held.ageMs >= total.ageMs))
  )
    return false;
  if (totals === undefined) {
    if (state.remote.size >= state.limits.topicsMax) return 'full';
    totals = new Map();
    state.remote.set(total.topic, totals);
  } else if (held === undefined && totals.size >= state.limits.remoteDcsMax) return 'full';
  const count = total.count;
  totals.set(dc, { count, epoch: total.epoch, ageMs: total.ageMs, expiresAtMs: now + total.validMs });
  assert(totals.size <= state.limits.remoteDcsMax, 'a topic exceeded remoteDcsMax');
  return true;
}

/**
 * What is wrong with a lease write (`add` or `renew`), or null: its lease length, its counts, then
 * its topics, the first problem found. The Redis stores refuse the same writes with these words.
 */
export function leaseWriteError(
  limits: Readonly<StoreLimits>,
  request: Extract<StoreRequest, { op: 'add' | 'renew' }>,
): string | null {
  if (!(request.leaseMs > 0)) return 'leaseMs must be positive';
  const topics = request.op === 'add' ? [request.topic] : request.topics;
  const counts =
    request.op === 'add' ? (request.count === undefined ? undefined : [request.count]) : request.counts;
  const countProblem = countsError(limits, topics, counts);
  if (countProblem !== null) return countProblem;
  for (const topic of topics) {
    const error = topicError(topic);
    if (error !== null) return error;
  }
  return null;
}

/** What is wrong with a lease write's counts (`counts[i]` for `topics[i]`), or null. */
function countsError(
  limits: Readonly<StoreLimits>,
  topics: readonly Topic[],
  counts: readonly number[] | undefined,
): string | null {
  if (counts === undefined) return null;
  if (!Array.isArray(counts) || counts.length !== topics.length)
    return 'counts must match topics one for one';
  for (const count of counts)
    if (!Number.isSafeInteger(count) || count < 0 || count > limits.countMax)
      return `a count is a whole number from 0 to ${limits.countMax}`;
  return null;
}

/** What is wrong with a `remote-totals` write, or null (exported as `leaseWriteError` is). */
export function remoteTotalsError(
  limits: Readonly<StoreLimits>,
  dc: DcId,
  totals: readonly OccupancyTotal[],
): string | null {
  if (typeof dc !== 'string' || dc.length === 0) return 'remote totals need the datacenter they came from';
  if (!Array.isArray(totals)) return 'remote totals must be a list';
  for (const item of totals as readonly unknown[]) {
    // A peer's message is only shape-checked as a list: its items may be anything.
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      return 'a total is an object {topic, count, epoch, ageMs, validMs}';
    const total = item as OccupancyTotal;
    const error = topicError(total.topic);
    if (error !== null) return error;
    if (!Number.isSafeInteger(total.count) || total.count < 0 || total.count > limits.countMax)
      return `a total is a whole number from 0 to ${limits.countMax}`;
    if (!Number.isSafeInteger(total.epoch) || !Number.isSafeInteger(total.ageMs) || total.ageMs < 0)
      return 'a total needs its store epoch and epoch age';
    if (!Number.isSafeInteger(total.validMs) || total.validMs <= 0) return 'a total needs a positive validMs';
  }
  return null;
}

/** What is wrong with an `occupancy` read's topics, or null (exported as `leaseWriteError` is). */
export function occupancyTopicsError(topics: readonly Topic[]): string | null {
  if (!Array.isArray(topics) || topics.length === 0) return 'an occupancy read names at least one topic';
  for (const topic of topics) {
    const error = topicError(topic);
    if (error !== null) return error;
  }
  return null;
}

function rejected(state: StoreState, reason: 'full' | 'bad-request', message: string): ApplyResult {
  increment(state.counters, reason === 'full' ? 'rejected-full' : 'rejected-bad-request');
  return { reply: { op: 'rejected', reason, message }, changes: [] };
}

function fullMessage(state: StoreState): string {
  return `store is full (topicsMax ${state.limits.topicsMax}, frontendsPerTopicMax ${state.limits.frontendsPerTopicMax})`;
}
