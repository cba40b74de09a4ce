/**
 * The facts of a run: one stream, in the order things happened. The world emits each fact once;
 * the trace writer serialises it as a record and the checkers judge the invariants from it; the
 * trace reader turns a trace back into the same facts, so a trace file can be judged again by the
 * same checkers.
 *
 * A fact says what happened, never what it means for an invariant: a drop names its reason, its
 * fault and the message it lost, not the loss category it stands for; a fan-out names its
 * recipients, not whether they were subscribed. Times `t` are simulated microseconds.
 *
 * Connections are named by `c`, a small dense number the source of the facts assigns (the world in
 * the order connections are made, the trace reader in the order it first meets them), so a
 * checker can keep one bit per (event, connection); their id is given by the `connection` facts.
 */
import {
  hashString,
  type ConnectionId,
  type DcId,
  type DropReason,
  type Event,
  type EventId,
  type Gap,
  type HistoryAfter,
  type JsonValue,
  type LeaseChange,
  type Seq,
  type StoreEpoch,
  type MessageType,
  type NodeId,
  type PublishErrorCode,
  type PublishWarning,
  type RequestId,
  type Topic,
  type Us,
} from '../core/index.ts';
import type { Fault, Scenario } from './scenario.ts';

export type NodeRole = 'frontend' | 'dispatcher' | 'store';

/** One node of the topology: `<dc>/frontend-N`, `<dc>/dispatcher-N`, `<dc>/store`. */
export interface TopologyNode {
  id: NodeId;
  dc: DcId;
  role: NodeRole;
}

/**
 * An event as the facts carry it: its id, its topic, and a digest of everything it says (topic,
 * origin and payload), so integrity can be judged byte for byte without keeping or writing payloads.
 */
export interface EventStamp {
  id: EventId;
  topic: Topic;
  /**
   * FNV-1a of topic, origin and payload, 8 hex digits. Each step of FNV-1a is a bijection, so any
   * single changed character changes it; other changes escape it with odds of 1 in 2^32.
   */
  digest: string;
}

export function stampOf(event: Event): EventStamp {
  const digest = hashString(`${event.topic}\u0000${event.origin}\u0000${payloadText(event.payload)}`);
  return { id: event.id, topic: event.topic, digest: digest.toString(16).padStart(8, '0') };
}

/**
 * The text facts measure and digest a payload by. A string is itself, so the simulator's string
 * payloads keep the digests and sizes traces always had; any other JSON value is its JSON text
 * after a NUL, so an object and the string of its JSON (a double-encoding bug) differ.
 */
export function payloadText(payload: JsonValue): string {
  return typeof payload === 'string' ? payload : `\u0000${JSON.stringify(payload)}`;
}

/** Why the network or a client link lost something. */
export type NetworkDropReason =
  | 'loss' // the link's random loss, or a loss burst when `f` names one
  | 'partition' // datacenters partitioned (`f` names the fault)
  | 'isolated' // source or target isolated (`f`)
  | 'target-dead' // target was down when the message arrived, or died with it in flight
  | 'source-dead' // a client-bound batch whose frontend died before it arrived
  | 'connection-closed'; // a client-bound batch whose connection closed before it arrived

/**
 * A message between two endpoints (nodes, or a datacenter's publisher), as every fact about it
 * names it: its number `m`, its ends, its type, and what it carries or serves.
 */
export interface MessageFacts {
  m: number;
  /** A node id, or a publisher's address `<dc>/publisher`. */
  from: string;
  to: string;
  type: MessageType;
  /** The event it carries (deliver, forward) or serves (a store lookup and its reply). */
  e?: EventId;
  /** The topic of the event it carries. */
  topic?: Topic;
  /** A forward's id, on the forward and on its acknowledgement. */
  forwardId?: RequestId;
  /**
   * Reliable mode: a delivery's id, on the `deliver` and on its `deliver-ack` (a retry keeps it, so
   * attempts of one delivery share it); the deliver's position in its datacenter's history.
   */
  deliveryId?: RequestId;
  epoch?: StoreEpoch;
  seq?: Seq;
  /** Reliable mode: where a `history-read` starts. */
  historyAfter?: HistoryAfter;
  /** Reliable mode: what a `history-reply` answered (its topic is the read's). */
  historyAnswer?: HistoryAnswer;
  /** The frontend whose lease it writes or answers (subscribe, renew, unsubscribe, their store writes, lease-reply, store-reset). */
  leaseOf?: NodeId;
}

/**
 * A history read's answer as the facts name it, without the events: `n` events, seqs
 * `fromSeq`..`toSeq` (absent when none), of `epoch` after `afterSeq` (the start the read named, or
 * its event's seq; null when that event is not held), the oldest seq held (`firstSeq`) and the
 * newest (`headSeq`); or the dispatcher's failure to read.
 */
export type HistoryAnswer =
  | {
      ok: true;
      epoch: StoreEpoch;
      afterSeq: Seq | null;
      firstSeq: Seq;
      headSeq: Seq;
      n: number;
      fromSeq?: Seq;
      toSeq?: Seq;
    }
  | { ok: false; message: string };

export type ConnectionOp = 'opened' | 'refused' | 'closed' | 'joined' | 'left';

export type Fact =
  /** First of every run: the scenario, the seed, the nodes and the whole fault schedule (random faults drawn). */
  | {
      kind: 'run';
      t: Us;
      scenario: Scenario;
      seed: string;
      nodes: TopologyNode[];
      faults: Fault[];
      /**
       * How late a timer of the run's roles may fire (absent: 0). A simulated role's timers fire on
       * time; a real process' fire late by the machine's scheduling, and a chaos run says by how much
       * it lets them, so its checkers do not take a late timer for a missed one.
       */
      timerSlackUs?: Us;
    }
  /** A fault starts, or ends (restart, repair, release). `f` numbers the schedule from 1. */
  | { kind: 'fault'; t: Us; f: number; phase: 'start' | 'end'; fault: Fault }
  | { kind: 'node'; t: Us; node: NodeId; op: 'down' | 'up' }
  /** A dispatcher accepted a publish and stamped the event; `bytes` is `payloadText(payload).length`. */
  | { kind: 'published'; t: Us; node: NodeId; event: EventStamp; origin: DcId; bytes: number }
  /** A message left its source; `copies` is how many received-or-dropped facts will follow for `m`. */
  | { kind: 'sent'; t: Us; message: MessageFacts; copies: 1 | 2 }
  | { kind: 'received'; t: Us; message: MessageFacts }
  /** A message lost, as it was sent or as it arrived; `f` names the fault when one caused it. */
  | { kind: 'dropped'; t: Us; message: MessageFacts; why: NetworkDropReason; f?: number }
  /** A role gave up on something (the core's `drop` effect). */
  | { kind: 'role-drop'; t: Us; node: NodeId; reason: DropReason; e?: EventId; topic?: Topic; dc?: DcId }
  /**
   * A frontend handed event `e` of `topic` to these connections (a set: the order means nothing),
   * before the client link. Reliable mode: `epoch`/`seq` is the event's position in the frontend's
   * datacenter's history.
   */
  | {
      kind: 'fanned-out';
      t: Us;
      node: NodeId;
      e: EventId;
      topic: Topic;
      connections: readonly number[];
      epoch?: StoreEpoch;
      seq?: Seq;
    }
  /** These connections (a set) received a client-bound batch, all at once; `epoch`/`seq` as its fan-out's. */
  | {
      kind: 'batch-received';
      t: Us;
      node: NodeId;
      event: EventStamp;
      connections: readonly number[];
      epoch?: StoreEpoch;
      seq?: Seq;
    }
  /** `n` connections of a batch never got it: its frontend died, or their connection closed. */
  | { kind: 'batch-lost'; t: Us; node: NodeId; e: EventId; n: number; why: NetworkDropReason }
  /**
   * A connection opened at a frontend, was refused, or closed; `viewer` is the simulated viewer
   * behind it. Reliable mode, `opened`: `resumes` names the topics its viewer resumes from a cursor
   * (the viewer's own record of what it sent; absent: none), so every other topic it joins is a
   * fresh subscription. `occupancy`, on `opened`: its viewer asks for the viewer count of every
   * topic it subscribes to or resumes on it (a watcher; absent: it does not).
   */
  | {
      kind: 'connection';
      op: 'opened' | 'refused' | 'closed';
      t: Us;
      c: number;
      id: ConnectionId;
      node: NodeId;
      viewer: number;
      resumes?: readonly Topic[];
      occupancy?: true;
    }
  /**
   * A connection began or stopped receiving a topic's events at its frontend. Reliable mode: a
   * `joined` names the position its live events start after (`epoch`/`seq`), and `resumed` when it
   * answers the resume its viewer made on this connection (the viewer's own record: it had not left
   * the topic since; absent: a fresh subscription).
   */
  | {
      kind: 'connection';
      op: 'joined' | 'left';
      t: Us;
      c: number;
      id: ConnectionId;
      node: NodeId;
      viewer: number;
      topic: Topic;
      epoch?: StoreEpoch;
      seq?: Seq;
      resumed?: true;
    }
  /** Reliable mode: the store of `dc` appended event `e` at `seq` of `epoch` (`dup`: it held it already, at that seq). */
  | { kind: 'appended'; t: Us; dc: DcId; e: EventId; topic: Topic; epoch: StoreEpoch; seq: Seq; dup: boolean }
  /** Reliable mode: the store of `dc` forgot `topic`'s events through `seq` of `epoch` (count or age bound). */
  | { kind: 'trimmed'; t: Us; dc: DcId; topic: Topic; epoch: StoreEpoch; seq: Seq }
  /**
   * Reliable mode: a frontend told these connections (at the frontend, before the client link) that
   * seqs `from`..`to` (`to` null: the rest) of `epoch` of `topic` will never reach them, and why.
   */
  | {
      kind: 'gap';
      t: Us;
      node: NodeId;
      topic: Topic;
      connections: readonly number[];
      epoch: StoreEpoch;
      from: Seq;
      to: Seq | null;
      why: Gap['why'];
      /** For `duplicate`: the event the seq holds again. */
      e?: EventId;
    }
  /**
   * The publisher of `dc` got an answer to a publish: OK for its event `e` (`warning` names what
   * the answer warned of), or refused with `code`. A refused publish names its event only when the
   * publisher chose the id (reliable mode); a best-effort publish's id is the server's to assign.
   */
  | { kind: 'answered'; t: Us; dc: DcId; ok: true; e: EventId; warning?: PublishWarning['code'] }
  | { kind: 'answered'; t: Us; dc: DcId; ok: false; e?: EventId; code: PublishErrorCode }
  /** A store changed a lease; `expUs` for granted and renewed. */
  | {
      kind: 'lease';
      t: Us;
      dc: DcId;
      topic: Topic;
      frontend: NodeId;
      change: LeaseChange['change'];
      expUs?: Us;
    }
  /**
   * A frontend told these connections (a set, at the frontend, before the client link) the viewer
   * count of `topic`: `count` in all, `byDc` per datacenter, and the datacenters it could not hear
   * from lately (`stale`, sorted), whose share is their last known one.
   */
  | {
      kind: 'occupancy';
      t: Us;
      node: NodeId;
      topic: Topic;
      connections: readonly number[];
      count: number;
      byDc: Readonly<Record<DcId, number>>;
      stale: readonly DcId[];
    }
  /** An event's delivery deadline passed: what has not arrived by now is lost. */
  | { kind: 'due'; t: Us; e: EventId }
  /** Last of every run; `items` is how many heap items the world processed. */
  | { kind: 'end'; t: Us; items: number };

export type FactKind = Fact['kind'];

/** Whoever reads the stream: the trace writer, the checkers. */
export type FactSink = (fact: Fact) => void;
