/** `stadium chaos`: a simulator scenario on real processes, judged by the same checkers, beside the simulator's run. */
import type { Command } from 'commander';
import { UsageError } from '../usage-error.ts';
import { deliveryModeOption, plantedBugOption, scenarioOption, seedOption } from './check.ts';

export function register(program: Command): void {
  program
    .command('chaos')
    .description(
      "Run a scenario against real stadium serve processes and Redis, inject its faults for real, and judge it with the simulator's checkers, beside the simulator's run.",
    )
    .option('-s, --scenario <name|file>', 'a named scenario or a scenario JSON file', 'frontend-death')
    .option('--seed <seed>', 'the run seed (letters, digits, - and _); drawn and printed when omitted')
    .option('--mode <mode>', "deliver best-effort or reliable, whatever the scenario's own mode")
    .option(
      '--plant-bug <name>',
      'run a copy of the roles with a known bug in both worlds, to see both catch it',
    )
    .option('--viewers <n>', 'most viewers to hold; a scenario with more is scaled down (saying so)', '200')
    .option('--json', 'print both reports and the differences as one JSON object on stdout')
    .option(
      '--trace <path>',
      "where to write the real run's trace (default .stadium/chaos/<scenario>-<seed>.jsonl)",
    )
    .option('--no-trace', 'do not write the trace')
    .option('--dir <path>', 'where the nodes write their facts and logs (default: a new temporary directory)')
    .addHelpText(
      'after',
      `
The scenario's topology starts as real processes on 127.0.0.1: one redis-server per datacenter (on a
free port, nothing kept on disk) and each frontend and dispatcher a \`stadium serve\` of its own, with the
scenario's role settings. Its viewers are real SSE streams and WebSockets, its publishers real HTTP
publishes, placed and timed as in the simulator's run of the same scenario and seed, and its faults
are injected for real: kill and restart (SIGKILL, a fresh process), a store's death (its redis-server
killed, back empty), partitions, isolation, jitter storms and loss bursts (fault proxies on every
node-to-node link). Every process writes what it did as the simulator's facts; merged, they are judged
by the simulator's checkers, and the report has the keys of \`stadium sim --json\`. The trace opens in
\`stadium replay\`.

Real processes keep real time: timers fire late under load and processes take time to start, so the
counts differ a little from the simulator's. Differences beyond that are named under the table.

Every process is stopped when the run ends, fails, or is interrupted (Ctrl-C); a node also exits when
the harness dies (it holds a pipe to it).

Exit codes: 0 no invariant violated in either world, 1 a violation in one of them, 2 bad input.

Examples:
  stadium chaos --scenario frontend-death --seed 1
  stadium chaos --scenario dc-partition --seed 1 --mode reliable
  stadium chaos --scenario frontend-death --seed 1 --plant-bug skip-frontend   found in both worlds
  stadium chaos --scenario ./my-scenario.json --viewers 400 --json | jq .differences`,
    )
    .action(async (options: ChaosCliOptions) => {
      process.exitCode = await runChaosCommand(options);
    });
}

interface ChaosCliOptions {
  scenario: string;
  seed?: string;
  mode?: string;
  plantBug?: string;
  viewers: string;
  json?: boolean;
  trace: string | boolean;
  dir?: string;
}

async function runChaosCommand(options: ChaosCliOptions): Promise<number> {
  const sim = await import('../../sim/index.ts');
  const chaos = await import('../../chaos/index.ts');
  const seed = seedOption(options.seed);
  if (!/^\d+$/.test(options.viewers) || Number(options.viewers) < 1 || Number(options.viewers) > 5_000)
    throw new UsageError(`--viewers must be a whole number from 1 to 5000 (got "${options.viewers}")`);
  const mode = options.mode === undefined ? null : deliveryModeOption(options.mode);
  let scenario = scenarioOption(sim, options.scenario);
  if (mode !== null) scenario = { ...scenario, mode };
  const bug = plantedBugOption(sim.plantedBugs, options.plantBug);
  const tracePath =
    options.trace === false
      ? null
      : typeof options.trace === 'string'
        ? options.trace
        : `.stadium/chaos/${scenario.name}-${seed}${scenario.mode === 'reliable' ? '-reliable' : ''}.jsonl`;
  const hints = options.json === true ? process.stderr : process.stdout;
  const reproduce = `stadium chaos --scenario ${options.scenario} --seed ${seed}${mode === null ? '' : ` --mode ${mode}`}${bug === null ? '' : ` --plant-bug ${bug}`}`;
  hints.write(`seed ${seed}${options.seed === undefined ? ' (drawn)' : ''}; reproduce with: ${reproduce}\n`);
  let teardown: (() => Promise<void>) | null = null;
  const interrupted = (): void => {
    process.stderr.write('interrupted: stopping every process of the run\n');
    void (teardown ?? (async () => {}))().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let result;
  try {
    result = await chaos.runChaos({
      scenario,
      seed,
      plantBug: bug,
      viewersMax: Number(options.viewers),
      dir: options.dir ?? null,
      tracePath,
      startLinks: chaos.faultProxyLinks,
      onProgress: (line) => process.stderr.write(`${line}\n`),
      onStarted: (stop) => (teardown = stop),
    });
  } catch (error) {
    if (error instanceof chaos.ChaosError) throw new UsageError(error.message, 'chaos-failed');
    throw error;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
  const code = result.real.ok && result.sim.ok ? 0 : 1;
  process.exitCode = code;
  if (options.json === true) {
    const { sim: simReport, real, differences, scaled } = result;
    process.stdout.write(
      `${JSON.stringify({ scenario: scenario.name, seed, reproduce, scaled, sim: simReport, real, differences })}\n`,
    );
  } else {
    process.stdout.write(`${chaos.formatChaos(result)}\n`);
    if (tracePath !== null) hints.write(`replay the real run with: stadium replay ${tracePath}\n`);
  }
  return code;
}
