/**
 * What went wrong and when, as the checkers that explain things need it: each fault's span in time,
 * and each frontend's lost lease messages (a subscribe, renewal or unsubscribe, its store write or
 * its answer). A lease that lapsed, or a viewer its frontend never registered, is explained only by
 * one of these on the frontend's own path.
 */
import type { NodeId, Us } from '../../core/index.ts';
import type { Fact, NetworkDropReason } from '../facts.ts';
import type { Fault } from '../scenario.ts';

export interface FaultSpan {
  f: number;
  fault: Fault;
  startUs: Us;
  /** Null while the fault lasts (a kill without restart lasts to the end). */
  endUs: Us | null;
}

export interface LeaseMessageDrop {
  t: Us;
  why: NetworkDropReason;
  f?: number;
}

export class FaultLog {
  readonly spans: FaultSpan[] = [];
  private readonly leaseDrops = new Map<NodeId, LeaseMessageDrop[]>();

  /**
   * @param keepUs how long a lost lease message is remembered: as far back as any explanation may
   * look (a lease and the subscribe grace before a lookup, which is at most a delivery deadline
   * before the loss is judged).
   */
  constructor(private readonly keepUs: Us) {}

  apply(fact: Fact): void {
    if (fact.kind === 'fault') {
      if (fact.phase === 'start') {
        this.spans.push({ f: fact.f, fault: fact.fault, startUs: fact.t, endUs: null });
      } else {
        const span = this.spans.find((s) => s.f === fact.f && s.endUs === null);
        if (span !== undefined) span.endUs = fact.t;
      }
    } else if (fact.kind === 'dropped') {
      // A message about an event is that event's loss; only one about no event is a lease's.
      const { e, leaseOf } = fact.message;
      if (e !== undefined || leaseOf === undefined) return;
      let drops = this.leaseDrops.get(leaseOf);
      if (drops === undefined) this.leaseDrops.set(leaseOf, (drops = []));
      drops.push({ t: fact.t, why: fact.why, ...(fact.f === undefined ? {} : { f: fact.f }) });
      forgetBefore(drops, fact.t - this.keepUs);
    }
  }

  /** The first lease message of `frontend` lost within [from, to], if any. */
  leaseDropWithin(frontend: NodeId, from: Us, to: Us): LeaseMessageDrop | undefined {
    return this.leaseDrops.get(frontend)?.find((drop) => drop.t >= from && drop.t <= to);
  }
}

/** Drop the entries of a time-ordered list older than `t`. */
export function forgetBefore<T extends { t: Us }>(list: T[], t: Us): void {
  let old = 0;
  while (old < list.length && (list[old] as T).t < t) old++;
  if (old > 0) list.splice(0, old);
}
