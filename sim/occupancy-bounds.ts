/**
 * The timings viewer counts (occupancy) are judged by, from the scenario's own settings: who
 * watches, when a peer datacenter is stale, how long after the last change a count must be right
 * everywhere, and how long a run goes on so that it is judged at least once after its churn and
 * faults stop.
 *
 * The convergence bound B, after a change at time s (a viewer joins or leaves a topic, a fault
 * heals, a lease request is lost):
 *
 *   B = max(renewEveryMs, I) + 3 x I + 2 x W + hopCross + 2 x hopIntra + timer rounding
 *
 * with I = `occupancyEveryMs`, W = `leaseAttemptsMax` x `leaseRequestTimeoutMs` +
 * `storeRequestTimeoutMs` (a lease write and its answer, every attempt taken), and hopIntra /
 * hopCross the slowest fault-free hop of each link class (base + 20 x jitter). Step by step:
 * the frontend reports a changed count at its next interval (after a heal: at its next full
 * renewal, max(renewEveryMs, I)); the write reaches the store (W); the dispatcher that wrote it
 * sends its datacenter's total to the peers at its next interval (I), across (hopCross), into
 * their store (hopIntra); a frontend with watchers renews at its next interval after that (I) and
 * has its answer (W); it tells its watchers at the interval after (I).
 *
 * A frontend that dies takes its viewers with it at once, but its lease holds their count until
 * it runs out, and a datacenter with no other frontend of the topic sends no new total, so the
 * peers drop the last one when it expires (a total holds for the lease, the time to find its
 * datacenter stale and an interval, after it arrived):
 *
 *   B_death = leaseMs + staleMs + I + 2 x hopIntra + B
 *
 * A peer datacenter is stale once nothing was heard from it for `staleMs` = 3 x I: what the
 * dispatchers are given (their own default), named here once for the world and the checker.
 */
import { unreachable, usOfMs, type Ms, type Us } from '../core/index.ts';
import type { Fault, Latency, Scenario } from './scenario.ts';

export interface OccupancyBounds {
  everyMs: Ms;
  staleMs: Ms;
  /** The slowest fault-free hop inside a datacenter, and across datacenters. */
  hopIntraUs: Us;
  hopCrossUs: Us;
  /** W: a lease write and its answer, every attempt taken. */
  writeMs: Ms;
  /** B: after a change, every watcher's count is right by then. */
  convergeUs: Us;
  /** B_death: after a frontend died, its viewers are out of every count by then. */
  deathUs: Us;
}

/** Roles keep whole milliseconds: each step of B may round a timer down by one. */
const timerRoundingMs = 5;

/** Intervals without a word from a peer datacenter before it is stale (the dispatchers' default). */
export const staleIntervals = 3;

export function occupancyStaleMs(roles: Pick<Scenario['roles'], 'occupancyEveryMs'>): Ms {
  return staleIntervals * roles.occupancyEveryMs;
}

/** Whether the scenario's viewers watch counts at all: occupancy is on and some viewers opt in. */
export function occupancyWatched(scenario: Pick<Scenario, 'roles' | 'workload'>): boolean {
  return scenario.roles.occupancyEveryMs > 0 && scenario.workload.occupancyWatchersEvery > 0;
}

/**
 * Whether viewer number `viewer` watches: the first of every `every` rounds of datacenters
 * (viewers are spread over the datacenters in turn), so every datacenter has watchers.
 */
export function watchesOccupancy(viewer: number, datacenters: number, every: number): boolean {
  return every > 0 && Math.floor(viewer / datacenters) % every === 0;
}

export function occupancyBounds(scenario: Pick<Scenario, 'roles' | 'network'>): OccupancyBounds {
  const { roles, network } = scenario;
  const everyMs = roles.occupancyEveryMs;
  const hopIntraUs = slowestHopUs(network.intraDc.latency);
  const hopCrossUs = slowestHopUs(network.crossDc.latency);
  const writeMs = roles.leaseAttemptsMax * roles.leaseRequestTimeoutMs + roles.storeRequestTimeoutMs;
  const convergeUs =
    usOfMs(Math.max(roles.renewEveryMs, everyMs) + 3 * everyMs + 2 * writeMs + timerRoundingMs) +
    hopCrossUs +
    2 * hopIntraUs;
  const deathUs = usOfMs(roles.leaseMs + occupancyStaleMs(roles) + everyMs) + 2 * hopIntraUs + convergeUs;
  return {
    everyMs,
    staleMs: occupancyStaleMs(roles),
    hopIntraUs,
    hopCrossUs,
    writeMs,
    convergeUs,
    deathUs,
  };
}

/** B as a sentence with the scenario's numbers, for violations and reports. */
export function convergeFormula(scenario: Pick<Scenario, 'roles' | 'network'>): string {
  const b = occupancyBounds(scenario);
  const ms = (us: Us): string => `${Math.round(us / 100) / 10}`;
  return `B = max(renewEvery ${scenario.roles.renewEveryMs}, I ${b.everyMs}) + 3 x I + 2 x W ${b.writeMs} + hopCross ${ms(b.hopCrossUs)} + 2 x hopIntra ${ms(b.hopIntraUs)} + ${timerRoundingMs} = ${ms(b.convergeUs)} ms`;
}

/**
 * When a run with watchers ends: late enough that B has passed since the last change its workload
 * can make (a rejoin, a reconnect, the client link's latency after it), since its last fault healed
 * (a jitter storm's slowest message after that), and B_death since its last frontend death that
 * never restarts; null when nobody watches. A fault other than a frontend's death that never ends
 * leaves nothing to wait for: occupancy is not judged after it (occupancy.ts).
 */
export function occupancyEndMs(scenario: Scenario, faults: readonly Fault[]): Ms | null {
  if (!occupancyWatched(scenario)) return null;
  const { workload, durationMs } = scenario;
  const bounds = occupancyBounds(scenario);
  const lastStepMs =
    Math.max(
      workload.churnPerViewerPerMinute > 0 ? workload.rejoinAfterMs : 0,
      workload.reconnectBackoffMs.max + 1,
    ) + Math.ceil(slowestHopUs(scenario.network.client.latency) / 1_000);
  let quietUs = usOfMs(durationMs + lastStepMs) + bounds.convergeUs;
  for (const fault of faults) quietUs = Math.max(quietUs, quietAfterUs(fault, bounds));
  return Math.ceil(quietUs / 1_000) + bounds.everyMs;
}

/** When the changes a fault makes are out of every count: its end plus B, or its death plus B_death. */
function quietAfterUs(fault: Fault, bounds: OccupancyBounds): Us {
  switch (fault.kind) {
    case 'kill':
      return fault.restartAfterMs === undefined
        ? usOfMs(fault.atMs) + bounds.deathUs
        : usOfMs(fault.atMs) + Math.max(usOfMs(fault.restartAfterMs) + bounds.convergeUs, bounds.deathUs);
    case 'partition':
      return usOfMs(fault.atMs + fault.repairAfterMs) + bounds.convergeUs;
    case 'isolate':
      return usOfMs(fault.atMs + fault.releaseAfterMs) + bounds.convergeUs;
    case 'jitter-storm':
      return usOfMs(fault.atMs + fault.durationMs) + slowestHopUs(fault.extraLatency) + bounds.convergeUs;
    case 'loss-burst':
      return usOfMs(fault.atMs + fault.durationMs) + bounds.convergeUs;
    default:
      return unreachable(fault);
  }
}

/** A latency draw's cap: its base and twenty jitters (sim/rng.ts draws no slower). */
export function slowestHopUs(latency: Latency): Us {
  return latency.baseUs + 20 * latency.jitterUs;
}
