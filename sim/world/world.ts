/**
 * The simulated world: runs the pure core's roles on a seeded discrete-event runtime.
 *
 * Theory of operation
 * - Virtual time is integer microseconds. Everything that will happen is an item in one heap
 *   ordered by (time, insertion sequence); the loop here pops the next item and hands it to the
 *   part of the world that owns it (agenda.ts lists them): the network delivers messages, the nodes
 *   run their roles' deadlines, the clients act and receive, the publishers publish, the faults
 *   start and end. Time never goes backwards.
 * - A node's effects come back here to be performed: sends go to the network, fan-outs and
 *   connection changes to the clients, publish answers to the publisher that asked, and what a role
 *   reports (drops, lease changes, published events) becomes a fact.
 * - A run is a pure function of (scenario, seed): randomness comes from three streams split from
 *   the seed (network, faults, workload), and every collection is iterated in insertion order.
 *   While a run is in progress `Date.now`, `performance.now` and `Math.random` throw (sim/run.ts).
 * - Everything that happens is emitted once, as a fact, to the sinks in order (the trace writer,
 *   then the checkers). The world judges nothing: it never knows an invariant.
 */
import {
  assert,
  eventOfStoreRequest,
  msOfUs,
  unreachable,
  usOfMs,
  type Effect,
  type Gap,
  type Message,
  type Ms,
  type Us,
} from '../../core/index.ts';
import { itemBudget } from '../budget.ts';
import { payloadText, stampOf, type Fact, type FactSink } from '../facts.ts';
import { Rng } from '../rng.ts';
import { occupancyEndMs } from '../occupancy-bounds.ts';
import { catchUpMs } from '../settle.ts';
import { nodeIds, type Fault, type FaultKind, type Scenario } from '../scenario.ts';
import type { Agenda, Item } from './agenda.ts';
import { Clients } from './clients.ts';
import { Faults } from './faults.ts';
import { EventHeap, type Unscheduled } from './heap.ts';
import { Network, type Endpoint } from './network.ts';
import { coreRoles, Nodes, type RoleCounters, type Roles, type SimNode } from './nodes.ts';
import { Publishers } from './publishers.ts';

export interface WorldOptions {
  /** Who hears the facts, in this order. */
  facts: FactSink[];
  roles?: Roles;
  /** Called every few thousand items with simulated progress. */
  onProgress?: (doneMs: Ms, totalMs: Ms) => void;
}

/** What the world counted itself: the weather it made, not what the checkers made of it. */
export interface WorldResult {
  items: number;
  simulatedUs: Us;
  faults: Record<FaultKind, number>;
  faultSchedule: Fault[];
  messages: { sent: number; dropped: Record<string, number>; duplicated: number };
  publishes: Publishers['counts'];
  connections: { opened: number; refused: number; reconnects: number };
  /** The roles' decision-point counters, summed over nodes and incarnations (coverage marks). */
  counters: RoleCounters;
}

const progressEvery = 1 << 14;

export function runWorld(scenario: Scenario, seed: string, options: WorldOptions): WorldResult {
  return new World(scenario, seed, options).run();
}

class World implements Agenda {
  private readonly heap = new EventHeap<Item>();
  private nowUs: Us = 0;
  private readonly endUs: Us;
  private readonly nodes: Nodes;
  private readonly network: Network;
  private readonly clients: Clients;
  private readonly publishers: Publishers;
  private readonly faults: Faults;

  constructor(
    private readonly scenario: Scenario,
    private readonly seed: string,
    private readonly options: WorldOptions,
  ) {
    const stopPublishingUs = usOfMs(scenario.durationMs);
    const perform = (node: SimNode, effects: Effect[]): void => this.perform(node, effects);
    const workload = new Rng(seed, 'workload');
    this.nodes = new Nodes(
      this,
      scenario.mode,
      scenario.roles,
      options.roles ?? coreRoles,
      nodeIds(scenario),
      perform,
    );
    this.network = new Network(this, scenario.network, new Rng(seed, 'network'), (target, source, message) =>
      this.arrived(target, source, message),
    );
    this.clients = new Clients(this, scenario, workload, this.nodes, this.network, perform, stopPublishingUs);
    this.publishers = new Publishers(this, scenario, workload, this.nodes, this.network, stopPublishingUs);
    this.faults = new Faults(this, scenario, new Rng(seed, 'faults'), this.nodes, this.network, this.clients);
    // Reliable mode: the quiet tail lasts until a stream that missed the last events has caught up.
    const tailMs =
      scenario.mode === 'reliable'
        ? Math.max(scenario.deliveryDeadlineMs, catchUpMs(scenario))
        : scenario.deliveryDeadlineMs;
    // With watchers, until their counts had time to converge after the last churn and fault.
    const occupancyMs = occupancyEndMs(scenario, this.faults.schedule) ?? 0;
    this.endUs = usOfMs(Math.max(scenario.durationMs + tailMs, occupancyMs));
  }

  get now(): Us {
    return this.nowUs;
  }

  schedule(item: Unscheduled<Item>): void {
    assert(item.at >= this.nowUs, `an item scheduled in the past (${item.at} < ${this.nowUs})`);
    this.heap.push(item);
  }

  emit(fact: Fact): void {
    for (const sink of this.options.facts) sink(fact);
  }

  run(): WorldResult {
    const { scenario } = this;
    this.emit({
      kind: 'run',
      t: 0,
      scenario,
      seed: this.seed,
      nodes: nodeIds(scenario),
      faults: this.faults.schedule,
    });
    this.nodes.startAll();
    // Viewers and publishes are drawn topic by topic from one stream, so their order is part of the run.
    scenario.workload.topics.forEach((_, topic) => {
      this.clients.addViewersOf(topic);
      this.publishers.startTopic(topic);
    });
    this.faults.start();

    let items = 0;
    const totalMs = msOfUs(this.endUs);
    // A run past its budget stops here; the checkers call it a runaway from the `end` fact.
    const budget = itemBudget(scenario);
    for (;;) {
      const item = this.heap.peek();
      if (item === undefined || item.at > this.endUs || items >= budget) break;
      this.heap.pop();
      assert(item.at >= this.nowUs, 'time went backwards');
      this.nowUs = item.at;
      this.dispatch(item);
      if (++items % progressEvery === 0) this.options.onProgress?.(msOfUs(this.nowUs), totalMs);
    }
    this.nowUs = this.endUs;
    this.emit({ kind: 'end', t: this.nowUs, items });
    return {
      items,
      simulatedUs: this.nowUs,
      faults: this.faults.counts,
      faultSchedule: this.faults.schedule,
      messages: this.network.counts,
      publishes: this.publishers.counts,
      connections: this.clients.counts,
      counters: this.nodes.counters(),
    };
  }

  private dispatch(item: Item): void {
    switch (item.kind) {
      case 'message':
        return this.network.onMessage(item);
      case 'deadline':
        return this.nodes.onDeadline(item);
      case 'client':
        return this.clients.onClient(item);
      case 'batch':
        return this.clients.onBatch(item);
      case 'viewer':
        return this.clients.onViewer(item);
      case 'publish':
        return this.publishers.onPublish(item);
      case 'publish-retry':
        return this.publishers.onRetry(item);
      case 'fault':
        return this.faults.onFault(item);
      case 'due':
        return this.emit({ kind: 'due', t: this.nowUs, e: item.e });
      default:
        return unreachable(item);
    }
  }

  private arrived(target: Endpoint, source: Endpoint, message: Message): void {
    if (target.role === 'publisher') this.publishers.answered(message);
    else this.nodes.receive(target, source, message);
  }

  private perform(node: SimNode, effects: Effect[]): void {
    const t = this.nowUs;
    for (let i = 0; i < effects.length; i++) {
      const effect = effects[i] as Effect;
      switch (effect.kind) {
        case 'send':
          this.network.send(node, this.nodes.get(effect.target), effect.message);
          break;
        case 'store-request': {
          const { requestId, request } = effect;
          const event =
            node.role === 'dispatcher' && node.state !== null
              ? eventOfStoreRequest(node.state, requestId)
              : null;
          const store = this.nodes.storeOf(node.dc);
          this.network.send(node, store, { type: 'store-request', requestId, request }, event?.id);
          break;
        }
        case 'deliver':
          assert(node.role === 'frontend', `${node.id} delivered to connections`);
          this.clients.fanOut(node, effect.connections, effect.event, effect.position);
          break;
        case 'notice': {
          const { gap } = effect.notice;
          // Clients read other notices where their action is handled (clients.ts); a gap is a fact.
          if (gap === undefined) break;
          assert(node.role === 'frontend', `${node.id} told a connection of a gap`);
          // The notices of one gap given together are one fact, as a fan-out's deliveries are.
          const told = [effect.connection];
          for (let next = effects[i + 1]; next?.kind === 'notice' && sameGap(next.notice.gap, gap);) {
            told.push(next.connection);
            next = effects[++i + 1];
          }
          this.clients.gapNoticed(node, told, gap);
          break;
        }
        case 'connected':
          // Clients read these where their action is handled (clients.ts).
          break;
        case 'joined':
        case 'left':
          assert(node.role === 'frontend', `${node.id} changed a connection's topics`);
          this.clients.membershipChanged(node, effect);
          break;
        case 'publish-reply': {
          // The answer goes back over the publish's own request, to the publisher that asked.
          const message: Message = {
            type: 'publish-reply',
            requestId: effect.publishId,
            result: effect.result,
          };
          this.network.send(node, this.publishers.replyTo(effect.publishId), message);
          break;
        }
        case 'close':
          this.clients.closedByFrontend(effect.connection);
          break;
        case 'drop':
          this.emit({
            kind: 'role-drop',
            t,
            node: node.id,
            reason: effect.reason,
            ...(effect.eventId === undefined ? {} : { e: effect.eventId }),
            ...(effect.topic === undefined ? {} : { topic: effect.topic }),
            ...(effect.dc === undefined ? {} : { dc: effect.dc }),
          });
          break;
        case 'lease': {
          const { topic, frontend, change, expiresAtMs } = effect.lease;
          const exp = expiresAtMs === undefined ? {} : { expUs: usOfMs(expiresAtMs) };
          this.emit({ kind: 'lease', t, dc: node.dc, topic, frontend, change, ...exp });
          break;
        }
        case 'published': {
          const { event } = effect;
          this.emit({
            kind: 'published',
            t,
            node: node.id,
            event: stampOf(event),
            origin: event.origin,
            bytes: payloadText(event.payload).length,
          });
          this.schedule({ at: t + usOfMs(this.scenario.deliveryDeadlineMs), kind: 'due', e: event.id });
          break;
        }
        case 'appended': {
          const { event, epoch, seq, duplicate } = effect;
          this.emit({
            kind: 'appended',
            t,
            dc: node.dc,
            e: event.id,
            topic: event.topic,
            epoch,
            seq,
            dup: duplicate,
          });
          break;
        }
        case 'trimmed':
          this.emit({
            kind: 'trimmed',
            t,
            dc: node.dc,
            topic: effect.topic,
            epoch: effect.epoch,
            seq: effect.throughSeq,
          });
          break;
        case 'occupancy':
          assert(node.role === 'frontend', `${node.id} told connections a viewer count`);
          this.clients.occupancyTold(node, effect.connections, effect.occupancy);
          break;
        // The simulated world never asks a dispatcher for a count, so no answer comes.
        case 'occupancy-reply':
          break;
        default:
          unreachable(effect);
      }
    }
  }
}

/** Whether `other` is exactly this gap. */
function sameGap(other: Gap | undefined, gap: Gap): boolean {
  return (
    other !== undefined &&
    other.topic === gap.topic &&
    other.epoch === gap.epoch &&
    other.fromSeq === gap.fromSeq &&
    other.toSeq === gap.toSeq &&
    other.why === gap.why
  );
}
