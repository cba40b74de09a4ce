/**
 * The dispatcher's configuration and state: what `core/dispatcher.ts` and its rules
 * (`dispatcher-publish.ts`, `dispatcher-forwarding.ts`, `dispatcher-store.ts`) read and change.
 * The theory of operation is in `core/dispatcher.ts`.
 */
import { assert } from './assert.ts';
import { hashString } from './hash.ts';
import type { PendingAnswer } from './dispatcher-reliable.ts';
import { pendingTable, type PendingTable } from './pending.ts';
import type {
  Counters,
  DcId,
  DeliveryMode,
  Event,
  Ms,
  NodeId,
  OccupancyTotal,
  Position,
  PublishId,
  RequestId,
  StoreEpoch,
  Topic,
} from './types.ts';

export interface DispatcherLimits {
  pendingRequestsMax: number;
  pendingForwardsMax: number;
  payloadBytesMax: number;
  /** Frontends remembered for `store-reset`; past it the least recently heard from is forgotten. */
  knownFrontendsMax: number;
  /** Reliable mode: deliveries to frontends awaiting their ack; past it a delivery is sent once, untracked. */
  pendingDeliveriesMax: number;
  /** Occupancy: this datacenter's topic totals held for the next interval's message to peers. */
  occupancyTotalsMax: number;
}

export const defaultDispatcherLimits: DispatcherLimits = {
  pendingRequestsMax: 100_000,
  pendingForwardsMax: 100_000,
  payloadBytesMax: 64 * 1024,
  knownFrontendsMax: 10_000,
  pendingDeliveriesMax: 100_000,
  occupancyTotalsMax: 10_000,
};

export interface DispatcherConfig {
  nodeId: NodeId;
  dc: DcId;
  /** The dispatchers of every other datacenter. */
  peers: Record<DcId, NodeId[]>;
  /**
   * Prefix of the ids this dispatcher assigns, after `serverEventIdMarker`; the host makes it
   * unique per incarnation.
   */
  idPrefix: string;
  storeRequestTimeoutMs: Ms;
  forwardTimeoutMs: Ms;
  forwardAttemptsMax: number;
  suspectMs: Ms;
  /** What a publisher is told to wait before retrying when the store is unavailable. */
  retryAfterMs: Ms;
  /** How long after a store epoch begins frontends may still be registering (a renewal period). */
  storeRebuildWindowMs: Ms;
  /** Best-effort (fire and forget) or reliable (sequenced, acknowledged, retried). */
  mode: DeliveryMode;
  /** Reliable: how long a delivery waits for the frontend's ack before it is sent again. */
  deliverTimeoutMs: Ms;
  /** Reliable: tries per delivery; then the frontend catches up from the history at its next renewal. */
  deliverAttemptsMax: number;
  /** Reliable: how long a forward is retried (failing over between peer dispatchers) before it is a drop. */
  forwardWindowMs: Ms;
  /** Reliable: how long a publish's answer waits for peer datacenters' acks before it goes with a warning. */
  forwardAckWaitMs: Ms;
  /** Occupancy: how often totals go to peer datacenters (0: occupancy is off). */
  occupancyEveryMs: Ms;
  /** Occupancy: a peer datacenter not heard from for this long is stale (default: three intervals). */
  occupancyStaleMs: Ms;
  limits: DispatcherLimits;
}

export type DispatcherOptions = Pick<DispatcherConfig, 'nodeId' | 'dc' | 'idPrefix'> &
  Partial<Omit<DispatcherConfig, 'limits'>> & { limits?: Partial<DispatcherLimits> };

/** Who waits for a publish's answer: another node (a frontend relaying a client), or the host. */
export type Publisher =
  { kind: 'node'; source: NodeId; requestId: RequestId } | { kind: 'host'; publishId: PublishId };

/** Why a store request was made, so its answer (or its timeout) goes where it belongs. */
export type StorePurpose =
  | { kind: 'fan-out'; event: Event; publisher: Publisher | null }
  /** Reliable: a publish accepted here (`publisher`), or a peer's forward to acknowledge once appended. */
  | {
      kind: 'append';
      event: Event;
      publisher: Publisher | null;
      forward: { source: NodeId; forwardId: RequestId } | null;
    }
  /** Reliable: a frontend's history read. */
  | { kind: 'read'; source: NodeId; requestId: RequestId }
  /** Occupancy: a lease write, whose answer carries the occupancy of its topics. */
  | { kind: 'lease'; source: NodeId; requestId: RequestId; leaseMs: Ms | null }
  /** Occupancy: a peer's totals written; nothing waits on the answer. */
  | { kind: 'remote-totals' }
  /** Occupancy: a host's question (`occupancy` input). */
  | { kind: 'occupancy'; queryId: PublishId };

/** Reliable: a delivery to a frontend awaiting its ack. */
export interface PendingDelivery {
  frontend: NodeId;
  event: Event;
  position: Position;
  attempts: number;
  /** After this, the frontend's lease may have ended: no retry goes to it. */
  retryUntilMs: Ms;
}

export interface PendingForward {
  event: Event;
  dc: DcId;
  target: NodeId;
  attempts: number;
  /** Reliable: when the first attempt went, which the forwarding window counts from. */
  firstSentMs: Ms;
  /** Reliable: the publishers' answers that wait for this forward's ack. */
  answerIds: RequestId[];
}

export interface DispatcherState {
  readonly config: DispatcherConfig;
  readonly pendingStore: PendingTable<StorePurpose>;
  readonly pendingForwards: PendingTable<PendingForward>;
  readonly pendingDeliveries: PendingTable<PendingDelivery>;
  /** Reliable: `event id, peer dc` -> its forward in flight, so an event accepted twice is forwarded once. */
  readonly forwardsInFlight: Map<string, RequestId>;
  readonly pendingAnswers: PendingTable<PendingAnswer>;
  /** Peer dispatchers that missed an ack, until when they are passed over. */
  readonly suspects: Map<NodeId, Ms>;
  readonly peerCursor: Map<DcId, number>;
  /** The largest store epoch seen; null before the first answer. */
  storeEpoch: StoreEpoch | null;
  /** Occupancy: this datacenter's totals learnt since the last interval, to send to peers. */
  readonly relay: Map<Topic, OccupancyTotal>;
  /** Occupancy: when each peer datacenter was last heard from. */
  readonly peerHeardAtMs: Map<DcId, Ms>;
  /** Occupancy: whose turn it is, per peer datacenter, to get the totals. */
  readonly occupancyCursor: Map<DcId, number>;
  /** Occupancy: when the next interval's messages go (null until the first input, or when off). */
  occupancyAtMs: Ms | null;
  /** Occupancy: the longest lease seen, how long a relayed total holds (plus the stale time and an interval). */
  leaseMsSeen: Ms;
  /** Frontends that sent lease requests, least recently heard from first. */
  readonly knownFrontends: Set<NodeId>;
  nextRequestId: RequestId;
  nextEventSeq: number;
  /** The last `now` handled: time never runs backwards. */
  lastNowMs: Ms;
  readonly counters: Counters;
}

export function createDispatcher(options: DispatcherOptions): DispatcherState {
  const config: DispatcherConfig = {
    peers: {},
    storeRequestTimeoutMs: 250,
    forwardTimeoutMs: 500,
    forwardAttemptsMax: 3,
    suspectMs: 5_000,
    retryAfterMs: 1_000,
    storeRebuildWindowMs: 4_000,
    mode: 'best-effort',
    deliverTimeoutMs: 500,
    deliverAttemptsMax: 3,
    forwardWindowMs: 30_000,
    forwardAckWaitMs: 1_000,
    occupancyEveryMs: 1_000,
    occupancyStaleMs: 3 * (options.occupancyEveryMs ?? 1_000),
    ...options,
    limits: { ...defaultDispatcherLimits, ...options.limits },
  };
  assert(!(config.dc in config.peers), 'a dispatcher must not list its own datacenter as a peer');
  for (const [dc, dispatchers] of Object.entries(config.peers)) {
    assert(dispatchers.length > 0, `peer datacenter ${dc} has no dispatchers`);
  }
  assert(config.forwardAttemptsMax >= 1, 'forwardAttemptsMax must be at least 1');
  assert(config.limits.knownFrontendsMax >= 1, 'knownFrontendsMax must be at least 1');
  assert(config.storeRebuildWindowMs >= 0, 'storeRebuildWindowMs must not be negative');
  assert(config.deliverAttemptsMax >= 1, 'deliverAttemptsMax must be at least 1');
  assert(config.forwardWindowMs >= config.forwardTimeoutMs, 'forwardWindowMs must allow one forward timeout');
  assert(
    Number.isSafeInteger(config.occupancyEveryMs) && config.occupancyEveryMs >= 0,
    'occupancyEveryMs out of range',
  );
  assert(
    config.occupancyEveryMs === 0 || config.occupancyStaleMs > config.occupancyEveryMs,
    'occupancyStaleMs must be longer than one interval',
  );
  assert(config.limits.occupancyTotalsMax >= 1, 'occupancyTotalsMax must be at least 1');
  const peerCursor = new Map<DcId, number>();
  for (const [dc, dispatchers] of Object.entries(config.peers)) {
    peerCursor.set(dc, hashString(config.nodeId) % dispatchers.length);
  }
  return {
    config,
    pendingStore: pendingTable(config.storeRequestTimeoutMs, config.limits.pendingRequestsMax),
    pendingForwards: pendingTable(config.forwardTimeoutMs, config.limits.pendingForwardsMax),
    pendingDeliveries: pendingTable(config.deliverTimeoutMs, config.limits.pendingDeliveriesMax),
    forwardsInFlight: new Map(),
    pendingAnswers: pendingTable(config.forwardAckWaitMs, config.limits.pendingRequestsMax),
    suspects: new Map(),
    peerCursor,
    storeEpoch: null,
    knownFrontends: new Set(),
    relay: new Map(),
    peerHeardAtMs: new Map(),
    occupancyCursor: new Map(),
    occupancyAtMs: null,
    leaseMsSeen: 0,
    nextRequestId: 1,
    nextEventSeq: 1,
    lastNowMs: Number.NEGATIVE_INFINITY,
    counters: {},
  };
}
