/**
 * The invariant checkers, one per family (delivery, leases, forwarding, reliable, loss, occupancy), behind one
 * suite that reads the facts of a run (live, or read back from a trace) and reports what it finds.
 */
export { Checkers, deliveryModeOf, eventRetentionUs, zeroTotals } from './suite.ts';
export type {
  CheckerOptions,
  CheckerOutput,
  CheckerOutputSink,
  CheckersHeld,
  CheckerSummary,
  CheckerTotals,
  DeliveryCounts,
} from './suite.ts';
export type { LivenessSummary, LossGroup } from './loss.ts';
export type { ReliableCounts } from './reliable.ts';
export type { OccupancyConvergence, OccupancyError, OccupancySummary } from './occupancy.ts';
export { judgedInvariants, violationsKeptPerInvariant } from './violations.ts';
export type { InvariantName, Violation } from './violations.ts';
