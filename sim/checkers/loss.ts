/**
 * The loss checker: every expected delivery that did not happen is explained by a fault on its
 * path; in a run with no fault at all, none is missing.
 *
 * - An expected delivery is an (event, connection) pair whose connection was subscribed to the
 *   event's topic from `subscribeGraceMs` before the publish until the event's deadline (the `due`
 *   fact). At the deadline the missing pairs are counted lost, grouped by frontend, and each group
 *   gets one explanation, tried in this order:
 *   1. a message of this event dropped on the way to that frontend or its datacenter;
 *   2. a fault on the path while it mattered (from one lease before the publish): the frontend, the
 *      accepting dispatcher, the datacenter's dispatchers and store (or the origin's store), a
 *      partition between the two datacenters, a storm or burst in either;
 *   3. one of the frontend's own lease messages lost, so its viewers were not registered.
 * - explained loss: a group with no explanation is a violation;
 * - fault-free liveness: in a run with no fault scheduled or drawn and no random loss, the same
 *   group is a violation of this invariant too. (It lives here rather than in the delivery checker
 *   because it is the same judgement — expected and missing at the deadline — in a run where
 *   nothing can explain a loss.)
 *
 * A drop's loss category (`frontend-death`, `partition`, `message-loss`...) is decided here, from
 * the drop fact's reason, fault and target; the world only says what happened.
 */
import { unreachable, type DcId, type EventId, type NodeId, type Us } from '../../core/index.ts';
import { describeFault } from '../describe-fault.ts';
import type { Fact, NetworkDropReason } from '../facts.ts';
import type { Fault } from '../scenario.ts';
import type { Subscriptions } from '../subscriptions.ts';
import type { Topology } from '../topology.ts';
import { Bitset } from './bitset.ts';
import { describeEventDrop, type EventRegistry, type TrackedEvent } from './events.ts';
import type { FaultLog } from './fault-log.ts';
import type { ViolationLog } from './violations.ts';

export interface LossSettings {
  subscribeGraceUs: Us;
  leaseUs: Us;
  /** No scheduled or random faults and no random loss: every expected delivery must arrive. */
  faultFree: boolean;
}

/** Expected deliveries of one event that did not arrive, at one frontend, with one explanation. */
export interface LossGroup {
  t: Us;
  e: EventId;
  node: NodeId | null;
  n: number;
  explained: boolean;
  cause: string;
  category: string;
  f?: number;
}

interface Explanation {
  category: string;
  text: string;
  f?: number;
}

/** A dropped message of an event, kept until the event's deadline in case it explains a loss. */
interface DropNote extends Explanation {
  t: Us;
  /** The frontend it was going to (a deliver), or the datacenter (a forward, a store message). */
  node?: NodeId;
  dc?: DcId;
}

export class LossChecker {
  expected = 0;
  readonly lost: { explained: number; unexplained: number; byCause: Record<string, number> } = {
    explained: 0,
    unexplained: 0,
    byCause: {},
  };
  private readonly notes = new Map<EventId, DropNote[]>();

  constructor(
    private readonly settings: LossSettings,
    private readonly topology: Topology,
    private readonly subscriptions: Subscriptions,
    private readonly events: EventRegistry,
    private readonly faults: FaultLog,
    private readonly violations: ViolationLog,
    private readonly onLoss: (group: LossGroup) => void,
  ) {}

  apply(fact: Fact): void {
    if (fact.kind === 'dropped') this.dropped(fact);
    else if (fact.kind === 'due') this.due(fact.e, fact.t);
  }

  private dropped(fact: Extract<Fact, { kind: 'dropped' }>): void {
    const text = describeEventDrop(fact);
    const { e, type, to } = fact.message;
    if (text === null || e === undefined) return;
    const tracked = this.events.get(e);
    if (tracked === undefined || tracked.finalized) return;
    const where = type === 'deliver' ? { node: to } : { dc: this.topology.dcOf(to) };
    const category =
      fact.why === 'target-dead' ? `${this.topology.roleOf(to)}-death` : categoryOfDrop(fact.why, fact.f);
    let notes = this.notes.get(e);
    if (notes === undefined) this.notes.set(e, (notes = []));
    notes.push({ t: fact.t, category, text, ...where, ...(fact.f === undefined ? {} : { f: fact.f }) });
  }

  /**
   * The event's deadline has passed: every connection subscribed from `subscribeGraceMs` before
   * the publish until now should have it. Count and explain the ones that do not.
   */
  private due(e: EventId, t: Us): void {
    const tracked = this.events.get(e);
    if (tracked === undefined || tracked.finalized) return;
    tracked.finalized = true;
    const latestStart = tracked.publishUs - this.settings.subscribeGraceUs;
    const missingByFrontend = new Map<NodeId, number[]>();
    for (const [c, since] of this.subscriptions.of(tracked.stamp.topic) ?? []) {
      if (since > latestStart) continue;
      this.expected++;
      if (tracked.received.has(c)) continue;
      const { frontend } = this.subscriptions.get(c) as { frontend: NodeId };
      let list = missingByFrontend.get(frontend);
      if (list === undefined) missingByFrontend.set(frontend, (list = []));
      list.push(c);
    }
    const groups: LossGroup[] = [];
    for (const [frontend, missing] of missingByFrontend) {
      tracked.lost ??= new Bitset();
      for (const c of missing) tracked.lost.testAndSet(c);
      const explanation = this.explain(tracked, frontend, t);
      groups.push({
        t,
        e,
        node: frontend,
        n: missing.length,
        explained: explanation !== null,
        cause: explanation?.text ?? 'no fault on its path',
        category: explanation?.category ?? 'unexplained',
        ...(explanation?.f === undefined ? {} : { f: explanation.f }),
      });
      if (explanation !== null) {
        this.lost.explained += missing.length;
        this.lost.byCause[explanation.category] =
          (this.lost.byCause[explanation.category] ?? 0) + missing.length;
      } else {
        this.lost.unexplained += missing.length;
        const first = this.subscriptions.idOf(missing[0] as number);
        const message = `event ${e} of "${tracked.stamp.topic}" never reached ${missing.length} connection(s) of ${frontend} (first: ${first}), and no fault was on its path`;
        this.violations.report('explained-loss', t, message, { e, connection: first, node: frontend });
        if (this.settings.faultFree) {
          this.violations.report('fault-free-liveness', t, `in a run without faults, ${message}`, {
            e,
            connection: first,
            node: frontend,
          });
        }
      }
    }
    // The drops are only needed while a loss of this event can still be explained.
    this.notes.delete(e);
    for (const group of groups) this.onLoss(group);
  }

  /** The fault that explains why `frontend` missed the event, or null if there is none. */
  private explain(tracked: TrackedEvent, frontend: NodeId, now: Us): Explanation | null {
    const dc = this.topology.dcOf(frontend);
    // 1. A message of this event lost on the way to this frontend or its datacenter.
    for (const note of this.notes.get(tracked.stamp.id) ?? []) {
      if (note.node === frontend || note.dc === dc)
        return { category: note.category, text: note.text, ...(note.f === undefined ? {} : { f: note.f }) };
    }
    // 2. A fault on the path during the window in which it mattered.
    const from = tracked.publishUs - this.settings.leaseUs - this.settings.subscribeGraceUs;
    for (const span of this.faults.spans) {
      if (span.startUs > now || (span.endUs !== null && span.endUs < from)) continue;
      const category = this.onPath(span.fault, frontend, dc, tracked);
      if (category !== null)
        return { category, text: `${describeFault(span.fault)} (fault #${span.f})`, f: span.f };
    }
    // 3. The frontend's own lease messages were lost, so it was not registered.
    for (const drop of this.faults.leaseDropsOf(frontend)) {
      if (drop.t >= from && drop.t <= now)
        return {
          category: categoryOfDrop(drop.why, drop.f),
          text: `a lease message of ${frontend} was dropped (${drop.why})`,
          ...(drop.f === undefined ? {} : { f: drop.f }),
        };
    }
    return null;
  }

  /** The loss category a fault stands for on this event's path to `frontend`, or null when it is not on the path. */
  private onPath(fault: Fault, frontend: NodeId, dc: DcId, tracked: TrackedEvent): string | null {
    const origin = tracked.origin;
    switch (fault.kind) {
      case 'kill':
      case 'isolate': {
        const node = fault.node;
        const nodeDc = this.topology.dcOf(node);
        const role = this.topology.roleOf(node);
        const onPath =
          node === frontend ||
          node === tracked.dispatcher ||
          (nodeDc === dc && role !== 'frontend') ||
          (nodeDc === origin && role === 'store' && dc === origin);
        if (!onPath) return null;
        return fault.kind === 'kill' ? `${role}-death` : `${role}-isolation`;
      }
      case 'partition':
        return dc !== origin && fault.between.includes(dc) && fault.between.includes(origin)
          ? 'partition'
          : null;
      case 'jitter-storm':
      case 'loss-burst':
        return fault.dc === undefined || fault.dc === dc || fault.dc === origin ? fault.kind : null;
      default:
        return unreachable(fault);
    }
  }
}

/** The loss category of a dropped message (a dead target is named by its role where that is known). */
function categoryOfDrop(why: NetworkDropReason, f: number | undefined): string {
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
