/**
 * The dispatcher in reliable mode: every event is appended to its datacenter's history before it
 * is fanned out, acknowledged or forwarded, and every hop is acknowledged and retried.
 *
 * Rules
 * - Publish: the store `append`s the event (a retry with the same id gets the same seq) and
 *   answers the topic's live frontends in the same round trip. Each gets a `deliver` carrying the
 *   event's position and a delivery id; without a `deliver-ack` within `deliverTimeoutMs` it is
 *   sent again, `deliverAttemptsMax` times in all and never past the frontend's lease (the store
 *   says how long it has left), then dropped (`deliver-exhausted`): the frontend
 *   still catches up, because its next renewal's answer names the topic's head.
 * - A publish that was not appended (the store refused or did not answer) is answered
 *   `store-unavailable` and goes nowhere: no peer gets an event its own datacenter does not hold.
 * - Once appended, the event is forwarded to one dispatcher of every peer datacenter. The peer
 *   appends it to its own history (its own seq: one order per datacenter), fans it out there, and
 *   only then acknowledges. Forwards are retried every `forwardTimeoutMs`, failing over between
 *   the peer's dispatchers, until acknowledged or `forwardWindowMs` after the first try; then a
 *   `forward-expired` drop names the datacenter.
 * - The publisher's answer waits for the local append and for every peer's ack, at most
 *   `forwardAckWaitMs`: then it is OK with a `forward-pending` warning naming the datacenters
 *   still missing, and forwarding goes on in the background.
 * - A frontend's `history-read` becomes a store `read`; the answer (or a failure) goes back as a
 *   `history-reply`. Lease replies carry the heads of their topics (`dispatcher-store.ts`).
 * - Bounds: deliveries awaiting ack (`pendingDeliveriesMax`; past it a delivery is sent once,
 *   untracked), answers awaiting peers (`pendingRequestsMax`), forwards (`pendingForwardsMax`).
 */
import { assert, increment } from './assert.ts';
import { forwardReliably } from './dispatcher-forwarding.ts';
import { replyToPublisher } from './dispatcher-publish.ts';
import type { DispatcherState, Publisher, StorePurpose } from './dispatcher-state.ts';
import { requestStore } from './dispatcher-store.ts';
import { addPending, hasRoom, takeDue, takePending } from './pending.ts';
import type { DcId, Effect, Event, Message, Ms, NodeId, Position, RequestId, StoreReply } from './types.ts';
import { serverEventIdMarker } from './validation.ts';

/** Append a publish accepted here (`publisher`) or a peer's forward (`forward`) to the history. */
export function appendToHistory(
  state: DispatcherState,
  purpose: Extract<StorePurpose, { kind: 'append' }>,
  now: Ms,
  effects: Effect[],
): boolean {
  return requestStore(state, { op: 'append', event: purpose.event }, purpose, now, effects);
}

/** The store answered an append: deliver, acknowledge the forward, forward to peers, answer. */
export function onAppendReply(
  state: DispatcherState,
  purpose: Extract<StorePurpose, { kind: 'append' }>,
  reply: StoreReply,
  now: Ms,
  effects: Effect[],
): void {
  const { event, publisher, forward } = purpose;
  if (reply.op !== 'appended') {
    increment(state.counters, 'appends-refused');
    const message = reply.op === 'rejected' ? reply.message : 'store gave an unexpected answer';
    appendFailed(state, purpose, `the store of ${state.config.dc} refused the append: ${message}`, effects);
    return;
  }
  const position: Position = { epoch: reply.epoch, seq: reply.seq };
  increment(state.counters, reply.duplicate ? 'appends-found' : 'appends-new');
  increment(state.counters, 'delivers-sent', reply.frontends.length);
  reply.frontends.forEach((frontend, i) => {
    // The store measured the lease at some moment within the request's timeout: count from its start.
    const retryUntilMs = now + (reply.leaseLeftMs[i] ?? 0) - state.config.storeRequestTimeoutMs;
    deliver(state, frontend, event, position, retryUntilMs, now, effects);
  });
  if (forward !== null) {
    effects.push({
      kind: 'send',
      target: forward.source,
      message: { type: 'forward-ack', forwardId: forward.forwardId },
    });
    return;
  }
  const peers = Object.keys(state.config.peers);
  if (peers.length === 0 || !hasRoom(state.pendingAnswers)) {
    if (peers.length > 0) increment(state.counters, 'answers-untracked');
    for (const dc of peers) forwardReliably(state, event, dc, null, now, effects);
    if (publisher !== null) replyToPublisher(publisher, { ok: true, eventId: event.id, position }, effects);
    return;
  }
  const answerId = state.nextRequestId++;
  addPending(state.pendingAnswers, answerId, { publisher, event, position, waiting: new Set(peers) }, now);
  for (const dc of peers) forwardReliably(state, event, dc, answerId, now, effects);
}

/** The store did not answer an append in time. */
export function onAppendTimedOut(
  state: DispatcherState,
  purpose: Extract<StorePurpose, { kind: 'append' }>,
  effects: Effect[],
): void {
  appendFailed(
    state,
    purpose,
    `the store of ${state.config.dc} did not answer in ${state.config.storeRequestTimeoutMs} ms`,
    effects,
  );
}

/**
 * An event not appended goes nowhere. A peer's forward is not acknowledged, so its origin retries;
 * a publisher is told to retry with the same id (a server id cannot be reused: it must bring one).
 */
function appendFailed(
  state: DispatcherState,
  purpose: Extract<StorePurpose, { kind: 'append' }>,
  why: string,
  effects: Effect[],
): void {
  const { event, publisher } = purpose;
  effects.push({
    kind: 'drop',
    reason: 'store-timeout',
    eventId: event.id,
    topic: event.topic,
    dc: state.config.dc,
  });
  if (publisher === null) return;
  const retry = event.id.startsWith(serverEventIdMarker)
    ? 'retry, with an id of your own to make retries idempotent'
    : `retry with id ${event.id}`;
  replyToPublisher(
    publisher,
    {
      ok: false,
      code: 'store-unavailable',
      message: `${why}; ${retry}`,
      retryAfterMs: state.config.retryAfterMs,
    },
    effects,
  );
}

/** A peer datacenter appended a forwarded event: one fewer for the publisher's answer to wait on. */
export function onPeerAppended(
  state: DispatcherState,
  answerId: RequestId,
  dc: DcId,
  effects: Effect[],
): void {
  const pending = state.pendingAnswers.entries.get(answerId);
  if (pending === undefined) return;
  const answer = pending.request;
  answer.waiting.delete(dc);
  if (answer.waiting.size > 0) return;
  takePending(state.pendingAnswers, answerId);
  increment(state.counters, 'answers-after-every-peer');
  if (answer.publisher !== null)
    replyToPublisher(
      answer.publisher,
      { ok: true, eventId: answer.event.id, position: answer.position },
      effects,
    );
}

/** Answers that waited `forwardAckWaitMs` for peers: OK, with the datacenters still pending named. */
export function onAnswerDeadline(state: DispatcherState, now: Ms, effects: Effect[]): void {
  for (const [, answer] of takeDue(state.pendingAnswers, now)) {
    increment(state.counters, 'answers-with-forward-pending');
    if (answer.publisher === null) continue;
    const dcs = [...answer.waiting].join(', ');
    replyToPublisher(
      answer.publisher,
      {
        ok: true,
        eventId: answer.event.id,
        position: answer.position,
        warning: {
          code: 'forward-pending',
          message: `stored in ${state.config.dc}; ${dcs} had not acknowledged it within ${state.config.forwardAckWaitMs} ms, and forwarding goes on for ${state.config.forwardWindowMs} ms`,
        },
      },
      effects,
    );
  }
}

function deliver(
  state: DispatcherState,
  frontend: NodeId,
  event: Event,
  position: Position,
  retryUntilMs: Ms,
  now: Ms,
  effects: Effect[],
): void {
  const deliveryId = state.nextRequestId++;
  if (hasRoom(state.pendingDeliveries))
    addPending(
      state.pendingDeliveries,
      deliveryId,
      { frontend, event, position, attempts: 1, retryUntilMs },
      now,
    );
  else increment(state.counters, 'deliveries-untracked');
  effects.push({ kind: 'send', target: frontend, message: { type: 'deliver', event, position, deliveryId } });
}

export function onDeliverAck(state: DispatcherState, deliveryId: RequestId): void {
  if (takePending(state.pendingDeliveries, deliveryId) === undefined) {
    increment(state.counters, 'deliver-acks-late');
    return;
  }
  increment(state.counters, 'deliver-acks');
}

/** Deliveries not acknowledged in time: send again while tries are left, else leave it to the frontend's catch-up. */
export function onDeliveryDeadline(state: DispatcherState, now: Ms, effects: Effect[]): void {
  for (const [deliveryId, pending] of takeDue(state.pendingDeliveries, now)) {
    const { frontend, event, position, attempts } = pending;
    assert(attempts >= 1 && attempts <= state.config.deliverAttemptsMax, 'a delivery attempt out of bounds');
    if (attempts >= state.config.deliverAttemptsMax || now >= pending.retryUntilMs) {
      increment(state.counters, 'deliveries-exhausted');
      effects.push({
        kind: 'drop',
        reason: 'deliver-exhausted',
        eventId: event.id,
        topic: event.topic,
        target: frontend,
      });
      continue;
    }
    increment(state.counters, 'deliveries-retried');
    addPending(state.pendingDeliveries, deliveryId, { ...pending, attempts: attempts + 1 }, now);
    effects.push({
      kind: 'send',
      target: frontend,
      message: { type: 'deliver', event, position, deliveryId },
    });
  }
}

/** A frontend asks for part of the history: ask the store, answer with what it says. */
export function onHistoryRead(
  state: DispatcherState,
  source: NodeId,
  message: Extract<Message, { type: 'history-read' }>,
  now: Ms,
  effects: Effect[],
): void {
  const { requestId, topic, after, limit } = message;
  const purpose: StorePurpose = { kind: 'read', source, requestId };
  if (!requestStore(state, { op: 'read', topic, after, limit }, purpose, now, effects))
    historyFailed(source, requestId, 'dispatcher overloaded', effects);
}

export function onReadReply(
  purpose: Extract<StorePurpose, { kind: 'read' }>,
  reply: StoreReply,
  effects: Effect[],
): void {
  if (reply.op !== 'range') {
    const message = reply.op === 'rejected' ? reply.message : 'store gave an unexpected answer';
    historyFailed(purpose.source, purpose.requestId, message, effects);
    return;
  }
  const { epoch, afterSeq, firstSeq, headSeq, events } = reply;
  effects.push({
    kind: 'send',
    target: purpose.source,
    message: {
      type: 'history-reply',
      requestId: purpose.requestId,
      reply: { ok: true, epoch, afterSeq, firstSeq, headSeq, events },
    },
  });
}

export function onReadTimedOut(
  state: DispatcherState,
  purpose: Extract<StorePurpose, { kind: 'read' }>,
  effects: Effect[],
): void {
  historyFailed(
    purpose.source,
    purpose.requestId,
    `the store of ${state.config.dc} did not answer in ${state.config.storeRequestTimeoutMs} ms`,
    effects,
  );
}

function historyFailed(target: NodeId, requestId: RequestId, message: string, effects: Effect[]): void {
  effects.push({
    kind: 'send',
    target,
    message: { type: 'history-reply', requestId, reply: { ok: false, message } },
  });
}

/** Who the publisher's answer is for, kept while it waits on peers. */
export interface PendingAnswer {
  publisher: Publisher | null;
  event: Event;
  position: Position;
  /** Peer datacenters that have not acknowledged yet. */
  waiting: Set<DcId>;
}
