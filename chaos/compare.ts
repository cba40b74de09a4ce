/**
 * The two worlds side by side: the simulator's run and the real run of one scenario and seed, and
 * the differences that timing cannot explain.
 *
 * Real processes keep other time than the simulator: timers fire late on a loaded machine, a
 * process starts in hundreds of milliseconds, a socket's close is noticed when the kernel says so.
 * So counts and latencies differ a little between the worlds, and that is no finding. What is:
 * - an invariant violated in one world and not the other (the same checkers judged both);
 * - losses no fault explains in one world only;
 * - deliveries that reached a clearly smaller share of their viewers in one world
 *   (`shareGapPoints` percentage points or more);
 * - a publish count that differs although both worlds made the same publishes (some were not
 *   routable or not answered in one world);
 * - a median latency more than `latencyFactor` times the other world's and `latencySlackMs` above it.
 */
import type { Report } from '../sim/index.ts';

export interface WorldDifference {
  what: string;
  sim: string;
  real: string;
  /** Why it matters: what it may mean. */
  why: string;
}

/** Delivered shares this far apart (percentage points) are a difference, not the weather. */
export const shareGapPoints = 5;
export const latencyFactor = 10;
export const latencySlackMs = 200;

export function compareWorlds(sim: Report, real: Report): WorldDifference[] {
  const differences: WorldDifference[] = [];
  for (const name of Object.keys(sim.violationCounts) as (keyof Report['violationCounts'])[]) {
    const inSim = sim.violationCounts[name];
    const inReal = real.violationCounts[name];
    if (inSim > 0 !== inReal > 0)
      differences.push({
        what: `violations of ${name}`,
        sim: String(inSim),
        real: String(inReal),
        why:
          inReal > 0
            ? 'the real processes break an invariant the simulated core keeps: a bug in the production shell, or a fact the shell records wrongly'
            : 'the simulator finds a violation the real run does not: its faults or timing reached a state the real run did not',
      });
  }
  if (sim.lost.unexplained > 0 !== real.lost.unexplained > 0)
    differences.push({
      what: 'losses no fault explains',
      sim: String(sim.lost.unexplained),
      real: String(real.lost.unexplained),
      why: 'one world loses deliveries without a cause the checkers can name',
    });
  const share = (r: Report): number => (r.expected === 0 ? 100 : (100 * r.delivered) / r.expected);
  if (Math.abs(share(sim) - share(real)) >= shareGapPoints)
    differences.push({
      what: 'share of expected deliveries made',
      sim: `${share(sim).toFixed(1)}%`,
      real: `${share(real).toFixed(1)}%`,
      why: 'more than timing: a fault hit harder in one world, or viewers were not where they should be',
    });
  if (sim.published !== real.published)
    differences.push({
      what: 'events published',
      sim: String(sim.published),
      real: String(real.published),
      why: 'both worlds made the same publishes: some found no live dispatcher or no answer in one world',
    });
  const p50 = (r: Report): number => r.latencyMs.p50;
  const [low, high] = p50(sim) <= p50(real) ? [p50(sim), p50(real)] : [p50(real), p50(sim)];
  if (high > low * latencyFactor && high - low > latencySlackMs)
    differences.push({
      what: 'median delivery latency',
      sim: `${p50(sim)} ms`,
      real: `${p50(real)} ms`,
      why: 'far beyond scheduling delays: something waits for a timeout in one world',
    });
  return differences;
}
