/**
 * A frontend's registrations: the leases it holds on the topics it has viewers of, kept alive by
 * renewals, repaired at once when the store lost them, and given up on with a `drop` when no
 * dispatcher answers. The rules are in `core/frontend.ts`'s theory of operation.
 */
import { onHeads, onStreamsEpoch } from './frontend-streams.ts';
import { assert, increment } from './assert.ts';
import type { FrontendState, LeaseMessage, PendingLease } from './frontend-state.ts';
import { currentDispatcher, pendingRoom } from './frontend-state.ts';
import {
  forgetTopic,
  occupancyOn,
  onOccupancyDeadline,
  onOccupancyReply,
  reportCount,
  startInterval,
} from './frontend-occupancy.ts';
import { addPending, takeDue, takePending } from './pending.ts';
import type { Effect, Message, Ms, StoreEpoch, Topic } from './types.ts';

/** `topic` got its first local viewer: ask for a lease, and make sure renewals run. */
export function register(state: FrontendState, topic: Topic, now: Ms, effects: Effect[]): void {
  const message: LeaseMessage = {
    type: 'subscribe',
    requestId: state.nextRequestId++,
    frontend: state.config.nodeId,
    topic,
    leaseMs: state.config.leaseMs,
    generation: state.nextGeneration++,
  };
  if (occupancyOn(state)) message.count = reportCount(state, topic);
  sendLeaseRequest(state, message, 1, now, effects);
  if (state.renewAtMs === null) state.renewAtMs = now + state.config.renewEveryMs;
  startInterval(state, now);
}

/** `topic` lost its last local viewer: give its lease back, and stop renewing when none is left. */
export function unregister(state: FrontendState, topic: Topic, now: Ms, effects: Effect[]): void {
  assert(!state.topics.has(topic), `unregistering ${topic}, which still has viewers`);
  const message = {
    type: 'unsubscribe',
    requestId: state.nextRequestId++,
    frontend: state.config.nodeId,
    topic,
    generation: state.nextGeneration++,
  } as const;
  sendLeaseRequest(state, message, 1, now, effects);
  forgetTopic(state, topic);
  if (state.topics.size === 0) state.renewAtMs = null;
}

export function onLeaseReply(
  state: FrontendState,
  message: Extract<Message, { type: 'lease-reply' }>,
  now: Ms,
  effects: Effect[],
): void {
  const pending = takePending(state.pendingLeases, message.requestId);
  if (pending === undefined) return;
  if (message.ok) increment(state.counters, 'lease-requests-answered');
  else retryLeaseRequest(state, pending, now, effects);
  // A subscribe answered after its topic's last viewer left: the unsubscribe that followed it may
  // have overtaken it, found no lease to remove, and left the store to grant this one to nobody.
  // Give it back again, under a newer generation still.
  const { message: asked } = pending;
  if (message.ok && asked.type === 'subscribe' && !state.topics.has(asked.topic)) {
    increment(state.counters, 'subscribes-answered-after-leaving');
    unregister(state, asked.topic, now, effects);
  }
  onOccupancyReply(state, message.occupancy);
  const reliable = state.config.mode === 'reliable';
  // Reliable: a lapse is repaired, not announced; the renewal's heads make the stream catch up.
  if (!reliable) for (const topic of message.regranted ?? []) registrationLapsed(state, topic, effects);
  // A first epoch is just learnt; a larger one means the store forgot this frontend's leases.
  if (message.epoch !== undefined)
    onStoreEpoch(state, message.epoch, state.storeEpoch !== null, now, effects);
  // Reliable: a store's answer, granted or refused for want of room (both name the epoch), says where
  // the streams stand; a frontend the store has no room for catches its viewers up by reading.
  if (reliable && message.epoch !== undefined && pending.message.type !== 'unsubscribe') {
    const topics = pending.message.type === 'renew' ? pending.message.topics : [pending.message.topic];
    const heads = new Map((message.heads ?? []).map(({ topic, seq }) => [topic, seq] as const));
    onHeads(state, message.epoch, topics, heads, now, effects);
  }
}

/**
 * The store's epoch is `epoch`. If it is newer than the one this frontend knows and `lost` says
 * leases were lost with the old one, renew every topic now, and restart the renewal timer.
 */
export function onStoreEpoch(
  state: FrontendState,
  epoch: StoreEpoch,
  lost: boolean,
  now: Ms,
  effects: Effect[],
): void {
  if (state.storeEpoch !== null && epoch <= state.storeEpoch) return;
  state.storeEpoch = epoch;
  if (state.config.mode === 'reliable') onStreamsEpoch(state, epoch, now, effects);
  if (!lost || state.topics.size === 0) return;
  increment(state.counters, 'store-epoch-renewals');
  renewAll(state, now, effects);
  state.renewAtMs = now + state.config.renewEveryMs;
}

/** Lease requests that timed out are retried elsewhere; every renewal period, every topic is renewed. */
export function onLeaseDeadline(state: FrontendState, now: Ms, effects: Effect[]): void {
  for (const [, pending] of takeDue(state.pendingLeases, now)) {
    increment(state.counters, 'lease-requests-timed-out');
    retryLeaseRequest(state, pending, now, effects);
  }
}

export function onRenewDeadline(state: FrontendState, now: Ms, effects: Effect[]): void {
  if (state.renewAtMs === null || state.renewAtMs > now) return;
  renewAll(state, now, effects);
  state.renewAtMs = state.topics.size > 0 ? now + state.config.renewEveryMs : null;
  assert(state.renewAtMs === null || state.renewAtMs > now, 'the renewal timer must move forward');
}

function renewAll(state: FrontendState, now: Ms, effects: Effect[]): void {
  renewTopics(state, [...state.topics.keys()], now, effects);
  increment(state.counters, 'renewals');
}

/** Every occupancy interval: tell watchers, and renew early the topics whose counts are due. */
export function onOccupancyTick(state: FrontendState, now: Ms, effects: Effect[]): void {
  const due = onOccupancyDeadline(state, now, effects);
  if (due.length === 0) return;
  increment(state.counters, 'occupancy-renewals');
  renewTopics(state, due, now, effects);
}

/** Renew `topics` (all with local viewers) in batches of `topicsPerRenewMax`, with their counts. */
function renewTopics(state: FrontendState, topics: Topic[], now: Ms, effects: Effect[]): void {
  const batch = state.config.limits.topicsPerRenewMax;
  if (topics.length > batch) increment(state.counters, 'renewals-split');
  for (let start = 0; start < topics.length; start += batch) {
    const message: LeaseMessage = {
      type: 'renew',
      requestId: state.nextRequestId++,
      frontend: state.config.nodeId,
      topics: topics.slice(start, start + batch),
      leaseMs: state.config.leaseMs,
      generation: state.nextGeneration++,
    };
    if (occupancyOn(state)) message.counts = message.topics.map((topic) => reportCount(state, topic));
    assert(message.topics.length > 0 && message.topics.length <= batch, 'a renewal batch out of bounds');
    sendLeaseRequest(state, message, 1, now, effects);
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

function sendLeaseRequest(
  state: FrontendState,
  message: LeaseMessage,
  attempts: number,
  now: Ms,
  effects: Effect[],
): void {
  if (!pendingRoom(state)) {
    // The next renewal repairs a lost subscribe; an unsent unsubscribe lets the lease expire.
    increment(state.counters, 'lease-requests-shed');
    effects.push({ kind: 'drop', reason: 'pending-full', ...leaseTopic(message) });
    return;
  }
  addPending(state.pendingLeases, message.requestId, { message, attempts }, now);
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
  const moot = (): void => increment(state.counters, 'lease-retries-moot');
  if (retry.type === 'subscribe' && !state.topics.has(retry.topic)) return moot();
  if (retry.type === 'renew') {
    retry = { ...retry, topics: retry.topics.filter((topic) => state.topics.has(topic)) };
    if (retry.topics.length === 0) return moot();
  }
  // A retry says the counts as they are now, not as they were at the first attempt.
  if (retry.type === 'subscribe' && retry.count !== undefined) retry.count = reportCount(state, retry.topic);
  if (retry.type === 'renew' && retry.counts !== undefined)
    retry.counts = retry.topics.map((topic) => reportCount(state, topic));
  increment(state.counters, 'lease-requests-retried');
  sendLeaseRequest(state, retry, request.attempts + 1, now, effects);
}

function leaseTopic(message: LeaseMessage): { topic?: Topic } {
  return message.type === 'renew' ? {} : { topic: message.topic };
}
