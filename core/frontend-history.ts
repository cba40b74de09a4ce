/**
 * A frontend's memory of recent events, per topic: it drops duplicates by event id (a retried
 * publish, a duplicated message, a forward that arrived twice) and lets a reconnecting client
 * `resume` with what it missed while the events are still held. Bounded by
 * `historyEventsPerTopicMax` events for at most `historyTopicsMax` topics, the least recently used
 * topic forgotten first.
 */
import { assert, increment } from './assert.ts';
import type { FrontendState } from './frontend-state.ts';
import type { ConnectionId, Effect, Event, EventId, Topic } from './types.ts';
import { eventIdError, topicError } from './validation.ts';

/** A dispatcher delivered `event`: to every local viewer of its topic, unless it was seen already. */
export function onDeliver(state: FrontendState, event: Event, effects: Effect[]): void {
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
  const connections = [...viewers];
  assert(
    connections.every((c) => state.connections.get(c)?.has(event.topic) === true),
    `a viewer of ${event.topic} is not subscribed to it`,
  );
  effects.push({ kind: 'deliver', connections, event, wholeTopic: true });
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
      increment(state.counters, 'history-topics-evicted');
    }
  }
  state.history.set(event.topic, history);
  history.events.push(event);
  history.ids.add(event.id);
  if (history.events.length > historyEventsPerTopicMax) {
    const evicted = history.events.shift();
    assert(evicted !== undefined, 'history shrank below its bound');
    increment(state.counters, 'history-events-evicted');
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
export function replay(
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
    for (const event of missed) {
      assert(event.topic === topic && event.id !== lastEventId, 'a replay hands back only what came after');
      effects.push({ kind: 'deliver', connections: [connection], event, wholeTopic: false });
      increment(state.counters, 'events-replayed');
    }
  }
  increment(state.counters, 'resumes-replayed');
}
