/**
 * Assertions catch our own bugs and stay on in production. Bad input and failed peers are not bugs:
 * they become effects and counters, never a call to `assert`.
 */

export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Closes every switch over a union: adding a variant without handling it fails to compile. */
export function unreachable(value: never): never {
  throw new AssertionError(`unreachable: ${JSON.stringify(value)}`);
}

export function increment(counters: Record<string, number>, name: string, by = 1): void {
  counters[name] = (counters[name] ?? 0) + by;
}
