/** Bad input from the user (a flag, a file): printed as one clear line, exit code 2, never a stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}
