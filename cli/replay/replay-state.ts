/**
 * The world as the trace says it stood after some prefix of its records: which nodes are up, which
 * connections each frontend holds and to which topics, which leases each store keeps, which faults
 * are in force, and the running counters.
 *
 * Rules, taken from sim/trace.ts and docs/design.md:
 * - `conn` records are the only source of connections and subscriptions; a `deliver` without `c`
 *   went to the connections subscribed to its topic at that frontend at that moment, plus its
 *   `add`, minus its `omit`;
 * - a node that goes down loses its state: a frontend its connections and subscriptions, a store
 *   its leases (a later `close` or `expired` for something already gone is ignored);
 * - a lease lives from `granted` (or `renewed`) until `removed` or `expired`;
 * - `fault` records open and close faults by their number `f`;
 * - the counters are the sim's checkers' own (their running totals as the index's re-check
 *   reached each record), kept compactly: a `publish` counts one published and a `deliver` its
 *   `n` delivered, and where the checkers counted otherwise (a duplicate, an altered event, a
 *   loss at a deadline, any violation) the index hands `apply` the difference for that line. The
 *   `loss` and `violation` records the run wrote are not counted: the re-check's conclusions are.
 *
 * The structural part (connections, subscriptions, leases, liveness) is rebuilt from a compact log
 * when the index restores a checkpoint; counters and faults in force come from the checkpoint.
 */
import { unreachable } from '../../core/index.ts';
import {
  decodeRecipients,
  zeroTotals,
  type CheckerTotals,
  type Fault,
  type TopologyNode,
  type TraceRecord,
} from '../../sim/index.ts';

/** What the counters pane shows: the checkers' running totals. */
export type Counters = CheckerTotals;

/** For each record whose counts the checkers changed otherwise than `apply` assumes: the difference. */
export type CounterCorrection = Readonly<Counters>;

export const zeroCounters: () => Counters = zeroTotals;

/** The counts a record adds when the checkers agree with the obvious: one published, `n` delivered. */
export function assumedCounts(record: TraceRecord): { published: number; delivered: number } {
  return {
    published: record.k === 'publish' ? 1 : 0,
    delivered: record.k === 'deliver' ? record.n : 0,
  };
}

/** What a node box shows. `leases`: for a frontend, the leases its store holds for it; for a store, all it holds. */
export interface NodeView {
  id: string;
  dc: string;
  role: TopologyNode['role'];
  alive: boolean;
  connections: number;
  topics: number;
  leases: number;
}

interface Connection {
  node: number;
  topics: Set<string>;
}

/**
 * The structural part of a state (liveness, connections, subscriptions in order, leases) as flat
 * arrays of interned string ids: what the index keeps every so often so that rebuilding a state
 * never replays more than a bounded stretch of its structural log.
 */
export interface Structure {
  alive: Uint8Array;
  /** Per connection: id, node index, topic count, topic ids. */
  connections: Int32Array;
  /** Per (node, topic): node index, topic id, count, connection ids in subscription order. */
  subscribers: Int32Array;
  /** Per lease: dc id, topic id, frontend id, expiry. */
  leases: Float64Array;
}

export class ReplayState {
  readonly nodes: readonly TopologyNode[];
  readonly nodeIndex: ReadonlyMap<string, number>;
  /** Number of records applied, counting the `run` line. */
  records = 0;
  /** Time of the last record applied, microseconds. */
  t = 0;
  counters: Counters = zeroCounters();
  /** Faults in force by number. */
  faults = new Map<number, Fault>();
  private readonly alive: Uint8Array;
  private readonly connectionCount: Int32Array;
  private readonly leaseCount: Int32Array;
  private readonly connections = new Map<string, Connection>();
  /** node index -> topic -> subscribed connections, in subscription order. */
  private readonly subscribers: Map<string, Set<string>>[];
  /** dc -> `topic\u0000frontend` -> expiry (µs, or -1 when the record gave none). */
  private readonly leases = new Map<string, Map<string, number>>();
  private readonly storeOf = new Map<string, number>();

  constructor(nodes: readonly TopologyNode[]) {
    this.nodes = nodes;
    const index = new Map<string, number>();
    nodes.forEach((node, i) => {
      index.set(node.id, i);
      if (node.role === 'store') this.storeOf.set(node.dc, i);
    });
    this.nodeIndex = index;
    this.alive = new Uint8Array(nodes.length).fill(1);
    this.connectionCount = new Int32Array(nodes.length);
    this.leaseCount = new Int32Array(nodes.length);
    this.subscribers = nodes.map(() => new Map<string, Set<string>>());
  }

  /**
   * Apply one record; the caller guarantees records come in trace order. `correction`: where the
   * checkers counted this record otherwise than `assumedCounts`, the difference (from the index).
   */
  apply(record: TraceRecord, correction?: CounterCorrection): void {
    this.records++;
    this.t = record.t;
    const assumed = assumedCounts(record);
    this.counters.published += assumed.published;
    this.counters.delivered += assumed.delivered;
    if (correction !== undefined) {
      const counters = this.counters;
      for (const name in correction) counters[name as keyof Counters] += correction[name as keyof Counters];
    }
    switch (record.k) {
      case 'run':
      case 'publish':
      case 'send':
      case 'recv':
      case 'drop':
      case 'role-drop':
      case 'client-drop':
      case 'fanout':
      case 'deliver':
      case 'due':
      case 'loss':
      case 'violation':
      case 'end':
      case 'append':
      case 'trim':
      case 'gap':
      case 'answer':
      case 'occupancy':
        return;
      case 'fault':
        if (record.phase === 'start') this.faults.set(record.f, record.fault);
        else this.faults.delete(record.f);
        return;
      case 'conn':
        this.connection(record.op, record.c, record.node, record.topic);
        return;
      case 'lease':
        this.lease(record.dc, record.topic, record.fe, record.change, record.exp);
        return;
      case 'node':
        this.liveness(record.node, record.op);
        return;
      default:
        unreachable(record);
    }
  }

  connection(
    op: 'open' | 'close' | 'sub' | 'unsub' | 'refused',
    c: string,
    nodeId: string,
    topic?: string,
  ): void {
    const node = this.nodeIndex.get(nodeId);
    if (node === undefined || op === 'refused') return;
    const existing = this.connections.get(c);
    if (op === 'close') {
      if (existing) this.dropConnection(c, existing);
      return;
    }
    let connection = existing;
    if (!connection) {
      connection = { node, topics: new Set() };
      this.connections.set(c, connection);
      this.connectionCount[node]!++;
    }
    if (topic === undefined || op === 'open') return;
    if (op === 'sub') {
      connection.topics.add(topic);
      const table = this.subscribers[connection.node]!;
      let set = table.get(topic);
      if (!set) table.set(topic, (set = new Set()));
      if (set.has(c)) return;
      set.add(c);
    } else {
      connection.topics.delete(topic);
      this.unsubscribe(connection.node, topic, c);
    }
  }

  private unsubscribe(node: number, topic: string, c: string): void {
    const table = this.subscribers[node]!;
    const set = table.get(topic);
    if (!set?.delete(c)) return;
    if (set.size === 0) table.delete(topic);
  }

  private dropConnection(c: string, connection: Connection): void {
    for (const topic of connection.topics) this.unsubscribe(connection.node, topic, c);
    this.connections.delete(c);
    this.connectionCount[connection.node]!--;
  }

  lease(dc: string, topic: string, fe: string, change: string, exp: number | undefined): void {
    // A refused lease was never held: it ends none that is.
    if (change === 'refused') return;
    let table = this.leases.get(dc);
    if (!table) this.leases.set(dc, (table = new Map()));
    const key = `${topic}\u0000${fe}`;
    const had = table.has(key);
    const store = this.storeOf.get(dc);
    const frontend = this.nodeIndex.get(fe);
    if (change === 'granted' || change === 'renewed') {
      table.set(key, exp ?? -1);
      if (had) return;
      if (store !== undefined) this.leaseCount[store]!++;
      if (frontend !== undefined) this.leaseCount[frontend]!++;
    } else if (had) {
      table.delete(key);
      if (store !== undefined) this.leaseCount[store]!--;
      if (frontend !== undefined) this.leaseCount[frontend]!--;
    }
  }

  liveness(nodeId: string, op: 'down' | 'up'): void {
    const node = this.nodeIndex.get(nodeId);
    if (node === undefined) return;
    this.alive[node] = op === 'up' ? 1 : 0;
    if (op === 'up') return;
    for (const [c, connection] of this.connections) {
      if (connection.node === node) this.dropConnection(c, connection);
    }
    const info = this.nodes[node]!;
    if (info.role === 'store') {
      for (const key of this.leases.get(info.dc)?.keys() ?? []) {
        this.lease(
          info.dc,
          key.slice(0, key.indexOf('\u0000')),
          key.slice(key.indexOf('\u0000') + 1),
          'expired',
          0,
        );
      }
    }
  }

  isAlive(nodeId: string): boolean {
    const node = this.nodeIndex.get(nodeId);
    return node !== undefined && this.alive[node] === 1;
  }

  /** The connections a `deliver` without `c` reached: those subscribed to the topic at that frontend now. */
  subscribersOf(nodeId: string, topic: string): string[] {
    const node = this.nodeIndex.get(nodeId);
    return node === undefined ? [] : [...(this.subscribers[node]!.get(topic) ?? [])];
  }

  /**
   * The connections a `deliver` reached, as the sim's trace reader names them: its `c` when given;
   * otherwise those subscribed to the topic at that frontend now, minus `omit`, plus `add`.
   */
  recipients(record: Extract<TraceRecord, { k: 'deliver' }>): string[] {
    const node = this.nodeIndex.get(record.node);
    const subscribers = node === undefined ? undefined : this.subscribers[node]!.get(record.topic);
    return decodeRecipients(subscribers ?? new Set<string>(), record, (id) => id);
  }

  /** Where a connection is and what it is subscribed to, or undefined once closed. */
  connectionInfo(c: string): { node: string; topics: string[] } | undefined {
    const connection = this.connections.get(c);
    return connection && { node: this.nodes[connection.node]!.id, topics: [...connection.topics] };
  }

  nodeViews(): NodeView[] {
    return this.nodes.map((node, i) => ({
      id: node.id,
      dc: node.dc,
      role: node.role,
      alive: this.alive[i] === 1,
      connections: this.connectionCount[i]!,
      topics: this.subscribers[i]!.size,
      leases: this.leaseCount[i]!,
    }));
  }

  /** The structural part of this state, strings as ids from `intern`. */
  exportStructure(intern: (text: string) => number): Structure {
    const connections: number[] = [];
    for (const [c, connection] of this.connections) {
      connections.push(intern(c), connection.node, connection.topics.size);
      for (const topic of connection.topics) connections.push(intern(topic));
    }
    const subscribers: number[] = [];
    this.subscribers.forEach((table, node) => {
      for (const [topic, set] of table) {
        subscribers.push(node, intern(topic), set.size);
        for (const c of set) subscribers.push(intern(c));
      }
    });
    const leases: number[] = [];
    for (const [dc, table] of this.leases) {
      for (const [key, exp] of table) {
        const cut = key.indexOf('\u0000');
        leases.push(intern(dc), intern(key.slice(0, cut)), intern(key.slice(cut + 1)), exp);
      }
    }
    return {
      alive: this.alive.slice(),
      connections: Int32Array.from(connections),
      subscribers: Int32Array.from(subscribers),
      leases: Float64Array.from(leases),
    };
  }

  /** A state whose structural part is `structure` (counters and faults are the caller's to set). */
  static fromStructure(
    nodes: readonly TopologyNode[],
    structure: Structure,
    text: (id: number) => string,
  ): ReplayState {
    const state = new ReplayState(nodes);
    state.alive.set(structure.alive);
    const conns = structure.connections;
    for (let i = 0; i < conns.length;) {
      const c = text(conns[i]!);
      const node = conns[i + 1]!;
      const count = conns[i + 2]!;
      const topics = new Set<string>();
      for (let j = 0; j < count; j++) topics.add(text(conns[i + 3 + j]!));
      state.connections.set(c, { node, topics });
      state.connectionCount[node]!++;
      i += 3 + count;
    }
    const subs = structure.subscribers;
    for (let i = 0; i < subs.length;) {
      const node = subs[i]!;
      const count = subs[i + 2]!;
      const set = new Set<string>();
      for (let j = 0; j < count; j++) set.add(text(subs[i + 3 + j]!));
      state.subscribers[node]!.set(text(subs[i + 1]!), set);
      i += 3 + count;
    }
    const leases = structure.leases;
    for (let i = 0; i < leases.length; i += 4) {
      const exp = leases[i + 3]!;
      state.lease(
        text(leases[i]!),
        text(leases[i + 1]!),
        text(leases[i + 2]!),
        'granted',
        exp < 0 ? undefined : exp,
      );
    }
    return state;
  }

  /** Per-node (alive, connections, topics, leases), flat: the compact form a checkpoint keeps. */
  nodeCounts(): Int32Array {
    const out = new Int32Array(this.nodes.length * 4);
    for (let i = 0; i < this.nodes.length; i++) {
      out[i * 4] = this.alive[i]!;
      out[i * 4 + 1] = this.connectionCount[i]!;
      out[i * 4 + 2] = this.subscribers[i]!.size;
      out[i * 4 + 3] = this.leaseCount[i]!;
    }
    return out;
  }
}
