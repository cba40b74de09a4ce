/**
 * How long after its last fault healed a world needs to be whole again, from the scenario's own
 * settings: every frontend has renewed its registrations (a renewal period, and its retries, each
 * waiting a lease request's timeout, behind a store request's), and every viewer that lost its
 * connection has reconnected (the longest backoff) and been subscribed for the grace period that
 * makes it count. From then on nothing may be lost: that is liveness after heal.
 */
import { unreachable, usOfMs, type Ms, type Us } from '../core/index.ts';
import type { Fault, Scenario } from './scenario.ts';

export function settleMs(scenario: Pick<Scenario, 'roles' | 'workload' | 'subscribeGraceMs'>): Ms {
  const { roles, workload } = scenario;
  const registration =
    roles.renewEveryMs + roles.leaseAttemptsMax * roles.leaseRequestTimeoutMs + roles.storeRequestTimeoutMs;
  const reconnect = workload.reconnectBackoffMs.max;
  return Math.max(registration, reconnect) + scenario.subscribeGraceMs;
}

/**
 * Reliable mode: how long a correct core may take to bring a joined stream up to a head that no
 * delivery brought it (every attempt lost, or a frontend the store has no room for): the head comes
 * with a renewal's answer — the next renewal or, if the network's random loss took every attempt
 * of that one, the one after (each attempt waiting a lease request's timeout behind a store
 * request's) — then, after the gap wait, the frontend reads it, a few reads `readTimeoutMs` apart
 * riding out the same loss. The run goes on that long after publishing stops, and eventual
 * delivery owes a stream the head as it stood that long before the end.
 */
export function catchUpMs(scenario: Pick<Scenario, 'roles'>): Ms {
  const { roles } = scenario;
  const renewal = roles.leaseAttemptsMax * roles.leaseRequestTimeoutMs + roles.storeRequestTimeoutMs;
  return 2 * roles.renewEveryMs + renewal + roles.gapWaitMs + catchUpReadsMax * roles.readTimeoutMs;
}

/** Reads a catch-up may need, each lost to random loss but the last (see `catchUpMs`). */
const catchUpReadsMax = 4;

/** When the last fault of a schedule ends (kills restart, partitions repair...), or null if one never does. */
export function healedAt(faults: readonly Fault[]): Us | null {
  let healedMs = 0;
  for (const fault of faults) {
    const lastsMs = faultDurationMs(fault);
    if (lastsMs === undefined) return null;
    healedMs = Math.max(healedMs, fault.atMs + lastsMs);
  }
  return usOfMs(healedMs);
}

/** How long a fault lasts until its restart, repair or release; undefined for a kill that never restarts. */
export function faultDurationMs(fault: Fault): Ms | undefined {
  switch (fault.kind) {
    case 'kill':
      return fault.restartAfterMs;
    case 'partition':
      return fault.repairAfterMs;
    case 'isolate':
      return fault.releaseAfterMs;
    case 'jitter-storm':
    case 'loss-burst':
      return fault.durationMs;
    default:
      return unreachable(fault);
  }
}
