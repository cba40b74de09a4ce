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
 * - Publishers: another node (a frontend relaying its client's publish) sends a `publish` message
 *   and gets a `publish-reply` message; the host (an HTTP publish, the simulator's publisher) gives
 *   a `publish` input and gets a `publish-reply` effect.
 * - Occupancy (`occupancyEveryMs` > 0): lease writes carry each frontend's connection counts; the
 *   store's answer carries the topics' occupancy, which goes back to the frontend in the
 *   `lease-reply`, and this datacenter's totals, which go every interval to the peer datacenters'
 *   dispatchers (who write them to their store); a peer silent for `occupancyStaleMs` is stale.
 *   A host asks a topic's occupancy with an `occupancy` input: rules in `dispatcher-occupancy.ts`.
 * - Timers: one timeout per pending store request and per pending forward (`core/pending.ts`),
 *   and the occupancy interval; `deadline()` is the earliest.
 *
 * - Reliable mode (`mode: 'reliable'`): publishes and forwards are appended to the store's history
 *   before anything else, deliveries carry positions and are acknowledged and retried, forwards
 *   are retried within a window, and frontends read the history through the dispatcher: the rules
 *   are in `dispatcher-reliable.ts`.
 *
 * The rules live beside this file: publishing in `dispatcher-publish.ts`, forwarding in
 * `dispatcher-forwarding.ts`, the store and leases in `dispatcher-store.ts`, state in
 * `dispatcher-state.ts`.
 */
import { increment, unreachable } from './assert.ts';
import { onForward, onForwardAck, onForwardDeadline } from './dispatcher-forwarding.ts';
import { onLookupReply, onLookupTimedOut, onPublish } from './dispatcher-publish.ts';
import {
  onAnswerDeadline,
  onAppendReply,
  onAppendTimedOut,
  onDeliverAck,
  onDeliveryDeadline,
  onHistoryRead,
  onReadReply,
  onReadTimedOut,
} from './dispatcher-reliable.ts';
import { createDispatcher, type DispatcherOptions, type DispatcherState } from './dispatcher-state.ts';
import {
  onOccupancyDeadline,
  onOccupancyMessage,
  onOccupancyQuery,
  onOccupancyRead,
  onOccupancyReadTimedOut,
  onRemoteTotalsWritten,
  startOccupancy,
} from './dispatcher-occupancy.ts';
import { observeEpoch, onLeaseRequest, onLeaseTimedOut, onLeaseWritten } from './dispatcher-store.ts';
import { earliest, nextPendingDeadline, takeDue, takePending } from './pending.ts';
import { assertDeadlineAdvanced, enterHandle, type Role } from './role.ts';
import type {
  Effect,
  Event,
  Message,
  Ms,
  NodeId,
  PublishId,
  PublishRequest,
  RequestId,
  StoreReply,
  Topic,
} from './types.ts';

export { createDispatcher, defaultDispatcherLimits } from './dispatcher-state.ts';
export type {
  DispatcherConfig,
  DispatcherLimits,
  DispatcherOptions,
  DispatcherState,
} from './dispatcher-state.ts';

export type DispatcherInput =
  | { kind: 'message'; source: NodeId; message: Message }
  /** A publish from outside the node world; its answer is a `publish-reply` effect with `publishId`. */
  | { kind: 'publish'; publishId: PublishId; request: PublishRequest }
  | { kind: 'store-reply'; requestId: RequestId; reply: StoreReply }
  /** A host asks a topic's occupancy; the answer is an `occupancy-reply` effect with `queryId`. */
  | { kind: 'occupancy'; queryId: PublishId; topic: Topic }
  | { kind: 'deadline' };

/** Feed one input; perform every returned effect before the next call. `now` never decreases. */
export function handle(state: DispatcherState, input: DispatcherInput, now: Ms): Effect[] {
  enterHandle(state, now);
  startOccupancy(state, now);
  const effects: Effect[] = [];
  switch (input.kind) {
    case 'message':
      onMessage(state, input.source, input.message, now, effects);
      break;
    case 'publish':
      onPublish(state, { kind: 'host', publishId: input.publishId }, input.request, now, effects);
      break;
    case 'occupancy':
      onOccupancyQuery(state, input.queryId, input.topic, now, effects);
      break;
    case 'store-reply':
      onStoreReply(state, input.requestId, input.reply, now, effects);
      break;
    case 'deadline':
      onDeadline(state, now, effects);
      break;
    default:
      unreachable(input);
  }
  if (input.kind === 'deadline') assertDeadlineAdvanced(deadline(state), now);
  return effects;
}

/** When `handle(state, { kind: 'deadline' }, now)` must next be called, or null. */
export function deadline(state: Readonly<DispatcherState>): Ms | null {
  return earliest(
    nextPendingDeadline(state.pendingStore),
    nextPendingDeadline(state.pendingForwards),
    nextPendingDeadline(state.pendingDeliveries),
    nextPendingDeadline(state.pendingAnswers),
    state.occupancyAtMs,
  );
}

/** The dispatcher as a role: what a host needs to run it. */
export const dispatcherRole: Role<DispatcherState, DispatcherInput, DispatcherOptions> = {
  create: createDispatcher,
  handle,
  deadline,
};

/** The event a pending store request serves, if it is a fan-out lookup (hosts use it to annotate traces). */
export function eventOfStoreRequest(state: Readonly<DispatcherState>, requestId: RequestId): Event | null {
  const purpose = state.pendingStore.entries.get(requestId)?.request;
  return purpose?.kind === 'fan-out' || purpose?.kind === 'append' ? purpose.event : null;
}

function onMessage(
  state: DispatcherState,
  source: NodeId,
  message: Message,
  now: Ms,
  effects: Effect[],
): void {
  switch (message.type) {
    case 'publish': {
      const request: PublishRequest = { topic: message.topic, payload: message.payload };
      if (message.id !== undefined) request.id = message.id;
      onPublish(state, { kind: 'node', source, requestId: message.requestId }, request, now, effects);
      return;
    }
    case 'forward':
      onForward(state, source, message, now, effects);
      return;
    case 'forward-ack':
      onForwardAck(state, message.forwardId, effects);
      return;
    case 'deliver-ack':
      onDeliverAck(state, message.deliveryId);
      return;
    case 'history-read':
      onHistoryRead(state, source, message, now, effects);
      return;
    case 'subscribe':
    case 'renew':
    case 'unsubscribe':
      onLeaseRequest(state, source, message, now, effects);
      return;
    case 'occupancy':
      onOccupancyMessage(state, source, message, now, effects);
      return;
    case 'deliver':
    case 'publish-reply':
    case 'lease-reply':
    case 'store-reset':
    case 'store-request':
    case 'store-reply':
    case 'history-reply':
      increment(state.counters, 'unexpected-messages');
      return;
    default:
      unreachable(message);
  }
}

function onStoreReply(
  state: DispatcherState,
  requestId: RequestId,
  reply: StoreReply,
  now: Ms,
  effects: Effect[],
): void {
  const purpose = takePending(state.pendingStore, requestId);
  if (purpose === undefined) {
    // The request timed out already and was reported; a late answer changes nothing.
    increment(state.counters, 'store-replies-late');
    return;
  }
  if (reply.epoch !== undefined) observeEpoch(state, reply.epoch, effects);
  switch (purpose.kind) {
    case 'lease':
      onLeaseWritten(state, purpose, reply, now, effects);
      return;
    case 'remote-totals':
      onRemoteTotalsWritten(state, reply);
      return;
    case 'occupancy':
      onOccupancyRead(state, purpose, reply, now, effects);
      return;
    case 'fan-out':
      onLookupReply(state, purpose, reply, effects);
      return;
    case 'append':
      onAppendReply(state, purpose, reply, now, effects);
      return;
    case 'read':
      onReadReply(purpose, reply, effects);
      return;
    default:
      unreachable(purpose);
  }
}

function onDeadline(state: DispatcherState, now: Ms, effects: Effect[]): void {
  for (const [, purpose] of takeDue(state.pendingStore, now)) {
    increment(state.counters, 'store-timeouts');
    switch (purpose.kind) {
      case 'lease':
        onLeaseTimedOut(purpose, effects);
        break;
      case 'fan-out':
        onLookupTimedOut(state, purpose, effects);
        break;
      case 'append':
        onAppendTimedOut(state, purpose, effects);
        break;
      case 'read':
        onReadTimedOut(state, purpose, effects);
        break;
      case 'remote-totals':
        increment(state.counters, 'remote-totals-timed-out');
        break;
      case 'occupancy':
        onOccupancyReadTimedOut(purpose, effects);
        break;
      default:
        unreachable(purpose);
    }
  }
  onForwardDeadline(state, now, effects);
  onDeliveryDeadline(state, now, effects);
  onAnswerDeadline(state, now, effects);
  onOccupancyDeadline(state, now, effects);
}
