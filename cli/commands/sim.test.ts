// Goal: `stadium sim` behaves as its --help says: the report, --json alone on stdout, the trace
// where asked, and exit codes 0 / 1 / 2. Method: run the real command in a child process.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runStadium } from '../run-stadium.ts';

const dir = mkdtempSync(join(tmpdir(), 'stadium-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const stadium = (...args: string[]) => runStadium(dir, ...args);

describe('stadium sim', () => {
  it('prints the seed, how to reproduce, and the report; writes the trace; exit 0', () => {
    const run = stadium('sim', '--scenario', 'fault-free', '--seed', '9');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('reproduce with: stadium sim --scenario fault-free --seed 9');
    for (const line of [
      'published',
      'expected deliveries',
      'delivered',
      'lost',
      'duplicates',
      'misdeliveries',
      'latency',
      'same datacenter',
      'cross datacenter',
      'faults injected',
      'simulated time',
      'wall time',
      'viewer counts',
      '  error             |told - truth| mean',
      '  settled           dc-a',
      'violations',
    ]) {
      expect(run.stdout).toContain(line);
    }
    expect(existsSync(join(dir, '.stadium/runs/fault-free-9.jsonl'))).toBe(true);
  });

  it('--json prints exactly one JSON object on stdout with the documented keys', () => {
    const run = stadium(
      'sim',
      '--scenario',
      'dc-partition',
      '--seed',
      '3',
      '--json',
      '--trace',
      join(dir, 't.jsonl'),
    );
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    for (const key of [
      'scenario',
      'seed',
      'traceHash',
      'events',
      'published',
      'delivered',
      'lost',
      'duplicates',
      'misdeliveries',
      'latencyMs',
      'faults',
      'violations',
      'wallMs',
      'eventsPerSecond',
      'occupancy',
    ]) {
      expect(report).toHaveProperty(key);
    }
    // What the viewer counts came to: who watched, how far from the truth, how soon each datacenter settled.
    expect(report.occupancy).toEqual(
      expect.objectContaining({
        notJudged: null,
        watchers: expect.any(Number),
        maxErrorJudgedViewers: 0,
        boundMs: expect.any(Number),
        convergence: [
          expect.objectContaining({ dc: 'dc-a', afterMs: expect.any(Number) }),
          expect.objectContaining({ dc: 'dc-b', afterMs: expect.any(Number) }),
        ],
      }),
    );
    expect(report.violationCounts).toEqual(
      expect.objectContaining({ 'occupancy-converge': 0, 'occupancy-stale-dropped': 0 }),
    );
    expect(report.lost).toEqual(expect.objectContaining({ explained: expect.any(Number), unexplained: 0 }));
    expect(report.latencyMs).toEqual(
      expect.objectContaining({
        p50: expect.any(Number),
        p90: expect.any(Number),
        p99: expect.any(Number),
        max: expect.any(Number),
      }),
    );
    expect(report.faults.partition).toBe(2);
    expect(run.stderr).toContain('seed 3');
    const lines = readFileSync(join(dir, 't.jsonl'), 'utf8').trim().split('\n');
    expect(JSON.parse(lines[0]!).k).toBe('run');
    expect(JSON.parse(lines[lines.length - 1]!).k).toBe('end');
  });

  it('--mode runs the scenario in that mode: the report says so, the reproduce command carries it', () => {
    const run = stadium('sim', '--scenario', 'fault-free', '--seed', '9', '--mode', 'reliable');
    expect(run.stdout).toContain(
      'reproduce with: stadium sim --scenario fault-free --seed 9 --mode reliable',
    );
    expect(run.stdout).toMatch(/^mode\s+reliable \(sequenced, acknowledged, retried\)$/m);
    // Its own trace, beside the best-effort one; the run record carries the mode.
    const trace = join(dir, '.stadium/runs/fault-free-9-reliable.jsonl');
    const first = JSON.parse(readFileSync(trace, 'utf8').split('\n')[0]!);
    expect(first.scenario.mode).toBe('reliable');
    const json = stadium(
      'sim',
      '--scenario',
      'fault-free',
      '--seed',
      '9',
      '--mode',
      'reliable',
      '--json',
      '--no-trace',
    );
    expect(JSON.parse(json.stdout)).toMatchObject({
      mode: 'reliable',
      reproduce: expect.stringMatching(/--mode reliable$/),
    });
    // Without --mode: the scenario's own, and nothing to carry.
    const plain = stadium('sim', '--scenario', 'fault-free', '--seed', '9', '--json', '--no-trace');
    expect(JSON.parse(plain.stdout)).toMatchObject({
      mode: 'best-effort',
      reproduce: 'stadium sim --scenario fault-free --seed 9',
    });
  });

  it('a scenario file that says reliable runs reliable, unless --mode says otherwise', () => {
    const file = join(dir, 'reliable.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'reliable',
        mode: 'reliable',
        durationMs: 3_000,
        topology: { datacenters: [{ name: 'dc-a', frontends: 1, dispatchers: 1 }] },
        workload: { topics: [{ name: 't', viewers: 4, publishesPerSecond: 2 }] },
      }),
    );
    const own = stadium('sim', '--scenario', file, '--seed', '1', '--json', '--no-trace');
    expect(JSON.parse(own.stdout)).toMatchObject({
      mode: 'reliable',
      reproduce: `stadium sim --scenario ${file} --seed 1`,
    });
    const over = stadium(
      'sim',
      '--scenario',
      file,
      '--seed',
      '1',
      '--mode',
      'best-effort',
      '--json',
      '--no-trace',
    );
    expect(JSON.parse(over.stdout)).toMatchObject({
      mode: 'best-effort',
      reproduce: `stadium sim --scenario ${file} --seed 1 --mode best-effort`,
    });
  });

  it('draws and prints a seed when none is given', () => {
    const run = stadium('sim', '--scenario', 'fault-free', '--no-trace');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /seed \d+ \(drawn\); reproduce with: stadium sim --scenario fault-free --seed \d+/,
    );
  });

  it('bad input: exit 2 with one clear line, never a stack trace', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        name: 'x',
        durationMs: 'soon',
        topology: { datacenters: [] },
        workload: { topics: [] },
      }),
    );
    const typo = join(dir, 'typo.json');
    writeFileSync(
      typo,
      JSON.stringify({
        name: 'typo',
        durationMs: 5_000,
        topology: { datacenters: [{ name: 'dc-a', frontends: 1, dispatchers: 1 }] },
        workload: { topics: [{ name: 't', viewers: 2, publishesPerSecond: 1 }] },
        faults: [{ kind: 'kill', atMs: 1_000, node: 'dc-a/frontend-1', restartAftrMs: 500 }],
      }),
    );
    const cases = [
      { args: ['sim', '--scenario', bad], expect: /durationMs: must be an integer \(got "soon"\)/ },
      {
        args: ['sim', '--scenario', typo, '--seed', '1'],
        expect: /faults\[0\]\.restartAftrMs: unknown field; did you mean restartAfterMs\?/,
      },
      { args: ['sim', '--scenario', 'nope'], expect: /no such scenario file, and no named scenario/ },
      { args: ['sim', '--seed', 'has space'], expect: /--seed must be/ },
      {
        args: ['sim', '--seed', '1', '--mode', 'exactly-once'],
        expect: /^stadium: --mode must be best-effort or reliable \(got "exactly-once"\)\n$/,
      },
      { args: ['sim', '--frobnicate'], expect: /unknown option '--frobnicate'/ },
      { args: ['simulate'], expect: /unknown command 'simulate'/ },
    ];
    for (const c of cases) {
      const run = stadium(...c.args);
      expect(run.code, c.args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(c.expect);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
    writeFileSync(bad, '{"name": "x",');
    const malformed = stadium('sim', '--scenario', bad);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/bad\.json: invalid scenario:\n\s+- not valid JSON/);
  });

  it('--help documents every option with examples; --list names the scenarios', () => {
    const help = stadium('sim', '--help');
    expect(help.code).toBe(0);
    for (const option of [
      '--scenario',
      '--seed',
      '--json',
      '--trace',
      '--no-trace',
      '--list',
      '--mode',
      '--mode reliable',
      'Examples:',
      'Exit codes',
    ])
      expect(help.stdout).toContain(option);
    const list = stadium('sim', '--list');
    expect(list.stdout).toMatch(/^live-video\s+The flagship/m);
  });

  it('--compare-modes runs both modes on the same seed and prints them side by side', () => {
    const run = stadium('sim', '--scenario', 'store-death', '--seed', '3', '--compare-modes', '--no-trace');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      'reproduce with: stadium sim --scenario store-death --seed 3 --compare-modes',
    );
    expect(run.stdout).toMatch(/best-effort\s+reliable/);
    for (const row of [
      'missed deadline',
      'missing after heal',
      'order violations',
      'gap notices',
      'messages sent',
    ])
      expect(run.stdout).toContain(row);
    const json = stadium(
      'sim',
      '--scenario',
      'store-death',
      '--seed',
      '3',
      '--compare-modes',
      '--json',
      '--no-trace',
    );
    const both = JSON.parse(json.stdout) as {
      bestEffort: { mode: string; messages: { sent: number } };
      reliable: { mode: string; messages: { sent: number }; reliable: { seqsMissing: number } };
    };
    expect(both.bestEffort.mode).toBe('best-effort');
    expect(both.reliable.mode).toBe('reliable');
    // Reliable mode repairs what the store's death cost best-effort, and pays for it in messages.
    expect(both.reliable.reliable.seqsMissing).toBe(0);
    expect(both.reliable.messages.sent).toBeGreaterThan(both.bestEffort.messages.sent);
    const clash = stadium('sim', '--scenario', 'store-death', '--compare-modes', '--mode', 'reliable');
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain('--compare-modes runs both modes');
  });
});
