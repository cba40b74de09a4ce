/**
 * The simulated world: runs the pure core's roles on a seeded discrete-event runtime.
 *
 * Theory of operation
 * - Virtual time is integer microseconds. Everything that will happen is an item in one heap
 *   ordered by (time, insertion sequence); the loop pops the next item, feeds it to a role or a
 *   simulated client, performs the returned effects (which schedule more items), and re-arms the
 *   role's deadline. Roles see time as `floor(us / 1000)` milliseconds.
 * - A run is a pure function of (scenario, seed): randomness comes from three streams split from
 *   the seed (network, faults, workload), and every collection is iterated in insertion order.
 *   While a run is in progress `Date.now`, `performance.now` and `Math.random` throw.
 * - Nodes are `<dc>/frontend-N`, `<dc>/dispatcher-N`, `<dc>/store`. Killing a node drops its state,
 *   cancels its timers (its deadline token changes), drops messages in flight to it (each carries
 *   the incarnation it was sent to) and disconnects its viewers, who reconnect to another frontend
 *   of their datacenter after a jittered backoff and resume from the last event they saw.
 * - Links: client links are ordered and lossless with a latency; node links draw latency (plus any
 *   jitter storm), may lose (plus any loss burst) or duplicate messages, and may be FIFO. A message
 *   crosses only if no partition or isolation blocks it both when sent and when it arrives.
 * - Publishers, one per datacenter, send each topic's publishes to a live dispatcher of their
 *   datacenter in turn (a load balancer's health check), at the topic's rate, spread over origins.
 * - Every fact goes to the trace and to the checker, which judges the invariants as the run goes.
 */
import type {
  ClientAction,
  DispatcherInput,
  DispatcherOptions,
  DispatcherState,
  Effect,
  Event,
  EventId,
  FrontendInput,
  FrontendOptions,
  FrontendState,
  Message,
  PublishId,
  Role,
  StoreInput,
  StoreOptions,
  StoreState,
} from '../core/index.ts';
import {
  assert,
  dispatcherRole,
  eventOfStoreRequest,
  frontendRole,
  storeRole,
  unreachable,
} from '../core/index.ts';
import {
  stampOf,
  type EventStamp,
  type Fact,
  type FactSink,
  type MessageFacts,
  type NetworkDropReason,
} from './facts.ts';
import { EventHeap, type Unscheduled } from './heap.ts';
import { Rng } from './rng.ts';
import type { Fault, FaultKind, LinkClass, Scenario } from './scenario.ts';
import { faultKinds, nodeIds } from './scenario.ts';

/** The role implementations a run uses: the core's by default, a planted-bug copy in checker tests. */
export interface Roles {
  frontend: Role<FrontendState, FrontendInput, FrontendOptions>;
  dispatcher: Role<DispatcherState, DispatcherInput, DispatcherOptions>;
  store: Role<StoreState, StoreInput, StoreOptions>;
}

export const coreRoles: Roles = { frontend: frontendRole, dispatcher: dispatcherRole, store: storeRole };

export interface WorldOptions {
  /** Who hears the facts, in this order. */
  facts: FactSink[];
  roles?: Roles;
  /** Called every few thousand items with simulated progress. */
  onProgress?: (doneMs: number, totalMs: number) => void;
}

export interface WorldResult {
  items: number;
  simulatedUs: number;
  faults: Record<FaultKind, number>;
  faultSchedule: Fault[];
  messages: { sent: number; dropped: Record<string, number>; duplicated: number };
  publishes: { attempted: number; unroutable: number; answered: number; warned: number; refused: number };
  connections: { opened: number; refused: number; reconnects: number };
}

type NodeRole = 'frontend' | 'dispatcher' | 'store';

interface SimNode {
  id: string;
  dc: string;
  role: NodeRole;
  alive: boolean;
  incarnation: number;
  isolatedBy: number[];
  fe: FrontendState | null;
  di: DispatcherState | null;
  st: StoreState | null;
  deadlineUs: number | null;
  token: number;
  /** Frontends only: the indices of connections it holds. */
  connections: Set<number>;
}

interface Connection {
  index: number;
  id: string;
  viewer: number;
  node: SimNode;
  incarnation: number;
  open: boolean;
  /** The frontend processed `connect`. */
  accepted: boolean;
  lastArrivalUs: number;
}

interface Viewer {
  index: number;
  dc: string;
  topics: string[];
  connection: number;
  lastFrontend: string | null;
  lastEventId: EventId | null;
  away: boolean;
}

type Item =
  | {
      at: number;
      seq: number;
      kind: 'message';
      facts: MessageFacts;
      source: string;
      target: SimNode;
      incarnation: number;
      message: Message;
      /** Set for a publisher's publish: it arrives as the dispatcher's `publish` input. */
      publishId?: PublishId;
    }
  | { at: number; seq: number; kind: 'deadline'; node: SimNode; token: number }
  | { at: number; seq: number; kind: 'client'; connection: number; action: ClientAction }
  | {
      at: number;
      seq: number;
      kind: 'batch';
      node: SimNode;
      incarnation: number;
      event: EventStamp;
      connections: number[];
    }
  | {
      at: number;
      seq: number;
      kind: 'viewer';
      viewer: number;
      what: 'join' | 'reconnect' | 'leave' | 'rejoin';
    }
  | { at: number; seq: number; kind: 'publish'; topic: number }
  | { at: number; seq: number; kind: 'publish-reply'; message: Message }
  | { at: number; seq: number; kind: 'fault'; f: number; phase: 'start' | 'end' }
  | { at: number; seq: number; kind: 'due'; e: EventId };

const progressEvery = 1 << 14;

export function runWorld(scenario: Scenario, seed: string, options: WorldOptions): WorldResult {
  return new World(scenario, seed, options).run();
}

class World {
  private readonly roles: Roles;
  private readonly heap = new EventHeap<Item>();
  private readonly network: Rng;
  private readonly faultRng: Rng;
  private readonly workload: Rng;
  private readonly nodes = new Map<string, SimNode>();
  private readonly frontendsOf = new Map<string, SimNode[]>();
  private readonly dispatchersOf = new Map<string, SimNode[]>();
  private readonly connections: Connection[] = [];
  private readonly connectionIndexById = new Map<string, number>();
  private readonly viewers: Viewer[] = [];
  private readonly faults: Fault[];
  private readonly partitions: { f: number; from: string; to: string }[] = [];
  private storms: { f: number; fault: Extract<Fault, { kind: 'jitter-storm' }> }[] = [];
  private bursts: { f: number; fault: Extract<Fault, { kind: 'loss-burst' }> }[] = [];
  private readonly fifoArrival = new Map<string, number>();
  private readonly storeRequestEvents = new Map<string, EventId>();
  private readonly publishCursor: number[] = [];
  private readonly dispatcherCursor = new Map<string, number>();
  private readonly endUs: number;
  private readonly stopPublishingUs: number;
  private now = 0;
  private nextMessage = 1;
  private readonly result: Omit<WorldResult, 'items' | 'simulatedUs'>;

  constructor(
    private readonly scenario: Scenario,
    private readonly seed: string,
    private readonly options: WorldOptions,
  ) {
    this.roles = options.roles ?? coreRoles;
    this.network = new Rng(seed, 'network');
    this.faultRng = new Rng(seed, 'faults');
    this.workload = new Rng(seed, 'workload');
    this.stopPublishingUs = scenario.durationMs * 1000;
    this.endUs = (scenario.durationMs + scenario.deliveryDeadlineMs) * 1000;
    this.faults = [...scenario.faults, ...drawRandomFaults(scenario, this.faultRng)].sort(
      (a, b) => a.atMs - b.atMs,
    );
    this.result = {
      faults: Object.fromEntries(faultKinds.map((kind) => [kind, 0])) as Record<FaultKind, number>,
      faultSchedule: this.faults,
      messages: { sent: 0, dropped: {}, duplicated: 0 },
      publishes: { attempted: 0, unroutable: 0, answered: 0, warned: 0, refused: 0 },
      connections: { opened: 0, refused: 0, reconnects: 0 },
    };
  }

  run(): WorldResult {
    const nodes = nodeIds(this.scenario);
    this.emit({ kind: 'run', t: 0, scenario: this.scenario, seed: this.seed, nodes, faults: this.faults });
    for (const { id, dc, role } of nodes) {
      const node: SimNode = {
        id,
        dc,
        role,
        alive: true,
        incarnation: 0,
        isolatedBy: [],
        fe: null,
        di: null,
        st: null,
        deadlineUs: null,
        token: 0,
        connections: new Set(),
      };
      this.nodes.set(id, node);
      const list = role === 'frontend' ? this.frontendsOf : role === 'dispatcher' ? this.dispatchersOf : null;
      if (list !== null) (list.get(dc) ?? list.set(dc, []).get(dc))?.push(node);
    }
    for (const node of this.nodes.values()) this.start(node);
    this.scheduleWorkload();
    this.faults.forEach((fault, i) =>
      this.push({ at: fault.atMs * 1000, kind: 'fault', f: i + 1, phase: 'start' }),
    );

    let items = 0;
    const totalMs = this.endUs / 1000;
    for (;;) {
      const item = this.heap.peek();
      if (item === undefined || item.at > this.endUs) break;
      this.heap.pop();
      assert(item.at >= this.now, 'time went backwards');
      this.now = item.at;
      this.dispatch(item);
      if (++items % progressEvery === 0) this.options.onProgress?.(Math.floor(this.now / 1000), totalMs);
    }
    this.now = this.endUs;
    this.emit({ kind: 'end', t: this.now, items });
    return { ...this.result, items, simulatedUs: this.now };
  }

  private push(item: Unscheduled<Item>): void {
    this.heap.push(item);
  }

  private emit(fact: Fact): void {
    for (const sink of this.options.facts) sink(fact);
  }

  private dispatch(item: Item): void {
    switch (item.kind) {
      case 'message':
        return this.arrive(item);
      case 'deadline':
        if (item.token !== item.node.token || !item.node.alive) return;
        item.node.deadlineUs = null;
        this.feed(item.node, { kind: 'deadline' });
        return;
      case 'client':
        return this.clientArrives(item.connection, item.action);
      case 'batch':
        return this.batchArrives(item);
      case 'viewer':
        return this.viewerStep(item.viewer, item.what);
      case 'publish':
        return this.publish(item.topic);
      case 'publish-reply':
        if (item.message.type === 'publish-reply') {
          const { result } = item.message;
          if (!result.ok) this.result.publishes.refused++;
          else if (result.warning === undefined) this.result.publishes.answered++;
          else this.result.publishes.warned++;
        }
        return;
      case 'fault':
        return this.fault(item.f, item.phase);
      case 'due':
        return this.emit({ kind: 'due', t: this.now, e: item.e });
    }
  }

  // Nodes.

  private start(node: SimNode): void {
    const roles = this.scenario.roles;
    const dispatchers = (this.dispatchersOf.get(node.dc) ?? []).map((d) => d.id);
    if (node.role === 'frontend') {
      node.fe = this.roles.frontend.create({
        nodeId: node.id,
        dc: node.dc,
        dispatchers,
        leaseMs: roles.leaseMs,
        renewEveryMs: roles.renewEveryMs,
        leaseRequestTimeoutMs: roles.leaseRequestTimeoutMs,
        leaseAttemptsMax: roles.leaseAttemptsMax,
        // Every incarnation's generations are above the previous one's.
        generationStart: node.incarnation * 1_000_000_000,
        limits: roles.frontendLimits,
      });
    } else if (node.role === 'dispatcher') {
      const peers: Record<string, string[]> = {};
      for (const [dc, list] of this.dispatchersOf) if (dc !== node.dc) peers[dc] = list.map((d) => d.id);
      node.di = this.roles.dispatcher.create({
        nodeId: node.id,
        dc: node.dc,
        idPrefix: `${node.id}.${node.incarnation}:`,
        peers,
        storeRequestTimeoutMs: roles.storeRequestTimeoutMs,
        forwardTimeoutMs: roles.forwardTimeoutMs,
        forwardAttemptsMax: roles.forwardAttemptsMax,
        suspectMs: roles.suspectMs,
        // Frontends renew within a renewal period and one request timeout of a store's birth.
        storeRebuildWindowMs: roles.renewEveryMs + roles.leaseRequestTimeoutMs,
      });
    } else {
      // Each incarnation of a store begins a new, larger epoch: a restarted store has lost everything.
      node.st = this.roles.store.create({ epoch: node.incarnation + 1 });
    }
    this.armDeadline(node);
  }

  private feed(node: SimNode, input: FrontendInput | DispatcherInput): Effect[] {
    const nowMs = Math.floor(this.now / 1000);
    let effects: Effect[];
    if (node.fe !== null) effects = this.roles.frontend.handle(node.fe, input as FrontendInput, nowMs);
    else if (node.di !== null)
      effects = this.roles.dispatcher.handle(node.di, input as DispatcherInput, nowMs);
    else if (node.st !== null) effects = this.roles.store.handle(node.st, input as StoreInput, nowMs);
    else throw new Error(`feeding ${node.id}, which has no state`);
    this.perform(node, effects);
    this.armDeadline(node, input.kind === 'deadline');
    return effects;
  }

  private armDeadline(node: SimNode, afterDeadline = false): void {
    const ms =
      node.fe !== null
        ? this.roles.frontend.deadline(node.fe)
        : node.di !== null
          ? this.roles.dispatcher.deadline(node.di)
          : node.st !== null
            ? this.roles.store.deadline(node.st)
            : null;
    if (ms === null) {
      node.deadlineUs = null;
      return;
    }
    // A role asked at its deadline must move it forward, or the world would spin at one instant.
    if (afterDeadline)
      assert(ms > Math.floor(this.now / 1000), `${node.id} did not advance its deadline past ${ms} ms`);
    const at = Math.max(this.now, ms * 1000);
    if (node.deadlineUs === at) return;
    node.deadlineUs = at;
    node.token++;
    this.push({ at, kind: 'deadline', node, token: node.token });
  }

  private perform(node: SimNode, effects: Effect[]): void {
    for (const effect of effects) {
      switch (effect.kind) {
        case 'send':
          this.send(node.id, node.dc, effect.target, effect.message, node);
          break;
        case 'store-request': {
          const event = node.di === null ? null : eventOfStoreRequest(node.di, effect.requestId);
          if (event !== null) this.storeRequestEvents.set(`${node.id}\u0000${effect.requestId}`, event.id);
          this.send(
            node.id,
            node.dc,
            `${node.dc}/store`,
            { type: 'store-request', requestId: effect.requestId, request: effect.request },
            node,
          );
          break;
        }
        case 'deliver':
          this.fanOut(node, effect.connections, effect.event);
          break;
        case 'notice':
          break;
        case 'joined':
        case 'left':
          this.membershipChanged(node, effect);
          break;
        case 'publish-reply':
          // The answer travels back to the publisher of the dispatcher's datacenter.
          this.send(
            node.id,
            node.dc,
            `${node.dc}/publisher`,
            { type: 'publish-reply', requestId: effect.publishId, result: effect.result },
            node,
          );
          break;
        case 'close': {
          const index = this.connectionIndex(effect.connection);
          if (index !== null) this.closeConnection(index, 'refused');
          break;
        }
        case 'drop':
          this.emit({
            kind: 'role-drop',
            t: this.now,
            node: node.id,
            reason: effect.reason,
            ...(effect.eventId === undefined ? {} : { e: effect.eventId }),
            ...(effect.topic === undefined ? {} : { topic: effect.topic }),
            ...(effect.dc === undefined ? {} : { dc: effect.dc }),
          });
          break;
        case 'lease': {
          const lease = effect.lease;
          this.emit({
            kind: 'lease',
            t: this.now,
            dc: node.dc,
            topic: lease.topic,
            frontend: lease.frontend,
            change: lease.change,
            ...(lease.expiresAtMs === undefined ? {} : { expUs: lease.expiresAtMs * 1000 }),
          });
          break;
        }
        case 'published': {
          const event = effect.event;
          this.emit({
            kind: 'published',
            t: this.now,
            node: node.id,
            event: stampOf(event),
            bytes: event.payload.length,
          });
          this.push({ at: this.now + this.scenario.deliveryDeadlineMs * 1000, kind: 'due', e: event.id });
          break;
        }
        default:
          throw new Error(`unknown effect ${JSON.stringify(effect)}`);
      }
    }
  }

  // The network between nodes.

  private send(
    source: string,
    sourceDc: string,
    targetId: string,
    message: Message,
    sourceNode: SimNode | null,
    publishId?: PublishId,
  ): void {
    const target = this.nodes.get(targetId);
    const facts = this.messageFacts(source, targetId, target, message);
    this.result.messages.sent++;
    if (target === undefined) {
      // Replies to publishers leave the node world.
      this.emit({ kind: 'sent', t: this.now, message: facts, copies: 1 });
      if (message.type === 'publish-reply')
        this.push({
          at: this.now + this.latency(this.scenario.network.intraDc, sourceDc, sourceDc),
          kind: 'publish-reply',
          message,
        });
      return;
    }
    const blocked = this.blocked(sourceNode, sourceDc, target);
    if (blocked !== null) {
      this.emit({ kind: 'sent', t: this.now, message: facts, copies: 1 });
      return this.drop(facts, blocked.why, blocked.f);
    }
    const link = sourceDc === target.dc ? this.scenario.network.intraDc : this.scenario.network.crossDc;
    const burst = this.burstLoss(sourceDc, target.dc);
    if (this.network.chance(link.lossPerMillion + burst.perMillion)) {
      this.emit({ kind: 'sent', t: this.now, message: facts, copies: 1 });
      return this.drop(facts, 'loss', burst.perMillion > 0 ? burst.f : undefined);
    }
    const copies = this.network.chance(link.duplicatePerMillion) ? 2 : 1;
    if (copies === 2) this.result.messages.duplicated++;
    this.emit({ kind: 'sent', t: this.now, message: facts, copies });
    for (let copy = 0; copy < copies; copy++) {
      let at = this.now + this.latency(link, sourceDc, target.dc);
      if (link.fifo) {
        const key = `${source}\u0000${targetId}`;
        at = Math.max(at, this.fifoArrival.get(key) ?? 0);
        this.fifoArrival.set(key, at);
      }
      this.push({
        at,
        kind: 'message',
        facts,
        source,
        target,
        incarnation: target.incarnation,
        message,
        ...(publishId === undefined ? {} : { publishId }),
      });
    }
  }

  private arrive(item: Extract<Item, { kind: 'message' }>): void {
    const { target, message } = item;
    if (!target.alive || target.incarnation !== item.incarnation) {
      return this.drop(item.facts, 'target-dead', undefined);
    }
    const blocked = this.blocked(this.nodes.get(item.source) ?? null, this.dcOfSource(item.source), target);
    if (blocked !== null) return this.drop(item.facts, blocked.why, blocked.f);
    this.emit({ kind: 'received', t: this.now, message: item.facts });
    if (message.type === 'store-reply' && target.di !== null) {
      this.storeRequestEvents.delete(`${target.id}\u0000${message.requestId}`);
      this.feed(target, { kind: 'store-reply', requestId: message.requestId, reply: message.reply });
    } else if (item.publishId !== undefined && message.type === 'publish') {
      const { topic, payload, id } = message;
      this.feed(target, {
        kind: 'publish',
        publishId: item.publishId,
        request: id === undefined ? { topic, payload } : { topic, payload, id },
      });
    } else {
      this.feed(target, { kind: 'message', source: item.source, message });
    }
  }

  private drop(facts: MessageFacts, why: NetworkDropReason, f: number | undefined): void {
    this.result.messages.dropped[why] = (this.result.messages.dropped[why] ?? 0) + 1;
    this.emit({ kind: 'dropped', t: this.now, message: facts, why, ...(f === undefined ? {} : { f }) });
  }

  /** A message as the facts name it: its number, ends and type, and the event or lease it is about. */
  private messageFacts(
    source: string,
    targetId: string,
    target: SimNode | undefined,
    message: Message,
  ): MessageFacts {
    const e = this.eventOf(source, targetId, message);
    const topic = message.type === 'deliver' || message.type === 'forward' ? message.event.topic : undefined;
    const forwardId =
      message.type === 'forward' || message.type === 'forward-ack' ? message.forwardId : undefined;
    const leaseOf = this.leaseOf(target, message);
    return {
      m: this.nextMessage++,
      from: source,
      to: targetId,
      type: message.type,
      ...(e === null ? {} : { e }),
      ...(topic === undefined ? {} : { topic }),
      ...(forwardId === undefined ? {} : { forwardId }),
      ...(leaseOf === undefined ? {} : { leaseOf }),
    };
  }

  /** The frontend whose lease a message writes or answers. */
  private leaseOf(target: SimNode | undefined, message: Message): string | undefined {
    switch (message.type) {
      case 'subscribe':
      case 'renew':
      case 'unsubscribe':
        return message.frontend;
      case 'store-request':
        return message.request.op === 'lookup' ? undefined : message.request.frontend;
      case 'lease-reply':
      case 'store-reset':
        return target?.role === 'frontend' ? target.id : undefined;
      case 'publish':
      case 'publish-reply':
      case 'deliver':
      case 'forward':
      case 'forward-ack':
      case 'store-reply':
        return undefined;
      default:
        return unreachable(message);
    }
  }

  /** The event a message carries or serves (a store lookup and its reply), for the trace and the checker. */
  private eventOf(source: string, target: string, message: Message): EventId | null {
    switch (message.type) {
      case 'deliver':
      case 'forward':
        return message.event.id;
      case 'store-request':
        return this.storeRequestEvents.get(`${source}\u0000${message.requestId}`) ?? null;
      case 'store-reply':
        return this.storeRequestEvents.get(`${target}\u0000${message.requestId}`) ?? null;
      case 'publish':
      case 'publish-reply':
      case 'subscribe':
      case 'renew':
      case 'unsubscribe':
      case 'lease-reply':
      case 'store-reset':
      case 'forward-ack':
        return null;
    }
  }

  private dcOfSource(source: string): string {
    return source.slice(0, source.indexOf('/'));
  }

  private blocked(
    source: SimNode | null,
    sourceDc: string,
    target: SimNode,
  ): { why: NetworkDropReason; f: number } | null {
    const isolated = source?.isolatedBy[0] ?? target.isolatedBy[0];
    if (isolated !== undefined) return { why: 'isolated', f: isolated };
    if (sourceDc !== target.dc) {
      for (const p of this.partitions)
        if (p.from === sourceDc && p.to === target.dc) return { why: 'partition', f: p.f };
    }
    return null;
  }

  private burstLoss(a: string, b: string): { perMillion: number; f: number | undefined } {
    let perMillion = 0;
    let f: number | undefined;
    for (const { f: id, fault } of this.bursts) {
      if (fault.dc === undefined || fault.dc === a || fault.dc === b) {
        perMillion += fault.lossPerMillion;
        f ??= id;
      }
    }
    return { perMillion, f };
  }

  private latency(link: Pick<LinkClass, 'latency'>, a: string, b: string): number {
    let us = this.network.latencyUs(link.latency);
    for (const { fault } of this.storms)
      if (fault.dc === undefined || fault.dc === a || fault.dc === b)
        us += this.network.latencyUs(fault.extraLatency);
    return Math.max(1, us);
  }

  // Clients.

  private scheduleWorkload(): void {
    const dcs = this.scenario.topology.datacenters.map((dc) => dc.name);
    const topics = this.scenario.workload.topics;
    let index = 0;
    topics.forEach((topic, t) => {
      for (let i = 0; i < topic.viewers; i++) {
        // Every tenth viewer also watches the next topic, so connections hold several topics.
        const extra =
          i % 10 === 9 && topics.length > 1
            ? [(topics[(t + 1) % topics.length] as { name: string }).name]
            : [];
        const viewer: Viewer = {
          index,
          dc: dcs[index % dcs.length] as string,
          topics: [topic.name, ...extra],
          connection: -1,
          lastFrontend: null,
          lastEventId: null,
          away: false,
        };
        this.viewers.push(viewer);
        this.push({
          at: this.workload.int(0, this.scenario.workload.joinOverMs * 1000 - 1),
          kind: 'viewer',
          viewer: index,
          what: 'join',
        });
        this.scheduleChurn(viewer);
        index++;
      }
      this.publishCursor[t] = t;
      if (topic.publishesPerSecond > 0) {
        this.push({
          at:
            this.scenario.workload.publishFromMs * 1000 + this.workload.intervalUs(topic.publishesPerSecond),
          kind: 'publish',
          topic: t,
        });
      }
    });
  }

  private scheduleChurn(viewer: Viewer): void {
    const rate = this.scenario.workload.churnPerViewerPerMinute;
    if (rate <= 0) return;
    const at = this.now + this.workload.intervalUs(rate / 60);
    if (at < this.stopPublishingUs) this.push({ at, kind: 'viewer', viewer: viewer.index, what: 'leave' });
  }

  private viewerStep(index: number, what: 'join' | 'reconnect' | 'leave' | 'rejoin'): void {
    const viewer = this.viewers[index] as Viewer;
    switch (what) {
      case 'join':
      case 'reconnect':
        return this.connect(viewer);
      case 'leave': {
        const connection = this.connections[viewer.connection];
        if (connection === undefined || !connection.open || viewer.away) return this.scheduleChurn(viewer);
        viewer.away = true;
        this.clientSend(connection, { type: 'unsubscribe', topic: viewer.topics[0] as string });
        this.push({
          at: this.now + this.scenario.workload.rejoinAfterMs * 1000,
          kind: 'viewer',
          viewer: index,
          what: 'rejoin',
        });
        return;
      }
      case 'rejoin': {
        viewer.away = false;
        const connection = this.connections[viewer.connection];
        if (connection !== undefined && connection.open)
          this.clientSend(connection, { type: 'subscribe', topic: viewer.topics[0] as string });
        return this.scheduleChurn(viewer);
      }
    }
  }

  private connect(viewer: Viewer): void {
    const frontends = this.frontendsOf.get(viewer.dc) ?? [];
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
    };
    this.connections.push(connection);
    this.connectionIndexById.set(connection.id, index);
    viewer.connection = index;
    viewer.lastFrontend = node.id;
    this.clientSend(connection, { type: 'connect' });
    const topics = viewer.away ? viewer.topics.slice(1) : viewer.topics;
    if (viewer.lastEventId !== null && topics.length > 0)
      this.clientSend(connection, { type: 'resume', topics, lastEventId: viewer.lastEventId });
    else for (const topic of topics) this.clientSend(connection, { type: 'subscribe', topic });
  }

  private clientSend(connection: Connection, action: ClientAction): void {
    // A TCP connection: in order, no loss.
    const at = Math.max(
      this.now + this.latency(this.scenario.network.client, connection.node.dc, connection.node.dc),
      connection.lastArrivalUs,
    );
    connection.lastArrivalUs = at;
    this.push({ at, kind: 'client', connection: connection.index, action });
  }

  private clientArrives(index: number, action: ClientAction): void {
    const connection = this.connections[index] as Connection;
    if (!connection.open) return;
    const node = connection.node;
    if (!node.alive || node.incarnation !== connection.incarnation || node.fe === null) {
      // The frontend is gone: the client sees its connection fail and will try another.
      return this.closeConnection(index, connection.accepted ? 'lost' : 'refused');
    }
    const effects = this.roles.frontend.handle(
      node.fe,
      { kind: 'client', connection: connection.id, action },
      Math.floor(this.now / 1000),
    );
    const closed = effects.some((effect) => effect.kind === 'close' && effect.connection === connection.id);
    if (action.type === 'connect' && !closed && !effects.some((effect) => effect.kind === 'notice')) {
      const viewer = this.viewers[connection.viewer] as Viewer;
      connection.accepted = true;
      node.connections.add(index);
      this.result.connections.opened++;
      this.emit({
        kind: 'connection',
        op: 'opened',
        t: this.now,
        c: index,
        id: connection.id,
        node: node.id,
        viewer: viewer.index,
      });
    }
    // What the action changed about the connection is recorded before what the frontend then sent.
    for (const effect of effects)
      if (effect.kind === 'joined' || effect.kind === 'left') this.membershipChanged(node, effect);
    this.perform(
      node,
      effects.filter((effect) => effect.kind !== 'joined' && effect.kind !== 'left'),
    );
    this.armDeadline(node);
  }

  /** A connection joined or left a topic at its frontend. */
  private membershipChanged(node: SimNode, effect: Extract<Effect, { kind: 'joined' | 'left' }>): void {
    const index = this.connectionIndex(effect.connection);
    assert(index !== null, `${node.id} changed the topics of an unknown connection ${effect.connection}`);
    const connection = this.connections[index] as Connection;
    assert(connection.accepted, `${effect.connection} changed topics before it was accepted`);
    this.emit({
      kind: 'connection',
      op: effect.kind,
      t: this.now,
      c: index,
      id: connection.id,
      node: node.id,
      viewer: connection.viewer,
      topic: effect.topic,
    });
  }

  private fanOut(node: SimNode, connectionIds: string[], event: Event): void {
    const indices: number[] = [];
    for (const id of connectionIds) {
      const index = this.connectionIndex(id);
      if (index !== null) indices.push(index);
    }
    const stamp = stampOf(event);
    this.emit({ kind: 'fanned-out', t: this.now, node: node.id, event: stamp, connections: indices });
    const at = this.now + this.latency(this.scenario.network.client, node.dc, node.dc);
    this.push({ at, kind: 'batch', node, incarnation: node.incarnation, event: stamp, connections: indices });
  }

  private batchArrives(item: Extract<Item, { kind: 'batch' }>): void {
    const { node, event } = item;
    const received: number[] = [];
    let lost = 0;
    const sourceGone = !node.alive || node.incarnation !== item.incarnation;
    for (const index of item.connections) {
      const connection = this.connections[index] as Connection;
      if (sourceGone || !connection.open) {
        lost++;
        continue;
      }
      received.push(index);
      (this.viewers[connection.viewer] as Viewer).lastEventId = event.id;
    }
    if (lost > 0)
      this.emit({
        kind: 'batch-lost',
        t: this.now,
        node: node.id,
        e: event.id,
        n: lost,
        why: sourceGone ? 'source-dead' : 'connection-closed',
      });
    if (received.length === 0) return;
    this.emit({ kind: 'batch-received', t: this.now, node: node.id, event, connections: received });
  }

  private connectionIndex(id: string): number | null {
    return this.connectionIndexById.get(id) ?? null;
  }

  /** A connection ends: refused at connect, lost with its frontend, or closed by the frontend. */
  private closeConnection(index: number, how: 'refused' | 'lost'): void {
    const connection = this.connections[index] as Connection;
    if (!connection.open) return;
    connection.open = false;
    connection.node.connections.delete(index);
    const viewer = this.viewers[connection.viewer] as Viewer;
    if (connection.accepted) {
      this.emit({
        kind: 'connection',
        op: 'closed',
        t: this.now,
        c: index,
        id: connection.id,
        node: connection.node.id,
        viewer: viewer.index,
      });
    } else {
      this.result.connections.refused++;
      this.emit({
        kind: 'connection',
        op: 'refused',
        t: this.now,
        c: index,
        id: connection.id,
        node: connection.node.id,
        viewer: viewer.index,
      });
    }
    if (viewer.connection !== index || this.now >= this.stopPublishingUs) return;
    const { min, max } = this.scenario.workload.reconnectBackoffMs;
    this.result.connections.reconnects++;
    this.push({
      at: this.now + this.workload.int(min * 1000, max * 1000) + (how === 'refused' ? 1 : 0),
      kind: 'viewer',
      viewer: viewer.index,
      what: 'reconnect',
    });
  }

  // Publishers.

  private publish(topicIndex: number): void {
    const topic = this.scenario.workload.topics[topicIndex];
    assert(topic !== undefined, 'publish for an unknown topic');
    const dcs = this.scenario.topology.datacenters;
    const cursor = this.publishCursor[topicIndex] ?? 0;
    this.publishCursor[topicIndex] = cursor + 1;
    const dc = (dcs[cursor % dcs.length] as { name: string }).name;
    this.result.publishes.attempted++;
    const alive = (this.dispatchersOf.get(dc) ?? []).filter((d) => d.alive);
    if (alive.length === 0) {
      this.result.publishes.unroutable++;
    } else {
      const turn = this.dispatcherCursor.get(dc) ?? 0;
      this.dispatcherCursor.set(dc, turn + 1);
      const target = alive[turn % alive.length] as SimNode;
      const n = this.result.publishes.attempted;
      const body = `{"like":${n},"topic":"${topic.name}","pad":"`;
      const payload =
        body + 'x'.repeat(Math.max(0, this.scenario.workload.payloadBytes - body.length - 2)) + '"}';
      this.send(
        `${dc}/publisher`,
        dc,
        target.id,
        { type: 'publish', requestId: n, topic: topic.name, payload },
        null,
        n,
      );
    }
    const next = this.now + this.workload.intervalUs(topic.publishesPerSecond);
    if (next < this.stopPublishingUs) this.push({ at: next, kind: 'publish', topic: topicIndex });
  }

  // Faults.

  private fault(f: number, phase: 'start' | 'end'): void {
    const fault = this.faults[f - 1];
    assert(fault !== undefined, `unknown fault #${f}`);
    this.emit({ kind: 'fault', t: this.now, f, phase, fault });
    if (phase === 'start') this.result.faults[fault.kind]++;
    const endAfterMs = ((): number | undefined => {
      switch (fault.kind) {
        case 'kill':
          return fault.restartAfterMs;
        case 'partition':
          return fault.repairAfterMs;
        case 'isolate':
          return fault.releaseAfterMs;
        case 'jitter-storm':
        case 'loss-burst':
          return fault.durationMs;
      }
    })();
    if (phase === 'start' && endAfterMs !== undefined)
      this.push({ at: this.now + endAfterMs * 1000, kind: 'fault', f, phase: 'end' });
    switch (fault.kind) {
      case 'kill': {
        const node = this.nodes.get(fault.node);
        assert(node !== undefined, `fault #${f} names an unknown node`);
        if (phase === 'start') this.kill(node);
        else this.restart(node);
        return;
      }
      case 'partition': {
        const [a, b] = fault.between;
        if (phase === 'start') {
          this.partitions.push({ f, from: a, to: b });
          if (fault.oneWay !== true) this.partitions.push({ f, from: b, to: a });
        } else {
          for (let i = this.partitions.length - 1; i >= 0; i--)
            if (this.partitions[i]?.f === f) this.partitions.splice(i, 1);
        }
        return;
      }
      case 'isolate': {
        const node = this.nodes.get(fault.node);
        assert(node !== undefined, `fault #${f} names an unknown node`);
        if (phase === 'start') node.isolatedBy.push(f);
        else node.isolatedBy = node.isolatedBy.filter((id) => id !== f);
        return;
      }
      case 'jitter-storm':
        this.storms =
          phase === 'start' ? [...this.storms, { f, fault }] : this.storms.filter((s) => s.f !== f);
        return;
      case 'loss-burst':
        this.bursts =
          phase === 'start' ? [...this.bursts, { f, fault }] : this.bursts.filter((s) => s.f !== f);
        return;
    }
  }

  private kill(node: SimNode): void {
    if (!node.alive) return;
    node.alive = false;
    node.incarnation++;
    node.token++;
    node.deadlineUs = null;
    node.fe = null;
    node.di = null;
    node.st = null;
    this.emit({ kind: 'node', t: this.now, node: node.id, op: 'down' });
    for (const index of [...node.connections]) this.closeConnection(index, 'lost');
  }

  private restart(node: SimNode): void {
    if (node.alive) return;
    node.alive = true;
    this.emit({ kind: 'node', t: this.now, node: node.id, op: 'up' });
    this.start(node);
  }
}

/** Faults drawn at the scenario's random rates, from the fault stream only. */
function drawRandomFaults(scenario: Scenario, rng: Rng): Fault[] {
  const rates = scenario.randomFaults;
  if (rates === null) return [];
  const nodes = nodeIds(scenario).map((n) => n.id);
  const dcs = scenario.topology.datacenters.map((dc) => dc.name);
  const faults: Fault[] = [];
  const duration = (): number => rng.int(rates.durationMs.min, rates.durationMs.max);
  const times = (perMinute: number): number[] => {
    const out: number[] = [];
    if (perMinute <= 0) return out;
    for (
      let t = rng.intervalUs(perMinute / 60) / 1000;
      t < scenario.durationMs;
      t += rng.intervalUs(perMinute / 60) / 1000
    )
      out.push(Math.floor(t));
    return out;
  };
  for (const atMs of times(rates.killsPerMinute))
    faults.push({ kind: 'kill', atMs, node: rng.pick(nodes), restartAfterMs: duration() });
  if (dcs.length > 1) {
    for (const atMs of times(rates.partitionsPerMinute)) {
      const a = rng.pick(dcs);
      const b = rng.pick(dcs.filter((dc) => dc !== a));
      faults.push({
        kind: 'partition',
        atMs,
        between: [a, b],
        oneWay: rng.chance(300_000),
        repairAfterMs: duration(),
      });
    }
  }
  for (const atMs of times(rates.isolationsPerMinute))
    faults.push({ kind: 'isolate', atMs, node: rng.pick(nodes), releaseAfterMs: duration() });
  for (const atMs of times(rates.jitterStormsPerMinute)) {
    faults.push({
      kind: 'jitter-storm',
      atMs,
      durationMs: duration(),
      extraLatency: { baseUs: 20_000, jitterUs: 20_000 },
    });
  }
  for (const atMs of times(rates.lossBurstsPerMinute))
    faults.push({ kind: 'loss-burst', atMs, durationMs: duration(), lossPerMillion: 200_000 });
  return faults;
}
