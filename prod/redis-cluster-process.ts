/**
 * A private Redis Cluster of three masters (no replicas) for tests and measurements: each node a
 * `redis-server --cluster-enabled yes` on a free port (its cluster bus on port + 10000), nothing kept
 * on disk, its nodes file in a temporary directory removed at `stop()`; the slots assigned by
 * `redis-cli --cluster create`, and ready once every node says `cluster_state:ok`. It never touches a
 * Redis it did not start. Where util-linux' `setpriv` exists each server is tied to this process'
 * life (`--pdeathsig KILL`), so a harness killed mid-run leaves no server behind.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { answersPing } from './redis-server-process.ts';
import { sleep } from './wait-for.ts';

export interface RedisClusterProcess {
  /** The masters' ports, in the order given to `redis-cli --cluster create`. */
  readonly ports: readonly number[];
  /** `redis-cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`: the store URL `stadium serve` takes. */
  readonly url: string;
  /** SIGKILL one node (by its index in `ports`), and resolve once it is gone. */
  kill(node: number): Promise<void>;
  /** Start a killed node again with its nodes file (it rejoins, empty), and resolve once it answers PING. */
  restart(node: number): Promise<void>;
  /** Stop every node (SIGKILL: there is nothing to save) and remove the temporary directory. */
  stop(): Promise<void>;
}

export class RedisClusterError extends Error {
  override name = 'RedisClusterError';
}

const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path)) ?? null;

/** Whether `redis-server` and `redis-cli` can both be run here. */
export function redisClusterAvailable(server = 'redis-server', cli = 'redis-cli'): boolean {
  return [server, cli].every((binary) => {
    const probe = spawnSync(binary, ['--version'], { stdio: 'ignore', timeout: 5_000 });
    return probe.error === undefined && probe.status === 0;
  });
}

/** `count` ports P, each free with P + 10000 (its cluster bus) free too, from a random start. */
async function freeClusterPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  let port = 20_000 + Math.floor(Math.random() * 20_000);
  for (let tries = 0; ports.length < count; tries++, port++) {
    if (tries > 2_000) throw new RedisClusterError('no free ports for a Redis Cluster');
    if ((await portFree(port)) && (await portFree(port + 10_000))) ports.push(port);
  }
  return ports;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export async function startRedisCluster(
  options: { masters?: number; server?: string; cli?: string } = {},
): Promise<RedisClusterProcess> {
  // A port found free can be taken by another process before its server binds it: try other ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnFreePorts(options);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof RedisClusterError) || !/exited at start/.test(error.message))
        throw error;
    }
  }
}

async function startOnFreePorts(options: {
  masters?: number;
  server?: string;
  cli?: string;
}): Promise<RedisClusterProcess> {
  const masters = options.masters ?? 3;
  const server = options.server ?? 'redis-server';
  const cli = options.cli ?? 'redis-cli';
  const dir = mkdtempSync(join(tmpdir(), 'stadium-redis-cluster-'));
  const ports = await freeClusterPorts(masters);
  const children: (ChildProcess | null)[] = ports.map(() => null);
  const exits: Promise<void>[] = ports.map(() => Promise.resolve());
  const stderr: string[] = ports.map(() => '');

  const launch = async (node: number): Promise<void> => {
    const port = ports[node]!;
    const command = [
      server,
      ...['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes'],
      ...['--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000'],
      ...['--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir, '--loglevel', 'warning'],
    ];
    const [file, ...args] = setpriv === null ? command : [setpriv, '--pdeathsig', 'KILL', '--', ...command];
    const started = spawn(file!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    started.stderr?.setEncoding('utf8');
    started.stderr?.on('data', (text: string) => (stderr[node] = (stderr[node]! + text).slice(-2_000)));
    children[node] = started;
    exits[node] = new Promise((resolve) => started.once('exit', () => resolve()));
    const deadline = Date.now() + 5_000;
    while (!(await answersPing(port))) {
      if (started.exitCode !== null || started.signalCode !== null) {
        throw new RedisClusterError(`redis-server on port ${port} exited at start: ${stderr[node]!.trim()}`);
      }
      if (Date.now() > deadline)
        throw new RedisClusterError(`redis-server on port ${port} did not answer PING`);
      await sleep(10);
    }
  };
  const kill = async (node: number): Promise<void> => {
    const running = children[node];
    if (running === null || running === undefined || running.exitCode !== null || running.signalCode !== null)
      return;
    running.kill('SIGKILL');
    await exits[node];
  };
  const stop = async (): Promise<void> => {
    await Promise.all(ports.map((_, node) => kill(node)));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (let node = 0; node < masters; node++) await launch(node);
    const create = spawnSync(
      cli,
      ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (create.status !== 0) {
      throw new RedisClusterError(
        `redis-cli --cluster create failed (${create.status ?? create.signal}): ${(create.stdout + create.stderr).trim().slice(-1_000)}`,
      );
    }
    await untilClusterOk(ports);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    ports,
    url: `redis-cluster://${ports.map((port) => `127.0.0.1:${port}`).join(',')}`,
    kill,
    restart: async (node) => {
      await launch(node);
    },
    stop,
  };
}

/** Until every node answers `cluster_state:ok` and knows every other node (or 20 s pass). */
export async function untilClusterOk(ports: readonly number[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    let ok = true;
    for (const port of ports) {
      const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
      redis.on('error', () => {});
      try {
        await redis.connect();
        const info = await redis.cluster('INFO');
        const known = Number(/cluster_known_nodes:(\d+)/.exec(info)?.[1] ?? 0);
        if (!info.includes('cluster_state:ok') || known < ports.length) {
          ok = false;
          last = `port ${port}: ${info.split('\n').slice(0, 3).join(' ').trim()}`;
        }
      } catch (error) {
        ok = false;
        last = `port ${port}: ${String(error)}`;
      } finally {
        redis.disconnect();
      }
      if (!ok) break;
    }
    if (ok) return;
    if (Date.now() > deadline)
      throw new RedisClusterError(`Redis Cluster not ok after ${timeoutMs} ms (${last})`);
    await sleep(100);
  }
}
