/**
 * The simulated clients: viewers, and the connections they hold to frontends.
 *
 * - Each topic has its viewers (every tenth also watches the next topic), spread over the
 *   datacenters; each connects at a random moment of `joinOverMs` to a random frontend of its
 *   datacenter and subscribes to its topics.
 * - A client link is a TCP connection: in order, never lost while it lives; only its latency varies.
 *   A client action reaches the frontend's role as a `client` input. A connection is open from its
 *   `connect` until it is refused, closed by its frontend, or lost with its frontend; it counts as
 *   opened once the frontend accepted the `connect` (its `connected` effect).
 * - What a connection receives is one batch per fan-out: it arrives after one client-link latency,
 *   to every listed connection still open, unless the frontend died first. Batches from one
 *   frontend arrive in the order it sent them, as over TCP.
 * - Churn: a viewer leaves its first topic at the scenario's rate and rejoins after
 *   `rejoinAfterMs`. A viewer whose connection fails reconnects after a jittered backoff to another
 *   frontend of its datacenter (it does not know which are alive) and resumes from the last event
 *   it received. Nobody reconnects once publishing has stopped.
 * - A viewer may also end its connection itself: for good (`leavePerViewerPerMinute`), or to
 *   reconnect and resume (`reconnectPerViewerPerMinute`). It sends `disconnect` and the connection
 *   closes when the frontend has handled it. Each feature draws from the workload stream only when
 *   its rate is above zero, so a scenario without it runs exactly as before.
 * - Viewer counts: one viewer in `occupancyWatchersEvery`, chosen by its number (never drawn, so
 *   the workload stream is the same whoever watches), asks for its topics' counts on every
 *   subscribe and resume. What a frontend tells its watchers is a fact, one per `occupancy` effect.
 */
import {
  assert,
  unreachable,
  usOfMs,
  type ClientAction,
  type ConnectionId,
  type DcId,
  type Effect,
  type Event,
  type EventId,
  type Gap,
  type NodeId,
  type Occupancy,
  type Position,
  type Topic,
  type Us,
} from '../../core/index.ts';
import { stampOf } from '../facts.ts';
import type { Rng } from '../rng.ts';
import { watchesOccupancy } from '../occupancy-bounds.ts';
import type { Scenario } from '../scenario.ts';
import type { Agenda, Item } from './agenda.ts';
import type { Network } from './network.ts';
import { isAlive, type FrontendNode, type Nodes, type Perform } from './nodes.ts';
import { cursorJoined, cursorLeft, cursorReceived, type ViewerCursors } from '../../core/index.ts';

interface Connection {
  index: number;
  id: ConnectionId;
  viewer: number;
  node: FrontendNode;
  /** The frontend's incarnation it connected to. */
  incarnation: number;
  open: boolean;
  /** The frontend accepted its `connect`. */
  accepted: boolean;
  /** When its last client action arrives: the next may not overtake it. */
  lastArrivalUs: Us;
  /** Reliable mode: the topics it resumes from a cursor of its viewer's. */
  resumes: readonly Topic[];
  /** Of those, the ones not joined yet: the first `joined` of each answers the resume. */
  resuming: Set<Topic>;
}

interface Viewer {
  index: number;
  dc: DcId;
  topics: Topic[];
  /** Its current connection's index, -1 before the first. */
  connection: number;
  lastFrontend: NodeId | null;
  lastEventId: EventId | null;
  /** Reliable mode: per topic, where the viewer stands in its datacenter's history (viewer-cursors.ts). */
  cursors: ViewerCursors;
  /** Left its first topic (churn) and not yet back. */
  away: boolean;
  /** Disconnected for good: it never reconnects. */
  gone: boolean;
  /** It asks for its topics' viewer counts (sim/occupancy-bounds.ts, `watchesOccupancy`). */
  watches: boolean;
}

export class Clients {
  readonly counts = { opened: 0, refused: 0, reconnects: 0 };
  private readonly connections: Connection[] = [];
  private readonly indexById = new Map<ConnectionId, number>();
  /** Frontend -> the connections it holds open. */
  private readonly held = new Map<NodeId, Set<number>>();
  /** Frontend -> when its latest batch arrives: the next may not arrive before it. */
  private readonly lastBatchUs = new Map<NodeId, Us>();
  private readonly viewers: Viewer[] = [];

  constructor(
    private readonly agenda: Agenda,
    private readonly scenario: Scenario,
    private readonly workload: Rng,
    private readonly nodes: Nodes,
    private readonly network: Network,
    private readonly perform: Perform,
    private readonly stopPublishingUs: Us,
  ) {}

  /** Create a topic's viewers and schedule their first connect (and churn). */
  addViewersOf(topicIndex: number): void {
    const dcs = this.scenario.topology.datacenters.map((dc) => dc.name);
    const topics = this.scenario.workload.topics;
    const topic = topics[topicIndex];
    assert(topic !== undefined, `no topic #${topicIndex}`);
    for (let i = 0; i < topic.viewers; i++) {
      const index = this.viewers.length;
      // Every tenth viewer also watches the next topic, so connections hold several topics.
      const next = topics[(topicIndex + 1) % topics.length] as { name: Topic };
      const viewer: Viewer = {
        index,
        dc: dcs[index % dcs.length] as DcId,
        topics: i % 10 === 9 && topics.length > 1 ? [topic.name, next.name] : [topic.name],
        connection: -1,
        lastFrontend: null,
        lastEventId: null,
        cursors: new Map(),
        away: false,
        gone: false,
        watches: watchesOccupancy(index, dcs.length, this.scenario.workload.occupancyWatchersEvery),
      };
      this.viewers.push(viewer);
      const at = this.workload.int(0, usOfMs(this.scenario.workload.joinOverMs) - 1);
      this.agenda.schedule({ at, kind: 'viewer', viewer: index, what: 'join' });
      this.scheduleChurn(viewer);
      this.scheduleStep(viewer, 'quit', this.scenario.workload.leavePerViewerPerMinute);
      this.scheduleStep(viewer, 'drop', this.scenario.workload.reconnectPerViewerPerMinute);
    }
  }

  onViewer({ viewer: index, what }: Extract<Item, { kind: 'viewer' }>): void {
    const viewer = this.viewer(index);
    if (viewer.gone) return;
    switch (what) {
      case 'join':
      case 'reconnect':
        return this.connect(viewer);
      case 'quit':
      case 'drop': {
        const connection = this.connections[viewer.connection];
        if (what === 'quit') viewer.gone = true;
        else this.scheduleStep(viewer, 'drop', this.scenario.workload.reconnectPerViewerPerMinute);
        // Not connected right now (between a failure and its reconnect): a drop has nothing to end.
        if (connection !== undefined && connection.open) this.send(connection, { type: 'disconnect' });
        return;
      }
      case 'leave': {
        const connection = this.connections[viewer.connection];
        if (connection === undefined || !connection.open || viewer.away) return this.scheduleChurn(viewer);
        viewer.away = true;
        // Leaving a topic ends the subscription: rejoining it later starts afresh, not from a cursor,
        // even if the resume of it on this connection had not joined yet.
        cursorLeft(viewer.cursors, viewer.topics[0] as Topic);
        connection.resuming.delete(viewer.topics[0] as Topic);
        this.send(connection, { type: 'unsubscribe', topic: viewer.topics[0] as Topic });
        const at = this.agenda.now + usOfMs(this.scenario.workload.rejoinAfterMs);
        this.agenda.schedule({ at, kind: 'viewer', viewer: index, what: 'rejoin' });
        return;
      }
      case 'rejoin': {
        viewer.away = false;
        const connection = this.connections[viewer.connection];
        if (connection !== undefined && connection.open)
          this.send(connection, { type: 'subscribe', topic: viewer.topics[0] as Topic, ...watching(viewer) });
        return this.scheduleChurn(viewer);
      }
      default:
        return unreachable(what);
    }
  }

  /** A client action arrives at its frontend. */
  onClient({ connection: index, action }: Extract<Item, { kind: 'client' }>): void {
    const connection = this.connection(index);
    if (!connection.open) return;
    const node = connection.node;
    if (!isAlive(node) || node.incarnation !== connection.incarnation) {
      // The frontend is gone: the client sees its connection fail and will try another.
      return this.close(index, connection.accepted ? 'lost' : 'refused');
    }
    const effects = this.nodes.handleClient(node, connection.id, action);
    if (effects.some((effect) => effect.kind === 'connected' && effect.connection === connection.id)) {
      connection.accepted = true;
      this.heldBy(node.id).add(index);
      this.counts.opened++;
      this.agenda.emit({
        kind: 'connection',
        op: 'opened',
        t: this.agenda.now,
        c: index,
        id: connection.id,
        node: node.id,
        viewer: connection.viewer,
        ...(connection.resumes.length === 0 ? {} : { resumes: connection.resumes }),
        ...(this.viewer(connection.viewer).watches ? { occupancy: true as const } : {}),
      });
    }
    // What the action changed about the connection is recorded before what the frontend then sent.
    for (const effect of effects)
      if (effect.kind === 'joined' || effect.kind === 'left') this.membershipChanged(node, effect);
    this.perform(
      node,
      effects.filter((effect) => effect.kind !== 'joined' && effect.kind !== 'left'),
    );
    this.nodes.armDeadline(node);
    // A viewer that disconnected ends its side as soon as the frontend has it: nothing reaches it after.
    if (action.type === 'disconnect') this.close(index, 'ended');
  }

  /** A connection joined or left a topic at its frontend (the frontend's `joined`/`left` effect). */
  membershipChanged(node: FrontendNode, effect: Extract<Effect, { kind: 'joined' | 'left' }>): void {
    const index = this.indexById.get(effect.connection);
    assert(
      index !== undefined,
      `${node.id} changed the topics of an unknown connection ${effect.connection}`,
    );
    const connection = this.connection(index);
    assert(connection.accepted, `${effect.connection} changed topics before it was accepted`);
    assert(connection.node === node, `${node.id} changed the topics of ${connection.node.id}'s connection`);
    const position = effect.kind === 'joined' ? effect.position : undefined;
    // The first join of a topic this connection resumes (and the viewer has not left since) answers the resume.
    const resumed = effect.kind === 'joined' && connection.resuming.delete(effect.topic);
    this.agenda.emit({
      kind: 'connection',
      op: effect.kind,
      t: this.agenda.now,
      c: index,
      id: connection.id,
      node: node.id,
      viewer: connection.viewer,
      topic: effect.topic,
      ...(position === undefined ? {} : { epoch: position.epoch, seq: position.seq }),
      ...(resumed ? { resumed } : {}),
    });
    // A fresh subscription's start is the viewer's cursor; a resumed one keeps its own, which only
    // events it actually receives move (a catch-up still on its way may yet be lost).
    if (effect.kind === 'joined' && position !== undefined)
      cursorJoined(this.viewer(connection.viewer).cursors, effect.topic, node.dc, position, resumed);
  }

  /**
   * A frontend told connections of a gap in their topic (`gap` notices), before the client link:
   * one fact for the connections told of the same gap at once, as a fan-out is one.
   */
  gapNoticed(node: FrontendNode, ids: readonly ConnectionId[], gap: Gap): void {
    const connections = ids.map((id) => {
      const index = this.indexById.get(id);
      assert(index !== undefined, `${node.id} told an unknown connection ${id} of a gap`);
      return index;
    });
    this.agenda.emit({
      kind: 'gap',
      t: this.agenda.now,
      node: node.id,
      topic: gap.topic,
      connections,
      epoch: gap.epoch,
      from: gap.fromSeq,
      to: gap.toSeq,
      why: gap.why,
      ...(gap.eventId === undefined ? {} : { e: gap.eventId }),
    });
  }

  /** A frontend's `occupancy` effect: what it told these connections of their topic's viewer count. */
  occupancyTold(node: FrontendNode, ids: readonly ConnectionId[], occupancy: Occupancy): void {
    const connections = ids.map((id) => {
      const index = this.indexById.get(id);
      assert(index !== undefined, `${node.id} told an unknown connection ${id} a viewer count`);
      return index;
    });
    this.agenda.emit({
      kind: 'occupancy',
      t: this.agenda.now,
      node: node.id,
      topic: occupancy.topic,
      connections,
      count: occupancy.count,
      byDc: occupancy.byDc,
      stale: occupancy.stale,
    });
  }

  /** A frontend's `deliver` effect: one batch to its listed connections, one client-link latency later. */
  fanOut(
    node: FrontendNode,
    connectionIds: readonly ConnectionId[],
    event: Event,
    position: Position | undefined,
  ): void {
    const indices: number[] = [];
    for (const id of connectionIds) {
      const index = this.indexById.get(id);
      if (index !== undefined) indices.push(index);
    }
    this.agenda.emit({
      kind: 'fanned-out',
      t: this.agenda.now,
      node: node.id,
      e: event.id,
      topic: event.topic,
      connections: indices,
      ...(position === undefined ? {} : { epoch: position.epoch, seq: position.seq }),
    });
    const stamp = stampOf(event);
    // Client links are TCP: a batch never overtakes an earlier one from the same frontend.
    const at = Math.max(
      this.agenda.now + this.network.clientLatency(node.dc),
      this.lastBatchUs.get(node.id) ?? 0,
    );
    this.lastBatchUs.set(node.id, at);
    this.agenda.schedule({
      at,
      kind: 'batch',
      node,
      incarnation: node.incarnation,
      event: stamp,
      connections: indices,
      ...(position === undefined ? {} : { position }),
    });
  }

  onBatch(item: Extract<Item, { kind: 'batch' }>): void {
    const { node, event } = item;
    const received: number[] = [];
    let lost = 0;
    const sourceGone = !isAlive(node) || node.incarnation !== item.incarnation;
    for (const index of item.connections) {
      const connection = this.connection(index);
      if (sourceGone || !connection.open) {
        lost++;
        continue;
      }
      received.push(index);
      const viewer = this.viewer(connection.viewer);
      viewer.lastEventId = event.id;
      if (item.position !== undefined)
        cursorReceived(viewer.cursors, event.topic, node.dc, event.id, item.position);
    }
    const t = this.agenda.now;
    if (lost > 0) {
      const why = sourceGone ? 'source-dead' : 'connection-closed';
      this.agenda.emit({ kind: 'batch-lost', t, node: node.id, e: event.id, n: lost, why });
    }
    const position =
      item.position === undefined ? {} : { epoch: item.position.epoch, seq: item.position.seq };
    if (received.length > 0)
      this.agenda.emit({
        kind: 'batch-received',
        t,
        node: node.id,
        event,
        connections: received,
        ...position,
      });
  }

  /** The frontend's `close` effect: it ends the connection (before or after accepting it). */
  closedByFrontend(id: ConnectionId): void {
    const index = this.indexById.get(id);
    if (index !== undefined) this.close(index, 'refused');
  }

  /** A frontend died: every connection it held is lost. */
  frontendLost(node: FrontendNode): void {
    for (const index of [...this.heldBy(node.id)]) this.close(index, 'lost');
  }

  private connect(viewer: Viewer): void {
    const frontends = this.nodes.frontendsOf(viewer.dc);
    // A reconnecting viewer avoids the frontend that just failed it, without knowing who else is alive.
    const choices = frontends.length > 1 ? frontends.filter((f) => f.id !== viewer.lastFrontend) : frontends;
    const node = this.workload.pick(choices);
    const index = this.connections.length;
    const connection: Connection = {
      index,
      id: `${node.id}#${index}`,
      viewer: viewer.index,
      node,
      incarnation: node.incarnation,
      open: true,
      accepted: false,
      lastArrivalUs: 0,
      resumes: [],
      resuming: new Set(),
    };
    this.connections.push(connection);
    this.indexById.set(connection.id, index);
    viewer.connection = index;
    viewer.lastFrontend = node.id;
    this.send(connection, { type: 'connect' });
    const topics = viewer.away ? viewer.topics.slice(1) : viewer.topics;
    const cursors = topics.flatMap((topic) => viewer.cursors.get(topic) ?? []);
    if (cursors.length > 0) {
      // Reliable mode: resume every topic from its cursor; lastEventId is the best-effort fallback.
      connection.resumes = cursors.map((cursor) => cursor.topic);
      connection.resuming = new Set(connection.resumes);
      const lastEventId = viewer.lastEventId ?? cursors[0]?.lastEventId ?? 'none';
      this.send(connection, { type: 'resume', topics, lastEventId, cursors, ...watching(viewer) });
    } else if (viewer.lastEventId !== null && topics.length > 0)
      this.send(connection, { type: 'resume', topics, lastEventId: viewer.lastEventId, ...watching(viewer) });
    else for (const topic of topics) this.send(connection, { type: 'subscribe', topic, ...watching(viewer) });
  }

  /** A client action over the connection's link: in order, no loss. */
  private send(connection: Connection, action: ClientAction): void {
    const at = Math.max(
      this.agenda.now + this.network.clientLatency(connection.node.dc),
      connection.lastArrivalUs,
    );
    connection.lastArrivalUs = at;
    this.agenda.schedule({ at, kind: 'client', connection: connection.index, action });
  }

  /**
   * A connection ends: refused at connect, lost with its frontend, closed by the frontend, or
   * ended by its viewer (who reconnects unless it is gone for good).
   */
  private close(index: number, how: 'refused' | 'lost' | 'ended'): void {
    const connection = this.connection(index);
    if (!connection.open) return;
    connection.open = false;
    this.heldBy(connection.node.id).delete(index);
    const viewer = this.viewer(connection.viewer);
    const t = this.agenda.now;
    const { id, node } = connection;
    if (connection.accepted) {
      this.agenda.emit({
        kind: 'connection',
        op: 'closed',
        t,
        c: index,
        id,
        node: node.id,
        viewer: viewer.index,
      });
    } else {
      this.counts.refused++;
      this.agenda.emit({
        kind: 'connection',
        op: 'refused',
        t,
        c: index,
        id,
        node: node.id,
        viewer: viewer.index,
      });
    }
    if (viewer.connection !== index || viewer.gone || t >= this.stopPublishingUs) return;
    const { min, max } = this.scenario.workload.reconnectBackoffMs;
    this.counts.reconnects++;
    this.agenda.schedule({
      at: t + this.workload.int(usOfMs(min), usOfMs(max)) + (how === 'refused' ? 1 : 0),
      kind: 'viewer',
      viewer: viewer.index,
      what: 'reconnect',
    });
  }

  private scheduleChurn(viewer: Viewer): void {
    const rate = this.scenario.workload.churnPerViewerPerMinute;
    if (rate <= 0) return;
    const at = this.agenda.now + this.workload.intervalUs(rate / 60);
    if (at < this.stopPublishingUs)
      this.agenda.schedule({ at, kind: 'viewer', viewer: viewer.index, what: 'leave' });
  }

  /** Schedule a viewer's next `quit` or `drop` at `perMinute`, while publishing goes on. */
  private scheduleStep(viewer: Viewer, what: 'quit' | 'drop', perMinute: number): void {
    if (perMinute <= 0) return;
    const at = this.agenda.now + this.workload.intervalUs(perMinute / 60);
    if (at < this.stopPublishingUs) this.agenda.schedule({ at, kind: 'viewer', viewer: viewer.index, what });
  }

  private heldBy(frontend: NodeId): Set<number> {
    let set = this.held.get(frontend);
    if (set === undefined) this.held.set(frontend, (set = new Set()));
    return set;
  }

  private connection(index: number): Connection {
    const connection = this.connections[index];
    assert(connection !== undefined, `no connection #${index}`);
    return connection;
  }

  private viewer(index: number): Viewer {
    const viewer = this.viewers[index];
    assert(viewer !== undefined, `no viewer #${index}`);
    return viewer;
  }
}

/** What a watching viewer's subscribe and resume say besides their topics. */
function watching(viewer: Viewer): { occupancy?: true } {
  return viewer.watches ? { occupancy: true } : {};
}
