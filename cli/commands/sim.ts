/** `stadium sim`: run one scenario by seed, print the delivery report, write the trace. */
import type { Command } from 'commander';
import type * as SimModule from '../../sim/index.ts';
import { UsageError } from '../usage-error.ts';
import { progressBar } from '../progress.ts';
import { endIfStdoutClosed } from '../stdout-closed.ts';
import { deliveryModeOption, plantedBugOption, scenarioOption, seedOption } from './check.ts';

export function register(program: Command): void {
  program
    .command('sim')
    .description('Run a failure scenario in the seeded simulator and check the delivery invariants.')
    .option('-s, --scenario <name|file>', 'a named scenario or a scenario JSON file', 'live-video')
    .option('--seed <seed>', 'the run seed (letters, digits, - and _); drawn and printed when omitted')
    .option('--mode <mode>', "deliver best-effort or reliable, whatever the scenario's own mode")
    .option('--json', 'print the report as one JSON object on stdout (progress and hints go to stderr)')
    .option(
      '--trace <path>',
      'where to write the trace (default .stadium/runs/<scenario>-<seed>.jsonl, -reliable before .jsonl in reliable mode)',
    )
    .option('--no-trace', 'do not write a trace file (the traceHash is still computed)')
    .option('--list', 'list the named scenarios and exit')
    .option('--plant-bug <name>', 'run a copy of the roles with a known bug, to see the checker catch it')
    .option('--replay', 'after the report, step through the run in the replay UI (on a terminal only)')
    .option(
      '--compare-modes',
      'run the scenario best-effort and reliable with the same seed, and print the two side by side',
    )
    .addHelpText(
      'after',
      `
A run is a pure function of (scenario, seed): the same pair gives a byte-identical trace. A
scenario delivers best-effort unless its "mode" says reliable; --mode runs it in the mode given
instead (the reproduce command then carries it too).

Exit codes: 0 no invariant violated, 1 an invariant violated, 2 bad input.

Examples:
  stadium sim --scenario live-video --seed 1        the flagship failure scenario
  stadium sim --scenario live-video --seed 1 --replay   then step through it (what npm start does)
  stadium sim --scenario store-death --seed 1 --mode reliable   the same faults, in reliable mode
  stadium sim --scenario live-video --seed 1 --compare-modes    latency and cost of each mode
  stadium sim --scenario dc-partition --seed 42 --json | jq .lost
  stadium sim --scenario ./my-scenario.json          a seed is drawn and printed
  stadium sim --list                                 the named scenarios
  stadium sim --scenario fault-free --seed 1 --plant-bug skip-frontend

Planted bugs (--plant-bug): no-dedupe, leases-ignored, wrong-topic, corrupt-payload, forward-twice,
unsubscribe-lost, skip-frontend, relay-forever, renews-without-viewers, unsubscribe-on-first-leave,
prefix-lookup, tombstone-forgotten, reuse-event-ids, lease-shorter-than-renewal, expiry-ignored,
renewals-stop-after-failure, late-retries, first-count-renewed, expired-leases-counted,
stale-dc-dropped, totals-expire-before-stale; and in reliable mode seq-reuse-on-retry,
history-read-off-by-one, gap-notice-instead-of-fetch, order-broken-on-retry.`,
    )
    .action(async (options: SimOptions) => {
      process.exitCode = await runSim(options);
    });
}

interface SimOptions {
  scenario: string;
  seed?: string;
  mode?: string;
  json?: boolean;
  trace: string | boolean;
  list?: boolean;
  plantBug?: string;
  replay?: boolean;
  compareModes?: boolean;
}

async function runSim(options: SimOptions): Promise<number> {
  const sim = await import('../../sim/index.ts');
  if (options.list === true) {
    for (const name of sim.namedScenarios()) {
      const scenario = sim.loadScenario(name);
      process.stdout.write(`${name.padEnd(18)} ${scenario.description}\n`);
    }
    return 0;
  }
  const seed = seedOption(options.seed);
  const mode = options.mode === undefined ? null : deliveryModeOption(options.mode);
  let scenario = scenarioOption(sim, options.scenario);
  if (mode !== null) scenario = { ...scenario, mode };
  const bug = plantedBugOption(sim.plantedBugs, options.plantBug);
  if (options.compareModes === true) {
    if (mode !== null) throw new UsageError('--compare-modes runs both modes: leave out --mode');
    if (options.replay === true)
      throw new UsageError('--compare-modes makes two runs: replay each with stadium replay');
    return compareModes(sim, scenario, seed, options, bug);
  }
  const tracePath =
    options.trace === false
      ? null
      : typeof options.trace === 'string'
        ? options.trace
        : `.stadium/runs/${scenario.name}-${seed}${scenario.mode === 'reliable' ? '-reliable' : ''}.jsonl`;
  const hints = options.json === true ? process.stderr : process.stdout;
  const reproduce = `stadium sim --scenario ${options.scenario} --seed ${seed}${mode === null ? '' : ` --mode ${mode}`}${bug === null ? '' : ` --plant-bug ${bug}`}`;
  hints.write(`seed ${seed}${options.seed === undefined ? ' (drawn)' : ''}; reproduce with: ${reproduce}\n`);
  const bar = progressBar(process.stderr, `simulating ${scenario.name}`);
  const report = sim.runScenario(scenario, seed, {
    tracePath,
    onProgress: (done, total) => {
      endIfStdoutClosed();
      bar.update(done, total);
    },
    ...(bug === null ? {} : { roles: sim.rolesWithBug(bug) }),
  });
  bar.done();
  // The verdict stands before it is printed, so a closed stdout still ends with it.
  const code = report.ok ? 0 : 1;
  process.exitCode = code;
  if (options.json === true) process.stdout.write(`${JSON.stringify({ ...report, reproduce })}\n`);
  else process.stdout.write(`${sim.formatReport(report)}\n`);
  if (options.json !== true && tracePath !== null)
    hints.write(`replay it with: stadium replay ${tracePath}\n`);
  const onTerminal = process.stdin.isTTY && process.stdout.isTTY;
  if (options.replay === true && options.json !== true && tracePath !== null && onTerminal) {
    await (await import('./replay.ts')).replayTrace(tracePath);
  }
  return code;
}

type Sim = typeof SimModule;

/** Both modes on the same scenario and seed: what reliable mode costs, and what it buys. */
function compareModes(
  sim: Sim,
  scenario: ReturnType<Sim['loadScenario']>,
  seed: string,
  options: SimOptions,
  bug: SimModule.PlantedBug | null,
): number {
  const hints = options.json === true ? process.stderr : process.stdout;
  const reproduce = `stadium sim --scenario ${options.scenario} --seed ${seed} --compare-modes${bug === null ? '' : ` --plant-bug ${bug}`}`;
  hints.write(`seed ${seed}${options.seed === undefined ? ' (drawn)' : ''}; reproduce with: ${reproduce}\n`);
  const reports = (['best-effort', 'reliable'] as const).map((mode) => {
    const tracePath =
      options.trace === false
        ? null
        : `.stadium/runs/${scenario.name}-${seed}${mode === 'reliable' ? '-reliable' : ''}.jsonl`;
    const bar = progressBar(process.stderr, `simulating ${scenario.name} ${mode}`);
    const report = sim.runScenario({ ...scenario, mode }, seed, {
      tracePath,
      onProgress: (done, total) => {
        endIfStdoutClosed();
        bar.update(done, total);
      },
      ...(bug === null ? {} : { roles: sim.rolesWithBug(bug) }),
    });
    bar.done();
    return report;
  });
  const [bestEffort, reliable] = reports as [(typeof reports)[0], (typeof reports)[0]];
  const code = bestEffort.ok && reliable.ok ? 0 : 1;
  process.exitCode = code;
  if (options.json === true)
    process.stdout.write(
      `${JSON.stringify({ scenario: scenario.name, seed, reproduce, bestEffort, reliable })}\n`,
    );
  else process.stdout.write(`${sim.formatComparison(bestEffort, reliable)}\n`);
  return code;
}
