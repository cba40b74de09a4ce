/**
 * A real node's recorder (prod/recorder.ts) that writes what the node did as the simulator's facts
 * (sim/facts.ts), one JSON object per line, so the simulator's checkers can judge real processes.
 *
 * Theory of operation
 * - Names: nodes are known by their simulator names (`dc-a/frontend-1`); a URL in a message or a
 *   lease (a production node id) is translated by the run's `names`. A datacenter's store is
 *   `<dc>/store`, as in the simulator, though here it is Redis.
 * - Time: `t` is microseconds of CLOCK_MONOTONIC (`process.hrtime`, one clock for every process of
 *   the machine) since the run's origin, so facts of every process merge into one order.
 * - Messages: each is named in the process that sends it (sim/message-facts.ts), numbered
 *   `m = base + n` with a base unique to this process and incarnation, written as `sent`, and its
 *   facts travel in its envelope as the recorder's tag; the target writes `received` with them.
 *   A send refused or reset is `dropped` (`target-dead`); one that timed out has no fate written
 *   (it may still arrive, from a frozen target that thaws).
 * - The store: a `store-request` effect is a message to `<dc>/store`; when the store answers, its
 *   receipt, the lease and history changes it made and its `store-reply` (sent and received) are
 *   written together at that moment, in that order, as the simulator's store does them. A request
 *   never answered is `dropped` (`target-dead`).
 * - Connections are numbered `c` from 1 in this file (the merge renumbers them for the run); the
 *   viewer is the number the client gave in its `x-stadium-viewer` header (-1 when none).
 * - Every line is written with one `writeSync` as the fact happens: a SIGKILL loses nothing the
 *   process did before it.
 */
import { writeSync } from 'node:fs';
import {
  assert,
  eventOfStoreRequest,
  type ConnectionId,
  type DcId,
  type DispatcherState,
  type Effect,
  type LeaseChange,
  type Message,
  type NodeId,
  type RequestId,
  type StoreReply,
  type StoreRequest,
} from '../core/index.ts';
import type { HistoryEffect, Recorder, RecordTag } from '../prod/index.ts';
import { MessageNamer, payloadText, stampOf } from '../sim/index.ts';
import type { Fact, MessageEnd, MessageFacts } from '../sim/index.ts';

/** How a production node id (a URL) is known in the facts. */
export type NodeNames = ReadonlyMap<string, MessageEnd>;

export interface FactRecorderOptions {
  /** This node as the facts name it. */
  self: MessageEnd & { dc: DcId };
  names: NodeNames;
  /** Message numbers of this process and incarnation start above this. */
  messageBase: number;
  /** The run's origin on CLOCK_MONOTONIC, in microseconds. */
  originUs: number;
  /** Where facts go: an open file descriptor. */
  fd: number;
}

/** Microseconds of CLOCK_MONOTONIC, shared by every process of the machine. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export class FactRecorder implements Recorder {
  private readonly namer = new MessageNamer();
  private readonly store: MessageEnd;
  private nextMessage: number;
  private nextConnection = 1;
  private readonly connections = new Map<ConnectionId, { c: number; viewer: number }>();
  /** Store requests asked and not answered: their message facts. */
  private readonly asked = new Map<RequestId, { facts: MessageFacts; request: StoreRequest }>();
  /** Lease and history changes the store told before the answer they belong to. */
  private storeChanges: Fact[] = [];

  constructor(private readonly options: FactRecorderOptions) {
    this.nextMessage = options.messageBase + 1;
    this.store = { id: `${options.self.dc}/store`, role: 'store' };
  }

  performed(role: 'frontend' | 'dispatcher', effect: Effect, dispatcher: DispatcherState | null): void {
    const node = this.options.self.id;
    const t = this.now();
    switch (effect.kind) {
      case 'store-request': {
        assert(
          role === 'dispatcher' && dispatcher !== null,
          'a store request from a node without a dispatcher',
        );
        const message: Message = {
          type: 'store-request',
          requestId: effect.requestId,
          request: effect.request,
        };
        const event = eventOfStoreRequest(dispatcher, effect.requestId);
        const facts = this.named(
          this.namer.name(this.nextMessage++, this.options.self, this.store, message, event?.id ?? undefined),
        );
        this.asked.set(effect.requestId, { facts, request: effect.request });
        return this.write({ kind: 'sent', t, message: facts, copies: 1 });
      }
      case 'deliver': {
        const connections = effect.connections.map((id) => this.connectionOf(id).c);
        const { event, position } = effect;
        return this.write({
          kind: 'fanned-out',
          t,
          node,
          e: event.id,
          topic: event.topic,
          connections,
          ...(position === undefined ? {} : { epoch: position.epoch, seq: position.seq }),
        });
      }
      case 'notice': {
        const { gap } = effect.notice;
        if (gap === undefined) return;
        return this.write({
          kind: 'gap',
          t,
          node,
          topic: gap.topic,
          connections: [this.connectionOf(effect.connection).c],
          epoch: gap.epoch,
          from: gap.fromSeq,
          to: gap.toSeq,
          why: gap.why,
          ...(gap.eventId === undefined ? {} : { e: gap.eventId }),
        });
      }
      case 'joined': {
        const { c, viewer } = this.connectionOf(effect.connection);
        const { position } = effect;
        return this.write({
          kind: 'connection',
          op: 'joined',
          t,
          c,
          id: effect.connection,
          node,
          viewer,
          topic: effect.topic,
          ...(position === undefined ? {} : { epoch: position.epoch, seq: position.seq }),
        });
      }
      case 'left': {
        const { c, viewer } = this.connectionOf(effect.connection);
        return this.write({
          kind: 'connection',
          op: 'left',
          t,
          c,
          id: effect.connection,
          node,
          viewer,
          topic: effect.topic,
        });
      }
      case 'drop':
        return this.write({
          kind: 'role-drop',
          t,
          node,
          reason: effect.reason,
          ...(effect.eventId === undefined ? {} : { e: effect.eventId }),
          ...(effect.topic === undefined ? {} : { topic: effect.topic }),
          ...(effect.dc === undefined ? {} : { dc: effect.dc }),
        });
      case 'published': {
        const { event } = effect;
        return this.write({
          kind: 'published',
          t,
          node,
          event: stampOf(event),
          origin: event.origin,
          bytes: payloadText(event.payload).length,
        });
      }
      // Sends are told by the transport (`sending`); leases, appends and trims by the store, which
      // makes them here; a publish's answer by the publisher that gets it; connections opening and
      // closing by the transports.
      case 'send':
      case 'lease':
      case 'appended':
      case 'trimmed':
      case 'publish-reply':
      case 'connected':
      case 'close':
      case 'occupancy':
      case 'occupancy-reply':
        return;
      default: {
        const never: never = effect;
        assert(false, `an effect of no known kind: ${JSON.stringify(never)}`);
      }
    }
  }

  sending(target: NodeId, message: Message): RecordTag {
    const facts = this.named(
      this.namer.name(this.nextMessage++, this.options.self, this.endOf(target), message),
    );
    this.write({ kind: 'sent', t: this.now(), message: facts, copies: 1 });
    return facts as unknown as RecordTag;
  }

  received(_source: NodeId, message: Message, tag: unknown): void {
    const facts = messageFactsOf(tag);
    // A message from a process that records nothing: there is no sent fact to pair it with.
    if (facts === null) return;
    this.namer.heard(facts.from, message);
    this.write({ kind: 'received', t: this.now(), message: facts });
  }

  sendFailed(_target: NodeId, _message: Message, tag: RecordTag | undefined, why: string): void {
    const facts = messageFactsOf(tag);
    if (facts === null) return;
    // A send that timed out may still arrive (a frozen target handles it when it thaws) or may
    // have been lost to a starved machine: nothing says which, so no fate is written and the
    // merge keeps the message's receipt if one comes. Refused or reset: the target was not there.
    if (/TimeoutError|aborted/i.test(why)) return;
    this.write({ kind: 'dropped', t: this.now(), message: facts, why: 'target-dead' });
  }

  storeAnswered(requestId: RequestId, reply: StoreReply): void {
    const asked = this.asked.get(requestId);
    if (asked === undefined) return;
    this.asked.delete(requestId);
    const t = this.now();
    this.write({ kind: 'received', t, message: asked.facts });
    this.flushStoreChanges(t);
    const message: Message = { type: 'store-reply', requestId, reply };
    const facts = this.namer.name(this.nextMessage++, this.store, this.options.self, message);
    this.write({ kind: 'sent', t, message: facts, copies: 1 });
    this.write({ kind: 'received', t, message: facts });
    this.namer.answered(this.options.self.id, requestId);
  }

  storeFailed(requestId: RequestId): void {
    const asked = this.asked.get(requestId);
    if (asked === undefined) return;
    this.asked.delete(requestId);
    const t = this.now();
    this.write({ kind: 'dropped', t, message: asked.facts, why: 'target-dead' });
    if (this.asked.size === 0) this.flushStoreChanges(t);
  }

  lease(change: LeaseChange): void {
    const t = this.now();
    const { topic, change: what, expiresAtMs } = change;
    // The store's expiry is on the wall clock: the same distance from now on the run's clock.
    const exp = expiresAtMs === undefined ? {} : { expUs: t + (expiresAtMs - Date.now()) * 1000 };
    this.storeChange({
      kind: 'lease',
      t,
      dc: this.options.self.dc,
      topic,
      frontend: this.endOf(change.frontend).id,
      change: what,
      ...exp,
    });
  }

  history(effect: HistoryEffect): void {
    const t = this.now();
    const dc = this.options.self.dc;
    if (effect.kind === 'appended') {
      const { event, epoch, seq, duplicate } = effect;
      this.storeChange({
        kind: 'appended',
        t,
        dc,
        e: event.id,
        topic: event.topic,
        epoch,
        seq,
        dup: duplicate,
      });
    } else {
      this.storeChange({
        kind: 'trimmed',
        t,
        dc,
        topic: effect.topic,
        epoch: effect.epoch,
        seq: effect.throughSeq,
      });
    }
  }

  connectionOpened(connection: ConnectionId, viewer: string): void {
    const number = /^\d+$/.test(viewer) ? Number(viewer) : -1;
    const c = this.nextConnection++;
    this.connections.set(connection, { c, viewer: number });
    this.write({
      kind: 'connection',
      op: 'opened',
      t: this.now(),
      c,
      id: connection,
      node: this.options.self.id,
      viewer: number,
    });
  }

  connectionClosed(connection: ConnectionId): void {
    const known = this.connections.get(connection);
    if (known === undefined) return;
    this.write({
      kind: 'connection',
      op: 'closed',
      t: this.now(),
      c: known.c,
      id: connection,
      node: this.options.self.id,
      viewer: known.viewer,
    });
    this.connections.delete(connection);
  }

  /** A change the store made: written with the answer it belongs to, or now when none is awaited. */
  private storeChange(fact: Fact): void {
    if (this.asked.size === 0) this.write(fact);
    else this.storeChanges.push(fact);
  }

  private flushStoreChanges(t: number): void {
    for (const fact of this.storeChanges) this.write({ ...fact, t });
    this.storeChanges = [];
  }

  private connectionOf(id: ConnectionId): { c: number; viewer: number } {
    const known = this.connections.get(id);
    assert(known !== undefined, `connection ${id} was never opened here`);
    return known;
  }

  /** The facts with the frontend whose lease the message is about named as the facts name nodes. */
  private named(facts: MessageFacts): MessageFacts {
    return facts.leaseOf === undefined ? facts : { ...facts, leaseOf: this.endOf(facts.leaseOf).id };
  }

  private endOf(url: NodeId): MessageEnd {
    return this.options.names.get(url) ?? { id: url, role: 'frontend' };
  }

  private now(): number {
    return monotonicUs() - this.options.originUs;
  }

  private write(fact: Fact): void {
    writeSync(this.options.fd, `${JSON.stringify(fact)}\n`);
  }
}

/** The message facts a tag carries, or null when it carries none. */
function messageFactsOf(tag: unknown): MessageFacts | null {
  if (typeof tag !== 'object' || tag === null) return null;
  const facts = tag as Partial<MessageFacts>;
  return typeof facts.m === 'number' && typeof facts.from === 'string' && typeof facts.to === 'string'
    ? (facts as MessageFacts)
    : null;
}
