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
 * Manual measurement: `node --import tsx prod/loss-window.ts --fault redis|freeze [--runs N] ...`
 * prints a table per run (`--help` lists the options).
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { freePorts, startCluster } from './cluster.ts';
import type { ClusterNode } from './cluster.ts';
import type { LogLevel } from './config.ts';
import { lossReport } from './loss-report.ts';
import type { LossReport, Phase, PublishRecord } from './loss-report.ts';
import { sseViewer, wsViewer } from './raw-viewers.ts';
import type { RawViewer } from './raw-viewers.ts';
import { startRedisServer } from './redis-server-process.ts';
import type { RedisServerProcess } from './redis-server-process.ts';
import { sleep, waitFor } from './wait-for.ts';

export type LossFault = 'redis' | 'freeze';
export const lossFaults: readonly LossFault[] = ['redis', 'freeze'];

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

const metricFamilies = [
  'stadium_events_published_total',
  'stadium_drops_total',
  'stadium_internal_sends_total',
  'stadium_lease_changes_total',
  'stadium_core_events_total',
];

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
    const note = (what: string, atMs = Date.now()): void => {
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
    let healedAtMs: number;
    if (options.fault === 'redis') {
      await redis.kill();
      note('redis-server killed (SIGKILL)');
      await sleep(Math.max(0, faultAtMs + options.redisGapMs - Date.now()));
      note('redis-server restarting, empty');
      await redis.restart();
      healedAtMs = Date.now();
      note('redis-server answers PING');
    } else {
      signal(frozen!, 'SIGSTOP');
      note(`${frozen!.name} frozen (SIGSTOP)`);
      await sleep(options.freezeMs);
      signal(frozen!, 'SIGCONT');
      healedAtMs = Date.now();
      note(`${frozen!.name} resumed (SIGCONT)`);
    }

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

/** A port below the kernel's ephemeral range, drawn at random so concurrent runs rarely race. */
function randomPort(): number {
  return 10_000 + Math.floor(Math.random() * 20_000);
}

const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path)) ?? null;

/** `node bin/stadium.js`, tied to this process' life where `setpriv` can do it. */
function stadiumCommand(): { file: string; args: string[] } {
  const bin = join(import.meta.dirname, '..', 'bin', 'stadium.js');
  return setpriv === null
    ? { file: process.execPath, args: [bin] }
    : { file: setpriv, args: ['--pdeathsig', 'KILL', '--', process.execPath, bin] };
}

function signal(node: ClusterNode, name: NodeJS.Signals): void {
  try {
    process.kill(node.pid, name);
  } catch {
    // Already gone.
  }
}

async function connectViewers(
  options: LossWindowOptions,
  frontends: ClusterNode[],
  topic: string,
): Promise<RawViewer[]> {
  const viewers: RawViewer[] = [];
  for (const frontend of frontends) {
    const short = frontend.name.split('/').at(-1);
    for (let i = 1; i <= options.sseViewersPerFrontend; i++) {
      viewers.push(await sseViewer(`${short}/sse-${i}`, frontend.url, topic));
    }
    for (let i = 1; i <= options.wsViewersPerFrontend; i++) {
      viewers.push(await wsViewer(`${short}/ws-${i}`, frontend.url, topic));
    }
  }
  return viewers;
}

/** Probe publishes until every viewer has received one; returns the probes (id -> payload). */
async function untilRegistered(
  dispatchers: string[],
  topic: string,
  viewers: RawViewer[],
  run: string,
): Promise<Map<string, string>> {
  const probes = new Map<string, string>();
  await waitFor(
    async () => {
      const id = `probe-${run}-${probes.size}`;
      probes.set(id, 'probe');
      await publishOnce(dispatchers[probes.size % dispatchers.length]!, { topic, payload: 'probe', id });
      await sleep(50);
      return viewers.every((v) => [...v.received.keys()].some((received) => probes.has(received)));
    },
    'every viewer to receive a probe publish',
    15_000,
    0,
  );
  return probes;
}

async function publishOnce(
  dispatcher: string,
  event: { topic: string; payload: string; id: string },
): Promise<{ status: number; body: unknown; error: string | null }> {
  try {
    const response = await fetch(`${dispatcher}/v1/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(event),
      signal: AbortSignal.timeout(5_000),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Kept as text: the report shows what came back.
    }
    return { status: response.status, body, error: null };
  } catch (error) {
    return { status: 0, body: null, error: error instanceof Error ? error.message : String(error) };
  }
}

interface Publisher {
  /** Stop sending; resolves with every record once the last answer is in. */
  stop(): Promise<PublishRecord[]>;
}

function startPublishing(
  options: LossWindowOptions,
  dispatchers: ClusterNode[],
  topic: string,
  run: string,
): Publisher {
  const records: PublishRecord[] = [];
  const inFlight = new Set<Promise<void>>();
  let seq = 0;
  const tick = (): void => {
    if (inFlight.size >= options.inFlightMax) return;
    const n = seq++;
    const record: PublishRecord = {
      seq: n,
      id: `lw-${run}-${String(n).padStart(6, '0')}`,
      payload: `like ${n}`,
      dispatcher: dispatchers[n % dispatchers.length]!.url,
      sentAtMs: Date.now(),
      answeredAtMs: null,
      status: 0,
      body: null,
      error: null,
    };
    records.push(record);
    const sent = publishOnce(record.dispatcher, { topic, payload: record.payload, id: record.id }).then(
      (answer) => {
        record.answeredAtMs = answer.status === 0 ? null : Date.now();
        record.status = answer.status;
        record.body = answer.body;
        record.error = answer.error;
      },
    );
    inFlight.add(sent);
    void sent.finally(() => inFlight.delete(sent));
  };
  const timer = setInterval(tick, options.publishEveryMs);
  let stopped: Promise<PublishRecord[]> | null = null;
  return {
    stop() {
      stopped ??= (async () => {
        clearInterval(timer);
        await Promise.all(inFlight);
        return records;
      })();
      return stopped;
    },
  };
}

/** Until every publish answered 200 reached every connected viewer, or nothing moved for a second. */
async function drain(publishes: PublishRecord[], viewers: RawViewer[], drainMsMax: number): Promise<void> {
  const deadline = Date.now() + drainMsMax;
  const acked = publishes.filter((p) => p.status === 200).map((p) => p.id);
  const total = (): number => viewers.reduce((sum, v) => sum + v.received.size, 0);
  let last = total();
  let movedAtMs = Date.now();
  while (Date.now() < deadline && Date.now() - movedAtMs < 1_000) {
    const connected = viewers.filter((v) => v.dropped() === null);
    if (acked.every((id) => connected.every((v) => v.received.has(id)))) return;
    await sleep(50);
    const now = total();
    if (now !== last) {
      last = now;
      movedAtMs = Date.now();
    }
  }
}

interface StoreWatcher {
  stop(): Promise<void>;
  /** Whether the topic's hash was seen empty (or missing) at or after `atMs`. */
  emptiedAfter(atMs: number): boolean;
  /** When the frontend's lease first stopped being live at or after `atMs`, or null. */
  lapsedAfter(frontend: string, atMs: number): number | null;
  /** When the frontend's lease was first granted again at or after `atMs`, or null. */
  liveAgainAfter(frontend: string, atMs: number): number | null;
}

/**
 * Reads the topic's hash and Redis' clock every `everyMs`, without running any of the store's
 * scripts (a lookup would delete the dead entries it meets), and notes every change: the store
 * unreachable or back, each frontend's lease granted or lapsed. A lease's times come from its own
 * value where it tells them (Redis' clock is this machine's): granted at its expiry less `leaseMs`,
 * lapsed at its expiry, or at its removal; only an entry that vanished with the data is timed by
 * when the watcher noticed.
 */
async function watchStore(
  server: RedisServerProcess,
  key: string,
  names: Map<string, string>,
  leaseMs: number,
  note: (what: string, atMs?: number) => void,
  everyMs: number,
): Promise<StoreWatcher> {
  const client = new Redis(server.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => 20,
    connectTimeout: 500,
  });
  client.on('error', () => {});
  await client.connect();
  const changes: { atMs: number; frontend: string | null; live: boolean }[] = [];
  let reachable: boolean | null = null;
  /** Frontend -> its entry when last read: live or not, and when it expires. */
  const last = new Map<string, { live: boolean; expiresAtMs: number }>();
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const replies = await client.pipeline().time().hgetall(key).exec();
        const [timeReply, hashReply] = replies ?? [];
        const error = timeReply?.[0] ?? hashReply?.[0];
        if (error) throw error;
        const [seconds, micros] = timeReply![1] as [string, string];
        const nowMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
        const hash = hashReply![1] as Record<string, string>;
        const seenAtMs = Date.now();
        if (reachable !== true) note('watcher: Redis reachable', seenAtMs);
        reachable = true;
        if (Object.keys(hash).length === 0) changes.push({ atMs: seenAtMs, frontend: null, live: false });
        for (const [frontend, name] of names) {
          const entry = hash[frontend];
          const before = last.get(frontend);
          if (entry === undefined && before === undefined) continue; // Not registered yet.
          const [expiresAtMs = 0, , , removedAtMs = 0] = (entry ?? '').split(':').map(Number);
          const live = entry !== undefined && removedAtMs === 0 && expiresAtMs > nowMs;
          last.set(frontend, {
            live,
            expiresAtMs: entry === undefined ? (before?.expiresAtMs ?? 0) : expiresAtMs,
          });
          if (before?.live === live) continue;
          let atMs = seenAtMs;
          let how: string;
          if (before === undefined) {
            how = 'live';
          } else if (live) {
            atMs = expiresAtMs - leaseMs;
            how = 'granted';
          } else if (entry !== undefined && removedAtMs > 0) {
            atMs = removedAtMs;
            how = 'removed';
          } else if (entry !== undefined) {
            atMs = expiresAtMs;
            how = 'expired';
          } else if (before.expiresAtMs <= nowMs) {
            // A dispatcher's lookup deleted the dead entry before this read: it expired when it said.
            atMs = before.expiresAtMs;
            how = 'expired (entry since deleted)';
          } else {
            how = 'gone while live (the data was lost)';
          }
          changes.push({ atMs, frontend, live });
          note(`watcher: ${name} lease ${how}`, atMs);
        }
      } catch {
        if (reachable !== false) note('watcher: Redis unreachable');
        reachable = false;
      }
      await sleep(everyMs);
    }
  })();
  const first = (frontend: string, live: boolean, atMs: number): number | null =>
    changes.find((c) => c.atMs >= atMs && c.frontend === frontend && c.live === live)?.atMs ?? null;
  return {
    async stop() {
      running = false;
      await loop;
      client.disconnect();
    },
    emptiedAfter: (atMs) => changes.some((c) => c.atMs >= atMs && c.frontend === null),
    lapsedAfter: (frontend, atMs) => first(frontend, false, atMs),
    liveAgainAfter: (frontend, atMs) => first(frontend, true, atMs),
  };
}

interface HealthWatcher {
  stop(): Promise<void>;
  /** When every dispatcher reported its store up again at or after `atMs`, or null. */
  storeUpAfter(atMs: number): number | null;
  /** Whether some dispatcher reported its store down. */
  storeDownSeen(): boolean;
}

/** Polls every dispatcher's /healthz and notes each change of its `store` field. */
function watchHealth(dispatchers: ClusterNode[], note: (what: string, atMs?: number) => void): HealthWatcher {
  let running = true;
  const changes: { atMs: number; node: string; store: string }[] = [];
  const loops = dispatchers.map(async (node) => {
    let last: string | null = null;
    while (running) {
      let store = 'no answer';
      try {
        const response = await fetch(`${node.url}/healthz`, { signal: AbortSignal.timeout(250) });
        store = ((await response.json()) as { store: string }).store;
      } catch {
        // Noted as "no answer".
      }
      if (store !== last) {
        const atMs = Date.now();
        changes.push({ atMs, node: node.name, store });
        note(`${node.name} says store ${store}`, atMs);
      }
      last = store;
      await sleep(20);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
    },
    storeUpAfter(atMs) {
      const ups = dispatchers.map(
        (node) =>
          changes.find((c) => c.atMs >= atMs && c.node === node.name && c.store === 'up')?.atMs ?? null,
      );
      return ups.every((up) => up !== null) ? Math.max(...(ups as number[])) : null;
    },
    storeDownSeen: () => changes.some((c) => c.store === 'down'),
  };
}

async function readMetrics(nodes: ClusterNode[]): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const node of nodes) {
    const counters: Record<string, number> = {};
    try {
      const text = await (await fetch(`${node.url}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
      for (const line of text.split('\n')) {
        if (!metricFamilies.some((family) => line.startsWith(`${family}{`))) continue;
        const value = Number(line.slice(line.lastIndexOf(' ') + 1));
        if (value === 0) continue;
        const name = line
          .slice(0, line.lastIndexOf(' '))
          .replace(/,?(dc|role)="[^"]*"/g, '')
          .replace('{,', '{');
        counters[name] = value;
      }
    } catch (error) {
      counters[`unreadable: ${String(error)}`] = 1;
    }
    out[node.name] = counters;
  }
  return out;
}

/** The named stretches of the run, in time order, from the fault's own times and what the watchers saw. */
function phasesOf(
  fault: LossFault,
  faultAtMs: number,
  healedAtMs: number,
  watcher: StoreWatcher,
  health: HealthWatcher,
  frozen: ClusterNode | null,
  frontends: ClusterNode[],
): Phase[] {
  const phases: Phase[] = [];
  if (fault === 'redis') {
    phases.push({ name: 'redis down', fromMs: faultAtMs });
    phases.push({ name: 'redis back, a dispatcher not yet reconnected', fromMs: healedAtMs });
    const reconnected = health.storeUpAfter(healedAtMs);
    if (reconnected !== null) {
      phases.push({ name: 'dispatchers reconnected, a frontend not yet re-registered', fromMs: reconnected });
    }
    const back = frontends.map((f) => watcher.liveAgainAfter(f.url, healedAtMs));
    if (back.every((at) => at !== null)) {
      phases.push({ name: 'every frontend re-registered', fromMs: Math.max(...(back as number[])) });
    }
  } else {
    const lapsed = watcher.lapsedAfter(frozen!.url, faultAtMs);
    const liveAgain = watcher.liveAgainAfter(frozen!.url, Math.max(healedAtMs, lapsed ?? healedAtMs));
    phases.push({ name: 'frozen, lease live', fromMs: faultAtMs });
    if (lapsed !== null && lapsed < healedAtMs)
      phases.push({ name: 'frozen, lease expired', fromMs: lapsed });
    phases.push({ name: 'resumed, not yet re-registered', fromMs: healedAtMs });
    if (liveAgain !== null) phases.push({ name: 're-registered', fromMs: liveAgain });
  }
  return phases.sort((a, b) => a.fromMs - b.fromMs);
}

// ---------------------------------------------------------------- manual measurement

const usage = `Usage: node --import tsx prod/loss-window.ts --fault redis|freeze [options]

Measures how many publishes answered 200 never reach viewers that stayed connected, around a
fault: a private redis-server killed and restarted empty (redis), or one frontend stopped past
its lease and resumed (freeze). Starts its own redis-server and stadium serve processes.

Options:
  --fault F             redis | freeze (required)
  --lease-ms MS         frontend lease (default 1500)
  --seconds S           seconds of publishing after the fault heals (default 6)
  --runs N              runs, one after another (default 1)
  --gap-ms MS           redis: how long Redis stays dead (default 300)
  --freeze-ms MS        freeze: how long the frontend stays stopped (default 2.5 x lease)
  --publish-every-ms MS one publish this often (default 5)
  --log-level L         the servers' log level (default info)
  --log-file PATH       write the servers' logs there (every run, each under '# run N')
  --json                one JSON object per run on stdout (publish records included)`;

export class LossWindowUsageError extends Error {
  override name = 'LossWindowUsageError';
}

export interface LossWindowCli {
  options: LossWindowOptions;
  runs: number;
  logFile: string | null;
  json: boolean;
}

export function parseLossWindowArgs(argv: string[]): LossWindowCli | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        fault: { type: 'string' },
        'lease-ms': { type: 'string' },
        seconds: { type: 'string' },
        runs: { type: 'string' },
        'gap-ms': { type: 'string' },
        'freeze-ms': { type: 'string' },
        'publish-every-ms': { type: 'string' },
        'log-level': { type: 'string' },
        'log-file': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }).values;
  } catch (error) {
    throw new LossWindowUsageError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.help === true) return 'help';
  const fault = lossFaults.find((f) => f === parsed.fault);
  if (fault === undefined) {
    throw new LossWindowUsageError(
      `--fault must be one of ${lossFaults.join(', ')}, got ${parsed.fault === undefined ? 'nothing' : `"${parsed.fault}"`}`,
    );
  }
  const integer = (
    name: string,
    text: string | undefined,
    fallback: number,
    min: number,
    max: number,
  ): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) {
      throw new LossWindowUsageError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
    }
    return value;
  };
  const leaseMs = integer('lease-ms', parsed['lease-ms'], 1_500, 300, 60_000);
  const options = lossWindowDefaults(fault, leaseMs);
  options.afterHealMs = integer('seconds', parsed.seconds, 6, 1, 120) * 1000;
  options.redisGapMs = integer('gap-ms', parsed['gap-ms'], options.redisGapMs, 0, 60_000);
  options.freezeMs = integer('freeze-ms', parsed['freeze-ms'], options.freezeMs, 1, 300_000);
  options.publishEveryMs = integer('publish-every-ms', parsed['publish-every-ms'], 5, 1, 10_000);
  const levels: LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
  const logLevel = levels.find((level) => level === (parsed['log-level'] ?? 'info'));
  if (logLevel === undefined)
    throw new LossWindowUsageError(`--log-level must be one of ${levels.join(', ')}`);
  options.logLevel = logLevel;
  return {
    options,
    runs: integer('runs', parsed.runs, 1, 1, 50),
    logFile: parsed['log-file'] ?? null,
    json: parsed.json === true,
  };
}

/** The table and timeline a person reads after one run. */
export function formatLossWindow(run: number, result: LossWindowResult): string {
  const { report } = result;
  const window =
    report.lost.firstSentMs === null ? '-' : `${report.lost.firstSentMs} .. ${report.lost.lastSentMs} ms`;
  const other = Object.entries(report.publishes.otherStatuses)
    .map(([status, n]) => `${status === '0' ? 'no answer' : status}: ${n}`)
    .join(', ');
  const rows: [string, string][] = [
    [
      'fault',
      `${result.fault}${result.frozen === null ? '' : ` (${result.frozen})`}, healed at ${result.healedAtMs} ms`,
    ],
    [
      'publishes',
      `${report.publishes.total} (200: ${report.publishes.ok}, with warning: ${report.publishes.okWithWarning})`,
    ],
    ['503', String(report.publishes.status503)],
    ['other statuses', other === '' ? '-' : other],
    [
      'acknowledged, lost',
      `${report.lost.count} (without warning: ${report.lost.withoutWarning}; missed by every viewer: ${report.lost.missedByAll})`,
    ],
    ['lost window (sent)', `${window} after the fault, span ${report.lost.spanMs} ms`],
    ['lost by phase', describeCounts(report.lost.byPhase)],
    ['lost by frontend', describeCounts(report.lost.byFrontend)],
    ['delivered after heal', String(report.deliveredAfterHeal)],
    ['viewers', `${report.viewers.steady} stayed connected, ${report.viewers.dropped} dropped`],
    [
      'integrity',
      `duplicates ${report.integrity.duplicates}, unpublished ${report.integrity.unpublished}, altered ${report.integrity.altered}`,
    ],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [`run ${run}`, ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`)];
  lines.push('  timeline (ms after the fault):');
  for (const entry of result.timeline) lines.push(`    ${String(entry.atMs).padStart(7)}  ${entry.what}`);
  lines.push('  counters at the end:');
  for (const [node, counters] of Object.entries(result.metrics)) {
    const wanted = Object.entries(counters).filter(([name]) => !name.startsWith('stadium_core_events_total'));
    lines.push(`    ${node}: ${wanted.map(([name, value]) => `${name} ${value}`).join('  ')}`);
  }
  return lines.join('\n');
}

function describeCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? '-' : entries.map(([name, n]) => `${name}: ${n}`).join('; ');
}

async function main(argv: string[]): Promise<number> {
  let cli: LossWindowCli | 'help';
  try {
    cli = parseLossWindowArgs(argv);
  } catch (error) {
    if (!(error instanceof LossWindowUsageError)) throw error;
    process.stderr.write(`loss-window: ${error.message}\n${usage}\n`);
    return 2;
  }
  if (cli === 'help') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (cli.logFile !== null) writeFileSync(cli.logFile, '');
  for (let run = 1; run <= cli.runs; run++) {
    const log: string[] = [`# run ${run}`];
    let result: LossWindowResult;
    try {
      result = await measureLossWindow({ ...cli.options, logSink: (line) => log.push(line) });
    } catch (error) {
      process.stderr.write(
        `loss-window: run ${run} failed: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      return 1;
    } finally {
      if (cli.logFile !== null) appendFileSync(cli.logFile, `${log.join('\n')}\n`);
    }
    process.stdout.write(cli.json ? `${JSON.stringify(result)}\n` : `${formatLossWindow(run, result)}\n\n`);
  }
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
