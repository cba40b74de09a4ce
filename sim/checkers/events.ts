/**
 * The event registry: every published event the checkers follow, from its publish until its
 * delivery deadline, with its causal chain (the steps a violation about it quotes).
 *
 * The registry writes the chain itself, from the facts. Two checkers write the rest of an event's
 * record, each the part it judges: the delivery checker marks who `received` it, connections and,
 * in reliable mode, viewers (it is the judge of duplicates), the loss checker marks who was counted `lost` at the deadline and that it was
 * `finalized`.
 *
 * Retention: an event's per-recipient state (who received it, who was counted lost) and its chain
 * are kept for `retentionUs` after its deadline (its `due` fact), then forgotten: only its identity
 * stays (id, digest, origin, publish time), so a reused id, an altered copy and a late drop are
 * still known for what they are. The suite sets the retention to one more delivery deadline plus
 * the settle window (sim/settle.ts): in a run that works as designed no fact about an event comes
 * later (the last retries of a forward or a lookup that began just before the deadline, a viewer
 * that lost its connection reconnecting and resuming with what it missed). A fact that does come
 * later is judged against the forgotten history (a receipt counts as a first one, a violation's
 * chain says its steps were forgotten) and counted in `pastRetention`. So memory stays at one small identity per event
 * plus the whole state of the events of the last two deadlines and a settle window, however long
 * the run. (A bit set spans the connection numbers it names, which grow with every connection
 * opened: that is per connection, not per event.)
 */
import { unreachable, type DcId, type EventId, type NodeId, type Us } from '../../core/index.ts';
import type { EventStamp, Fact } from '../facts.ts';
import { Bitset } from './bitset.ts';
import { fmt } from './time.ts';

/** Steps of an event's history kept for its causal chain. */
const chainStepsMax = 80;

export interface TrackedEvent {
  /** As first published: a publisher-chosen id reused later does not redefine the event. */
  stamp: EventStamp;
  origin: DcId;
  publishUs: Us;
  dispatcher: NodeId;
  received: Bitset;
  /**
   * Viewers' subscriptions (numbered by the delivery checker) that received it, where duplicates are
   * judged per viewer across the connections of a subscription (reliable mode); null otherwise.
   */
  viewers: Bitset | null;
  /** Connections counted lost at the deadline, so a later arrival is known to be late. */
  lost: Bitset | null;
  finalized: boolean;
  chain: string[];
  /** Past its retention: its per-recipient state and chain were forgotten. */
  retired: boolean;
}

/** An event's chain once its retention ended (frozen: nothing is added to it). */
const forgottenChain: string[] = Object.freeze([
  '(its steps were forgotten: the event is past its retention)',
]) as string[];

/** How much per-event state the registry holds (for tests and benchmarks of the retention). */
export interface EventsHeld {
  /** Events whose whole state is kept (published and not yet past their retention). */
  followed: number;
  /** Events past their retention: only their identity is kept. */
  retired: number;
  /** Bytes of the followed events' per-recipient bit sets (each spans the connection numbers it names). */
  recipientBytes: number;
  /** Steps of the followed events' chains. */
  chainSteps: number;
  /** Facts about an event that came after its retention ended. */
  pastRetention: number;
}

const noEvents: readonly EventId[] = [];

export class EventRegistry {
  private readonly events = new Map<EventId, TrackedEvent>();
  /** Events published, each id once. */
  published = 0;
  private retired = 0;
  private pastRetention = 0;
  /** Events past their deadline, in the order their retention ends (the order of their `due` facts). */
  private readonly retiring: { e: EventId; untilUs: Us }[] = [];
  private retiringHead = 0;

  /** `retentionUs`: how long after its deadline an event is kept whole; null keeps every event whole to the end. */
  constructor(private readonly retentionUs: Us | null) {}

  get(e: EventId): TrackedEvent | undefined {
    return this.events.get(e);
  }

  chainOf(e: EventId): readonly string[] {
    return this.events.get(e)?.chain ?? [];
  }

  apply(fact: Fact): void {
    switch (fact.kind) {
      case 'published': {
        const { event, origin, node, t } = fact;
        if (this.events.has(event.id)) {
          this.step(event.id, t, `${node} accepted a publish that reused id ${event.id}`);
          return;
        }
        this.published++;
        this.events.set(event.id, {
          stamp: event,
          origin,
          publishUs: t,
          dispatcher: node,
          received: new Bitset(),
          viewers: null,
          lost: null,
          finalized: false,
          chain: [`${fmt(t)} published on "${event.topic}" by ${node} (origin ${origin})`],
          retired: false,
        });
        return;
      }
      case 'sent': {
        const { type, e, from, to } = fact.message;
        if (e === undefined) return;
        if (type === 'deliver') this.step(e, fact.t, `${from} sent it to ${to}`);
        else if (type === 'forward') this.step(e, fact.t, `${from} forwarded it to ${to}`);
        return;
      }
      case 'dropped': {
        const text = describeEventDrop(fact);
        if (text !== null && fact.message.e !== undefined) this.step(fact.message.e, fact.t, text);
        return;
      }
      case 'role-drop':
        if (fact.e !== undefined)
          this.step(
            fact.e,
            fact.t,
            `${fact.node} gave up: ${fact.reason}${fact.dc === undefined ? '' : ` for ${fact.dc}`}`,
          );
        return;
      case 'fanned-out':
        this.step(fact.e, fact.t, `${fact.node} fanned it out to ${fact.connections.length} connection(s)`);
        return;
      case 'batch-received':
        this.step(
          fact.event.id,
          fact.t,
          `${fact.connections.length} connection(s) of ${fact.node} received it`,
        );
        return;
      case 'due':
        this.due(fact.e, fact.t);
        return;
      case 'run':
      case 'fault':
      case 'node':
      case 'received':
      case 'batch-lost':
      case 'connection':
      case 'lease':
      case 'end':
      case 'appended':
      case 'trimmed':
      case 'gap':
      case 'answered':
      case 'occupancy':
        return;
      default:
        return unreachable(fact);
    }
  }

  /**
   * Forget the per-recipient state and the chain of every event whose retention ended before
   * `now`, and say which: call it before judging a fact of time `now`.
   */
  retire(now: Us): readonly EventId[] {
    const queue = this.retiring;
    if (this.retiringHead === queue.length || (queue[this.retiringHead] as { untilUs: Us }).untilUs >= now)
      return noEvents;
    const gone: EventId[] = [];
    while (this.retiringHead < queue.length) {
      const next = queue[this.retiringHead] as { e: EventId; untilUs: Us };
      if (next.untilUs >= now) break;
      this.retiringHead++;
      const tracked = this.events.get(next.e) as TrackedEvent;
      tracked.received.forget();
      tracked.viewers = null;
      tracked.lost = null;
      tracked.chain = forgottenChain;
      tracked.retired = true;
      this.retired++;
      gone.push(next.e);
    }
    if (this.retiringHead > 1024 && this.retiringHead * 2 > queue.length) {
      queue.splice(0, this.retiringHead);
      this.retiringHead = 0;
    }
    return gone;
  }

  held(): EventsHeld {
    let recipientBytes = 0;
    let chainSteps = 0;
    for (const tracked of this.events.values()) {
      if (tracked.retired) continue;
      recipientBytes += tracked.received.bytes + (tracked.viewers?.bytes ?? 0) + (tracked.lost?.bytes ?? 0);
      chainSteps += tracked.chain.length;
    }
    return {
      followed: this.events.size - this.retired,
      retired: this.retired,
      recipientBytes,
      chainSteps,
      pastRetention: this.pastRetention,
    };
  }

  /** The event's deadline passed: its retention starts (once, at its first deadline). */
  private due(e: EventId, t: Us): void {
    const tracked = this.events.get(e);
    if (this.retentionUs === null || tracked === undefined || tracked.finalized) return;
    this.retiring.push({ e, untilUs: t + this.retentionUs });
  }

  private step(e: EventId, t: Us, text: string): void {
    const tracked = this.events.get(e);
    if (tracked === undefined) return;
    if (tracked.retired) this.pastRetention++;
    else if (tracked.chain.length < chainStepsMax) tracked.chain.push(`${fmt(t)} ${text}`);
  }
}

/**
 * How a dropped message that carried or served an event reads in its chain and in a loss's
 * explanation, or null when the message was not about an event.
 */
export function describeEventDrop(fact: Extract<Fact, { kind: 'dropped' }>): string | null {
  const { type, e, from, to } = fact.message;
  if (e === undefined) return null;
  const cause = fact.f === undefined ? fact.why : `${fact.why}, fault #${fact.f}`;
  switch (type) {
    case 'deliver':
    case 'forward':
      return `${type} to ${to} dropped (${cause})`;
    case 'store-request':
    case 'store-reply':
      return `${type} between ${from} and ${to} dropped (${cause})`;
    case 'publish':
    case 'publish-reply':
    case 'subscribe':
    case 'renew':
    case 'unsubscribe':
    case 'lease-reply':
    case 'store-reset':
    case 'forward-ack':
    case 'deliver-ack':
    case 'history-read':
    case 'history-reply':
    case 'occupancy':
      return null;
    default:
      return unreachable(type);
  }
}
