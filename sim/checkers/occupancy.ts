/**
 * The occupancy checker: the viewer counts frontends tell their watchers converge to the truth once
 * the world is quiet, and a datacenter that is cut off is shown as stale, never silently dropped.
 *
 * Truth. At each moment a topic's true count is the number of connections subscribed to it — from
 * their `joined` until their `left`, or until they close (a frontend that dies closes all of its
 * connections at once: its viewers are gone) — per datacenter by their frontend's. A frontend
 * counts a connection from its subscribe; in best-effort that is the moment of its `joined`, in
 * reliable mode a little earlier (it joins once its stream has started, a lease round trip later
 * in a quiet world). The truth changes only later than what the frontends count, never earlier,
 * so from a quiet point of the truth on both agree.
 *
 * Watchers are the connections whose viewer asked for counts (`occupancy` on their `opened`
 * fact); what a frontend told them are the `occupancy` facts, each connection's latest per topic
 * (forgotten when it leaves the topic).
 *
 * occupancy-converge. A topic is quiet from its last disturbance on: a change of its truth (a
 * join, a leave, a close), a store refusing one of its leases, or, for every topic, a fault
 * starting or ending, a frontend dying, a message of the occupancy path lost (a lease request or
 * answer, a store write or answer about no event, a dispatchers' `occupancy` message) or a lease
 * request given up. Each disturbance names when its effects are out of every count: B after it
 * (sim/occupancy-bounds.ts: B = max(renewEveryMs, I) + 3 x I + 2 x W + hopCross + 2 x hopIntra +
 * rounding), after a jitter storm B after its slowest message, after a frontend's death
 * B_death = leaseMs + staleMs + I + 2 x hopIntra + B. While a fault is in force nothing is
 * judged; after a dispatcher or store died for good nothing is judged again. Once a topic's
 * horizon has passed and no fault is in force, every watcher's latest count of it must be the
 * truth, with no datacenter stale: checked for every watcher when the horizon passes, then for
 * every count told until the next disturbance. This is the issue's "once churn and faults stop"
 * made per topic, so a run is judged in every quiet stretch, not only after its last change; a
 * dead frontend's viewers leaving every count within its lease is the B_death horizon of its
 * death. Not judged at all: a run whose store limits could refuse a lease or a peer's total
 * (fewer topics, frontends per topic or peer datacenters than the workload has), since a refused
 * total is no fact.
 *
 * occupancy-stale-dropped. Datacenter X is cut off from Y while a partition drops every message
 * from X to Y. A frontend tells a watcher a new count only when it changed, at the interval after
 * the `lease-reply` that brought it arrived; so a count told at t to a watcher told before was
 * composed, by the dispatcher that sent it, when one of the lease replies the frontend received
 * in [t - I, t] was sent (their `sent` facts say when, and by whom). When every one of them was
 * sent while X was cut off from Y, by a dispatcher that had not restarted since the cut began
 * (it would count X as heard at its start), from a store that had not either (it would have lost
 * X's total), within the store's `remoteKeepMs`:
 * - X's share must still be there, if the watcher had been told a nonzero one: a datacenter that
 *   cannot be heard from keeps its last known share (a share that vanishes was silently dropped);
 * - X must be flagged stale if every one of them was sent more than `staleMs` into the cut.
 * And `staleMs` + 2 x I + W + 2 x hopIntra into a cut (the dispatchers' staleness, a watched
 * topic's next renewal and its answer, the tell after it), every watcher in Y whose count holds X's
 * share must have been told X is stale — judged only when nothing but partitions went wrong since
 * the cut began (no other fault, no jitter storm's message still on its way, no message lost
 * otherwise, no request given up, no store or dispatcher of Y restarted).
 *
 * The report's occupancy section: watchers, counts told, the largest error |told - truth| over
 * the run and over the judged stretches, stale counts told, and per datacenter how long after its
 * topics' last disturbance the counts told there stopped changing, beside B.
 */
import {
  defaultStoreLimits,
  unreachable,
  usOfMs,
  type DcId,
  type MessageType,
  type NodeId,
  type Topic,
  type Us,
} from '../../core/index.ts';
import { describeFault } from '../describe-fault.ts';
import type { Fact } from '../facts.ts';
import {
  convergeFormula,
  occupancyBounds,
  occupancyWatched,
  slowestHopUs,
  type OccupancyBounds,
} from '../occupancy-bounds.ts';
import type { Scenario } from '../scenario.ts';
import type { Subscriptions } from '../subscriptions.ts';
import type { Topology } from '../topology.ts';
import { fmt } from './time.ts';
import type { ViolationLog } from './violations.ts';

/** What the checker made of a run's viewer counts, as the report carries it. */
export interface OccupancySummary {
  /** Why nothing was judged (occupancy off, nobody watches, store limits that could bind); null if judged. */
  notJudged: string | null;
  /** Viewers that watched counts. */
  watchers: number;
  /** Counts told: occupancy facts, and the connections they went to. */
  told: { records: number; connections: number };
  /** The largest |told - truth| of a count when it was told, over the run. */
  maxError: OccupancyError | null;
  /** The largest over the stretches judged (0 unless occupancy-converge broke). */
  maxErrorJudgedViewers: number;
  /** The mean |told - truth| of what a watcher was told, over every count told to a connection. */
  meanErrorViewers: number;
  /** Quiet stretches whose horizon passed: each one's watchers were checked. */
  windowsJudged: number;
  /**
   * Counts told with a stale datacenter, and which datacenters were ever told stale; counts judged
   * against a cut (composed inside it), and cuts whose stale check was made.
   */
  stale: { records: number; dcs: DcId[]; judged: number; cutsChecked: number };
  /** B and B_death in ms, and B's formula with the scenario's numbers. */
  boundMs: number;
  deathBoundMs: number;
  formula: string;
  /**
   * Per datacenter: how long after its topics' last disturbance the counts told there stopped
   * changing (the worst topic); null when a watcher's count was still wrong at the end.
   */
  convergence: OccupancyConvergence[];
}

export interface OccupancyError {
  viewers: number;
  t: Us;
  topic: Topic;
  node: NodeId;
  told: number;
  truth: number;
}

export interface OccupancyConvergence {
  dc: DcId;
  topic: Topic | null;
  /** Null: a watcher there still had a wrong count at the end. */
  afterMs: number | null;
  /** The topic's last disturbance, and whether its horizon passed before the end (it was judged). */
  quietSinceMs: number | null;
  judged: boolean;
}

interface Told {
  t: Us;
  node: NodeId;
  count: number;
  byDc: Readonly<Record<DcId, number>>;
  stale: readonly DcId[];
}

/** Something that moves counts: when, until when its effects may last, and what it was. */
interface Disturbance {
  t: Us;
  untilUs: Us;
  what: string;
}

/** Since when a topic (or every topic) has been quiet, and the disturbance whose effects last longest. */
interface Quiet {
  latest: Disturbance;
  binding: Disturbance;
}

/** A partition's cut of messages from one datacenter to another, while it lasts (`untilUs` null) or after. */
interface Cut {
  from: DcId;
  to: DcId;
  /** The partitions making it now, and every one that did. */
  faults: Set<number>;
  made: number[];
  sinceUs: Us;
  untilUs: Us | null;
  /** The check that every watcher was told `from` is stale is still due. */
  flagCheckDue: boolean;
}

/** A lease reply a frontend received: when its dispatcher sent it (composing the counts it carries). */
interface Reply {
  receivedUs: Us;
  sentUs: Us;
  from: NodeId;
}

/** Messages of the occupancy path; a store request or answer only when it is about no event. */
const occupancyPath: ReadonlySet<MessageType> = new Set([
  'subscribe',
  'renew',
  'unsubscribe',
  'lease-reply',
  'store-reset',
  'occupancy',
  'store-request',
  'store-reply',
]);

/** Milliseconds of slack for timers that keep whole milliseconds. */
const roundingUs = 2_000;

export class OccupancyChecker {
  convergeErrors = 0;
  staleErrors = 0;
  private readonly notJudged: string | null;
  private readonly bounds: OccupancyBounds;
  private readonly formula: string;
  private readonly remoteKeepUs: Us;
  /** Per connection: its frontend, and whether it watches. */
  private readonly nodeOf = new Map<number, NodeId>();
  private readonly watching = new Set<number>();
  private readonly watcherViewers = new Set<number>();
  /** Per connection: the topics it is subscribed to. */
  private readonly topicsOf = new Map<number, Set<Topic>>();
  /** Per topic: the true count per datacenter, and in all. */
  private readonly truthByDc = new Map<Topic, Map<DcId, number>>();
  private readonly truth = new Map<Topic, number>();
  /** Per topic: its subscribed watchers. */
  private readonly watchers = new Map<Topic, Set<number>>();
  /** Per connection and topic: the latest count told. */
  private readonly told = new Map<number, Map<Topic, Told>>();
  /** Per datacenter and topic: when a count was last told there. */
  private readonly lastToldUs = new Map<string, Us>();
  private readonly topicDisturbed = new Map<Topic, Quiet>();
  private globalDisturbed: Quiet | null = null;
  /** Faults in force that keep occupancy from being judged (all but a frontend's death for good). */
  private faultsInForce = 0;
  /** When the kill of a frontend that restarts began, by fault. */
  private readonly deaths = new Map<number, Us>();
  /** A dispatcher or store died for good: nothing is judged after it. */
  private neverAgain: string | null = null;
  private readonly entered = new Set<Topic>();
  /** The earliest time a topic's horizon or a cut's stale check may fall due (sooner is harmless). */
  private nextEntryUs: Us = 0;
  /** Per (from, to): its cuts, oldest first, the last one perhaps still in force. */
  private readonly cuts = new Map<string, Cut[]>();
  /** Lease replies on their way: when and by whom each was sent, and its copies still to arrive or drop. */
  private readonly repliesInFlight = new Map<number, { sentUs: Us; from: NodeId; copies: number }>();
  /** Per frontend: the lease replies it received lately (an interval's worth and one more), oldest first. */
  private readonly replies = new Map<NodeId, Reply[]>();
  /** Per dispatcher or store: when it last came back up. */
  private readonly upUs = new Map<NodeId, Us>();
  private stormsInForce = 0;
  /** Until when a jitter storm's messages may still arrive. */
  private stormTailUs: Us = 0;
  /** The latest trouble besides partitions: a fault, a message lost otherwise, a request given up. */
  private troubleUs: Us = -1;
  private records = 0;
  private connectionsTold = 0;
  private staleRecords = 0;
  private readonly staleDcs = new Set<DcId>();
  private maxError: OccupancyError | null = null;
  private maxErrorJudged = 0;
  private judgedAgainstCuts = 0;
  private cutsChecked = 0;
  /** |told - truth| summed over every count told to a connection. */
  private errorSum = 0;
  private windowsJudged = 0;
  private endUs: Us = 0;

  constructor(
    private readonly scenario: Scenario,
    private readonly topology: Topology,
    private readonly subscriptions: Subscriptions,
    private readonly dcs: readonly DcId[],
    private readonly violations: ViolationLog,
  ) {
    this.bounds = occupancyBounds(scenario);
    this.formula = convergeFormula(scenario);
    this.notJudged = notJudgedWhy(scenario, dcs.length);
    const limits = { ...defaultStoreLimits, ...scenario.roles.storeLimits };
    this.remoteKeepUs = usOfMs(limits.remoteKeepMs);
  }

  apply(fact: Fact): void {
    if (this.notJudged === null) this.judgeDue(fact);
    switch (fact.kind) {
      case 'connection':
        return this.connection(fact);
      case 'occupancy':
        return this.occupancy(fact);
      case 'fault':
        return this.fault(fact);
      case 'node':
        if (fact.op === 'up') this.upUs.set(fact.node, fact.t);
        return;
      case 'sent':
        if (fact.message.type === 'lease-reply')
          this.repliesInFlight.set(fact.message.m, {
            sentUs: fact.t,
            from: fact.message.from,
            copies: fact.copies,
          });
        return;
      case 'received':
        if (fact.message.type === 'lease-reply') this.replyArrived(fact.message.m, fact.message.to, fact.t);
        return;
      case 'dropped':
        if (fact.message.type === 'lease-reply') this.replyArrived(fact.message.m, null, fact.t);
        if (!occupancyPath.has(fact.message.type) || fact.message.e !== undefined) return;
        if (fact.why !== 'partition') this.troubleUs = fact.t;
        return this.disturbAll(
          fact.t,
          fact.t + this.bounds.convergeUs,
          `a ${fact.message.type} from ${fact.message.from} to ${fact.message.to} was lost (${fact.why})`,
        );
      case 'role-drop':
        if (fact.reason !== 'lease-request-exhausted' && fact.reason !== 'pending-full') return;
        this.troubleUs = fact.t;
        return this.disturbAll(
          fact.t,
          fact.t + this.bounds.convergeUs,
          `${fact.node} gave up a lease request (${fact.reason})`,
        );
      case 'lease':
        if (fact.change !== 'refused') return;
        this.troubleUs = fact.t;
        return this.disturbTopic(fact.topic, fact.t, `${fact.dc}'s store refused ${fact.frontend}'s lease`);
      case 'end':
        this.endUs = fact.t;
        return;
      case 'run':
      case 'published':
      case 'fanned-out':
      case 'batch-received':
      case 'batch-lost':
      case 'appended':
      case 'trimmed':
      case 'gap':
      case 'answered':
      case 'due':
        return;
      default:
        return unreachable(fact);
    }
  }

  summary(): OccupancySummary {
    return {
      notJudged: this.notJudged,
      watchers: this.watcherViewers.size,
      told: { records: this.records, connections: this.connectionsTold },
      maxError: this.maxError,
      meanErrorViewers:
        this.connectionsTold === 0 ? 0 : Math.round((10 * this.errorSum) / this.connectionsTold) / 10,
      maxErrorJudgedViewers: this.maxErrorJudged,
      windowsJudged: this.windowsJudged,
      stale: {
        records: this.staleRecords,
        dcs: [...this.staleDcs].sort(),
        judged: this.judgedAgainstCuts,
        cutsChecked: this.cutsChecked,
      },
      boundMs: Math.ceil(this.bounds.convergeUs / 1_000),
      deathBoundMs: Math.ceil(this.bounds.deathUs / 1_000),
      formula: this.formula,
      convergence: this.dcs.map((dc) => this.convergenceIn(dc)),
    };
  }

  private connection(fact: Extract<Fact, { kind: 'connection' }>): void {
    const { c, t } = fact;
    switch (fact.op) {
      case 'opened':
        this.nodeOf.set(c, fact.node);
        if (fact.occupancy === true) {
          this.watching.add(c);
          this.watcherViewers.add(fact.viewer);
        }
        return;
      case 'refused':
        return;
      case 'joined': {
        const topics = this.topicsOf.get(c) ?? new Set<Topic>();
        if (topics.has(fact.topic)) return;
        this.topicsOf.set(c, topics.add(fact.topic));
        this.count(fact.topic, this.topology.dcOf(fact.node), 1);
        if (this.watching.has(c)) setOf(this.watchers, fact.topic).add(c);
        return this.disturbTopic(fact.topic, t, `${fact.id} joined at ${fact.node}`);
      }
      case 'left':
        if (this.topicsOf.get(c)?.delete(fact.topic) !== true) return;
        this.leave(c, fact.topic, this.topology.dcOf(fact.node));
        return this.disturbTopic(fact.topic, t, `${fact.id} left at ${fact.node}`);
      case 'closed': {
        const dc = this.topology.dcOf(fact.node);
        for (const topic of this.topicsOf.get(c) ?? []) {
          this.leave(c, topic, dc);
          this.disturbTopic(topic, t, `${fact.id} closed at ${fact.node}`);
        }
        this.topicsOf.delete(c);
        this.told.delete(c);
        this.watching.delete(c);
        return;
      }
      default:
        return unreachable(fact);
    }
  }

  private leave(c: number, topic: Topic, dc: DcId): void {
    this.count(topic, dc, -1);
    this.watchers.get(topic)?.delete(c);
    this.told.get(c)?.delete(topic);
  }

  private count(topic: Topic, dc: DcId, by: 1 | -1): void {
    const byDc = this.truthByDc.get(topic) ?? new Map<DcId, number>();
    this.truthByDc.set(topic, byDc);
    byDc.set(dc, (byDc.get(dc) ?? 0) + by);
    this.truth.set(topic, (this.truth.get(topic) ?? 0) + by);
  }

  private occupancy(fact: Extract<Fact, { kind: 'occupancy' }>): void {
    const { t, node, topic, connections, count, byDc, stale } = fact;
    const dc = this.topology.dcOf(node);
    this.records++;
    this.connectionsTold += connections.length;
    if (stale.length > 0) {
      this.staleRecords++;
      for (const name of stale) this.staleDcs.add(name);
    }
    this.lastToldUs.set(`${dc}\u0000${topic}`, t);
    const truth = this.truth.get(topic) ?? 0;
    const error = Math.abs(count - truth);
    this.errorSum += error * connections.length;
    if (error > (this.maxError?.viewers ?? -1))
      this.maxError = { viewers: error, t, topic, node, told: count, truth };
    const judged = this.notJudged === null && this.judging() && this.entered.has(topic);
    if (judged) this.maxErrorJudged = Math.max(this.maxErrorJudged, error);
    const told: Told = { t, node, count, byDc, stale };
    if (this.notJudged === null) this.judgeCuts(fact, dc);
    for (const c of connections) {
      let byTopic = this.told.get(c);
      if (byTopic === undefined) this.told.set(c, (byTopic = new Map()));
      byTopic.set(topic, told);
    }
    if (judged && (error > 0 || stale.length > 0) && connections.length > 0) {
      this.convergeErrors++;
      const first = this.subscriptions.idOf(connections[0] as number);
      const quiet = this.quietOf(topic);
      this.violations.report(
        'occupancy-converge',
        t,
        `${node} told ${connections.length} watcher(s) of "${topic}" (first: ${first}) ${describeCount(count, byDc, stale)}, but ${truth} connections watch it (${this.truthText(topic)}) and ${this.sinceText(quiet)}: counts must converge within ${this.formula}`,
        { connection: first, node, chain: this.chainOf(topic, quiet, first, told) },
      );
    }
  }

  /**
   * A count told at a frontend of `dc`, against each datacenter cut off from `dc` while it was
   * composed (before the told connections' latest counts are replaced by it).
   */
  private judgeCuts(fact: Extract<Fact, { kind: 'occupancy' }>, dc: DcId): void {
    const { t, node, topic, byDc, stale, connections } = fact;
    // Watchers told before: this count changed, so it came with a reply of the last interval.
    const before = new Map<number, Told>();
    for (const c of connections) {
      const told = this.told.get(c)?.get(topic);
      if (told !== undefined) before.set(c, told);
    }
    if (before.size === 0) return;
    const composed = (this.replies.get(node) ?? []).filter(
      (reply) => reply.receivedUs >= t - usOfMs(this.bounds.everyMs) && reply.receivedUs <= t,
    );
    if (composed.length === 0) return;
    const names = new Set([
      ...Object.keys(byDc),
      ...[...before.values()].flatMap((b) => Object.keys(b.byDc)),
    ]);
    for (const from of names) {
      if (from === dc) continue;
      const cut = this.cutAt(from, dc, (composed[0] as Reply).sentUs);
      if (cut === undefined || !composed.every((reply) => this.composedInCut(reply, cut))) continue;
      this.judgedAgainstCuts++;
      const since = `${from} has been cut off from ${dc} since ${fmt(cut.sinceUs)}`;
      const dropped = [...before].filter(([, b]) => (b.byDc[from] ?? 0) > 0 && !Object.hasOwn(byDc, from));
      if (dropped.length > 0) {
        const [c, b] = dropped[0] as [number, Told];
        const id = this.subscriptions.idOf(c);
        this.staleErrors++;
        this.violations.report(
          'occupancy-stale-dropped',
          t,
          `${node} told ${dropped.length} watcher(s) of "${topic}" (first: ${id}) ${describeCount(fact.count, byDc, stale)}, without ${from}'s share, which it had told as ${b.byDc[from]} at ${fmt(b.t)}, while ${since}: a datacenter that cannot be heard from keeps its last known share, flagged stale`,
          { connection: id, node, chain: this.cutChain(cut, id, b, fact, composed) },
        );
        continue;
      }
      const staleFromUs = cut.sinceUs + usOfMs(this.bounds.staleMs) + roundingUs;
      if (
        !Object.hasOwn(byDc, from) ||
        stale.includes(from) ||
        !composed.every((r) => r.sentUs > staleFromUs)
      )
        continue;
      const [c, b] = [...before][0] as [number, Told];
      const id = this.subscriptions.idOf(c);
      this.staleErrors++;
      this.violations.report(
        'occupancy-stale-dropped',
        t,
        `${node} told ${before.size} watcher(s) of "${topic}" (first: ${id}) ${describeCount(fact.count, byDc, stale)}, ${from}'s share as fresh, composed more than staleMs ${this.bounds.staleMs} ms after ${since}: a datacenter not heard from for staleMs is stale`,
        { connection: id, node, chain: this.cutChain(cut, id, b, fact, composed) },
      );
    }
  }

  /** Whether `reply`'s counts were composed inside `cut`, by a dispatcher and store up since before it. */
  private composedInCut(reply: Reply, cut: Cut): boolean {
    const inside = reply.sentUs >= cut.sinceUs && (cut.untilUs === null || reply.sentUs < cut.untilUs);
    const restarted = (node: NodeId): boolean => (this.upUs.get(node) ?? -1) >= cut.sinceUs;
    return (
      inside &&
      !restarted(reply.from) &&
      !this.storeRestartedIn(cut.to, cut.sinceUs) &&
      reply.sentUs - cut.sinceUs < this.remoteKeepUs
    );
  }

  /** Whether the store of `dc` came back up at or after `sinceUs` (it lost every peer's total). */
  private storeRestartedIn(dc: DcId, sinceUs: Us): boolean {
    for (const [node, t] of this.upUs)
      if (t >= sinceUs && this.topology.roleOf(node) === 'store' && this.topology.dcOf(node) === dc)
        return true;
    return false;
  }

  private cutAt(from: DcId, to: DcId, t: Us): Cut | undefined {
    return this.cuts
      .get(cutKey(from, to))
      ?.find((cut) => cut.sinceUs <= t && (cut.untilUs === null || t < cut.untilUs));
  }

  private replyArrived(m: number, frontend: NodeId | null, t: Us): void {
    const reply = this.repliesInFlight.get(m);
    if (reply === undefined) return;
    if (--reply.copies === 0) this.repliesInFlight.delete(m);
    if (frontend === null || this.notJudged !== null) return;
    let list = this.replies.get(frontend);
    if (list === undefined) this.replies.set(frontend, (list = []));
    list.push({ receivedUs: t, sentUs: reply.sentUs, from: reply.from });
    // An interval's worth is what a count may have come with; one more is slack.
    const keepFromUs = t - 2 * usOfMs(this.bounds.everyMs);
    let old = 0;
    while (old < list.length && (list[old] as Reply).receivedUs < keepFromUs) old++;
    if (old > 0) list.splice(0, old);
  }

  /**
   * `staleMs` + 2 x I + W + 2 x hopIntra into a cut (at `dueUs`, noticed at `nowUs`): every watcher
   * in the cut-off datacenter told its share must have been told it is stale.
   */
  private judgeFlagged(cut: Cut, dueUs: Us, nowUs: Us): void {
    cut.flagCheckDue = false;
    const quiet =
      this.troubleUs < cut.sinceUs &&
      this.faultsInForce === cut.faults.size &&
      this.stormTailUs < cut.sinceUs &&
      !this.restartedIn(cut.to, cut.sinceUs);
    if (!quiet) return;
    this.cutsChecked++;
    const fresh = new Map<string, { first: number; n: number; told: Told; topic: Topic; node: NodeId }>();
    for (const [topic, watchers] of this.watchers) {
      for (const c of watchers) {
        const node = this.nodeOf.get(c);
        if (node === undefined || this.dcOfConnection(c) !== cut.to) continue;
        const told = this.told.get(c)?.get(topic);
        if (told === undefined || !Object.hasOwn(told.byDc, cut.from) || told.stale.includes(cut.from))
          continue;
        const key = `${node}\u0000${topic}`;
        const group = fresh.get(key);
        if (group === undefined) fresh.set(key, { first: c, n: 1, told, topic, node });
        else group.n++;
      }
    }
    for (const { first, n, told, topic, node } of fresh.values()) {
      this.staleErrors++;
      const id = this.subscriptions.idOf(first);
      this.violations.report(
        'occupancy-stale-dropped',
        nowUs,
        `${n} watcher(s) of "${topic}" at ${node} (first: ${id}) still counted ${cut.from}'s share as fresh at ${fmt(dueUs)} (${describeCount(told.count, told.byDc, told.stale)}, told at ${fmt(told.t)}), though ${cut.from} had been cut off from ${cut.to} since ${fmt(cut.sinceUs)}: they must be told it is stale within staleMs ${this.bounds.staleMs} + 2 x I + W + 2 x hopIntra = ${Math.round(this.flagAfterUs() / 1_000)} ms`,
        {
          connection: id,
          node,
          chain: [
            `${fmt(cut.sinceUs)} ${cut.from} cut off from ${cut.to} (fault ${cut.made.map((f) => `#${f}`).join(', ')})`,
            `${fmt(told.t)} ${node} told ${id} ${describeCount(told.count, told.byDc, told.stale)}`,
            `${fmt(dueUs)} ${cut.from} not yet told stale`,
          ],
        },
      );
    }
  }

  private fault(fact: Extract<Fact, { kind: 'fault' }>): void {
    const { fault, f, t } = fact;
    const { convergeUs, deathUs } = this.bounds;
    if (fault.kind !== 'partition') this.troubleUs = t;
    if (fact.phase === 'start') {
      if (fault.kind === 'kill' && fault.restartAfterMs === undefined) {
        if (this.topology.roleOf(fault.node) === 'frontend')
          return this.disturbAll(t, t + deathUs, `${fault.node} died for good`);
        this.neverAgain = `${fault.node} died at ${fmt(t)} and never restarts`;
        return;
      }
      this.faultsInForce++;
      if (fault.kind === 'kill' && this.topology.roleOf(fault.node) === 'frontend') this.deaths.set(f, t);
      if (fault.kind === 'jitter-storm') this.stormsInForce++;
      if (fault.kind === 'partition') this.cutStarts(f, fault.between, fault.oneWay === true, t);
      const name = describeFault(fault, { durations: false });
      return this.disturbAll(t, t + convergeUs, `fault #${f} (${name}) began`);
    }
    this.faultsInForce--;
    let untilUs = t + convergeUs;
    let what = `fault #${f} (${describeFault(fault, { durations: false })}) ended`;
    if (fault.kind === 'kill') {
      const died = this.deaths.get(f);
      this.deaths.delete(f);
      if (died !== undefined) {
        untilUs = Math.max(untilUs, died + deathUs);
        what = `${fault.node} came back (fault #${f}; it died at ${fmt(died)}, its viewers' count held by its lease)`;
      }
    } else if (fault.kind === 'jitter-storm') {
      this.stormsInForce--;
      this.stormTailUs = Math.max(this.stormTailUs, t + slowestHopUs(fault.extraLatency));
      untilUs += slowestHopUs(fault.extraLatency);
    } else if (fault.kind === 'partition') this.cutEnds(f, t);
    this.disturbAll(t, untilUs, what);
  }

  private cutStarts(f: number, between: readonly [DcId, DcId], oneWay: boolean, t: Us): void {
    const [a, b] = between;
    const pairs: [DcId, DcId][] = oneWay
      ? [[a, b]]
      : [
          [a, b],
          [b, a],
        ];
    for (const [from, to] of pairs) {
      const key = cutKey(from, to);
      let cuts = this.cuts.get(key);
      if (cuts === undefined) this.cuts.set(key, (cuts = []));
      const last = cuts[cuts.length - 1];
      if (last !== undefined && last.untilUs === null) {
        last.faults.add(f);
        last.made.push(f);
      } else
        cuts.push({
          from,
          to,
          faults: new Set([f]),
          made: [f],
          sinceUs: t,
          untilUs: null,
          flagCheckDue: true,
        });
    }
    this.nextEntryUs = Math.min(this.nextEntryUs, t + this.flagAfterUs());
  }

  private cutEnds(f: number, t: Us): void {
    for (const cuts of this.cuts.values()) {
      const last = cuts[cuts.length - 1];
      if (last === undefined || last.untilUs !== null || !last.faults.delete(f) || last.faults.size > 0)
        continue;
      last.untilUs = t;
      last.flagCheckDue = false;
    }
  }

  /** Whether a store or dispatcher of `dc` came back up at or after `sinceUs`. */
  private restartedIn(dc: DcId, sinceUs: Us): boolean {
    for (const [node, t] of this.upUs) if (t >= sinceUs && this.topology.dcOf(node) === dc) return true;
    return false;
  }

  /** How long into a cut every watcher must have been told the cut-off datacenter is stale. */
  private flagAfterUs(): Us {
    const { staleMs, everyMs, writeMs, hopIntraUs } = this.bounds;
    return usOfMs(staleMs + 2 * everyMs + writeMs) + 2 * hopIntraUs + roundingUs;
  }

  private disturbTopic(topic: Topic, t: Us, what: string): void {
    const untilUs = t + this.bounds.convergeUs;
    this.topicDisturbed.set(
      topic,
      quieterAfter(this.topicDisturbed.get(topic) ?? null, { t, untilUs, what }),
    );
    this.entered.delete(topic);
    this.nextEntryUs = Math.min(this.nextEntryUs, untilUs);
  }

  private disturbAll(t: Us, untilUs: Us, what: string): void {
    this.globalDisturbed = quieterAfter(this.globalDisturbed, { t, untilUs, what });
    this.entered.clear();
    this.nextEntryUs = Math.min(this.nextEntryUs, untilUs);
  }

  /** Whether counts are judged at all right now: no fault in force, none that never ends. */
  private judging(): boolean {
    return this.faultsInForce === 0 && this.neverAgain === null;
  }

  private horizonOf(topic: Topic): Us {
    return this.quietOf(topic).binding.untilUs;
  }

  /** A topic's quiet stretch: the disturbance it began with, and the one whose effects last longest. */
  private quietOf(topic: Topic): Quiet {
    const own = this.topicDisturbed.get(topic);
    const global = this.globalDisturbed;
    const start: Disturbance = { t: 0, untilUs: 0, what: 'the run began' };
    if (own === undefined) return global ?? { latest: start, binding: start };
    if (global === null) return own;
    return {
      latest: own.latest.t >= global.latest.t ? own.latest : global.latest,
      binding: own.binding.untilUs >= global.binding.untilUs ? own.binding : global.binding,
    };
  }

  /** `since 3.2s (c#7 left at dc-a/frontend-1)`, and the longest-lasting disturbance when another. */
  private sinceText(quiet: Quiet): string {
    const { latest, binding } = quiet;
    const since = `nothing had changed since ${fmt(latest.t)} (${latest.what})`;
    if (binding === latest) return since;
    return `${since}, and ${binding.what} at ${fmt(binding.t)} had to be out of every count by ${fmt(binding.untilUs)}`;
  }

  /**
   * Before a fact of time `t` is applied: every topic whose horizon passed before `t` (or at the
   * end, at it) enters its quiet stretch, and its watchers are judged as they stood; every cut due
   * for its stale check is checked.
   */
  private judgeDue(fact: Fact): void {
    const t = fact.t;
    const end = fact.kind === 'end';
    if (t <= this.nextEntryUs && !(end && t === this.nextEntryUs)) return;
    let next = Number.POSITIVE_INFINITY;
    for (const cuts of this.cuts.values()) {
      const cut = cuts[cuts.length - 1];
      if (cut === undefined || !cut.flagCheckDue) continue;
      const dueUs = cut.sinceUs + this.flagAfterUs();
      if (dueUs < t || (end && dueUs <= t)) this.judgeFlagged(cut, dueUs, t);
      else next = Math.min(next, dueUs);
    }
    if (this.judging()) {
      for (const [topic, watchers] of this.watchers) {
        // A topic nobody watches now has nothing to judge; a new watcher is a change of it.
        if (this.entered.has(topic) || watchers.size === 0) continue;
        const horizon = this.horizonOf(topic);
        if (horizon < t || (end && horizon <= t)) this.enter(topic, horizon, t);
        else next = Math.min(next, horizon);
      }
    }
    this.nextEntryUs = next;
  }

  /**
   * A topic's horizon passed (at `horizonUs`, noticed at `nowUs`): every watcher's latest count must
   * be the truth, none stale.
   */
  private enter(topic: Topic, horizonUs: Us, nowUs: Us): void {
    this.entered.add(topic);
    this.windowsJudged++;
    const truth = this.truth.get(topic) ?? 0;
    const wrong = new Map<NodeId, { first: number; n: number; told: Told | undefined }>();
    for (const c of this.watchers.get(topic) ?? []) {
      const told = this.told.get(c)?.get(topic);
      if (told !== undefined && told.count === truth && told.stale.length === 0) continue;
      const node = this.nodeOf.get(c) ?? '?';
      const group = wrong.get(node);
      if (group === undefined) wrong.set(node, { first: c, n: 1, told });
      else group.n++;
    }
    const quiet = this.quietOf(topic);
    for (const [node, { first, n, told }] of wrong) {
      this.convergeErrors++;
      const id = this.subscriptions.idOf(first);
      const what =
        told === undefined
          ? 'had never been told a count'
          : `had last been told ${describeCount(told.count, told.byDc, told.stale)} at ${fmt(told.t)}`;
      this.violations.report(
        'occupancy-converge',
        nowUs,
        `${n} watcher(s) of "${topic}" at ${node} (first: ${id}) ${what}, and still had at ${fmt(horizonUs)}, but ${truth} connections watch it (${this.truthText(topic)}) and ${this.sinceText(quiet)}: counts must converge within ${this.formula}`,
        { connection: id, node, chain: this.chainOf(topic, quiet, id, told) },
      );
    }
  }

  private chainOf(topic: Topic, quiet: Quiet, id: string, told: Told | undefined): string[] {
    const { latest, binding } = quiet;
    const bounds = `B ${Math.round(this.bounds.convergeUs / 1_000)} ms, B_death ${Math.round(this.bounds.deathUs / 1_000)} ms after a death`;
    return [
      ...(binding === latest ? [] : [`${fmt(binding.t)} ${binding.what}`]),
      `${fmt(latest.t)} the last change of "${topic}": ${latest.what}`,
      `${fmt(binding.untilUs)} every effect of ${binding === latest ? 'it' : `${binding.what}`} out of every count (${bounds})`,
      told === undefined
        ? `${id} had been told no count of "${topic}"`
        : `${fmt(told.t)} ${told.node} told ${id} ${describeCount(told.count, told.byDc, told.stale)}; the truth: ${this.truth.get(topic) ?? 0} (${this.truthText(topic)})`,
    ];
  }

  private cutChain(
    cut: Cut,
    id: string,
    before: Told,
    fact: Extract<Fact, { kind: 'occupancy' }>,
    composed: readonly Reply[],
  ): string[] {
    const steps = [
      [before.t, `${before.node} told ${id} ${describeCount(before.count, before.byDc, before.stale)}`],
      [cut.sinceUs, `${cut.from} cut off from ${cut.to} (fault ${cut.made.map((f) => `#${f}`).join(', ')})`],
      ...composed.map((reply): [Us, string] => [
        reply.sentUs,
        `${reply.from} composed a count for ${fact.node} (a lease reply)`,
      ]),
      [fact.t, `${fact.node} told ${id} ${describeCount(fact.count, fact.byDc, fact.stale)}`],
    ] as [Us, string][];
    return steps.sort((a, b) => a[0] - b[0]).map(([t, text]) => `${fmt(t)} ${text}`);
  }

  private truthText(topic: Topic): string {
    const byDc = this.truthByDc.get(topic);
    const shares = this.dcs.map((dc) => `${dc} ${byDc?.get(dc) ?? 0}`);
    return shares.join(', ');
  }

  private dcOfConnection(c: number): DcId | null {
    const node = this.nodeOf.get(c);
    return node === undefined ? null : this.topology.dcOf(node);
  }

  /** Per datacenter at the end: the worst topic's time from its last disturbance to its last count told. */
  private convergenceIn(dc: DcId): OccupancyConvergence {
    let worst: OccupancyConvergence = { dc, topic: null, afterMs: 0, quietSinceMs: null, judged: false };
    for (const [topic, watchers] of this.watchers) {
      const here = [...watchers].filter((c) => this.dcOfConnection(c) === dc);
      if (here.length === 0) continue;
      const truth = this.truth.get(topic) ?? 0;
      const right = here.every((c) => {
        const told = this.told.get(c)?.get(topic);
        return told !== undefined && told.count === truth && told.stale.length === 0;
      });
      const quietUs = this.quietOf(topic).latest.t;
      const judged = this.judging() && this.horizonOf(topic) <= this.endUs;
      const lastUs = this.lastToldUs.get(`${dc}\u0000${topic}`) ?? 0;
      const afterMs = right ? Math.max(0, Math.round((lastUs - quietUs) / 1_000)) : null;
      const entry = { dc, topic, afterMs, quietSinceMs: Math.round(quietUs / 1_000), judged };
      if (worst.topic === null || afterMs === null || (worst.afterMs !== null && afterMs > worst.afterMs))
        worst = entry;
      if (afterMs === null) break;
    }
    return worst;
  }
}

/** Why a scenario's counts are not judged, or null when they are. */
function notJudgedWhy(scenario: Scenario, dcs: number): string | null {
  if (scenario.roles.occupancyEveryMs === 0) return 'occupancy is off (roles.occupancyEveryMs 0)';
  if (!occupancyWatched(scenario)) return 'no viewer watches counts (workload.occupancyWatchersEvery 0)';
  const limits = { ...defaultStoreLimits, ...scenario.roles.storeLimits };
  const topics = scenario.workload.topics.length;
  const frontends = Math.max(...scenario.topology.datacenters.map((dc) => dc.frontends));
  if (limits.topicsMax < topics || limits.frontendsPerTopicMax < frontends || limits.remoteDcsMax < dcs - 1)
    return 'the store limits could refuse a lease or a peer total (topicsMax, frontendsPerTopicMax or remoteDcsMax below the workload), which no fact would say';
  return null;
}

/** `quiet` after one more disturbance: it is the latest, and binding if its effects last longest. */
function quieterAfter(quiet: Quiet | null, disturbance: Disturbance): Quiet {
  if (quiet === null || disturbance.untilUs >= quiet.binding.untilUs)
    return { latest: disturbance, binding: disturbance };
  return { latest: disturbance, binding: quiet.binding };
}

function cutKey(from: DcId, to: DcId): string {
  return `${from}\u0000${to}`;
}

function setOf<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let set = map.get(key);
  if (set === undefined) map.set(key, (set = new Set()));
  return set;
}

/** `1,204 (dc-a 400, dc-b 804 stale)`. */
function describeCount(count: number, byDc: Readonly<Record<DcId, number>>, stale: readonly DcId[]): string {
  const shares = Object.entries(byDc).map(([dc, n]) => `${dc} ${n}${stale.includes(dc) ? ' stale' : ''}`);
  return `${count} (${shares.join(', ') || 'no datacenter'})`;
}
