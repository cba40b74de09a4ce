// Goal: `stadium check` reports the fault counts on success, and on failure leaves a shrunk scenario
// that `stadium sim` accepts, its trace, and fast-check's replay path; exit codes 0 / 1 / 2.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runStadium } from '../run-stadium.ts';

const dir = mkdtempSync(join(tmpdir(), 'stadium-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const stadium = (...args: string[]) => runStadium(dir, ...args);

describe('stadium check', () => {
  it('passes on the correct core and prints what fired', () => {
    const run = stadium('check', '--runs', '60', '--seed', '3');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('reproduce with: stadium check --runs 60 --seed 3');
    expect(run.stdout).toMatch(
      /faults that fired\s+kill \d+, partition \d+, isolate \d+, jitter-storm \d+, loss-burst \d+/,
    );
    expect(run.stdout).toMatch(/deaths by role\s+frontend \d+/);
    expect(run.stdout).toMatch(/^scenarios checked\s+60 generated; by fault mix: none \d+/m);
    expect(run.stdout).toMatch(
      /^60 generated scenarios checked in \d+\.\d s \(\d+ scenarios\/s, \d+ workers?\)$/m,
    );
    // The coverage marks, one line each; a run this short only warns about those that never fired.
    expect(run.stdout).toMatch(/^mark\s+scenarios\s+count\s+counter$/m);
    expect(run.stdout).toMatch(/^forward-retried\s+\d+\s+[\d,]+\s+dispatcher forwards-retried$/m);
    expect(run.stdout).not.toMatch(/FAILED: coverage marks/);
    expect(run.stdout).toContain('all properties hold');
  });

  it('--json prints only one object with runs, seed, duration, rate, fault and mark counts', () => {
    const run = stadium('check', '--runs', '30', '--seed', '4', '--json', '--workers', '2');
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({ ok: true, runs: 30, seed: 4, counterexample: null, workers: 2 });
    expect(summary.durationMs).toEqual(expect.any(Number));
    expect(summary.scenariosPerSecond).toBeGreaterThan(0);
    expect(summary.marks['forward-retried']).toEqual({
      count: expect.any(Number),
      scenarios: expect.any(Number),
    });
    expect(Object.keys(summary.marks)).toContain('store-full');
    expect(summary.marksJudged).toBe(false);
    expect(Object.keys(summary.faults).sort()).toEqual([
      'isolate',
      'jitter-storm',
      'kill',
      'loss-burst',
      'partition',
    ]);
  });

  it('--mode reliable: every generated scenario runs reliable; the summary and the reproduce command say so', () => {
    const run = stadium(
      'check',
      '--runs',
      '3',
      '--seed',
      '4',
      '--mode',
      'reliable',
      '--json',
      '--workers',
      '1',
    );
    expect(run.stderr).toContain('reproduce with: stadium check --runs 3 --seed 4 --mode reliable');
    const summary = JSON.parse(run.stdout);
    expect(summary.mode).toBe('reliable');
    // Whatever the verdict, a counterexample is a reliable scenario, and replays in reliable mode.
    if (summary.counterexample !== null) {
      expect(summary.counterexample.replayPath).toMatch(/^stadium check --seed 4 --mode reliable --path /);
      const written = JSON.parse(readFileSync(join(dir, summary.counterexample.scenarioFile), 'utf8'));
      expect(written.mode).toBe('reliable');
    }
    const plain = stadium('check', '--runs', '2', '--seed', '4', '--json', '--workers', '1');
    expect(JSON.parse(plain.stdout).mode).toBe('best-effort');
    expect(plain.stderr).toContain('reproduce with: stadium check --runs 2 --seed 4\n');
  });

  it('a failure leaves a shrunk scenario that stadium sim replays, its trace, and a replay path', () => {
    const run = stadium('check', '--runs', '200', '--seed', '7', '--plant-bug', 'unsubscribe-lost', '--json');
    expect(run.code).toBe(1);
    const { counterexample } = JSON.parse(run.stdout);
    expect(counterexample.problem).toMatch(/lease-release/);
    expect(counterexample.faults.length).toBeLessThanOrEqual(2);
    expect(existsSync(join(dir, counterexample.scenarioFile))).toBe(true);
    expect(existsSync(join(dir, counterexample.trace))).toBe(true);
    // The shrunk scenario is a valid scenario: the buggy roles fail it, the correct core passes it.
    const failing = stadium(
      'sim',
      '--scenario',
      counterexample.scenarioFile,
      '--seed',
      counterexample.scenarioSeed,
      '--plant-bug',
      'unsubscribe-lost',
      '--no-trace',
    );
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/lease-release/);
    expect(
      stadium(
        'sim',
        '--scenario',
        counterexample.scenarioFile,
        '--seed',
        counterexample.scenarioSeed,
        '--no-trace',
      ).code,
    ).toBe(0);
    // fast-check's path replays the failure at once.
    const replay = stadium(
      'check',
      '--runs',
      '200',
      '--seed',
      '7',
      '--path',
      counterexample.path,
      '--plant-bug',
      'unsubscribe-lost',
    );
    expect(replay.code).toBe(1);
    expect(replay.stdout).toContain('FAILED: lease-release');
  });

  it('the same seed on 1 worker or 2: the same verdict, counterexample and counts', () => {
    // The failure is at scenario 38, so both threads' chunks before it add up to the counts.
    const args = ['check', '--runs', '120', '--seed', '2', '--plant-bug', 'expiry-ignored', '--json'];
    const [one, two] = ['1', '2'].map((workers) => stadium(...args, '--workers', workers));
    expect([one!.code, two!.code]).toEqual([1, 1]);
    const [a, b] = [JSON.parse(one!.stdout), JSON.parse(two!.stdout)];
    expect([a.workers, b.workers]).toEqual([1, 2]);
    expect(a.counterexample.path).toMatch(/^38:/);
    expect(a.runs).toBe(39);
    const timing = ['durationMs', 'scenariosPerSecond', 'workers'];
    const withoutTiming = (o: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(o).filter(([key]) => !timing.includes(key)));
    expect(withoutTiming(b)).toEqual(withoutTiming(a));
    // In the same order too, so the text output is the same.
    expect(JSON.stringify(withoutTiming(b))).toBe(JSON.stringify(withoutTiming(a)));
  }, 180_000);

  // What a line of the output says after `label`.
  const printed = (stdout: string, label: string): string => {
    const line = stdout.split('\n').find((l) => l.includes(label));
    expect(line, `a line with "${label}" in:\n${stdout}`).toBeDefined();
    return line!.slice(line!.indexOf(label) + label.length).trim();
  };
  // The arguments of the `stadium ...` command printed after `label`.
  const command = (stdout: string, label: string): string[] => {
    const [name, ...args] = printed(stdout, label).split(/\s+/);
    expect(name).toBe('stadium');
    return args;
  };
  // The one failure a run reports.
  const failure = (stdout: string): string | undefined => {
    const failures = stdout.split('\n').filter((line) => line.startsWith('FAILED: '));
    expect(failures, stdout).toHaveLength(1);
    return failures[0];
  };

  for (const [args, expected] of [
    // The case: both options shape the generated scenarios, and were dropped.
    [
      ['--runs', '50', '--seed', '3', '--scenario-size', 'large', '--plant-bug', 'forward-twice'],
      /^FAILED: forward-discipline/,
    ],
    // The README's example.
    [['--runs', '300', '--seed', '7', '--plant-bug', 'no-dedupe'], /^FAILED: no-duplicates/],
    // The mode shapes them too; what fails first in reliable mode is the reliable core's business.
    [['--runs', '50', '--seed', '3', '--mode', 'reliable', '--plant-bug', 'corrupt-payload'], /^FAILED: /],
  ] as const) {
    it(`the commands a failure prints reproduce it, run as printed: check ${args.join(' ')}`, () => {
      const run = stadium('check', ...args);
      expect(run.code).toBe(1);
      const problem = failure(run.stdout);
      expect(problem).toMatch(expected);
      // The counts say one thing: the generated scenarios, and apart from them the shrink candidates.
      const generated =
        /^scenarios checked\s+(\d+) generated, \d+ more while shrinking the failure; by fault mix/m.exec(
          run.stdout,
        )?.[1];
      expect(generated, run.stdout).toBeDefined();
      expect(run.stdout).toMatch(new RegExp(`^${generated} generated scenarios? checked in`, 'm'));
      const scenarioFile = join(dir, printed(run.stdout, 'the shrunk scenario:'));
      const shrunk = readFileSync(scenarioFile, 'utf8');
      for (const label of ['reproduce with:', 'replay the failure:']) {
        rmSync(scenarioFile);
        const again = stadium(...command(run.stdout, label));
        expect(again.code, label).toBe(1);
        expect(failure(again.stdout), label).toBe(problem);
        expect(readFileSync(scenarioFile, 'utf8'), label).toBe(shrunk);
      }
    });
  }

  it('a --path that leads to no scenario with the options given: exit 2, one line saying why', () => {
    // A path whose steps run past the shrink candidates there are: nothing to check.
    const run = stadium('check', '--seed', '3', '--path', '1:0:999999');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /--path 1:0:999999 leads to no scenario with --seed 3: a path replays only with the --seed, --scenario-size, --mode and --plant-bug of the run that printed it/,
    );
    expect(run.stderr).not.toMatch(/internal error|\n\s+at /);
    // With the options of a real failure, a last step past the end of its shrink candidates.
    const found = stadium(
      'check',
      '--seed',
      '3',
      '--scenario-size',
      'large',
      '--plant-bug',
      'forward-twice',
      '--json',
    );
    const path: string = JSON.parse(found.stdout).counterexample.path;
    const past = stadium(
      ...['check', '--seed', '3', '--scenario-size', 'large', '--plant-bug', 'forward-twice'],
      ...['--path', path.replace(/\d+$/, '999999')],
    );
    expect(past.code).toBe(2);
    expect(past.stderr).toMatch(
      /leads to no scenario with --seed 3 --scenario-size large --plant-bug forward-twice/,
    );
  });

  it('a seed beyond 32 bits runs as its low 32 bits, the seed fast-check takes, and says so', () => {
    const large = stadium('check', '--runs', '8', '--seed', '99999999999', '--json');
    expect(large.code).toBe(0);
    expect(large.stderr).toContain(
      "seed 99999999999 (fast-check's 32-bit seed 1215752191); reproduce with: stadium check --runs 8 --seed 99999999999",
    );
    const small = stadium('check', '--runs', '8', '--seed', '1215752191', '--json');
    const [a, b] = [JSON.parse(large.stdout), JSON.parse(small.stdout)];
    expect(a).toMatchObject({ seed: 99_999_999_999, fastCheckSeed: 1_215_752_191 });
    expect(b).toMatchObject({ seed: 1_215_752_191, fastCheckSeed: 1_215_752_191 });
    for (const key of ['faults', 'requested', 'drops']) expect(a[key], key).toEqual(b[key]);
  });

  it('bad input: exit 2 with a clear line', () => {
    for (const [args, message] of [
      [['check', '--runs', 'many'], /--runs must be a whole number/],
      [
        ['check', '--seed', '99999999999999999999'],
        /--seed must be an integer from -9007199254740991 to 9007199254740991, 2\^53 - 1 \(got "99999999999999999999"\)/,
      ],
      [['check', '--seed', '1e3'], /--seed must be an integer from/],
      [
        ['check', '--seed', '3', '--path', '99999999999'],
        /--path must start with a scenario index below 10,000,000, the most --runs allows/,
      ],
      [['check', '--runs', '10000001'], /--runs must be a whole number from 1 to 10,000,000/],
      [['check', '--scenario-size', 'huge'], /--scenario-size must be small or large/],
      [
        ['check', '--mode', 'eventual'],
        /^stadium: --mode must be best-effort or reliable \(got "eventual"\)\n$/,
      ],
      [['check', '--path', '1:2'], /give --seed too/],
      [['check', '--plant-bug', 'gremlins'], /--plant-bug must be one of no-dedupe/],
      [['check', '--workers', '0'], /--workers must be a whole number from 1 to 1024 \(got "0"\)/],
      [['check', '--workers', 'all'], /--workers must be a whole number/],
    ] as const) {
      const run = stadium(...args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(message);
    }
  });
});
