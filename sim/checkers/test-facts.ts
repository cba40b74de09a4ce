/**
 * Fact streams written by hand, for checker tests: a run of a small two-datacenter scenario (its
 * nodes and mode as a real run fact carries them), then connections, publishes, appends, deliveries
 * and gaps in the order a test tells them. Each fact is a millisecond after the one before unless a
 * test moves the clock, so time only grows. A delivery is a fan-out and, a client link's latency
 * later, its batch.
 */
import {
  assert,
  type DcId,
  type DropReason,
  type EventId,
  type Gap,
  type LeaseChange,
  type MessageType,
  type NodeId,
  type Seq,
  type StoreEpoch,
  type Topic,
  type Us,
} from '../../core/index.ts';
import { stampOf, type EventStamp, type Fact, type NetworkDropReason, type TopologyNode } from '../facts.ts';
import { nodeIds, type Fault, type Scenario } from '../scenario.ts';
import { smallScenario } from '../test-fixtures.ts';

/** The small scenario of the tests (dc-a and dc-b, two frontends and two dispatchers each), in `mode`. */
export function syntheticScenario(mode: 'best-effort' | 'reliable'): Scenario {
  // TODO(sim/scenario.ts): `mode` as a field of the scenario once the Scenario type has it.
  return Object.assign(smallScenario({ name: `synthetic-${mode}` }), { mode });
}

const clientLatencyUs = 2_000;

export class SyntheticFacts {
  readonly facts: Fact[] = [];
  t: Us = 0;
  private readonly connections = new Map<number, { id: string; node: NodeId; viewer: number }>();
  private readonly stamps = new Map<EventId, EventStamp>();
  private nextMessage = 0;

  constructor(mode: 'best-effort' | 'reliable' = 'reliable', faults: Fault[] = []) {
    const scenario = syntheticScenario(mode);
    const nodes: TopologyNode[] = nodeIds(scenario);
    this.facts.push({ kind: 'run', t: 0, scenario, seed: 'synthetic', nodes, faults });
  }

  /** Move the clock to `ms` (never back). */
  at(ms: number): this {
    this.t = Math.max(this.t, ms * 1_000);
    return this;
  }

  /** Connection `c` of `viewer` opens at `node`; its viewer resumes `resumes` from its cursors. */
  open(c: number, viewer: number, node: NodeId, resumes: Topic[] = []): this {
    const connection = { id: `${node}#${c}`, node, viewer };
    this.connections.set(c, connection);
    const resumed = resumes.length === 0 ? {} : { resumes };
    return this.push({ kind: 'connection', op: 'opened', t: this.tick(), c, ...connection, ...resumed });
  }

  /** Connection `c` joins `topic` at (epoch, seq); `resumed`: the join answers its viewer's resume. */
  join(c: number, topic: Topic, epoch: StoreEpoch, seq: Seq, resumed = false): this {
    return this.push({
      kind: 'connection',
      op: 'joined',
      t: this.tick(),
      c,
      ...this.of(c),
      topic,
      epoch,
      seq,
      ...(resumed ? { resumed } : {}),
    });
  }

  leave(c: number, topic: Topic): this {
    return this.push({ kind: 'connection', op: 'left', t: this.tick(), c, ...this.of(c), topic });
  }

  close(c: number): this {
    return this.push({ kind: 'connection', op: 'closed', t: this.tick(), c, ...this.of(c) });
  }

  /** A viewer's disconnect: its topics left and its connection closed, at one instant. */
  disconnect(c: number, topics: Topic[]): this {
    const t = this.tick();
    for (const topic of topics) this.push({ kind: 'connection', op: 'left', t, c, ...this.of(c), topic });
    return this.push({ kind: 'connection', op: 'closed', t, c, ...this.of(c) });
  }

  publish(e: EventId, topic: Topic, origin: DcId): this {
    const t = this.tick();
    const event = stampOf({
      id: e,
      topic,
      origin,
      publishedAtMs: Math.floor(t / 1_000),
      payload: `payload of ${e}`,
    });
    this.stamps.set(e, event);
    return this.push({ kind: 'published', t, node: `${origin}/dispatcher-1`, event, origin, bytes: 14 });
  }

  append(dc: DcId, e: EventId, epoch: StoreEpoch, seq: Seq, dup = false): this {
    const { topic } = this.stamp(e);
    return this.push({ kind: 'appended', t: this.tick(), dc, e, topic, epoch, seq, dup });
  }

  trim(dc: DcId, topic: Topic, epoch: StoreEpoch, seq: Seq): this {
    return this.push({ kind: 'trimmed', t: this.tick(), dc, topic, epoch, seq });
  }

  /** A frontend fans the event out at (epoch, seq); its batch arrives a client link's latency later. */
  deliver(node: NodeId, e: EventId, connections: number[], epoch: StoreEpoch, seq: Seq): this {
    return this.fanOut(node, e, connections, epoch, seq).receive(node, e, connections, epoch, seq);
  }

  /** Only the fan-out: its batch is still on the client link (`receive` tells its arrival). */
  fanOut(node: NodeId, e: EventId, connections: number[], epoch: StoreEpoch, seq: Seq): this {
    const { topic } = this.stamp(e);
    return this.push({ kind: 'fanned-out', t: this.tick(), node, e, topic, connections, epoch, seq });
  }

  /** A batch arrives, a client link's latency after the clock. */
  receive(node: NodeId, e: EventId, connections: number[], epoch: StoreEpoch, seq: Seq): this {
    this.t += clientLatencyUs;
    const event = this.stamp(e);
    return this.push({ kind: 'batch-received', t: this.tick(), node, event, connections, epoch, seq });
  }

  gap(
    node: NodeId,
    topic: Topic,
    connections: number[],
    epoch: StoreEpoch,
    from: Seq,
    to: Seq | null,
    why: Gap['why'],
  ): this {
    return this.push({ kind: 'gap', t: this.tick(), node, topic, connections, epoch, from, to, why });
  }

  answer(dc: DcId, e: EventId, warning?: 'forward-pending'): this {
    const t = this.tick();
    return this.push({ kind: 'answered', t, dc, e, ok: true, ...(warning === undefined ? {} : { warning }) });
  }

  roleDrop(node: NodeId, reason: DropReason, e: EventId, dc: DcId): this {
    return this.push({ kind: 'role-drop', t: this.tick(), node, reason, e, dc });
  }

  /** A message of event `e` sent (one copy). */
  send(type: MessageType, from: string, to: string, e: EventId): this {
    const message = { m: this.nextMessage++, from, to, type, e, topic: this.stamp(e).topic };
    return this.push({ kind: 'sent', t: this.tick(), message, copies: 1 });
  }

  /** A forward of event `e` (attempt `forwardId`) sent from `from` to a dispatcher `to` of a peer datacenter. */
  forward(from: NodeId, to: NodeId, e: EventId, forwardId: number): this {
    const message = { m: this.nextMessage++, from, to, type: 'forward' as const, e, forwardId };
    return this.push({ kind: 'sent', t: this.tick(), message, copies: 1 });
  }

  /** The acknowledgement of forward `forwardId`, sent by `from`, received by `to`. */
  forwardAcked(from: NodeId, to: NodeId, forwardId: number): this {
    const message = { m: this.nextMessage++, from, to, type: 'forward-ack' as const, forwardId };
    this.push({ kind: 'sent', t: this.tick(), message, copies: 1 });
    return this.push({ kind: 'received', t: this.tick(), message });
  }

  /** A store's lease fact: `frontend`'s lease on `topic` in `dc` granted (until `expMs`), removed... */
  lease(dc: DcId, topic: Topic, frontend: NodeId, change: LeaseChange['change'], expMs?: number): this {
    const exp = expMs === undefined ? {} : { expUs: expMs * 1_000 };
    return this.push({ kind: 'lease', t: this.tick(), dc, topic, frontend, change, ...exp });
  }

  /** A message of event `e` lost on the network (the link's random loss, unless `why` says otherwise). */
  drop(type: MessageType, from: string, to: string, e: EventId, why: NetworkDropReason = 'loss'): this {
    const message = { m: this.nextMessage++, from, to, type, e, topic: this.stamp(e).topic };
    return this.push({ kind: 'dropped', t: this.tick(), message, why });
  }

  /** A lease message of `frontend` lost on the network (the link's random loss). */
  dropLease(type: MessageType, from: string, to: string, frontend: NodeId): this {
    const message = { m: this.nextMessage++, from, to, type, leaseOf: frontend };
    return this.push({ kind: 'dropped', t: this.tick(), message, why: 'loss' });
  }

  down(node: NodeId): this {
    return this.push({ kind: 'node', t: this.tick(), node, op: 'down' });
  }

  up(node: NodeId): this {
    return this.push({ kind: 'node', t: this.tick(), node, op: 'up' });
  }

  due(e: EventId): this {
    return this.push({ kind: 'due', t: this.tick(), e });
  }

  /** The run's last fact. */
  end(): Fact[] {
    this.push({ kind: 'end', t: this.tick(), items: 0 });
    return this.facts;
  }

  private tick(): Us {
    this.t += 1_000;
    return this.t;
  }

  private push(fact: Fact): this {
    this.facts.push(fact);
    return this;
  }

  private of(c: number): { id: string; node: NodeId; viewer: number } {
    const connection = this.connections.get(c);
    assert(connection !== undefined, `connection #${c} was never opened in this story`);
    return connection;
  }

  private stamp(e: EventId): EventStamp {
    const stamp = this.stamps.get(e);
    assert(stamp !== undefined, `event ${e} was never published in this story`);
    return stamp;
  }
}
