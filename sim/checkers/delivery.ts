/**
 * The delivery checker: what connections receive.
 *
 * - integrity: every received event was published, with the same topic, origin and payload (the
 *   digests of the published and the received event agree);
 * - no misdelivery: a frontend hands an event only to connections subscribed to its topic there,
 *   judged at the fan-out against the subscriptions projection;
 * - no duplicates: a connection receives each event id at most once; in reliable mode a viewer
 *   does, across the connections of one subscription to a topic (a resume must not replay what the
 *   previous connection had). A viewer that left the topic and subscribes to it again starts a new
 *   subscription, not a reconnect: it gave up its place, and a frontend whose stream lags may give
 *   it again what the old one had. A join that answers its viewer's resume (the `joined` fact's
 *   `resumed`) continues the viewer's subscription; any other join starts one. An event its
 *   datacenter's store appended again under a later epoch (a retry after the store lost the epoch
 *   it was first appended in) may reach a viewer again at its new position: the frontend that gave
 *   it the first time tells a `duplicate` gap instead, but a resume on another frontend cannot know.
 *
 * It also counts what was delivered (late when the loss checker had already counted it lost) and
 * the publish-to-receipt latency, overall and by whether the connection is in the event's origin
 * datacenter.
 */
import type { DcId, EventId, StoreEpoch, Topic, Us } from '../../core/index.ts';
import type { Fact } from '../facts.ts';
import { Histogram } from '../histogram.ts';
import type { Subscriptions } from '../subscriptions.ts';
import type { Topology } from '../topology.ts';
import { Bitset } from './bitset.ts';
import type { EventRegistry, TrackedEvent } from './events.ts';
import type { ViolationLog } from './violations.ts';

export class DeliveryChecker {
  delivered = 0;
  late = 0;
  duplicates = 0;
  misdeliveries = 0;
  integrityErrors = 0;
  readonly latency = { overall: new Histogram(), sameDc: new Histogram(), crossDc: new Histogram() };
  /** Each opened connection's datacenter, so a receipt's latency class costs no lookup. */
  private readonly dcOfConnection: DcId[] = [];
  /** Each opened connection's viewer, where duplicates are judged per viewer. */
  private readonly viewerOfConnection: number[] = [];
  /** `viewer, topic` -> the number of the viewer's current subscription to the topic. */
  private readonly subscriptionOf = new Map<string, number>();
  private nextSubscription = 0;

  /** `duplicatesPerViewer`: a viewer, not only a connection, receives each event id at most once. */
  constructor(
    private readonly topology: Topology,
    private readonly subscriptions: Subscriptions,
    private readonly events: EventRegistry,
    private readonly violations: ViolationLog,
    private readonly duplicatesPerViewer = false,
    /** Reliable mode: whether `dc`'s store appended event `e` under an epoch older than `epoch` too. */
    private readonly appendedBefore: (e: EventId, dc: DcId, epoch: StoreEpoch) => boolean = () => false,
  ) {}

  apply(fact: Fact): void {
    if (fact.kind === 'connection' && fact.op === 'opened') {
      this.dcOfConnection[fact.c] = this.topology.dcOf(fact.node);
      if (this.duplicatesPerViewer) this.viewerOfConnection[fact.c] = fact.viewer;
    } else if (fact.kind === 'connection' && fact.op === 'joined') {
      if (this.duplicatesPerViewer) this.joined(fact.viewer, fact.topic, fact.resumed === true);
    } else if (fact.kind === 'fanned-out') {
      this.fannedOut(fact);
    } else if (fact.kind === 'batch-received') {
      this.received(fact);
    }
  }

  private fannedOut({ node, e, topic, connections, t }: Extract<Fact, { kind: 'fanned-out' }>): void {
    const subscribed = this.subscriptions.at(node, topic);
    const wrong: string[] = [];
    for (const c of connections) {
      const connection = this.subscriptions.get(c);
      // A connection that never opened has no id: the frontend invented it (a bug of its own).
      if (connection === undefined || connection.frontend !== node || subscribed?.has(c) !== true)
        wrong.push(connection?.id ?? `connection #${c}`);
    }
    for (const id of inIdOrder(wrong)) {
      this.misdeliveries++;
      this.violations.report(
        'no-misdelivery',
        t,
        `${node} sent event ${e} of "${topic}" to ${id}, which is not subscribed to it there`,
        { e, connection: id, node },
      );
    }
  }

  private received({ event, connections, t, node, epoch }: Extract<Fact, { kind: 'batch-received' }>): void {
    const tracked = this.events.get(event.id);
    if (tracked === undefined || tracked.stamp.digest !== event.digest) {
      for (const id of inIdOrder(connections.map((c) => this.subscriptions.idOf(c)))) {
        this.integrityErrors++;
        this.violations.report(
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
    const again: string[] = [];
    const againOfViewer: string[] = [];
    for (const c of connections) {
      if (tracked.received.testAndSet(c)) {
        again.push(this.subscriptions.idOf(c));
        continue;
      }
      if (this.duplicatesPerViewer && this.viewerHad(tracked, c, event.topic)) {
        const again = epoch !== undefined && this.appendedBefore(event.id, this.topology.dcOf(node), epoch);
        if (!again) {
          againOfViewer.push(this.subscriptions.idOf(c));
          continue;
        }
      }
      if (this.dcOfConnection[c] === tracked.origin) sameDc++;
      else crossDc++;
      if (tracked.lost?.has(c) === true) this.late++;
    }
    for (const id of inIdOrder(again)) {
      this.duplicates++;
      this.violations.report('no-duplicates', t, `${id} received event ${event.id} a second time`, {
        e: event.id,
        connection: id,
      });
    }
    for (const id of inIdOrder(againOfViewer)) {
      this.duplicates++;
      this.violations.report(
        'no-duplicates',
        t,
        `${id} received event ${event.id}, which its viewer had already received on an earlier connection of the same subscription`,
        { e: event.id, connection: id },
      );
    }
    const latencyUs: Us = t - tracked.publishUs;
    this.delivered += sameDc + crossDc;
    this.latency.overall.record(latencyUs, sameDc + crossDc);
    if (sameDc > 0) this.latency.sameDc.record(latencyUs, sameDc);
    if (crossDc > 0) this.latency.crossDc.record(latencyUs, crossDc);
  }

  /** A connection of `viewer` joined `topic`: a resume continues the viewer's subscription, anything else starts one. */
  private joined(viewer: number, topic: Topic, resumes: boolean): void {
    const key = `${viewer}\u0000${topic}`;
    if (!resumes || !this.subscriptionOf.has(key)) this.subscriptionOf.set(key, this.nextSubscription++);
  }

  /** Mark that connection `c`'s viewer has the event in its subscription; true if it had it already (on another connection). */
  private viewerHad(tracked: TrackedEvent, c: number, topic: Topic): boolean {
    const viewer = this.viewerOfConnection[c];
    // A connection that never opened is the frontend's invention: the misdelivery check names it.
    // Past its retention an event's receipts count as first ones (events.ts), for viewers too.
    if (viewer === undefined || tracked.retired) return false;
    const key = `${viewer}\u0000${topic}`;
    let subscription = this.subscriptionOf.get(key);
    if (subscription === undefined) this.subscriptionOf.set(key, (subscription = this.nextSubscription++));
    tracked.viewers ??= new Bitset();
    return tracked.viewers.testAndSet(subscription);
  }
}

/**
 * A fan-out or a batch names a set of connections; its violations are reported in the order of the
 * connections' ids, so which of them are kept in detail never depends on how the set was listed
 * (live, or decoded from a trace).
 */
function inIdOrder(ids: string[]): string[] {
  return ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
