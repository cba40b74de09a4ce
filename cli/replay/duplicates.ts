/**
 * Which recipients of a delivery had the event already: the checker's duplicates, recounted from
 * the trace while the index reads it (the checker writes only its first few `no-duplicates`
 * violations, so they cannot be counted).
 *
 * A connection lives on one frontend, so only deliveries of the same event by the same frontend can
 * repeat one. The first delivery of (event, frontend) is remembered by reference, not by copy: the
 * journal sequence number at that moment, plus its `c`, `add` and `omit`. Only when a second one
 * comes are the first's recipients rebuilt, from today's subscribers with the journal's later
 * changes to that (frontend, topic) undone. The journal holds the subscription changes of the last
 * `keepUs`; first deliveries are forgotten after `keepUs` too (a duplicate later than that, twice
 * the delivery deadline, is not counted). Memory stays at the journal and one small entry per
 * recent (event, frontend), whatever the number of viewers.
 */
import type { TraceRecord } from './records.ts';
import type { ReplayState } from './replay-state.ts';

type Deliver = Extract<TraceRecord, { k: 'deliver' }>;

interface Change {
  seq: number;
  t: number;
  node: string;
  topic: string;
  c: string;
  added: boolean;
}

interface First {
  seq: number;
  until: number;
  record: Deliver;
  received: Set<string> | null;
}

export class DuplicateTracker {
  private readonly keepUs: number;
  private readonly journal: Change[] = [];
  private journalHead = 0;
  private seq = 0;
  private now = 0;
  private readonly firsts = new Map<string, First>();
  private readonly expiry: string[] = [];
  private expiryHead = 0;

  constructor(state: ReplayState, keepUs: number) {
    this.keepUs = keepUs;
    state.onMembership = (node, topic, c, added): void => {
      this.journal.push({ seq: ++this.seq, t: this.now, node, topic, c, added });
    };
  }

  /** Call before applying each record, with its time. */
  advance(t: number): void {
    this.now = t;
    const horizon = t - this.keepUs;
    while (this.journalHead < this.journal.length && this.journal[this.journalHead]!.t < horizon) {
      this.journalHead++;
    }
    if (this.journalHead > 4096 && this.journalHead * 2 > this.journal.length) {
      this.journal.splice(0, this.journalHead);
      this.journalHead = 0;
    }
    while (this.expiryHead < this.expiry.length) {
      const key = this.expiry[this.expiryHead]!;
      const first = this.firsts.get(key);
      if (first && first.until >= t) break;
      this.firsts.delete(key);
      this.expiryHead++;
    }
    if (this.expiryHead > 4096 && this.expiryHead * 2 > this.expiry.length) {
      this.expiry.splice(0, this.expiryHead);
      this.expiryHead = 0;
    }
  }

  /** How many recipients of `record` had its event already; `state` is the world just before it. */
  duplicates(record: Deliver, state: ReplayState): number {
    const key = `${record.e}\u0000${record.node}`;
    const first = this.firsts.get(key);
    if (!first) {
      this.firsts.set(key, { seq: this.seq, until: record.t + this.keepUs, record, received: null });
      this.expiry.push(key);
      return 0;
    }
    first.received ??= this.rebuild(first, state);
    let duplicates = 0;
    for (const c of state.recipients(record)) {
      if (first.received.has(c)) duplicates++;
      else first.received.add(c);
    }
    return duplicates;
  }

  /** The recipients of the first delivery: today's subscribers with the changes since undone. */
  private rebuild(first: First, state: ReplayState): Set<string> {
    const record = first.record;
    if (record.c) return new Set(record.c);
    const set = new Set(state.subscribersOf(record.node, record.topic));
    for (let i = this.journal.length - 1; i >= this.journalHead; i--) {
      const change = this.journal[i]!;
      if (change.seq <= first.seq) break;
      if (change.node !== record.node || change.topic !== record.topic) continue;
      if (change.added) set.delete(change.c);
      else set.add(change.c);
    }
    for (const c of record.omit ?? []) set.delete(c);
    for (const c of record.add ?? []) set.add(c);
    return set;
  }
}
