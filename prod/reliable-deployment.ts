/**
 * The deployment the reliable fault measurements and the soak run against: every datacenter its
 * own private `redis-server` (prod/redis-server-process.ts: a free port, nothing on disk, so a
 * restart comes back empty), and `stadium cluster`'s processes (`startCluster`) in the mode asked,
 * each datacenter's dispatchers on its own Redis. Every process is tied to this one's life where
 * `setpriv` exists. It also reads what the soak reports per process: resident memory (VmRSS).
 */
import { readFileSync } from 'node:fs';
import type { DcId, DeliveryMode } from '../core/index.ts';
import { freePorts, startCluster } from './cluster.ts';
import type { ClusterDc, ClusterNode, RunningCluster } from './cluster.ts';
import type { LogLevel } from './config.ts';
import { randomPort, stadiumCommand } from './loss-window-harness.ts';
import { startRedisServer } from './redis-server-process.ts';
import type { RedisServerProcess } from './redis-server-process.ts';
import { sleep } from './wait-for.ts';

export interface DeploymentOptions {
  dcs: number;
  frontends: number;
  dispatchers: number;
  mode: DeliveryMode;
  leaseMs: number;
  logLevel: LogLevel;
  /** Every line the processes log, prefixed with the node's name. */
  logSink: (line: string) => void;
  redisBinary: string;
  /** More `stadium serve` arguments for every node. */
  serveArgs: string[];
}

export function deploymentDefaults(): DeploymentOptions {
  return {
    dcs: 2,
    frontends: 2,
    dispatchers: 2,
    mode: 'reliable',
    leaseMs: 1_500,
    logLevel: 'warn',
    logSink: () => {},
    redisBinary: 'redis-server',
    serveArgs: [],
  };
}

export interface Deployment {
  readonly options: DeploymentOptions;
  readonly cluster: RunningCluster;
  readonly dcs: ClusterDc[];
  /** Each datacenter's own Redis. */
  readonly redis: Map<DcId, RedisServerProcess>;
  /** The datacenter of a dispatcher's or frontend's base URL. */
  dcOf(url: string): DcId;
  /** Every process now running: the stadium nodes and the Redis servers, with their current pid. */
  processes(): { name: string; pid: number }[];
  /** Until every node's /healthz answers 200, or fail naming those that do not. */
  healthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startDeployment(options: DeploymentOptions): Promise<Deployment> {
  const redis = new Map<DcId, RedisServerProcess>();
  const stopRedis = async (): Promise<void> => {
    for (const server of redis.values()) await server.stop();
  };
  let cluster: RunningCluster;
  try {
    const ports = await freePorts('127.0.0.1', randomPort(), options.dcs);
    const servers: RedisServerProcess[] = [];
    for (const port of ports) servers.push(await startRedisServer(port, options.redisBinary));
    cluster = await startCluster({
      dcs: options.dcs,
      frontends: options.frontends,
      dispatchers: options.dispatchers,
      redis: servers.map((s) => s.url),
      redisPrefix: 'stadium-faults:',
      host: '127.0.0.1',
      basePort: randomPort(),
      leaseMs: options.leaseMs,
      logLevel: options.logLevel,
      mode: options.mode,
      serveArgs: options.serveArgs,
      command: stadiumCommand(),
      logSink: options.logSink,
      readyTimeoutMs: 120_000,
    });
    cluster.dcs.forEach((dc, i) => redis.set(dc.name, servers[i]!));
  } catch (error) {
    await stopRedis();
    throw error;
  }
  const nodes = (): ClusterNode[] => cluster.dcs.flatMap((dc) => [...dc.dispatchers, ...dc.frontends]);
  const dcByUrl = new Map(nodes().map((n) => [n.url, n.dc]));
  return {
    options,
    cluster,
    dcs: cluster.dcs,
    redis,
    dcOf(url) {
      const dc = dcByUrl.get(url);
      if (dc === undefined) throw new Error(`${url} is no node of this deployment`);
      return dc;
    },
    processes: () => [
      ...nodes().map((n) => ({ name: n.name, pid: n.pid })),
      ...[...redis].map(([dc, server]) => ({ name: `${dc}/redis`, pid: server.pid() })),
    ],
    async healthy(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let sick = nodes();
      while (sick.length > 0) {
        const answers = await Promise.all(sick.map((node) => healthOk(node.url)));
        sick = sick.filter((_, i) => !answers[i]);
        if (sick.length === 0) return;
        if (Date.now() > deadline)
          throw new Error(`not healthy within ${timeoutMs} ms: ${sick.map((n) => n.name).join(', ')}`);
        await sleep(100);
      }
    },
    async stop() {
      await cluster.stop(3_000);
      await stopRedis();
    },
  };
}

async function healthOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) });
    await response.text();
    return response.ok;
  } catch {
    return false;
  }
}

/** A process' resident memory in MB (VmRSS of /proc/<pid>/status), or null where it cannot be read. */
export function residentMb(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? null : Number(match[1]) / 1024;
  } catch {
    return null;
  }
}
