/**
 * The store's per-topic histories (reliable mode): every event of a topic gets the next sequence
 * number of the store's epoch, and the newest ones are kept for readers.
 *
 * Rules
 * - `append` gives an event the topic's next seq (from 1) unless its id is already remembered, in
 *   which case it answers the seq it got then: a retried publish or forward is never sequenced twice.
 *   Ids are remembered as long as their event is held, and for `historyAgeMs` after it was appended
 *   even when the count bound trimmed it (at most `historyIdsMax` per topic).
 * - A history holds at most `historyEventsMax` events, none older than `historyAgeMs`; what is
 *   trimmed is reported (`trimmed`, through which seq) so traces know what the history still holds.
 *   Age is trimmed at every append and read of the topic and at every sweep.
 * - `read` answers the events after a seq (or after an event named by id), at most `limit` (and at
 *   most `readEventsMax`), with the oldest seq held and the head, so a reader can tell a gap it can
 *   fill from one the history no longer covers.
 * - At most `historyTopicsMax` topics have a history; appending to one more is refused (`full`).
 *   A topic's head is never forgotten within an epoch, even when nothing is held any more: a
 *   history started again at seq 1 would reuse seqs that frontends and cursors already count, and
 *   their next events would pass for old ones. An idle topic costs its head, a few bytes.
 * - Everything is lost with the store's data: a new epoch starts every topic at seq 1 again.
 */
import { assert, increment } from './assert.ts';
import { eventIdError } from './validation.ts';
import type {
  Counters,
  Event,
  EventId,
  HistoryAfter,
  Ms,
  Seq,
  SequencedEvent,
  Topic,
  TopicHead,
} from './types.ts';

export interface HistoryLimits {
  historyEventsMax: number;
  historyAgeMs: Ms;
  historyIdsMax: number;
  historyTopicsMax: number;
  readEventsMax: number;
}

export const defaultHistoryLimits: HistoryLimits = {
  historyEventsMax: 1_000,
  historyAgeMs: 120_000,
  historyIdsMax: 4_000,
  historyTopicsMax: 100_000,
  readEventsMax: 500,
};

interface Held extends SequencedEvent {
  appendedAtMs: Ms;
}

export interface TopicHistory {
  /** The newest seq given out; 0 before the first. */
  headSeq: Seq;
  /** Held events, oldest first, seqs contiguous up to `headSeq`. */
  readonly events: Held[];
  /** Ids remembered for idempotent appends, oldest first. */
  readonly ids: Map<EventId, { seq: Seq; appendedAtMs: Ms }>;
}

export type Histories = Map<Topic, TopicHistory>;

/** What trimming forgot: the topic's events through `throughSeq`. */
export interface Trim {
  topic: Topic;
  throughSeq: Seq;
}

export type AppendResult =
  { kind: 'appended'; seq: Seq; duplicate: boolean; trims: Trim[] } | { kind: 'full'; message: string };

export function appendEvent(
  histories: Histories,
  limits: HistoryLimits,
  event: Event,
  now: Ms,
  counters: Counters,
): AppendResult {
  let history = histories.get(event.topic);
  if (history === undefined) {
    if (histories.size >= limits.historyTopicsMax) {
      increment(counters, 'appends-refused-full');
      return {
        kind: 'full',
        message: `store holds histories of ${histories.size} topics (historyTopicsMax ${limits.historyTopicsMax})`,
      };
    }
    history = { headSeq: 0, events: [], ids: new Map() };
    histories.set(event.topic, history);
  }
  const trims: Trim[] = [];
  trimHistory(history, event.topic, limits, now, trims);
  const known = history.ids.get(event.id);
  if (known !== undefined) {
    increment(counters, 'appends-duplicate');
    return { kind: 'appended', seq: known.seq, duplicate: true, trims };
  }
  const seq = history.headSeq + 1;
  history.headSeq = seq;
  history.events.push({ seq, event, appendedAtMs: now });
  history.ids.set(event.id, { seq, appendedAtMs: now });
  increment(counters, 'appends');
  trimHistory(history, event.topic, limits, now, trims);
  assertHistory(history, limits);
  return { kind: 'appended', seq, duplicate: false, trims };
}

/** What is wrong with where a read starts, or null: after a whole seq from 0, or after a valid event id. */
export function historyAfterError(after: HistoryAfter): string | null {
  if ('seq' in after)
    return Number.isSafeInteger(after.seq) && after.seq >= 0
      ? null
      : 'a read starts after a whole seq, 0 or more';
  return eventIdError(after.eventId);
}

export interface ReadResult {
  afterSeq: Seq | null;
  firstSeq: Seq;
  headSeq: Seq;
  events: SequencedEvent[];
  trims: Trim[];
}

export function readHistory(
  histories: Histories,
  limits: HistoryLimits,
  topic: Topic,
  after: HistoryAfter,
  limit: number,
  now: Ms,
  counters: Counters,
): ReadResult {
  assert(historyAfterError(after) === null, 'a read starts after a whole seq or a valid event id');
  const history = histories.get(topic);
  const trims: Trim[] = [];
  if (history !== undefined) trimHistory(history, topic, limits, now, trims);
  increment(counters, 'reads');
  const headSeq = history?.headSeq ?? 0;
  const firstSeq = history?.events[0]?.seq ?? headSeq + 1;
  const afterSeq = 'seq' in after ? after.seq : (history?.ids.get(after.eventId)?.seq ?? null);
  if (afterSeq === null || history === undefined) return { afterSeq, firstSeq, headSeq, events: [], trims };
  const count = Math.max(0, Math.min(limit, limits.readEventsMax));
  // Seqs are contiguous, so the first wanted event's index is arithmetic, not a search.
  const start = Math.max(0, afterSeq + 1 - firstSeq);
  const events = history.events
    .slice(start, start + count)
    .map(({ seq, event }): SequencedEvent => ({ seq, event }));
  assert(
    events.every((e, i) => e.seq === Math.max(afterSeq, firstSeq - 1) + 1 + i),
    'a read hands back contiguous seqs after the start',
  );
  return { afterSeq, firstSeq, headSeq, events, trims };
}

/**
 * Every listed topic's head (0 for a topic without a history), or none at all while the store holds
 * no history (a best-effort deployment), so best-effort replies do not grow.
 */
export function headsOf(histories: Histories, topics: readonly Topic[]): TopicHead[] {
  if (histories.size === 0) return [];
  const heads: TopicHead[] = [];
  for (const topic of topics) heads.push({ topic, seq: histories.get(topic)?.headSeq ?? 0 });
  return heads;
}

/**
 * Trim every history by age (the store's sweep). `holding`: some history still holds an event or
 * remembers an id, so another sweep will have work.
 */
export function sweepHistories(
  histories: Histories,
  limits: HistoryLimits,
  now: Ms,
): { trims: Trim[]; holding: boolean } {
  const trims: Trim[] = [];
  let holding = false;
  for (const [topic, history] of histories) {
    trimHistory(history, topic, limits, now, trims);
    if (history.events.length > 0 || history.ids.size > 0) holding = true;
  }
  return { trims, holding };
}

function trimHistory(
  history: TopicHistory,
  topic: Topic,
  limits: HistoryLimits,
  now: Ms,
  trims: Trim[],
): void {
  const oldestKeptMs = now - limits.historyAgeMs;
  let throughSeq: Seq | null = null;
  while (history.events.length > 0) {
    const first = history.events[0];
    assert(first !== undefined, 'a non-empty history has a first event');
    if (history.events.length <= limits.historyEventsMax && first.appendedAtMs > oldestKeptMs) break;
    history.events.shift();
    throughSeq = first.seq;
  }
  if (throughSeq !== null) trims.push({ topic, throughSeq });
  for (const [id, { appendedAtMs }] of history.ids) {
    if (history.ids.size <= limits.historyIdsMax && appendedAtMs > oldestKeptMs) break;
    history.ids.delete(id);
  }
}

function assertHistory(history: TopicHistory, limits: HistoryLimits): void {
  assert(history.events.length <= limits.historyEventsMax, 'a history outgrew historyEventsMax');
  assert(history.ids.size <= limits.historyIdsMax, 'a history remembers more than historyIdsMax ids');
  const last = history.events.at(-1);
  assert(last === undefined || last.seq === history.headSeq, 'the newest event held is the head');
}
