/**
 * Dispatcher: accepts publishes, fans them out to the frontends of its datacenter, and forwards
 * them across datacenters.
 *
 * Theory of operation
 * - Stateless between requests: it keeps no subscriptions, only the requests it is waiting on, an
 *   event counter for ids, and which peer dispatchers recently failed to answer.
 * - Publish: check the topic, payload and optional id; stamp the event (id unless the publisher
 *   gave one, origin datacenter, publish time); ask the store for the topic's live frontends and
 *   `deliver` to each when the answer comes; and forward the event to one dispatcher of every peer
 *   datacenter. The ids it assigns start with `serverEventIdMarker` and a publisher's may not, so
 *   no publisher can take an id before it is assigned (frontends would drop the real event). The publisher is answered once the local lookup is done (or failed), so a caller
 *   learns when the store is unreachable and can retry with the same id; frontends drop the
 *   duplicates such retries make.
 * - Forward: a peer's dispatcher acknowledges at once and fans out in its own datacenter; it never
 *   forwards again. Without an ack within `forwardTimeoutMs` the target is suspected for
 *   `suspectMs` and the event goes to another dispatcher of that datacenter, at most
 *   `forwardAttemptsMax` times in all; then a `drop` says which datacenter missed it. Every attempt
 *   carries the same forward id, so a late ack for an earlier attempt still stops the retries.
 * - Leases: `subscribe`, `renew` and `unsubscribe` from frontends become store writes, answered
 *   with `lease-reply` once the store has answered.
 * - Every store request times out after `storeRequestTimeoutMs`; a timed-out lookup is a `drop`
 *   (`store-timeout`), a timed-out lease write a negative `lease-reply`. Pending requests are
 *   bounded by `pendingRequestsMax`; past it a publish is refused `overloaded`.
 * - Store epochs: every store answer carries the store's epoch. When it grows, the store has lost
 *   every registration, so the dispatcher tells each frontend it has recently heard from
 *   (`knownFrontendsMax` of them, least recent forgotten first) with a `store-reset`, and they
 *   register again at once instead of at their next renewal.
 * - A publish is answered OK only once fanned out; it carries a warning when some viewers may have
 *   been missed: `store-rebuilding` while the store's epoch is younger than `storeRebuildWindowMs`
 *   (one renewal period and its timeout: frontends may still be registering), `frontend-lapsed`
 *   when the lookup found a frontend whose lease lapsed without an unsubscribe (frozen or cut off,
 *   its viewers perhaps still connected). A renewal's list of topics granted again goes back to
 *   the frontend, which tells those viewers.
 * - Timers: one timeout per pending store request and per pending forward; `deadline()` is the earliest.
 */
import { assert, increment, unreachable } from './assert.ts';
import { hashString } from './frontend.ts';
import type {
  Counters,
  DcId,
  Effect,
  Event,
  Message,
  Ms,
  NodeId,
  PublishResult,
  PublishWarning,
  RequestId,
  StoreEpoch,
  StoreReply,
  StoreRequest,
  Topic,
} from './types.ts';
import { payloadError, publisherEventIdError, serverEventIdMarker, topicError } from './validation.ts';

export interface DispatcherLimits {
  pendingRequestsMax: number;
  pendingForwardsMax: number;
  payloadBytesMax: number;
  /** Frontends remembered for `store-reset`; past it the least recently heard from is forgotten. */
  knownFrontendsMax: number;
}

export const defaultDispatcherLimits: DispatcherLimits = {
  pendingRequestsMax: 100_000,
  pendingForwardsMax: 100_000,
  payloadBytesMax: 64 * 1024,
  knownFrontendsMax: 10_000,
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
  limits: DispatcherLimits;
}

export type DispatcherOptions = Pick<DispatcherConfig, 'nodeId' | 'dc' | 'idPrefix'> &
  Partial<Omit<DispatcherConfig, 'limits'>> & { limits?: Partial<DispatcherLimits> };

type StorePurpose =
  | { kind: 'fan-out'; event: Event; publisher: { source: NodeId; requestId: RequestId } | null }
  | { kind: 'lease'; source: NodeId; requestId: RequestId };

interface PendingStore {
  deadlineMs: Ms;
  purpose: StorePurpose;
}

interface PendingForward {
  deadlineMs: Ms;
  event: Event;
  dc: DcId;
  target: NodeId;
  attempts: number;
}

export interface DispatcherState {
  readonly config: DispatcherConfig;
  /** In deadline order: every store request has the same timeout, so the first is the next due. */
  readonly pendingStore: Map<RequestId, PendingStore>;
  readonly pendingForwards: Map<RequestId, PendingForward>;
  /** Peer dispatchers that missed an ack, until when they are passed over. */
  readonly suspects: Map<NodeId, Ms>;
  readonly peerCursor: Map<DcId, number>;
  /** The largest store epoch seen; null before the first answer. */
  storeEpoch: StoreEpoch | null;
  /** Frontends that sent lease requests, least recently heard from first. */
  readonly knownFrontends: Set<NodeId>;
  nextRequestId: RequestId;
  nextEventSeq: number;
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
  const peerCursor = new Map<DcId, number>();
  for (const [dc, dispatchers] of Object.entries(config.peers)) {
    peerCursor.set(dc, hashString(config.nodeId) % dispatchers.length);
  }
  return {
    config,
    pendingStore: new Map(),
    pendingForwards: new Map(),
    suspects: new Map(),
    peerCursor,
    storeEpoch: null,
    knownFrontends: new Set(),
    nextRequestId: 1,
    nextEventSeq: 1,
    counters: {},
  };
}

export type DispatcherInput =
  | { kind: 'message'; source: NodeId; message: Message }
  | { kind: 'store-reply'; requestId: RequestId; reply: StoreReply }
  | { kind: 'deadline' };

/** Feed one input; perform every returned effect before the next call. `now` never decreases. */
export function handle(state: DispatcherState, input: DispatcherInput, now: Ms): Effect[] {
  const effects: Effect[] = [];
  switch (input.kind) {
    case 'message':
      onMessage(state, input.source, input.message, now, effects);
      break;
    case 'store-reply':
      onStoreReply(state, input.requestId, input.reply, effects);
      break;
    case 'deadline':
      onDeadline(state, now, effects);
      break;
    default:
      unreachable(input);
  }
  return effects;
}

/** When `handle(state, { kind: 'deadline' }, now)` must next be called, or null. */
export function deadline(state: Readonly<DispatcherState>): Ms | null {
  let earliest: Ms | null = null;
  for (const pending of [state.pendingStore, state.pendingForwards]) {
    const first = pending.values().next();
    if (!first.done && (earliest === null || first.value.deadlineMs < earliest))
      earliest = first.value.deadlineMs;
  }
  return earliest;
}

/** The event a pending store request serves, if it is a fan-out lookup (hosts use it to annotate traces). */
export function eventOfStoreRequest(state: Readonly<DispatcherState>, requestId: RequestId): Event | null {
  const purpose = state.pendingStore.get(requestId)?.purpose;
  return purpose?.kind === 'fan-out' ? purpose.event : null;
}

function onMessage(
  state: DispatcherState,
  source: NodeId,
  message: Message,
  now: Ms,
  effects: Effect[],
): void {
  switch (message.type) {
    case 'publish':
      onPublish(state, source, message, now, effects);
      return;
    case 'forward':
      // Acknowledge first: the ack says "this datacenter has it", whatever happens to the lookup.
      effects.push({
        kind: 'send',
        target: source,
        message: { type: 'forward-ack', forwardId: message.forwardId },
      });
      if (message.event.origin === state.config.dc || topicError(message.event.topic) !== null) {
        increment(state.counters, 'forwards-refused');
        return;
      }
      increment(state.counters, 'forwards-received');
      requestStore(
        state,
        { op: 'lookup', topic: message.event.topic },
        { kind: 'fan-out', event: message.event, publisher: null },
        now,
        effects,
      );
      return;
    case 'forward-ack': {
      const pending = state.pendingForwards.get(message.forwardId);
      if (pending === undefined) return;
      state.pendingForwards.delete(message.forwardId);
      state.suspects.delete(pending.target);
      increment(state.counters, 'forwards-acked');
      return;
    }
    case 'subscribe':
    case 'renew':
    case 'unsubscribe': {
      const request: StoreRequest =
        message.type === 'subscribe'
          ? {
              op: 'add',
              topic: message.topic,
              frontend: message.frontend,
              leaseMs: message.leaseMs,
              generation: message.generation,
            }
          : message.type === 'renew'
            ? {
                op: 'renew',
                topics: message.topics,
                frontend: message.frontend,
                leaseMs: message.leaseMs,
                generation: message.generation,
              }
            : {
                op: 'remove',
                topic: message.topic,
                frontend: message.frontend,
                generation: message.generation,
              };
      rememberFrontend(state, message.frontend);
      const purpose: StorePurpose = { kind: 'lease', source, requestId: message.requestId };
      if (!requestStore(state, request, purpose, now, effects)) {
        effects.push(leaseReply(source, message.requestId, false, 'dispatcher overloaded'));
      }
      return;
    }
    case 'deliver':
    case 'publish-reply':
    case 'lease-reply':
    case 'store-reset':
    case 'store-request':
    case 'store-reply':
      increment(state.counters, 'unexpected-messages');
      return;
    default:
      unreachable(message);
  }
}

function onPublish(
  state: DispatcherState,
  source: NodeId,
  message: Extract<Message, { type: 'publish' }>,
  now: Ms,
  effects: Effect[],
): void {
  const refuse = (result: Extract<PublishResult, { ok: false }>): void => {
    increment(state.counters, `publishes-refused-${result.code}`);
    effects.push({
      kind: 'send',
      target: source,
      message: { type: 'publish-reply', requestId: message.requestId, result },
    });
  };
  const topicProblem = topicError(message.topic);
  if (topicProblem !== null) return refuse({ ok: false, code: 'bad-topic', message: topicProblem });
  const payloadProblem = payloadError(message.payload, state.config.limits.payloadBytesMax);
  if (payloadProblem !== null)
    return refuse({ ok: false, code: 'payload-too-large', message: payloadProblem });
  if (message.id !== undefined) {
    const idProblem = publisherEventIdError(message.id);
    if (idProblem !== null) return refuse({ ok: false, code: 'bad-id', message: idProblem });
  }
  if (state.pendingStore.size >= state.config.limits.pendingRequestsMax) {
    return refuse({
      ok: false,
      code: 'overloaded',
      message: `dispatcher has ${state.pendingStore.size} requests in flight`,
      retryAfterMs: state.config.retryAfterMs,
    });
  }
  const event: Event = {
    id: message.id ?? `${serverEventIdMarker}${state.config.idPrefix}${state.nextEventSeq++}`,
    topic: message.topic,
    origin: state.config.dc,
    publishedAtMs: now,
    payload: message.payload,
  };
  increment(state.counters, 'publishes-accepted');
  effects.push({ kind: 'published', event });
  const sent = requestStore(
    state,
    { op: 'lookup', topic: event.topic },
    { kind: 'fan-out', event, publisher: { source, requestId: message.requestId } },
    now,
    effects,
  );
  assert(sent, 'the pending bound was checked above');
  for (const dc of Object.keys(state.config.peers)) forward(state, event, dc, 1, now, effects);
}

function forward(
  state: DispatcherState,
  event: Event,
  dc: DcId,
  attempts: number,
  now: Ms,
  effects: Effect[],
  /** A retry keeps its first attempt's id, so a late ack for any attempt settles the forward. */
  forwardId: RequestId = state.nextRequestId++,
): void {
  if (state.pendingForwards.size >= state.config.limits.pendingForwardsMax) {
    increment(state.counters, 'forwards-shed');
    effects.push({ kind: 'drop', reason: 'pending-full', eventId: event.id, topic: event.topic, dc });
    return;
  }
  const target = pickPeer(state, dc, now);
  state.pendingForwards.set(forwardId, {
    deadlineMs: now + state.config.forwardTimeoutMs,
    event,
    dc,
    target,
    attempts,
  });
  increment(state.counters, 'forwards-sent');
  effects.push({ kind: 'send', target, message: { type: 'forward', forwardId, event } });
}

/** The next dispatcher of `dc` in rotation that is not suspected; a suspected one only when all are. */
function pickPeer(state: DispatcherState, dc: DcId, now: Ms): NodeId {
  const dispatchers = state.config.peers[dc];
  assert(dispatchers !== undefined && dispatchers.length > 0, `no dispatchers known for ${dc}`);
  const cursor = state.peerCursor.get(dc) ?? 0;
  let chosen = cursor % dispatchers.length;
  for (let offset = 0; offset < dispatchers.length; offset++) {
    const index = (cursor + offset) % dispatchers.length;
    const suspectUntil = state.suspects.get(dispatchers[index] as NodeId);
    if (suspectUntil === undefined || suspectUntil <= now) {
      chosen = index;
      break;
    }
  }
  state.peerCursor.set(dc, chosen + 1);
  return dispatchers[chosen] as NodeId;
}

/** Send a store request and remember why; false when the pending bound refuses it. */
function requestStore(
  state: DispatcherState,
  request: StoreRequest,
  purpose: StorePurpose,
  now: Ms,
  effects: Effect[],
): boolean {
  if (state.pendingStore.size >= state.config.limits.pendingRequestsMax) {
    increment(state.counters, 'store-requests-shed');
    if (purpose.kind === 'fan-out') {
      effects.push({
        kind: 'drop',
        reason: 'pending-full',
        eventId: purpose.event.id,
        topic: purpose.event.topic,
        dc: state.config.dc,
      });
    }
    return false;
  }
  const requestId = state.nextRequestId++;
  state.pendingStore.set(requestId, { deadlineMs: now + state.config.storeRequestTimeoutMs, purpose });
  effects.push({ kind: 'store-request', requestId, request });
  return true;
}

function onStoreReply(
  state: DispatcherState,
  requestId: RequestId,
  reply: StoreReply,
  effects: Effect[],
): void {
  const pending = state.pendingStore.get(requestId);
  if (pending === undefined) {
    // The request timed out already and was reported; a late answer changes nothing.
    increment(state.counters, 'store-replies-late');
    return;
  }
  state.pendingStore.delete(requestId);
  if (reply.op !== 'rejected') observeEpoch(state, reply.epoch, effects);
  const purpose = pending.purpose;
  if (purpose.kind === 'lease') {
    effects.push(
      reply.op === 'written'
        ? leaseReply(purpose.source, purpose.requestId, true, undefined, reply.epoch, reply.regranted)
        : leaseReply(
            purpose.source,
            purpose.requestId,
            false,
            reply.op === 'rejected' ? reply.message : 'store gave an unexpected answer',
          ),
    );
    return;
  }
  const { event, publisher } = purpose;
  if (reply.op !== 'frontends') {
    increment(state.counters, 'lookups-refused');
    effects.push({
      kind: 'drop',
      reason: 'store-full',
      eventId: event.id,
      topic: event.topic,
      dc: state.config.dc,
    });
    if (publisher !== null) {
      const message = reply.op === 'rejected' ? reply.message : 'store gave an unexpected answer';
      replyToPublisher(
        publisher,
        { ok: false, code: 'store-unavailable', message, retryAfterMs: state.config.retryAfterMs },
        effects,
      );
    }
    return;
  }
  increment(state.counters, 'fan-outs');
  increment(state.counters, 'delivers-sent', reply.frontends.length);
  for (const frontend of reply.frontends)
    effects.push({ kind: 'send', target: frontend, message: { type: 'deliver', event } });
  if (publisher === null) return;
  const warning = publishWarning(state, reply);
  if (warning !== null) increment(state.counters, `publishes-warned-${warning.code}`);
  replyToPublisher(
    publisher,
    warning === null ? { ok: true, eventId: event.id } : { ok: true, eventId: event.id, warning },
    effects,
  );
}

/** Why a publish fanned out with this lookup may have missed viewers, or null when it may not. */
function publishWarning(
  state: DispatcherState,
  reply: Extract<StoreReply, { op: 'frontends' }>,
): PublishWarning | null {
  const dc = state.config.dc;
  if (reply.epochAgeMs < state.config.storeRebuildWindowMs) {
    return {
      code: 'store-rebuilding',
      message: `the subscription store of ${dc} holds data only ${reply.epochAgeMs} ms old (it is new, or it lost its data) and frontends may still be registering their viewers: some may miss this event; republish it with your own id after ${state.config.storeRebuildWindowMs - reply.epochAgeMs} ms to reach them`,
    };
  }
  if (reply.lapsed.length > 0) {
    return {
      code: 'frontend-lapsed',
      message: `${reply.lapsed.length} frontend(s) of ${dc} with viewers of this topic let their lease lapse without unsubscribing (frozen, cut off or dead): their viewers, if still connected, miss this event`,
    };
  }
  return null;
}

/** Note a frontend that has leases here, most recent last, within `knownFrontendsMax`. */
function rememberFrontend(state: DispatcherState, frontend: NodeId): void {
  state.knownFrontends.delete(frontend);
  state.knownFrontends.add(frontend);
  if (state.knownFrontends.size > state.config.limits.knownFrontendsMax) {
    const oldest = state.knownFrontends.values().next();
    assert(!oldest.done, 'a set over its bound has a first element');
    state.knownFrontends.delete(oldest.value);
  }
}

/**
 * A store answer carried `epoch`. An epoch larger than the last one seen means the store lost
 * every registration: tell every known frontend to register again now. A smaller one is a late
 * answer from before the loss.
 */
function observeEpoch(state: DispatcherState, epoch: StoreEpoch, effects: Effect[]): void {
  const previous = state.storeEpoch;
  if (previous !== null && epoch <= previous) return;
  state.storeEpoch = epoch;
  if (previous === null) return;
  increment(state.counters, 'store-epoch-changes');
  increment(state.counters, 'store-resets-sent', state.knownFrontends.size);
  for (const frontend of state.knownFrontends)
    effects.push({ kind: 'send', target: frontend, message: { type: 'store-reset', epoch } });
}

function onDeadline(state: DispatcherState, now: Ms, effects: Effect[]): void {
  for (const [requestId, pending] of state.pendingStore) {
    if (pending.deadlineMs > now) break;
    state.pendingStore.delete(requestId);
    increment(state.counters, 'store-timeouts');
    const purpose = pending.purpose;
    if (purpose.kind === 'lease') {
      effects.push(leaseReply(purpose.source, purpose.requestId, false, 'store did not answer in time'));
      continue;
    }
    const { event, publisher } = purpose;
    effects.push({
      kind: 'drop',
      reason: 'store-timeout',
      eventId: event.id,
      topic: event.topic,
      dc: state.config.dc,
    });
    if (publisher !== null) {
      replyToPublisher(
        publisher,
        {
          ok: false,
          code: 'store-unavailable',
          message: `the subscription store of ${state.config.dc} did not answer in ${state.config.storeRequestTimeoutMs} ms; retry with id ${event.id}`,
          retryAfterMs: state.config.retryAfterMs,
        },
        effects,
      );
    }
  }
  // Retries enter the map at its end with later deadlines, so this loop never revisits them.
  for (const [forwardId, pending] of state.pendingForwards) {
    if (pending.deadlineMs > now) break;
    state.pendingForwards.delete(forwardId);
    increment(state.counters, 'forwards-timed-out');
    state.suspects.set(pending.target, now + state.config.suspectMs);
    if (pending.attempts >= state.config.forwardAttemptsMax) {
      increment(state.counters, 'forwards-exhausted');
      effects.push({
        kind: 'drop',
        reason: 'forward-exhausted',
        eventId: pending.event.id,
        topic: pending.event.topic,
        dc: pending.dc,
      });
      continue;
    }
    forward(state, pending.event, pending.dc, pending.attempts + 1, now, effects, forwardId);
  }
  for (const [node, until] of state.suspects) if (until <= now) state.suspects.delete(node);
}

function replyToPublisher(
  publisher: { source: NodeId; requestId: RequestId },
  result: PublishResult,
  effects: Effect[],
): void {
  effects.push({
    kind: 'send',
    target: publisher.source,
    message: { type: 'publish-reply', requestId: publisher.requestId, result },
  });
}

function leaseReply(
  target: NodeId,
  requestId: RequestId,
  ok: boolean,
  error?: string,
  epoch?: StoreEpoch,
  regranted?: Topic[],
): Effect {
  const message: Extract<Message, { type: 'lease-reply' }> = { type: 'lease-reply', requestId, ok };
  if (error !== undefined) message.error = error;
  if (epoch !== undefined) message.epoch = epoch;
  if (regranted !== undefined && regranted.length > 0) message.regranted = regranted;
  return { kind: 'send', target, message };
}
