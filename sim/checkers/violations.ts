/**
 * The checkers' verdicts: every broken invariant is counted, and the first few of each are kept in
 * detail with the causal chain of the event involved. All checkers report into one log, so the
 * detailed violations come out in the order they were found, whichever checker found them.
 */
import type { DeliveryMode, EventId, Us } from '../../core/index.ts';

export type InvariantName =
  | 'integrity'
  | 'no-misdelivery'
  | 'no-duplicates'
  | 'explained-loss'
  | 'fault-free-liveness'
  | 'lease-hygiene'
  | 'lease-release'
  | 'forward-discipline'
  | 'timely-retry'
  | 'lease-without-viewers'
  | 'liveness-after-heal'
  | 'runaway'
  // Reliable mode only (reliable.ts):
  | 'eventual-delivery'
  | 'order'
  | 'honest-gaps'
  | 'acknowledged-delivered'
  // Viewer counts, in both modes (occupancy.ts):
  | 'occupancy-converge'
  | 'occupancy-stale-dropped';

/**
 * Which invariants a run of each delivery mode judges. Best-effort promises no delivery, so it
 * judges loss by its causes; reliable promises delivery, order and honest gaps instead, and a
 * delivery missing at its deadline is no loss there (it may still come from the history). Every
 * other invariant holds in both. The counts carry every name in both modes; the ones a mode does
 * not judge stay at zero.
 */
export const judgedInvariants: Record<DeliveryMode, readonly InvariantName[]> = {
  'best-effort': [
    'integrity',
    'no-misdelivery',
    'no-duplicates',
    'explained-loss',
    'fault-free-liveness',
    'lease-hygiene',
    'lease-release',
    'forward-discipline',
    'timely-retry',
    'lease-without-viewers',
    'liveness-after-heal',
    'runaway',
    'occupancy-converge',
    'occupancy-stale-dropped',
  ],
  reliable: [
    'integrity',
    'no-misdelivery',
    'no-duplicates',
    'lease-hygiene',
    'lease-release',
    'forward-discipline',
    'timely-retry',
    'lease-without-viewers',
    'liveness-after-heal',
    'runaway',
    'eventual-delivery',
    'order',
    'honest-gaps',
    'acknowledged-delivered',
    'occupancy-converge',
    'occupancy-stale-dropped',
  ],
};

/** One broken invariant, with what a person needs to find it in the trace. */
export interface Violation {
  invariant: InvariantName;
  t: Us;
  message: string;
  e?: EventId;
  connection?: string;
  node?: string;
  /**
   * The event's causal chain, one line a step, from publish to where it went wrong; for a viewer
   * count, the steps from the change it should have followed to the count told.
   */
  chain: string[];
}

/** Detailed violations kept per invariant; beyond it they are only counted. */
export const violationsKeptPerInvariant = 20;

export class ViolationLog {
  readonly counts: Record<InvariantName, number> = {
    integrity: 0,
    'no-misdelivery': 0,
    'no-duplicates': 0,
    'explained-loss': 0,
    'fault-free-liveness': 0,
    'lease-hygiene': 0,
    'lease-release': 0,
    'forward-discipline': 0,
    'timely-retry': 0,
    'lease-without-viewers': 0,
    'liveness-after-heal': 0,
    runaway: 0,
    'eventual-delivery': 0,
    order: 0,
    'honest-gaps': 0,
    'acknowledged-delivered': 0,
    'occupancy-converge': 0,
    'occupancy-stale-dropped': 0,
  };
  readonly kept: Violation[] = [];

  constructor(
    private readonly chainOf: (e: EventId) => readonly string[],
    private readonly onKept: (violation: Violation) => void,
  ) {}

  report(
    invariant: InvariantName,
    t: Us,
    message: string,
    where: { e?: EventId; connection?: string; node?: string; chain?: readonly string[] },
  ): void {
    this.counts[invariant]++;
    if (this.counts[invariant] > violationsKeptPerInvariant) return;
    const { chain: steps, ...place } = where;
    const chain = steps !== undefined ? [...steps] : where.e === undefined ? [] : [...this.chainOf(where.e)];
    const violation: Violation = { invariant, t, message, ...place, chain };
    this.kept.push(violation);
    this.onKept(violation);
  }
}
