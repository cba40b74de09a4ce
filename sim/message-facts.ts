/**
 * What the facts say of a message (sim/facts.ts `MessageFacts`): its number, its ends and type, and
 * what it is about even where the message itself does not say — the event a store lookup serves,
 * the event a `deliver-ack` acknowledges and the topic a `history-reply` answers, remembered from
 * the request they answer (a bounded memory, oldest forgotten first: an answer later than that is
 * only named less).
 *
 * The simulated network names every message with one namer. A chaos run (chaos/) names each
 * message in the process that sends it, so the process that answers a request must have heard the
 * request (`heard`) to name its answer as the simulator would.
 */
import { unreachable, type EventId, type Message, type NodeId, type Topic } from '../core/index.ts';
import type { HistoryAnswer, MessageFacts } from './facts.ts';

/** An end of a message: a node (`<dc>/frontend-N`, ...) or a datacenter's publisher, and its role. */
export interface MessageEnd {
  id: string;
  role: 'frontend' | 'dispatcher' | 'store' | 'publisher';
}

/**
 * How many deliveries and history reads the namer remembers the event or topic of, for naming
 * their acknowledgements and answers: far more than are ever awaited at once (an answer comes
 * within a few timeouts), so only an answer to a request forgotten long ago goes unnamed.
 */
export const namedRequestsMax = 1 << 16;

export class MessageNamer {
  /** `endpoint, request id` -> the event a store lookup serves, for its request and its reply. */
  private readonly lookups = new Map<string, EventId>();
  /** `dispatcher, delivery id` -> the event a reliable delivery carries, for its acks. */
  private readonly deliveries = new Map<string, EventId>();
  /** `frontend, request id` -> the topic a history read reads, for its answer. */
  private readonly reads = new Map<string, Topic>();

  /**
   * The facts of `message`, numbered `m`, sent from `source` to `target`. `lookupFor` names the
   * event a dispatcher's store lookup serves, so the lookup and its reply are known to be about it.
   */
  name(
    m: number,
    source: MessageEnd,
    target: MessageEnd,
    message: Message,
    lookupFor?: EventId,
  ): MessageFacts {
    if (message.type === 'store-request') {
      // Request ids start again at 1 when a dispatcher restarts: a new request replaces whatever an
      // earlier incarnation's request of the same id (its reply never came) was about.
      const key = `${source.id}\u0000${message.requestId}`;
      if (lookupFor === undefined) this.lookups.delete(key);
      else this.lookups.set(key, lookupFor);
    } else if (message.type === 'deliver' && message.deliveryId !== undefined) {
      remember(this.deliveries, `${source.id}\u0000${message.deliveryId}`, message.event.id);
    } else if (message.type === 'history-read') {
      remember(this.reads, `${source.id}\u0000${message.requestId}`, message.topic);
    }
    return this.factsOf(m, source, target, message);
  }

  /**
   * A message named by another process' namer arrived here: remember what this process' answer to
   * it must say (a delivery's event for its ack, a history read's topic for its reply).
   */
  heard(from: string, message: Message): void {
    if (message.type === 'deliver' && message.deliveryId !== undefined)
      remember(this.deliveries, `${from}\u0000${message.deliveryId}`, message.event.id);
    else if (message.type === 'history-read')
      remember(this.reads, `${from}\u0000${message.requestId}`, message.topic);
  }

  /** A store's reply reached its dispatcher: its lookup is answered and forgotten. */
  answered(dispatcher: NodeId, requestId: number): void {
    this.lookups.delete(`${dispatcher}\u0000${requestId}`);
  }

  /** A message as the facts name it: its number, ends and type, and the event or lease it is about. */
  private factsOf(m: number, source: MessageEnd, target: MessageEnd, message: Message): MessageFacts {
    const e = this.eventOf(source, target, message);
    const topic = this.topicOf(target, message);
    const forwardId =
      message.type === 'forward' || message.type === 'forward-ack' ? message.forwardId : undefined;
    const leaseOf = leaseOfMessage(target, message);
    return {
      m,
      from: source.id,
      to: target.id,
      type: message.type,
      ...(e === undefined ? {} : { e }),
      ...(topic === undefined ? {} : { topic }),
      ...(forwardId === undefined ? {} : { forwardId }),
      ...(leaseOf === undefined ? {} : { leaseOf }),
      ...reliableFactsOf(message),
    };
  }

  /** The topic of the event a message carries, or of the history it reads or answers. */
  private topicOf(target: MessageEnd, message: Message): Topic | undefined {
    switch (message.type) {
      case 'deliver':
      case 'forward':
        return message.event.topic;
      case 'history-read':
        return message.topic;
      case 'history-reply':
        return this.reads.get(`${target.id}\u0000${message.requestId}`);
      case 'publish':
      case 'publish-reply':
      case 'subscribe':
      case 'renew':
      case 'unsubscribe':
      case 'lease-reply':
      case 'store-reset':
      case 'deliver-ack':
      case 'forward-ack':
      case 'store-request':
      case 'store-reply':
      case 'occupancy':
        return undefined;
      default:
        return unreachable(message);
    }
  }

  /** The event a message carries, serves (a store lookup and its reply) or acknowledges (a deliver-ack). */
  private eventOf(source: MessageEnd, target: MessageEnd, message: Message): EventId | undefined {
    switch (message.type) {
      case 'deliver':
      case 'forward':
        return message.event.id;
      case 'store-request':
        return this.lookups.get(`${source.id}\u0000${message.requestId}`);
      case 'store-reply':
        return this.lookups.get(`${target.id}\u0000${message.requestId}`);
      case 'publish':
        // A publisher's own id (reliable mode), which every attempt of the publish carries.
        return message.id;
      case 'deliver-ack':
        return this.deliveries.get(`${target.id}\u0000${message.deliveryId}`);
      case 'publish-reply':
      case 'subscribe':
      case 'renew':
      case 'unsubscribe':
      case 'lease-reply':
      case 'store-reset':
      case 'forward-ack':
      case 'history-read':
      case 'history-reply':
      case 'occupancy':
        return undefined;
      default:
        return unreachable(message);
    }
  }
}

/** Set `key` as the newest entry of `map`, forgetting the oldest past `namedRequestsMax`. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > namedRequestsMax) map.delete(map.keys().next().value as string);
}

/** What a reliable-mode message says of delivery ids, positions and histories (nothing in best-effort). */
function reliableFactsOf(message: Message): Partial<MessageFacts> {
  switch (message.type) {
    case 'deliver': {
      const { deliveryId, position } = message;
      return {
        ...(deliveryId === undefined ? {} : { deliveryId }),
        ...(position === undefined ? {} : { epoch: position.epoch, seq: position.seq }),
      };
    }
    case 'deliver-ack':
      return { deliveryId: message.deliveryId };
    case 'history-read': {
      const { after } = message;
      return { historyAfter: 'seq' in after ? { seq: after.seq } : { eventId: after.eventId } };
    }
    case 'history-reply':
      return { historyAnswer: answerOf(message.reply) };
    case 'publish':
    case 'publish-reply':
    case 'subscribe':
    case 'renew':
    case 'unsubscribe':
    case 'lease-reply':
    case 'store-reset':
    case 'forward':
    case 'forward-ack':
    case 'store-request':
    case 'store-reply':
    case 'occupancy':
      return {};
    default:
      return unreachable(message);
  }
}

function answerOf(reply: Extract<Message, { type: 'history-reply' }>['reply']): HistoryAnswer {
  if (!reply.ok) return { ok: false, message: reply.message };
  const { epoch, afterSeq, firstSeq, headSeq, events } = reply;
  const first = events[0];
  const last = events.at(-1);
  return {
    ok: true,
    epoch,
    afterSeq,
    firstSeq,
    headSeq,
    n: events.length,
    ...(first === undefined || last === undefined ? {} : { fromSeq: first.seq, toSeq: last.seq }),
  };
}

/** The frontend whose lease a message writes or answers. */
function leaseOfMessage(target: MessageEnd, message: Message): NodeId | undefined {
  switch (message.type) {
    case 'subscribe':
    case 'renew':
    case 'unsubscribe':
      return message.frontend;
    case 'store-request':
      return 'frontend' in message.request ? message.request.frontend : undefined;
    case 'lease-reply':
    case 'store-reset':
      return target.role === 'frontend' ? target.id : undefined;
    case 'publish':
    case 'publish-reply':
    case 'deliver':
    case 'forward':
    case 'forward-ack':
    case 'store-reply':
    case 'deliver-ack':
    case 'history-read':
    case 'history-reply':
    case 'occupancy':
      return undefined;
    default:
      return unreachable(message);
  }
}
