/**
 * The `stadium` command: one entry point for the simulator, property checks, replay, serving and
 * benchmarks. Each subcommand's definition lives in cli/commands/; its heavy modules (the simulator,
 * uWebSockets.js, ink) are imported only when it runs, so `stadium sim` never loads a server.
 *
 * Exit codes, for every subcommand: 0 success, 1 an invariant was violated (or the work failed),
 * 2 bad input (an unknown flag, a malformed scenario or trace). A closed stdout (`| head -1`) ends
 * a command quietly with the exit code it had decided so far, else 0 (see stdout-closed.ts).
 */
import { Command, CommanderError } from 'commander';
import { endQuietlyWhenStdoutCloses } from './stdout-closed.ts';
import { UsageError } from './usage-error.ts';

endQuietlyWhenStdoutCloses();

const program = new Command()
  .name('stadium')
  .description('Real-time fan-out, proven in a seeded failure simulator and run in production.')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

program.addHelpText(
  'after',
  `
Examples:
  stadium sim --scenario live-video --seed 1     run the flagship failure scenario
  stadium sim --help                             every simulator option`,
);

const commands: Record<string, () => Promise<{ register(program: Command): void }>> = {
  sim: () => import('./commands/sim.ts'),
  bench: () => import('./commands/bench.ts'),
  check: () => import('./commands/check.ts'),
  serve: () => import('./commands/serve.ts'),
  cluster: () => import('./commands/cluster.ts'),
  replay: () => import('./commands/replay.ts'),
};
for (const load of Object.values(commands)) (await load()).register(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = exitCodeFor(error);
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    // --help and --version end through here too, with exit code 0.
    return error.exitCode === 0 ? 0 : 2;
  }
  if (error instanceof UsageError) {
    process.stderr.write(`stadium: ${error.message}\n`);
    return 2;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`stadium: internal error (a bug; please report it):\n${message}\n`);
  return 1;
}
