/**
 * A local multi-process, multi-datacenter deployment: `stadium cluster`. Every node is its own
 * `stadium serve` process, exactly as it would run on its own machine; this module only picks
 * ports, wires the URLs together, waits for every /healthz, prefixes the children's logs, and stops
 * them all on request.
 *
 * Each datacenter's dispatchers share one subscription store. With Redis that is one key prefix
 * per datacenter (on one Redis, or on each datacenter's own when given one URL per datacenter);
 * without it, a datacenter has a single dispatcher that embeds the memory store.
 * One node can be killed and started again (same port, same arguments) for fault measurements.
 * The nodes share a random internal token, so only they can use each other's /internal/ endpoint.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { isRedisClusterUrl, parseRedisClusterUrl } from './redis-cluster-url.ts';
import type { DcId, DeliveryMode, NodeId } from '../core/index.ts';
import type { LogLevel } from './config.ts';

export interface ClusterOptions {
  /** Every process runs this delivery mode (a deployment never mixes them); best-effort when absent. */
  mode?: DeliveryMode;
  dcs: number;
  frontends: number;
  dispatchers: number;
  /**
   * A redis:// URL shared by every datacenter, one URL per datacenter (in order: dc-a first), or
   * null for one memory-store dispatcher per datacenter.
   */
  redis: string | readonly string[] | null;
  /** Prefix of every key; each datacenter appends `<dc>:`. */
  redisPrefix: string;
  host: string;
  basePort: number;
  leaseMs: number | null;
  logLevel: LogLevel;
  /** Passed to every `stadium serve`, e.g. `['--payload-limit', '1024']`. */
  serveArgs: string[];
  /** How to start one node: the command and the arguments before `serve ...`. */
  command: { file: string; args: string[] };
  /** Where the children's prefixed log lines go. */
  logSink: (line: string) => void;
  readyTimeoutMs: number;
}

export interface ClusterNode {
  name: string;
  dc: DcId;
  role: 'dispatcher' | 'frontend';
  url: NodeId;
  pid: number;
}

export interface ClusterDc {
  name: DcId;
  dispatchers: ClusterNode[];
  frontends: ClusterNode[];
}

export interface RunningCluster {
  dcs: ClusterDc[];
  /** Signal one node (SIGKILL by default); resolves once it has exited (at once for SIGSTOP/SIGCONT). */
  kill(node: ClusterNode, signal?: NodeJS.Signals): Promise<void>;
  /** Start a node that exited again, same port and arguments; resolves once its /healthz says ok. */
  restart(node: ClusterNode): Promise<void>;
  /** SIGTERM to every child, SIGKILL to any still alive after `graceMs`; resolves when all exited. */
  stop(graceMs?: number): Promise<void>;
}

export class ClusterError extends Error {
  override name = 'ClusterError';
}

/** `dc-a`, `dc-b`, ... `dc-z`, then `dc-27`... */
export function dcName(index: number): DcId {
  return index < 26 ? `dc-${String.fromCharCode(97 + index)}` : `dc-${index + 1}`;
}

export async function startCluster(options: ClusterOptions): Promise<RunningCluster> {
  const redisOf = (d: number): string | null =>
    options.redis === null || typeof options.redis === 'string' ? options.redis : (options.redis[d] ?? null);
  if (typeof options.redis !== 'string' && options.redis !== null && options.redis.length !== options.dcs) {
    throw new ClusterError(
      `${options.redis.length} Redis URLs for ${options.dcs} datacenters: give one each`,
    );
  }
  // A dead store would leave every dispatcher degraded: say so before starting anything.
  for (const url of new Set(Array.from({ length: options.dcs }, (_, d) => redisOf(d)))) {
    if (url !== null) await checkRedis(url);
  }
  const ports = await freePorts(
    options.host,
    options.basePort,
    options.dcs * (options.dispatchers + options.frontends),
  );
  const url = (port: number): NodeId => `http://${options.host}:${port}`;
  const plan: ClusterDc[] = [];
  let next = 0;
  for (let d = 0; d < options.dcs; d++) {
    const dc = dcName(d);
    const node = (role: ClusterNode['role'], i: number): ClusterNode => ({
      name: `${dc}/${role}-${i + 1}`,
      dc,
      role,
      url: url(ports[next++] as number),
      pid: 0,
    });
    const dispatchers = Array.from({ length: options.dispatchers }, (_, i) => node('dispatcher', i));
    const frontends = Array.from({ length: options.frontends }, (_, i) => node('frontend', i));
    plan.push({ name: dc, dispatchers, frontends });
  }

  // One secret per cluster run guards /internal/ (in the environment, so `ps` does not show it).
  const env = { ...withoutStadiumEnv(process.env), STADIUM_INTERNAL_TOKEN: randomBytes(16).toString('hex') };
  const children = new Map<ChildProcess, ClusterNode>();
  const exited = new Set<ChildProcess>();
  const argsOf = new Map<ClusterNode, string[]>();
  let stopping = false;
  const common = [
    '--mode',
    options.mode ?? 'best-effort',
    '--host',
    options.host,
    '--log-level',
    options.logLevel,
  ];
  if (options.leaseMs !== null) common.push('--lease-ms', String(options.leaseMs));
  plan.forEach((dc, d) => {
    const peers = plan
      .filter((other) => other !== dc)
      .flatMap((other) => other.dispatchers.map((n) => `${other.name}=${n.url}`))
      .join(',');
    for (const node of [...dc.dispatchers, ...dc.frontends]) {
      const args = [
        'serve',
        '--role',
        node.role,
        '--dc',
        dc.name,
        '--port',
        new URL(node.url).port,
        ...common,
      ];
      args.push('--public-url', node.url);
      if (node.role === 'dispatcher') {
        args.push('--store', redisOf(d) ?? 'memory', '--redis-prefix', `${options.redisPrefix}${dc.name}:`);
        if (peers !== '') args.push('--peers', peers);
      } else {
        args.push('--dispatchers', dc.dispatchers.map((n) => n.url).join(','));
      }
      args.push(...options.serveArgs);
      argsOf.set(node, args);
    }
  });
  const childOf = (node: ClusterNode): ChildProcess | undefined =>
    [...children].find(([, n]) => n === node)?.[0];
  const launch = (node: ClusterNode): ChildProcess => {
    const child = spawn(options.command.file, [...options.command.args, ...(argsOf.get(node) ?? [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    const previous = childOf(node);
    if (previous !== undefined) children.delete(previous);
    node.pid = child.pid ?? 0;
    children.set(child, node);
    prefixLines(child.stdout, node.name, options.logSink);
    prefixLines(child.stderr, node.name, options.logSink);
    child.on('exit', (code, signal) => {
      exited.add(child);
      if (!stopping) {
        options.logSink(
          `[cluster] ${node.name} exited (${signal !== null ? `signal ${signal}` : `code ${code}`}); the others keep running`,
        );
      }
    });
    return child;
  };
  for (const node of argsOf.keys()) launch(node);

  const kill = async (node: ClusterNode, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const child = childOf(node);
    if (child === undefined || exited.has(child)) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    if (signal !== 'SIGSTOP' && signal !== 'SIGCONT') await gone;
  };
  const restart = async (node: ClusterNode): Promise<void> => {
    const previous = childOf(node);
    if (previous !== undefined && !exited.has(previous)) {
      throw new ClusterError(`${node.name} is still running (pid ${node.pid}): kill it before restarting it`);
    }
    const child = launch(node);
    await waitHealthy(node, () => exited.has(child), options.readyTimeoutMs);
  };

  const stop = async (graceMs = 5_000): Promise<void> => {
    stopping = true;
    const waits = [...children.keys()].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (exited.has(child) || child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    );
    await Promise.all(waits);
  };

  try {
    await Promise.all(
      [...children].map(([child, node]) =>
        waitHealthy(node, () => exited.has(child), options.readyTimeoutMs),
      ),
    );
  } catch (error) {
    await stop(1_000);
    throw error;
  }
  return { dcs: plan, kill, restart, stop };
}

/** Connect to `url` (one Redis, or a Redis Cluster) and PING, or throw a ClusterError naming what is wrong. */
async function checkRedis(url: string): Promise<void> {
  const cluster = isRedisClusterUrl(url) ? parseRedisClusterUrl(url) : null;
  if (typeof cluster === 'string') throw new ClusterError(`bad Redis Cluster URL ${url}: ${cluster}`);
  const redis =
    cluster === null
      ? new Redis(url, {
          lazyConnect: true,
          connectTimeout: 2_000,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        })
      : new Cluster(cluster.nodes, {
          lazyConnect: true,
          clusterRetryStrategy: () => null,
          redisOptions: {
            connectTimeout: 2_000,
            maxRetriesPerRequest: 0,
            ...(cluster.username === undefined ? {} : { username: cluster.username }),
            ...(cluster.password === undefined ? {} : { password: cluster.password }),
          },
        });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new ClusterError(
      `cannot reach Redis at ${url} (${error instanceof Error ? error.message : String(error)}): start it, or leave out --redis to give each datacenter a memory store`,
    );
  } finally {
    redis.disconnect();
  }
}

/** Until `/healthz` says `ok` (200); a node whose store stays down is named as such. */
async function waitHealthy(node: ClusterNode, hasExited: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let degraded: { store?: string } | null = null;
  while (Date.now() < deadline) {
    if (hasExited()) throw new ClusterError(`${node.name} exited before it was ready (see its log above)`);
    try {
      const response = await fetch(`${node.url}/healthz`, { signal: AbortSignal.timeout(1_000) });
      const health = (await response.json()) as { status?: string; store?: string };
      if (response.ok) return;
      if (health.status === 'degraded') degraded = health;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (degraded !== null)
    throw new ClusterError(`${node.name} reports its store down (${node.url}/healthz): see its log above`);
  throw new ClusterError(`${node.name} did not answer ${node.url}/healthz within ${timeoutMs} ms`);
}

/** `count` ports, from `basePort` upwards, that nothing listens on right now. */
export async function freePorts(host: string, basePort: number, count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let port = basePort; ports.length < count; port++) {
    if (port > 65535) throw new ClusterError(`not enough free ports from ${basePort}`);
    if (await portFree(host, port)) ports.push(port);
  }
  return ports;
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function prefixLines(stream: NodeJS.ReadableStream | null, name: string, sink: (line: string) => void): void {
  if (stream === null) return;
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      sink(`[${name}] ${buffered.slice(0, newline)}`);
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
    }
  });
  stream.on('end', () => {
    if (buffered !== '') sink(`[${name}] ${buffered}`);
  });
}

/** The environment without `STADIUM_*` variables: a child's settings come from its flags only. */
export function withoutStadiumEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) if (!key.startsWith('STADIUM_')) copy[key] = value;
  return copy;
}

/** The endpoints, for people: where to publish, where to stream, per datacenter. */
export function describeCluster(dcs: ClusterDc[], topic = 'likes'): string {
  const lines: string[] = [];
  for (const dc of dcs) {
    const publish = dc.dispatchers[0]?.url ?? '';
    const stream = dc.frontends[0]?.url ?? '';
    lines.push(
      `${dc.name}`,
      `  publish  curl -X POST ${publish}/v1/publish -d '{"topic":"${topic}","payload":"hi"}'`,
      `           dispatchers: ${dc.dispatchers.map((n) => n.url).join(' ')}`,
      `  stream   curl -N '${stream}/v1/stream?topic=${topic}'`,
      `  ws       ${stream.replace(/^http/, 'ws')}/v1/ws`,
      `           frontends: ${dc.frontends.map((n) => n.url).join(' ')}`,
    );
  }
  return lines.join('\n');
}
