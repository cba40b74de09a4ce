// Goal: with --json, a program reading stdout learns of an error from stdout too: one JSON object
// {"error", "code", "exitCode"}, beside the plain line on stderr, for every command that takes --json.
// Method: the real command in a child process, given bad input of each kind.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runStadium } from './run-stadium.ts';

const dir = mkdtempSync(join(tmpdir(), 'stadium-json-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const stadium = (...args: string[]) => runStadium(dir, ...args);

const badScenario = join(dir, 'typo.json');
writeFileSync(badScenario, JSON.stringify({ name: 'typo', durationMs: 1_000, topologi: {} }));

// [command line, code, what the error says]: every command that takes --json has a case.
const cases: [string[], string, RegExp][] = [
  [['sim', '--json', '--seed', 'has space'], 'bad-input', /--seed must be/],
  [
    ['sim', '--json', '--scenario', badScenario],
    'bad-scenario',
    /topologi: unknown field; did you mean topology\?/,
  ],
  [['sim', '--json', '--frobnicate'], 'unknown-option', /^unknown option '--frobnicate'$/],
  [['check', '--json', '--runs', 'many'], 'bad-input', /--runs must be a whole number/],
  [
    ['check', '--json', '--seed', '3', '--path', '1:0:999999'],
    'bad-path',
    /--path 1:0:999999 leads to no scenario with --seed 3/,
  ],
  [
    ['check', '--json', '--merge', badScenario],
    'bad-result',
    /not a stadium check result file: "format" must be/,
  ],
  [
    ['check', '--json', '--scenario-size'],
    'option-missing-argument',
    /--scenario-size <size>' argument missing/,
  ],
  [['cluster', '--json', '--dcs', '99'], 'bad-input', /--dcs must be an integer from 1 to 26/],
  [['chaos', '--json', '--viewers', 'lots'], 'bad-input', /--viewers must be a whole number/],
  [['bench', '--json', '--redis', 'nope'], 'bad-input', /--redis must look like redis:\/\//],
];

describe('--json errors', () => {
  it.each(cases)('stadium %j: the error as JSON on stdout, the line on stderr', (args, code, message) => {
    const run = stadium(...args);
    expect(run.code).toBe(2);
    const lines = run.stdout.trim().split('\n');
    expect(lines, run.stdout).toHaveLength(1);
    const error = JSON.parse(lines[0]!);
    expect(error).toEqual({ error: expect.stringMatching(message), code, exitCode: 2 });
    expect(run.stderr).toContain(error.error.split('\n')[0]);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('the cases cover every command that takes --json', () => {
    const commands = [...stadium('--help').stdout.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!);
    expect(commands).toContain('sim');
    const withJson = commands.filter((c) => /^ {2}--json\b/m.test(stadium(c, '--help').stdout));
    expect(withJson.sort()).toEqual([...new Set(cases.map(([args]) => args[0]))].sort());
  });

  it('without --json, stdout stays empty; a command without --json refuses it in plain text', () => {
    const plain = stadium('sim', '--seed', 'has space');
    expect(plain.code).toBe(2);
    expect(plain.stdout).toBe('');
    const replay = stadium('replay', '--json');
    expect(replay.code).toBe(2);
    expect(replay.stdout).toBe('');
    expect(replay.stderr).toMatch(/unknown option '--json'/);
  });
});
