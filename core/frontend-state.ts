/**
 * The frontend's configuration and state: what `core/frontend.ts` and its rules
 * (`frontend-clients.ts`, `frontend-leases.ts`, `frontend-history.ts`) read and change. The theory
 * of operation is in `core/frontend.ts`.
 */
import { assert } from './assert.ts';
import { hashString } from './hash.ts';
import type { PendingRead, Stream } from './frontend-streams.ts';
import { hasRoom, pendingTable, type PendingTable } from './pending.ts';
import type {
  ConnectionId,
  Counters,
  DcId,
  DeliveryMode,
  Event,
  EventId,
  Generation,
  Message,
  Ms,
  NodeId,
  Occupancy,
  StoreEpoch,
  Topic,
} from './types.ts';

export interface FrontendLimits {
  connectionsMax: number;
  topicsPerConnectionMax: number;
  payloadBytesMax: number;
  historyEventsPerTopicMax: number;
  historyTopicsMax: number;
  /** Lease requests, publishes and history reads awaiting a reply, together. */
  pendingRequestsMax: number;
  topicsPerRenewMax: number;
  /** Event ids remembered for dedupe, across all topics; beyond it the oldest is forgotten early. */
  dedupeIdsMax: number;
  /** Reliable mode: events held per topic while an earlier seq is missing; past it the newest wait for a read. */
  reorderBufferMax: number;
}

export const defaultFrontendLimits: FrontendLimits = {
  connectionsMax: 100_000,
  topicsPerConnectionMax: 64,
  payloadBytesMax: 64 * 1024,
  historyEventsPerTopicMax: 256,
  historyTopicsMax: 10_000,
  pendingRequestsMax: 4_096,
  topicsPerRenewMax: 500,
  dedupeIdsMax: 200_000,
  reorderBufferMax: 1_024,
};

export interface FrontendConfig {
  nodeId: NodeId;
  dc: DcId;
  /** The dispatchers of this frontend's datacenter; lease requests rotate over them on failure. */
  dispatchers: NodeId[];
  leaseMs: Ms;
  renewEveryMs: Ms;
  leaseRequestTimeoutMs: Ms;
  leaseAttemptsMax: number;
  publishTimeoutMs: Ms;
  /**
   * How long an event id is remembered to drop its duplicates, however small the history: it must
   * outlast a dispatcher's forward retries (`forwardTimeoutMs` x `forwardAttemptsMax`) and the
   * network's latency, or a retried forward reaches the viewers a second time.
   */
  dedupeWindowMs: Ms;
  /** Best-effort (fire and forget) or reliable (in seq order, gaps read from the history, cursors). */
  mode: DeliveryMode;
  /** Reliable: how long a gap in the seqs may wait for the missing delivery before the history is read. */
  gapWaitMs: Ms;
  /** Reliable: how long a history read waits for its answer. */
  readTimeoutMs: Ms;
  /** Reliable: events asked for per history read. */
  readEventsMax: number;
  /** Occupancy: how often changed counts are reported and watchers told (0: occupancy is off). */
  occupancyEveryMs: Ms;
  /** First lease generation; the host makes it larger than any a previous incarnation used. */
  generationStart: Generation;
  limits: FrontendLimits;
}

export type FrontendOptions = Pick<FrontendConfig, 'nodeId' | 'dc' | 'dispatchers'> &
  Partial<Omit<FrontendConfig, 'limits'>> & { limits?: Partial<FrontendLimits> };

export type LeaseMessage = Extract<Message, { type: 'subscribe' | 'renew' | 'unsubscribe' }>;

export interface PendingLease {
  message: LeaseMessage;
  attempts: number;
}

export interface PendingPublish {
  connection: ConnectionId;
  topic: Topic;
}

export interface History {
  events: Event[];
  ids: Set<EventId>;
}

/** Occupancy of one local topic: who watches it, the latest picture, and what its watchers were told. */
export interface TopicOccupancy {
  readonly watchers: Set<ConnectionId>;
  /** Watchers that have been told nothing yet. */
  readonly fresh: Set<ConnectionId>;
  latest: Occupancy | null;
  told: Occupancy | null;
}

/** Event ids seen, each with when it was first seen: insertion order is time order. */
export type SeenIds = Map<EventId, Ms>;

export interface FrontendState {
  /** Reliable mode: per topic with viewers, its stream (`frontend-streams.ts`); empty in best-effort. */
  readonly streams: Map<Topic, Stream>;
  /** Reliable mode: streams with a timer, and when it fires. */
  readonly streamsDue: Map<Topic, Ms>;
  readonly pendingReads: PendingTable<PendingRead>;
  readonly config: FrontendConfig;
  readonly connections: Map<ConnectionId, Set<Topic>>;
  readonly topics: Map<Topic, Set<ConnectionId>>;
  readonly history: Map<Topic, History>;
  readonly seen: SeenIds;
  readonly pendingLeases: PendingTable<PendingLease>;
  readonly pendingPublishes: PendingTable<PendingPublish>;
  /** Occupancy: per local topic, its watchers and counts (only topics with viewers). */
  readonly occupancy: Map<Topic, TopicOccupancy>;
  /** Occupancy: the count last reported per local topic. */
  readonly reportedCounts: Map<Topic, number>;
  /** Occupancy: when the next interval falls (null while off or without topics). */
  occupancyAtMs: Ms | null;
  nextRequestId: number;
  nextGeneration: Generation;
  /** The largest store epoch this frontend has registered under (or been told of); null at first. */
  storeEpoch: StoreEpoch | null;
  dispatcherIndex: number;
  renewAtMs: Ms | null;
  /** The last `now` handled: time never runs backwards. */
  lastNowMs: Ms;
  readonly counters: Counters;
}

export function createFrontend(options: FrontendOptions): FrontendState {
  const leaseMs = options.leaseMs ?? 10_000;
  const config: FrontendConfig = {
    leaseMs,
    renewEveryMs: Math.max(1, Math.floor(leaseMs / 3)),
    leaseRequestTimeoutMs: 500,
    leaseAttemptsMax: 3,
    publishTimeoutMs: 2_000,
    dedupeWindowMs: 30_000,
    mode: 'best-effort',
    gapWaitMs: 50,
    readTimeoutMs: 500,
    readEventsMax: 500,
    occupancyEveryMs: 1_000,
    generationStart: 0,
    ...options,
    limits: { ...defaultFrontendLimits, ...options.limits },
  };
  assert(config.dispatchers.length > 0, 'a frontend needs at least one dispatcher');
  assert(config.renewEveryMs < config.leaseMs, 'renewEveryMs must be shorter than leaseMs');
  assert(config.leaseAttemptsMax >= 1, 'leaseAttemptsMax must be at least 1');
  assert(config.limits.topicsPerRenewMax >= 1, 'topicsPerRenewMax must be at least 1');
  assert(config.dedupeWindowMs >= 0, 'dedupeWindowMs must not be negative');
  assert(config.limits.dedupeIdsMax >= 1, 'dedupeIdsMax must be at least 1');
  assert(
    Number.isSafeInteger(config.occupancyEveryMs) && config.occupancyEveryMs >= 0,
    'occupancyEveryMs must be a whole number of ms (0: off)',
  );
  const { pendingRequestsMax } = config.limits;
  return {
    config,
    connections: new Map(),
    topics: new Map(),
    history: new Map(),
    seen: new Map(),
    pendingLeases: pendingTable(config.leaseRequestTimeoutMs, pendingRequestsMax),
    pendingPublishes: pendingTable(config.publishTimeoutMs, pendingRequestsMax),
    occupancy: new Map(),
    reportedCounts: new Map(),
    occupancyAtMs: null,
    streams: new Map(),
    streamsDue: new Map(),
    pendingReads: pendingTable(config.readTimeoutMs, pendingRequestsMax),
    nextRequestId: 1,
    nextGeneration: config.generationStart,
    storeEpoch: null,
    // Spread frontends over dispatchers without coordination.
    dispatcherIndex: hashString(config.nodeId) % config.dispatchers.length,
    renewAtMs: null,
    lastNowMs: Number.NEGATIVE_INFINITY,
    counters: {},
  };
}

export function currentDispatcher(state: FrontendState): NodeId {
  const dispatcher = state.config.dispatchers[state.dispatcherIndex];
  assert(dispatcher !== undefined, 'dispatcher index out of range');
  return dispatcher;
}

/** Whether one more request may wait for a reply: lease requests and publishes share the bound. */
export function pendingRoom(state: FrontendState): boolean {
  const pending =
    state.pendingLeases.entries.size + state.pendingPublishes.entries.size + state.pendingReads.entries.size;
  return (
    pending < state.config.limits.pendingRequestsMax &&
    hasRoom(state.pendingLeases) &&
    hasRoom(state.pendingPublishes) &&
    hasRoom(state.pendingReads)
  );
}
