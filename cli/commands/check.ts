/**
 * `stadium check`: property runs of the delivery invariants over generated failure scenarios. On
 * failure it writes the shrunk scenario as a file `stadium sim --scenario` accepts, and its trace.
 */
import { randomInt } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { progressBar } from '../progress.ts';
import { endIfStdoutClosed } from '../stdout-closed.ts';
import { UsageError } from '../usage-error.ts';

interface CheckCommandOptions {
  runs: string;
  seed?: string;
  path?: string;
  scenarioSize: string;
  json?: boolean;
  out: string;
  plantBug?: string;
}

export function register(program: Command): void {
  program
    .command('check')
    .description(
      'Check the delivery invariants over generated failure scenarios, and shrink any failure to a minimal one.',
    )
    .option('--runs <n>', 'how many scenarios to generate', '1000')
    .option(
      '--seed <n>',
      'the seed: any integer up to 2^53 (fast-check uses its low 32 bits); drawn and printed when omitted',
    )
    .option(
      '--path <path>',
      "check the one scenario at fast-check's path, printed by a failing run with the options it needs",
    )
    .option('--scenario-size <size>', 'small (2-3 datacenters, tens of viewers) or large', 'small')
    .option('--json', 'print one JSON object on stdout (runs, seed, duration, fault counts, counterexample)')
    .option('--out <dir>', 'where a failing run writes its shrunk scenario', '.stadium/counterexamples')
    .option(
      '--plant-bug <name>',
      'run a copy of the roles with a known bug, to see a failure found and shrunk (see stadium sim --help)',
    )
    .addHelpText(
      'after',
      `
Every generated scenario must keep every invariant (integrity, no misdelivery, no duplicates,
explained loss, lease hygiene, lease release, forward discipline; fault-free liveness when it has
no faults) and be deterministic; every fault kind asked for must take effect somewhere in the run
(judged when no property failed: a failing run stops at its first failure, then shrinks it). The
summary counts the generated scenarios apart from the shrink candidates tried after a failure.

A failing run prints the command that replays its shrunk scenario by fast-check's path: the same
--seed, --scenario-size and --plant-bug (they decide which scenarios are generated), and --path.
With --path only that scenario is checked, so --runs plays no part.

Exit codes: 0 all hold, 1 a property failed (the shrunk scenario is written), 2 bad input
(including a --path that leads to no scenario with the seed and options given).

Examples:
  stadium check --runs 1000 --seed 42
  stadium check --runs 200 --scenario-size large
  stadium check --runs 300 --seed 7 --plant-bug no-dedupe   watch a planted bug get caught
  stadium check --seed 5 --plant-bug forward-twice --path 0:0:0:1:1:1:1:1:1:1:1
                                                     replay a failure as a failing run prints it
  stadium check --runs 100 --json | jq .faults`,
    )
    .action(async (options: CheckCommandOptions) => {
      process.exitCode = await runCheck(options);
    });
}

const runsMax = 10_000_000;

async function runCheck(options: CheckCommandOptions): Promise<number> {
  const runs = Number(options.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > runsMax)
    throw new UsageError(
      `--runs must be a whole number from 1 to ${runsMax.toLocaleString('en-US')} (got "${options.runs}")`,
    );
  if (
    options.seed !== undefined &&
    !(/^-?\d+$/.test(options.seed) && Number.isSafeInteger(Number(options.seed)))
  )
    throw new UsageError(
      `--seed must be an integer from -9007199254740991 to 9007199254740991, 2^53 - 1 (got "${options.seed}")`,
    );
  if (options.scenarioSize !== 'small' && options.scenarioSize !== 'large') {
    throw new UsageError(`--scenario-size must be small or large (got "${options.scenarioSize}")`);
  }
  if (options.path !== undefined && options.seed === undefined)
    throw new UsageError('--path replays a failure of one seed: give --seed too');
  if (options.path !== undefined && !/^\d+(:\d+)*$/.test(options.path))
    throw new UsageError(`--path looks like 17:3:0 (got "${options.path}")`);
  // No run generates more scenarios than --runs allows, and fast-check would count up to any number.
  if (options.path !== undefined && Number(options.path.split(':')[0]) >= runsMax)
    throw new UsageError(
      `--path must start with a scenario index below ${runsMax.toLocaleString('en-US')}, the most --runs allows (got "${options.path}")`,
      'bad-path',
    );
  const { checkProperties, formatTally, ReplayPathError } = await import('../../properties/index.ts');
  const sim = await import('../../sim/index.ts');
  const bug = plantedBugOption(sim.plantedBugs, options.plantBug);
  const seed = options.seed === undefined ? randomInt(1, 2 ** 31) : Number(options.seed);
  // fast-check's seeds are 32-bit integers; it reduces a larger one to its low 32 bits, as here.
  const fastCheckSeed = seed | 0;
  // Every option that decides which scenarios are generated: a command that reproduces a run carries each.
  const shaping = `--seed ${seed}${options.scenarioSize === 'large' ? ' --scenario-size large' : ''}${bug === null ? '' : ` --plant-bug ${bug}`}`;
  const hints = options.json === true ? process.stderr : process.stdout;
  hints.write(
    `seed ${seed}${options.seed === undefined ? ' (drawn)' : ''}${fastCheckSeed === seed ? '' : ` (fast-check's 32-bit seed ${fastCheckSeed})`}; reproduce with: stadium check ${options.path === undefined ? `--runs ${runs} ${shaping}` : `${shaping} --path ${options.path}`}\n`,
  );
  const bar = progressBar(process.stderr, 'checking');
  let result;
  try {
    result = checkProperties({
      runs,
      seed: fastCheckSeed,
      size: options.scenarioSize,
      ...(options.path === undefined ? {} : { path: options.path }),
      ...(bug === null ? {} : { roles: () => sim.rolesWithBug(bug) }),
      onProgress: (done, tally) => {
        endIfStdoutClosed();
        const faults = Object.values(tally.started).reduce((a, b) => a + b, 0);
        bar.update(Math.min(done, runs), runs, `${done} scenarios, ${faults} faults seen`);
      },
    });
  } catch (error) {
    if (!(error instanceof ReplayPathError)) throw error;
    throw new UsageError(
      `--path ${error.path} leads to no scenario with ${shaping}: a path replays only with the --seed, ` +
        '--scenario-size and --plant-bug of the run that printed it',
      'bad-path',
    );
  } finally {
    bar.done();
  }

  let counterexample: Record<string, unknown> | null = null;
  if (result.counterexample !== null) {
    const { generated, path, problem, shrinks, violations } = result.counterexample;
    mkdirSync(options.out, { recursive: true });
    const file = join(options.out, `check-${seed}.json`);
    writeFileSync(file, `${JSON.stringify({ ...generated.scenario, name: `check-${seed}` }, null, 2)}\n`);
    const tracePath = `.stadium/runs/check-${seed}-${generated.seed}.jsonl`;
    sim.runScenario({ ...generated.scenario, name: `check-${seed}` }, generated.seed, {
      tracePath,
      ...(bug === null ? {} : { roles: sim.rolesWithBug(bug) }),
    });
    counterexample = {
      problem,
      seed,
      path,
      shrinks,
      scenarioFile: file,
      scenarioSeed: generated.seed,
      trace: tracePath,
      faults: generated.scenario.faults,
      violations,
      reproduce: `stadium sim --scenario ${file} --seed ${generated.seed}${bug === null ? '' : ` --plant-bug ${bug}`}`,
      replayPath: `stadium check ${shaping} --path ${path}`,
      replay: `stadium replay ${tracePath}`,
    };
  }

  // The verdict stands before it is printed, so a closed stdout still ends with it.
  const code = result.ok ? 0 : 1;
  process.exitCode = code;
  const summary = {
    ok: result.ok,
    runs: result.runs,
    shrinkCandidates: result.tally.shrinkCandidates,
    seed,
    fastCheckSeed,
    durationMs: result.durationMs,
    faults: result.tally.started,
    requested: result.tally.requested,
    deathsByRole: result.tally.deathsByRole,
    drops: result.tally.drops,
    ineffective: result.ineffective,
    counterexample,
  };
  if (options.json === true) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return code;
  }
  const out = process.stdout;
  out.write(`${formatTally(result.tally)}\n`);
  out.write(
    `${result.runs.toLocaleString('en-US')} generated scenario${result.runs === 1 ? '' : 's'} checked in ${(result.durationMs / 1000).toFixed(1)} s\n`,
  );
  if (result.ineffective.length > 0) {
    out.write(
      `FAILED: these fault kinds were asked for but never took effect: ${result.ineffective.join(', ')}\n`,
    );
  }
  if (counterexample !== null) {
    out.write(`FAILED: ${String(counterexample.problem)}\n`);
    out.write(
      `  shrunk ${String(counterexample.shrinks)} times to ${result.counterexample?.generated.scenario.faults.length ?? 0} fault(s)\n`,
    );
    out.write(`  replay the failure:  ${String(counterexample.replayPath)}\n`);
    out.write(`  the shrunk scenario: ${String(counterexample.scenarioFile)}\n`);
    out.write(`  run it:              ${String(counterexample.reproduce)}\n`);
    out.write(`  step through it:     ${String(counterexample.replay)}\n`);
  } else if (result.ok) {
    out.write(
      options.path === undefined
        ? 'all properties hold\n'
        : `the scenario at --path ${options.path} keeps every property\n`,
    );
  }
  return code;
}

/** The planted bug named by `--plant-bug`, or null; an unknown name is a usage error listing the known ones. */
export function plantedBugOption<T extends string>(known: readonly T[], name: string | undefined): T | null {
  if (name === undefined) return null;
  const bug = known.find((k) => k === name);
  if (bug === undefined)
    throw new UsageError(`--plant-bug must be one of ${known.join(', ')} (got "${name}")`);
  return bug;
}
