/**
 * The vocabulary every role speaks: identifiers, events, the messages nodes send each other, the
 * actions clients take, and the effects a role asks its host to perform.
 *
 * Everything here is plain data that survives `JSON.stringify`/`JSON.parse` unchanged, because the
 * same values travel through the simulator's network model and over HTTP in production.
 * Inputs are facts (a message arrived, a client acted, a deadline passed); effects are commands
 * (send this, deliver that, close this connection, ask the store).
 */

/** Integer milliseconds. Core time is whatever the host says `now` is; it never reads a clock. */
export type Ms = number;
/** Integer microseconds: the simulator's clock. Roles see `msOfUs(now)`. */
export type Us = number;
/** A node: `dc-a/frontend-1`, `dc-b/dispatcher-2`, or in production its base URL. */
export type NodeId = string;
export type DcId = string;
/** A client connection, unique across the whole deployment (the host makes it so). */
export type ConnectionId = string;
export type Topic = string;
export type EventId = string;
/** Correlates a request with its reply; unique per sender incarnation. */
export type RequestId = number;
/** Names a publish from outside the node world, so its answer finds its way back; the host makes it unique. */
export type PublishId = number;

/**
 * Any JSON value: what an event's payload may be. Viewers receive the very value published (a
 * string stays a string, an object an object), embedded in the event's JSON, never encoded twice.
 * `core/validation.ts` (`payloadError`) decides whether a value at run time is one, and its size.
 */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** What an application asks to publish: the topic, the payload, and optionally its own event id. */
export interface PublishRequest {
  topic: Topic;
  payload: JsonValue;
  id?: EventId;
}

export function msOfUs(us: Us): Ms {
  return Math.floor(us / 1000);
}

export function usOfMs(ms: Ms): Us {
  return ms * 1000;
}

/**
 * How a deployment (or a scenario) delivers. `best-effort` is LinkedIn's fire and forget: fastest,
 * no acknowledgements, no order. `reliable` sequences every event in each datacenter's store,
 * acknowledges and retries every hop, and lets a client resume from a cursor (docs/design.md).
 */
export type DeliveryMode = 'best-effort' | 'reliable';
export const deliveryModes: readonly DeliveryMode[] = ['best-effort', 'reliable'];

/** An event's sequence number in one datacenter's history of its topic: 1, 2, 3... within one store epoch. */
export type Seq = number;

/** A place in one datacenter's history of a topic: after `seq` of `epoch` (seq 0: before the first event). */
export interface Position {
  epoch: StoreEpoch;
  seq: Seq;
}

/** A topic's newest seq in the store's current epoch (0 when nothing was appended yet). */
export interface TopicHead {
  topic: Topic;
  seq: Seq;
}

/** One event of a history, with its seq there. */
export interface SequencedEvent {
  seq: Seq;
  event: Event;
}

/**
 * A gap a viewer is told about: seqs `fromSeq`..`toSeq` of `epoch` of its topic will never reach it
 * (`toSeq` null: every seq after `fromSeq - 1` of that epoch). `trimmed`: the history no longer holds
 * them (its count or age bound passed); `epoch`: the store lost its data and that epoch with it;
 * `unknown-cursor`: the client's cursor named an event or epoch this datacenter's history does not hold;
 * `duplicate`: the seq is event `eventId` again, which this frontend delivered under an earlier epoch
 * (a publish or forward retried after the store lost the epoch it was first appended in), so its
 * viewers are not given it twice.
 */
export interface Gap {
  topic: Topic;
  epoch: StoreEpoch;
  fromSeq: Seq;
  toSeq: Seq | null;
  why: 'trimmed' | 'epoch' | 'unknown-cursor' | 'duplicate';
  eventId?: EventId;
}

/**
 * Where a client stands in one topic: the datacenter whose history its positions count in, the
 * epoch and seq of the last event it received there (seq 0: none yet), and that event's id, which
 * locates it in another datacenter's history.
 */
export interface TopicCursor {
  topic: Topic;
  dc: DcId;
  epoch: StoreEpoch;
  seq: Seq;
  lastEventId?: EventId;
}

/** One published event, immutable from the moment a dispatcher accepts it. */
export interface Event {
  readonly id: EventId;
  readonly topic: Topic;
  /** The datacenter whose dispatcher accepted the publish; only it forwards to peers. */
  readonly origin: DcId;
  readonly publishedAtMs: Ms;
  readonly payload: JsonValue;
}

/**
 * Lease writes carry a generation so the store can ignore a write that arrives after a newer one
 * from the same frontend (a late unsubscribe must not remove a fresh subscription). The host makes
 * generations grow across restarts of a frontend (the simulator by incarnation, production by clock).
 */
export type Generation = number;

/** Node-to-node messages: the same union in the simulator and over HTTP. */
export type Message =
  | { type: 'publish'; requestId: RequestId; topic: Topic; payload: JsonValue; id?: EventId }
  | { type: 'publish-reply'; requestId: RequestId; result: PublishResult }
  /** `count`: the frontend's connections on the topic, when it reports occupancy. */
  | {
      type: 'subscribe';
      requestId: RequestId;
      frontend: NodeId;
      topic: Topic;
      leaseMs: Ms;
      generation: Generation;
      count?: number;
    }
  /** `counts[i]`: the frontend's connections on `topics[i]`, when it reports occupancy. */
  | {
      type: 'renew';
      requestId: RequestId;
      frontend: NodeId;
      topics: Topic[];
      leaseMs: Ms;
      generation: Generation;
      counts?: number[];
    }
  | { type: 'unsubscribe'; requestId: RequestId; frontend: NodeId; topic: Topic; generation: Generation }
  /**
   * `epoch`: the store's epoch when it wrote the lease (absent when the write failed); `regranted`:
   * topics of a renewal whose lease had lapsed and was granted again.
   */
  | {
      type: 'lease-reply';
      requestId: RequestId;
      ok: boolean;
      error?: string;
      epoch?: StoreEpoch;
      regranted?: Topic[];
      /** Reliable mode: the head of each topic written (0: nothing appended yet), under `epoch`. */
      heads?: TopicHead[];
      /** Occupancy on: the topics' viewer counts as this datacenter knows them. */
      occupancy?: Occupancy[];
    }
  /** The store lost its data (a new epoch began): every registration must be made again, now. */
  | { type: 'store-reset'; epoch: StoreEpoch }
  /**
   * Best-effort: `event` alone. Reliable: its `position` in the datacenter's history, and a
   * `deliveryId` the frontend acknowledges with `deliver-ack`.
   */
  | { type: 'deliver'; event: Event; position?: Position; deliveryId?: RequestId }
  | { type: 'deliver-ack'; deliveryId: RequestId }
  | { type: 'forward'; forwardId: RequestId; event: Event }
  | { type: 'forward-ack'; forwardId: RequestId }
  | { type: 'store-request'; requestId: RequestId; request: StoreRequest }
  | { type: 'store-reply'; requestId: RequestId; reply: StoreReply }
  /** Reliable mode: a frontend asks a dispatcher for part of its datacenter's history of a topic. */
  | { type: 'history-read'; requestId: RequestId; topic: Topic; after: HistoryAfter; limit: number }
  | { type: 'history-reply'; requestId: RequestId; reply: HistoryReply }
  /**
   * Occupancy: a dispatcher's per-interval message to the dispatchers of a peer datacenter. One of
   * them gets `totals`, this datacenter's viewer counts learnt since the last one; the others an
   * empty list, which still says the datacenter is reachable. The sender's datacenter is known from
   * its node id, never taken from the message.
   */
  | { type: 'occupancy'; totals: OccupancyTotal[] };

/**
 * How many connections watch a topic: `count` in all, `byDc` per datacenter (sorted by name), and
 * `stale` the datacenters that could not be heard from lately, whose share is their last known one.
 */
export interface Occupancy {
  topic: Topic;
  count: number;
  byDc: Record<DcId, number>;
  stale: DcId[];
}

/**
 * One datacenter's viewer count of a topic as its store summed it, stamped with that store's epoch
 * and epoch age (so a later total is told from an earlier one without comparing clocks), and how
 * long it holds (`validMs`: the lease of the renewal that produced it, the time a peer takes to find
 * a silent datacenter stale, and one interval).
 */
export interface OccupancyTotal {
  topic: Topic;
  count: number;
  epoch: StoreEpoch;
  ageMs: Ms;
  validMs: Ms;
}

/**
 * A store's occupancy of a topic: `local`, the sum of the counts of the live leases of its own
 * datacenter's frontends, and the totals peer datacenters sent, `expired` once their `validMs`
 * passed (kept a while, so a cut-off datacenter's share can still be shown as stale).
 */
export interface StoreOccupancy {
  topic: Topic;
  local: number;
  remote: { dc: DcId; count: number; expired: boolean }[];
}

/** Where a history read starts: after a seq of the current epoch, or after an event found by its id. */
export type HistoryAfter = { seq: Seq } | { eventId: EventId };

/**
 * A part of a history: `events` in seq order, the first after `afterSeq` (the start the request
 * named, or the seq of the event it named; null when that event is not held). `firstSeq` is the
 * oldest seq held (head + 1 when none), `headSeq` the newest appended.
 */
export type HistoryReply =
  | {
      ok: true;
      epoch: StoreEpoch;
      afterSeq: Seq | null;
      firstSeq: Seq;
      headSeq: Seq;
      events: SequencedEvent[];
    }
  | { ok: false; message: string };

export type MessageType = Message['type'];

export type PublishResult =
  | { ok: true; eventId: EventId; warning?: PublishWarning; position?: Position }
  | { ok: false; code: PublishErrorCode; message: string; retryAfterMs?: Ms };

/**
 * A publish that was accepted and fanned out, but perhaps not to every viewer:
 * - `store-rebuilding`: the store's data is younger than one renewal period (it was just created,
 *   or it lost everything), so frontends may not all have registered their viewers again yet;
 * - `frontend-lapsed`: a frontend of the topic let its lease lapse without unsubscribing (frozen,
 *   cut off, or dead), so its viewers, if still connected, miss the event.
 * A publisher that must reach everyone republishes with its own id later; frontends drop the
 * copies viewers already have.
 * - `forward-pending` (reliable mode): stored in this datacenter, but some peer datacenters had not
 *   acknowledged it within `forwardAckWaitMs`; forwarding goes on until `forwardWindowMs`.
 */
export interface PublishWarning {
  code: 'store-rebuilding' | 'frontend-lapsed' | 'forward-pending';
  message: string;
}

/** `bad-payload`: not a JSON value, or nested too deep; `payload-too-large`: its JSON text is over the limit. */
export type PublishErrorCode =
  'bad-topic' | 'bad-id' | 'bad-payload' | 'payload-too-large' | 'store-unavailable' | 'overloaded';

/** What a dispatcher asks its datacenter's subscription store. Lease lengths are durations: the store applies its own clock. */
export type StoreRequest =
  /** `count`/`counts`: connections per topic for occupancy (absent: the lease counts none). */
  | { op: 'add'; topic: Topic; frontend: NodeId; leaseMs: Ms; generation: Generation; count?: number }
  | {
      op: 'renew';
      topics: Topic[];
      frontend: NodeId;
      leaseMs: Ms;
      generation: Generation;
      counts?: number[];
    }
  | { op: 'remove'; topic: Topic; frontend: NodeId; generation: Generation }
  | { op: 'lookup'; topic: Topic }
  /** Reliable mode: append `event` to its topic's history (or find it there by id), then look the topic up. */
  | { op: 'append'; event: Event }
  /** Reliable mode: read a topic's history after a seq or an event id, at most `limit` events. */
  | { op: 'read'; topic: Topic; after: HistoryAfter; limit: number }
  /** Occupancy: keep a peer datacenter's totals (each only if newer than the one held). */
  | { op: 'remote-totals'; dc: DcId; totals: OccupancyTotal[] }
  /** Occupancy: the topics' counts as this store knows them. */
  | { op: 'occupancy'; topics: Topic[] };

/**
 * One lifetime of a store's data. A store that loses its data (a restart without persistence, a
 * flush) begins a new, larger epoch, so whoever sees the epoch grow knows every registration made
 * before it is gone. Hosts make epochs grow (the simulator by incarnation, production by clock).
 */
export type StoreEpoch = number;

/**
 * Answers carry the store's epoch and how long ago it began, by the store's own clock. A renewal's
 * answer names the topics whose lease was not live and had to be granted again (`regranted`); a
 * lookup's names, besides the live frontends, those whose lease lapsed recently without an
 * unsubscribe (`lapsed`): frozen or cut off, perhaps with viewers still connected.
 */
export type StoreReply =
  | {
      op: 'written';
      applied: number;
      ignored: number;
      epoch: StoreEpoch;
      epochAgeMs: Ms;
      regranted?: Topic[];
      heads?: TopicHead[];
      /** Lease writes: the occupancy of the topics written, after the write. */
      occupancy?: StoreOccupancy[];
    }
  | { op: 'occupancy'; occupancy: StoreOccupancy[]; epoch: StoreEpoch; epochAgeMs: Ms }
  | { op: 'frontends'; frontends: NodeId[]; lapsed: NodeId[]; epoch: StoreEpoch; epochAgeMs: Ms }
  /**
   * The event's seq (`duplicate`: it was held already, under that seq), and the topic's frontends
   * with how long each one's lease has left (`leaseLeftMs[i]` for `frontends[i]`), so deliveries are
   * not retried to a frontend past its lease.
   */
  | {
      op: 'appended';
      seq: Seq;
      duplicate: boolean;
      frontends: NodeId[];
      leaseLeftMs: Ms[];
      lapsed: NodeId[];
      epoch: StoreEpoch;
      epochAgeMs: Ms;
    }
  | ({ op: 'range'; epochAgeMs: Ms } & Omit<Extract<HistoryReply, { ok: true }>, 'ok'>)
  /**
   * The store refused: it is at a named limit (`full`) or the request breaks its rules
   * (`bad-request`). A lease write refused as `full` still names the store's epoch and the heads of
   * its topics, as a written one does: a frontend the store has no room for keeps its viewers
   * caught up from the history (reliable mode).
   */
  | {
      op: 'rejected';
      reason: 'full' | 'bad-request';
      message: string;
      epoch?: StoreEpoch;
      heads?: TopicHead[];
    };

/** What a client connection does, as its frontend sees it. */
export type ClientAction =
  | { type: 'connect' }
  /** `occupancy`: also receive the topic's viewer count (`occupancy` effects), at most once per interval. */
  | { type: 'subscribe'; topic: Topic; occupancy?: boolean }
  | { type: 'unsubscribe'; topic: Topic }
  /**
   * Reconnect after a drop: subscribe to `topics` and replay what was missed. Best-effort: what the
   * frontend still remembers after `lastEventId`. Reliable: exactly what the history holds after each
   * topic's `cursors` entry, or a gap notice (a topic without a cursor starts from now).
   */
  | { type: 'resume'; topics: Topic[]; lastEventId: EventId; cursors?: TopicCursor[]; occupancy?: boolean }
  | { type: 'publish'; topic: Topic; payload: JsonValue }
  | { type: 'disconnect' };

/** A message to one client that is not an event: an error, or a fact it asked about. */
export interface Notice {
  code: NoticeCode;
  message: string;
  topic?: Topic;
  eventId?: EventId;
  gap?: Gap;
}

export type NoticeCode =
  | 'bad-topic'
  | 'too-many-topics'
  | 'not-connected'
  | 'already-connected'
  | 'frontend-full'
  | 'bad-payload'
  | 'payload-too-large'
  | 'bad-id'
  | 'history-unavailable'
  | 'published'
  | 'publish-failed'
  /** This frontend's registration for the topic had lapsed: events published meanwhile missed it. */
  | 'registration-lapsed'
  /** Written by the host, not the core: the subscribe token's `exp` passed and the connection ends. */
  | 'token-expired'
  /** Reliable mode: events of the topic will never reach this connection; `gap` says which. */
  | 'gap'
  /** The connection asked for viewer counts, and this frontend has occupancy turned off. */
  | 'occupancy-off';

/** Why something that should have happened did not: the explanation a loss carries. */
export type DropReason =
  | 'store-timeout'
  | 'store-full'
  | 'forward-exhausted'
  | 'pending-full'
  | 'no-viewers'
  | 'duplicate-event'
  | 'lease-request-exhausted'
  | 'publish-timeout'
  /** Reliable: a peer datacenter did not acknowledge a forward within `forwardWindowMs`. */
  | 'forward-expired'
  /** Reliable: a frontend did not acknowledge a delivery in `deliverAttemptsMax` tries (it catches up from the history). */
  | 'deliver-exhausted'
  /** Reliable: a history read failed; the frontend tries again at its next renewal or gap. */
  | 'read-failed';

/** A change of a lease in a store, reported so traces and metrics can follow lease hygiene. */
export interface LeaseChange {
  /** `refused`: the store was full and wrote nothing; the frontend holds no lease on the topic. */
  change: 'granted' | 'renewed' | 'removed' | 'expired' | 'refused';
  topic: Topic;
  frontend: NodeId;
  /** For granted and renewed: when the lease dies unless renewed again. */
  expiresAtMs?: Ms;
}

export type Effect =
  | { kind: 'send'; target: NodeId; message: Message }
  /**
   * One event to every listed connection of this frontend: one effect per fan-out, not one per
   * connection. `wholeTopic` says the list is every local viewer of the event's topic (a live
   * fan-out) rather than a replay to one connection, so a host that mirrors the topic table in its
   * transport may hand the whole fan-out to the transport's own pub/sub.
   */
  | { kind: 'deliver'; connections: ConnectionId[]; event: Event; wholeTopic: boolean; position?: Position }
  | { kind: 'notice'; connection: ConnectionId; notice: Notice }
  /** The frontend took the connection (its `connect` was accepted). */
  | { kind: 'connected'; connection: ConnectionId }
  /**
   * The connection now receives the topic's events (a subscribe or resume took effect). Reliable
   * mode: from just after `position` on, in seq order (a resume's catch-up came before it).
   */
  | { kind: 'joined'; connection: ConnectionId; topic: Topic; position?: Position }
  /** The connection no longer receives the topic's events (an unsubscribe, or it disconnected). */
  | { kind: 'left'; connection: ConnectionId; topic: Topic }
  | { kind: 'close'; connection: ConnectionId; reason: string }
  /** The answer to a host's `publish` input. */
  | { kind: 'publish-reply'; publishId: PublishId; result: PublishResult }
  /** Ask this datacenter's subscription store; the host answers with a `store-reply` input. */
  | { kind: 'store-request'; requestId: RequestId; request: StoreRequest }
  /** Something the role gave up on, with the reason: the weather, reported, never thrown. */
  | { kind: 'drop'; reason: DropReason; eventId?: EventId; topic?: Topic; target?: NodeId; dc?: DcId }
  | { kind: 'lease'; lease: LeaseChange }
  /** A dispatcher accepted a publish and stamped this event (for metrics, logs and traces). */
  | { kind: 'published'; event: Event }
  /** Reliable mode: a store appended `event` at `seq` (or held it already: `duplicate`). */
  | { kind: 'appended'; event: Event; epoch: StoreEpoch; seq: Seq; duplicate: boolean }
  /** Reliable mode: a store forgot these seqs of a topic's history (count or age bound). */
  | { kind: 'trimmed'; topic: Topic; epoch: StoreEpoch; throughSeq: Seq }
  /** A topic's viewer count to the connections that asked for it (it changed, or they just asked). */
  | { kind: 'occupancy'; connections: ConnectionId[]; occupancy: Occupancy }
  /** The answer to a host's `occupancy` input. */
  | { kind: 'occupancy-reply'; queryId: PublishId; result: OccupancyResult };

export type OccupancyResult =
  | { ok: true; occupancy: Occupancy }
  | { ok: false; code: 'bad-topic' | 'store-unavailable' | 'disabled'; message: string };

export type EffectKind = Effect['kind'];

/** Counters a role keeps for metrics; names are stable and appear in `/metrics` and reports. */
export type Counters = Record<string, number>;
