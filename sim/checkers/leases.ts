/**
 * The lease checker: dispatchers respect the subscription store's leases, and frontends keep them
 * tidy — both ways.
 *
 * - lease hygiene: a dispatcher sends a frontend an event only while that frontend holds a lease on
 *   the topic in the dispatcher's datacenter, allowing one store round trip of staleness (the
 *   dispatcher acts on the answer of a lookup made a moment earlier). In reliable mode a delivery
 *   is retried until acknowledged within the lease time the store's answer named: a lease removed
 *   by an unsubscribe meanwhile still takes the delivery's later attempts (the dispatcher knows the
 *   expiry, not the removal), and one that died with its store takes them until its expiry;
 * - lease release: a lease ends by removal when its frontend's last viewer leaves. One that expires
 *   instead (the frontend stopped renewing without unsubscribing) must have a cause on that
 *   frontend's lease path while the lease ran down: the frontend, its datacenter's dispatchers or
 *   store down or cut off, a jitter storm there, or one of its own lease messages lost;
 * - lease without viewers: a store grants or renews a frontend's lease on a topic only while the
 *   frontend has a viewer of it, or had one within `withoutViewersUs` (a request's retries and the
 *   store write behind it, over the slowest fault-free hops) — or a jitter storm in its datacenter
 *   held a request back for longer. In reliable mode a topic's first viewers join only once the
 *   lease is granted (the grant's answer names where their stream starts), so there a viewer
 *   joining within `withoutViewersUs` after the grant counts too: the judgement waits that long;
 *   and if one of the frontend's own lease messages was lost meanwhile (the answer that would have
 *   joined its waiting viewers, or the retries after it), they may have waited longer. A viewer may
 *   also leave while it waits, never joining: a grant the frontend gave back (removed) within the
 *   bound is no breach either.
 *
 * A lease is followed from the store's own `lease` facts; a store that dies takes every lease of its
 * datacenter with it at that moment. The loss checker asks it who held a live lease when a store
 * answered a lookup, and whether a store refused a frontend's lease (it was full).
 */
import { unreachable, type DcId, type EventId, type NodeId, type Topic, type Us } from '../../core/index.ts';
import type { Fact } from '../facts.ts';
import type { Fault } from '../scenario.ts';
import type { Subscriptions } from '../subscriptions.ts';
import type { Topology } from '../topology.ts';
import { forgetBefore, type FaultLog } from './fault-log.ts';
import { fmt } from './time.ts';
import type { ViolationLog } from './violations.ts';

export interface LeaseSettings {
  leaseUs: Us;
  subscribeGraceUs: Us;
  /** How long after a lease ends a dispatcher may still act on a lookup that saw it live. */
  leaseStalenessUs: Us;
  /** How long after its last viewer left a frontend's lease may still be granted or renewed. */
  withoutViewersUs: Us;
  /**
   * Reliable mode: viewers join after the grant, so a grant's viewers are looked for after it too;
   * and a delivery retried to a frontend whose lease died with its store (not by expiry) is no
   * breach while the lease had time left: the dispatcher learnt the lease from the store's answer.
   */
  reliable: boolean;
  /**
   * Reliable mode: how long after its first attempt a delivery may still be sent (its later
   * attempts, `deliverTimeoutMs` apart), so how long after a removal a lease still takes them.
   */
  deliveryRetryUs: Us;
  /** How long a refusal is remembered to explain a loss (see FaultLog). */
  keepUs: Us;
}

interface Lease {
  expUs: Us;
  /** When it stopped being live (removed, expired, or its store died); null while live. */
  deadUs: Us | null;
  /** It ended because its store died, with time left. */
  diedWithStore?: boolean;
  /** It ended by removal (its frontend's last viewer left), with time left. */
  removed?: boolean;
}

export class LeaseChecker {
  hygieneErrors = 0;
  releaseErrors = 0;
  withoutViewersErrors = 0;
  /** `dc, topic` -> frontend -> its lease. */
  private readonly leases = new Map<string, Map<NodeId, Lease>>();
  /** `dc, topic, frontend` -> when the store refused the frontend's lease (it was full), oldest first. */
  private readonly refusals = new Map<string, { t: Us }[]>();
  /** Reliable mode: grants without a viewer yet, oldest first, judged once `withoutViewersUs` has passed. */
  private readonly awaitingViewers: {
    dc: DcId;
    topic: Topic;
    frontend: NodeId;
    change: string;
    t: Us;
    /** The frontend gave the lease back while its viewers were awaited. */
    released: boolean;
  }[] = [];

  constructor(
    private readonly settings: LeaseSettings,
    private readonly topology: Topology,
    private readonly subscriptions: Subscriptions,
    private readonly faults: FaultLog,
    private readonly violations: ViolationLog,
  ) {}

  apply(fact: Fact): void {
    this.judgeAwaiting(fact.kind === 'end' ? Number.POSITIVE_INFINITY : fact.t);
    if (fact.kind === 'fault') {
      const { fault } = fact;
      if (fact.phase === 'start' && fault.kind === 'kill' && this.topology.roleOf(fault.node) === 'store')
        this.storeDied(this.topology.dcOf(fault.node), fact.t);
    } else if (fact.kind === 'lease') {
      this.changed(fact);
    } else if (fact.kind === 'sent') {
      const { type, e, topic, from, to } = fact.message;
      if (type === 'deliver' && e !== undefined && topic !== undefined)
        this.deliverSent(from, to, e, topic, fact.t);
    }
  }

  /** The frontends holding a live lease on `topic` in `dc` at `t` (now, or a moment ago). */
  liveAt(dc: DcId, topic: Topic, t: Us): NodeId[] {
    const live: NodeId[] = [];
    for (const [frontend, lease] of this.leases.get(`${dc}\u0000${topic}`) ?? [])
      if (lease.deadUs === null && lease.expUs > t) live.push(frontend);
    return live;
  }

  /** Whether `dc`'s store refused `frontend`'s lease on `topic` (it was full) within [from, to]. */
  refusedWithin(dc: DcId, topic: Topic, frontend: NodeId, from: Us, to: Us): boolean {
    const refusals = this.refusals.get(`${dc}\u0000${topic}\u0000${frontend}`) ?? [];
    return refusals.some(({ t }) => t >= from && t <= to);
  }

  private storeDied(dc: DcId, t: Us): void {
    for (const [key, leases] of this.leases)
      if (key.startsWith(`${dc}\u0000`))
        for (const lease of leases.values())
          if (lease.deadUs === null) {
            lease.deadUs = t;
            lease.diedWithStore = true;
          }
  }

  private changed({ dc, topic, frontend, change, expUs, t }: Extract<Fact, { kind: 'lease' }>): void {
    const key = `${dc}\u0000${topic}`;
    let leases = this.leases.get(key);
    if (leases === undefined) this.leases.set(key, (leases = new Map()));
    const lease = leases.get(frontend);
    switch (change) {
      case 'granted':
      case 'renewed':
        this.checkViewers(dc, topic, frontend, change, t);
        leases.set(frontend, { expUs: expUs ?? t, deadUs: null });
        return;
      case 'expired':
        this.checkRelease(dc, topic, frontend, expUs ?? t, t);
        if (lease !== undefined && lease.deadUs === null) lease.deadUs = Math.min(t, lease.expUs);
        return;
      case 'removed':
        for (const awaited of this.awaitingViewers)
          if (awaited.dc === dc && awaited.topic === topic && awaited.frontend === frontend)
            awaited.released = true;
        if (lease !== undefined && lease.deadUs === null) {
          lease.deadUs = t;
          lease.removed = true;
        }
        return;
      case 'refused': {
        const refusalKey = `${key}\u0000${frontend}`;
        let times = this.refusals.get(refusalKey);
        if (times === undefined) this.refusals.set(refusalKey, (times = []));
        times.push({ t });
        forgetBefore(times, t - this.settings.keepUs);
        return;
      }
      default:
        return unreachable(change);
    }
  }

  /** A lease granted or renewed: its frontend must have (had, a moment ago) a viewer of the topic. */
  private checkViewers(dc: DcId, topic: Topic, frontend: NodeId, change: string, t: Us): void {
    const lastViewerUs = this.subscriptions.lastViewerAt(frontend, topic, t);
    if (lastViewerUs !== null && t - lastViewerUs <= this.settings.withoutViewersUs) return;
    if (this.settings.reliable) {
      this.awaitingViewers.push({ dc, topic, frontend, change, t, released: false });
      return;
    }
    this.reportWithoutViewers(dc, topic, frontend, change, t, lastViewerUs);
  }

  /** Reliable mode: grants whose wait for a viewer ended before `now` are judged now. */
  private judgeAwaiting(now: Us): void {
    while (this.awaitingViewers.length > 0) {
      const first = this.awaitingViewers[0]!;
      if (first.t + this.settings.withoutViewersUs >= now) return;
      this.awaitingViewers.shift();
      const { dc, topic, frontend, change, t, released } = first;
      if (released) continue;
      const lastViewerUs = this.subscriptions.lastViewerAt(frontend, topic, now);
      if (lastViewerUs !== null && lastViewerUs >= t - this.settings.withoutViewersUs) continue;
      if (this.faults.leaseDropWithin(frontend, t, t + this.settings.withoutViewersUs) !== undefined)
        continue;
      this.reportWithoutViewers(dc, topic, frontend, change, t, lastViewerUs);
    }
  }

  private reportWithoutViewers(
    dc: DcId,
    topic: Topic,
    frontend: NodeId,
    change: string,
    t: Us,
    lastViewerUs: Us | null,
  ): void {
    // A storm in the datacenter may hold a request back for longer than any fault-free bound.
    const from = lastViewerUs ?? 0;
    if (
      this.faults.spans.some(
        (s) => overlaps(s, from, t) && s.fault.kind === 'jitter-storm' && inDc(s.fault, dc),
      )
    )
      return;
    this.withoutViewersErrors++;
    const since =
      lastViewerUs === null
        ? 'never had a viewer of it'
        : `has had no viewer of it since ${fmt(lastViewerUs)}`;
    this.violations.report(
      'lease-without-viewers',
      t,
      `${dc}'s store ${change} ${frontend}'s lease on "${topic}", but ${frontend} ${since}`,
      { node: frontend },
    );
  }

  /** A lease expired instead of being removed: right only if something on the frontend's lease path got in the way. */
  private checkRelease(dc: DcId, topic: Topic, frontend: NodeId, expUs: Us, t: Us): void {
    const from = expUs - this.settings.leaseUs - this.settings.subscribeGraceUs;
    for (const span of this.faults.spans)
      if (overlaps(span, from, expUs) && leasePathCategory(span.fault, frontend, dc, this.topology) !== null)
        return;
    if (this.faults.leaseDropWithin(frontend, from, expUs) !== undefined) return;
    const viewers = this.subscriptions.at(frontend, topic)?.size ?? 0;
    this.releaseErrors++;
    this.violations.report(
      'lease-release',
      t,
      `${frontend}'s lease on "${topic}" in ${dc} expired at ${fmt(expUs)} with ${viewers} viewer(s) left, and no fault explains why it was neither renewed nor removed`,
      { node: frontend },
    );
  }

  /** A dispatcher sent `frontend` an event: it must hold a live lease on the topic. */
  private deliverSent(dispatcher: NodeId, frontend: NodeId, e: EventId, topic: Topic, t: Us): void {
    const dc = this.topology.dcOf(dispatcher);
    const lease = this.leases.get(`${dc}\u0000${topic}`)?.get(frontend);
    let deadUs = lease === undefined ? null : (lease.deadUs ?? lease.expUs);
    if (this.settings.reliable && lease?.diedWithStore === true) deadUs = lease.expUs;
    else if (this.settings.reliable && lease?.removed === true && lease.deadUs !== null)
      deadUs = Math.min(lease.expUs, lease.deadUs + this.settings.deliveryRetryUs);
    if (lease === undefined || (deadUs !== null && t > deadUs + this.settings.leaseStalenessUs)) {
      this.hygieneErrors++;
      const why =
        lease === undefined
          ? `${frontend} never held a lease on "${topic}" in ${dc}`
          : `${frontend}'s lease on "${topic}" in ${dc} ended at ${fmt(deadUs ?? 0)}`;
      this.violations.report('lease-hygiene', t, `${dispatcher} sent event ${e} to ${frontend}, but ${why}`, {
        e,
        node: dispatcher,
      });
    }
  }
}

/** Whether a fault's span overlaps [from, to]. */
export function overlaps(span: { startUs: Us; endUs: Us | null }, from: Us, to: Us): boolean {
  return span.startUs <= to && (span.endUs === null || span.endUs >= from);
}

/** Whether a storm or burst reaches `dc` (one without a datacenter reaches every one). */
export function inDc(fault: { dc?: DcId }, dc: DcId): boolean {
  return fault.dc === undefined || fault.dc === dc;
}

/**
 * The loss category a fault stands for on `frontend`'s lease path in `dc` — the frontend itself, the
 * datacenter's dispatchers and store down or cut off, a jitter storm there — or null when it is
 * not on that path. Lease release and the loss explanation judge the lease path by this one rule.
 */
export function leasePathCategory(
  fault: Fault,
  frontend: NodeId,
  dc: DcId,
  topology: Topology,
): string | null {
  switch (fault.kind) {
    case 'kill':
    case 'isolate': {
      const role = topology.roleOf(fault.node);
      const onPath = fault.node === frontend || (topology.dcOf(fault.node) === dc && role !== 'frontend');
      if (!onPath) return null;
      return fault.kind === 'kill' ? `${role}-death` : `${role}-isolation`;
    }
    case 'jitter-storm':
      return inDc(fault, dc) ? fault.kind : null;
    case 'partition':
    case 'loss-burst':
      return null;
    default:
      return unreachable(fault);
  }
}
