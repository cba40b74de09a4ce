/**
 * The trace: one JSON object per line, in the order things happened, with enough to replay a run
 * and to explain every loss. Times `t` are integer simulated microseconds.
 *
 * Compactness rules, so the flagship's trace stays well under 100 MB:
 * - a fan-out to many connections is one `deliver` record. Its recipients are the connections the
 *   trace's `conn` records say are subscribed to the topic at that frontend at that moment, plus
 *   `add` and minus `omit` when those are given (a viewer joined or left while the batch was in
 *   flight); when listing them is shorter, `c` lists the recipients outright instead;
 * - a message is one `send` record with a sequence number `m`; its fate is a `recv` or a `drop`
 *   naming that number.
 *
 * The first line is always `run` (the scenario, seed and topology), the last `end` (the report).
 */
import type { DropReason, EventId, LeaseChange, MessageType, Topic } from '../core/index.ts';
import type { Violation } from './checkers/index.ts';
import type { NetworkDropReason, TopologyNode } from './facts.ts';
import type { Fault } from './scenario.ts';

export const traceVersion = 1;

export type TraceRecord =
  | {
      k: 'run';
      t: 0;
      version: number;
      scenario: unknown;
      seed: string;
      nodes: TopologyNode[];
    }
  /** A fault starts (`phase: 'start'`) or ends (`'end'`: restart, repair, release). `f` numbers faults from 1. */
  | { k: 'fault'; t: number; f: number; phase: 'start' | 'end'; fault: Fault }
  /** A dispatcher accepted a publish and stamped the event. */
  | { k: 'publish'; t: number; e: EventId; topic: Topic; origin: string; node: string; bytes: number }
  /** A node sent a message; `e` is the event it carries or serves (store lookups too), `r` its request id. */
  | {
      k: 'send';
      t: number;
      m: number;
      from: string;
      to: string;
      type: MessageType;
      e?: EventId;
      topic?: Topic;
    }
  | { k: 'recv'; t: number; m: number }
  | { k: 'drop'; t: number; m: number; why: NetworkDropReason; f?: number }
  /** A role gave up on something (core `drop` effect). */
  | { k: 'role-drop'; t: number; node: string; why: DropReason; e?: EventId; topic?: Topic; dc?: string }
  /** Connections received an event (at the client, after the frontend-to-client link). `n` is how many. */
  | {
      k: 'deliver';
      t: number;
      node: string;
      e: EventId;
      topic: Topic;
      n: number;
      c?: string[];
      add?: string[];
      omit?: string[];
    }
  /** A client-bound batch lost on the way (frontend died, connection closed). */
  | { k: 'client-drop'; t: number; node: string; e: EventId; n: number; why: NetworkDropReason }
  /** A client action as the frontend processed it. `v` is the simulated viewer behind the connection. */
  | {
      k: 'conn';
      t: number;
      c: string;
      node: string;
      v: number;
      op: 'open' | 'close' | 'sub' | 'unsub' | 'refused';
      topic?: Topic;
    }
  | {
      k: 'lease';
      t: number;
      dc: string;
      topic: Topic;
      fe: string;
      change: LeaseChange['change'];
      exp?: number;
    }
  | { k: 'node'; t: number; node: string; op: 'down' | 'up' }
  /** Expected deliveries of one event that did not arrive by the deadline, grouped by frontend and cause. */
  | {
      k: 'loss';
      t: number;
      e: EventId;
      node: string | null;
      n: number;
      explained: boolean;
      cause: string;
      f?: number;
    }
  | { k: 'violation'; t: number; violation: Violation }
  | { k: 'end'; t: number; report: unknown };

export type TraceKind = TraceRecord['k'];
