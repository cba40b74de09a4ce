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
    ]) {
      expect(report).toHaveProperty(key);
    }
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
      'Examples:',
      'Exit codes',
    ])
      expect(help.stdout).toContain(option);
    const list = stadium('sim', '--list');
    expect(list.stdout).toMatch(/^live-video\s+The flagship/m);
  });
});
