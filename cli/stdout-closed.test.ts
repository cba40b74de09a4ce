// Goal: a closed stdout ends a command quietly (no stack trace) with the exit code its work had
// decided, 0 when it had decided none: never 1 for the pipe itself, which says "invariant violated".
// Method: the real command with its stdout a pipe whose reading end is closed before it writes, and
// the issue's shell pipelines into `head`.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const bin = join(import.meta.dirname, '..', 'bin', 'stadium.js');
const dir = mkdtempSync(join(tmpdir(), 'stadium-stdout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run stadium with stdout a pipe that nobody reads: its reading end is closed at once. */
function withClosedStdout(...args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  // The child needs far longer to start than this takes, so its first write meets a closed pipe.
  child.stdout.destroy();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

const quiet = (stderr: string): void => {
  expect(stderr).not.toMatch(/EPIPE|internal error|\n\s+at /);
};

describe('a closed stdout ends the command quietly', () => {
  it('stadium --help: exit 0', async () => {
    const run = await withClosedStdout('--help');
    quiet(run.stderr);
    expect(run.code).toBe(0);
  });

  it('stadium sim --list: exit 0', async () => {
    const run = await withClosedStdout('sim', '--list');
    quiet(run.stderr);
    expect(run.code).toBe(0);
  });

  it('stadium sim --json: the verdict decided before printing stands (0 held, 1 violated)', async () => {
    const held = await withClosedStdout(
      'sim',
      '--scenario',
      'fault-free',
      '--seed',
      '1',
      '--json',
      '--no-trace',
    );
    quiet(held.stderr);
    expect(held.stderr).toContain('reproduce with: stadium sim --scenario fault-free --seed 1');
    expect(held.code).toBe(0);
    const violated = await withClosedStdout(
      ...['sim', '--scenario', 'fault-free', '--seed', '1', '--json', '--no-trace'],
      ...['--plant-bug', 'skip-frontend'],
    );
    quiet(violated.stderr);
    expect(violated.code).toBe(1);
  });

  it('stadium check: ends at its first line, exit 0, in one thread or on worker threads', async () => {
    for (const workers of ['1', '2']) {
      const run = await withClosedStdout('check', '--runs', '1000', '--seed', '1', '--workers', workers);
      quiet(run.stderr);
      expect(run.code, `--workers ${workers}`).toBe(0);
    }
  });

  it('stadium cluster --json: stops its processes before it ends, exit 0', async () => {
    // Below the ephemeral range and random, so parallel test files do not race for ports.
    const port = 10_000 + Math.floor(Math.random() * 20_000);
    const answers = async (p: number): Promise<boolean> =>
      fetch(`http://127.0.0.1:${p}/healthz`).then(
        () => true,
        () => false,
      );
    expect([await answers(port), await answers(port + 1)]).toEqual([false, false]);
    const run = await withClosedStdout(
      ...['cluster', '--dcs', '1', '--frontends', '1', '--base-port', String(port), '--json'],
    );
    quiet(run.stderr);
    // It had started (its nodes logged), printed its endpoints into the closed pipe, and stopped them.
    expect(run.stderr).toMatch(/\[dc-a\/frontend-1\] \{"time"/);
    expect(run.code).toBe(0);
    expect([await answers(port), await answers(port + 1)]).toEqual([false, false]);
  });

  it("the issue's pipelines into head: exit 0, nothing on stderr but the hints", () => {
    for (const pipeline of [
      'stadium --help | head -1',
      'stadium sim --list | head -2',
      'stadium sim --scenario fault-free --seed 1 --no-trace --json | head -c0',
    ]) {
      const script = `${pipeline.replace('stadium', `"${process.execPath}" "${bin}"`)} >/dev/null; echo "exit $\{PIPESTATUS[0]}" >&2`;
      const run = spawnSync('bash', ['-c', script], { cwd: dir, encoding: 'utf8' });
      quiet(run.stderr);
      expect(run.stderr.trim().split('\n').at(-1), pipeline).toBe('exit 0');
    }
  });
});
