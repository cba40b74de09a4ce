/**
 * One generated scenario judged: simulate it with the run's roles, and say what is wrong with it —
 * a violated invariant, a trace that differs between two runs of the same seed, or a simulation
 * that threw (an assertion of the core caught its own bug) — or that nothing is.
 *
 * Everything a property run needs to know about a scenario is a function of the run's context
 * and the scenario alone, so any thread can judge any scenario and get the same answer.
 */
import type { DeliveryMode } from '../core/index.ts';
import { rolesWithBug, runScenario, type PlantedBug, type Report } from '../sim/index.ts';
import type { GeneratedScenario, ScenarioSize } from './arbitraries.ts';
import type { Mark } from './marks.ts';

/** What decides a property run's scenarios and verdicts; plain data, so a worker thread gets a copy. */
export interface RunContext {
  /** fast-check's 32-bit seed. */
  seed: number;
  size: ScenarioSize;
  /** The delivery mode of every generated scenario. */
  mode: DeliveryMode;
  /** A planted bug in copies of the roles, by name; the core's roles when null. */
  bug: PlantedBug | null;
  /** Check determinism (two runs, one traceHash) on every n-th scenario of a range or a shrink. */
  determinismEvery: number;
  marks: readonly Mark[];
}

export interface ScenarioVerdict {
  /** The first simulation's report; null when it threw. */
  report: Report | null;
  /** What is wrong, in one line; null when every property holds. */
  problem: string | null;
}

export function checkScenario(
  context: RunContext,
  generated: GeneratedScenario,
  checkDeterminism: boolean,
): ScenarioVerdict {
  let report: Report;
  try {
    report = simulate(context, generated);
  } catch (error) {
    return { report: null, problem: `the simulation threw: ${messageOf(error)}` };
  }
  const problem = problemOf(report);
  if (problem !== null || !checkDeterminism) return { report, problem };
  let again: Report;
  try {
    again = simulate(context, generated);
  } catch (error) {
    return { report, problem: `not deterministic: the second run threw: ${messageOf(error)}` };
  }
  return {
    report,
    problem:
      again.traceHash === report.traceHash
        ? null
        : `not deterministic: traceHash ${report.traceHash} then ${again.traceHash}`,
  };
}

function simulate(context: RunContext, generated: GeneratedScenario): Report {
  return runScenario(generated.scenario, generated.seed, {
    tracePath: null,
    ...(context.bug === null ? {} : { roles: rolesWithBug(context.bug) }),
  });
}

function problemOf(report: Report): string | null {
  if (report.ok) return null;
  const counts = Object.entries(report.violationCounts)
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
  return `${counts}: ${report.violations[0]?.message ?? ''}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
