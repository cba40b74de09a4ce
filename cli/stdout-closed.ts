/**
 * A closed stdout (`stadium sim --list | head -2`: the reader has gone) ends the command quietly,
 * as SIGPIPE ends a C program, but with an exit code that keeps its meaning: the one the command
 * had already decided (a command sets its verdict before it prints it), else 0. Never 1 for the
 * closed pipe itself, which would say an invariant was violated, and never a stack trace.
 *
 * A command that holds processes or sockets (`cluster`, `serve`) names how to stop them first.
 */
let stop: (() => void) | null = null;

/** Run `handler` instead of exiting at once when stdout closes; it must end the process itself. */
export function onStdoutClosed(handler: () => void): void {
  stop = handler;
}

/** Install the handlers; `cli/main.ts` does this once, before any command runs. */
export function endQuietlyWhenStdoutCloses(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') {
      // Not a reader that went away but output that was lost (a full disk): say so.
      process.stderr.write(`stadium: cannot write to stdout: ${error.message}\n`);
      process.exit(1);
    }
    if (stop !== null) stop();
    else process.exit(exitCodeSoFar());
  });
  // With stderr closed too there is nowhere left to report anything; the exit code still says it.
  process.stderr.on('error', () => {});
}

/**
 * End now if a write to stdout has already failed because its reader has gone. The 'error' event
 * waits for the event loop, which a long synchronous computation (a property run, a simulation)
 * does not give it; such a command calls this between its steps.
 */
export function endIfStdoutClosed(): void {
  const error = process.stdout.errored as NodeJS.ErrnoException | null;
  if (error?.code === 'EPIPE') {
    if (stop !== null) stop();
    else process.exit(exitCodeSoFar());
  }
}

function exitCodeSoFar(): number {
  const code = Number(process.exitCode ?? 0);
  return Number.isInteger(code) ? code : 0;
}
