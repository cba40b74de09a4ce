// Goal: a run cut into shards (`--shard i/n --result FILE`) and merged (`--merge`) says what the run
// says unsharded: the same verdict, counts, marks and counterexample; result files that do not make
// one run are refused with a line that names the file and the problem.
// Method: the real command, shard 1/3 .. 3/3 then --merge, against the same run unsharded.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyMarkCounts, marksOf } from '../../properties/marks.ts';
import { runStadium } from '../run-stadium.ts';

const dir = mkdtempSync(join(tmpdir(), 'stadium-shard-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const stadium = (...args: string[]) => runStadium(dir, ...args);

/** What says how long a run took, and on what: the only fields a merge may differ in. */
const timing = ['durationMs', 'scenariosPerSecond', 'workers', 'shard', 'merged'];
const outcome = (stdout: string): string =>
  JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(stdout)).filter(([k]) => !timing.includes(k))));
/** The text output without its first line (the seed) and the line saying how long it took. */
const text = (stdout: string): string =>
  stdout
    .split('\n')
    .slice(1)
    .filter((line) => !/ checked in /.test(line))
    .join('\n');

/**
 * Run the three shards of `args`, each writing its result (shard 2 on two worker threads, the
 * others in one); the merge's output, in JSON and in text.
 */
function shardedThenMerged(name: string, args: string[]) {
  const files = [1, 2, 3].map((i) => join(dir, `${name}-${i}.json`));
  const shards = files.map((file, i) =>
    stadium(
      ...['check', ...args, '--shard', `${i + 1}/3`, '--result', file, '--json'],
      ...['--workers', i === 1 ? '2' : '1'],
    ),
  );
  return {
    shards,
    files,
    json: stadium('check', '--merge', ...files, '--json'),
    text: stadium('check', '--merge', ...files),
  };
}

// Each case starts several `stadium` processes: more time than the default on a loaded machine.
const processesMs = 180_000;

describe('stadium check --shard and --merge', () => {
  it(
    'shards 1/3 .. 3/3 merged: the verdict and every count of the unsharded run (all hold)',
    () => {
      const args = ['--runs', '45', '--seed', '11'];
      const whole = stadium('check', ...args, '--workers', '1', '--json');
      const wholeText = stadium('check', ...args, '--workers', '1');
      expect(whole.code).toBe(0);
      const { shards, json, text: merged } = shardedThenMerged('holds', args);
      expect(shards.map((s) => s.code)).toEqual([0, 0, 0]);
      expect(shards.map((s) => JSON.parse(s.stdout).shard)).toEqual([
        { index: 1, count: 3, from: 0, to: 15 },
        { index: 2, count: 3, from: 15, to: 30 },
        { index: 3, count: 3, from: 30, to: 45 },
      ]);
      expect(shards.map((s) => JSON.parse(s.stdout).runs)).toEqual([15, 15, 15]);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({ merged: 3, runs: 45, seed: 11 });
      expect(outcome(json.stdout)).toBe(outcome(whole.stdout));
      expect(merged.stdout).toMatch(
        /^merged 3 shards of seed 11; reproduce with: stadium check --runs 45 --seed 11$/m,
      );
      expect(text(merged.stdout)).toBe(text(wholeText.stdout));
    },
    processesMs,
  );

  it(
    'shards merged with a planted bug: the first failure, shrunk as the unsharded run shrinks it',
    () => {
      // Scenario 38 fails first, in shard 2 of [0, 20), [20, 40), [40, 60).
      const args = ['--runs', '60', '--seed', '2', '--plant-bug', 'expiry-ignored'];
      const whole = stadium('check', ...args, '--workers', '1', '--json');
      const wholeText = stadium('check', ...args, '--workers', '1');
      expect(whole.code).toBe(1);
      expect(JSON.parse(whole.stdout).counterexample.path).toMatch(/^38:/);
      const { shards, json, text: merged } = shardedThenMerged('fails', args);
      expect(shards[0]!.code).toBe(0);
      expect(shards[1]!.code).toBe(1);
      expect(JSON.parse(shards[1]!.stdout).counterexample.path).toBe(
        JSON.parse(whole.stdout).counterexample.path,
      );
      expect(json.code).toBe(1);
      expect(outcome(json.stdout)).toBe(outcome(whole.stdout));
      expect(merged.code).toBe(1);
      expect(text(merged.stdout)).toBe(text(wholeText.stdout));
    },
    processesMs,
  );

  it(
    'bad --shard and --result: exit 2 with a clear line',
    () => {
      for (const [args, message] of [
        [['--seed', '1', '--shard', '2'], /--shard looks like 2\/5/],
        [['--seed', '1', '--shard', '0/3'], /--shard 0\/3: the shard must be from 1 to the count/],
        [['--seed', '1', '--shard', '4/3'], /--shard 4\/3: the shard must be from 1 to the count/],
        [['--seed', '1', '--runs', '3', '--shard', '1/5'], /more shards than --runs \(3\)/],
        [['--shard', '1/3'], /give every shard the same --seed/],
        [
          ['--seed', '1', '--path', '3', '--shard', '1/3'],
          /--path replays one scenario: it takes no --shard/,
        ],
        [['--seed', '1', '--result', join(dir, 'no', 'such', 'r.json')], /--result .*: no such directory/],
      ] as const) {
        const run = stadium('check', ...args);
        expect(run.code, args.join(' ')).toBe(2);
        expect(run.stderr).toMatch(message);
        expect(run.stderr).not.toMatch(/internal error|\n\s+at /);
      }
    },
    processesMs,
  );

  it(
    'result files that do not make one run: exit 2, naming the file and why',
    () => {
      const result = (name: string, ...args: string[]): string => {
        const file = join(dir, `${name}.json`);
        expect(stadium('check', '--runs', '6', '--workers', '1', ...args, '--result', file).code).toBe(0);
        return file;
      };
      const [a, b, c] = [1, 2, 3].map((i) => result(`small-${i}`, '--seed', '1', '--shard', `${i}/3`));
      const otherSeed = result('other-seed', '--seed', '2', '--shard', '2/3');
      const otherCut = result('other-cut', '--seed', '1', '--shard', '2/2');
      const tampered = join(dir, 'tampered.json');
      const value = JSON.parse(readFileSync(b!, 'utf8'));
      writeFileSync(tampered, JSON.stringify({ ...value, tally: { ...value.tally, generated: 1 } }));
      const notJson = join(dir, 'not.json');
      writeFileSync(notJson, '{"format": ');
      const other = join(dir, 'other.json');
      writeFileSync(other, JSON.stringify({ ok: true, runs: 6 }));
      const rewritten = (name: string, changes: Record<string, unknown>): string => {
        const file = join(dir, `${name}.json`);
        writeFileSync(file, JSON.stringify({ ...value, ...changes }));
        return file;
      };
      // Another run in reliable mode: its marks are reliable mode's, so only the mode differs.
      const otherMode = rewritten('other-mode', {
        mode: 'reliable',
        marks: emptyMarkCounts(marksOf('reliable')),
      });
      const badMode = rewritten('bad-mode', { mode: 'sometimes' });
      // A result written before reliable mode (no mode) is of a best-effort run.
      const older = rewritten('older', { mode: undefined });
      expect(value.mode).toBe('best-effort');
      expect(stadium('check', '--merge', a!, b!, c!).code).toBe(0);
      expect(stadium('check', '--merge', a!, older, c!).code).toBe(0);
      for (const [args, message] of [
        [[a, c], /shard 2\/3 missing: a merge needs every shard of the run \(given 1\/3, 3\/3\)/],
        [[a, b, b, c], /small-2\.json and .*small-2\.json are both shard 2\/3/],
        [[a, otherSeed, c], /other-seed\.json is from another run: seed 2, not 1 as in .*small-1\.json/],
        [[a, otherCut, c], /other-cut\.json is shard 2\/2, of another cut than .*small-1\.json's 1\/3/],
        [
          [a, otherMode, c],
          /other-mode\.json is from another run: mode reliable, not best-effort as in .*small-1\.json/,
        ],
        [
          [a, badMode, c],
          /bad-mode\.json: not a stadium check result file: "mode" must be one of best-effort, reliable/,
        ],
        [
          [a, tampered, c],
          /tampered\.json: not a stadium check result file: "tally\.generated" is 1, but the shard judged 2/,
        ],
        [[a, notJson, c], /--merge: .*not\.json is not JSON/],
        [
          [a, other, c],
          /other\.json: not a stadium check result file: "format" must be "stadium-check-result"/,
        ],
        [[a, join(dir, 'missing.json')], /--merge: cannot read .*missing\.json/],
      ] as const) {
        const run = stadium('check', '--merge', ...(args as readonly string[]));
        expect(run.code, args.join(' ')).toBe(2);
        expect(run.stderr).toMatch(message);
        expect(run.stderr).not.toMatch(/internal error|\n\s+at /);
      }
      const withMode = stadium('check', '--merge', a!, b!, c!, '--mode', 'reliable');
      expect(withMode.code).toBe(2);
      expect(withMode.stderr).toMatch(/--merge takes the run's options from its result files: drop --mode/);
      const withSeed = stadium('check', '--merge', a!, b!, c!, '--seed', '1', '--json');
      expect(withSeed.code).toBe(2);
      expect(withSeed.stderr).toMatch(/--merge takes the run's options from its result files: drop --seed/);
      expect(JSON.parse(withSeed.stdout)).toMatchObject({ code: 'bad-input', exitCode: 2 });
    },
    processesMs,
  );
});
