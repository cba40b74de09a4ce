/**
 * The core's clock in production: wall time that never runs backwards. A role is fed `now` and
 * asserts that it never decreases, but the wall clock can step back (NTP, a VM resumed), so every
 * reading is the larger of the clock and the last reading.
 */
import type { Ms } from '../core/index.ts';

/** A reader of `wallMs` (the real clock by default) that never returns less than it did before. */
export function monotonicClock(wallMs: () => Ms = Date.now): () => Ms {
  let lastMs = 0;
  return () => {
    lastMs = Math.max(lastMs, wallMs());
    return lastMs;
  };
}
