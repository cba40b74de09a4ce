/**
 * A frontend's memory of recent events. Two memories, with two bounds:
 *
 * - the ids seen in the last `dedupeWindowMs` (at most `dedupeIdsMax` of them) drop duplicates by
 *   event id — a duplicated message, a forward a dispatcher retried after its acknowledgement was
 *   lost. The window is set by time, not by the history's size: a topic with a one-event history
 *   still drops a retry that arrives after newer events. An id the history still holds is a
 *   duplicate too, however old.
 * - the history, per topic, lets a reconnecting client `resume` with what it missed while the
 *   events are still held. Bounded by `historyEventsPerTopicMax` events for at most
 *   `historyTopicsMax` topics, the least recently used topic forgotten first.
 */
import { assert, increment } from './assert.ts';
import type { FrontendState } from './frontend-state.ts';
import type { ConnectionId, Effect, Event, EventId, Ms, Topic } from './types.ts';
import { eventIdError, topicError } from './validation.ts';

/** A dispatcher delivered `event`: to every local viewer of its topic, unless it was seen already. */
export function onDeliver(state: FrontendState, event: Event, now: Ms, effects: Effect[]): void {
  if (topicError(event.topic) !== null || eventIdError(event.id) !== null) {
    increment(state.counters, 'malformed-events');
    return;
  }
  const held = state.history.get(event.topic)?.ids.has(event.id) === true;
  // Both memories are asked (an id past the window may still be held, one evicted from the history
  // still be in the window); the window learns the id either way.
  if (!firstSight(state, event.id, now) || held) {
    increment(state.counters, 'duplicate-events');
    return;
  }
  remember(state, event);
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

/**
 * Whether `id` is seen for the first time within the dedupe window; it is remembered from now on.
 * Ids older than the window are forgotten first, then the oldest beyond `dedupeIdsMax`.
 */
export function firstSight(state: FrontendState, id: EventId, now: Ms): boolean {
  const { seen } = state;
  const forgetBefore = now - state.config.dedupeWindowMs;
  for (const [oldId, seenAtMs] of seen) {
    if (seenAtMs >= forgetBefore && seen.size < state.config.limits.dedupeIdsMax) break;
    if (seenAtMs >= forgetBefore) increment(state.counters, 'dedupe-ids-evicted');
    seen.delete(oldId);
  }
  if (seen.has(id)) return false;
  seen.set(id, now);
  assert(seen.size <= state.config.limits.dedupeIdsMax, 'the dedupe memory outgrew its bound');
  return true;
}

/** Record `event`, seen for the first time, in its topic's history. */
function remember(state: FrontendState, event: Event): void {
  const { historyEventsPerTopicMax, historyTopicsMax } = state.config.limits;
  let history = state.history.get(event.topic);
  if (history !== undefined) {
    assert(!history.ids.has(event.id), 'an event already in the history passed dedupe');
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
