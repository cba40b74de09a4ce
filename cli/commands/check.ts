/**
 * `stadium check`: property runs of the delivery invariants over generated failure scenarios, on
 * every core, or one shard of a run on each of several machines, merged afterwards. On failure it
 * writes the shrunk scenario as a file `stadium sim --scenario` accepts, and its trace.
 */
import { randomInt } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { deliveryModes, type DeliveryMode } from '../../core/index.ts';
import type { RunIdentity } from '../../properties/index.ts';
import type * as SimModule from '../../sim/index.ts';
import { printCheck, shapingOptions } from '../check-output.ts';
import { progressBar } from '../progress.ts';
import { endIfStdoutClosed } from '../stdout-closed.ts';
import { UsageError } from '../usage-error.ts';

interface CheckCommandOptions {
  runs: string;
  seed?: string;
  path?: string;
  scenarioSize: string;
  mode: string;
  json?: boolean;
  out: string;
  plantBug?: string;
  workers?: string;
  shard?: string;
  result?: string;
  merge?: string[];
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
    .option(
      '--mode <mode>',
      'the delivery mode of every generated scenario: best-effort or reliable',
      'best-effort',
    )
    .option(
      '--json',
      'print one JSON object on stdout (runs, seed, duration, scenarios/s, fault and mark counts, counterexample)',
    )
    .option('--out <dir>', 'where a failing run writes its shrunk scenario', '.stadium/counterexamples')
    .option(
      '--plant-bug <name>',
      'run a copy of the roles with a known bug, to see a failure found and shrunk (see stadium sim --help)',
    )
    .option(
      '--workers <n>',
      `threads judging scenarios: the main one and n-1 worker threads (default: every core, ${availableParallelism()} here)`,
    )
    .option('--shard <i/n>', "check only shard i of n of the run's scenarios (needs --seed); see --result")
    .option('--result <file>', 'also write the outcome as a JSON result file, for --merge')
    .option(
      '--merge <files...>',
      "merge the result files of every shard of one run into the run's one outcome",
    )
    .addHelpText(
      'after',
      `
Every generated scenario must keep every invariant (integrity, no misdelivery, no duplicates,
explained loss - by a cause on the event's own path -, lease hygiene, lease release, lease without
viewers, forward discipline, timely retry, no runaway past the run's budget; fault-free liveness
when it has no faults, liveness after heal in its tail) and be deterministic. Over the whole run (judged when no property failed: a failing run
stops at its first failure, then shrinks it), every fault kind asked for must take effect, and
every coverage mark (a decision point of the core the run must reach: a tombstone refusing a
write, a full store, a retried forward...; the table lists them) must fire in a run of 1,000
scenarios or more; a shorter run only warns. The summary counts the generated scenarios apart
from the shrink candidates tried after a failure.

The verdict, the counts and the counterexample depend on --seed, --runs, --scenario-size,
--mode and --plant-bug, never on --workers, nor on how a run is cut into shards: scenario i of a
seed is the same wherever it is judged, and a failure is shrunk from the first failing scenario
in one thread.

--mode reliable generates the same scenarios as best-effort (the same topologies, workloads and
fault mixes, shrunk the same way) and runs each in reliable mode.

A failing run prints the command that replays its shrunk scenario by fast-check's path: the same
--seed, --scenario-size, --mode and --plant-bug (they decide which scenarios are generated), and
--path. With --path only that scenario is checked, so --runs plays no part.

Shards: --shard i/n checks the i-th of n contiguous slices of the run's scenario indexes (as
vitest --shard cuts its files) and --result FILE writes its outcome; --merge with every shard's
file prints the one verdict, counts and counterexample of the run, as if it had run unsharded.
Every shard needs the same --seed, --runs, --scenario-size, --mode and --plant-bug. Fault kinds
and marks are judged by the merge.

Exit codes: 0 all hold, 1 a property failed (the shrunk scenario is written), a fault kind never
took effect or a mark never fired, 2 bad input (including a --path that leads to no scenario with
the seed and options given, and result files that do not make one run).

Examples:
  stadium check --runs 1000 --seed 42                 on every core
  stadium check --runs 1000 --seed 42 --workers 1     in one thread: the same verdict and counts
  stadium check --runs 200 --scenario-size large
  stadium check --runs 1000 --seed 42 --mode reliable
                                                     every generated scenario in reliable mode
  stadium check --runs 1000 --seed 1 --plant-bug prefix-lookup   watch a planted bug get caught
  stadium check --seed 5 --plant-bug forward-twice \
    --path 0:0:0:0:0:0:0:0:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1:1
                                                     replay a failure as a failing run prints it
  stadium check --runs 100 --json | jq .marks
  stadium check --runs 3000 --seed 42 --shard 2/3 --result results/2.json
                                                     one machine's third of a run
  stadium check --merge results/*.json               the run's outcome from every shard's result`,
    )
    .action(async (options: CheckCommandOptions, command: Command) => {
      process.exitCode =
        options.merge === undefined ? await runCheck(options) : await runMerge(options, command);
    });
}

const runsMax = 10_000_000;
const workersMax = 1024;

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
  const scenarioSize = options.scenarioSize;
  if (scenarioSize !== 'small' && scenarioSize !== 'large')
    throw new UsageError(`--scenario-size must be small or large (got "${scenarioSize}")`);
  const mode = deliveryModeOption(options.mode);
  if (options.result !== undefined && !existsSync(dirname(resolve(options.result))))
    throw new UsageError(`--result ${options.result}: no such directory ${dirname(options.result)}`);
  const workers = options.workers === undefined ? availableParallelism() : Number(options.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > workersMax)
    throw new UsageError(
      `--workers must be a whole number from 1 to ${workersMax} (got "${options.workers}")`,
    );
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
  const properties = await import('../../properties/index.ts');
  if (options.path !== undefined && (options.shard !== undefined || options.result !== undefined))
    throw new UsageError('--path replays one scenario: it takes no --shard or --result');
  if (options.shard !== undefined) {
    const problem = properties.shardError(options.shard, runs);
    if (problem !== null) throw new UsageError(problem);
    if (options.seed === undefined)
      throw new UsageError("--shard checks a slice of one seed's run: give every shard the same --seed");
  }
  const shard = options.shard === undefined ? null : properties.parseShard(options.shard);
  const sim = await import('../../sim/index.ts');
  const bug = plantedBugOption(sim.plantedBugs, options.plantBug);
  const seed = options.seed === undefined ? randomInt(1, 2 ** 31) : Number(options.seed);
  // fast-check's seeds are 32-bit integers; it reduces a larger one to its low 32 bits, as here.
  const fastCheckSeed = seed | 0;
  const identity: RunIdentity = { seed, fastCheckSeed, runs, scenarioSize, mode, plantBug: bug };
  const shaping = shapingOptions(identity);
  const hints = options.json === true ? process.stderr : process.stdout;
  hints.write(
    `seed ${seed}${options.seed === undefined ? ' (drawn)' : ''}${fastCheckSeed === seed ? '' : ` (fast-check's 32-bit seed ${fastCheckSeed})`}; reproduce with: stadium check ${options.path === undefined ? `--runs ${runs} ${shaping}${shard === null ? '' : ` --shard ${options.shard}`}` : `${shaping} --path ${options.path}`}\n`,
  );
  const range = shard === null ? { from: 0, to: runs } : properties.shardRange(runs, shard);
  const total = options.path === undefined ? range.to - range.from : 1;
  const bar = progressBar(process.stderr, 'checking');
  let result;
  try {
    result = await properties.checkPropertiesInParallel({
      runs,
      seed: fastCheckSeed,
      size: scenarioSize,
      mode,
      workers,
      bug,
      ...(options.path === undefined ? {} : { path: options.path }),
      ...(shard === null ? {} : { shard }),
      onProgress: (done, faults) => {
        endIfStdoutClosed();
        bar.update(Math.min(done, total), total, `${done} scenarios, ${faults} faults seen`);
      },
    });
  } catch (error) {
    if (!(error instanceof properties.ReplayPathError)) throw error;
    throw new UsageError(
      `--path ${error.path} leads to no scenario with ${shaping}: a path replays only with the --seed, ` +
        '--scenario-size, --mode and --plant-bug of the run that printed it',
      'bad-path',
    );
  } finally {
    bar.done();
  }
  if (options.result !== undefined) {
    const file = properties.shardResultOf(identity, shard ?? { index: 1, count: 1 }, result);
    writeResult(options.result, `${JSON.stringify(file)}\n`);
  }
  const run = {
    identity,
    shard,
    merged: null,
    path: options.path ?? null,
    out: options.out,
    marks: properties.marksOf(identity.mode),
  };
  return printCheck(result, run, options.json === true);
}

/** `--merge`: the outcome of a run from its shards' result files. */
async function runMerge(options: CheckCommandOptions, command: Command): Promise<number> {
  const given = [
    'seed',
    'path',
    'shard',
    'result',
    'plantBug',
    'runs',
    'scenarioSize',
    'mode',
    'workers',
  ].filter((name) => command.getOptionValueSource(name) === 'cli');
  if (given.length > 0)
    throw new UsageError(
      `--merge takes the run's options from its result files: drop ${given.map((name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}`,
    );
  const properties = await import('../../properties/index.ts');
  const files = (options.merge ?? []).map((name) => ({ name, value: readJson(name) }));
  let merged;
  try {
    merged = properties.mergeShardResults(files, properties.marksOf);
  } catch (error) {
    if (error instanceof properties.ShardResultError) throw new UsageError(error.message, 'bad-result');
    throw error;
  }
  const { identity, shards, result } = merged;
  const hints = options.json === true ? process.stderr : process.stdout;
  hints.write(
    `merged ${shards} shard${shards === 1 ? '' : 's'} of seed ${identity.seed}; reproduce with: stadium check --runs ${identity.runs} ${shapingOptions(identity)}\n`,
  );
  const run = {
    identity,
    shard: null,
    merged: shards,
    path: null,
    out: options.out,
    marks: properties.marksOf(identity.mode),
  };
  return printCheck(result, run, options.json === true);
}

function readJson(name: string): unknown {
  let text: string;
  try {
    text = readFileSync(name, 'utf8');
  } catch (error) {
    throw new UsageError(`--merge: cannot read ${name}: ${(error as Error).message}`, 'bad-result');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--merge: ${name} is not JSON: ${(error as Error).message}`, 'bad-result');
  }
}

function writeResult(name: string, text: string): void {
  try {
    writeFileSync(name, text);
  } catch (error) {
    throw new UsageError(`--result: cannot write ${name}: ${(error as Error).message}`);
  }
}

/** `--seed` as given (1 to 64 letters, digits, - or _; else a usage error), or one drawn when omitted. */
export function seedOption(seed: string | undefined): string {
  if (seed !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(seed))
    throw new UsageError(`--seed must be 1 to 64 letters, digits, - or _ (got "${seed}")`);
  return seed ?? String(randomInt(1, 2 ** 31));
}

/** The scenario `--scenario` names (a named one or a file); a bad one is a usage error saying why. */
export function scenarioOption(sim: typeof SimModule, nameOrPath: string): SimModule.Scenario {
  try {
    return sim.loadScenario(nameOrPath);
  } catch (error) {
    if (error instanceof sim.ScenarioError) throw new UsageError(error.message, 'bad-scenario');
    throw error;
  }
}

/** The delivery mode `--mode` names; anything else is a usage error naming the two. */
export function deliveryModeOption(mode: string): DeliveryMode {
  const known = deliveryModes.find((m) => m === mode);
  if (known === undefined)
    throw new UsageError(`--mode must be ${deliveryModes.join(' or ')} (got "${mode}")`);
  return known;
}

/** The planted bug named by `--plant-bug`, or null; an unknown name is a usage error listing the known ones. */
export function plantedBugOption<T extends string>(known: readonly T[], name: string | undefined): T | null {
  if (name === undefined) return null;
  const bug = known.find((k) => k === name);
  if (bug === undefined)
    throw new UsageError(`--plant-bug must be one of ${known.join(', ')} (got "${name}")`);
  return bug;
}
