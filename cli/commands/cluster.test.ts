// Goal: `stadium cluster` without Redis starts one memory-store dispatcher per datacenter, wires
// the datacenters together and stops cleanly; bad flags of `serve` and `cluster` exit 2 with one line.
// Method: run bin/stadium.js as a child process, as a user would.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'stadium.js');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Below the ephemeral range and random, so parallel test files do not race for ports. */
function randomBasePort(): number {
  return 10_000 + Math.floor(Math.random() * 20_000);
}

describe('bad flags exit 2 with one clear line', () => {
  it.each([
    [['serve', '--role', 'frontend'], '--role frontend needs --dispatchers'],
    [['serve', '--slow-client-policy', 'maybe'], '--slow-client-policy must be one of close, drop'],
    [['cluster', '--dispatchers', '2'], '--dispatchers above 1 needs --redis'],
    [['cluster', '--dcs', 'many'], '--dcs must be an integer'],
    [['cluster', '--redis', 'redis://127.0.0.1:1'], 'cannot reach Redis at redis://127.0.0.1:1'],
    [['serve', '--occupancy-every-ms', 'often'], '--occupancy-every-ms must be an integer from 0 to 60000'],
    [
      ['serve', '--occupancy-every-ms', '50'],
      '--occupancy-every-ms must be 0 (off) or from 100 to 60000, got 50',
    ],
    [['cluster', '--occupancy-every-ms', '50'], '--occupancy-every-ms must be 0 (off) or from 100 to 60000'],
  ])('stadium %j', (args, message) => {
    const run = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(message);
  });
});

describe('stadium cluster without Redis', () => {
  const children: ReturnType<typeof spawn>[] = [];
  afterAll(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('2 datacenters of one dispatcher and one frontend: a publish in dc-a reaches a viewer in dc-b; SIGTERM exits 0', async () => {
    const cluster = spawn(
      process.execPath,
      [bin, 'cluster', '--dcs', '2', '--frontends', '1', '--base-port', String(randomBasePort()), '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(cluster);
    const exit = new Promise<number | null>((resolve) => cluster.once('exit', resolve));
    let stdout = '';
    let stderr = '';
    cluster.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    cluster.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = Date.now() + 30_000;
    while (!stdout.includes('\n') && cluster.exitCode === null && Date.now() < deadline) await sleep(50);
    expect(stdout, stderr).toContain('\n');
    const { dcs } = JSON.parse(stdout.split('\n')[0]!) as {
      dcs: { name: string; dispatchers: { url: string }[]; frontends: { url: string }[] }[];
    };
    expect(dcs.map((dc) => [dc.name, dc.dispatchers.length, dc.frontends.length])).toEqual([
      ['dc-a', 1, 1],
      ['dc-b', 1, 1],
    ]);
    expect(stderr).toMatch(/\[dc-b\/frontend-1\] \{"time"/);

    const controller = new AbortController();
    const stream = await fetch(`${dcs[1]!.frontends[0]!.url}/v1/stream?topic=cheer`, {
      signal: controller.signal,
    });
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let received = '';
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: '', done: true }));
        if (done) return;
        received += value;
      }
    })();
    for (let i = 0; i < 100 && !received.includes('"payload":"hurray"'); i++) {
      await fetch(`${dcs[0]!.dispatchers[0]!.url}/v1/publish`, {
        method: 'POST',
        body: JSON.stringify({ topic: 'cheer', payload: 'hurray', id: 'hurray-1' }),
      });
      await sleep(100);
    }
    expect(received).toContain('"origin":"dc-a"');
    expect(received.split('id: hurray-1').length - 1).toBe(1);
    controller.abort();
    await reading;

    cluster.kill('SIGTERM');
    expect(await exit).toBe(0);
  });
});
