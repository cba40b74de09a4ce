/**
 * The delivery checker: consumes a run's facts as they happen and reports the best-effort
 * invariants of DESIGN.md. It keeps its own view of who subscribed to what, built from the client
 * actions the world fed to frontends, and never trusts a role's state.
 *
 * - integrity: every received event was published, with the same topic, origin and payload;
 * - no misdelivery: a frontend hands an event only to connections subscribed to its topic there;
 * - no duplicates: a connection receives each event id at most once;
 * - explained loss: an expected delivery (connection subscribed from `subscribeGraceMs` before the
 *   publish until its deadline) that did not arrive by the deadline must have a fault on its path;
 * - fault-free liveness: in a run with no faults at all, nothing expected is lost;
 * - lease hygiene: a dispatcher sends a frontend an event only while that frontend holds a lease on
 *   the topic (allowing one store round trip of staleness);
 * - lease release: a lease ends by removal when its frontend's last viewer leaves; one that expires
 *   instead (the frontend stopped renewing without unsubscribing) must have a fault on that
 *   frontend's lease path;
 * - forward discipline: a dispatcher forwards an event to a peer datacenter again only after the
 *   previous attempt went unacknowledged for `forwardTimeoutMs`, and never once one was acknowledged,
 *   so cross-datacenter traffic stays one copy per event per datacenter.
 *
 * Losses are counted when an event's deadline passes (`finalize`), so memory stays proportional to
 * the events in flight plus one bit per (event, connection) for duplicate detection.
 */
import type { Event, EventId, Topic } from '../core/index.ts';
import { describeFault } from './describe-fault.ts';
import { Histogram } from './histogram.ts';
import type { Fault } from './scenario.ts';
import type { InvariantName, NetworkDropReason, Violation } from './trace.ts';

/** Detailed violations kept per invariant; beyond it they are only counted. */
export const violationsKeptPerInvariant = 20;
/** Steps of an event's history kept for its causal chain. */
const chainStepsMax = 80;

export interface CheckerSettings {
  subscribeGraceUs: number;
  deliveryDeadlineUs: number;
  leaseStalenessUs: number;
  leaseUs: number;
  forwardTimeoutUs: number;
  /** No scheduled or random faults and no random loss: every expected delivery must arrive. */
  faultFree: boolean;
  dcOf: (node: string) => string;
}

class Bitset {
  private words = new Uint32Array(8);

  /** Set bit `i`; true if it was already set. */
  testAndSet(i: number): boolean {
    const word = i >>> 5;
    if (word >= this.words.length) {
      const grown = new Uint32Array(Math.max(word + 1, this.words.length * 2));
      grown.set(this.words);
      this.words = grown;
    }
    const mask = 1 << (i & 31);
    const had = ((this.words[word] as number) & mask) !== 0;
    this.words[word] = (this.words[word] as number) | mask;
    return had;
  }

  has(i: number): boolean {
    const word = i >>> 5;
    return word < this.words.length && ((this.words[word] as number) & (1 << (i & 31))) !== 0;
  }
}

interface Connection {
  id: string;
  frontend: string;
  dc: string;
  open: boolean;
  /** Topic -> since when (µs) it has been subscribed without interruption. */
  topics: Map<Topic, number>;
}

interface Note {
  t: number;
  category: string;
  text: string;
  dc?: string;
  node?: string;
  f?: number;
}

interface Tracked {
  event: Event;
  publishUs: number;
  dispatcher: string;
  received: Bitset;
  /** Connections counted lost at the deadline, so a later arrival is known to be late. */
  lost: Bitset | null;
  notes: Note[];
  chain: string[];
  finalized: boolean;
}

interface FaultSpan {
  f: number;
  fault: Fault;
  startUs: number;
  endUs: number | null;
}

export interface LossGroup {
  node: string | null;
  n: number;
  explained: boolean;
  cause: string;
  category: string;
  f?: number;
}

/** What the checker counted, as the run's report carries it. */
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
  forwardDisciplineErrors: number;
}

export interface CheckerSummary extends DeliveryCounts {
  violationCounts: Record<InvariantName, number>;
  violations: Violation[];
  latency: { overall: Histogram; sameDc: Histogram; crossDc: Histogram };
}

export class Checker {
  private readonly connections: Connection[] = [];
  private readonly subscribers = new Map<string, Map<Topic, Set<number>>>();
  /** Topic -> connection -> since when (µs) it has been subscribed there without interruption. */
  private readonly topicSubscribers = new Map<Topic, Map<number, number>>();
  private readonly events = new Map<EventId, Tracked>();
  private readonly faults: FaultSpan[] = [];
  private readonly leases = new Map<string, { expUs: number; deadUs: number | null }>();
  private readonly leaseDrops = new Map<string, Note[]>();
  /** Per `dispatcher, event, peer dc`: the last forward sent and whether one was acknowledged. */
  private readonly forwards = new Map<string, { lastSentUs: number; acked: boolean }>();
  private readonly forwardIds = new Map<string, string>();
  private readonly summary: CheckerSummary = {
    published: 0,
    expected: 0,
    delivered: 0,
    late: 0,
    lost: { explained: 0, unexplained: 0, byCause: {} },
    duplicates: 0,
    misdeliveries: 0,
    integrityErrors: 0,
    leaseHygieneErrors: 0,
    leaseReleaseErrors: 0,
    forwardDisciplineErrors: 0,
    violationCounts: {
      integrity: 0,
      'no-misdelivery': 0,
      'no-duplicates': 0,
      'explained-loss': 0,
      'fault-free-liveness': 0,
      'lease-hygiene': 0,
      'lease-release': 0,
      'forward-discipline': 0,
    },
    violations: [],
    latency: { overall: new Histogram(), sameDc: new Histogram(), crossDc: new Histogram() },
  };

  constructor(private readonly settings: CheckerSettings) {}

  // Connections, as the frontends processed their clients' actions.

  connectionOpened(index: number, id: string, frontend: string): void {
    this.connections[index] = {
      id,
      frontend,
      dc: this.settings.dcOf(frontend),
      open: true,
      topics: new Map(),
    };
  }

  connectionClosed(index: number): void {
    const connection = this.connection(index);
    for (const topic of [...connection.topics.keys()]) this.unsubscribed(index, topic);
    connection.open = false;
  }

  subscribed(index: number, topic: Topic, t: number): void {
    const connection = this.connection(index);
    if (connection.topics.has(topic)) return;
    connection.topics.set(topic, t);
    let byTopic = this.subscribers.get(connection.frontend);
    if (byTopic === undefined) this.subscribers.set(connection.frontend, (byTopic = new Map()));
    let set = byTopic.get(topic);
    if (set === undefined) byTopic.set(topic, (set = new Set()));
    set.add(index);
    let all = this.topicSubscribers.get(topic);
    if (all === undefined) this.topicSubscribers.set(topic, (all = new Map()));
    all.set(index, t);
  }

  unsubscribed(index: number, topic: Topic): void {
    const connection = this.connection(index);
    if (!connection.topics.delete(topic)) return;
    this.subscribers.get(connection.frontend)?.get(topic)?.delete(index);
    this.topicSubscribers.get(topic)?.delete(index);
  }

  /** The connections subscribed to `topic` at `frontend`, per the client actions it processed. */
  subscribersAt(frontend: string, topic: Topic): ReadonlySet<number> | undefined {
    return this.subscribers.get(frontend)?.get(topic);
  }

  isOpen(index: number): boolean {
    return this.connections[index]?.open ?? false;
  }

  // Faults.

  faultStarted(f: number, fault: Fault, t: number): void {
    this.faults.push({ f, fault, startUs: t, endUs: null });
    if (fault.kind === 'kill' && fault.node.endsWith('/store')) {
      // A store that dies forgets every lease of its datacenter.
      const dc = this.settings.dcOf(fault.node);
      for (const [key, lease] of this.leases)
        if (key.startsWith(`${dc}\u0000`) && lease.deadUs === null) lease.deadUs = t;
    }
  }

  faultEnded(f: number, t: number): void {
    const span = this.faults.find((s) => s.f === f && s.endUs === null);
    if (span !== undefined) span.endUs = t;
  }

  // Events.

  published(event: Event, t: number, dispatcher: string): void {
    if (this.events.has(event.id)) {
      // A publisher-chosen id reused: the first publish defines the event.
      this.step(event.id, t, `${dispatcher} accepted a publish that reused id ${event.id}`);
      return;
    }
    this.summary.published++;
    this.events.set(event.id, {
      event,
      publishUs: t,
      dispatcher,
      received: new Bitset(),
      lost: null,
      notes: [],
      chain: [`${fmt(t)} published on "${event.topic}" by ${dispatcher} (origin ${event.origin})`],
      finalized: false,
    });
  }

  /** A human-readable step in an event's causal chain. */
  step(id: EventId, t: number, text: string): void {
    const tracked = this.events.get(id);
    if (tracked !== undefined && tracked.chain.length < chainStepsMax)
      tracked.chain.push(`${fmt(t)} ${text}`);
  }

  /** A message carrying or serving an event was lost. */
  eventDropped(
    id: EventId,
    t: number,
    category: string,
    text: string,
    where: { dc?: string; node?: string; f?: number },
  ): void {
    const tracked = this.events.get(id);
    if (tracked === undefined) return;
    tracked.notes.push({ t, category, text, ...where });
    this.step(id, t, text);
  }

  /** A frontend's lease request was lost on the way: its topics may be unregistered for a while. */
  leaseMessageDropped(frontend: string, t: number, why: NetworkDropReason, f: number | undefined): void {
    let notes = this.leaseDrops.get(frontend);
    if (notes === undefined) this.leaseDrops.set(frontend, (notes = []));
    notes.push({
      t,
      category: why === 'loss' && f === undefined ? 'message-loss' : categoryOfDrop(why),
      text: `a lease message of ${frontend} was dropped (${why})`,
      ...(f === undefined ? {} : { f }),
    });
    if (notes.length > 16) notes.shift();
  }

  leaseChanged(
    dc: string,
    topic: Topic,
    frontend: string,
    change: string,
    expUs: number | null,
    t: number,
  ): void {
    const key = `${dc}\u0000${topic}\u0000${frontend}`;
    if (change === 'expired') this.checkRelease(dc, topic, frontend, expUs ?? t, t);
    if (change === 'granted' || change === 'renewed')
      this.leases.set(key, { expUs: expUs ?? t, deadUs: null });
    else {
      const lease = this.leases.get(key);
      if (lease !== undefined && lease.deadUs === null)
        lease.deadUs = change === 'expired' ? Math.min(t, lease.expUs) : t;
    }
  }

  /**
   * A lease expired instead of being removed: its frontend stopped renewing it. That is right only
   * if a fault on the frontend's lease path (the frontend, its datacenter's dispatchers and store,
   * its lease messages) got in the way; otherwise an unsubscribe or a renewal went missing.
   */
  private checkRelease(dc: string, topic: Topic, frontend: string, expUs: number, t: number): void {
    const from = expUs - this.settings.leaseUs - this.settings.subscribeGraceUs;
    for (const span of this.faults) {
      if (span.startUs > expUs || (span.endUs !== null && span.endUs < from)) continue;
      const fault = span.fault;
      if (fault.kind === 'kill' || fault.kind === 'isolate') {
        if (
          fault.node === frontend ||
          (this.settings.dcOf(fault.node) === dc && !fault.node.includes('/frontend-'))
        )
          return;
      } else if (fault.kind !== 'partition' && (fault.dc === undefined || fault.dc === dc)) return;
    }
    for (const note of this.leaseDrops.get(frontend) ?? []) if (note.t >= from && note.t <= expUs) return;
    const viewers = this.subscribersAt(frontend, topic)?.size ?? 0;
    this.summary.leaseReleaseErrors++;
    this.violate(
      'lease-release',
      t,
      `${frontend}'s lease on "${topic}" in ${dc} expired at ${fmt(expUs)} with ${viewers} viewer(s) left, and no fault explains why it was neither renewed nor removed`,
      { node: frontend },
    );
  }

  /** A dispatcher forwarded an event to a peer datacenter: only after a timed-out attempt, never after an ack. */
  forwardSent(dispatcher: string, id: EventId, dc: string, forwardId: number, t: number): void {
    const key = `${dispatcher}\u0000${id}\u0000${dc}`;
    this.forwardIds.set(`${dispatcher}\u0000${forwardId}`, key);
    const previous = this.forwards.get(key);
    // Roles keep time in whole milliseconds, so a timeout may fire up to 1 ms early in microseconds.
    const earliestRetryUs =
      previous === undefined ? 0 : previous.lastSentUs + this.settings.forwardTimeoutUs - 1000;
    if (previous !== undefined && (previous.acked || t < earliestRetryUs)) {
      this.summary.forwardDisciplineErrors++;
      const why = previous.acked
        ? 'after the datacenter had acknowledged it'
        : `${((t - previous.lastSentUs) / 1000).toFixed(3)} ms after the previous attempt, before it could time out`;
      this.violate('forward-discipline', t, `${dispatcher} forwarded event ${id} to ${dc} again ${why}`, {
        e: id,
        node: dispatcher,
      });
    }
    this.forwards.set(key, { lastSentUs: t, acked: previous?.acked ?? false });
  }

  forwardAcked(dispatcher: string, forwardId: number): void {
    const key = this.forwardIds.get(`${dispatcher}\u0000${forwardId}`);
    const entry = key === undefined ? undefined : this.forwards.get(key);
    if (entry !== undefined) entry.acked = true;
  }

  /** A dispatcher sent `frontend` an event: it must hold a live lease on the topic. */
  deliverSent(dispatcher: string, frontend: string, event: Event, t: number): void {
    this.step(event.id, t, `${dispatcher} sent it to ${frontend}`);
    const dc = this.settings.dcOf(dispatcher);
    const lease = this.leases.get(`${dc}\u0000${event.topic}\u0000${frontend}`);
    const deadUs = lease === undefined ? null : (lease.deadUs ?? lease.expUs);
    if (lease === undefined || (deadUs !== null && t > deadUs + this.settings.leaseStalenessUs)) {
      this.summary.leaseHygieneErrors++;
      const why =
        lease === undefined
          ? `${frontend} never held a lease on "${event.topic}" in ${dc}`
          : `${frontend}'s lease on "${event.topic}" in ${dc} ended at ${fmt(deadUs ?? 0)}`;
      this.violate('lease-hygiene', t, `${dispatcher} sent event ${event.id} to ${frontend}, but ${why}`, {
        e: event.id,
        node: dispatcher,
      });
    }
  }

  /** A frontend handed an event to these connections (before the client link). */
  fannedOut(frontend: string, event: Event, connections: readonly number[], t: number): void {
    this.step(event.id, t, `${frontend} fanned it out to ${connections.length} connection(s)`);
    const subscribed = this.subscribersAt(frontend, event.topic);
    for (const index of connections) {
      const connection = this.connections[index];
      if (connection === undefined || connection.frontend !== frontend || subscribed?.has(index) !== true) {
        this.summary.misdeliveries++;
        this.violate(
          'no-misdelivery',
          t,
          `${frontend} sent event ${event.id} of "${event.topic}" to ${connection?.id ?? `connection #${index}`}, which is not subscribed to it there`,
          { e: event.id, connection: connection?.id ?? String(index), node: frontend },
        );
      }
    }
  }

  /** These connections received an event, all at time `t` (one client-bound batch). */
  receivedBatch(indices: readonly number[], event: Event, t: number): void {
    const tracked = this.events.get(event.id);
    if (tracked === undefined || !sameEvent(tracked.event, event)) {
      for (const index of indices) {
        const { id } = this.connection(index);
        this.summary.integrityErrors++;
        this.violate(
          'integrity',
          t,
          tracked === undefined
            ? `${id} received event ${event.id}, which was never published`
            : `${id} received event ${event.id} altered from what was published`,
          { e: event.id, connection: id },
        );
      }
      return;
    }
    let sameDc = 0;
    let crossDc = 0;
    for (const index of indices) {
      const connection = this.connection(index);
      if (tracked.received.testAndSet(index)) {
        this.summary.duplicates++;
        this.violate('no-duplicates', t, `${connection.id} received event ${event.id} a second time`, {
          e: event.id,
          connection: connection.id,
        });
        continue;
      }
      if (connection.dc === tracked.event.origin) sameDc++;
      else crossDc++;
      if (tracked.lost?.has(index) === true) this.summary.late++;
    }
    const latencyUs = t - tracked.publishUs;
    this.summary.delivered += sameDc + crossDc;
    this.summary.latency.overall.record(latencyUs, sameDc + crossDc);
    if (sameDc > 0) this.summary.latency.sameDc.record(latencyUs, sameDc);
    if (crossDc > 0) this.summary.latency.crossDc.record(latencyUs, crossDc);
  }

  /**
   * The event's deadline has passed: every connection subscribed from `subscribeGraceMs` before
   * the publish until now should have it. Count and explain the ones that do not.
   */
  finalize(id: EventId, t: number): LossGroup[] {
    const tracked = this.events.get(id);
    if (tracked === undefined || tracked.finalized) return [];
    tracked.finalized = true;
    const latestStart = tracked.publishUs - this.settings.subscribeGraceUs;
    const missingByFrontend = new Map<string, number[]>();
    for (const [index, since] of this.topicSubscribers.get(tracked.event.topic) ?? []) {
      if (since > latestStart) continue;
      this.summary.expected++;
      if (tracked.received.has(index)) continue;
      const connection = this.connections[index] as Connection;
      let list = missingByFrontend.get(connection.frontend);
      if (list === undefined) missingByFrontend.set(connection.frontend, (list = []));
      list.push(index);
    }
    const groups: LossGroup[] = [];
    for (const [frontend, missing] of missingByFrontend) {
      tracked.lost ??= new Bitset();
      for (const index of missing) tracked.lost.testAndSet(index);
      const explanation = this.explain(tracked, frontend, t);
      const group: LossGroup = {
        node: frontend,
        n: missing.length,
        explained: explanation !== null,
        cause: explanation?.text ?? 'no fault on its path',
        category: explanation?.category ?? 'unexplained',
        ...(explanation?.f === undefined ? {} : { f: explanation.f }),
      };
      groups.push(group);
      if (explanation !== null) {
        this.summary.lost.explained += missing.length;
        this.summary.lost.byCause[explanation.category] =
          (this.summary.lost.byCause[explanation.category] ?? 0) + missing.length;
      } else {
        this.summary.lost.unexplained += missing.length;
        const first = this.connections[missing[0] as number] as Connection;
        const message = `event ${id} of "${tracked.event.topic}" never reached ${missing.length} connection(s) of ${frontend} (first: ${first.id}), and no fault was on its path`;
        this.violate('explained-loss', t, message, { e: id, connection: first.id, node: frontend });
        if (this.settings.faultFree) {
          this.violate('fault-free-liveness', t, `in a run without faults, ${message}`, {
            e: id,
            connection: first.id,
            node: frontend,
          });
        }
      }
    }
    // The chain is only needed while a violation about this event can still be raised.
    tracked.notes = [];
    return groups;
  }

  /** The fault that explains why `frontend` missed the event, or null if there is none. */
  private explain(
    tracked: Tracked,
    frontend: string,
    now: number,
  ): { category: string; text: string; f?: number } | null {
    const dc = this.settings.dcOf(frontend);
    const origin = tracked.event.origin;
    // 1. A message of this event lost on the way to this frontend or its datacenter.
    for (const note of tracked.notes) {
      if (note.node === frontend || note.dc === dc) {
        return { category: note.category, text: note.text, ...(note.f === undefined ? {} : { f: note.f }) };
      }
    }
    // 2. A fault on the path during the window in which it mattered.
    const from = tracked.publishUs - this.settings.leaseUs - this.settings.subscribeGraceUs;
    for (const span of this.faults) {
      if (span.startUs > now || (span.endUs !== null && span.endUs < from)) continue;
      const relevant = faultTouches(span.fault, frontend, dc, origin, tracked.dispatcher, this.settings.dcOf);
      if (relevant !== null)
        return { category: relevant, text: `${describeFault(span.fault)} (fault #${span.f})`, f: span.f };
    }
    // 3. The frontend's own lease messages were lost, so it was not registered.
    for (const note of this.leaseDrops.get(frontend) ?? []) {
      if (note.t >= from && note.t <= now)
        return { category: note.category, text: note.text, ...(note.f === undefined ? {} : { f: note.f }) };
    }
    return null;
  }

  chainOf(id: EventId): string[] {
    return this.events.get(id)?.chain ?? [];
  }

  private violate(
    invariant: InvariantName,
    t: number,
    message: string,
    where: { e?: EventId; connection?: string; node?: string },
  ): void {
    this.summary.violationCounts[invariant]++;
    if (this.summary.violationCounts[invariant] > violationsKeptPerInvariant) return;
    const chain = where.e === undefined ? [] : [...this.chainOf(where.e)];
    this.summary.violations.push({ invariant, t, message, ...where, chain });
    this.onViolation?.(this.summary.violations[this.summary.violations.length - 1] as Violation);
  }

  /** Called with each detailed violation as it is found (the world writes it to the trace). */
  onViolation: ((violation: Violation) => void) | null = null;

  result(): CheckerSummary {
    return this.summary;
  }

  private connection(index: number): Connection {
    const connection = this.connections[index];
    if (connection === undefined) throw new Error(`checker: unknown connection #${index}`);
    return connection;
  }
}

function sameEvent(a: Event, b: Event): boolean {
  return a.payload === b.payload && a.topic === b.topic && a.origin === b.origin;
}

/** The loss category a fault stands for on this path, or null when it is not on the path. */
function faultTouches(
  fault: Fault,
  frontend: string,
  dc: string,
  origin: string,
  dispatcher: string,
  dcOf: (node: string) => string,
): string | null {
  switch (fault.kind) {
    case 'kill':
    case 'isolate': {
      const node = fault.node;
      const nodeDc = dcOf(node);
      const onPath =
        node === frontend ||
        node === dispatcher ||
        (nodeDc === dc && !node.includes('/frontend-')) ||
        (nodeDc === origin && node.endsWith('/store') && dc === origin);
      if (!onPath) return null;
      const role = node.includes('/frontend-')
        ? 'frontend'
        : node.includes('/dispatcher-')
          ? 'dispatcher'
          : 'store';
      return fault.kind === 'kill' ? `${role}-death` : `${role}-isolation`;
    }
    case 'partition':
      return dc !== origin && fault.between.includes(dc) && fault.between.includes(origin)
        ? 'partition'
        : null;
    case 'jitter-storm':
      return fault.dc === undefined || fault.dc === dc || fault.dc === origin ? 'jitter-storm' : null;
    case 'loss-burst':
      return fault.dc === undefined || fault.dc === dc || fault.dc === origin ? 'loss-burst' : null;
  }
}

export function categoryOfDrop(why: NetworkDropReason): string {
  switch (why) {
    case 'loss':
      return 'loss-burst';
    case 'partition':
      return 'partition';
    case 'isolated':
      return 'isolation';
    case 'target-dead':
    case 'source-dead':
      return 'node-death';
    case 'connection-closed':
      return 'connection-closed';
  }
}

/** Simulated microseconds as `12.345678s`. */
export function fmt(us: number): string {
  return `${(us / 1_000_000).toFixed(6)}s`;
}
