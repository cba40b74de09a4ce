/**
 * When each connection's subscribe token expires. A token bounds its connection's life (its JWT
 * `exp`), so the frontend ends the connection then. Expiries are kept in one-second buckets with
 * one timer for the earliest bucket, not a timer per connection: a frontend may hold 100,000
 * connections, and JWT expiry is whole seconds anyway. A connection ends within a second after
 * its `exp`.
 */
import { assert } from '../core/index.ts';
import type { ConnectionId } from '../core/index.ts';

export class Expiries {
  /** Connection -> the second (`ceil(ms / 1000)`) its token expires in. */
  private readonly secondOf = new Map<ConnectionId, number>();
  private readonly buckets = new Map<number, Set<ConnectionId>>();
  private timer: { handle: NodeJS.Timeout; second: number } | null = null;

  constructor(
    private readonly onExpired: (id: ConnectionId) => void,
    private readonly nowMs: () => number = Date.now,
  ) {}

  get size(): number {
    return this.secondOf.size;
  }

  /** `id`'s token expires at `atMs`; replaces what was set before (a refreshed token). */
  set(id: ConnectionId, atMs: number): void {
    this.delete(id);
    const second = Math.ceil(atMs / 1000);
    this.secondOf.set(id, second);
    let bucket = this.buckets.get(second);
    if (bucket === undefined) this.buckets.set(second, (bucket = new Set()));
    bucket.add(id);
    if (this.timer === null || second < this.timer.second) this.arm(second);
  }

  /** `id` is gone, or its token no longer expires. */
  delete(id: ConnectionId): void {
    const second = this.secondOf.get(id);
    if (second === undefined) return;
    this.secondOf.delete(id);
    const bucket = this.buckets.get(second);
    assert(bucket !== undefined && bucket.delete(id), `expiry of ${id} missing from its bucket`);
    if (bucket.size === 0) this.buckets.delete(second);
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer.handle);
    this.timer = null;
  }

  private arm(second: number): void {
    if (this.timer !== null) clearTimeout(this.timer.handle);
    const handle = setTimeout(() => this.fire(), Math.max(0, second * 1000 - this.nowMs()));
    handle.unref();
    this.timer = { handle, second };
  }

  private fire(): void {
    this.timer = null;
    const now = this.nowMs();
    const due: ConnectionId[] = [];
    for (const [second, bucket] of this.buckets) if (second * 1000 <= now) due.push(...bucket);
    for (const id of due) {
      this.delete(id);
      this.onExpired(id);
    }
    // onExpired may have set new expiries and armed the timer; the earliest bucket wins.
    let earliest: number | null = null;
    for (const second of this.buckets.keys()) if (earliest === null || second < earliest) earliest = second;
    const armed = this.armedSecond();
    if (earliest !== null && (armed === null || earliest < armed)) this.arm(earliest);
  }

  /** A method, not a field read, so the compiler does not assume `fire` still sees its own null. */
  private armedSecond(): number | null {
    return this.timer?.second ?? null;
  }
}
