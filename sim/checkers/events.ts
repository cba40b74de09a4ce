/**
 * The event registry: every published event the checkers follow, from its publish until its
 * delivery deadline, with its causal chain (the steps a violation about it quotes).
 *
 * The registry writes the chain itself, from the facts. Two checkers write the rest of an event's
 * record, each the part it judges: the delivery checker marks who `received` it (it is the judge of
 * duplicates), the loss checker marks who was counted `lost` at the deadline and that it was
 * `finalized`. Memory stays proportional to the events published plus one bit per (event,
 * connection) that received it.
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
  /** Connections counted lost at the deadline, so a later arrival is known to be late. */
  lost: Bitset | null;
  finalized: boolean;
  chain: string[];
}

export class EventRegistry {
  private readonly events = new Map<EventId, TrackedEvent>();
  /** Events published, each id once. */
  published = 0;

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
          lost: null,
          finalized: false,
          chain: [`${fmt(t)} published on "${event.topic}" by ${node} (origin ${origin})`],
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
      case 'run':
      case 'fault':
      case 'node':
      case 'received':
      case 'batch-lost':
      case 'connection':
      case 'lease':
      case 'due':
      case 'end':
        return;
      default:
        return unreachable(fact);
    }
  }

  private step(e: EventId, t: Us, text: string): void {
    const tracked = this.events.get(e);
    if (tracked !== undefined && tracked.chain.length < chainStepsMax)
      tracked.chain.push(`${fmt(t)} ${text}`);
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
      return null;
    default:
      return unreachable(type);
  }
}
