/**
 * A viewer's cursors (reliable mode): per topic, where the viewer stands in its
 * datacenter's history, kept as a careful client keeps it, so that what it resumes from is always a
 * place its current subscription reached. The reliable checker (sim/checkers/viewer-streams.ts)
 * follows each viewer's stream by the same rules.
 *
 * Rules
 * - A fresh subscription's `joined` sets the topic's cursor where it joined, replacing whatever was
 *   there: a `joined` of a subscription the viewer left again before it was processed leaves no
 *   stale place behind once the next subscription joins.
 * - The `joined` that answers a resume of the topic keeps the cursor it resumed from: only what
 *   arrives moves it on.
 * - An event received moves the topic's cursor forward (never back), and never makes one: a batch of
 *   a subscription the viewer has left, still on the client link, is no place to resume from.
 * - Leaving the topic drops its cursor: joining it again starts afresh.
 */
import type { DcId, EventId, Position, Topic, TopicCursor } from './types.ts';

export type ViewerCursors = Map<Topic, TopicCursor>;

/** The frontend (in `dc`) joined the viewer to `topic` at `position`; `resumed`: it answers the viewer's resume. */
export function cursorJoined(
  cursors: ViewerCursors,
  topic: Topic,
  dc: DcId,
  position: Position,
  resumed: boolean,
): void {
  if (resumed && cursors.has(topic)) return;
  cursors.set(topic, { topic, dc, ...position });
}

/** Event `eventId` of `topic` arrived from a frontend in `dc`, at `position`. */
export function cursorReceived(
  cursors: ViewerCursors,
  topic: Topic,
  dc: DcId,
  eventId: EventId,
  position: Position,
): void {
  const cursor = cursors.get(topic);
  if (cursor === undefined) return;
  const ahead =
    cursor.dc !== dc ||
    position.epoch > cursor.epoch ||
    (position.epoch === cursor.epoch && position.seq > cursor.seq);
  if (ahead) cursors.set(topic, { topic, dc, ...position, lastEventId: eventId });
}

/** The viewer left `topic`. */
export function cursorLeft(cursors: ViewerCursors, topic: Topic): void {
  cursors.delete(topic);
}
