/**
 * The trace: one JSON object per line, in the order things happened. It is a faithful
 * serialization of the run's facts (sim/facts.ts) — every fact is one record, and the trace reader
 * turns the records back into the same facts, so the checkers can judge a trace file exactly as they
 * judged the live run — followed at each point by what the checkers concluded (`violation`, `loss`,
 * and the `end` report), which a re-check recomputes rather than reads. Times `t` are integer
 * simulated microseconds.
 *
 * Compactness rules, so the flagship's trace stays in tens of megabytes:
 * - a fan-out (`fanout`, when the frontend hands the event over) and a batch's receipt (`deliver`,
 *   when the client link delivers it) name their connections relative to the topic's subscribers at
 *   that frontend at that moment, as the `conn` records before them say: no list means exactly the
 *   subscribers; otherwise those minus `omit`, plus `add`; when listing them is shorter, `c` lists
 *   them outright (sim/recipients.ts). This names a set, not an order;
 * - a message is one `send` record with a number `m`; each copy's fate is a `recv` or a `drop`
 *   naming that number (`copies: 2` when the network duplicated it);
 * - events carry no payload: a `d` digest of topic, origin and payload on `publish` and `deliver`
 *   lets integrity be judged.
 *
 * The first line is always `run` (the scenario, seed, topology and the whole fault schedule), the
 * last `end` (the report).
 *
 * Viewer counts add `occupancy` records (what a frontend told its watchers, named relative to the
 * topic's watchers there) and `occ` on a watcher's `open`: new kinds and optional fields again.
 *
 * Reliable mode adds records of the stores' histories (`append`, `trim`), of gap notices (`gap`,
 * its connections named as a fan-out's), positions (`ep`/`seq`) on fan-outs, deliveries, joins and
 * deliver messages, delivery ids (`r`) on deliver and deliver-ack, and what history reads ask and
 * answer (`h`); every run writes an `answer` for each answer a publisher gets. Version 2 grew these
 * without a new number: they are new kinds and optional fields, so a best-effort trace without
 * answers reads as before, and the run record leaves out the mode and reliable-only settings at
 * their defaults.
 */
import type {
  DropReason,
  EventId,
  Gap,
  HistoryAfter,
  LeaseChange,
  MessageType,
  NodeId,
  PublishErrorCode,
  PublishWarning,
  Seq,
  StoreEpoch,
  Topic,
} from '../core/index.ts';
import type { Violation } from './checkers/index.ts';
import type { HistoryAnswer, NetworkDropReason, TopologyNode } from './facts.ts';
import type { Recipients } from './recipients.ts';
import type { Fault } from './scenario.ts';

/** 2: facts made faithful (digests, fan-outs, deadlines, forward ids, lease owners, copies, the fault schedule). */
export const traceVersion = 2;

export type TraceRecord =
  | {
      k: 'run';
      t: 0;
      version: number;
      scenario: unknown;
      seed: string;
      nodes: TopologyNode[];
      /** Every fault of the run, random ones drawn, in the order `f` numbers them (written since version 2). */
      faults?: Fault[];
      /** How late the roles' timers may fire (chaos runs on real processes; absent: 0). */
      slackUs?: number;
    }
  /** A fault starts (`phase: 'start'`) or ends (`'end'`: restart, repair, release). `f` numbers faults from 1. */
  | { k: 'fault'; t: number; f: number; phase: 'start' | 'end'; fault: Fault }
  /** A dispatcher accepted a publish and stamped the event; `d` is its digest (written since version 2). */
  | {
      k: 'publish';
      t: number;
      e: EventId;
      topic: Topic;
      origin: string;
      node: string;
      bytes: number;
      d?: string;
    }
  /**
   * A message left `from` for `to` (a node, or a datacenter's publisher `<dc>/publisher`). `e`: the
   * event it carries or serves (store lookups too) or acknowledges (deliver-ack); `topic`: the
   * carried event's, or the history read or answered; `r`: the id an attempt shares with its retries
   * and its acknowledgement (a forward's on forward and forward-ack, a reliable delivery's on deliver
   * and deliver-ack); `fe`: the frontend whose lease it writes or answers. Reliable mode: `ep`/`seq`
   * a deliver's position; `h` where a history-read starts (`{seq}` or `{eventId}`) or what a
   * history-reply answered (its events counted, not listed).
   */
  | {
      k: 'send';
      t: number;
      m: number;
      from: string;
      to: string;
      type: MessageType;
      e?: EventId;
      topic?: Topic;
      r?: number;
      fe?: NodeId;
      copies?: 2;
      ep?: StoreEpoch;
      seq?: Seq;
      h?: HistoryAfter | HistoryAnswer;
    }
  | { k: 'recv'; t: number; m: number }
  | { k: 'drop'; t: number; m: number; why: NetworkDropReason; f?: number }
  /** A role gave up on something (core `drop` effect). */
  | { k: 'role-drop'; t: number; node: string; why: DropReason; e?: EventId; topic?: Topic; dc?: string }
  /** A frontend handed an event to `n` connections (before the client link); reliable: at `seq` of epoch `ep`. */
  | ({
      k: 'fanout';
      t: number;
      node: string;
      e: EventId;
      topic: Topic;
      n: number;
      ep?: StoreEpoch;
      seq?: Seq;
    } & Recipients)
  /**
   * `n` connections received an event (at the client, after the frontend-to-client link); `d` its
   * digest (written since version 2); `ep`/`seq` as its fan-out's.
   */
  | ({
      k: 'deliver';
      t: number;
      node: string;
      e: EventId;
      topic: Topic;
      n: number;
      d?: string;
      ep?: StoreEpoch;
      seq?: Seq;
    } & Recipients)
  /** A client-bound batch lost on the way (frontend died, connection closed). */
  | { k: 'client-drop'; t: number; node: string; e: EventId; n: number; why: NetworkDropReason }
  /**
   * A connection as its frontend processed it. `v` is the simulated viewer behind the connection;
   * a reliable `sub` names the position its live events start after (`ep`/`seq`), a reliable `open`
   * the topics its viewer resumes from a cursor (`res`; absent: none), and a reliable `sub` that
   * answers that resume says so (`resumed`). An `open` whose viewer watches viewer counts says so
   * (`occ`).
   */
  | {
      k: 'conn';
      t: number;
      c: string;
      node: string;
      v: number;
      op: 'open' | 'close' | 'sub' | 'unsub' | 'refused';
      topic?: Topic;
      ep?: StoreEpoch;
      seq?: Seq;
      res?: Topic[];
      resumed?: true;
      occ?: true;
    }
  /**
   * A frontend told `n` connections the viewer count of `topic` (at the frontend, before the client
   * link), named relative to the topic's watchers at that frontend as a fan-out's are to its
   * subscribers: `count` in all, `byDc` per datacenter, `stale` the datacenters it could not hear
   * from lately (absent: none).
   */
  | ({
      k: 'occupancy';
      t: number;
      node: string;
      topic: Topic;
      n: number;
      count: number;
      byDc: Record<string, number>;
      stale?: string[];
    } & Recipients)
  /** Reliable: the store of `dc` appended event `e` of `topic` at `seq` of epoch `ep` (`dup`: it held it already). */
  | { k: 'append'; t: number; dc: string; e: EventId; topic: Topic; ep: StoreEpoch; seq: Seq; dup?: true }
  /** Reliable: the store of `dc` forgot `topic`'s history through `seq` of epoch `ep`. */
  | { k: 'trim'; t: number; dc: string; topic: Topic; ep: StoreEpoch; seq: Seq }
  /**
   * Reliable: a frontend told `n` connections (named as a fan-out's) that seqs `from`..`to` (null:
   * the rest) of epoch `ep` of `topic` will never reach them, and `why`; a `duplicate` names the
   * event `e` the seq holds again.
   */
  | ({
      k: 'gap';
      t: number;
      node: string;
      topic: Topic;
      n: number;
      ep: StoreEpoch;
      from: Seq;
      to: Seq | null;
      why: Gap['why'];
      e?: EventId;
    } & Recipients)
  /**
   * The publisher of `dc` got an answer: OK for event `e` (`w`: the warning's code), or refused
   * with `code` (`e` when the publisher chose the id).
   */
  | { k: 'answer'; t: number; dc: string; ok: true; e: EventId; w?: PublishWarning['code'] }
  | { k: 'answer'; t: number; dc: string; ok: false; e?: EventId; code: PublishErrorCode }
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
  /** An event's delivery deadline passed. */
  | { k: 'due'; t: number; e: EventId }
  /** Checkers: expected deliveries of one event that did not arrive by the deadline, grouped by frontend and cause. */
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
  /** Checkers: a broken invariant, with the event's causal chain. */
  | { k: 'violation'; t: number; violation: Violation }
  /**
   * Checkers: the report at the end: `items` (the heap items the world processed), `published`,
   * `delivered`, `lost` and the `violations` counted per invariant.
   */
  | { k: 'end'; t: number; report: unknown };

export type TraceKind = TraceRecord['k'];
