/**
 * Every checker of a run, fed one fact at a time, in one order: first the projections the checkers
 * share (who is subscribed where, the faults so far, the event registry and its causal chains),
 * then the checkers, one per invariant family (delivery, leases, forwarding, reliable, loss,
 * occupancy). So a checker
 * always judges a fact against projections that already include it, and a violation's chain ends
 * with the step that revealed it.
 *
 * What the checkers conclude is their own output stream: each detailed violation, each group of
 * lost deliveries at an event's deadline, and at the `end` fact the summary. The trace writer
 * subscribes to it; `summary()` gives the same summary to whoever ran the checkers.
 *
 * The settings come from the `run` fact (the scenario and its whole fault schedule), so the same
 * checkers judge a live run and a trace read back from a file. Each event is followed whole for a
 * named retention after its deadline and then forgotten but for its identity (events.ts), so memory
 * stays bounded however long the run or the trace.
 *
 * The scenario's delivery mode decides what is judged (violations.ts, `judgedInvariants`): both
 * modes judge integrity, misdelivery, duplicates, the leases, forwarding, liveness after heal,
 * viewer counts (occupancy.ts) and runaways; best-effort judges loss by its causes (explained loss, fault-free liveness); reliable
 * judges duplicates per viewer across connections, and eventual delivery, order, honest gaps and
 * acknowledged-means-delivered instead of loss (reliable.ts).
 */
import {
  assert,
  usOfMs,
  type DcId,
  type DeliveryMode,
  type EventId,
  type NodeId,
  type Us,
} from '../../core/index.ts';
import { itemBudget, runawayFactor } from '../budget.ts';
import type { Fact } from '../facts.ts';
import type { Histogram } from '../histogram.ts';
import type { Scenario } from '../scenario.ts';
import { catchUpMs, healedAt, settleMs } from '../settle.ts';
import { Subscriptions } from '../subscriptions.ts';
import { Topology } from '../topology.ts';
import { DeliveryChecker } from './delivery.ts';
import { EventRegistry, type EventsHeld } from './events.ts';
import { FaultLog } from './fault-log.ts';
import { ForwardingChecker } from './forwarding.ts';
import { LeaseChecker } from './leases.ts';
import { Explainer } from './explain.ts';
import { LossChecker, type LivenessSummary, type LossGroup } from './loss.ts';
import { OccupancyChecker, type OccupancySummary } from './occupancy.ts';
import { ReliableChecker, type ReliableCounts } from './reliable.ts';
import { ViolationLog, type InvariantName, type Violation } from './violations.ts';

/** What the checkers counted, as the run's report carries it. */
export interface DeliveryCounts {
  published: number;
  expected: number;
  delivered: number;
  late: number;
  lost: { explained: number; unexplained: number; byCause: Record<string, number> };
  duplicates: number;
  misdeliveries: number;
  integrityErrors: number;
  leaseHygieneErrors: number;
  leaseReleaseErrors: number;
  leaseWithoutViewersErrors: number;
  forwardDisciplineErrors: number;
  forwardTimelinessErrors: number;
  liveness: LivenessSummary;
  /** Reliable mode's counts; absent in best-effort. */
  reliable?: ReliableCounts;
  /** What the viewer counts came to (occupancy.ts). */
  occupancy: OccupancySummary;
}

export interface CheckerSummary extends DeliveryCounts {
  violationCounts: Record<InvariantName, number>;
  violations: Violation[];
  latency: { overall: Histogram; sameDc: Histogram; crossDc: Histogram };
}

/**
 * The running totals, as replay shows them while it steps through a trace: cheap enough to read
 * after every fact.
 */
export interface CheckerTotals {
  published: number;
  delivered: number;
  duplicates: number;
  lostExplained: number;
  lostUnexplained: number;
  /** Every violation of every invariant, counted (not only the ones kept in detail). */
  violations: number;
}

export type CheckerOutput =
  | { kind: 'violation'; violation: Violation }
  | { kind: 'loss'; group: LossGroup }
  /** At the run's `end` fact: `t` and `items` are the end fact's. */
  | { kind: 'summary'; t: Us; items: number; summary: CheckerSummary };

export type CheckerOutputSink = (output: CheckerOutput) => void;

export interface CheckerOptions {
  /** Keep every event whole to the end instead of for its retention: the reference a test compares with. */
  retainEventsForever?: boolean;
}

/** What the checkers hold per event, for tests and benchmarks of the retention. */
export interface CheckersHeld extends EventsHeld {
  /** Forward attempts remembered. */
  forwardAttempts: number;
  /** Events whose store positions the reliable checker keeps (0 in best-effort). */
  storePositions: number;
}

/**
 * How long after its deadline an event is followed whole: one more deadline (the last retries of a
 * forward or a lookup that began just before it) and the settle window (a viewer that lost its
 * connection reconnects and resumes with what it missed).
 */
export function eventRetentionUs(scenario: Scenario): Us {
  return usOfMs(scenario.deliveryDeadlineMs + settleMs(scenario));
}

/** The scenario's delivery mode. */
export function deliveryModeOf(scenario: Scenario): DeliveryMode {
  // TODO(sim/scenario.ts): read `scenario.mode` once the Scenario type has it (another branch adds it).
  return (scenario as { mode?: string }).mode === 'reliable' ? 'reliable' : 'best-effort';
}

export class Checkers {
  private running: RunningCheckers | null = null;

  constructor(
    private readonly onOutput: CheckerOutputSink = () => {},
    private readonly options: CheckerOptions = {},
  ) {}

  apply(fact: Fact): void {
    if (fact.kind === 'run') {
      assert(this.running === null, 'a second run fact');
      const retentionUs = this.options.retainEventsForever === true ? null : eventRetentionUs(fact.scenario);
      this.running = new RunningCheckers(fact, retentionUs, this.onOutput);
      return;
    }
    assert(this.running !== null, `a ${fact.kind} fact before the run fact`);
    this.running.apply(fact);
  }

  summary(): CheckerSummary {
    assert(this.running !== null, 'no run to summarise');
    return this.running.summary();
  }

  held(): CheckersHeld {
    assert(this.running !== null, 'no run to measure');
    return this.running.held();
  }

  /** The totals so far (all zero before the run fact). */
  totals(): CheckerTotals {
    return this.running?.totals() ?? zeroTotals();
  }
}

/** Totals before anything was counted. */
export function zeroTotals(): CheckerTotals {
  return { published: 0, delivered: 0, duplicates: 0, lostExplained: 0, lostUnexplained: 0, violations: 0 };
}

class RunningCheckers {
  private readonly subscriptions = new Subscriptions();
  private readonly faults: FaultLog;
  private readonly events: EventRegistry;
  private readonly violations: ViolationLog;
  private readonly delivery: DeliveryChecker;
  private readonly leases: LeaseChecker;
  private readonly forwarding: ForwardingChecker;
  private readonly explainer: Explainer;
  private readonly loss: LossChecker;
  /** Reliable mode's checker; null in best-effort. */
  private readonly reliable: ReliableChecker | null;
  private readonly occupancy: OccupancyChecker;
  private readonly itemBudget: number;

  constructor(
    run: Extract<Fact, { kind: 'run' }>,
    retentionUs: Us | null,
    private readonly onOutput: CheckerOutputSink,
  ) {
    const { scenario } = run;
    const mode = deliveryModeOf(scenario);
    this.itemBudget = itemBudget(scenario);
    this.events = new EventRegistry(retentionUs);
    const topology = new Topology(run.nodes);
    const network = scenario.network;
    const subscribeGraceUs = usOfMs(scenario.subscribeGraceMs);
    // Real processes' timers fire late by up to this (a chaos run says how much; simulated ones: 0).
    const slackUs = run.timerSlackUs ?? 0;
    const leaseUs = usOfMs(scenario.roles.leaseMs);
    // As far back as an explanation may look: a lease and the grace before a lookup, itself at most
    // a delivery deadline before the loss is judged.
    const keepUs = leaseUs + subscribeGraceUs + usOfMs(scenario.deliveryDeadlineMs);
    this.faults = new FaultLog(keepUs);
    this.violations = new ViolationLog(
      (e) => this.events.chainOf(e),
      (violation) => onOutput({ kind: 'violation', violation }),
    );
    this.delivery = new DeliveryChecker(
      topology,
      this.subscriptions,
      this.events,
      this.violations,
      mode === 'reliable',
      (e, dc, epoch) => this.reliable?.appendedBefore(e, dc, epoch) === true,
    );
    this.leases = new LeaseChecker(
      // A dispatcher may act on a lookup answered up to one store request timeout (and a tick) ago.
      {
        leaseUs,
        subscribeGraceUs,
        leaseStalenessUs: usOfMs(scenario.roles.storeRequestTimeoutMs + 1) + slackUs,
        withoutViewersUs: withoutViewersUs(scenario) + slackUs,
        reliable: (scenario as { mode?: string }).mode === 'reliable',
        deliveryRetryUs:
          usOfMs((scenario.roles.deliverAttemptsMax - 1) * scenario.roles.deliverTimeoutMs) + slackUs,
        keepUs,
      },
      topology,
      this.subscriptions,
      this.faults,
      this.violations,
    );
    this.forwarding = new ForwardingChecker(
      usOfMs(scenario.roles.forwardTimeoutMs),
      slackUs,
      topology,
      this.violations,
    );
    this.explainer = new Explainer(
      {
        leaseUs,
        subscribeGraceUs,
        reliable: mode === 'reliable',
        storeTimeoutUs: usOfMs(scenario.roles.storeRequestTimeoutMs),
      },
      topology,
      this.events,
      this.faults,
      this.leases,
    );
    const dcs = [...new Set(run.nodes.map((node): DcId => node.dc))];
    const reliable =
      mode === 'reliable'
        ? new ReliableChecker(
            topology,
            dcs,
            this.subscriptions,
            this.events,
            this.violations,
            usOfMs(catchUpMs(scenario)) + slackUs,
            usOfMs(scenario.deliveryDeadlineMs),
          )
        : null;
    this.reliable = reliable;
    this.occupancy = new OccupancyChecker(scenario, topology, this.subscriptions, dcs, this.violations);
    const healedUs = healedAt(run.faults);
    this.loss = new LossChecker(
      {
        subscribeGraceUs,
        judgesLoss: mode === 'best-effort',
        faultFree:
          run.faults.length === 0 && network.intraDc.lossPerMillion + network.crossDc.lossPerMillion === 0,
        healedUs,
        liveFromUs: healedUs === null ? null : healedUs + usOfMs(settleMs(scenario)),
        ...(reliable === null
          ? {}
          : {
              toldAway: (e: EventId, c: number, frontend: NodeId) =>
                reliable.toldAway(e, c, topology.dcOf(frontend)),
            }),
      },
      this.subscriptions,
      this.events,
      this.explainer,
      this.violations,
      (group) => onOutput({ kind: 'loss', group }),
    );
  }

  apply(fact: Fact): void {
    for (const e of this.events.retire(fact.t)) {
      this.forwarding.forget(e);
      this.reliable?.forget(e);
    }
    this.subscriptions.apply(fact);
    this.faults.apply(fact);
    this.events.apply(fact);
    this.delivery.apply(fact);
    this.leases.apply(fact);
    this.forwarding.apply(fact);
    this.reliable?.apply(fact);
    this.explainer.apply(fact);
    this.loss.apply(fact);
    this.occupancy.apply(fact);
    if (fact.kind === 'end' && fact.items >= this.itemBudget)
      this.violations.report(
        'runaway',
        fact.t,
        `the run stopped at ${fact.items.toLocaleString('en-US')} items, its budget (${runawayFactor}x a fault-free estimate of the scenario's work): something keeps relaying or retrying`,
        {},
      );
    if (fact.kind === 'end')
      this.onOutput({ kind: 'summary', t: fact.t, items: fact.items, summary: this.summary() });
  }

  held(): CheckersHeld {
    return {
      ...this.events.held(),
      forwardAttempts: this.forwarding.held,
      storePositions: this.reliable?.held ?? 0,
    };
  }

  totals(): CheckerTotals {
    const counts = this.violations.counts;
    let violations = 0;
    for (const invariant in counts) violations += counts[invariant as InvariantName];
    return {
      published: this.events.published,
      delivered: this.delivery.delivered,
      duplicates: this.delivery.duplicates,
      lostExplained: this.loss.lost.explained,
      lostUnexplained: this.loss.lost.unexplained,
      violations,
    };
  }

  /** Today's report shape, key for key (the `--json` report spreads it). */
  summary(): CheckerSummary {
    const { delivery, leases, forwarding, loss, violations } = this;
    return {
      published: this.events.published,
      expected: loss.expected,
      delivered: delivery.delivered,
      late: delivery.late,
      lost: loss.lost,
      duplicates: delivery.duplicates,
      misdeliveries: delivery.misdeliveries,
      integrityErrors: delivery.integrityErrors,
      leaseHygieneErrors: leases.hygieneErrors,
      leaseReleaseErrors: leases.releaseErrors,
      leaseWithoutViewersErrors: leases.withoutViewersErrors,
      forwardDisciplineErrors: forwarding.disciplineErrors,
      forwardTimelinessErrors: forwarding.timelinessErrors,
      liveness: loss.liveness,
      ...(this.reliable === null ? {} : { reliable: this.reliable.counts() }),
      occupancy: this.occupancy.summary(),
      violationCounts: violations.counts,
      violations: violations.kept,
      latency: delivery.latency,
    };
  }
}

/**
 * How long after a frontend's last viewer of a topic left its lease on the topic may still be
 * granted or renewed: a request sent while it had one may be retried `leaseAttemptsMax` times, each
 * after `leaseRequestTimeoutMs`, and wait behind a store request's timeout, over hops each as slow
 * as a fault-free link can be (its base plus twenty jitters), a network duplicate included.
 */
export function withoutViewersUs(scenario: Scenario): Us {
  const { roles, network } = scenario;
  const slowestHopUs = network.intraDc.latency.baseUs + 20 * network.intraDc.latency.jitterUs;
  return (
    usOfMs(roles.leaseAttemptsMax * roles.leaseRequestTimeoutMs + roles.storeRequestTimeoutMs) +
    4 * slowestHopUs
  );
}
