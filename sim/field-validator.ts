/**
 * Checks one field of a parsed JSON value at a time, collecting every problem by its path
 * (`faults[2].node: ...`) instead of stopping at the first, so one run of a command shows all of
 * them. Each check returns the value when it is good and null when it is not.
 */
import { closestName } from './closest-name.ts';

export class Validator {
  constructor(private readonly issues: string[]) {}

  private fail(path: string, message: string): null {
    this.issues.push(`${path || '(top level)'}: ${message}`);
    return null;
  }

  /**
   * An object whose fields are all among `fields` (null: the caller checks them with `fields()`
   * once it knows which apply). A misspelt field would otherwise be ignored and its default used.
   */
  object(x: unknown, path: string, fields: readonly string[] | null): Record<string, unknown> | null {
    if (typeof x !== 'object' || x === null || Array.isArray(x))
      return this.fail(path, `must be an object (got ${describe(x)})`);
    const o = x as Record<string, unknown>;
    if (fields !== null) this.fields(o, path, fields);
    return o;
  }

  /** Each field of `o` not in `fields` is an issue, naming the close match when there is one. */
  fields(o: Record<string, unknown>, path: string, fields: readonly string[]): void {
    for (const key of Object.keys(o)) {
      if (fields.includes(key)) continue;
      const near = closestName(key, fields);
      this.fail(
        path === '' ? key : `${path}.${key}`,
        `unknown field${near === null ? '' : `; did you mean ${near}?`} (known: ${fields.join(', ')})`,
      );
    }
  }

  array(x: unknown, path: string, min: number, max: number): unknown[] | null {
    if (!Array.isArray(x)) return this.fail(path, `must be an array (got ${describe(x)})`);
    if (x.length < min || x.length > max)
      return this.fail(path, `must hold ${min} to ${max} items (got ${x.length})`);
    return x;
  }

  string(x: unknown, path: string, pattern?: RegExp): string | null {
    if (typeof x !== 'string') return this.fail(path, `must be a string (got ${describe(x)})`);
    if (pattern !== undefined && !pattern.test(x)) return this.fail(path, `"${x}" does not match ${pattern}`);
    return x;
  }

  int(x: unknown, path: string, min: number, max: number): number | null {
    if (typeof x !== 'number' || !Number.isInteger(x))
      return this.fail(path, `must be an integer (got ${describe(x)})`);
    if (x < min || x > max) return this.fail(path, `must be between ${min} and ${max} (got ${x})`);
    return x;
  }

  number(x: unknown, path: string, min: number, max: number): number | null {
    if (typeof x !== 'number' || !Number.isFinite(x))
      return this.fail(path, `must be a number (got ${describe(x)})`);
    if (x < min || x > max) return this.fail(path, `must be between ${min} and ${max} (got ${x})`);
    return x;
  }

  boolean(x: unknown, path: string): boolean | null {
    if (typeof x !== 'boolean') return this.fail(path, `must be true or false (got ${describe(x)})`);
    return x;
  }
}

function describe(x: unknown): string {
  if (x === undefined) return 'nothing';
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'string'
    ? JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x)
    : typeof x === 'object'
      ? 'an object'
      : String(x);
}
