/**
 * The world's agenda: everything that will happen is an item in one heap, ordered by (time,
 * insertion sequence). Each part of the world schedules its own items and handles them when they
 * come due; the loop in world.ts only pops them and hands each to its owner.
 */
import type { ClientAction, EventId, Message, Us, Position } from '../../core/index.ts';
import type { EventStamp, Fact, MessageFacts } from '../facts.ts';
import type { Unscheduled } from './heap.ts';
import type { Endpoint } from './network.ts';
import type { FrontendNode, SimNode } from './nodes.ts';

/**
 * `leave`/`rejoin`: churn on the viewer's first topic; `quit`: it disconnects for good; `drop`: it
 * disconnects and will reconnect and resume.
 */
export type ViewerStep = 'join' | 'reconnect' | 'leave' | 'rejoin' | 'quit' | 'drop';

export type Item =
  /** A message arrives at its target (network.ts). */
  | {
      at: Us;
      seq: number;
      kind: 'message';
      facts: MessageFacts;
      source: Endpoint;
      target: Endpoint;
      /** The target's incarnation when it was sent: a node restarted since never gets it. */
      incarnation: number;
      message: Message;
    }
  /** A node's role asked to be called back now (nodes.ts); stale unless `token` is still the node's. */
  | { at: Us; seq: number; kind: 'deadline'; node: SimNode; token: number }
  /** A client's action reaches its frontend (clients.ts). */
  | { at: Us; seq: number; kind: 'client'; connection: number; action: ClientAction }
  /** A frontend's fan-out reaches its connections (clients.ts). */
  | {
      at: Us;
      seq: number;
      kind: 'batch';
      node: FrontendNode;
      incarnation: number;
      event: EventStamp;
      connections: number[];
      /** Reliable mode: the event's position in the frontend's datacenter's history. */
      position?: Position;
    }
  /** A viewer joins, reconnects, leaves its topic or rejoins it (clients.ts). */
  | { at: Us; seq: number; kind: 'viewer'; viewer: number; what: ViewerStep }
  /** A topic's next publish (publishers.ts). */
  | { at: Us; seq: number; kind: 'publish'; topic: number }
  /** A fault starts or ends (faults.ts). */
  | { at: Us; seq: number; kind: 'fault'; f: number; phase: 'start' | 'end' }
  /** An event's delivery deadline (world.ts: it only becomes a fact). */
  | { at: Us; seq: number; kind: 'due'; e: EventId };

/** What every part of the world shares: the clock, the heap, and the stream of facts. */
export interface Agenda {
  /** Simulated time now; it never goes backwards. */
  readonly now: Us;
  schedule(item: Unscheduled<Item>): void;
  emit(fact: Fact): void;
}
