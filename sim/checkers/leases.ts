/**
 * The lease checker: dispatchers respect the subscription store's leases, and frontends keep them
 * tidy.
 *
 * - lease hygiene: a dispatcher sends a frontend an event only while that frontend holds a lease on
 *   the topic in the dispatcher's datacenter, allowing one store round trip of staleness (the
 *   dispatcher acts on the answer of a lookup made a moment earlier);
 * - lease release: a lease ends by removal when its frontend's last viewer leaves. One that expires
 *   instead (the frontend stopped renewing without unsubscribing) must have a fault on that
 *   frontend's lease path: the frontend itself, its datacenter's dispatchers and store, a storm or
 *   burst there, or one of its lease messages lost.
 *
 * A lease is followed from the store's own `lease` facts; a store that dies takes every lease of its
 * datacenter with it at that moment.
 */
import type { DcId, EventId, NodeId, Topic, Us } from '../../core/index.ts';
import type { Fact } from '../facts.ts';
import type { Subscriptions } from '../subscriptions.ts';
import type { Topology } from '../topology.ts';
import type { FaultLog } from './fault-log.ts';
import { fmt } from './time.ts';
import type { ViolationLog } from './violations.ts';

export interface LeaseSettings {
  leaseUs: Us;
  subscribeGraceUs: Us;
  /** How long after a lease ends a dispatcher may still act on a lookup that saw it live. */
  leaseStalenessUs: Us;
}

interface Lease {
  expUs: Us;
  /** When it stopped being live (removed, expired, or its store died); null while live. */
  deadUs: Us | null;
}

export class LeaseChecker {
  hygieneErrors = 0;
  releaseErrors = 0;
  /** `dc, topic, frontend` -> the lease. */
  private readonly leases = new Map<string, Lease>();

  constructor(
    private readonly settings: LeaseSettings,
    private readonly topology: Topology,
    private readonly subscriptions: Subscriptions,
    private readonly faults: FaultLog,
    private readonly violations: ViolationLog,
  ) {}

  apply(fact: Fact): void {
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

  private storeDied(dc: DcId, t: Us): void {
    for (const [key, lease] of this.leases)
      if (key.startsWith(`${dc}\u0000`) && lease.deadUs === null) lease.deadUs = t;
  }

  private changed({ dc, topic, frontend, change, expUs, t }: Extract<Fact, { kind: 'lease' }>): void {
    const key = `${dc}\u0000${topic}\u0000${frontend}`;
    if (change === 'expired') this.checkRelease(dc, topic, frontend, expUs ?? t, t);
    if (change === 'granted' || change === 'renewed') {
      this.leases.set(key, { expUs: expUs ?? t, deadUs: null });
    } else {
      const lease = this.leases.get(key);
      if (lease !== undefined && lease.deadUs === null)
        lease.deadUs = change === 'expired' ? Math.min(t, lease.expUs) : t;
    }
  }

  /** A lease expired instead of being removed: right only if a fault on the frontend's lease path got in the way. */
  private checkRelease(dc: DcId, topic: Topic, frontend: NodeId, expUs: Us, t: Us): void {
    const from = expUs - this.settings.leaseUs - this.settings.subscribeGraceUs;
    for (const span of this.faults.spans) {
      if (span.startUs > expUs || (span.endUs !== null && span.endUs < from)) continue;
      const fault = span.fault;
      if (fault.kind === 'kill' || fault.kind === 'isolate') {
        if (
          fault.node === frontend ||
          (this.topology.dcOf(fault.node) === dc && this.topology.roleOf(fault.node) !== 'frontend')
        )
          return;
      } else if (fault.kind !== 'partition' && (fault.dc === undefined || fault.dc === dc)) return;
    }
    for (const drop of this.faults.leaseDropsOf(frontend)) if (drop.t >= from && drop.t <= expUs) return;
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
    const lease = this.leases.get(`${dc}\u0000${topic}\u0000${frontend}`);
    const deadUs = lease === undefined ? null : (lease.deadUs ?? lease.expUs);
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
