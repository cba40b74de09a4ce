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
 * - Membership: every change of what a connection receives is an effect, `joined` or `left`, so
 *   hosts mirror it (production into uWebSockets.js' pub/sub, the simulator into its checker)
 *   instead of guessing it from notices.
 * - Occupancy (`occupancyEveryMs` > 0): every lease request carries this frontend's connection
 *   count of its topics; a connection that asks (`subscribe`/`resume` with `occupancy`) gets the
 *   topic's count, as the store and the peer datacenters know it, in `occupancy` effects: at most one
 *   per interval, only when the count or the stale datacenters changed. Each interval renews early
 *   the topics whose count changed and the watched ones: rules in `frontend-occupancy.ts`.
 * - Timers: the renewal tick, the occupancy interval, and one timeout per pending request
 *   (`core/pending.ts`). `deadline()` is the earliest.
 *
 * - Reliable mode (`mode: 'reliable'`): deliveries carry positions and are acknowledged; each topic
 *   is a stream delivered in seq order, its gaps read from the store's history or told as `gap`
 *   notices, and a viewer joins once its stream has started (and, resuming, once it caught up from
 *   its cursor): the rules are in `frontend-streams.ts`.
 *
 * The rules live beside this file: clients in `frontend-clients.ts`, registrations in
 * `frontend-leases.ts`, the event history in `frontend-history.ts`, state in `frontend-state.ts`.
 */
import { assert, increment, unreachable } from './assert.ts';
import { onClient, onPublishDeadline, onPublishReply } from './frontend-clients.ts';
import { onDeliver } from './frontend-history.ts';
import {
  onHistoryReply,
  onSequencedDeliver,
  onStreamsDeadline,
  streamsDeadline,
} from './frontend-streams.ts';
import {
  onLeaseDeadline,
  onLeaseReply,
  onOccupancyTick,
  onRenewDeadline,
  onStoreEpoch,
} from './frontend-leases.ts';
import { createFrontend, type FrontendOptions, type FrontendState } from './frontend-state.ts';
import { earliest, nextPendingDeadline } from './pending.ts';
import { assertDeadlineAdvanced, enterHandle, type Role } from './role.ts';
import type { ClientAction, ConnectionId, Effect, Message, Ms, NodeId, Topic } from './types.ts';

export { createFrontend, defaultFrontendLimits } from './frontend-state.ts';
export type { FrontendConfig, FrontendLimits, FrontendOptions, FrontendState } from './frontend-state.ts';

export type FrontendInput =
  | { kind: 'client'; connection: ConnectionId; action: ClientAction }
  | { kind: 'message'; source: NodeId; message: Message }
  | { kind: 'deadline' };

/** Feed one input; perform every returned effect before the next call. `now` never decreases. */
export function handle(state: FrontendState, input: FrontendInput, now: Ms): Effect[] {
  enterHandle(state, now);
  const effects: Effect[] = [];
  switch (input.kind) {
    case 'client':
      onClient(state, input.connection, input.action, now, effects);
      assertConnectionConsistent(state, input.connection);
      break;
    case 'message':
      onMessage(state, input.source, input.message, now, effects);
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
export function deadline(state: Readonly<FrontendState>): Ms | null {
  return earliest(
    state.renewAtMs,
    nextPendingDeadline(state.pendingLeases),
    nextPendingDeadline(state.pendingPublishes),
    nextPendingDeadline(state.pendingReads),
    streamsDeadline(state),
    state.occupancyAtMs,
  );
}

/** The frontend as a role: what a host needs to run it. */
export const frontendRole: Role<FrontendState, FrontendInput, FrontendOptions> = {
  create: createFrontend,
  handle,
  deadline,
};

/** The topics this frontend has local viewers of, in first-subscribed order. */
export function localTopics(state: Readonly<FrontendState>): Topic[] {
  return [...state.topics.keys()];
}

function onMessage(state: FrontendState, source: NodeId, message: Message, now: Ms, effects: Effect[]): void {
  switch (message.type) {
    case 'deliver':
      if (state.config.mode === 'reliable') onSequencedDeliver(state, source, message, now, effects);
      else onDeliver(state, message.event, now, effects);
      return;
    case 'history-reply':
      onHistoryReply(state, message, now, effects);
      return;
    case 'lease-reply':
      onLeaseReply(state, message, now, effects);
      return;
    case 'store-reset':
      onStoreEpoch(state, message.epoch, true, now, effects);
      return;
    case 'publish-reply':
      onPublishReply(state, message, effects);
      return;
    case 'publish':
    case 'subscribe':
    case 'renew':
    case 'unsubscribe':
    case 'forward':
    case 'forward-ack':
    case 'store-request':
    case 'store-reply':
    case 'deliver-ack':
    case 'history-read':
    case 'occupancy':
      increment(state.counters, 'unexpected-messages');
      return;
    default:
      unreachable(message);
  }
}

function onDeadline(state: FrontendState, now: Ms, effects: Effect[]): void {
  onLeaseDeadline(state, now, effects);
  onPublishDeadline(state, now, effects);
  onRenewDeadline(state, now, effects);
  onOccupancyTick(state, now, effects);
  onStreamsDeadline(state, now, effects);
}

/** A connection's topics and the topic table agree about it (after each client action). */
function assertConnectionConsistent(state: FrontendState, connection: ConnectionId): void {
  const topics = state.connections.get(connection);
  if (topics === undefined) return;
  for (const topic of topics)
    assert(state.topics.get(topic)?.has(connection) === true, `${connection} is on ${topic} only one way`);
}
