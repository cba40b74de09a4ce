/**
 * The loss checker: every expected delivery that did not happen has a cause on its own path; in a
 * run with no fault at all none is missing; and once every fault has healed and the world has
 * settled, nothing is missing but what the network's random loss or a full store took.
 *
 * - An expected delivery is an (event, connection) pair whose connection was subscribed to the
 *   event's topic from `subscribeGraceMs` before the publish until the event's deadline (the `due`
 *   fact). At the deadline the missing pairs are counted lost, grouped by frontend, and each group
 *   gets one causal explanation (`explain.ts`).
 * - explained loss: a group with no explanation is a violation;
 * - fault-free liveness: in a run with no fault scheduled or drawn and no random loss, the same
 *   group is a violation of this invariant too (these two in best-effort mode only: in reliable
 *   mode a delivery missing at its deadline may still come, and reliable.ts judges that it does);
 * - liveness after heal: an event published once every fault has ended and `settleMs` has passed
 *   must reach every connection subscribed through it, unless the network's random loss dropped
 *   one of its own messages or its frontend's lease messages, or the store refused the lease for
 *   being full; in reliable mode a connection told by a gap notice that the event's seq will not
 *   reach it is not missing it either (whether the gap was honest is reliable.ts' to judge). The report gives when the world converged: the publish time of the last event,
 *   after the heal, that a fault still cost deliveries.
 */
import type { EventId, NodeId, Us } from '../../core/index.ts';
import type { Fact } from '../facts.ts';
import type { Subscriptions } from '../subscriptions.ts';
import { Bitset } from './bitset.ts';
import type { EventRegistry } from './events.ts';
import type { Explainer } from './explain.ts';
import { fmt } from './time.ts';
import type { ViolationLog } from './violations.ts';

export interface LossSettings {
  subscribeGraceUs: Us;
  /**
   * Whether a missing delivery is a loss to explain (best-effort). In reliable mode one missing at
   * its deadline may still come from the history: it is counted, and only liveness after heal is
   * judged from it here (eventual delivery is reliable.ts').
   */
  judgesLoss: boolean;
  /** No scheduled or random faults and no random loss: every expected delivery must arrive. */
  faultFree: boolean;
  /** When the last fault ended; null when one never ends (a kill without restart). */
  healedUs: Us | null;
  /** From when liveness after heal is judged: the heal plus the scenario's settle time. */
  liveFromUs: Us | null;
  /** Reliable mode: whether connection `c` (at `frontend`) was told by a gap notice that event `e` will not reach it. */
  toldAway?: (e: EventId, c: number, frontend: NodeId) => boolean;
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

/** What a run's liveness after heal came to, as the report carries it. */
export interface LivenessSummary {
  /** When the last fault ended (ms); null when one never ends. */
  healedAtMs: number | null;
  /** From when every event had to arrive (ms); null when never. */
  checkedFromMs: number | null;
  /** Events published from then on, whose deliveries were judged. */
  eventsChecked: number;
  /**
   * How long after the heal a fault still cost deliveries: the publish time of the last event
   * that lost some to anything but random loss or a full store, less the heal (ms); 0 when none did.
   */
  convergedAfterMs: number | null;
}

/** Explanations the world's weather gives even when every fault has healed. */
const weatherCategories = new Set(['message-loss', 'store-full']);

/** The category of deliveries a gap notice stood in for (reliable mode). */
const toldAwayCategory = 'gap-notice';

export class LossChecker {
  expected = 0;
  readonly lost: { explained: number; unexplained: number; byCause: Record<string, number> } = {
    explained: 0,
    unexplained: 0,
    byCause: {},
  };
  private eventsChecked = 0;
  private lastFaultLossUs: Us | null = null;

  constructor(
    private readonly settings: LossSettings,
    private readonly subscriptions: Subscriptions,
    private readonly events: EventRegistry,
    private readonly explainer: Explainer,
    private readonly violations: ViolationLog,
    private readonly onLoss: (group: LossGroup) => void,
  ) {}

  apply(fact: Fact): void {
    if (fact.kind === 'due') this.due(fact.e, fact.t);
  }

  get liveness(): LivenessSummary {
    const { healedUs, liveFromUs } = this.settings;
    const ms = (us: Us | null): number | null => (us === null ? null : Math.round(us / 1_000));
    return {
      healedAtMs: ms(healedUs),
      checkedFromMs: ms(liveFromUs),
      eventsChecked: this.eventsChecked,
      convergedAfterMs:
        healedUs === null ? null : this.lastFaultLossUs === null ? 0 : ms(this.lastFaultLossUs - healedUs),
    };
  }

  /**
   * The event's deadline has passed: every connection subscribed from `subscribeGraceMs` before
   * the publish until now should have it. Count and explain the ones that do not.
   */
  private due(e: EventId, t: Us): void {
    const tracked = this.events.get(e);
    if (tracked === undefined || tracked.finalized) return;
    tracked.finalized = true;
    const { liveFromUs, healedUs } = this.settings;
    const live = liveFromUs !== null && tracked.publishUs >= liveFromUs;
    if (live) this.eventsChecked++;
    const latestStart = tracked.publishUs - this.settings.subscribeGraceUs;
    const missingByFrontend = new Map<NodeId, number[]>();
    let toldAway = 0;
    for (const [c, since] of this.subscriptions.of(tracked.stamp.topic) ?? []) {
      if (since > latestStart) continue;
      this.expected++;
      if (tracked.received.has(c)) continue;
      const { frontend } = this.subscriptions.get(c) as { frontend: NodeId };
      if (this.settings.toldAway?.(e, c, frontend) === true) {
        toldAway++;
        continue;
      }
      let list = missingByFrontend.get(frontend);
      if (list === undefined) missingByFrontend.set(frontend, (list = []));
      list.push(c);
    }
    if (toldAway > 0) {
      this.lost.explained += toldAway;
      this.lost.byCause[toldAwayCategory] = (this.lost.byCause[toldAwayCategory] ?? 0) + toldAway;
    }
    const groups: LossGroup[] = [];
    for (const [frontend, missing] of missingByFrontend) {
      tracked.lost ??= new Bitset();
      for (const c of missing) tracked.lost.testAndSet(c);
      const explanation = this.explainer.explain(tracked, frontend, t);
      groups.push({
        t,
        e,
        node: frontend,
        n: missing.length,
        explained: explanation !== null,
        cause: explanation?.text ?? 'nothing on its path explains it',
        category: explanation?.category ?? 'unexplained',
        ...(explanation?.f === undefined ? {} : { f: explanation.f }),
      });
      const first = this.subscriptions.idOf(missing[0] as number);
      const where = { e, connection: first, node: frontend };
      const weather = explanation !== null && weatherCategories.has(explanation.category);
      if (healedUs !== null && tracked.publishUs >= healedUs && !weather)
        this.lastFaultLossUs = Math.max(this.lastFaultLossUs ?? 0, tracked.publishUs);
      if (live && !weather)
        this.violations.report(
          'liveness-after-heal',
          t,
          `event ${e} of "${tracked.stamp.topic}", published at ${fmt(tracked.publishUs)} after every fault had healed (${fmt(healedUs ?? 0)}) and the world had settled, never reached ${missing.length} connection(s) of ${frontend} (first: ${first})${explanation === null ? '' : `; the nearest cause, ${explanation.text}, is no longer in force`}`,
          where,
        );
      if (explanation !== null) {
        this.lost.explained += missing.length;
        this.lost.byCause[explanation.category] =
          (this.lost.byCause[explanation.category] ?? 0) + missing.length;
      } else {
        this.lost.unexplained += missing.length;
        const message = `event ${e} of "${tracked.stamp.topic}" never reached ${missing.length} connection(s) of ${frontend} (first: ${first}), and nothing on its path explains it`;
        if (!this.settings.judgesLoss) continue;
        this.violations.report('explained-loss', t, message, where);
        if (this.settings.faultFree)
          this.violations.report('fault-free-liveness', t, `in a run without faults, ${message}`, where);
      }
    }
    this.explainer.forget(e);
    for (const group of groups) this.onLoss(group);
  }
}
