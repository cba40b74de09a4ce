/**
 * `stadium replay`: step through a simulator trace in the terminal. Given a trace file it indexes
 * and opens it; given `--scenario` and `--seed` it runs the simulator first, then replays the trace
 * that run wrote. Without a terminal (output piped or redirected) it prints a static summary.
 *
 * Exit codes: 0 when the replay (or summary) was shown, whatever the trace holds (`stadium sim`
 * is the command whose exit code reports violations), 2 for a bad flag or a missing, truncated or
 * malformed trace.
 */
import { readFileSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import type { Command } from 'commander';
import { progressBar } from '../progress.ts';
import { UsageError } from '../usage-error.ts';
import { scenarioOption, seedOption as seedOrDrawn } from './check.ts';

interface ReplayOptions {
  scenario?: string;
  seed?: string;
  summary?: boolean;
}

export function register(program: Command): void {
  program
    .command('replay')
    .description('Replay a simulator trace in the terminal: topology, faults, timeline, events, violations.')
    .argument('[trace]', 'a trace file written by `stadium sim`, `stadium check` or `stadium chaos` (.jsonl)')
    .option('-s, --scenario <name|file>', 'simulate this scenario first, then replay its trace')
    .option('--seed <seed>', 'the seed for --scenario (drawn and printed when omitted)')
    .option('--summary', 'print the static summary even on a terminal')
    .addHelpText(
      'after',
      `
Keys: space play/pause, left/right step, Home/0 and End the start and the end, shift+left/right
jump, + and - speed, g go to a time or event, n/p next/previous violation, f follow the selected
event, / filter, v violations, ? help, q quit (back to the terminal as it was).

It opens just before the first fault (or, without faults, the first publish) and says so.

Replay re-checks the trace with the simulator's checkers: its violations and counters are the
ones stadium sim reports. Without a terminal (piped), prints topology, faults, counters at the
end and every violation the checkers keep in detail with its causal chain. Exit codes: 0 shown,
2 bad input (a missing or malformed trace, or a scenario file where a trace belongs: simulate
it with --scenario FILE --seed N).

Examples:
  stadium replay .stadium/runs/live-video-1.jsonl      replay a trace
  stadium replay --scenario live-video --seed 1        simulate, then replay
  stadium replay --scenario ./my-scenario.json --seed 7
  stadium replay trace.jsonl | less                    the static summary`,
    )
    .action(async (trace: string | undefined, options: ReplayOptions) => {
      process.exitCode = await replay(trace, options);
    });
}

async function replay(trace: string | undefined, options: ReplayOptions): Promise<number> {
  if (trace !== undefined && options.scenario !== undefined) {
    throw new UsageError('give a trace file or --scenario, not both');
  }
  if (options.seed !== undefined && options.scenario === undefined) {
    throw new UsageError('--seed needs --scenario (a trace file already has its seed)');
  }
  if (trace !== undefined) {
    try {
      return await replayTrace(trace, { summary: options.summary === true });
    } catch (error) {
      if (error instanceof UsageError && isScenarioFile(trace)) {
        throw new UsageError(
          `${trace} is a scenario file, not a trace: simulate it and replay the run with ` +
            `stadium replay --scenario ${trace} --seed N (or stadium sim --scenario ${trace} --replay)`,
          'scenario-not-trace',
        );
      }
      throw error;
    }
  }
  if (options.scenario === undefined)
    throw new UsageError('give a trace file, or --scenario NAME|FILE --seed N');
  return replayTrace(await simulate(options.scenario, options.seed), { summary: options.summary === true });
}

/**
 * Whether a file that is no trace holds a scenario instead (one JSON object with a scenario's
 * fields and no record kind), the likely mix-up of a file name. Scenario files are small; a large
 * file is not read whole to find out.
 */
function isScenarioFile(path: string): boolean {
  try {
    if (statSync(path).size > 16 * 1024 * 1024) return false;
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof value !== 'object' || value === null || Array.isArray(value) || 'k' in value) return false;
    return ['topology', 'workload', 'faults'].some((field) => field in value);
  } catch {
    return false;
  }
}

/**
 * Open the replay of a trace file: the terminal UI when stdin and stdout are terminals, the static
 * summary otherwise (or when `summary` is set). Resolves with the exit code once the person quits,
 * the terminal showing again what it showed before.
 * Other commands may use it too (`stadium sim` could open its run's trace after the report).
 */
export async function replayTrace(path: string, options: { summary?: boolean } = {}): Promise<number> {
  const { TraceIndex } = await import('../replay/trace-index.ts');
  const bar = progressBar(process.stderr, 'indexing the trace');
  let index;
  try {
    index = new TraceIndex(path, { onProgress: bar.update });
  } finally {
    bar.done();
  }
  const terminal = process.stdout.isTTY === true && process.stdin.isTTY === true;
  if (!terminal || options.summary === true) {
    const { summaryText } = await import('../replay/summary.ts');
    process.stdout.write(summaryText(index));
    return 0;
  }
  // Ink draws only the last frame when it believes it runs in CI (CI or CONTINUOUS_INTEGRATION set),
  // which leaves a blank screen until exit. Both ends are a terminal here, so a person is watching:
  // say so before ink is first loaded, since it reads the variables once at import.
  for (const name of ['CI', 'CONTINUOUS_INTEGRATION']) if (name in process.env) process.env[name] = 'false';
  const [{ render }, { createElement }, { App }] = await Promise.all([
    import('ink'),
    import('react'),
    import('../replay/app.tsx'),
  ]);
  // The replay draws on the terminal's alternate screen, as less and vim do: quitting gives the
  // terminal back as it was, with the report `stadium sim --replay` printed before it still there.
  // Killed (kill, a closed terminal) rather than quit: leave the alternate screen all the same.
  let instance: ReturnType<typeof render> | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    instance?.unmount();
    process.stdout.write(leaveAlternateScreen);
    process.exit(128 + (constants.signals[signal] ?? 0));
  };
  const signals = ['SIGTERM', 'SIGHUP', 'SIGINT'] as const;
  for (const signal of signals) process.once(signal, onSignal);
  process.stdout.write(enterAlternateScreen);
  try {
    instance = render(createElement(App, { index }), { exitOnCtrlC: true });
    await instance.waitUntilExit();
  } finally {
    for (const signal of signals) process.off(signal, onSignal);
    process.stdout.write(leaveAlternateScreen);
  }
  return 0;
}

const enterAlternateScreen = '\u001B[?1049h';
const leaveAlternateScreen = '\u001B[?1049l';

/** Run the simulator for (scenario, seed) and return the path of the trace it wrote. */
async function simulate(scenarioName: string, seedOption: string | undefined): Promise<string> {
  const seed = seedOrDrawn(seedOption);
  const sim = await import('../../sim/index.ts');
  const scenario = scenarioOption(sim, scenarioName);
  const tracePath = `.stadium/runs/${scenario.name}-${seed}.jsonl`;
  process.stderr.write(
    `seed ${seed}${seedOption === undefined ? ' (drawn)' : ''}; reproduce with: stadium replay --scenario ${scenarioName} --seed ${seed}\n`,
  );
  const bar = progressBar(process.stderr, `simulating ${scenario.name}`);
  const report = sim.runScenario(scenario, seed, { tracePath, onProgress: bar.update });
  bar.done();
  process.stderr.write(
    `simulated ${report.published} publishes, ${report.violations.length} violations; trace ${tracePath}\n`,
  );
  return tracePath;
}
