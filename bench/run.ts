/**
 * One benchmark run: the simulator, property throughput, fan-out (Stadium with its embedded store
 * and with Redis, best-effort and reliable, bare uWebSockets.js, Socket.IO with its Redis adapter),
 * memory per idle connection and dispatcher throughput in both delivery modes, all on this
 * machine, in this order, one thing at a time. The dispatcher cases use a private `redis-server`
 * where one can be started, so that Redis' CPU per publish can be read from it.
 * A measurement that fails is recorded in `errors` and the run goes on; every process it started
 * is stopped before it returns, and every Redis key it wrote is deleted.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { benchDispatcher } from './dispatcher.ts';
import type { DispatcherCase, DispatcherStore } from './dispatcher.ts';
import { runFanoutGroup } from './fanout.ts';
import type { DeliveryMode, FanoutCase, FanoutGroup, FanoutPlan } from './fanout.ts';
import { freePorts, redisClusterAvailable, startRedisCluster, startRedisServer } from '../prod/index.ts';
import type { RedisClusterProcess, RedisServerProcess } from '../prod/index.ts';
import { benchMemory } from './memory.ts';
import type { MemoryCase } from './memory.ts';
import { spawnStadium } from './processes.ts';
import { deleteKeys, redisProblem } from './redis.ts';
import { startBareUws, startSocketIo, startStadium } from './servers.ts';
import { benchOccupancy, defaultOccupancyBench, summarizeOccupancy } from './occupancy.ts';
import type { OccupancyBenchOptions, OccupancyBenchSummary } from './occupancy.ts';
import { benchSimulator } from './simulator.ts';
import type { SimulatorBench } from './simulator.ts';
import { checkTargets, compare, compareModes, units } from './summary.ts';
import type { BenchResults, Machine, PropertyBench } from './summary.ts';

export interface BenchOptions {
  quick: boolean;
  /** The simulator's scenario (the full run; --quick uses fault-free). */
  scenario: string;
  /** A redis:// URL with a database number; its keys are namespaced by a per-run prefix. */
  redisUrl: string;
  /** Progress lines (to stderr). */
  progress: (line: string) => void;
  command: string;
}

/** Sockets per load-client process: the machine allows 20,000 open files per process. */
const connectionsPerProcessMax = 10_000;

interface Plan {
  fanout: FanoutPlan;
  withRedis: boolean;
  memorySteps: number[];
  memoryServers: MemoryCase['server'][];
  dispatcher: {
    /** Requests in flight and events per request: one event each, and batch publishes. */
    shapes: { concurrency: number; batch: number }[];
    /** Modes measured with Redis; the embedded store is measured best-effort only in a full run. */
    modes: DeliveryMode[];
    warmupMs: number;
    windowMs: number;
  };
  propertyRuns: number;
  simulatorScenario: string;
  /** The occupancy bench's size (the full run: 10,000 viewers for 60 s). */
  occupancy: Partial<OccupancyBenchOptions>;
}

function planFor(options: BenchOptions): Plan {
  if (options.quick) {
    return {
      fanout: {
        steps: [{ connections: 1_000, rates: [100, null] }],
        warmupMs: 1_000,
        windowMs: 2_000,
        connectionsPerProcessMax,
      },
      withRedis: false,
      memorySteps: [],
      memoryServers: [],
      dispatcher: {
        shapes: [
          { concurrency: 32, batch: 1 },
          { concurrency: 16, batch: 16 },
        ],
        modes: ['best-effort', 'reliable'],
        warmupMs: 500,
        windowMs: 2_000,
      },
      propertyRuns: 20,
      simulatorScenario: 'fault-free',
      occupancy: { viewers: 2_000, durationMs: 20_000 },
    };
  }
  return {
    fanout: {
      steps: [
        { connections: 1_000, rates: [100, 500, 1_000, null] },
        { connections: 10_000, rates: [10, 50, 100, 120, null] },
      ],
      warmupMs: 1_500,
      windowMs: 4_000,
      connectionsPerProcessMax,
    },
    withRedis: true,
    memorySteps: [10_000, 19_000],
    memoryServers: ['stadium', 'bare-uws'],
    dispatcher: {
      shapes: [
        { concurrency: 64, batch: 1 },
        { concurrency: 16, batch: 16 },
        { concurrency: 16, batch: 64 },
      ],
      modes: ['best-effort', 'reliable'],
      warmupMs: 1_000,
      windowMs: 5_000,
    },
    propertyRuns: 300,
    simulatorScenario: options.scenario,
    occupancy: {},
  };
}

export function describeMachine(): Machine {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${platform()} ${release()}`,
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

export async function runBench(options: BenchOptions): Promise<BenchResults> {
  const started = Date.now();
  const plan = planFor(options);
  const { progress } = options;
  const skipped: string[] = [];
  const errors: string[] = [];
  const attempt = async <T>(what: string, work: () => Promise<T>): Promise<T | null> => {
    try {
      return await work();
    } catch (error) {
      const message = `${what}: ${error instanceof Error ? error.message : String(error)}`;
      errors.push(message);
      progress(`error: ${message}`);
      return null;
    }
  };

  const machine = describeMachine();
  const load = machine.loadAverage1m;
  if (load > 0.5 * cpus().length)
    progress(
      `warning: load average ${load} before the run: other work on this machine will pollute the figures`,
    );
  const redisDown = await redisProblem(options.redisUrl);
  const redisHost = options.redisUrl.replace(/^redis:\/\/([^/]*).*$/, '$1');
  if (redisDown !== null) {
    skipped.push(`Redis not reachable at ${redisHost} (${redisDown}): skipping the Redis measurements`);
    progress(`Redis not reachable at ${redisHost}: skipping the Redis measurements`);
  }
  const redis = redisDown === null ? options.redisUrl : null;
  const prefix = `stadium-bench:${process.pid}-${randomBytes(3).toString('hex')}:`;

  progress(`simulator: ${plan.simulatorScenario}…`);
  let simulator: SimulatorBench | null = null;
  try {
    simulator = benchSimulator(plan.simulatorScenario);
  } catch (error) {
    errors.push(`simulator: ${error instanceof Error ? error.message : String(error)}`);
  }

  const occupancyOptions = { ...defaultOccupancyBench, ...plan.occupancy };
  progress(
    `occupancy: ${occupancyOptions.viewers} viewers churning ${occupancyOptions.churnPerViewerPerMinute}/min, on and off…`,
  );
  let occupancy: OccupancyBenchSummary | null = null;
  try {
    occupancy = summarizeOccupancy(benchOccupancy(occupancyOptions));
  } catch (error) {
    errors.push(`occupancy: ${error instanceof Error ? error.message : String(error)}`);
  }

  progress(`property checks: ${plan.propertyRuns} scenarios…`);
  const properties = await attempt('property checks', () => benchProperties(plan.propertyRuns));

  const groups: FanoutGroup[] = [];
  for (const transport of ['sse', 'ws'] as const) {
    groups.push({
      label: `Stadium memory ${transport}`,
      store: 'memory',
      transport,
      mode: 'best-effort',
      start: () => startStadium([]),
    });
  }
  if (plan.withRedis && redis !== null) {
    for (const mode of ['best-effort', 'reliable'] as const) {
      for (const transport of ['sse', 'ws'] as const) {
        const modeFlags = mode === 'reliable' ? ['--mode', 'reliable'] : [];
        groups.push({
          label: `Stadium ${mode === 'reliable' ? 'reliable ' : ''}Redis ${transport}`,
          store: 'redis',
          transport,
          mode,
          start: () =>
            startStadium([
              ...modeFlags,
              '--store',
              redis,
              '--redis-prefix',
              `${prefix}${mode}-${transport}:`,
            ]),
        });
      }
    }
  } else if (!plan.withRedis) {
    skipped.push('Stadium with Redis: not in --quick');
    // The smoke check still runs reliable mode once, with the embedded store.
    groups.push({
      label: 'Stadium reliable memory ws',
      store: 'memory',
      transport: 'ws',
      mode: 'reliable',
      start: () => startStadium(['--mode', 'reliable']),
    });
  }
  for (const transport of ['sse', 'ws'] as const) {
    groups.push({ label: `bare uWS ${transport}`, store: 'none', transport, start: () => startBareUws() });
  }
  groups.push({
    label: `Socket.IO ${redis !== null ? 'Redis adapter' : 'in-memory adapter'}`,
    store: redis !== null ? 'redis' : 'memory',
    transport: 'socketio',
    start: () => startSocketIo(redis, `${prefix}socket.io`),
  });

  const fanout: FanoutCase[] = [];
  for (const group of groups) {
    progress(`fan-out: ${group.label}…`);
    const cases = await attempt(`fan-out ${group.label}`, () => runFanoutGroup(group, plan.fanout, progress));
    if (cases !== null) fanout.push(...cases);
  }

  const memory: MemoryCase[] = [];
  if (plan.memorySteps.length === 0) skipped.push('memory per idle connection: not in --quick');
  for (const server of plan.memoryServers) {
    for (const transport of ['sse', 'ws'] as const) {
      progress(`memory: ${server} ${transport}…`);
      const cases = await attempt(`memory ${server} ${transport}`, () =>
        benchMemory(server, transport, plan.memorySteps, connectionsPerProcessMax, progress),
      );
      if (cases !== null) memory.push(...cases);
    }
  }

  const dispatcher: DispatcherCase[] = [];
  const privateRedis = await attempt('private redis-server for the dispatcher', () =>
    startPrivateRedis(redis !== null, skipped),
  );
  // Beside one Redis, a private 3-master Redis Cluster (not in --quick runs: it takes seconds to form).
  const privateCluster: RedisClusterProcess | null =
    options.quick || privateRedis === null || !redisClusterAvailable()
      ? null
      : await attempt('private Redis Cluster for the dispatcher', () => startRedisCluster());
  try {
    const dispatcherStores: { store: DispatcherStore; modes: DeliveryMode[] }[] = [];
    if (privateRedis !== null)
      dispatcherStores.push({
        store: { kind: 'redis', url: privateRedis.url, prefix: `${prefix}dispatcher:`, private: true },
        modes: plan.dispatcher.modes,
      });
    else if (redis !== null)
      dispatcherStores.push({
        store: { kind: 'redis', url: redis, prefix: `${prefix}dispatcher:`, private: false },
        modes: plan.dispatcher.modes,
      });
    if (privateCluster !== null)
      dispatcherStores.push({
        store: {
          kind: 'redis-cluster',
          url: privateCluster.url,
          prefix: `${prefix}dispatcher:`,
          ports: privateCluster.ports,
        },
        modes: plan.dispatcher.modes,
      });
    if (!options.quick || redis === null)
      dispatcherStores.push({
        store: { kind: 'memory' },
        modes: redis === null ? plan.dispatcher.modes : ['best-effort'],
      });
    for (const { store, modes } of dispatcherStores) {
      for (const mode of modes) {
        for (const { concurrency, batch } of plan.dispatcher.shapes) {
          const label =
            `${store.kind} store, ${mode}, ` +
            `${batch === 1 ? 'one event' : `batches of ${batch}`} per request`;
          progress(`dispatcher: ${label}…`);
          const { warmupMs, windowMs } = plan.dispatcher;
          const result = await attempt(`dispatcher ${label}`, () =>
            benchDispatcher(store, { mode, concurrency, batch, warmupMs, windowMs }),
          );
          if (result !== null) {
            dispatcher.push(result);
            progress(
              `dispatcher ${label}: ${result.publishesPerSecond.toLocaleString('en-US')} publishes/s, ` +
                `p99 ${result.latency.p99Ms} ms` +
                (result.redisCpuUsPerPublish === null || result.redisCpuUsPerPublish === undefined
                  ? ''
                  : `, Redis ${result.redisCpuUsPerPublish} µs CPU/publish`) +
                (result.failures > 0 ? `, ${result.failures} failed: ${result.firstError}` : ''),
            );
          }
        }
      }
    }
  } finally {
    await privateRedis?.stop();
    await privateCluster?.stop();
  }

  if (redis !== null) {
    const deleted = await attempt('Redis cleanup', () => deleteKeys(redis, prefix));
    if (deleted !== null) progress(`Redis: deleted ${deleted} keys under ${prefix}`);
  }

  const comparisons = compare(fanout);
  const modeComparisons = compareModes(fanout, dispatcher);
  return {
    date: new Date(started).toISOString(),
    quick: options.quick,
    command: options.command,
    machine,
    settings: {
      warmupMs: plan.fanout.warmupMs,
      windowMs: plan.fanout.windowMs,
      connectionsPerProcessMax,
      workload:
        'every connection subscribed to one topic; ~40-byte payloads stamped by the publisher; ' +
        'steady publishing over 64 keep-alive connections, or flat out with 4 in flight',
      redis: redis === null ? null : redis.replace(/\/\/[^@/]*@/, '//***@'),
    },
    units,
    simulator,
    occupancy,
    properties,
    fanout,
    memory,
    dispatcher,
    comparisons,
    modeComparisons,
    targets: checkTargets({ fanout, memory, dispatcher, comparisons, modeComparisons }),
    skipped,
    errors,
    durationMs: Date.now() - started,
  };
}

/**
 * A `redis-server` of the bench's own for the dispatcher cases (nothing kept on disk, stopped at
 * the end), or null, with the reason in `skipped`, when the run has no Redis or none can be started
 * here: the dispatcher then uses the shared Redis and Redis CPU per publish is not measured.
 */
async function startPrivateRedis(wanted: boolean, skipped: string[]): Promise<RedisServerProcess | null> {
  if (!wanted) return null;
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore', timeout: 5_000 });
  if (probe.error !== undefined || probe.status !== 0) {
    skipped.push('Redis CPU per publish: no redis-server binary here to start a private Redis');
    return null;
  }
  const [port] = await freePorts('127.0.0.1', 16_479, 1);
  return startRedisServer(port!);
}

/** `stadium check --runs N --json` in its own process: scenarios per second. */
async function benchProperties(runs: number): Promise<PropertyBench> {
  const seed = 20261121;
  const child = spawnStadium(
    ['check', '--runs', String(runs), '--seed', String(seed), '--json'],
    'stadium check',
  );
  try {
    const line = await child.waitForLine(/^\{.*"durationMs".*\}$/, 300_000);
    const report = JSON.parse(line[0]) as { ok: boolean; runs: number; durationMs: number };
    if (!report.ok) throw new Error('stadium check found a violation (see `stadium check` output)');
    return {
      runs: report.runs,
      seed,
      durationMs: report.durationMs,
      scenariosPerSecond: Math.round((report.runs / Math.max(1, report.durationMs)) * 1000 * 10) / 10,
    };
  } finally {
    await child.stop();
  }
}
