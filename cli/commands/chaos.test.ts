// Goal: `stadium chaos` refuses bad input before it starts a process, naming the problem (exit 2,
// and one JSON error with --json), and its --help says what it does with examples. Method: run the
// real command in a child process. (A whole run of both worlds is chaos/chaos.test.ts'.)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runStadium } from '../run-stadium.ts';

const dir = mkdtempSync(join(tmpdir(), 'stadium-cli-chaos-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const stadium = (...args: string[]) => runStadium(dir, ...args);

describe('stadium chaos', () => {
  it('--help says what a run does, how its timing differs, and gives examples', () => {
    const run = stadium('chaos', '--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('redis-server per datacenter');
    expect(run.stdout).toContain('Real processes keep real time');
    expect(run.stdout).toContain('stadium chaos --scenario frontend-death --seed 1');
  });

  it('an unknown scenario, a bad seed, a bad --viewers, an unknown planted bug: exit 2 naming it', () => {
    const cases: [string[], RegExp][] = [
      [['--scenario', 'no-such-scenario'], /no such scenario file/],
      [['--seed', 'a b'], /--seed must be/],
      [['--viewers', '0'], /--viewers must be a whole number from 1 to 5000/],
      [['--plant-bug', 'nope'], /--plant-bug must be one of/],
      [['--mode', 'fast'], /mode/],
    ];
    for (const [args, message] of cases) {
      const run = stadium('chaos', ...args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('a malformed scenario file is refused with --json as one JSON error on stdout', () => {
    writeFileSync(join(dir, 'bad.json'), '{"name": "bad"}');
    const run = stadium('chaos', '--scenario', join(dir, 'bad.json'), '--json');
    expect(run.code).toBe(2);
    const error = JSON.parse(run.stdout) as { error: string; code: string; exitCode: number };
    expect(error).toMatchObject({ code: 'bad-scenario', exitCode: 2 });
    expect(error.error).toContain('invalid scenario');
  });
});
