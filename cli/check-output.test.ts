// Goal: a failing run whose shrunk scenario makes the simulation throw (a core assertion) is still
// reported as a failure with its shrunk scenario, not as an internal error of the command.
// Method: a real failing run (a planted bug), then its trace written by a simulator that throws.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { checkProperties, marks } from '../properties/index.ts';
import type * as Sim from '../sim/index.ts';

vi.mock('../sim/index.ts', async (original) => ({
  ...(await original<typeof Sim>()),
  runScenario: () => {
    throw new Error('an assertion of the core');
  },
}));

const out = mkdtempSync(join(tmpdir(), 'stadium-check-output-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('stadium check output', () => {
  it('a counterexample whose run throws is reported as the failure, with its scenario file', async () => {
    const { printCheck } = await import('./check-output.ts');
    const result = checkProperties({ runs: 40, seed: 7, bug: 'no-dedupe' });
    expect(result.counterexample).not.toBeNull();
    const identity = {
      seed: 7,
      fastCheckSeed: 7,
      runs: 40,
      scenarioSize: 'small',
      mode: 'best-effort',
      plantBug: 'no-dedupe',
    } as const;
    const written: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const run = { identity, shard: null, merged: null, path: null, out, marks };
      expect(await printCheck(result, run, false)).toBe(1);
    } finally {
      write.mockRestore();
      process.exitCode = 0;
    }
    expect(written.join('')).toMatch(/FAILED: .*\n.*shrunk .*\n[^]*the shrunk scenario: .*check-7\.json/);
  }, 60_000);
});
