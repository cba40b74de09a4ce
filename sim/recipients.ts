/**
 * How a trace names the connections of a fan-out or a batch without listing thousands of ids:
 * relative to the topic's subscribers at that frontend at that moment (the subscriptions
 * projection, which the writer and the reader each build from the same `connection` facts).
 *
 * No list means exactly the subscribers; `omit` and `add` mean the subscribers without those, plus
 * those; `c` lists the connections outright when that is shorter. It names a set: the order of a
 * fan-out's connections is not kept (the checkers report in an order of their own).
 */
import type { ConnectionId } from '../core/index.ts';

export interface Recipients {
  c?: ConnectionId[];
  add?: ConnectionId[];
  omit?: ConnectionId[];
}

/** Names recipients; it keeps one mark per connection so that naming a fan-out of thousands allocates nothing. */
export class RecipientEncoder {
  private marks = new Int32Array(1024);
  private epoch = 0;

  encode(
    subscribers: ReadonlySet<number>,
    connections: readonly number[],
    idOf: (c: number) => ConnectionId,
  ): Recipients {
    const epoch = ++this.epoch;
    let repeated = false;
    let subscribed = 0;
    for (let i = 0; i < connections.length; i++) {
      const c = connections[i] as number;
      if (c >= this.marks.length) this.grow(c);
      if (this.marks[c] === epoch) repeated = true;
      this.marks[c] = epoch;
      if (subscribers.has(c)) subscribed++;
    }
    // A connection listed twice (a bug a checker must see) can only be named by a list.
    if (repeated) return { c: connections.map(idOf) };
    if (subscribed === connections.length && subscribed === subscribers.size) return {};
    const added = connections.length - subscribed;
    const omitted = subscribers.size - subscribed;
    if (connections.length <= added + omitted) return { c: connections.map(idOf) };
    const add: ConnectionId[] = [];
    for (const c of connections) if (!subscribers.has(c)) add.push(idOf(c));
    const omit: ConnectionId[] = [];
    for (const c of subscribers) if (this.marks[c] !== epoch) omit.push(idOf(c));
    return { ...(add.length > 0 ? { add } : {}), ...(omit.length > 0 ? { omit } : {}) };
  }

  private grow(c: number): void {
    const grown = new Int32Array(Math.max(c + 1, this.marks.length * 2));
    grown.set(this.marks);
    this.marks = grown;
  }
}

/**
 * The connections a record names, given the subscribers there and a way from id to connection: the
 * trace reader names them by number, replay by id (`indexOf` the identity).
 */
export function decodeRecipients<C>(
  subscribers: ReadonlySet<C>,
  recipients: Recipients,
  indexOf: (id: ConnectionId) => C,
): C[] {
  if (recipients.c !== undefined) return recipients.c.map(indexOf);
  let kept: C[];
  if (recipients.omit === undefined) kept = Array.from(subscribers);
  else {
    const omit = new Set(recipients.omit.map(indexOf));
    kept = [];
    for (const c of subscribers) if (!omit.has(c)) kept.push(c);
  }
  for (const id of recipients.add ?? []) kept.push(indexOf(id));
  return kept;
}
