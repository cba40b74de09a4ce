/**
 * The loss window around a store restart or a frozen frontend, measured on real processes.
 *
 * Theory of operation
 * - Deployment: a private `redis-server` on a free port (never the shared one on 6379),
 *   and one datacenter of `stadium serve` processes (2 dispatchers, 2 frontends by default) started
 *   by `startCluster` with a short lease; the nodes share a random internal token.
 * - Viewers: raw SSE and WebSocket viewers (prod/raw-viewers.ts) on one topic on every frontend;
 *   probe publishes run until every viewer has received one, so every registration is in the store.
 * - Publishing: one publish every `publishEveryMs`, alternating between the dispatchers, each with
 *   its own publisher-chosen id; every publish keeps its send time, status, whole reply body and
 *   answer time. A slow answer (a 503 after the store timeout) does not hold the next publish back,
 *   as it would not for many independent publishers: a publisher waiting on its answers would
 *   send nothing during exactly the stretch being measured. Past `inFlightMax` unanswered
 *   publishes a tick is skipped.
 * - Fault, after `beforeFaultMs` of steady publishing:
 *   `redis`: SIGKILL the redis-server, restart it empty on the same port `redisGapMs` later; healed
 *   once it answers PING. `freeze`: SIGSTOP one frontend for `freezeMs` (longer than its lease),
 *   then SIGCONT; healed at SIGCONT.
 * - Watching, all along: the topic's hash in Redis every `watchEveryMs` (which frontends hold a live
 *   lease, read without touching it), and every dispatcher's /healthz (its view of the store). Their
 *   changes make the timeline and the phases that lost publishes are sorted into.
 * - After `afterHealMs` more of publishing: wait for deliveries to drain, read every node's
 *   counters from /metrics, stop everything, and judge with `lossReport` (prod/loss-report.ts).
 *
 * The parts: prod/loss-window-harness.ts (processes, viewers), prod/loss-window-publisher.ts,
 * prod/loss-window-fault.ts, prod/loss-window-watchers.ts; the command line is prod/loss-window.ts
 * and its report prod/loss-window-format.ts.
 */
import { randomBytes } from 'node:crypto';
import { freePorts, startCluster } from './cluster.ts';
import type { LogLevel } from './config.ts';
import { lossReport } from './loss-report.ts';
import type { LossReport, Phase, PublishRecord } from './loss-report.ts';
import { injectFault, phasesOf } from './loss-window-fault.ts';
import type { LossFault } from './loss-window-fault.ts';
import { connectViewers, randomPort, signal, stadiumCommand } from './loss-window-harness.ts';
import { drain, startPublishing, untilRegistered } from './loss-window-publisher.ts';
import { readMetrics, watchHealth, watchStore } from './loss-window-watchers.ts';
import { startRedisServer } from './redis-server-process.ts';
import { sleep } from './wait-for.ts';

export interface LossWindowOptions {
  fault: LossFault;
  leaseMs: number;
  frontends: number;
  dispatchers: number;
  sseViewersPerFrontend: number;
  wsViewersPerFrontend: number;
  publishEveryMs: number;
  /** Unanswered publishes at most; a tick past it sends nothing. */
  inFlightMax: number;
  beforeFaultMs: number;
  afterHealMs: number;
  /** `redis`: how long the store stays dead before it restarts empty. */
  redisGapMs: number;
  /** `freeze`: how long the frontend stays stopped. */
  freezeMs: number;
  /** Publishes sent this long after the heal must all arrive (the report's `lost.afterSettle`). */
  settleMs: number;
  watchEveryMs: number;
  /** Longest wait for deliveries once publishing stopped. */
  drainMsMax: number;
  logLevel: LogLevel;
  /** Every line the stadium processes log, prefixed with the node's name. */
  logSink: (line: string) => void;
  redisBinary: string;
}

export function lossWindowDefaults(fault: LossFault, leaseMs = 1_500): LossWindowOptions {
  return {
    fault,
    leaseMs,
    frontends: 2,
    dispatchers: 2,
    sseViewersPerFrontend: 3,
    wsViewersPerFrontend: 1,
    publishEveryMs: 5,
    inFlightMax: 256,
    beforeFaultMs: 1_000,
    afterHealMs: 6_000,
    redisGapMs: 300,
    freezeMs: Math.round(leaseMs * 2.5),
    settleMs: 2 * leaseMs,
    watchEveryMs: 10,
    drainMsMax: 5_000,
    logLevel: 'info',
    logSink: () => {},
    redisBinary: 'redis-server',
  };
}

/** One thing that happened, at a time relative to the fault. */
export interface TimelineEntry {
  atMs: number;
  what: string;
}

/** Notes one thing that happened, at `atMs` (now by default). */
export type Note = (what: string, atMs?: number) => void;

export interface LossWindowResult {
  fault: LossFault;
  leaseMs: number;
  /** The frozen frontend (`freeze`), else null. */
  frozen: string | null;
  /** When the fault began (epoch ms); every other time in the result but the records' is relative to it. */
  faultAtMs: number;
  /** Relative to the fault's start. */
  healedAtMs: number;
  timeline: TimelineEntry[];
  /** Relative to the fault. */
  phases: Phase[];
  report: LossReport;
  /** What shows the fault really happened. */
  evidence: {
    /** Publishes not answered 200 after the fault began. */
    publishesFailed: number;
    /** Some dispatcher's /healthz said `"store":"down"`. */
    storeDownSeen: boolean;
    /** The watcher found the topic's hash empty after the restart. */
    storeEmptied: boolean;
    /** The watcher saw the frozen frontend's lease lapse while it was stopped. */
    leaseExpired: boolean;
  };
  /** Node name -> its nonzero counters of interest, read from /metrics at the end. */
  metrics: Record<string, Record<string, number>>;
  /** Every measured publish; their times are epoch ms. */
  publishes: PublishRecord[];
}

export async function measureLossWindow(options: LossWindowOptions): Promise<LossWindowResult> {
  const run = randomBytes(4).toString('hex');
  const topic = `loss-window-${run}`;
  const prefix = `stadium-loss:${run}:`;
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    const [redisPort] = await freePorts('127.0.0.1', randomPort(), 1);
    const redis = await startRedisServer(redisPort as number, options.redisBinary);
    cleanups.push(() => redis.stop());
    const cluster = await startCluster({
      dcs: 1,
      frontends: options.frontends,
      dispatchers: options.dispatchers,
      redis: redis.url,
      redisPrefix: prefix,
      host: '127.0.0.1',
      basePort: randomPort(),
      leaseMs: options.leaseMs,
      logLevel: options.logLevel,
      serveArgs: [],
      command: stadiumCommand(),
      logSink: options.logSink,
      readyTimeoutMs: 30_000,
    });
    cleanups.push(() => cluster.stop(3_000));
    const dc = cluster.dcs[0]!;
    const frozen = options.fault === 'freeze' ? dc.frontends[0]! : null;
    if (frozen !== null) cleanups.push(() => signal(frozen, 'SIGCONT'));

    const viewers = await connectViewers(options, dc.frontends, topic);
    cleanups.push(() => viewers.forEach((v) => v.close()));
    const probes = await untilRegistered(
      dc.dispatchers.map((d) => d.url),
      topic,
      viewers,
      run,
    );

    const timeline: TimelineEntry[] = [];
    const note: Note = (what, atMs = Date.now()) => {
      timeline.push({ atMs, what });
    };
    const watcher = await watchStore(
      redis,
      `${prefix}${dc.name}:topic:${topic}`,
      new Map(dc.frontends.map((f) => [f.url, f.name])),
      options.leaseMs,
      note,
      options.watchEveryMs,
    );
    cleanups.push(() => watcher.stop());
    const health = watchHealth(dc.dispatchers, note);
    cleanups.push(() => health.stop());

    const publisher = startPublishing(options, dc.dispatchers, topic, run);
    cleanups.push(async () => void (await publisher.stop()));
    await sleep(options.beforeFaultMs);

    const faultAtMs = Date.now();
    const healedAtMs = await injectFault(options, redis, frozen, faultAtMs, note);

    await sleep(options.afterHealMs);
    const publishes = await publisher.stop();
    note('publishing stopped');
    await drain(publishes, viewers, options.drainMsMax);
    note('deliveries drained');
    const metrics = await readMetrics([...dc.dispatchers, ...dc.frontends]);
    await health.stop();
    await watcher.stop();
    timeline.sort((a, b) => a.atMs - b.atMs);

    const phases = phasesOf(options.fault, faultAtMs, healedAtMs, watcher, health, frozen, dc.frontends);
    const report = lossReport({
      publishes,
      probes,
      viewers: viewers.map((v) => ({
        name: v.name,
        frontend: v.frontend,
        transport: v.transport,
        received: v.received,
        duplicates: v.duplicates,
        dropped: v.dropped(),
      })),
      faultAtMs,
      healedAtMs,
      phases,
      settleMs: options.settleMs,
    });
    return {
      fault: options.fault,
      leaseMs: options.leaseMs,
      frozen: frozen?.name ?? null,
      faultAtMs,
      healedAtMs: healedAtMs - faultAtMs,
      timeline: timeline.map((t) => ({ atMs: t.atMs - faultAtMs, what: t.what })),
      phases: phases.map((p) => ({ name: p.name, fromMs: p.fromMs - faultAtMs })),
      report,
      evidence: {
        publishesFailed: publishes.filter((p) => p.sentAtMs >= faultAtMs && p.status !== 200).length,
        storeDownSeen: health.storeDownSeen(),
        storeEmptied: watcher.emptiedAfter(faultAtMs),
        leaseExpired:
          frozen !== null && (watcher.lapsedAfter(frozen.url, faultAtMs) ?? Infinity) < healedAtMs,
      },
      metrics,
      publishes,
    };
  } finally {
    // Last started, first stopped: the publisher and watchers, the viewers, the cluster, Redis.
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // Tearing down what is already gone.
      }
    }
  }
}
