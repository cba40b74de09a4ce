/**
 * A frontend's part in occupancy (viewer counts). The rules are in `core/frontend.ts`'s theory of
 * operation; in short:
 * - Every lease request carries the frontend's connection count of each of its topics, so the
 *   store sums them. Every `occupancyEveryMs` the frontend renews, with counts, the topics whose
 *   count changed since it last reported one and the topics some viewer watches (so their answer
 *   brings the other frontends' and datacenters' counts); full renewals carry counts too.
 * - A lease reply's `occupancy` is kept per topic (`latest`). At each interval, a watched topic
 *   whose count or stale datacenters changed since its watchers were last told is sent to all of
 *   them; otherwise only viewers that started watching since then get it. So a viewer gets at most
 *   one `occupancy` per interval and per topic, and only when something changed.
 */
import { assert, increment } from './assert.ts';
import type { FrontendState, TopicOccupancy } from './frontend-state.ts';
import type { ConnectionId, Effect, Ms, Occupancy, Topic } from './types.ts';

export function occupancyOn(state: Readonly<FrontendState>): boolean {
  return state.config.occupancyEveryMs > 0;
}

/** What a lease request says of `topic`'s count, and remember it as reported. */
export function reportCount(state: FrontendState, topic: Topic): number {
  const count = state.topics.get(topic)?.size ?? 0;
  state.reportedCounts.set(topic, count);
  return count;
}

/** `connection` asks for `topic`'s occupancy (it is subscribed to it). */
export function watch(
  state: FrontendState,
  connection: ConnectionId,
  topic: Topic,
  now: Ms,
  effects: Effect[],
): void {
  if (!occupancyOn(state)) {
    effects.push({
      kind: 'notice',
      connection,
      notice: { code: 'occupancy-off', message: 'this frontend does not report viewer counts', topic },
    });
    return;
  }
  assert(state.topics.get(topic)?.has(connection) === true, `${connection} watches ${topic} unsubscribed`);
  let watched = state.occupancy.get(topic);
  if (watched === undefined) {
    watched = { watchers: new Set(), fresh: new Set(), latest: null, told: null };
    state.occupancy.set(topic, watched);
  }
  if (watched.watchers.has(connection)) return;
  watched.watchers.add(connection);
  watched.fresh.add(connection);
  increment(state.counters, 'occupancy-watchers-added');
  startInterval(state, now);
}

/** `connection` left `topic`: it watches it no more. */
export function unwatch(state: FrontendState, connection: ConnectionId, topic: Topic): void {
  const watched = state.occupancy.get(topic);
  if (watched === undefined) return;
  watched.watchers.delete(connection);
  watched.fresh.delete(connection);
}

/** `topic` has no local viewer any more: forget its counts. */
export function forgetTopic(state: FrontendState, topic: Topic): void {
  state.occupancy.delete(topic);
  state.reportedCounts.delete(topic);
}

/** The counts a lease reply brought: the latest picture of each topic still here. */
export function onOccupancyReply(state: FrontendState, occupancy: Occupancy[] | undefined): void {
  for (const picture of occupancy ?? []) {
    if (!state.topics.has(picture.topic)) continue;
    let watched = state.occupancy.get(picture.topic);
    if (watched === undefined) {
      watched = { watchers: new Set(), fresh: new Set(), latest: null, told: null };
      state.occupancy.set(picture.topic, watched);
    }
    watched.latest = picture;
  }
}

/** Make sure the interval runs (a topic got its first viewer, or a viewer started watching). */
export function startInterval(state: FrontendState, now: Ms): void {
  if (occupancyOn(state) && state.occupancyAtMs === null)
    state.occupancyAtMs = now + state.config.occupancyEveryMs;
}

/**
 * Every interval: tell watchers what changed, and the topics to renew early (changed counts and
 * watched topics). The caller renews them.
 */
export function onOccupancyDeadline(state: FrontendState, now: Ms, effects: Effect[]): Topic[] {
  if (state.occupancyAtMs === null || now < state.occupancyAtMs) return [];
  for (const [topic, watched] of state.occupancy) tell(state, topic, watched, effects);
  const due: Topic[] = [];
  for (const [topic, viewers] of state.topics) {
    const watchedHere = (state.occupancy.get(topic)?.watchers.size ?? 0) > 0;
    if (watchedHere || state.reportedCounts.get(topic) !== viewers.size) due.push(topic);
  }
  state.occupancyAtMs = state.topics.size > 0 ? now + state.config.occupancyEveryMs : null;
  return due;
}

function tell(state: FrontendState, topic: Topic, watched: TopicOccupancy, effects: Effect[]): void {
  const { latest } = watched;
  if (latest === null || watched.watchers.size === 0) return;
  const changed = watched.told === null || !samePicture(watched.told, latest);
  const connections = changed ? [...watched.watchers] : [...watched.fresh];
  watched.fresh.clear();
  if (connections.length === 0) return;
  if (changed) watched.told = latest;
  increment(state.counters, 'occupancy-sent', connections.length);
  effects.push({ kind: 'occupancy', connections, occupancy: latest });
  assert(latest.topic === topic, 'an occupancy filed under another topic');
}

/** Whether watchers told `a` need to hear `b`: the count or the stale datacenters changed. */
function samePicture(a: Occupancy, b: Occupancy): boolean {
  return (
    a.count === b.count && a.stale.length === b.stale.length && a.stale.every((dc, i) => b.stale[i] === dc)
  );
}
