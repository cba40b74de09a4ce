/**
 * One viewer's stream of one topic (reliable mode): where it stands in its datacenter's history,
 * and the gap notices told ahead of it. Its rules of position, which viewer-streams.ts applies
 * fact by fact:
 *
 * - A stream stands after seq `last` of `epoch`: every seq up to it was received or told away by a
 *   gap notice, contiguously from where the stream started. A gap notice for the rest of the epoch
 *   (`to` null) ends it: the next epoch follows, from its seq 1.
 * - A gap notice is told at the frontend, before the client link, so a batch fanned out before it
 *   may still be on its way: it waits (pending) until the stream reaches its first seq, and is let
 *   go once the stream is past it or the connection it was told to is no longer the stream's.
 */
import type { DcId, Seq, StoreEpoch, Topic, Us } from '../../core/index.ts';

/** Gap notices kept per stream ahead of what it received; a frontend sends a few at most. */
export const pendingGapsPerStreamMax = 32;

export interface PendingGap {
  /** The connection it was told to: a gap told to a replaced connection no longer counts. */
  c: number;
  epoch: StoreEpoch;
  from: Seq;
  to: Seq | null;
}

export type StreamState =
  /** Its connection is joined to the topic. */
  | 'joined'
  /** Its connection got some of it (a catch-up, a gap) before its `joined`. */
  | 'catching-up'
  /** Its connection left the topic: an unsubscribe, or (if it closes at that instant) a disconnect. */
  | 'left'
  /** Its connection closed while joined: the viewer's next connection may resume it. */
  | 'resumable'
  /** It ended with an unsubscribe: the next join starts afresh. */
  | 'over';

export interface Cursor {
  epoch: StoreEpoch;
  seq: Seq;
}

export interface Stream {
  readonly viewer: number;
  readonly topic: Topic;
  c: number;
  dc: DcId;
  /** Null until anchored (a gap reached its connection before any join or receipt). */
  epoch: StoreEpoch | null;
  /** The last seq of `epoch` received or told away, contiguously from where it started. */
  last: Seq;
  /** A gap told away the rest of `epoch`: a later epoch comes next, from its seq 1. */
  epochEnded: boolean;
  state: StreamState;
  leftUs: Us | null;
  /**
   * Where the viewer's client stands (its cursor, as sim/world/clients.ts keeps it): the joined
   * position of its fresh subscription, moved forward by every event received; null before either.
   */
  cursor: Cursor | null;
  /** The cursor it resumed from onto `c`; null for a fresh subscription. */
  resumedFrom: Cursor | null;
  gaps: PendingGap[];
  /**
   * The viewer's previous subscription on this same connection, while batches fanned out to it
   * before this one joined are still on the client link: they arrive first (the link is in order)
   * and are judged there.
   */
  trailing: { stream: Stream; batches: number } | null;
}

/** A stream of connection `c` in `dc`, not yet anchored anywhere. */
export function unanchoredStream(
  viewer: number,
  topic: Topic,
  c: number,
  dc: DcId,
  state: StreamState,
): Stream {
  return {
    viewer,
    topic,
    c,
    dc,
    epoch: null,
    last: 0,
    epochEnded: false,
    state,
    leftUs: null,
    cursor: null,
    resumedFrom: null,
    gaps: [],
    trailing: null,
  };
}

/** The stream starts after `seq` of `epoch` (a joined position, or just before a first receipt). */
export function anchor(stream: Stream, epoch: StoreEpoch, seq: Seq): void {
  stream.epoch = epoch;
  stream.last = seq;
  stream.epochEnded = false;
  applyGaps(stream);
}

/** The viewer's cursor moves forward to (epoch, seq), never back. */
export function advanceCursor(stream: Stream, epoch: StoreEpoch, seq: Seq): void {
  const { cursor } = stream;
  if (cursor === null || epoch > cursor.epoch || (epoch === cursor.epoch && seq > cursor.seq))
    stream.cursor = { epoch, seq };
}

/** The stream moves into a later epoch, before its seq 1. */
export function enter(stream: Stream, epoch: StoreEpoch): void {
  stream.epoch = epoch;
  stream.last = 0;
  stream.epochEnded = false;
}

/** Keep a gap told to the stream's connection, then apply what it reached. */
export function tellGap(stream: Stream, gap: PendingGap): 'kept' | 'forgot-oldest' {
  const forgot = stream.gaps.length >= pendingGapsPerStreamMax;
  if (forgot) stream.gaps.shift();
  stream.gaps.push(gap);
  applyGaps(stream);
  return forgot ? 'forgot-oldest' : 'kept';
}

/** Apply every pending gap the stream has reached; let go of the ones it went past. */
export function applyGaps(stream: Stream): void {
  let i = 0;
  while (i < stream.gaps.length && stream.epoch !== null) {
    const gap = stream.gaps[i] as PendingGap;
    const epoch = stream.epoch;
    const stale =
      gap.c !== stream.c ||
      gap.epoch < epoch ||
      (gap.epoch === epoch && (stream.epochEnded || (gap.to !== null && gap.to <= stream.last)));
    if (stale) {
      stream.gaps.splice(i, 1);
    } else if (gap.epoch === epoch && gap.from <= stream.last + 1) {
      stream.gaps.splice(i, 1);
      if (gap.to === null) stream.epochEnded = true;
      else stream.last = gap.to;
      // A new position may reach a gap passed over before.
      i = 0;
    } else if (gap.epoch > epoch && stream.epochEnded && gap.from === 1) {
      // The next epoch's first seqs told away: the stream is in that epoch now (the next pass applies it).
      enter(stream, gap.epoch);
      i = 0;
    } else {
      i++;
    }
  }
}

/** Seqs `from`..`to` of `epoch` that no pending gap of the stream covers: how many, and the first. */
export function uncovered(
  stream: Stream,
  epoch: StoreEpoch,
  from: Seq,
  to: Seq,
): { count: number; first: Seq } {
  let count = 0;
  let first = 0;
  for (let seq = from; seq <= to; seq++) {
    const covered = stream.gaps.some(
      (gap) =>
        gap.c === stream.c && gap.epoch === epoch && gap.from <= seq && (gap.to === null || gap.to >= seq),
    );
    if (covered) continue;
    if (count === 0) first = seq;
    count++;
  }
  return { count, first };
}
