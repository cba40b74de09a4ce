// Goal: a chaos run leaves no process behind when its harness is interrupted (Ctrl-C) or killed
// outright (SIGKILL, which it cannot catch). Method: run `stadium chaos` on the short scenario in a
// child process, wait until every node and redis-server of the run is up (its pids.json), signal
// the harness, and check that every one of those processes is gone within a few seconds.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sleep, waitFor } from '../prod/wait-for.ts';
import { redisServerGate } from '../prod/test-gate.ts';

const gate = redisServerGate();
const root = join(import.meta.dirname, '..');
const scenario = join(import.meta.dirname, 'short-scenario.json');

interface Pids {
  nodes: Record<string, number | null>;
  stores: Record<string, number>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Start a run; resolve once every node and store of it is running, with the harness and their pids. */
async function startRun(): Promise<{
  harness: ReturnType<typeof spawn>;
  pids: number[];
  exited: Promise<number | null>;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'stadium-chaos-cleanup-'));
  const harness = spawn(
    process.execPath,
    [
      join(root, 'bin/stadium.js'),
      'chaos',
      '--scenario',
      scenario,
      '--seed',
      '1',
      '--no-trace',
      '--dir',
      dir,
    ],
    { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  harness.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => harness.once('exit', (code) => resolve(code)));
  const file = join(dir, 'pids.json');
  await waitFor(() => stderr.includes('running'), `the run to start (stderr: ${stderr.slice(-300)})`, 45_000);
  expect(existsSync(file)).toBe(true);
  const listed = JSON.parse(readFileSync(file, 'utf8')) as Pids;
  const pids = [...Object.values(listed.nodes), ...Object.values(listed.stores)].filter(
    (pid): pid is number => typeof pid === 'number' && pid > 0,
  );
  // Two datacenters: 2 + 1 frontends, 1 + 1 dispatchers, and a redis-server each.
  expect(pids).toHaveLength(7);
  expect(pids.every(alive)).toBe(true);
  return { harness, pids, exited };
}

if (!gate.up && !gate.required) {
  it.skip(gate.skipMessage, () => {});
} else {
  describe('chaos: nothing outlives the harness', () => {
    it('Ctrl-C (SIGINT): every process is stopped, and the harness exits 130', async () => {
      if (!gate.up) throw new Error(gate.requiredMessage);
      const { harness, pids, exited } = await startRun();
      harness.kill('SIGINT');
      expect(await exited).toBe(130);
      await waitFor(() => pids.every((pid) => !alive(pid)), 'every process of the run to be gone', 10_000);
    }, 90_000);

    it('SIGKILL of the harness: every node and redis-server dies with it', async () => {
      if (!gate.up) throw new Error(gate.requiredMessage);
      const { harness, pids, exited } = await startRun();
      harness.kill('SIGKILL');
      await exited;
      await sleep(200);
      await waitFor(() => pids.every((pid) => !alive(pid)), 'every process of the run to be gone', 10_000);
    }, 90_000);
  });
}
