/**
 * A dispatcher's side of its datacenter's subscription store: requests to it, bounded and timed
 * out; lease writes on behalf of frontends; and the store's epoch, whose growth means every
 * registration was lost. The rules are in `core/dispatcher.ts`'s theory of operation.
 */
import { assert, increment } from './assert.ts';
import type { DispatcherState, StorePurpose } from './dispatcher-state.ts';
import { occupancyOfWrite } from './dispatcher-occupancy.ts';
import { addPending, hasRoom } from './pending.ts';
import type {
  Effect,
  Message,
  Ms,
  NodeId,
  Occupancy,
  RequestId,
  StoreEpoch,
  StoreReply,
  StoreRequest,
  Topic,
  TopicHead,
} from './types.ts';

/** Send a store request and remember why; false when the pending bound refuses it. */
export function requestStore(
  state: DispatcherState,
  request: StoreRequest,
  purpose: StorePurpose,
  now: Ms,
  effects: Effect[],
): boolean {
  if (!hasRoom(state.pendingStore)) {
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
  addPending(state.pendingStore, requestId, purpose, now);
  effects.push({ kind: 'store-request', requestId, request });
  return true;
}

/** A frontend asks to subscribe, renew or unsubscribe: a store write, answered once the store answers. */
export function onLeaseRequest(
  state: DispatcherState,
  source: NodeId,
  message: Extract<Message, { type: 'subscribe' | 'renew' | 'unsubscribe' }>,
  now: Ms,
  effects: Effect[],
): void {
  const request: StoreRequest =
    message.type === 'subscribe'
      ? {
          op: 'add',
          topic: message.topic,
          frontend: message.frontend,
          leaseMs: message.leaseMs,
          generation: message.generation,
          ...(message.count === undefined ? {} : { count: message.count }),
        }
      : message.type === 'renew'
        ? {
            op: 'renew',
            topics: message.topics,
            frontend: message.frontend,
            leaseMs: message.leaseMs,
            generation: message.generation,
            ...(message.counts === undefined ? {} : { counts: message.counts }),
          }
        : {
            op: 'remove',
            topic: message.topic,
            frontend: message.frontend,
            generation: message.generation,
          };
  rememberFrontend(state, message.frontend);
  const leaseMs = message.type === 'unsubscribe' ? null : message.leaseMs;
  const purpose: StorePurpose = { kind: 'lease', source, requestId: message.requestId, leaseMs };
  if (!requestStore(state, request, purpose, now, effects)) {
    effects.push(leaseReply(source, message.requestId, false, 'dispatcher overloaded'));
  }
}

/** The store answered a lease write (or gave an answer that does not fit one). */
export function onLeaseWritten(
  state: DispatcherState,
  purpose: Extract<StorePurpose, { kind: 'lease' }>,
  reply: StoreReply,
  now: Ms,
  effects: Effect[],
): void {
  effects.push(
    reply.op === 'written'
      ? leaseReply(
          purpose.source,
          purpose.requestId,
          true,
          undefined,
          reply.epoch,
          reply.regranted,
          reply.heads,
          occupancyOfWrite(state, reply, purpose.leaseMs, now),
        )
      : reply.op === 'rejected'
        ? leaseReply(
            purpose.source,
            purpose.requestId,
            false,
            reply.message,
            reply.epoch,
            undefined,
            reply.heads,
          )
        : leaseReply(purpose.source, purpose.requestId, false, 'store gave an unexpected answer'),
  );
}

export function onLeaseTimedOut(purpose: Extract<StorePurpose, { kind: 'lease' }>, effects: Effect[]): void {
  effects.push(leaseReply(purpose.source, purpose.requestId, false, 'store did not answer in time'));
}

/**
 * A store answer carried `epoch`. An epoch larger than the last one seen means the store lost
 * every registration: tell every known frontend to register again now. A smaller one is a late
 * answer from before the loss.
 */
export function observeEpoch(state: DispatcherState, epoch: StoreEpoch, effects: Effect[]): void {
  const previous = state.storeEpoch;
  if (previous !== null && epoch < previous) increment(state.counters, 'store-replies-of-an-old-epoch');
  if (previous !== null && epoch <= previous) return;
  state.storeEpoch = epoch;
  if (previous === null) return;
  increment(state.counters, 'store-epoch-changes');
  increment(state.counters, 'store-resets-sent', state.knownFrontends.size);
  for (const frontend of state.knownFrontends)
    effects.push({ kind: 'send', target: frontend, message: { type: 'store-reset', epoch } });
}

/** Note a frontend that has leases here, most recent last, within `knownFrontendsMax`. */
function rememberFrontend(state: DispatcherState, frontend: NodeId): void {
  state.knownFrontends.delete(frontend);
  state.knownFrontends.add(frontend);
  if (state.knownFrontends.size > state.config.limits.knownFrontendsMax) {
    const oldest = state.knownFrontends.values().next();
    assert(!oldest.done, 'a set over its bound has a first element');
    state.knownFrontends.delete(oldest.value);
    increment(state.counters, 'known-frontends-forgotten');
  }
  assert(state.knownFrontends.size <= state.config.limits.knownFrontendsMax, 'known frontends over bound');
}

function leaseReply(
  target: NodeId,
  requestId: RequestId,
  ok: boolean,
  error?: string,
  epoch?: StoreEpoch,
  regranted?: Topic[],
  heads?: TopicHead[],
  occupancy?: Occupancy[],
): Effect {
  const message: Extract<Message, { type: 'lease-reply' }> = { type: 'lease-reply', requestId, ok };
  if (error !== undefined) message.error = error;
  if (epoch !== undefined) message.epoch = epoch;
  if (regranted !== undefined && regranted.length > 0) message.regranted = regranted;
  if (heads !== undefined && heads.length > 0) message.heads = heads;
  if (occupancy !== undefined && occupancy.length > 0) message.occupancy = occupancy;
  return { kind: 'send', target, message };
}
