/**
 * The network between endpoints: the nodes, and each datacenter's publisher.
 *
 * - A node link draws its latency from its class (intra- or cross-datacenter) plus every jitter
 *   storm over either end's datacenter; it may lose a message (the link's loss plus any loss burst)
 *   or carry two copies of it; a FIFO link never lets a message overtake an earlier one between the
 *   same two endpoints. A message crosses only if no partition or isolation blocks it both when it is
 *   sent and when it arrives, and only if its target is the same incarnation it was sent to.
 * - A publisher's answer comes back over its HTTP request, so it is never lost or blocked; it takes
 *   an intra-datacenter latency.
 * - The fault verbs come in pairs, each pair keyed by the fault that asked: `partition`/`repair`,
 *   `isolate`/`release`, `beginStorm`/`endStorm`, `beginBurst`/`endBurst`.
 * - Every message is a fact when it leaves (`sent`, with how many copies travel) and one more per
 *   copy when its fate is known (`received` or `dropped`, with the reason and the fault).
 * - A fact names what a message is about even where the message itself does not say
 *   (sim/message-facts.ts).
 */
import { assert, type DcId, type EventId, type Message, type NodeId, type Us } from '../../core/index.ts';
import type { MessageFacts, NetworkDropReason } from '../facts.ts';
import { MessageNamer } from '../message-facts.ts';
import type { Rng } from '../rng.ts';
import type { Fault, LinkClass, Network as NetworkSettings } from '../scenario.ts';
import type { Agenda, Item } from './agenda.ts';
import { isAlive, type SimNode } from './nodes.ts';
import type { Publisher } from './publishers.ts';

export type Endpoint = SimNode | Publisher;

type JitterStorm = Extract<Fault, { kind: 'jitter-storm' }>;
type LossBurst = Extract<Fault, { kind: 'loss-burst' }>;

/** Where an arrived message goes next: to its node's role, or to its publisher. */
export type Arrive = (target: Endpoint, source: Endpoint, message: Message) => void;

export class Network {
  readonly counts: { sent: number; dropped: Record<string, number>; duplicated: number } = {
    sent: 0,
    dropped: {},
    duplicated: 0,
  };
  private readonly partitions: { f: number; from: DcId; to: DcId }[] = [];
  private readonly isolatedBy = new Map<NodeId, number[]>();
  private storms: { f: number; fault: JitterStorm }[] = [];
  private bursts: { f: number; fault: LossBurst }[] = [];
  private readonly fifoArrival = new Map<string, Us>();
  private readonly namer = new MessageNamer();
  private nextMessage = 1;

  constructor(
    private readonly agenda: Agenda,
    private readonly links: NetworkSettings,
    private readonly rng: Rng,
    private readonly arrive: Arrive,
  ) {}

  /**
   * Send `message`. `lookupFor` names the event a dispatcher's store lookup serves, so the lookup
   * and its reply are known to be about that event.
   */
  send(source: Endpoint, target: Endpoint, message: Message, lookupFor?: EventId): void {
    const facts = this.namer.name(this.nextMessage++, source, target, message, lookupFor);
    const now = this.agenda.now;
    this.counts.sent++;
    if (target.role === 'publisher') {
      this.agenda.emit({ kind: 'sent', t: now, message: facts, copies: 1 });
      const at = now + this.latency(this.links.intraDc, source.dc, source.dc);
      this.agenda.schedule({ at, kind: 'message', facts, source, target, incarnation: 0, message });
      return;
    }
    const blocked = this.blocked(source, target);
    if (blocked !== null) {
      this.agenda.emit({ kind: 'sent', t: now, message: facts, copies: 1 });
      return this.drop(facts, blocked.why, blocked.f);
    }
    const link = source.dc === target.dc ? this.links.intraDc : this.links.crossDc;
    const burst = this.burstLoss(source.dc, target.dc);
    if (this.rng.chance(link.lossPerMillion + burst.perMillion)) {
      this.agenda.emit({ kind: 'sent', t: now, message: facts, copies: 1 });
      return this.drop(facts, 'loss', burst.perMillion > 0 ? burst.f : undefined);
    }
    const copies = this.rng.chance(link.duplicatePerMillion) ? 2 : 1;
    if (copies === 2) this.counts.duplicated++;
    this.agenda.emit({ kind: 'sent', t: now, message: facts, copies });
    for (let copy = 0; copy < copies; copy++) {
      let at = now + this.latency(link, source.dc, target.dc);
      if (link.fifo) {
        const key = `${source.id}\u0000${target.id}`;
        at = Math.max(at, this.fifoArrival.get(key) ?? 0);
        this.fifoArrival.set(key, at);
      }
      this.agenda.schedule({
        at,
        kind: 'message',
        facts,
        source,
        target,
        incarnation: target.incarnation,
        message,
      });
    }
  }

  onMessage(item: Extract<Item, { kind: 'message' }>): void {
    const { source, target, message } = item;
    assert(item.facts.to === target.id, `message #${item.facts.m} arrived at ${target.id}, not its target`);
    if (target.role === 'publisher') return this.arrive(target, source, message);
    if (!isAlive(target) || target.incarnation !== item.incarnation)
      return this.drop(item.facts, 'target-dead', undefined);
    const blocked = this.blocked(source, target);
    if (blocked !== null) return this.drop(item.facts, blocked.why, blocked.f);
    this.agenda.emit({ kind: 'received', t: this.agenda.now, message: item.facts });
    if (message.type === 'store-reply' && target.role === 'dispatcher')
      this.namer.answered(target.id, message.requestId);
    this.arrive(target, source, message);
  }

  /** The latency of a client link in `dc` (a TCP connection: only its latency varies, storms included). */
  clientLatency(dc: DcId): Us {
    return this.latency(this.links.client, dc, dc);
  }

  partition(f: number, between: readonly [DcId, DcId], oneWay: boolean): void {
    const [a, b] = between;
    this.partitions.push({ f, from: a, to: b });
    if (!oneWay) this.partitions.push({ f, from: b, to: a });
  }

  repair(f: number): void {
    for (let i = this.partitions.length - 1; i >= 0; i--)
      if (this.partitions[i]?.f === f) this.partitions.splice(i, 1);
  }

  isolate(f: number, node: NodeId): void {
    const faults = this.isolatedBy.get(node);
    if (faults === undefined) this.isolatedBy.set(node, [f]);
    else faults.push(f);
  }

  release(f: number, node: NodeId): void {
    const faults = this.isolatedBy.get(node) ?? [];
    this.isolatedBy.set(
      node,
      faults.filter((id) => id !== f),
    );
  }

  beginStorm(f: number, fault: JitterStorm): void {
    this.storms = [...this.storms, { f, fault }];
  }

  endStorm(f: number): void {
    this.storms = this.storms.filter((s) => s.f !== f);
  }

  beginBurst(f: number, fault: LossBurst): void {
    this.bursts = [...this.bursts, { f, fault }];
  }

  endBurst(f: number): void {
    this.bursts = this.bursts.filter((s) => s.f !== f);
  }

  private drop(facts: MessageFacts, why: NetworkDropReason, f: number | undefined): void {
    this.counts.dropped[why] = (this.counts.dropped[why] ?? 0) + 1;
    this.agenda.emit({
      kind: 'dropped',
      t: this.agenda.now,
      message: facts,
      why,
      ...(f === undefined ? {} : { f }),
    });
  }

  /** An isolation of either end (the source's first), or a partition from the source's datacenter to the target's. */
  private blocked(source: Endpoint, target: SimNode): { why: NetworkDropReason; f: number } | null {
    const isolated = this.isolatedBy.get(source.id)?.[0] ?? this.isolatedBy.get(target.id)?.[0];
    if (isolated !== undefined) return { why: 'isolated', f: isolated };
    if (source.dc !== target.dc) {
      for (const p of this.partitions)
        if (p.from === source.dc && p.to === target.dc) return { why: 'partition', f: p.f };
    }
    return null;
  }

  private burstLoss(a: DcId, b: DcId): { perMillion: number; f: number | undefined } {
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

  private latency(link: Pick<LinkClass, 'latency'>, a: DcId, b: DcId): Us {
    let us = this.rng.latencyUs(link.latency);
    for (const { fault } of this.storms)
      if (fault.dc === undefined || fault.dc === a || fault.dc === b)
        us += this.rng.latencyUs(fault.extraLatency);
    return Math.max(1, us);
  }
}
