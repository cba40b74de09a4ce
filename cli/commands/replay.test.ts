// Goal: `stadium replay` works as a person meets it: on a real terminal it draws and answers keys,
// piped it prints the summary, and a bad trace or flag gets one clear line and exit code 2.
// Method: the real command (bin/stadium.js) as a child process, and once inside tmux, a real
// pseudo-terminal, reading the screen with capture-pane.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../sim/index.ts';
import { type CommandResult, runStadium } from '../run-stadium.ts';
import { formatTime } from '../replay/format.ts';
import { type TestTrace, writeTestTrace } from '../replay/test-traces.ts';
import { TraceIndex } from '../replay/trace-index.ts';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'stadium.js');
let dir: string;
let written: TestTrace;
/** A real simulator run's trace, with a kill, a partition and planted bugs (see test-traces.ts). */
let trace: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stadium-replay-cli-'));
  written = writeTestTrace(dir, 'faulty');
  trace = written.path;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const stadium = (...args: string[]): CommandResult => runStadium(dir, ...args);
/** The run record of a real trace, for traces broken after it. */
const runLine = (): string => readFileSync(trace, 'utf8').split('\n')[0]!;

describe('stadium replay, piped', () => {
  it('prints the static summary: topology, faults, counters at the end, violations with chains; exit 0', () => {
    const { code: status, stdout, stderr } = stadium('replay', trace);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const report = written.report;
    expect(stdout).toContain('scenario faulty, seed 1');
    expect(stdout).toContain('dc-a: frontend-1, frontend-2, dispatcher-1, dispatcher-2, store');
    expect(stdout).toContain('kill dc-a/frontend-1');
    expect(stdout).toContain('partition dc-a | dc-b');
    expect(stdout).toContain(
      `At the end (7.000000s): published ${report.published}, delivered ${report.delivered}, ` +
        `lost ${report.lost.explained} explained / ${report.lost.unexplained} unexplained`,
    );
    expect(stdout).toContain(`Violations (${report.violations.length}, the first of`);
    expect(stdout).toContain(report.violations[0]!.chain[0]!);
  });

  it('--scenario runs the simulator, writes its trace, then replays it', () => {
    const { code: status, stdout, stderr } = stadium('replay', '--scenario', 'fault-free', '--seed', '5');
    expect(status).toBe(0);
    expect(stderr).toContain('reproduce with: stadium replay --scenario fault-free --seed 5');
    expect(stdout).toContain('scenario fault-free, seed 5');
    expect(existsSync(join(dir, '.stadium', 'runs', 'fault-free-5.jsonl'))).toBe(true);
  });

  it('--help explains the keys and gives examples', () => {
    const { code: status, stdout } = stadium('replay', '--help');
    expect(status).toBe(0);
    expect(stdout).toContain('stadium replay --scenario live-video --seed 1');
    expect(stdout).toContain('n/p next/previous violation');
  });
});

describe('stadium replay, bad input: one line naming the problem, exit 2, no stack trace', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['a missing file', () => ['replay', join(dir, 'absent.jsonl')], /absent\.jsonl: no such file/],
    [
      'a truncated trace',
      () => {
        const file = join(dir, 'truncated.jsonl');
        writeFileSync(file, `${runLine()}\n{"k":"recv","t":`);
        return ['replay', file];
      },
      /truncated\.jsonl, line 2: truncated/,
    ],
    [
      'a malformed line',
      () => {
        const file = join(dir, 'malformed.jsonl');
        writeFileSync(file, `${runLine()}\n{"k":"recv"\n`);
        return ['replay', file];
      },
      /malformed\.jsonl, line 2: malformed JSON/,
    ],
    [
      'a trace of an older version',
      () => {
        const file = join(dir, 'older.jsonl');
        writeFileSync(file, `${JSON.stringify({ ...(JSON.parse(runLine()) as object), version: 1 })}\n`);
        return ['replay', file];
      },
      /older\.jsonl, line 1: trace version 1; this reader reads version 2 \(run the scenario again to write one\)/,
    ],
    [
      'a scenario file where a trace belongs',
      () => {
        const file = join(dir, 'my-scenario.json');
        writeFileSync(file, readFileSync(join(root, 'sim', 'scenarios', 'fault-free.json')));
        return ['replay', file];
      },
      /my-scenario\.json is a scenario file, not a trace: simulate it and replay the run with stadium replay --scenario \S+my-scenario\.json --seed N \(or stadium sim --scenario \S+my-scenario\.json --replay\)/,
    ],
    ['no trace and no scenario', () => ['replay'], /give a trace file, or --scenario/],
    ['a trace and a scenario', () => ['replay', trace, '--scenario', 'fault-free'], /not both/],
    [
      'an unknown scenario',
      () => ['replay', '--scenario', 'no-such-scenario', '--seed', '1'],
      /no-such-scenario/,
    ],
  ];
  for (const [name, args, message] of cases) {
    it(name, () => {
      const { code: status, stderr } = stadium(...args());
      expect(status).toBe(2);
      expect(stderr).toMatch(message);
      // The simulator lists every problem of a scenario on its own line; a trace has one.
      if (!name.includes('scenario')) expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).not.toMatch(/\n\s+at /);
    });
  }
});

describe('stadium replay shows the violations `stadium sim --json` reports: it re-checks the trace', () => {
  const bugs = ['no-dedupe', 'wrong-topic', 'corrupt-payload', 'forward-twice', 'skip-frontend'] as const;
  it.each(bugs)('planted bug %s on dc-partition', (bug) => {
    const path = join(dir, `planted-${bug}.jsonl`);
    const run = stadium(
      'sim',
      '--scenario',
      'dc-partition',
      '--seed',
      '1',
      '--plant-bug',
      bug,
      '--json',
      '--trace',
      path,
    );
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as Report;
    const counted = Object.values(report.violationCounts).reduce((a, b) => a + b, 0);
    expect(counted).toBeGreaterThan(0);
    const expectSame = (index: TraceIndex): void => {
      expect(index.violations.map((entry) => entry.violation)).toEqual(report.violations);
      expect(index.checked.violationCounts).toEqual(report.violationCounts);
      expect(index.totals).toEqual({
        published: report.published,
        delivered: report.delivered,
        duplicates: report.duplicates,
        lostExplained: report.lost.explained,
        lostUnexplained: report.lost.unexplained,
        violations: counted,
      });
    };
    expectSame(new TraceIndex(path));
    // Without the conclusions the run wrote into the trace, the re-check finds them all again.
    const facts = join(dir, `planted-${bug}-facts-only.jsonl`);
    const lines = readFileSync(path, 'utf8').split('\n');
    writeFileSync(facts, lines.filter((line) => !/^\{"k":"(violation|loss)"/.test(line)).join('\n'));
    expect(readFileSync(facts, 'utf8').length).toBeLessThan(readFileSync(path, 'utf8').length);
    expectSame(new TraceIndex(facts));
  });
});

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
if (!hasTmux && process.env['CI'] === 'true') {
  throw new Error('tmux is required on CI for the pseudo-terminal replay test');
}
if (!hasTmux) console.warn('skipping the pseudo-terminal replay test: tmux is not installed');

describe.skipIf(!hasTmux)('stadium replay on a real terminal (tmux)', () => {
  let session = '';
  let sessions = 0;
  const tmux = (...args: string[]): string => spawnSync('tmux', args, { encoding: 'utf8' }).stdout;
  const screen = (): string => tmux('capture-pane', '-p', '-t', session);
  async function until(text: string | RegExp): Promise<string> {
    // Generous: the child compiles the CLI through tsx at start-up, slowly on a loaded machine.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const shown = screen();
      if (typeof text === 'string' ? shown.includes(text) : text.test(shown)) return shown;
      if (Date.now() > deadline)
        throw new Error(`the terminal never showed ${String(text)}; it shows:\n${shown}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  /**
   * Run `stadium ARGS` (by default `replay FILE`) in a fresh terminal (100x30 unless told), after a
   * line that says so and with its process id in `pid`; the shell then prints its exit code.
   */
  function start(file: string, args = `replay ${file}`, rows = 30): void {
    session = `stadium-replay-${process.pid}-${++sessions}`;
    // The child runs without the coverage instrumentation it would inherit, which only slows it down.
    const stadiumCommand = `env -u NODE_V8_COVERAGE ${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} ${args}`;
    const run = `sh -c 'echo $$ > pid; exec ${stadiumCommand.replaceAll("'", "'\\''")}'`;
    const command = `cd ${JSON.stringify(dir)} && echo "before the replay" && ${run}; echo "exit code $?"; sleep 120`;
    const started = spawnSync('tmux', [
      'new-session',
      '-d',
      '-s',
      session,
      '-x',
      '100',
      '-y',
      String(rows),
      command,
    ]);
    expect(started.status).toBe(0);
  }
  afterEach(() => {
    spawnSync('tmux', ['kill-session', '-t', session]);
  });

  it('draws the replay, jumps to a violation with n, shows its chain, takes typed prompts, and quits with q', async () => {
    const index = new TraceIndex(trace);
    // n goes to the first violation after the time the replay opens at, just before the kill.
    const next = index.violations.findIndex((entry) => entry.t > index.previousTime(2_000_000)!);
    const violation = index.violations[next]!;
    start(trace);
    let shown = await until('stadium replay  faulty seed 1');
    expect(shown).toContain('dc-a');
    expect(shown).toContain('Partitions: none');
    expect(shown).toContain('opened just before the first fault, at 2.000000s; Home or 0: the start');
    tmux('send-keys', '-t', session, 'n');
    shown = await until(`Violation ${next + 1}/${index.violations.length}`);
    expect(shown).toContain('q quit');
    expect(shown).toContain(violation.violation.invariant);
    expect(shown).toContain('Chain:');
    expect(shown).toContain(`${formatTime(violation.t)} / 7.000000s`);
    tmux('send-keys', '-t', session, 'Right');
    shown = await until(`${formatTime(index.nextTime(violation.t)!)} / 7.000000s`);
    // A terminal delivers a typed line and its Enter in one chunk; the prompt must still take it.
    tmux('send-keys', '-t', session, 'g');
    await until('Go to');
    tmux('send-keys', '-t', session, '4s', 'Enter');
    shown = await until('4.000000s / 7.000000s');
    expect(shown).toContain('Partitions: dc-a | dc-b (#2)');
    tmux('send-keys', '-t', session, '/');
    await until('Filter');
    tmux('send-keys', '-t', session, 'topic:likes-2', 'Enter');
    shown = await until('Events matching "topic:likes-2"');
    tmux('send-keys', '-t', session, 'q');
    shown = await until('exit code 0');
  }, 180_000);

  it("stadium sim --replay: after q the terminal shows the run's report again, whole", async () => {
    // The replay draws on the alternate screen and never erases the terminal: the report printed
    // before it is there again when the person quits, the part that scrolled off a short terminal
    // included (ink erases the scrollback too when a frame is as tall as the terminal).
    start('', 'sim --scenario fault-free --seed 5 --replay', 20);
    let shown = await until('opened just before the first publish');
    expect(shown).toMatch(/^so far +published 0 /m);
    expect(shown).toMatch(/^whole run +published [1-9]/m);
    tmux('send-keys', '-t', session, 'Right');
    await until('␣ play');
    tmux('send-keys', '-t', session, 'q');
    await until('exit code 0');
    shown = tmux('capture-pane', '-p', '-S', '-', '-t', session);
    expect(shown.split('\n')[0]).toBe('before the replay');
    expect(shown).toContain('seed 5; reproduce with: stadium sim --scenario fault-free --seed 5');
    expect(shown).toContain('scenario            fault-free (seed 5)');
    expect(shown).toContain('replay it with: stadium replay .stadium/runs/fault-free-5.jsonl');
    expect(shown).not.toContain('stadium replay  fault-free');
  }, 180_000);

  it('killed (SIGTERM) in the replay, it gives the terminal back as it was and exits 143', async () => {
    start(trace);
    await until('stadium replay  faulty seed 1');
    process.kill(Number(readFileSync(join(dir, 'pid'), 'utf8')), 'SIGTERM');
    const shown = await until('exit code 143');
    expect(shown.split('\n')[0]).toBe('before the replay');
    expect(shown).not.toContain('stadium replay  faulty');
  }, 180_000);

  it('a trace rewritten under it ends the replay with one clear line and exit code 2', async () => {
    const copy = join(dir, 'copy.jsonl');
    writeFileSync(copy, readFileSync(trace));
    start('copy.jsonl');
    await until('stadium replay  faulty seed 1');
    writeFileSync(copy, readFileSync(trace, 'utf8').split('\n').slice(0, 200).join('\n'));
    tmux('send-keys', '-t', session, 'Right');
    const shown = await until('exit code 2');
    // The terminal may wrap the line; read it unwrapped.
    expect(shown.replace(/\n/g, '')).toContain('stadium: trace copy.jsonl changed since it was opened');
    expect(shown).not.toMatch(/\n\s+at /);
  }, 180_000);
});
