/**
 * A run's budget: how many items (messages, deadlines, client actions, faults) the world may
 * process before the run is called a runaway. A core bug that relays an event forever, or retries
 * without end, would otherwise run until the scenario's end — or past a test's timeout — instead
 * of failing. The budget is derived from the scenario alone, so a runaway is as deterministic as
 * any other violation and shrinks like one; wall time is never part of a verdict.
 *
 * It is generous on purpose — `runawayFactor` times a fault-free estimate of the work — so a
 * correct run never comes near it, while a relay loop, which grows without bound (often
 * exponentially), crosses it soon after it starts.
 */
import type { Scenario } from './scenario.ts';

/** How far past the fault-free estimate a run may go before it is a runaway. */
export const runawayFactor = 20;

export function itemBudget(
  scenario: Pick<Scenario, 'topology' | 'workload' | 'durationMs' | 'network'>,
): number {
  const { topology, workload, durationMs } = scenario;
  const dcs = topology.datacenters.length;
  const frontends = topology.datacenters.reduce((n, dc) => n + dc.frontends, 0);
  const dispatchers = topology.datacenters.reduce((n, dc) => n + dc.dispatchers, 0);
  const nodes = frontends + dispatchers + dcs;
  const seconds = durationMs / 1_000;
  const viewers = workload.topics.reduce((n, t) => n + t.viewers, 0);
  const publishes = workload.topics.reduce((n, t) => n + t.publishesPerSecond, 0) * seconds;
  // Per event: a publish and its reply, a forward, ack, lookup and reply per datacenter, a deliver
  // and a client batch per frontend; the network may duplicate any of them.
  const duplication =
    1 + (scenario.network.intraDc.duplicatePerMillion + scenario.network.crossDc.duplicatePerMillion) / 1e6;
  const perEvent = (2 + 4 * dcs + 2 * frontends) * duplication;
  // Per second: every node's timers and lease traffic, every viewer's churn, leaves and reconnects.
  const perSecond = nodes * (10 + workload.topics.length * 4) + viewers * 4;
  const estimate = publishes * perEvent + seconds * perSecond + viewers * 4 + nodes * 10;
  return Math.ceil(runawayFactor * estimate) + 10_000;
}
