/**
 * The simulated nodes: each runs one of the core's roles (frontend, dispatcher, store) on the
 * world's clock.
 *
 * - A node is a tagged union by role, holding that role's state, or null while the node is down.
 *   Feeding it an input performs the returned effects (through the world) and re-arms its deadline:
 *   the role is asked `deadline()` after every input and called back with `{ kind: 'deadline' }`
 *   then. Roles see time as whole milliseconds of the world's microseconds.
 * - `kill` drops the state, cancels its deadline (the token changes, so a scheduled callback is
 *   stale) and bumps the incarnation, so messages in flight to it are dropped when they arrive.
 *   `restart` creates the state afresh: a frontend's generations and a store's epoch begin above
 *   every earlier incarnation's, as production's clock-based ones do.
 * - Nodes are `<dc>/frontend-N`, `<dc>/dispatcher-N`, `<dc>/store` (sim/scenario.ts names them).
 */
import {
  assert,
  coreRoles,
  msOfUs,
  unreachable,
  usOfMs,
  type ClientAction,
  type ConnectionId,
  type CoreRoles,
  type DcId,
  type DeliveryMode,
  type DispatcherInput,
  type DispatcherState,
  type Effect,
  type FrontendInput,
  type FrontendState,
  type Message,
  type NodeId,
  type StoreInput,
  type StoreState,
  type Us,
} from '../../core/index.ts';
import type { TopologyNode } from '../facts.ts';
import { occupancyStaleMs } from '../occupancy-bounds.ts';
import type { RoleSettings } from '../scenario.ts';
import type { Agenda, Item } from './agenda.ts';
import type { Endpoint } from './network.ts';

/** The role implementations a run uses: the core's by default, a planted-bug copy in checker tests. */
export type Roles = CoreRoles;

export { coreRoles };

interface NodeBase {
  id: NodeId;
  dc: DcId;
  /** Bumped by every kill: what was meant for an earlier incarnation never reaches this one. */
  incarnation: number;
  /** When the role's deadline callback is scheduled, or null. */
  deadlineUs: Us | null;
  /** Names the one scheduled deadline callback that is still current. */
  token: number;
}

export interface FrontendNode extends NodeBase {
  role: 'frontend';
  state: FrontendState | null;
}
export interface DispatcherNode extends NodeBase {
  role: 'dispatcher';
  state: DispatcherState | null;
}
export interface StoreNode extends NodeBase {
  role: 'store';
  state: StoreState | null;
}
export type SimNode = FrontendNode | DispatcherNode | StoreNode;

export function isAlive(node: SimNode): boolean {
  return node.state !== null;
}

/** What the world does with a node's effects. */
export type Perform = (node: SimNode, effects: Effect[]) => void;

/** Every role's decision-point counters, summed over every node and incarnation of the run. */
export type RoleCounters = Record<SimNode['role'], Record<string, number>>;

export class Nodes {
  /** What dead incarnations counted; the live ones are read at the end. */
  private readonly countedByDead: RoleCounters = { frontend: {}, dispatcher: {}, store: {} };
  private readonly byId = new Map<NodeId, SimNode>();
  private readonly frontends = new Map<DcId, FrontendNode[]>();
  private readonly dispatchers = new Map<DcId, DispatcherNode[]>();
  private readonly stores = new Map<DcId, StoreNode>();

  constructor(
    private readonly agenda: Agenda,
    private readonly mode: DeliveryMode,
    private readonly settings: RoleSettings,
    private readonly roles: Roles,
    topology: readonly TopologyNode[],
    private readonly perform: Perform,
  ) {
    for (const { id, dc, role } of topology) {
      const base = { id, dc, incarnation: 0, deadlineUs: null, token: 0 };
      switch (role) {
        case 'frontend':
          add(this.frontends, dc, this.add({ ...base, role, state: null }));
          break;
        case 'dispatcher':
          add(this.dispatchers, dc, this.add({ ...base, role, state: null }));
          break;
        case 'store':
          assert(!this.stores.has(dc), `two stores in ${dc}`);
          this.stores.set(dc, this.add({ ...base, role, state: null }));
          break;
        default:
          unreachable(role);
      }
    }
  }

  /** Start every node, in topology order. */
  startAll(): void {
    for (const node of this.byId.values()) this.start(node);
  }

  get(id: NodeId): SimNode {
    const node = this.byId.get(id);
    assert(node !== undefined, `unknown node ${id}`);
    return node;
  }

  frontendsOf(dc: DcId): readonly FrontendNode[] {
    return this.frontends.get(dc) ?? [];
  }

  dispatchersOf(dc: DcId): readonly DispatcherNode[] {
    return this.dispatchers.get(dc) ?? [];
  }

  storeOf(dc: DcId): StoreNode {
    const store = this.stores.get(dc);
    assert(store !== undefined, `no store in ${dc}`);
    return store;
  }

  /** A message arrived at a live node: as the input its role takes it. */
  receive(node: SimNode, source: Endpoint, message: Message): void {
    assert(isAlive(node), `${node.id} is down`);
    if (node.role === 'dispatcher' && message.type === 'store-reply') {
      this.feed(node, { kind: 'store-reply', requestId: message.requestId, reply: message.reply });
    } else if (node.role === 'dispatcher' && source.role === 'publisher' && message.type === 'publish') {
      // A publish from outside the node world: the role answers it with a publish-reply effect.
      const { topic, payload, id } = message;
      this.feed(node, {
        kind: 'publish',
        publishId: message.requestId,
        request: id === undefined ? { topic, payload } : { topic, payload, id },
      });
    } else {
      this.feed(node, { kind: 'message', source: source.id, message });
    }
  }

  /** A client's action, fed to its live frontend; the caller performs the effects and re-arms the deadline. */
  handleClient(node: FrontendNode, connection: ConnectionId, action: ClientAction): Effect[] {
    assert(node.state !== null, `${node.id} is down`);
    return this.roles.frontend.handle(
      node.state,
      { kind: 'client', connection, action },
      msOfUs(this.agenda.now),
    );
  }

  onDeadline(item: Extract<Item, { kind: 'deadline' }>): void {
    const { node } = item;
    if (item.token !== node.token || !isAlive(node)) return;
    // The host calls the role back exactly when its deadline falls due: never before it (the role
    // would find nothing due), and never after it (a retry would be late) - the callback is
    // re-armed after every input, so it always stands for the role's current deadline.
    assert(item.at === node.deadlineUs, `${node.id}'s deadline callback is not the one armed`);
    const due = this.deadlineOf(node);
    // Roles keep whole milliseconds: a deadline in the millisecond already begun is handled at once.
    assert(
      due !== null && usOfMs(due) <= item.at && item.at < usOfMs(due + 1),
      `${node.id} called back at ${item.at} µs, not at its deadline (${due} ms)`,
    );
    node.deadlineUs = null;
    this.feed(node, { kind: 'deadline' });
  }

  /** Schedule the role's next deadline callback (after a deadline, it must have moved on). */
  armDeadline(node: SimNode, afterDeadline = false): void {
    const ms = this.deadlineOf(node);
    if (ms === null) {
      // Cancel a callback still scheduled: the role has nothing due any more.
      if (node.deadlineUs !== null) node.token++;
      node.deadlineUs = null;
      return;
    }
    const now = this.agenda.now;
    // A role asked at its deadline must move it forward, or the world would spin at one instant.
    if (afterDeadline) assert(ms > msOfUs(now), `${node.id} did not advance its deadline past ${ms} ms`);
    const at = Math.max(now, usOfMs(ms));
    if (node.deadlineUs === at) return;
    node.deadlineUs = at;
    node.token++;
    this.agenda.schedule({ at, kind: 'deadline', node, token: node.token });
  }

  /** Take a node down; false if it already was. */
  kill(node: SimNode): boolean {
    if (node.state === null) return false;
    addCounters(this.countedByDead[node.role], node.state.counters);
    node.incarnation++;
    node.token++;
    node.deadlineUs = null;
    node.state = null;
    this.agenda.emit({ kind: 'node', t: this.agenda.now, node: node.id, op: 'down' });
    return true;
  }

  /** The roles' counters: every dead incarnation's and every live node's, by role. */
  counters(): RoleCounters {
    const sum: RoleCounters = { frontend: {}, dispatcher: {}, store: {} };
    for (const role of ['frontend', 'dispatcher', 'store'] as const)
      addCounters(sum[role], this.countedByDead[role]);
    for (const node of this.byId.values())
      if (node.state !== null) addCounters(sum[node.role], node.state.counters);
    return sum;
  }

  /** Bring a node back with fresh state; false if it was up. */
  restart(node: SimNode): boolean {
    if (isAlive(node)) return false;
    this.agenda.emit({ kind: 'node', t: this.agenda.now, node: node.id, op: 'up' });
    this.start(node);
    return true;
  }

  private add<N extends SimNode>(node: N): N {
    assert(!this.byId.has(node.id), `two nodes named ${node.id}`);
    this.byId.set(node.id, node);
    return node;
  }

  private start(node: SimNode): void {
    const { settings, mode } = this;
    const dispatchers = this.dispatchersOf(node.dc).map((d) => d.id);
    switch (node.role) {
      case 'frontend':
        node.state = this.roles.frontend.create({
          nodeId: node.id,
          dc: node.dc,
          dispatchers,
          leaseMs: settings.leaseMs,
          renewEveryMs: settings.renewEveryMs,
          leaseRequestTimeoutMs: settings.leaseRequestTimeoutMs,
          leaseAttemptsMax: settings.leaseAttemptsMax,
          mode,
          gapWaitMs: settings.gapWaitMs,
          readTimeoutMs: settings.readTimeoutMs,
          occupancyEveryMs: settings.occupancyEveryMs,
          // Every incarnation's generations are above the previous one's.
          generationStart: node.incarnation * 1_000_000_000,
          limits: settings.frontendLimits,
        });
        break;
      case 'dispatcher': {
        const peers: Record<DcId, NodeId[]> = {};
        for (const [dc, list] of this.dispatchers) if (dc !== node.dc) peers[dc] = list.map((d) => d.id);
        node.state = this.roles.dispatcher.create({
          nodeId: node.id,
          dc: node.dc,
          idPrefix: `${node.id}.${node.incarnation}:`,
          peers,
          storeRequestTimeoutMs: settings.storeRequestTimeoutMs,
          forwardTimeoutMs: settings.forwardTimeoutMs,
          forwardAttemptsMax: settings.forwardAttemptsMax,
          suspectMs: settings.suspectMs,
          // Frontends renew within a renewal period and one request timeout of a store's birth.
          storeRebuildWindowMs: settings.renewEveryMs + settings.leaseRequestTimeoutMs,
          mode,
          deliverTimeoutMs: settings.deliverTimeoutMs,
          deliverAttemptsMax: settings.deliverAttemptsMax,
          forwardWindowMs: settings.forwardWindowMs,
          forwardAckWaitMs: settings.forwardAckWaitMs,
          occupancyEveryMs: settings.occupancyEveryMs,
          occupancyStaleMs: occupancyStaleMs(settings),
        });
        break;
      }
      case 'store':
        // Each incarnation of a store begins a new, larger epoch: a restarted store has lost everything.
        // Its histories' limits come with the others (`storeLimits`); best-effort never appends to them.
        node.state = this.roles.store.create({ epoch: node.incarnation + 1, limits: settings.storeLimits });
        break;
      default:
        unreachable(node);
    }
    this.armDeadline(node);
  }

  private feed(node: SimNode, input: FrontendInput | DispatcherInput | StoreInput): void {
    const now = msOfUs(this.agenda.now);
    let effects: Effect[];
    switch (node.role) {
      case 'frontend':
        assert(node.state !== null, `feeding ${node.id}, which is down`);
        assert(
          input.kind !== 'publish' && input.kind !== 'store-reply' && input.kind !== 'occupancy',
          `a frontend takes no ${input.kind}`,
        );
        effects = this.roles.frontend.handle(node.state, input, now);
        break;
      case 'dispatcher':
        assert(node.state !== null, `feeding ${node.id}, which is down`);
        assert(input.kind !== 'client', 'a dispatcher takes no client input');
        effects = this.roles.dispatcher.handle(node.state, input, now);
        break;
      case 'store':
        assert(node.state !== null, `feeding ${node.id}, which is down`);
        assert(input.kind === 'message' || input.kind === 'deadline', `a store takes no ${input.kind}`);
        effects = this.roles.store.handle(node.state, input, now);
        break;
      default:
        return unreachable(node);
    }
    this.perform(node, effects);
    this.armDeadline(node, input.kind === 'deadline');
  }

  private deadlineOf(node: SimNode): number | null {
    switch (node.role) {
      case 'frontend':
        return node.state === null ? null : this.roles.frontend.deadline(node.state);
      case 'dispatcher':
        return node.state === null ? null : this.roles.dispatcher.deadline(node.state);
      case 'store':
        return node.state === null ? null : this.roles.store.deadline(node.state);
      default:
        return unreachable(node);
    }
  }
}

function add<N>(map: Map<DcId, N[]>, dc: DcId, node: N): void {
  const list = map.get(dc);
  if (list === undefined) map.set(dc, [node]);
  else list.push(node);
}

function addCounters(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [name, n] of Object.entries(from)) into[name] = (into[name] ?? 0) + n;
}
