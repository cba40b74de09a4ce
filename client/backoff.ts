/**
 * How long the client waits before its next connection attempt: exponential backoff with full
 * jitter (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015). Attempt n (0 for the first
 * retry after a loss) waits a uniformly random time in [0, min(maxMs, initialMs * 2^n)]: the ceiling
 * doubles until it reaches `maxMs`, and the randomness spreads a crowd of viewers that lost the same
 * frontend at the same instant over the whole window instead of sending them back together.
 *
 * The client resets the attempt count once a connection has stayed open for `stableOpenMs`, so a
 * server that accepts and drops at once keeps its viewers backing off.
 */

export interface Backoff {
  /** The ceiling of the first retry's wait. */
  initialMs: number;
  /** The ceiling never grows past this. */
  maxMs: number;
}

export const defaultBackoff: Readonly<Backoff> = { initialMs: 500, maxMs: 30_000 };

/** A connection open this long is stable: the next loss starts the backoff from attempt 0 again. */
export const stableOpenMs = 10_000;

/** The ceiling of attempt `attempt`'s wait: min(maxMs, initialMs * 2^attempt). */
export function backoffCeilingMs(attempt: number, backoff: Readonly<Backoff>): number {
  // 2^attempt overflows to Infinity past attempt 1023; min() keeps the answer finite.
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, attempt));
}

/** The wait before attempt `attempt`; `random` returns a number in [0, 1) (Math.random by default). */
export function backoffDelayMs(
  attempt: number,
  backoff: Readonly<Backoff>,
  random: () => number = Math.random,
): number {
  const draw = random();
  if (!(draw >= 0 && draw < 1)) throw new RangeError(`random() must return a number in [0, 1), not ${draw}`);
  return Math.floor(draw * (backoffCeilingMs(attempt, backoff) + 1));
}

/** What is wrong with `backoff`, or null. */
export function backoffError(backoff: Readonly<Backoff>): string | null {
  if (!Number.isFinite(backoff.initialMs) || backoff.initialMs < 0)
    return `backoff.initialMs must be a finite number of ms, 0 or more, not ${backoff.initialMs}`;
  if (!Number.isFinite(backoff.maxMs) || backoff.maxMs < backoff.initialMs)
    return `backoff.maxMs must be a finite number of ms, at least initialMs (${backoff.initialMs}), not ${backoff.maxMs}`;
  return null;
}
