/**
 * What each datacenter's store holds of each topic's history (reliable mode): a projection of the
 * `appended`, `trimmed` and store `node` facts, for the reliable checkers to judge gaps and
 * deliveries against.
 *
 * - A store's epoch is the newest one its own facts (`appended`, `trimmed`) have named. It is live
 *   until the store node goes down: a store that restarts has lost its data, and its next epoch
 *   becomes known with its first append. Epochs only grow (core/types.ts, StoreEpoch).
 * - Per topic, in the store's epoch: the head (newest seq appended) and the seq trimmed through;
 *   the store holds the seqs after the one and up to the other. A topic not appended in the
 *   store's epoch holds nothing (head 0). Also the head as it stood `catchUpUs` ago (`owedSeq`):
 *   what a stream must have reached by now (sim/settle.ts, `catchUpMs`).
 * - Per event, where it was appended (datacenter, epoch, seq), until the event is past its
 *   retention (events.ts): later facts about it are rare, and judged as about an unknown position.
 *
 * Memory: one record per store, one per (datacenter, topic) with its appends of the last
 * `catchUpUs`, and the positions of the events still followed.
 */
import type { DcId, EventId, Seq, StoreEpoch, Topic, Us } from '../../core/index.ts';
import type { Fact } from '../facts.ts';
import type { Topology } from '../topology.ts';

export interface StoreRecord {
  /** The newest epoch its facts named; null before any. */
  epoch: StoreEpoch | null;
  /** The store has not gone down since `epoch` was first named. */
  live: boolean;
  /** How many times the store node went down, and when it last did. */
  downs: number;
  lastDownUs: Us | null;
}

interface TopicHistory {
  epoch: StoreEpoch;
  headSeq: Seq;
  /** Seqs through this one are no longer held (0: none trimmed). */
  trimmedSeq: Seq;
  /** The head as it stood `catchUpUs` ago. */
  owedSeq: Seq;
  /** Appends since then, oldest first: when, and the head they made. */
  recent: { t: Us; seq: Seq }[];
}

export interface AppendedAt {
  dc: DcId;
  epoch: StoreEpoch;
  seq: Seq;
}

/**
 * What a store holds of a topic in its live epoch: seqs after `trimmedSeq` up to `headSeq`; and
 * `owedSeq`, the head as it stood `catchUpUs` ago.
 */
export interface Held {
  epoch: StoreEpoch;
  headSeq: Seq;
  trimmedSeq: Seq;
  owedSeq: Seq;
}

export class StoreHistories {
  /** Events appended (not counting an append that found the event already held). */
  appended = 0;
  private readonly stores = new Map<DcId, StoreRecord>();
  private readonly topics = new Map<string, TopicHistory>();
  private readonly positions = new Map<EventId, AppendedAt[]>();

  /** `catchUpUs`: how long a stream may take to reach a head (sim/settle.ts, `catchUpMs`). */
  constructor(
    private readonly topology: Topology,
    private readonly catchUpUs: Us,
  ) {}

  /** `followed`: whether the event is still followed whole (events.ts); its position is kept only then. */
  apply(fact: Fact, followed: (e: EventId) => boolean): void {
    if (fact.kind === 'node') {
      if (fact.op !== 'down' || this.topology.roleOf(fact.node) !== 'store') return;
      const store = this.store(this.topology.dcOf(fact.node));
      store.live = false;
      store.downs++;
      store.lastDownUs = fact.t;
    } else if (fact.kind === 'appended') {
      const { dc, e, topic, epoch, seq, dup } = fact;
      const history = this.history(dc, topic, epoch);
      if (history !== null && !dup) {
        history.headSeq = Math.max(history.headSeq, seq);
        history.recent.push({ t: fact.t, seq: history.headSeq });
        this.settle(history, fact.t);
        this.appended++;
      }
      if (!followed(e)) return;
      let positions = this.positions.get(e);
      if (positions === undefined) this.positions.set(e, (positions = []));
      if (!positions.some((p) => p.dc === dc && p.epoch === epoch)) positions.push({ dc, epoch, seq });
    } else if (fact.kind === 'trimmed') {
      const history = this.history(fact.dc, fact.topic, fact.epoch);
      if (history !== null) history.trimmedSeq = Math.max(history.trimmedSeq, fact.seq);
    }
  }

  /** The event is past its retention: forget where it was appended. */
  forget(e: EventId): void {
    this.positions.delete(e);
  }

  /** Where `dc`'s store appended event `e` (any epoch, newest last); undefined once forgotten or never. */
  positionsOf(e: EventId): readonly AppendedAt[] | undefined {
    return this.positions.get(e);
  }

  /** Events whose positions are kept (for tests of the retention). */
  get positionsHeld(): number {
    return this.positions.size;
  }

  /** The store's newest known epoch, whether it is still live, and how often the store went down. */
  storeOf(dc: DcId): Readonly<StoreRecord> {
    return this.store(dc);
  }

  /**
   * What `dc`'s store holds of `topic` at `now` (the time of the latest fact), or null when its
   * newest known epoch is lost (or none is known).
   */
  held(dc: DcId, topic: Topic, now: Us): Held | null {
    const store = this.store(dc);
    if (store.epoch === null || !store.live) return null;
    const history = this.topics.get(`${dc}\u0000${topic}`);
    if (history === undefined || history.epoch !== store.epoch)
      return { epoch: store.epoch, headSeq: 0, trimmedSeq: 0, owedSeq: 0 };
    this.settle(history, now);
    const { epoch, headSeq, trimmedSeq, owedSeq } = history;
    return { epoch, headSeq, trimmedSeq, owedSeq };
  }

  /** Appends made `catchUpUs` or longer before `now` are owed. */
  private settle(history: TopicHistory, now: Us): void {
    let settled = 0;
    while (settled < history.recent.length && history.recent[settled]!.t <= now - this.catchUpUs)
      history.owedSeq = history.recent[settled++]!.seq;
    if (settled > 0) history.recent.splice(0, settled);
  }

  /** The topic's history in `epoch`, reset when the store's facts name a newer epoch; null for an older epoch. */
  private history(dc: DcId, topic: Topic, epoch: StoreEpoch): TopicHistory | null {
    const store = this.store(dc);
    if (store.epoch === null || epoch > store.epoch) {
      store.epoch = epoch;
      store.live = true;
    }
    const key = `${dc}\u0000${topic}`;
    const history = this.topics.get(key);
    if (history === undefined || history.epoch < epoch) {
      const fresh = { epoch, headSeq: 0, trimmedSeq: 0, owedSeq: 0, recent: [] };
      this.topics.set(key, fresh);
      return fresh;
    }
    return history.epoch === epoch ? history : null;
  }

  private store(dc: DcId): StoreRecord {
    let store = this.stores.get(dc);
    if (store === undefined)
      this.stores.set(dc, (store = { epoch: null, live: false, downs: 0, lastDownUs: null }));
    return store;
  }
}
