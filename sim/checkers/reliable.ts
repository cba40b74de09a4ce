/**
 * The reliable checker: what reliable mode promises beyond best-effort's integrity, misdelivery and
 * duplicates (docs/design.md, invariants 6-9), judged from the stores' `appended`/`trimmed` facts, the
 * frontends' `gap` facts, the publishers' `answered` facts and the epoch/seq of every receipt.
 *
 * - eventual delivery (6): at the end, every connection still joined to a topic has every seq of
 *   its datacenter store's live epoch, from where its stream started up to the head as it stood a
 *   catch-up time before the end (sim/settle.ts), by receipt or gap notice (viewer-streams.ts). Exactly once per viewer is the delivery checker's, judged per
 *   viewer across connections in this mode.
 * - order (7): per viewer and topic, within a datacenter, seqs arrive one after another; a skip
 *   only over a gap notice, a new epoch only after a notice for the rest of the old one; a resume
 *   goes on from where the viewer's previous connection stopped (viewer-streams.ts).
 * - honest gaps (8): `trimmed` covers only seqs the store no longer holds (trimmed, or of a lost
 *   epoch) and never seqs it did not append; `epoch` names only an epoch the store lost (it went
 *   down, or a later epoch was appended) and is refuted by any later append in that epoch;
 *   `unknown-cursor` only for a cursor outside the store's live epoch (viewer-streams.ts).
 * - acknowledged means delivered (9): an event answered OK without `forward-pending` was appended in
 *   its own datacenter before the answer, and in every datacenter by the end, unless a
 *   `forward-expired` drop named that datacenter after the answer, or that datacenter's store went
 *   down after it (its epoch, and whatever was appended in it, is lost).
 *
 * Memory: the stores' and streams' projections, one record per acknowledged event still missing a
 * datacenter (none in a run that keeps the invariant), one per epoch a gap declared lost, and per
 * connection the gap notices told to it within a delivery deadline (for liveness after heal, loss.ts).
 */
import type { DcId, EventId, Gap, NodeId, Seq, StoreEpoch, Topic, Us } from '../../core/index.ts';
import type { Fact } from '../facts.ts';
import type { Subscriptions } from '../subscriptions.ts';
import type { Topology } from '../topology.ts';
import type { EventRegistry } from './events.ts';
import { StoreHistories } from './store-histories.ts';
import { fmt } from './time.ts';
import { ViewerStreams } from './viewer-streams.ts';
import type { ViolationLog } from './violations.ts';

/** What the reliable checker counted, as the run's report carries it (reliable mode only). */
export interface ReliableCounts {
  /** Events appended, over every datacenter's store. */
  appended: number;
  /** Gap facts, by why (one fact may tell several connections). */
  gaps: Record<Gap['why'], number>;
  /** `unknown-cursor` gaps to a connection that resumed nothing the checker knows of. */
  gapsUnjudged: number;
  /** Joins (or catch-ups) that went on with a viewer's stream from an earlier connection. */
  resumes: number;
  /** Streams still joined at the end, judged for eventual delivery; seqs they were missing. */
  streamsJudged: number;
  seqsMissing: number;
  /** Publishes answered OK without, and with, `forward-pending`. */
  acknowledged: number;
  acknowledgedPending: number;
  /** Receipts and joins without an epoch and seq, left unjudged. */
  unpositioned: number;
  eventualDeliveryErrors: number;
  orderErrors: number;
  dishonestGaps: number;
  unstoredAcknowledgements: number;
}

/** A gap notice told to a connection: seqs `from`..`to` (null: the rest) of `epoch` in `dc`. */
interface ToldGap {
  t: Us;
  dc: DcId;
  epoch: StoreEpoch;
  from: Seq;
  to: Seq | null;
}

/** An event answered OK that some datacenter's store had not appended yet. */
interface Acknowledged {
  t: Us;
  dc: DcId;
  missing: Set<DcId>;
  /** Datacenters a `forward-expired` drop named after the answer. */
  expired: Set<DcId>;
}

export class ReliableChecker {
  private readonly stores: StoreHistories;
  private readonly streams: ViewerStreams;
  private readonly gapCounts: Record<Gap['why'], number> = {
    trimmed: 0,
    epoch: 0,
    'unknown-cursor': 0,
    duplicate: 0,
  };
  private dishonestGaps = 0;
  private acknowledged = 0;
  private acknowledgedPending = 0;
  private unstored = 0;
  private readonly awaiting = new Map<EventId, Acknowledged>();
  /** Per connection, the gap notices told to it within the last `gapsKeptUs`, oldest first. */
  private readonly toldGaps = new Map<number, ToldGap[]>();
  /** Datacenter -> epochs a gap declared lost before any append named them, with the first such gap. */
  private readonly declaredLost = new Map<DcId, Map<StoreEpoch, { t: Us; node: NodeId; topic: Topic }>>();

  constructor(
    private readonly topology: Topology,
    private readonly dcs: readonly DcId[],
    subscriptions: Subscriptions,
    private readonly events: EventRegistry,
    private readonly violations: ViolationLog,
    /** How long a stream may take to reach a head (sim/settle.ts, `catchUpMs`). */
    catchUpUs: Us,
    /** How long a gap notice told to a connection is remembered: an event's delivery deadline. */
    private readonly gapsKeptUs: Us,
  ) {
    this.stores = new StoreHistories(topology, catchUpUs);
    this.streams = new ViewerStreams(topology, subscriptions, this.stores, violations);
  }

  apply(fact: Fact): void {
    this.stores.apply(fact, (e) => this.events.get(e)?.retired === false);
    if (fact.kind === 'appended') this.appended(fact.dc, fact.e, fact.epoch, fact.t);
    else if (fact.kind === 'gap') this.gap(fact);
    else if (fact.kind === 'answered') this.answered(fact);
    else if (fact.kind === 'role-drop') this.roleDropped(fact);
    else if (fact.kind === 'end') this.judgeAcknowledged(fact.t);
    this.streams.apply(fact);
  }

  /** The event is past its retention: forget where it was appended. */
  forget(e: EventId): void {
    this.stores.forget(e);
  }

  /** Events whose store positions are kept (for tests of the retention). */
  get held(): number {
    return this.stores.positionsHeld;
  }

  counts(): ReliableCounts {
    const { streams } = this;
    return {
      appended: this.stores.appended,
      gaps: { ...this.gapCounts },
      gapsUnjudged: streams.unjudgedCursorGaps,
      resumes: streams.resumes,
      streamsJudged: streams.streamsJudged,
      seqsMissing: streams.seqsMissing,
      acknowledged: this.acknowledged,
      acknowledgedPending: this.acknowledgedPending,
      unpositioned: streams.unpositioned,
      eventualDeliveryErrors: streams.eventualErrors,
      orderErrors: streams.orderErrors,
      dishonestGaps: this.dishonestGaps + streams.dishonestCursorGaps,
      unstoredAcknowledgements: this.unstored,
    };
  }

  private appended(dc: DcId, e: EventId, epoch: StoreEpoch, t: Us): void {
    const declared = this.declaredLost.get(dc)?.get(epoch);
    if (declared !== undefined) {
      this.declaredLost.get(dc)?.delete(epoch);
      this.dishonest(
        t,
        `${declared.node} told viewers of "${declared.topic}" at ${fmt(declared.t)} that ${dc}'s store epoch ${epoch} was lost, but the store appended event ${e} in it now`,
        declared.node,
      );
    }
    const acknowledged = this.awaiting.get(e);
    if (acknowledged === undefined) return;
    acknowledged.missing.delete(dc);
    if (acknowledged.missing.size === 0) this.awaiting.delete(e);
  }

  /** Whether `dc`'s store appended event `e` under an epoch older than `epoch` too (while the event is followed). */
  appendedBefore(e: EventId, dc: DcId, epoch: StoreEpoch): boolean {
    return this.stores.positionsOf(e)?.some((p) => p.dc === dc && p.epoch < epoch) === true;
  }

  /** Whether connection `c` (at a frontend in `dc`) was told lately by a gap notice that event `e`'s seq will not reach it. */
  toldAway(e: EventId, c: number, dc: DcId): boolean {
    const gaps = this.toldGaps.get(c);
    if (gaps === undefined) return false;
    const positions = (this.stores.positionsOf(e) ?? []).filter((p) => p.dc === dc);
    return gaps.some(
      (gap) =>
        gap.dc === dc &&
        positions.some(
          (p) => p.epoch === gap.epoch && gap.from <= p.seq && (gap.to === null || p.seq <= gap.to),
        ),
    );
  }

  private gap(fact: Extract<Fact, { kind: 'gap' }>): void {
    this.gapCounts[fact.why]++;
    const dc = this.topology.dcOf(fact.node);
    for (const c of fact.connections) {
      let gaps = this.toldGaps.get(c);
      if (gaps === undefined) this.toldGaps.set(c, (gaps = []));
      // A gap told before an event was published cannot be about it, once the event is due.
      while (gaps.length > 0 && gaps[0]!.t < fact.t - this.gapsKeptUs) gaps.shift();
      gaps.push({ t: fact.t, dc, epoch: fact.epoch, from: fact.from, to: fact.to });
    }
    const store = this.stores.storeOf(dc);
    const told = `${fact.node} told ${fact.connections.length} viewer(s) of "${fact.topic}" that seqs ${fact.from}..${fact.to ?? 'end'} of ${dc}'s epoch ${fact.epoch}`;
    const lost =
      store.epoch !== null && (fact.epoch < store.epoch || (fact.epoch === store.epoch && !store.live));
    switch (fact.why) {
      case 'trimmed': {
        // A lost epoch holds nothing: whatever of it a gap covers is truly gone.
        if (lost) return;
        const held = this.stores.held(dc, fact.topic, fact.t);
        const headSeq = held?.epoch === fact.epoch ? held.headSeq : 0;
        const trimmedSeq = held?.epoch === fact.epoch ? held.trimmedSeq : 0;
        const to = fact.to ?? Infinity;
        const from = Math.max(fact.from, trimmedSeq + 1);
        if (from <= Math.min(to, headSeq))
          this.dishonest(
            fact.t,
            `${told} were trimmed, but the store still held seqs ${from}..${Math.min(to, headSeq)} (trimmed through ${trimmedSeq}, head ${headSeq})`,
            fact.node,
          );
        else if (to > headSeq)
          this.dishonest(
            fact.t,
            `${told} were trimmed, but the store had appended only through seq ${headSeq} of that epoch`,
            fact.node,
          );
        return;
      }
      case 'epoch':
        if (store.downs === 0)
          this.dishonest(
            fact.t,
            `${told} were lost with their epoch, but that store never went down`,
            fact.node,
          );
        else if (fact.epoch === store.epoch && store.live)
          this.dishonest(
            fact.t,
            `${told} were lost with their epoch, but it is the store's live epoch`,
            fact.node,
          );
        else if (!lost) this.declare(dc, fact);
        return;
      case 'unknown-cursor':
        // Judged against the viewer's own stream (viewer-streams.ts).
        return;
      case 'duplicate': {
        // Honest only for an event this store appended under an earlier epoch, and again at that seq.
        const positions = fact.e === undefined ? undefined : this.stores.positionsOf(fact.e);
        const before = positions?.some((p) => p.dc === dc && p.epoch < fact.epoch) === true;
        const again = positions?.some((p) => p.dc === dc && p.epoch === fact.epoch && p.seq === fact.from);
        if (positions !== undefined && !(before && again && fact.to === fact.from))
          this.dishonest(
            fact.t,
            `${told} repeat event ${fact.e ?? '?'}, but ${dc}'s store did not append it under an earlier epoch and again at that seq`,
            fact.node,
          );
        return;
      }
      default:
        return;
    }
  }

  /** An epoch declared lost that no store fact has named yet: a later append in it refutes the gap. */
  private declare(dc: DcId, fact: Extract<Fact, { kind: 'gap' }>): void {
    let epochs = this.declaredLost.get(dc);
    if (epochs === undefined) this.declaredLost.set(dc, (epochs = new Map()));
    if (!epochs.has(fact.epoch)) epochs.set(fact.epoch, { t: fact.t, node: fact.node, topic: fact.topic });
  }

  private answered(fact: Extract<Fact, { kind: 'answered' }>): void {
    if (!fact.ok) return;
    if (fact.warning === 'forward-pending') {
      this.acknowledgedPending++;
      return;
    }
    this.acknowledged++;
    const positions = this.stores.positionsOf(fact.e);
    // An event the checkers do not follow (never published, or past its retention): integrity's, or unjudged.
    if (positions === undefined && this.events.get(fact.e)?.retired !== false) return;
    const appendedIn = new Set((positions ?? []).map((p) => p.dc));
    if (!appendedIn.has(fact.dc)) {
      this.unstoredAcknowledgement(
        fact.t,
        fact.e,
        `the publisher in ${fact.dc} was answered OK for event ${fact.e} before ${fact.dc}'s store appended it`,
      );
      appendedIn.add(fact.dc);
    }
    const missing = new Set(this.dcs.filter((dc) => !appendedIn.has(dc)));
    // A publisher's retry answered again: the first answer is the promise.
    if (missing.size > 0 && !this.awaiting.has(fact.e))
      this.awaiting.set(fact.e, { t: fact.t, dc: fact.dc, missing, expired: new Set() });
  }

  /** A forward given up for good after an answer names a datacenter the event need not reach. */
  private roleDropped({ reason, e, dc }: Extract<Fact, { kind: 'role-drop' }>): void {
    if (reason === 'forward-expired' && e !== undefined && dc !== undefined)
      this.awaiting.get(e)?.expired.add(dc);
  }

  private judgeAcknowledged(t: Us): void {
    for (const [e, acknowledged] of this.awaiting)
      for (const dc of acknowledged.missing) {
        if (acknowledged.expired.has(dc)) continue;
        const lastDownUs = this.stores.storeOf(dc).lastDownUs;
        if (lastDownUs !== null && lastDownUs > acknowledged.t) continue;
        this.unstoredAcknowledgement(
          t,
          e,
          `event ${e}, answered OK in ${acknowledged.dc} at ${fmt(acknowledged.t)} without forward-pending, was never appended in ${dc}'s store, and no forward-expired drop names ${dc}`,
        );
      }
  }

  private unstoredAcknowledgement(t: Us, e: EventId, message: string): void {
    this.unstored++;
    this.violations.report('acknowledged-delivered', t, message, { e });
  }

  private dishonest(t: Us, message: string, node: NodeId): void {
    this.dishonestGaps++;
    this.violations.report('honest-gaps', t, message, { node });
  }
}
