/**
 * Requests awaiting a reply, in deadline order.
 *
 * Rules
 * - Every request of one table waits the same `timeoutMs`, and `now` never decreases, so insertion
 *   order is deadline order: the first entry is the next to time out, and a retry re-enters at the
 *   end. `add` asserts it, so a caller that broke either fact fails loudly instead of timing
 *   requests out late.
 * - A table holds at most `capacity` requests; the caller checks `hasRoom` first (a full table is
 *   the weather: its answer is the caller's), and `add` asserts it did.
 * - `takeDue` removes and returns, in order, every request whose deadline has come.
 */
import { assert } from './assert.ts';
import type { Ms, RequestId } from './types.ts';

export interface Pending<T> {
  readonly deadlineMs: Ms;
  readonly request: T;
}

export interface PendingTable<T> {
  readonly timeoutMs: Ms;
  readonly capacity: number;
  readonly entries: Map<RequestId, Pending<T>>;
  /** The deadline of the last request added: the next one's may not be earlier. */
  lastDeadlineMs: Ms;
}

export function pendingTable<T>(timeoutMs: Ms, capacity: number): PendingTable<T> {
  assert(timeoutMs > 0, 'a pending request needs a positive timeout');
  assert(Number.isSafeInteger(capacity) && capacity >= 0, 'a pending table needs a whole capacity');
  return { timeoutMs, capacity, entries: new Map(), lastDeadlineMs: Number.NEGATIVE_INFINITY };
}

export function hasRoom<T>(table: Readonly<PendingTable<T>>, requests = 1): boolean {
  return table.entries.size + requests <= table.capacity;
}

/** Wait for the reply to `id` until `now + timeoutMs`. */
export function addPending<T>(table: PendingTable<T>, id: RequestId, request: T, now: Ms): void {
  assert(hasRoom(table), `a pending table is over its capacity of ${table.capacity}`);
  assert(!table.entries.has(id), `request ${id} is pending already`);
  const deadlineMs = now + table.timeoutMs;
  assert(deadlineMs >= table.lastDeadlineMs, 'pending requests must be added in deadline order');
  table.lastDeadlineMs = deadlineMs;
  table.entries.set(id, { deadlineMs, request });
}

/** The reply to `id` came: stop waiting for it. Undefined when it was not pending (late or unknown). */
export function takePending<T>(table: PendingTable<T>, id: RequestId): T | undefined {
  const pending = table.entries.get(id);
  if (pending === undefined) return undefined;
  table.entries.delete(id);
  return pending.request;
}

export function nextPendingDeadline<T>(table: Readonly<PendingTable<T>>): Ms | null {
  const first = table.entries.values().next();
  return first.done ? null : first.value.deadlineMs;
}

/** Remove and return, oldest first, every request whose deadline is at or before `now`. */
export function takeDue<T>(table: PendingTable<T>, now: Ms): [RequestId, T][] {
  const due: [RequestId, T][] = [];
  for (const [id, pending] of table.entries) {
    if (pending.deadlineMs > now) break;
    due.push([id, pending.request]);
  }
  for (const [id] of due) table.entries.delete(id);
  const next = nextPendingDeadline(table);
  assert(next === null || next > now, 'a request left pending is past its deadline');
  return due;
}

/** The earliest of some deadlines, null for none. */
export function earliest(...deadlines: (Ms | null)[]): Ms | null {
  let min: Ms | null = null;
  for (const deadline of deadlines) if (deadline !== null && (min === null || deadline < min)) min = deadline;
  return min;
}
