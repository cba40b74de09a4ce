/**
 * What reaches the application, and where the client resumes from: dedupe by event id, order per
 * topic within a datacenter, and the viewer's cursors.
 *
 * Rules
 * - Cursors follow core/viewer-cursors.ts, as the simulator's viewers and the server keep them: a
 *   fresh `subscribed` sets the topic's cursor, one that answers a resume keeps it, an event the
 *   application was given moves it forward, and leaving the topic drops it. Events of a server
 *   without positions (best-effort) leave the last event id instead, which resumes every topic.
 * - An event id the application was given already is dropped: the last `dedupeIdsMax` ids are
 *   remembered (least recently seen forgotten first), far more than a resume replays twice.
 * - Order: an event whose seq is past the topic's cursor + 1, in the cursor's dc and epoch, waits
 *   (at most `reorderWaitMs`, at most `reorderEventsMax` per topic) for the ones before it. The
 *   server delivers in order already; this covers a frame overtaken on its way. When the wait ends,
 *   or a gap notice says the missing seqs will not come, or the buffer is full, what waits is given
 *   in seq order. An event that comes after its successors were given (late) is still given, once:
 *   a loss would be worse than an inversion the wait already tried to prevent.
 * - A lost connection drops what waits: it was not given to the application, so the cursor has not
 *   passed it, and the resume brings it again.
 * - Events of a topic the application is no longer subscribed to are dropped.
 */
import { decodeCursors, encodeCursors, isCursorText } from '../core/cursor.ts';
import type { TopicCursor } from '../core/types.ts';
import { cursorJoined, cursorLeft, cursorReceived } from '../core/viewer-cursors.ts';
import type { EventPosition, WireEvent } from './wire.ts';

/** Event ids remembered for dedupe. */
export const dedupeIdsMax = 4_096;
/** Events of one topic held back, waiting for an earlier seq; past it, they are given in order. */
export const reorderEventsMax = 1_024;
/** The longest an event waits for the seqs before it (the default of `reorderWaitMs`). */
export const reorderWaitMsDefault = 1_000;

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

interface Waiting {
  events: Map<number, WireEvent>;
  timer: unknown;
}

export class Delivery {
  /** Per topic, where the application stands (reliable servers). */
  private readonly cursors = new Map<string, TopicCursor>();
  /** The last event id given (servers without positions resume from it). */
  private lastEventId: string | null = null;
  private readonly seen = new Map<string, true>();
  private readonly waiting = new Map<string, Waiting>();
  /** Dropped as already given; held back for order: for tests and diagnostics. */
  readonly counts = { duplicates: 0, reordered: 0, late: 0, unsubscribed: 0 };

  constructor(
    private readonly give: (event: WireEvent) => void,
    private readonly isSubscribed: (topic: string) => boolean,
    private readonly timers: Timers,
    private readonly reorderWaitMs: number = reorderWaitMsDefault,
  ) {}

  /** Start from `text`: a cursor text, or a plain event id. Returns what is wrong with it, or null. */
  restore(text: string): string | null {
    if (!isCursorText(text)) {
      if (text === '' || /\s/.test(text)) return 'a cursor is a cursor text or an event id';
      this.lastEventId = text;
      return null;
    }
    const decoded = decodeCursors(text);
    if (!decoded.ok) return decoded.error;
    for (const cursor of decoded.cursors) this.cursors.set(cursor.topic, cursor);
    return null;
  }

  /** The cursor to resume `topics` from: a cursor text, the last event id, or null (start from now). */
  cursorFor(topics: Iterable<string>): { text: string; topics: string[] } | null {
    const kept: TopicCursor[] = [];
    for (const topic of topics) {
      const cursor = this.cursors.get(topic);
      if (cursor !== undefined) kept.push(cursor);
    }
    if (kept.length > 0) return { text: encodeCursors(kept), topics: kept.map((cursor) => cursor.topic) };
    return this.lastEventId === null ? null : { text: this.lastEventId, topics: [] };
  }

  joined(topic: string, position: EventPosition | undefined, resumed: boolean): void {
    if (position === undefined) return;
    cursorJoined(this.cursors, topic, position.dc, { epoch: position.epoch, seq: position.seq }, resumed);
    this.drain(topic);
  }

  left(topic: string): void {
    cursorLeft(this.cursors, topic);
    this.dropWaiting(topic);
  }

  receive(event: WireEvent): void {
    if (!this.isSubscribed(event.topic)) {
      this.counts.unsubscribed++;
      return;
    }
    if (this.seen.has(event.id)) {
      // Seen again: most recently, so it is the last to be forgotten.
      this.seen.delete(event.id);
      this.seen.set(event.id, true);
      this.counts.duplicates++;
      return;
    }
    const position = event.position;
    const cursor = this.cursors.get(event.topic);
    if (
      position !== undefined &&
      cursor !== undefined &&
      cursor.dc === position.dc &&
      cursor.epoch === position.epoch &&
      position.seq > cursor.seq + 1
    ) {
      this.hold(event, position);
      return;
    }
    if (position !== undefined && cursor !== undefined && cursor.dc === position.dc) {
      if (cursor.epoch === position.epoch && position.seq <= cursor.seq) this.counts.late++;
    }
    this.deliver(event);
    this.drain(event.topic);
  }

  /** The server says some seqs of `topic` will never come: give what waits for them. */
  gap(topic: string): void {
    this.flush(topic);
  }

  /** The connection is gone: what waits comes again with the resume. */
  lost(): void {
    for (const topic of [...this.waiting.keys()]) this.dropWaiting(topic);
  }

  /** How many events wait, over all topics. */
  waitingCount(): number {
    let count = 0;
    for (const waiting of this.waiting.values()) count += waiting.events.size;
    return count;
  }

  private deliver(event: WireEvent): void {
    this.seen.set(event.id, true);
    if (this.seen.size > dedupeIdsMax) this.seen.delete(this.seen.keys().next().value as string);
    if (event.position !== undefined) {
      const { dc, epoch, seq } = event.position;
      cursorReceived(this.cursors, event.topic, dc, event.id, { epoch, seq });
    }
    this.lastEventId = event.id;
    this.give(event);
  }

  private hold(event: WireEvent, position: EventPosition): void {
    let waiting = this.waiting.get(event.topic);
    if (waiting === undefined) {
      waiting = {
        events: new Map(),
        timer: this.timers.setTimeout(() => this.flush(event.topic), this.reorderWaitMs),
      };
      this.waiting.set(event.topic, waiting);
    }
    // A second copy of a seq already waiting is the same event (or, across epochs, no business here).
    if (waiting.events.has(position.seq)) {
      this.counts.duplicates++;
      return;
    }
    waiting.events.set(position.seq, event);
    this.counts.reordered++;
    if (waiting.events.size >= reorderEventsMax) this.flush(event.topic);
  }

  /** Give the waiting events that now follow the cursor, in order. */
  private drain(topic: string): void {
    const waiting = this.waiting.get(topic);
    if (waiting === undefined) return;
    for (;;) {
      const cursor = this.cursors.get(topic);
      if (cursor === undefined) break;
      const next = waiting.events.get(cursor.seq + 1);
      if (next === undefined) break;
      waiting.events.delete(cursor.seq + 1);
      this.receiveHeld(next);
    }
    if (waiting.events.size === 0) this.dropWaiting(topic);
  }

  /** Give everything that waits for `topic`, in seq order, whatever is missing before it. */
  private flush(topic: string): void {
    const waiting = this.waiting.get(topic);
    if (waiting === undefined) return;
    this.dropWaiting(topic);
    for (const seq of [...waiting.events.keys()].sort((a, b) => a - b))
      this.receiveHeld(waiting.events.get(seq) as WireEvent);
  }

  private receiveHeld(event: WireEvent): void {
    if (this.seen.has(event.id)) {
      this.counts.duplicates++;
      return;
    }
    this.deliver(event);
  }

  private dropWaiting(topic: string): void {
    const waiting = this.waiting.get(topic);
    if (waiting === undefined) return;
    this.timers.clearTimeout(waiting.timer);
    this.waiting.delete(topic);
  }
}
