/**
 * What a frontend's clients do: connect, subscribe and unsubscribe, resume after a reconnect,
 * publish, and disconnect. Bad input gets a `notice` and changes nothing; a change of what a
 * connection receives is said with `joined` and `left`. The rules are in `core/frontend.ts`.
 */
import { assert, increment, unreachable } from './assert.ts';
import { replay } from './frontend-history.ts';
import { register, unregister } from './frontend-leases.ts';
import { unwatch, watch } from './frontend-occupancy.ts';
import { addViewer, dropStream, removeViewer } from './frontend-streams.ts';
import type { FrontendState } from './frontend-state.ts';
import { currentDispatcher, pendingRoom } from './frontend-state.ts';
import { addPending, takeDue, takePending } from './pending.ts';
import type { ClientAction, ConnectionId, Effect, Message, Ms, Notice, Topic, TopicCursor } from './types.ts';
import { eventIdError, payloadError, topicError } from './validation.ts';

export function onClient(
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
    effects.push({ kind: 'connected', connection });
    return;
  }
  const topics = state.connections.get(connection);
  if (topics === undefined) return notice('not-connected', `connection ${connection} is not open`);
  switch (action.type) {
    case 'subscribe': {
      const error = subscribeError(state, topics, action.topic);
      if (error !== null) return notice(error.code, error.message, action.topic);
      subscribe(state, connection, topics, action.topic, now, effects);
      if (action.occupancy === true) watch(state, connection, action.topic, now, effects);
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
        const cursor = action.cursors?.find((c) => c.topic === topic);
        subscribe(state, connection, topics, topic, now, effects, cursor);
        if (action.occupancy === true) watch(state, connection, topic, now, effects);
      }
      if (state.config.mode === 'best-effort')
        replay(state, connection, action.topics, action.lastEventId, effects);
      return;
    }
    case 'publish': {
      const topicProblem = topicError(action.topic);
      if (topicProblem !== null) return notice('bad-topic', topicProblem, action.topic);
      const payloadProblem = payloadError(action.payload, state.config.limits.payloadBytesMax);
      if (payloadProblem !== null) return notice(payloadProblem.code, payloadProblem.message, action.topic);
      if (!pendingRoom(state)) {
        return notice(
          'publish-failed',
          'frontend has too many requests in flight; retry later',
          action.topic,
        );
      }
      const requestId = state.nextRequestId++;
      addPending(state.pendingPublishes, requestId, { connection, topic: action.topic }, now);
      increment(state.counters, 'client-publishes');
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

/** A dispatcher answered a publish a client made here: tell the client, if it is still here. */
export function onPublishReply(
  state: FrontendState,
  message: Extract<Message, { type: 'publish-reply' }>,
  effects: Effect[],
): void {
  const pending = takePending(state.pendingPublishes, message.requestId);
  if (pending === undefined) return;
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
}

/** Client publishes no dispatcher answered in time: a `drop`, and the client is told. */
export function onPublishDeadline(state: FrontendState, now: Ms, effects: Effect[]): void {
  for (const [, pending] of takeDue(state.pendingPublishes, now)) {
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
  cursor?: TopicCursor,
): void {
  if (topics.has(topic)) return increment(state.counters, 'subscribes-already-joined');
  topics.add(topic);
  const reliable = state.config.mode === 'reliable';
  // Reliable: the viewer joins once its topic's stream has started and it has caught up.
  if (!reliable) effects.push({ kind: 'joined', connection, topic });
  let viewers = state.topics.get(topic);
  const first = viewers === undefined;
  if (viewers === undefined) {
    viewers = new Set();
    state.topics.set(topic, viewers);
  }
  viewers.add(connection);
  // After the viewer is in, so the lease request counts it.
  if (first) register(state, topic, now, effects);
  if (reliable) addViewer(state, topic, connection, cursor, now, effects);
  increment(state.counters, 'subscriptions');
  assert(topics.size <= state.config.limits.topicsPerConnectionMax, 'a connection is over its topic limit');
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
  const reliable = state.config.mode === 'reliable';
  if (reliable) removeViewer(state, topic, connection, effects);
  else effects.push({ kind: 'left', connection, topic });
  const viewers = state.topics.get(topic);
  assert(
    viewers !== undefined && viewers.delete(connection),
    `connection ${connection} missing from ${topic}`,
  );
  increment(state.counters, 'unsubscriptions');
  unwatch(state, connection, topic);
  if (viewers.size > 0) return;
  state.topics.delete(topic);
  if (reliable) dropStream(state, topic);
  unregister(state, topic, now, effects);
}
