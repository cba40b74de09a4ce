/**
 * Frontend: holds client connections and fans delivered events out to them.
 *
 * Theory of operation
 * - State: connections (each with its topics) and the table `topic -> connections`, both in
 *   insertion order so fan-out order is deterministic.
 * - Registration: a topic's first local viewer makes the frontend ask a dispatcher of its
 *   datacenter for a lease (`subscribe`); its last viewer leaving sends `unsubscribe`. Every
 *   `renewEveryMs` one `renew` per batch of topics extends the leases of all topics with viewers,
 *   which also repairs any registration that was lost. Every lease request carries a fresh
 *   generation so the store can order them.
 * - Lease requests wait `leaseRequestTimeoutMs` for a `lease-reply`; on a timeout or a refusal the
 *   frontend tries the next dispatcher, up to `leaseAttemptsMax` attempts, then gives up with a
 *   `drop` effect and leaves the repair to the next renewal.
 * - Store epochs: a lease reply carries the store's epoch. When it grows (the store lost every
 *   lease), or a dispatcher says so with `store-reset`, the frontend renews every topic at once
 *   rather than at its next renewal: its viewers are unregistered until then.
 * - A renewal's reply names the topics whose lease had lapsed and was granted again (the frontend
 *   was frozen or cut off, or the store lost it): their viewers get a `registration-lapsed` notice,
 *   because events published meanwhile did not reach this frontend.
 * - Delivery: a `deliver` goes to every local connection of the event's topic, as one `deliver`
 *   effect. A per-topic history of recent events (`historyEventsPerTopicMax`, for at most
 *   `historyTopicsMax` topics, least recently used evicted) drops duplicates by event id, and lets
 *   a client `resume` after a reconnect with the events it missed when they are still remembered.
 * - Client input is checked (topic rules, topics per connection, connections, payload size); bad
 *   input gets a `notice` effect and changes nothing. Clients may publish through the frontend; the
 *   answer comes back to them as a `published` or `publish-failed` notice.
 * - Timers: the renewal tick, and one timeout per pending request. `deadline()` is the earliest.
 */
import { assert, increment, unreachable } from './assert.ts';
import type {
  ClientAction,
  ConnectionId,
  Counters,
  DcId,
  Effect,
  Event,
  EventId,
  Generation,
  Message,
  Ms,
  NodeId,
  Notice,
  RequestId,
  StoreEpoch,
  Topic,
} from './types.ts';
import { eventIdError, payloadError, topicError } from './validation.ts';

export interface FrontendLimits {
  connectionsMax: number;
  topicsPerConnectionMax: number;
  payloadBytesMax: number;
  historyEventsPerTopicMax: number;
  historyTopicsMax: number;
  pendingRequestsMax: number;
  topicsPerRenewMax: number;
}

export const defaultFrontendLimits: FrontendLimits = {
  connectionsMax: 100_000,
  topicsPerConnectionMax: 64,
  payloadBytesMax: 64 * 1024,
  historyEventsPerTopicMax: 256,
  historyTopicsMax: 10_000,
  pendingRequestsMax: 4_096,
  topicsPerRenewMax: 500,
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
  /** First lease generation; the host makes it larger than any a previous incarnation used. */
  generationStart: Generation;
  limits: FrontendLimits;
}

export type FrontendOptions = Pick<FrontendConfig, 'nodeId' | 'dc' | 'dispatchers'> &
  Partial<Omit<FrontendConfig, 'limits'>> & { limits?: Partial<FrontendLimits> };

type LeaseMessage = Extract<Message, { type: 'subscribe' | 'renew' | 'unsubscribe' }>;

interface PendingLease {
  deadlineMs: Ms;
  message: LeaseMessage;
  attempts: number;
}

interface PendingPublish {
  deadlineMs: Ms;
  connection: ConnectionId;
  topic: Topic;
}

interface History {
  events: Event[];
  ids: Set<EventId>;
}

export interface FrontendState {
  readonly config: FrontendConfig;
  readonly connections: Map<ConnectionId, Set<Topic>>;
  readonly topics: Map<Topic, Set<ConnectionId>>;
  readonly history: Map<Topic, History>;
  /**
   * Requests awaiting a reply, one map per kind: every timeout of a kind has the same length, so
   * insertion order is deadline order and the first entry is the next to time out.
   */
  readonly pendingLeases: Map<RequestId, PendingLease>;
  readonly pendingPublishes: Map<RequestId, PendingPublish>;
  nextRequestId: RequestId;
  nextGeneration: Generation;
  /** The largest store epoch this frontend has registered under (or been told of); null at first. */
  storeEpoch: StoreEpoch | null;
  dispatcherIndex: number;
  renewAtMs: Ms | null;
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
    generationStart: 0,
    ...options,
    limits: { ...defaultFrontendLimits, ...options.limits },
  };
  assert(config.dispatchers.length > 0, 'a frontend needs at least one dispatcher');
  assert(config.renewEveryMs < config.leaseMs, 'renewEveryMs must be shorter than leaseMs');
  assert(config.leaseAttemptsMax >= 1, 'leaseAttemptsMax must be at least 1');
  return {
    config,
    connections: new Map(),
    topics: new Map(),
    history: new Map(),
    pendingLeases: new Map(),
    pendingPublishes: new Map(),
    nextRequestId: 1,
    nextGeneration: config.generationStart,
    storeEpoch: null,
    // Spread frontends over dispatchers without coordination.
    dispatcherIndex: hashString(config.nodeId) % config.dispatchers.length,
    renewAtMs: null,
    counters: {},
  };
}

export type FrontendInput =
  | { kind: 'client'; connection: ConnectionId; action: ClientAction }
  | { kind: 'message'; source: NodeId; message: Message }
  | { kind: 'deadline' };

/** Feed one input; perform every returned effect before the next call. `now` never decreases. */
export function handle(state: FrontendState, input: FrontendInput, now: Ms): Effect[] {
  const effects: Effect[] = [];
  switch (input.kind) {
    case 'client':
      onClient(state, input.connection, input.action, now, effects);
      break;
    case 'message':
      onMessage(state, input.message, now, effects);
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
export function deadline(state: Readonly<FrontendState>): Ms | null {
  let earliest = state.renewAtMs;
  for (const pending of [state.pendingLeases, state.pendingPublishes]) {
    const first = pending.values().next();
    if (!first.done && (earliest === null || first.value.deadlineMs < earliest))
      earliest = first.value.deadlineMs;
  }
  return earliest;
}

/** The topics this frontend has local viewers of, in first-subscribed order. */
export function localTopics(state: Readonly<FrontendState>): Topic[] {
  return [...state.topics.keys()];
}

function onClient(
  state: FrontendState,
  connection: ConnectionId,
  action: ClientAction,
  now: Ms,
  effects: Effect[],
): void {
  const notice = (code: Notice['code'], message: string, topic?: Topic): void => {
    increment(state.counters, `client-error-${code}`);
    effects.push({
      kind: 'notice',
      connection,
      notice: topic === undefined ? { code, message } : { code, message, topic },
    });
  };
  if (action.type === 'connect') {
    if (state.connections.has(connection)) return notice('already-connected', 'connection is already open');
    if (state.connections.size >= state.config.limits.connectionsMax) {
      notice(
        'frontend-full',
        `frontend holds its limit of ${state.config.limits.connectionsMax} connections`,
      );
      effects.push({ kind: 'close', connection, reason: 'frontend-full' });
      return;
    }
    state.connections.set(connection, new Set());
    increment(state.counters, 'connections-opened');
    return;
  }
  const topics = state.connections.get(connection);
  if (topics === undefined) return notice('not-connected', `connection ${connection} is not open`);
  switch (action.type) {
    case 'subscribe': {
      const error = subscribeError(state, topics, action.topic);
      if (error !== null) return notice(error.code, error.message, action.topic);
      subscribe(state, connection, topics, action.topic, now, effects);
      return;
    }
    case 'unsubscribe':
      if (topics.has(action.topic)) unsubscribe(state, connection, topics, action.topic, now, effects);
      return;
    case 'resume': {
      const idError = eventIdError(action.lastEventId);
      if (idError !== null) return notice('bad-id', idError);
      for (const topic of action.topics) {
        const error = subscribeError(state, topics, topic);
        if (error !== null) return notice(error.code, error.message, topic);
        subscribe(state, connection, topics, topic, now, effects);
      }
      replay(state, connection, action.topics, action.lastEventId, effects);
      return;
    }
    case 'publish': {
      const error =
        topicError(action.topic) ?? payloadError(action.payload, state.config.limits.payloadBytesMax);
      if (error !== null) {
        return notice(
          topicError(action.topic) === null ? 'payload-too-large' : 'bad-topic',
          error,
          action.topic,
        );
      }
      if (pendingCount(state) >= state.config.limits.pendingRequestsMax) {
        return notice(
          'publish-failed',
          'frontend has too many requests in flight; retry later',
          action.topic,
        );
      }
      const requestId = state.nextRequestId++;
      state.pendingPublishes.set(requestId, {
        deadlineMs: now + state.config.publishTimeoutMs,
        connection,
        topic: action.topic,
      });
      effects.push({
        kind: 'send',
        target: currentDispatcher(state),
        message: { type: 'publish', requestId, topic: action.topic, payload: action.payload },
      });
      return;
    }
    case 'disconnect':
      for (const topic of [...topics]) unsubscribe(state, connection, topics, topic, now, effects);
      state.connections.delete(connection);
      increment(state.counters, 'connections-closed');
      return;
    default:
      unreachable(action);
  }
}

function subscribeError(
  state: FrontendState,
  topics: Set<Topic>,
  topic: Topic,
): { code: Notice['code']; message: string } | null {
  const error = topicError(topic);
  if (error !== null) return { code: 'bad-topic', message: error };
  if (!topics.has(topic) && topics.size >= state.config.limits.topicsPerConnectionMax) {
    return {
      code: 'too-many-topics',
      message: `a connection may join at most ${state.config.limits.topicsPerConnectionMax} topics`,
    };
  }
  return null;
}

function subscribe(
  state: FrontendState,
  connection: ConnectionId,
  topics: Set<Topic>,
  topic: Topic,
  now: Ms,
  effects: Effect[],
): void {
  if (topics.has(topic)) return;
  topics.add(topic);
  let viewers = state.topics.get(topic);
  if (viewers === undefined) {
    viewers = new Set();
    state.topics.set(topic, viewers);
    const message = {
      type: 'subscribe',
      requestId: state.nextRequestId++,
      frontend: state.config.nodeId,
      topic,
      leaseMs: state.config.leaseMs,
      generation: state.nextGeneration++,
    } as const;
    sendLeaseRequest(state, message, 1, now, effects);
    if (state.renewAtMs === null) state.renewAtMs = now + state.config.renewEveryMs;
  }
  viewers.add(connection);
  increment(state.counters, 'subscriptions');
}

function unsubscribe(
  state: FrontendState,
  connection: ConnectionId,
  topics: Set<Topic>,
  topic: Topic,
  now: Ms,
  effects: Effect[],
): void {
  topics.delete(topic);
  const viewers = state.topics.get(topic);
  assert(
    viewers !== undefined && viewers.delete(connection),
    `connection ${connection} missing from ${topic}`,
  );
  increment(state.counters, 'unsubscriptions');
  if (viewers.size > 0) return;
  state.topics.delete(topic);
  const message = {
    type: 'unsubscribe',
    requestId: state.nextRequestId++,
    frontend: state.config.nodeId,
    topic,
    generation: state.nextGeneration++,
  } as const;
  sendLeaseRequest(state, message, 1, now, effects);
  if (state.topics.size === 0) state.renewAtMs = null;
}

function sendLeaseRequest(
  state: FrontendState,
  message: LeaseMessage,
  attempts: number,
  now: Ms,
  effects: Effect[],
): void {
  if (pendingCount(state) >= state.config.limits.pendingRequestsMax) {
    // The next renewal repairs a lost subscribe; an unsent unsubscribe lets the lease expire.
    increment(state.counters, 'lease-requests-shed');
    effects.push({ kind: 'drop', reason: 'pending-full', ...leaseTopic(message) });
    return;
  }
  state.pendingLeases.set(message.requestId, {
    deadlineMs: now + state.config.leaseRequestTimeoutMs,
    message,
    attempts,
  });
  effects.push({ kind: 'send', target: currentDispatcher(state), message });
}

function retryLeaseRequest(state: FrontendState, request: PendingLease, now: Ms, effects: Effect[]): void {
  state.dispatcherIndex = (state.dispatcherIndex + 1) % state.config.dispatchers.length;
  const { message } = request;
  if (request.attempts >= state.config.leaseAttemptsMax) {
    increment(state.counters, 'lease-requests-exhausted');
    effects.push({ kind: 'drop', reason: 'lease-request-exhausted', ...leaseTopic(message) });
    return;
  }
  // A subscribe or renewal for topics that lost their last viewer meanwhile is moot: the unsubscribe
  // is already out, and a late re-grant would only keep a useless lease alive.
  let retry: LeaseMessage = { ...message, requestId: state.nextRequestId++ };
  if (retry.type === 'subscribe' && !state.topics.has(retry.topic)) return;
  if (retry.type === 'renew') {
    retry = { ...retry, topics: retry.topics.filter((topic) => state.topics.has(topic)) };
    if (retry.topics.length === 0) return;
  }
  increment(state.counters, 'lease-requests-retried');
  sendLeaseRequest(state, retry, request.attempts + 1, now, effects);
}

function onMessage(state: FrontendState, message: Message, now: Ms, effects: Effect[]): void {
  switch (message.type) {
    case 'deliver':
      onDeliver(state, message.event, effects);
      return;
    case 'lease-reply': {
      const pending = state.pendingLeases.get(message.requestId);
      if (pending === undefined) return;
      state.pendingLeases.delete(message.requestId);
      if (message.ok) increment(state.counters, 'lease-requests-answered');
      else retryLeaseRequest(state, pending, now, effects);
      for (const topic of message.regranted ?? []) registrationLapsed(state, topic, effects);
      // A first epoch is just learnt; a larger one means the store forgot this frontend's leases.
      if (message.epoch !== undefined)
        onStoreEpoch(state, message.epoch, state.storeEpoch !== null, now, effects);
      return;
    }
    case 'store-reset':
      onStoreEpoch(state, message.epoch, true, now, effects);
      return;
    case 'publish-reply': {
      const pending = state.pendingPublishes.get(message.requestId);
      if (pending === undefined) return;
      state.pendingPublishes.delete(message.requestId);
      const { connection, topic } = pending;
      if (!state.connections.has(connection)) return;
      const result = message.result;
      effects.push({
        kind: 'notice',
        connection,
        notice: result.ok
          ? { code: 'published', message: 'published', topic, eventId: result.eventId }
          : { code: 'publish-failed', message: result.message, topic },
      });
      return;
    }
    case 'publish':
    case 'subscribe':
    case 'renew':
    case 'unsubscribe':
    case 'forward':
    case 'forward-ack':
    case 'store-request':
    case 'store-reply':
      increment(state.counters, 'unexpected-messages');
      return;
    default:
      unreachable(message);
  }
}

/** Tell the viewers of `topic` that events may have passed them by while it was unregistered. */
function registrationLapsed(state: FrontendState, topic: Topic, effects: Effect[]): void {
  const viewers = state.topics.get(topic);
  if (viewers === undefined) return;
  increment(state.counters, 'registrations-lapsed');
  const message = `this frontend's registration for "${topic}" had lapsed (it was frozen or cut off, or the store lost it) and was just made again: events published meanwhile did not reach you`;
  for (const connection of viewers)
    effects.push({ kind: 'notice', connection, notice: { code: 'registration-lapsed', message, topic } });
}

/**
 * The store's epoch is `epoch`. If it is newer than the one this frontend knows and `lost` says
 * leases were lost with the old one, renew every topic now, and restart the renewal timer.
 */
function onStoreEpoch(
  state: FrontendState,
  epoch: StoreEpoch,
  lost: boolean,
  now: Ms,
  effects: Effect[],
): void {
  if (state.storeEpoch !== null && epoch <= state.storeEpoch) return;
  state.storeEpoch = epoch;
  if (!lost || state.topics.size === 0) return;
  increment(state.counters, 'store-epoch-renewals');
  renewAll(state, now, effects);
  state.renewAtMs = now + state.config.renewEveryMs;
}

function onDeliver(state: FrontendState, event: Event, effects: Effect[]): void {
  if (topicError(event.topic) !== null || eventIdError(event.id) !== null) {
    increment(state.counters, 'malformed-events');
    return;
  }
  if (!remember(state, event)) {
    increment(state.counters, 'duplicate-events');
    return;
  }
  const viewers = state.topics.get(event.topic);
  if (viewers === undefined || viewers.size === 0) {
    increment(state.counters, 'events-without-viewers');
    return;
  }
  increment(state.counters, 'events-delivered');
  increment(state.counters, 'deliveries', viewers.size);
  effects.push({ kind: 'deliver', connections: [...viewers], event, wholeTopic: true });
}

/** Record `event` in its topic's history; false when it was already there (a duplicate). */
function remember(state: FrontendState, event: Event): boolean {
  const { historyEventsPerTopicMax, historyTopicsMax } = state.config.limits;
  let history = state.history.get(event.topic);
  if (history !== undefined) {
    if (history.ids.has(event.id)) return false;
    // Move to the back: the least recently used topic is the one evicted.
    state.history.delete(event.topic);
  } else {
    history = { events: [], ids: new Set() };
    if (state.history.size >= historyTopicsMax) {
      const oldest = state.history.keys().next();
      if (!oldest.done) state.history.delete(oldest.value);
    }
  }
  state.history.set(event.topic, history);
  history.events.push(event);
  history.ids.add(event.id);
  if (history.events.length > historyEventsPerTopicMax) {
    const evicted = history.events.shift();
    assert(evicted !== undefined, 'history shrank below its bound');
    history.ids.delete(evicted.id);
  }
  assert(history.events.length === history.ids.size, 'history ids and events disagree');
  return true;
}

/**
 * Send `connection` what it missed on `topics` since `lastEventId`: everything after that event in
 * its topic's history, and on its other topics everything published after it. Without that event in
 * memory the gap cannot be known, and the client is told so.
 */
function replay(
  state: FrontendState,
  connection: ConnectionId,
  topics: Topic[],
  lastEventId: EventId,
  effects: Effect[],
): void {
  let last: Event | undefined;
  for (const topic of topics) {
    last = state.history.get(topic)?.events.find((event) => event.id === lastEventId);
    if (last !== undefined) break;
  }
  if (last === undefined) {
    increment(state.counters, 'resumes-without-history');
    effects.push({
      kind: 'notice',
      connection,
      notice: {
        code: 'history-unavailable',
        message: `event ${lastEventId} is no longer in this frontend's history; events since then may be missing`,
        eventId: lastEventId,
      },
    });
    return;
  }
  const lastEvent = last;
  for (const topic of topics) {
    const events = state.history.get(topic)?.events ?? [];
    const index = topic === lastEvent.topic ? events.indexOf(lastEvent) : -1;
    const missed =
      index >= 0
        ? events.slice(index + 1)
        : events.filter((event) => event.publishedAtMs > lastEvent.publishedAtMs);
    for (const event of missed)
      effects.push({ kind: 'deliver', connections: [connection], event, wholeTopic: false });
  }
  increment(state.counters, 'resumes-replayed');
}

function onDeadline(state: FrontendState, now: Ms, effects: Effect[]): void {
  // Retries re-enter the map at its end with a later deadline, so they never loop here.
  for (const [requestId, pending] of state.pendingLeases) {
    if (pending.deadlineMs > now) break;
    state.pendingLeases.delete(requestId);
    increment(state.counters, 'lease-requests-timed-out');
    retryLeaseRequest(state, pending, now, effects);
  }
  for (const [requestId, pending] of state.pendingPublishes) {
    if (pending.deadlineMs > now) break;
    state.pendingPublishes.delete(requestId);
    increment(state.counters, 'publishes-timed-out');
    effects.push({ kind: 'drop', reason: 'publish-timeout', topic: pending.topic });
    if (state.connections.has(pending.connection)) {
      effects.push({
        kind: 'notice',
        connection: pending.connection,
        notice: { code: 'publish-failed', message: 'no dispatcher answered in time', topic: pending.topic },
      });
    }
  }
  if (state.renewAtMs !== null && state.renewAtMs <= now) {
    renewAll(state, now, effects);
    state.renewAtMs = state.topics.size > 0 ? now + state.config.renewEveryMs : null;
  }
}

function renewAll(state: FrontendState, now: Ms, effects: Effect[]): void {
  const topics = [...state.topics.keys()];
  const batch = state.config.limits.topicsPerRenewMax;
  for (let start = 0; start < topics.length; start += batch) {
    const message = {
      type: 'renew',
      requestId: state.nextRequestId++,
      frontend: state.config.nodeId,
      topics: topics.slice(start, start + batch),
      leaseMs: state.config.leaseMs,
      generation: state.nextGeneration++,
    } as const;
    sendLeaseRequest(state, message, 1, now, effects);
  }
  increment(state.counters, 'renewals');
}

function currentDispatcher(state: FrontendState): NodeId {
  const dispatcher = state.config.dispatchers[state.dispatcherIndex];
  assert(dispatcher !== undefined, 'dispatcher index out of range');
  return dispatcher;
}

function pendingCount(state: FrontendState): number {
  return state.pendingLeases.size + state.pendingPublishes.size;
}

function leaseTopic(message: LeaseMessage): { topic?: Topic } {
  return message.type === 'renew' ? {} : { topic: message.topic };
}

/** FNV-1a: a stable, platform-independent hash for spreading load. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
