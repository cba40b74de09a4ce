/**
 * Bad input from the user (a flag, a file): printed as one clear line, exit code 2, never a stack
 * trace. `code` names the kind of problem for `--json` readers (`{"error", "code", "exitCode"}`).
 */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    readonly code: string = 'bad-input',
  ) {
    super(message);
  }
}
