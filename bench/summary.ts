/**
 * The results object of a run, and the pure judgements made from its figures: Stadium against the
 * alternatives (ratios on the same workload) and against its performance targets (throughput,
 * latency and memory per connection, and ratios to bare uWebSockets.js and Socket.IO). Nothing here
 * measures; everything here is a function of the measured cases, so it is tested on fixtures.
 */
import type { DispatcherCase } from './dispatcher.ts';
import type { DeliveryMode, FanoutCase } from './fanout.ts';
import type { MemoryCase } from './memory.ts';
import type { OccupancyBenchSummary } from './occupancy.ts';
import type { SimulatorBench } from './simulator.ts';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  /** The 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAverage1m: number;
}

export interface PropertyBench {
  runs: number;
  seed: number;
  durationMs: number;
  scenariosPerSecond: number;
}

export interface BenchResults {
  date: string;
  quick: boolean;
  command: string;
  machine: Machine;
  /** What every fan-out case shares. */
  settings: {
    warmupMs: number;
    windowMs: number;
    connectionsPerProcessMax: number;
    workload: string;
    redis: string | null;
  };
  /** The unit of every figure, by field-name suffix. */
  units: Record<string, string>;
  simulator: SimulatorBench | null;
  /** Viewer counts: their cost in messages and their error under churn (absent in older results). */
  occupancy?: OccupancyBenchSummary | null;
  properties: PropertyBench | null;
  fanout: FanoutCase[];
  memory: MemoryCase[];
  dispatcher: DispatcherCase[];
  comparisons: Comparison[];
  /** Reliable against best-effort Stadium on the same workload; absent in older results. */
  modeComparisons?: ModeComparison[];
  targets: TargetCheck[];
  /** Measurements not made, and why (e.g. Redis not reachable). */
  skipped: string[];
  /** Measurements that failed; the run went on without them. */
  errors: string[];
  durationMs: number;
}

export const units: Record<string, string> = {
  PerSecond: 'per second of wall time, achieved (not requested)',
  Ms: 'milliseconds',
  Bytes: 'bytes',
  BytesPerConnection: 'bytes of RSS per connection',
  Percent: 'percent of one CPU core',
  GiB: 'gibibytes',
  Ratio: 'Stadium figure / other figure (deliveries: higher is better for Stadium; p99: lower is)',
  requestedPublishesPerSecond: 'publishes per second asked of the publisher; null: as fast as answered',
  connections: 'count of open, subscribed connections',
};

export interface Comparison {
  against: 'bare-uws' | 'socketio';
  stadiumStore: FanoutCase['store'];
  otherStore: FanoutCase['store'];
  transport: FanoutCase['transport'];
  otherTransport: FanoutCase['transport'];
  connections: number;
  requestedPublishesPerSecond: number | null;
  stadiumDeliveriesPerSecond: number;
  otherDeliveriesPerSecond: number;
  deliveriesRatio: number;
  stadiumP99Ms: number;
  otherP99Ms: number;
  p99Ratio: number;
}

/** A case's delivery mode; results recorded before reliable mode was measured are best-effort. */
export const modeOf = (c: { mode?: DeliveryMode }): DeliveryMode => c.mode ?? 'best-effort';

const sameLoad = (a: FanoutCase, b: FanoutCase): boolean =>
  a.connections === b.connections && a.requestedPublishesPerSecond === b.requestedPublishesPerSecond;

const ratio = (a: number, b: number): number => (b === 0 ? 0 : Math.round((a / b) * 100) / 100);

/**
 * Stadium against each alternative on the same workload: with the embedded store against bare
 * uWebSockets.js (one process each, no Redis), and its WebSocket transport against Socket.IO (with
 * Redis on both sides when both ran with Redis, else the embedded store).
 */
export function compare(cases: FanoutCase[]): Comparison[] {
  const out: Comparison[] = [];
  const stadium = cases.filter((c) => c.server === 'stadium' && modeOf(c) === 'best-effort');
  for (const other of cases) {
    if (other.server === 'stadium') continue;
    let mine: FanoutCase | undefined;
    if (other.server === 'bare-uws') {
      mine = stadium.find(
        (c) => c.store === 'memory' && c.transport === other.transport && sameLoad(c, other),
      );
    } else {
      const wanted = other.store === 'redis' ? ['redis', 'memory'] : ['memory'];
      for (const store of wanted) {
        mine ??= stadium.find((c) => c.store === store && c.transport === 'ws' && sameLoad(c, other));
      }
    }
    if (mine === undefined) continue;
    out.push({
      against: other.server,
      stadiumStore: mine.store,
      otherStore: other.store,
      transport: mine.transport,
      otherTransport: other.transport,
      connections: other.connections,
      requestedPublishesPerSecond: other.requestedPublishesPerSecond,
      stadiumDeliveriesPerSecond: mine.deliveriesPerSecond,
      otherDeliveriesPerSecond: other.deliveriesPerSecond,
      deliveriesRatio: ratio(mine.deliveriesPerSecond, other.deliveriesPerSecond),
      stadiumP99Ms: mine.latency.p99Ms,
      otherP99Ms: other.latency.p99Ms,
      p99Ratio: ratio(mine.latency.p99Ms, other.latency.p99Ms),
    });
  }
  return out;
}

export interface ModeComparison {
  /** A fan-out case (one server) or a dispatcher case (publishing flat out, no frontends). */
  kind: 'fanout' | 'dispatcher';
  store: FanoutCase['store'] | DispatcherCase['store'];
  /** The fan-out transport, or null for a dispatcher case. */
  transport: FanoutCase['transport'] | null;
  /** Fan-out: the connections and the asked rate; dispatcher: requests in flight and events per request. */
  connections: number | null;
  requestedPublishesPerSecond: number | null;
  concurrency: number | null;
  batch: number | null;
  /** Fan-out: deliveries/s; dispatcher: publishes/s. */
  reliablePerSecond: number;
  bestEffortPerSecond: number;
  /** reliable / best-effort throughput. */
  throughputRatio: number;
  /** Fan-out: publish-to-client p99; dispatcher: request p99. */
  reliableP99Ms: number;
  bestEffortP99Ms: number;
  p99Ratio: number;
}

/** Each reliable Stadium case beside the best-effort one on the same store and workload. */
export function compareModes(fanout: FanoutCase[], dispatcher: DispatcherCase[]): ModeComparison[] {
  const out: ModeComparison[] = [];
  const stadium = fanout.filter((c) => c.server === 'stadium');
  for (const mine of stadium.filter((c) => modeOf(c) === 'reliable')) {
    const other = stadium.find(
      (c) =>
        modeOf(c) === 'best-effort' &&
        c.store === mine.store &&
        c.transport === mine.transport &&
        sameLoad(c, mine),
    );
    if (other === undefined) continue;
    out.push({
      kind: 'fanout',
      store: mine.store,
      transport: mine.transport,
      connections: mine.connections,
      requestedPublishesPerSecond: mine.requestedPublishesPerSecond,
      concurrency: null,
      batch: null,
      reliablePerSecond: mine.deliveriesPerSecond,
      bestEffortPerSecond: other.deliveriesPerSecond,
      throughputRatio: ratio(mine.deliveriesPerSecond, other.deliveriesPerSecond),
      reliableP99Ms: mine.latency.p99Ms,
      bestEffortP99Ms: other.latency.p99Ms,
      p99Ratio: ratio(mine.latency.p99Ms, other.latency.p99Ms),
    });
  }
  for (const mine of dispatcher.filter((d) => modeOf(d) === 'reliable')) {
    const other = dispatcher.find(
      (d) =>
        modeOf(d) === 'best-effort' &&
        d.store === mine.store &&
        d.concurrency === mine.concurrency &&
        d.batch === mine.batch,
    );
    if (other === undefined) continue;
    out.push({
      kind: 'dispatcher',
      store: mine.store,
      transport: null,
      connections: null,
      requestedPublishesPerSecond: null,
      concurrency: mine.concurrency,
      batch: mine.batch,
      reliablePerSecond: mine.publishesPerSecond,
      bestEffortPerSecond: other.publishesPerSecond,
      throughputRatio: ratio(mine.publishesPerSecond, other.publishesPerSecond),
      reliableP99Ms: mine.latency.p99Ms,
      bestEffortP99Ms: other.latency.p99Ms,
      p99Ratio: ratio(mine.latency.p99Ms, other.latency.p99Ms),
    });
  }
  return out;
}

export interface TargetCheck {
  target: string;
  measured: string;
  /** null: not measured in this run. */
  met: boolean | null;
}

const n = (x: number): string => Math.round(x).toLocaleString('en-US');
const label = (c: FanoutCase): string =>
  `${c.transport.toUpperCase()}, ${c.store} store, ${n(c.connectionsOpenAtStart)} connections, ` +
  `${c.requestedPublishesPerSecond === null ? 'publishing flat out' : `${c.requestedPublishesPerSecond} publishes/s asked`}`;

/** Stadium against each of its performance targets, from whatever this run measured. */
export function checkTargets(
  results: Pick<BenchResults, 'fanout' | 'memory' | 'dispatcher' | 'comparisons'> & {
    modeComparisons?: ModeComparison[];
  },
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  // The throughput and latency targets are best-effort's; reliable mode has targets of its own below.
  const stadium10k = results.fanout.filter(
    (c) => c.server === 'stadium' && modeOf(c) === 'best-effort' && c.connections >= 10_000,
  );
  const best = stadium10k.reduce<FanoutCase | null>(
    (top, c) => (top === null || c.deliveriesPerSecond > top.deliveriesPerSecond ? c : top),
    null,
  );
  checks.push({
    target: '1,000,000 deliveries/s to 10,000 connections',
    measured:
      best === null
        ? 'not measured (no 10,000-connection case in this run)'
        : `best ${n(best.deliveriesPerSecond)} deliveries/s (${label(best)})`,
    met: best === null ? null : best.deliveriesPerSecond >= 1_000_000,
  });
  const atLoad = stadium10k.filter((c) => (c.requestedPublishesPerSecond ?? 0) * c.connections >= 1_000_000);
  checks.push({
    target: 'p99 publish-to-client under 20 ms at that load',
    measured:
      atLoad.length === 0
        ? 'not measured (no 1,000,000 deliveries/s case at 10,000 connections)'
        : atLoad
            .map(
              (c) =>
                `p99 ${c.latency.p99Ms} ms at ${n(c.deliveriesPerSecond)} deliveries/s (${c.transport.toUpperCase()}, ${c.store})`,
            )
            .join('; '),
    met:
      atLoad.length === 0
        ? null
        : atLoad.every((c) => c.latency.p99Ms < 20 && c.deliveriesPerSecond >= 0.95 * 1_000_000),
  });
  const memory = results.memory.filter((m) => m.server === 'stadium');
  const worst = memory.reduce<number | null>((w, m) => Math.max(w ?? 0, m.rssBytesPerConnection), null);
  checks.push({
    target: 'under 4 KiB of RSS per idle connection',
    measured:
      memory.length === 0
        ? 'not measured in this run'
        : memory
            .map((m) => `${n(m.rssBytesPerConnection)} B at ${n(m.connections)} ${m.transport.toUpperCase()}`)
            .join('; '),
    met: worst === null ? null : worst < 4096,
  });
  const withRedis = results.dispatcher.filter((d) => d.store === 'redis' && modeOf(d) === 'best-effort');
  const bestDispatcher = withRedis.reduce<DispatcherCase | null>(
    (best, d) => (best === null || d.publishesPerSecond > best.publishesPerSecond ? d : best),
    null,
  );
  checks.push({
    target: '50,000 publishes/s per dispatcher (with Redis)',
    measured:
      bestDispatcher === null
        ? 'not measured with Redis in this run'
        : withRedis
            .map(
              (d) =>
                `${n(d.publishesPerSecond)} publishes/s ` +
                `(${d.batch === 1 ? 'one event' : `batches of ${d.batch}`} per request, ` +
                `${d.concurrency} in flight, p99 ${d.latency.p99Ms} ms)`,
            )
            .join('; '),
    met: bestDispatcher === null ? null : bestDispatcher.publishesPerSecond >= 50_000,
  });
  // Capacity is what publishing flat out shows; at a fixed rate every server that keeps up delivers the same.
  const flatOut = (against: Comparison['against']): Comparison[] =>
    results.comparisons.filter((c) => c.against === against && c.requestedPublishesPerSecond === null);
  const bare = flatOut('bare-uws');
  checks.push({
    target: 'at least half of bare uWebSockets.js (deliveries/s, publishing flat out)',
    measured:
      bare.length === 0
        ? 'not measured in this run'
        : bare
            .map((c) => `${c.deliveriesRatio}x at ${n(c.connections)} ${c.transport.toUpperCase()}`)
            .join('; '),
    met: bare.length === 0 ? null : bare.every((c) => c.deliveriesRatio >= 0.5),
  });
  const sio = flatOut('socketio');
  checks.push({
    target: 'several (3+) times Socket.IO (deliveries/s, publishing flat out)',
    measured:
      sio.length === 0
        ? 'not measured in this run'
        : sio
            .map(
              (c) =>
                `${c.deliveriesRatio}x at ${n(c.connections)} (Stadium ${c.transport.toUpperCase()} ${c.stadiumStore} ` +
                `vs Socket.IO ${c.otherStore === 'redis' ? 'Redis adapter' : 'in-memory adapter'})`,
            )
            .join('; '),
    met: sio.length === 0 ? null : sio.every((c) => c.deliveriesRatio >= 3),
  });
  checks.push(...reliableTargets(results.dispatcher, results.modeComparisons ?? []));
  return checks;
}

/**
 * Reliable mode against best-effort: at least half of its throughput (deliveries/s publishing flat
 * out, publishes/s per dispatcher with Redis, each against the same workload), and at least
 * 25,000 publishes/s per dispatcher with Redis and batch publishes.
 */
function reliableTargets(dispatcher: DispatcherCase[], modes: ModeComparison[]): TargetCheck[] {
  const pairs = modes.filter(
    (m) =>
      (m.kind === 'fanout' && m.requestedPublishesPerSecond === null) ||
      (m.kind === 'dispatcher' && m.store === 'redis'),
  );
  const half: TargetCheck = {
    target:
      'reliable mode: at least half of best-effort (deliveries/s flat out; publishes/s per dispatcher with Redis)',
    measured:
      pairs.length === 0
        ? 'not measured in this run'
        : pairs
            .map((m) =>
              m.kind === 'fanout'
                ? `${m.throughputRatio}x deliveries/s at ${n(m.connections ?? 0)} ${(m.transport ?? '').toUpperCase()} (${m.store})`
                : `${m.throughputRatio}x publishes/s with ${m.batch === 1 ? 'one event' : `batches of ${m.batch}`} per request`,
            )
            .join('; '),
    met: pairs.length === 0 ? null : pairs.every((m) => m.throughputRatio >= 0.5),
  };
  const batched = dispatcher.filter((d) => modeOf(d) === 'reliable' && d.store === 'redis' && d.batch > 1);
  const best = batched.reduce<DispatcherCase | null>(
    (top, d) => (top === null || d.publishesPerSecond > top.publishesPerSecond ? d : top),
    null,
  );
  const perDispatcher: TargetCheck = {
    target: 'reliable mode: 25,000 publishes/s per dispatcher (with Redis, batch publishes)',
    measured:
      best === null
        ? 'not measured with Redis in this run'
        : batched
            .map(
              (d) =>
                `${n(d.publishesPerSecond)} publishes/s (batches of ${d.batch}, ${d.concurrency} in flight, p99 ${d.latency.p99Ms} ms)`,
            )
            .join('; '),
    met: best === null ? null : best.publishesPerSecond >= 25_000,
  };
  return [half, perDispatcher];
}
