/**
 * Cross-datacenter forwarding: an event published here goes to one dispatcher of every peer
 * datacenter, which acknowledges at once; without an ack the target is suspected and another one
 * tried, under the same forward id. The rules are in `core/dispatcher.ts`'s theory of operation.
 */
import { assert, increment } from './assert.ts';
import type { DispatcherState, PendingForward } from './dispatcher-state.ts';
import { appendToHistory, onPeerAppended } from './dispatcher-reliable.ts';
import { requestStore } from './dispatcher-store.ts';
import { addPending, hasRoom, takeDue, takePending } from './pending.ts';
import type { DcId, Effect, Event, Message, Ms, NodeId, RequestId } from './types.ts';
import { topicError } from './validation.ts';

/** Forward `event`, published here, to every peer datacenter. */
export function forwardToPeers(state: DispatcherState, event: Event, now: Ms, effects: Effect[]): void {
  assert(event.origin === state.config.dc, 'only the origin datacenter forwards');
  for (const dc of Object.keys(state.config.peers)) forward(state, event, dc, 1, now, effects);
}

/** Reliable: forward `event`, appended here, to `dc`; the ack may settle the publisher's answer `answerId`. */
export function forwardReliably(
  state: DispatcherState,
  event: Event,
  dc: DcId,
  answerId: RequestId | null,
  now: Ms,
  effects: Effect[],
): void {
  const answerIds = answerId === null ? [] : [answerId];
  // The same event accepted again (a duplicated or retried publish) while its forward is in flight:
  // the answer waits on that forward rather than a second one.
  const inFlight = state.forwardsInFlight.get(`${event.id}\u0000${dc}`);
  const pending = inFlight === undefined ? undefined : state.pendingForwards.entries.get(inFlight);
  if (pending !== undefined) {
    increment(state.counters, 'forwards-joined');
    pending.request.answerIds.push(...answerIds);
    return;
  }
  forward(state, event, dc, 1, now, effects, state.nextRequestId++, now, answerIds);
}

/**
 * A peer forwarded an event. Best-effort: acknowledge it, then fan it out here. Reliable: append
 * it here first and acknowledge once appended, so the ack means "this datacenter holds it".
 * Either way it is never forwarded again.
 */
export function onForward(
  state: DispatcherState,
  source: NodeId,
  message: Extract<Message, { type: 'forward' }>,
  now: Ms,
  effects: Effect[],
): void {
  if (state.config.mode === 'reliable') {
    if (message.event.origin === state.config.dc || topicError(message.event.topic) !== null) {
      increment(state.counters, 'forwards-refused');
      return;
    }
    increment(state.counters, 'forwards-received');
    const forward = { source, forwardId: message.forwardId };
    // No room to ask the store: no ack, so the origin tries again.
    appendToHistory(state, { kind: 'append', event: message.event, publisher: null, forward }, now, effects);
    return;
  }
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
}

export function onForwardAck(state: DispatcherState, forwardId: RequestId, effects: Effect[]): void {
  const pending = takePending(state.pendingForwards, forwardId);
  if (pending === undefined) return;
  state.suspects.delete(pending.target);
  increment(state.counters, 'forwards-acked');
  forgetInFlight(state, pending, forwardId);
  assertInFlightPending(state);
  for (const answerId of pending.answerIds) onPeerAppended(state, answerId, pending.dc, effects);
}

/** Forwards not acknowledged in time: suspect the target, and try another while attempts are left. */
export function onForwardDeadline(state: DispatcherState, now: Ms, effects: Effect[]): void {
  for (const [forwardId, pending] of takeDue(state.pendingForwards, now)) {
    increment(state.counters, 'forwards-timed-out');
    state.suspects.set(pending.target, now + state.config.suspectMs);
    if (state.config.mode === 'reliable') {
      if (now - pending.firstSentMs + state.config.forwardTimeoutMs > state.config.forwardWindowMs) {
        increment(state.counters, 'forwards-expired');
        forgetInFlight(state, pending, forwardId);
        const { event, dc } = pending;
        effects.push({ kind: 'drop', reason: 'forward-expired', eventId: event.id, topic: event.topic, dc });
        continue;
      }
      increment(state.counters, 'forwards-retried');
      const { event, dc, attempts, firstSentMs, answerIds } = pending;
      forward(state, event, dc, attempts + 1, now, effects, forwardId, firstSentMs, answerIds);
      continue;
    }
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
    increment(state.counters, 'forwards-retried');
    forward(state, pending.event, pending.dc, pending.attempts + 1, now, effects, forwardId);
  }
  for (const [node, until] of state.suspects) if (until <= now) state.suspects.delete(node);
  // Checked once every due forward is settled or sent again: midway, the ones still to come are out
  // of the pending table with their in-flight entries kept.
  assertInFlightPending(state);
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
  firstSentMs: Ms = now,
  answerIds: RequestId[] = [],
): void {
  const { forwardAttemptsMax, forwardWindowMs, forwardTimeoutMs, mode } = state.config;
  // Reliable forwards are bounded by the window, not a count: at most one try per timeout within it.
  const attemptsMax =
    mode === 'reliable' ? Math.ceil(forwardWindowMs / forwardTimeoutMs) : forwardAttemptsMax;
  assert(attempts >= 1 && attempts <= attemptsMax, 'a forward attempt out of bounds');
  if (!hasRoom(state.pendingForwards)) {
    // A retry shed: its event is no longer in flight to `dc`.
    if (state.forwardsInFlight.get(`${event.id}\u0000${dc}`) === forwardId)
      state.forwardsInFlight.delete(`${event.id}\u0000${dc}`);
    increment(state.counters, 'forwards-shed');
    effects.push({ kind: 'drop', reason: 'pending-full', eventId: event.id, topic: event.topic, dc });
    return;
  }
  const target = pickPeer(state, dc, now);
  addPending(state.pendingForwards, forwardId, { event, dc, target, attempts, firstSentMs, answerIds }, now);
  if (state.config.mode === 'reliable') state.forwardsInFlight.set(`${event.id}\u0000${dc}`, forwardId);
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
      if (offset > 0) increment(state.counters, 'suspects-passed-over');
      break;
    }
    if (offset === dispatchers.length - 1) increment(state.counters, 'every-peer-suspected');
  }
  state.peerCursor.set(dc, chosen + 1);
  return dispatchers[chosen] as NodeId;
}

/** A reliable forward settled (acknowledged or expired): the event may be forwarded again later. */
function forgetInFlight(state: DispatcherState, pending: PendingForward, forwardId: RequestId): void {
  const key = `${pending.event.id}\u0000${pending.dc}`;
  if (state.forwardsInFlight.get(key) === forwardId) state.forwardsInFlight.delete(key);
}

/** Every forward in flight is a pending one (checked where no forward is between the two). */
function assertInFlightPending(state: DispatcherState): void {
  assert(
    state.forwardsInFlight.size <= state.pendingForwards.entries.size,
    'forwards in flight outgrew the pending ones',
  );
}
