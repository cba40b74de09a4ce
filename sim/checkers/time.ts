import type { Us } from '../../core/index.ts';

/** Simulated microseconds as `12.345678s`, the way violations and causal chains print time. */
export function fmt(us: Us): string {
  return `${(us / 1_000_000).toFixed(6)}s`;
}
