/**
 * Why an expected delivery did not happen: a cause on the event's own path, at the moment it
 * mattered — never weather somewhere in the datacenter seconds earlier. Tried in this order for
 * an event `e` that did not reach viewers at frontend F in datacenter d:
 *
 * 1. A message of `e` itself dropped on its way to F or into d: the deliver to F, the forward to
 *    d, the store lookup in d or its answer. In reliable mode also the append in its origin's store,
 *    or its answer, wherever d is: an event its own datacenter did not append goes nowhere. A store
 *    lookup that reached d's store only after the dispatcher's store timeout counts as lost too (a
 *    real store can be slow without any fault: chaos runs on real processes meet it; a simulated
 *    store is late only under a fault, which explains it first).
 * 2. A fault on `e`'s path while it was in flight, from its publish to its deadline: F, the
 *    dispatcher that accepted it, d's dispatchers or store down or cut off (in reliable mode its
 *    origin's store too); a partition between its origin and d; a jitter storm in either, which
 *    can hold a message past the deadline.
 * 3. F held no live lease on the topic when d's store answered `e`'s lookup, and something on F's
 *    lease path explains it within a lease (and the subscribe grace) before that lookup: the store
 *    refused F's lease (it was full), one of F's own lease messages was dropped, or F, d's store or
 *    dispatchers were down or cut off, or a jitter storm in d held its lease traffic back.
 *
 * A loss burst explains nothing by itself: the messages it dropped are named by step 1 or step 3.
 * What is kept per event (its drops, its lookups) is forgotten at its deadline.
 */
import { unreachable, type DcId, type EventId, type NodeId, type Us } from '../../core/index.ts';
import { describeFault } from '../describe-fault.ts';
import type { Fact, NetworkDropReason } from '../facts.ts';
import type { Fault } from '../scenario.ts';
import type { Topology } from '../topology.ts';
import { describeEventDrop, type EventRegistry, type TrackedEvent } from './events.ts';
import type { FaultLog } from './fault-log.ts';
import { inDc, leasePathCategory, overlaps, type LeaseChecker } from './leases.ts';

export interface Explanation {
  category: string;
  text: string;
  f?: number;
}

export interface ExplainSettings {
  leaseUs: Us;
  subscribeGraceUs: Us;
  /** Reliable mode: an event is forwarded only once its origin's store appended it. */
  reliable: boolean;
  /** A dispatcher's store timeout: a lookup answered later than this was given up on. */
  storeTimeoutUs: Us;
}

/** A dropped message of an event, kept until the event's deadline in case it explains a loss. */
interface DropNote extends Explanation {
  /** The frontend it was going to (a deliver), or the datacenter (a forward, a store message). */
  node?: NodeId;
  dc?: DcId;
  /** Reliable mode: the origin's append or its answer, on the event's path to every datacenter. */
  everywhere?: true;
}

/** The lookups a datacenter's store answered for one event: when, and who held a live lease then. */
interface Lookups {
  firstUs: Us;
  lastUs: Us;
  live: Set<NodeId>;
}

/** Store lookups followed from their send to their arrival at once: far more than are ever in flight. */
const lookupsSentMax = 1 << 16;

export class Explainer {
  private readonly drops = new Map<EventId, DropNote[]>();
  private readonly lookups = new Map<EventId, Map<DcId, Lookups>>();
  /** Store lookups of an event on their way: message number -> when sent (the oldest forgotten past `lookupsSentMax`). */
  private readonly lookupsSent = new Map<number, Us>();
  /** Lookups that reached their store past the dispatcher's timeout, per event: a cause after the faults. */
  private readonly slowLookups = new Map<EventId, DropNote[]>();

  constructor(
    private readonly settings: ExplainSettings,
    private readonly topology: Topology,
    private readonly events: EventRegistry,
    private readonly faults: FaultLog,
    private readonly leases: LeaseChecker,
  ) {}

  apply(fact: Fact): void {
    if (fact.kind === 'sent') {
      const { type, e, m } = fact.message;
      if (type === 'store-request' && e !== undefined) {
        this.lookupsSent.set(m, fact.t);
        if (this.lookupsSent.size > lookupsSentMax)
          this.lookupsSent.delete(this.lookupsSent.keys().next().value as number);
      }
    } else if (fact.kind === 'dropped') {
      this.lookupsSent.delete(fact.message.m);
      this.dropped(fact);
    } else if (fact.kind === 'received') {
      const { type, e, to, m } = fact.message;
      if (type !== 'store-request' || e === undefined || this.topology.roleOf(to) !== 'store') return;
      const sentUs = this.lookupsSent.get(m);
      this.lookupsSent.delete(m);
      const tracked = this.events.get(e);
      if (tracked === undefined || tracked.finalized) return;
      const topic = tracked.stamp.topic;
      const dc = this.topology.dcOf(to);
      if (sentUs !== undefined && fact.t - sentUs > this.settings.storeTimeoutUs)
        this.storeSlow(e, dc, fact.t - sentUs);
      let byDc = this.lookups.get(e);
      if (byDc === undefined) this.lookups.set(e, (byDc = new Map()));
      let lookups = byDc.get(dc);
      if (lookups === undefined)
        byDc.set(dc, (lookups = { firstUs: fact.t, lastUs: fact.t, live: new Set() }));
      lookups.lastUs = fact.t;
      for (const frontend of this.leases.liveAt(dc, topic, fact.t)) lookups.live.add(frontend);
    }
  }

  /** The event's deadline passed: what was kept to explain its losses is no longer needed. */
  forget(e: EventId): void {
    this.drops.delete(e);
    this.lookups.delete(e);
    this.slowLookups.delete(e);
  }

  /** The cause that explains why `frontend` missed the event, or null if there is none. */
  explain(tracked: TrackedEvent, frontend: NodeId, now: Us): Explanation | null {
    const dc = this.topology.dcOf(frontend);
    for (const note of this.drops.get(tracked.stamp.id) ?? [])
      if (note.node === frontend || note.dc === dc || note.everywhere === true) return withoutPlace(note);
    for (const span of this.faults.spans) {
      if (!overlaps(span, tracked.publishUs, now)) continue;
      const category = this.onEventPath(span.fault, frontend, dc, tracked);
      if (category !== null)
        return { category, text: `${describeFault(span.fault)} (fault #${span.f})`, f: span.f };
    }
    for (const note of this.slowLookups.get(tracked.stamp.id) ?? [])
      if (note.dc === dc) return withoutPlace(note);
    const lookups = this.lookups.get(tracked.stamp.id)?.get(dc);
    if (lookups !== undefined && !lookups.live.has(frontend))
      return this.leaseCause(tracked, frontend, dc, lookups);
    return null;
  }

  /** `dc`'s store got the lookup for `e` only after the dispatcher's timeout: as good as lost. */
  private storeSlow(e: EventId, dc: DcId, tookUs: Us): void {
    let notes = this.slowLookups.get(e);
    if (notes === undefined) this.slowLookups.set(e, (notes = []));
    const ms = (us: Us): string => (us / 1000).toFixed(0);
    notes.push({
      category: 'store-slow',
      text: `${dc}'s store answered its lookup after ${ms(tookUs)} ms, past the dispatcher's ${ms(this.settings.storeTimeoutUs)} ms store timeout`,
      dc,
    });
  }

  private dropped(fact: Extract<Fact, { kind: 'dropped' }>): void {
    const text = describeEventDrop(fact);
    const { e, type, to } = fact.message;
    if (text === null || e === undefined) return;
    const tracked = this.events.get(e);
    if (tracked === undefined || tracked.finalized) return;
    const where = type === 'deliver' ? { node: to } : { dc: this.topology.dcOf(to) };
    const originAppend =
      this.settings.reliable &&
      (type === 'store-request' || type === 'store-reply') &&
      this.topology.dcOf(to) === tracked.origin;
    const category =
      fact.why === 'target-dead' ? `${this.topology.roleOf(to)}-death` : categoryOfDrop(fact.why, fact.f);
    let notes = this.drops.get(e);
    if (notes === undefined) this.drops.set(e, (notes = []));
    notes.push({
      category,
      text,
      ...where,
      ...(originAppend ? { everywhere: true } : {}),
      ...(fact.f === undefined ? {} : { f: fact.f }),
    });
  }

  /** Why `frontend` held no live lease when `dc`'s store answered the event's lookup, or null. */
  private leaseCause(
    tracked: TrackedEvent,
    frontend: NodeId,
    dc: DcId,
    lookups: Lookups,
  ): Explanation | null {
    const from = lookups.firstUs - this.settings.leaseUs - this.settings.subscribeGraceUs;
    const to = lookups.lastUs;
    const topic = tracked.stamp.topic;
    if (this.leases.refusedWithin(dc, topic, frontend, from, to))
      return {
        category: 'store-full',
        text: `${dc}'s store refused ${frontend}'s lease on "${topic}": it was full`,
      };
    const drop = this.faults.leaseDropWithin(frontend, from, to);
    if (drop !== undefined)
      return {
        category: categoryOfDrop(drop.why, drop.f),
        text: `a lease message of ${frontend} was dropped (${drop.why}) before the lookup`,
        ...(drop.f === undefined ? {} : { f: drop.f }),
      };
    for (const span of this.faults.spans) {
      if (!overlaps(span, from, to)) continue;
      const category = leasePathCategory(span.fault, frontend, dc, this.topology);
      if (category !== null)
        return {
          category,
          text: `${describeFault(span.fault)} (fault #${span.f}) kept ${frontend}'s lease from the lookup`,
          f: span.f,
        };
    }
    return null;
  }

  /** The loss category a fault stands for on the event's path to `frontend`, or null when it is not on it. */
  private onEventPath(fault: Fault, frontend: NodeId, dc: DcId, tracked: TrackedEvent): string | null {
    const origin = tracked.origin;
    switch (fault.kind) {
      case 'kill':
      case 'isolate': {
        const node = fault.node;
        const role = this.topology.roleOf(node);
        const onPath =
          node === frontend ||
          node === tracked.dispatcher ||
          (this.topology.dcOf(node) === dc && role !== 'frontend') ||
          (this.settings.reliable && role === 'store' && this.topology.dcOf(node) === origin);
        if (!onPath) return null;
        return fault.kind === 'kill' ? `${role}-death` : `${role}-isolation`;
      }
      case 'partition':
        return dc !== origin && fault.between.includes(dc) && fault.between.includes(origin)
          ? 'partition'
          : null;
      case 'jitter-storm':
        return inDc(fault, dc) || inDc(fault, origin) ? fault.kind : null;
      case 'loss-burst':
        return null;
      default:
        return unreachable(fault);
    }
  }
}

function withoutPlace(note: DropNote): Explanation {
  return { category: note.category, text: note.text, ...(note.f === undefined ? {} : { f: note.f }) };
}

/** The loss category of a dropped message (a dead target is named by its role where that is known). */
export function categoryOfDrop(why: NetworkDropReason, f: number | undefined): string {
  switch (why) {
    case 'loss':
      // The link's own random loss, unless a loss burst caused it.
      return f === undefined ? 'message-loss' : 'loss-burst';
    case 'partition':
      return 'partition';
    case 'isolated':
      return 'isolation';
    case 'target-dead':
    case 'source-dead':
      return 'node-death';
    case 'connection-closed':
      return 'connection-closed';
    default:
      return unreachable(why);
  }
}
