/**
 * How long after its last fault healed a world needs to be whole again, from the scenario's own
 * settings: every frontend has renewed its registrations (a renewal period, and its retries, each
 * waiting a lease request's timeout, behind a store request's), and every viewer that lost its
 * connection has reconnected (the longest backoff) and been subscribed for the grace period that
 * makes it count. From then on nothing may be lost: that is liveness after heal.
 */
import type { Ms } from '../core/index.ts';
import type { Scenario } from './scenario.ts';

export function settleMs(scenario: Pick<Scenario, 'roles' | 'workload' | 'subscribeGraceMs'>): Ms {
  const { roles, workload } = scenario;
  const registration =
    roles.renewEveryMs + roles.leaseAttemptsMax * roles.leaseRequestTimeoutMs + roles.storeRequestTimeoutMs;
  const reconnect = workload.reconnectBackoffMs.max;
  return Math.max(registration, reconnect) + scenario.subscribeGraceMs;
}
