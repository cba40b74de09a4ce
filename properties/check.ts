/**
 * The property run behind `stadium check` and the property tests: for every generated scenario,
 * every invariant of the checker holds (fault-free liveness only where the run has no faults), the
 * run is deterministic, and across the whole run every kind of fault that was asked for really
 * took effect. A failure is shrunk by fast-check to a minimal scenario.
 *
 * Which scenario a run generates depends on the seed, its index, the scenario size and (while
 * shrinking) on which candidates fail, so on the roles too (a planted bug): a failure's `path`
 * replays it only with the same seed, size and roles. The number of runs plays no part.
 */
import fc from 'fast-check';
import { runScenario, type FaultKind, type Report, type Roles, type Violation } from '../sim/index.ts';
import { scenarioArbitrary, type GeneratedScenario, type ScenarioSize } from './arbitraries.ts';
import { emptyTally, ineffectiveKinds, record, type FaultTally } from './tally.ts';

export interface Counterexample {
  generated: GeneratedScenario;
  violations: Violation[];
  problem: string;
  /** fast-check's replay key: `--seed <seed> --path <path>` reproduces the failure. */
  path: string;
  shrinks: number;
}

export interface CheckResult {
  ok: boolean;
  runs: number;
  seed: number;
  durationMs: number;
  tally: FaultTally;
  /**
   * Fault kinds that were requested but never took effect (a run with any of these fails); none
   * when a property failed (the run stopped early) or when replaying one scenario by its path.
   */
  ineffective: FaultKind[];
  counterexample: Counterexample | null;
}

export interface CheckOptions {
  runs: number;
  seed: number;
  size?: ScenarioSize;
  /**
   * Check just one scenario: fast-check's path from a failing run with the same seed, size and
   * roles (`runs` is then ignored). A path that leads nowhere with these throws a ReplayPathError.
   */
  path?: string;
  /** Fresh role implementations per simulation (a planted bug); the core's by default. */
  roles?: () => Roles;
  /** Check determinism (two runs, one traceHash) on every n-th scenario. */
  determinismEvery?: number;
  onProgress?: (runsDone: number, tally: FaultTally) => void;
}

/** A `path` that does not lead to a scenario of this seed, size and roles: it came from another run. */
export class ReplayPathError extends Error {
  override name = 'ReplayPathError';
  constructor(readonly path: string) {
    super(`path ${path} does not lead to a scenario of this seed, size and roles`);
  }
}

export function checkProperties(options: CheckOptions): CheckResult {
  const started = performance.now();
  const tally = emptyTally();
  const determinismEvery = options.determinismEvery ?? 10;
  let runsDone = 0;
  let lastProblem = '';
  let failed = false;
  const property = fc.property(scenarioArbitrary(options.size ?? 'small'), (generated) => {
    // Replaying a path, fast-check goes on from a scenario that holds to the shrink candidates
    // after it; only the scenario at the path is the one asked for.
    if (options.path !== undefined && runsDone > 0) return true;
    const report = simulate(generated, options.roles);
    record(tally, generated, report, failed);
    const problem = problemWith(generated, report, options.roles, runsDone % determinismEvery === 0);
    runsDone++;
    options.onProgress?.(runsDone, tally);
    if (problem !== null) {
      lastProblem = problem;
      failed = true;
    }
    return problem === null;
  });
  const found =
    options.path === undefined
      ? search(property, options.seed, options.runs)
      : replay(property, options.seed, options.path);
  let counterexample: Counterexample | null = null;
  if (found.failure !== null) {
    const { generated, path, shrinks } = found.failure;
    // Run the shrunk case once more to report exactly its violations.
    const report = runScenario(generated.scenario, generated.seed, {
      tracePath: null,
      ...rolesOption(options.roles),
    });
    counterexample = {
      generated,
      violations: report.violations,
      problem: problemOf(report) ?? lastProblem,
      path,
      shrinks,
    };
  }
  // Whether every fault kind asked for took effect is a judgement over a whole run: a run that
  // stopped at its first failure, or a replay of one scenario, cannot make it.
  const ineffective = found.failure === null && options.path === undefined ? ineffectiveKinds(tally) : [];
  return {
    ok: found.failure === null && ineffective.length === 0,
    runs: found.runs,
    seed: options.seed,
    durationMs: Math.round(performance.now() - started),
    tally,
    ineffective,
    counterexample,
  };
}

/** What a search or a replay found: how many scenarios it generated, and the failure it shrank to. */
interface Found {
  runs: number;
  failure: { generated: GeneratedScenario; path: string; shrinks: number } | null;
}

/** Generate `runs` scenarios from `seed`; shrink the first that fails. */
function search(property: fc.IProperty<[GeneratedScenario]>, seed: number, runs: number): Found {
  const details = fc.check(property, { seed, numRuns: runs });
  return {
    runs: details.numRuns,
    failure:
      details.failed && details.counterexample !== null
        ? {
            generated: details.counterexample[0],
            path: details.counterexamplePath ?? '',
            shrinks: details.numShrinks,
          }
        : null,
  };
}

/** Check the one scenario at `path`, the end of a failing run's shrinking: it is not shrunk again. */
function replay(property: fc.IProperty<[GeneratedScenario]>, seed: number, path: string): Found {
  let details;
  try {
    details = fc.check(property, { seed, path, numRuns: 1, endOnFailure: true });
  } catch (error) {
    // fast-check walks the path before it runs anything, and says so in plain words.
    if (error instanceof Error && error.message.startsWith('Unable to replay'))
      throw new ReplayPathError(path);
    throw error;
  }
  // A last step past the end of its shrink candidates leaves fast-check nothing to run.
  if (details.numRuns === 0) throw new ReplayPathError(path);
  return {
    runs: 1,
    failure:
      details.failed && details.counterexample !== null
        ? { generated: details.counterexample[0], path, shrinks: 0 }
        : null,
  };
}

function simulate(generated: GeneratedScenario, roles: (() => Roles) | undefined): Report {
  return runScenario(generated.scenario, generated.seed, { tracePath: null, ...rolesOption(roles) });
}

/** What is wrong with a simulated scenario, or null when every property holds. */
function problemWith(
  generated: GeneratedScenario,
  report: Report,
  roles: (() => Roles) | undefined,
  checkDeterminism: boolean,
): string | null {
  const problem = problemOf(report);
  if (problem !== null) return problem;
  if (checkDeterminism) {
    const again = simulate(generated, roles);
    if (again.traceHash !== report.traceHash)
      return `not deterministic: traceHash ${report.traceHash} then ${again.traceHash}`;
  }
  return null;
}

function problemOf(report: Report): string | null {
  if (report.ok) return null;
  const counts = Object.entries(report.violationCounts)
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
  return `${counts}: ${report.violations[0]?.message ?? ''}`;
}

function rolesOption(roles: (() => Roles) | undefined): { roles?: Roles } {
  return roles === undefined ? {} : { roles: roles() };
}
