/**
 * The `stadium` command: one entry point for the simulator, property checks, replay, serving and
 * benchmarks. Each subcommand's definition lives in cli/commands/; its heavy modules (the simulator,
 * uWebSockets.js, ink) are imported only when it runs, so `stadium sim` never loads a server.
 *
 * Exit codes, for every subcommand: 0 success, 1 an invariant was violated (or the work failed),
 * 2 bad input (an unknown flag, a malformed scenario or trace). A closed stdout (`| head -1`) ends
 * a command quietly with the exit code it had decided so far, else 0 (see stdout-closed.ts).
 *
 * An error is one line on stderr; when the command takes `--json` and was given it, the same
 * error is also one JSON object on stdout, `{"error", "code", "exitCode"}`, so a program reading
 * stdout learns what went wrong without parsing text meant for people.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { packageRoot } from './package-root.ts';
import { endQuietlyWhenStdoutCloses } from './stdout-closed.ts';
import { UsageError } from './usage-error.ts';

endQuietlyWhenStdoutCloses();

const program = new Command()
  .name('stadium')
  .description('Real-time fan-out, proven in a seeded failure simulator and run in production.')
  .version(packageVersion(), '-V, --version', 'print the version')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

program.addHelpText(
  'after',
  `
Exit codes: 0 all held, 1 an invariant violated (or the work failed), 2 bad input. With --json
(sim, check, chaos, cluster, bench) an error is also one JSON object on stdout:
{"error": "...", "code": "bad-input", "exitCode": 2}.

Examples:
  stadium sim --scenario live-video --seed 1     run the flagship failure scenario
  stadium sim --help                             every simulator option
  stadium chaos --scenario frontend-death --seed 1   the same scenario on real processes`,
);

const commands: Record<string, () => Promise<{ register(program: Command): void }>> = {
  sim: () => import('./commands/sim.ts'),
  bench: () => import('./commands/bench.ts'),
  check: () => import('./commands/check.ts'),
  serve: () => import('./commands/serve.ts'),
  cluster: () => import('./commands/cluster.ts'),
  replay: () => import('./commands/replay.ts'),
  chaos: () => import('./commands/chaos.ts'),
};
for (const load of Object.values(commands)) (await load()).register(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const failure = failureOf(error);
  process.exitCode = failure?.exitCode ?? 0;
  if (failure !== null && jsonAsked(process.argv.slice(2))) {
    process.stdout.write(`${JSON.stringify(failure)}\n`);
  }
}

function packageVersion(): string {
  const text = readFileSync(join(packageRoot, 'package.json'), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

interface Failure {
  error: string;
  code: string;
  exitCode: number;
}

/** Report an error on stderr and say what it was; null for --help and --version, which end here too. */
function failureOf(error: unknown): Failure | null {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return null;
    // Commander has printed its message already; its codes are like `commander.unknownOption`.
    const code = error.code.replace(/^commander\./, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    return { error: error.message.replace(/^error: /, ''), code, exitCode: 2 };
  }
  if (error instanceof UsageError) {
    process.stderr.write(`stadium: ${error.message}\n`);
    return { error: error.message, code: error.code, exitCode: 2 };
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`stadium: internal error (a bug; please report it):\n${message}\n`);
  return {
    error: `internal error: ${error instanceof Error ? error.message : String(error)}`,
    code: 'internal',
    exitCode: 1,
  };
}

/** Whether the command line names a command that takes `--json`, and gives it (before any `--`). */
function jsonAsked(args: string[]): boolean {
  const end = args.indexOf('--');
  const options = end === -1 ? args : args.slice(0, end);
  const command = program.commands.find((c) => c.name() === options.find((a) => !a.startsWith('-')));
  return (
    command !== undefined && command.options.some((o) => o.long === '--json') && options.includes('--json')
  );
}
