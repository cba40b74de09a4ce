/**
 * Generators of failure scenarios, with swarm testing: each run draws its own mix of features —
 * churn (and subscribe/unsubscribe races), viewers leaving for good, viewers dropping and resuming
 * elsewhere, topics quiet for longer than a lease, topic names sharing prefixes, tight store,
 * history and frontend limits, 1 to 5 datacenters, reordering-heavy networks — besides its fault
 * mix, as TigerBeetle's and FoundationDB's simulators do, so that rare combinations are reached
 * instead of averaged away. A feature off draws nothing it would use, and each switch shrinks to
 * off.
 *
 * A generated value is plain data — topology, workload, an explicit typed fault schedule, and the
 * seed of the residual randomness — so fast-check's shrinking removes faults, shortens them and
 * drops nodes, features and viewers, and the shrunk value is a scenario `stadium sim` accepts.
 * Every fault heals (kills restart) by `healByMs`, leaving the run a quiet tail in which liveness
 * after heal is judged.
 *
 * Fault targets are drawn as plain numbers and resolved against the topology (`target % nodes`),
 * so removing a datacenter or a frontend while shrinking keeps every fault valid.
 *
 * Reliable mode draws everything best-effort draws, then its own features after it, so that a
 * reliable run's scenario is best-effort's with more, and best-effort runs are not changed by
 * them: a store history of a few events (gaps the history no longer holds), store reads of a few
 * events (catch-ups in several reads), a small reorder buffer at frontends, and a forwarding window
 * shorter than a long partition (forwards that expire).
 */
import fc from 'fast-check';
import type { DeliveryMode } from '../core/index.ts';
import { nodeIds, parseScenario, settleMs, type Fault, type FaultKind, type Scenario } from '../sim/index.ts';

/** Which fault kinds a run may draw: some runs only partitions, some only deaths, some everything. */
export type FaultMix = 'none' | 'deaths' | 'partitions' | 'network' | 'everything';
export const faultMixes: readonly FaultMix[] = ['none', 'deaths', 'partitions', 'network', 'everything'];

const kindsOf: Record<FaultMix, readonly FaultKind[]> = {
  none: [],
  deaths: ['kill'],
  partitions: ['partition'],
  network: ['isolate', 'jitter-storm', 'loss-burst'],
  everything: ['kill', 'partition', 'isolate', 'jitter-storm', 'loss-burst'],
};

/** The workload and limit features a run may switch on; each is drawn per run. */
export const swarmFeatures = [
  'churn',
  'races',
  'leave',
  'reconnect',
  'quiet',
  'prefixes',
  'tight-store',
  'tight-history',
  'tight-frontend',
  'reorder',
  'loss',
] as const;
export type SwarmFeature = (typeof swarmFeatures)[number];

/** The features only reliable-mode runs draw (see the header). */
export const reliableFeatures = [
  'short-history',
  'small-reads',
  'tight-streams',
  'short-forward-window',
] as const;
export type ReliableFeature = (typeof reliableFeatures)[number];

export type ScenarioSize = 'small' | 'large';

export interface GeneratedScenario {
  scenario: Scenario;
  /** Seed of the residual randomness (latency, loss, workload draws). */
  seed: string;
  mix: FaultMix;
  /** The features this run switched on. */
  features: (SwarmFeature | ReliableFeature)[];
}

/**
 * Viewer counts: the interval (null, one run in eight: occupancy off, which shrinks to it), and
 * one viewer in `watchersEvery` per datacenter watching.
 */
interface OccupancyDraw {
  everyMs: number | null;
  watchersEvery: number;
}

const occupancyDraw: fc.Arbitrary<OccupancyDraw> = fc.record({
  everyMs: fc.option(fc.integer({ min: 200, max: 1_500 }), { freq: 8 }),
  watchersEvery: fc.integer({ min: 1, max: 4 }),
});

/** Reliable mode's own draws: which of its features are on, and their limits. */
interface ReliableDraw {
  on: Record<ReliableFeature, boolean>;
  historyEventsMax: number;
  readEventsMax: number;
  reorderBufferMax: number;
  forwardWindowMs: number;
}

interface RawFault {
  kind: FaultKind;
  atMs: number;
  target: number;
  other: number;
  lastsMs: number;
  oneWay: boolean;
  scoped: boolean;
}

const limits = {
  small: { dcs: 3, frontends: 3, dispatchers: 2, topics: 3, viewers: 30, faults: 5, activeMs: 6_000 },
  large: { dcs: 5, frontends: 4, dispatchers: 3, topics: 5, viewers: 150, faults: 10, activeMs: 14_000 },
} as const;

/** Topic names that share prefixes, so a lookup by prefix (a bug) would find the wrong topic. */
const prefixNames = ['live', 'live:1', 'live/1', 'live.1', 'liv', 'live-', 'live:10'];

/** When publishing starts: every viewer has joined and registered by then. */
const publishFromMs = 1_500;
/** How long the run publishes after every fault healed and the world settled, to judge liveness. */
const liveTailMs = 2_500;

/**
 * Generated scenarios of `size`, delivering in `mode`. The mode draws nothing: a run in either mode
 * generates the same topologies, workloads and faults, and shrinks them the same way.
 */
export function scenarioArbitrary(
  size: ScenarioSize = 'small',
  mode: DeliveryMode = 'best-effort',
): fc.Arbitrary<GeneratedScenario> {
  const l = limits[size];
  const rawFault: fc.Arbitrary<RawFault> = fc.record({
    kind: fc.constantFrom<FaultKind>('kill', 'partition', 'isolate', 'jitter-storm', 'loss-burst'),
    atMs: fc.integer({ min: 1_000, max: l.activeMs }),
    target: fc.nat(1_000),
    other: fc.nat(1_000),
    lastsMs: fc.integer({ min: 100, max: 5_000 }),
    oneWay: fc.boolean(),
    scoped: fc.boolean(),
  });
  const swarm = fc.record(
    Object.fromEntries(swarmFeatures.map((feature) => [feature, fc.boolean()])) as Record<
      SwarmFeature,
      fc.Arbitrary<boolean>
    >,
  );
  const reliableSwarm: fc.Arbitrary<ReliableDraw> = fc.record({
    on: fc.record(
      Object.fromEntries(reliableFeatures.map((feature) => [feature, fc.boolean()])) as Record<
        ReliableFeature,
        fc.Arbitrary<boolean>
      >,
    ),
    historyEventsMax: fc.integer({ min: 1, max: 8 }),
    // A few events per read, so a catch-up takes several; not fewer than 4: the checkers' time bounds
    // (liveness after heal, the catch-up time) allow a read or two per catch-up, not one per event
    // of a backlog, and a backlog read an event at a time under random loss outlasts them.
    readEventsMax: fc.integer({ min: 4, max: 16 }),
    reorderBufferMax: fc.integer({ min: 1, max: 4 }),
    // Partitions last up to 5 s: some outlast the window, some do not.
    forwardWindowMs: fc.integer({ min: 1_000, max: 4_000 }),
  });
  const base = fc.record({
    mix: fc.constantFrom(...faultMixes),
    swarm,
    seed: fc.nat(1_000_000).map(String),
    datacenters: fc.array(
      fc.record({
        frontends: fc.integer({ min: 1, max: l.frontends }),
        dispatchers: fc.integer({ min: 1, max: l.dispatchers }),
      }),
      { minLength: 1, maxLength: l.dcs },
    ),
    topics: fc.array(
      fc.record({
        viewers: fc.integer({ min: 1, max: l.viewers }),
        publishesPerSecond: fc.integer({ min: 1, max: 20 }),
        burstMs: fc.integer({ min: 200, max: 1_500 }),
      }),
      { minLength: 1, maxLength: l.topics },
    ),
    leaseMs: fc.integer({ min: 1_200, max: 5_000 }),
    // Timeouts outlast the slowest fault-free round trip (see `reorder` below): without a fault,
    // a timeout is a configuration mistake, not weather.
    leaseRequestTimeoutMs: fc.integer({ min: 200, max: 400 }),
    storeRequestTimeoutMs: fc.integer({ min: 100, max: 200 }),
    forwardTimeoutMs: fc.integer({ min: 500, max: 800 }),
    activeMs: fc.integer({ min: 3_000, max: l.activeMs }),
    churnPerViewerPerMinute: fc.integer({ min: 1, max: 30 }),
    rejoinAfterMs: fc.integer({ min: 200, max: 6_000 }),
    raceRejoinAfterMs: fc.integer({ min: 0, max: 60 }),
    leavePerViewerPerMinute: fc.integer({ min: 1, max: 10 }),
    reconnectPerViewerPerMinute: fc.integer({ min: 1, max: 12 }),
    storeTopicsMax: fc.integer({ min: 1, max: 3 }),
    storeFrontendsPerTopicMax: fc.integer({ min: 1, max: 3 }),
    storeTombstoneMs: fc.integer({ min: 50, max: 3_000 }),
    storeLapsedKeepMs: fc.integer({ min: 0, max: 3_000 }),
    historyEventsPerTopicMax: fc.integer({ min: 1, max: 6 }),
    historyTopicsMax: fc.integer({ min: 1, max: 3 }),
    topicsPerRenewMax: fc.integer({ min: 1, max: 2 }),
    connectionsMax: fc.integer({ min: 2, max: 40 }),
    topicsPerConnectionMax: fc.integer({ min: 1, max: 2 }),
    jitterUs: fc.integer({ min: 1_000, max: 2_000 }),
    lossPerMillion: fc.constantFrom(5_000, 30_000),
    duplicatePerMillion: fc.constantFrom(0, 20_000, 100_000),
    faults: fc.array(rawFault, { maxLength: l.faults }),
  });
  // Reliable mode's own draws come after all of best-effort's, which they leave as they are; the
  // viewer counts' after both.
  type Base = typeof base extends fc.Arbitrary<infer T> ? T : never;
  const drawn: fc.Arbitrary<[Base, ReliableDraw | null, OccupancyDraw]> = fc.tuple(
    base,
    mode === 'reliable' ? reliableSwarm : fc.constant(null),
    occupancyDraw,
  );
  return drawn.map(([g, r, o]): GeneratedScenario => {
    const on = (feature: SwarmFeature): boolean => g.swarm[feature];
    const onReliable = (feature: ReliableFeature): boolean => r?.on[feature] === true;
    const features = [...swarmFeatures.filter(on), ...reliableFeatures.filter(onReliable)];
    const datacenters = g.datacenters.map((dc, i) => ({
      name: `dc-${String.fromCharCode(97 + i)}`,
      ...dc,
    }));
    const leaseMs = g.leaseMs;
    const roles = {
      leaseMs,
      renewEveryMs: Math.max(1, Math.floor(leaseMs / 3)),
      leaseRequestTimeoutMs: g.leaseRequestTimeoutMs,
      storeRequestTimeoutMs: g.storeRequestTimeoutMs,
      forwardTimeoutMs: g.forwardTimeoutMs,
      frontendLimits: {
        ...(on('tight-history')
          ? { historyEventsPerTopicMax: g.historyEventsPerTopicMax, historyTopicsMax: g.historyTopicsMax }
          : {}),
        ...(on('tight-frontend')
          ? {
              topicsPerRenewMax: g.topicsPerRenewMax,
              connectionsMax: g.connectionsMax,
              topicsPerConnectionMax: g.topicsPerConnectionMax,
            }
          : {}),
        ...(onReliable('tight-streams') ? { reorderBufferMax: r?.reorderBufferMax } : {}),
      },
      storeLimits: {
        ...(on('tight-store')
          ? {
              topicsMax: g.storeTopicsMax,
              frontendsPerTopicMax: g.storeFrontendsPerTopicMax,
              tombstoneMs: g.storeTombstoneMs,
              lapsedKeepMs: g.storeLapsedKeepMs,
            }
          : {}),
        ...(onReliable('short-history') ? { historyEventsMax: r?.historyEventsMax } : {}),
        ...(onReliable('small-reads') ? { readEventsMax: r?.readEventsMax } : {}),
      },
      ...(onReliable('short-forward-window') ? { forwardWindowMs: r?.forwardWindowMs } : {}),
      occupancyEveryMs: o.everyMs ?? 0,
    };
    // Faults happen in the active stretch; then everything heals and the world settles.
    const healByMs = publishFromMs + g.activeMs;
    const loss = on('loss') ? g.lossPerMillion : 0;
    const duplicates = on('loss') ? g.duplicatePerMillion : 0;
    // Reordering-heavy: jitter ten times the base latency and more, yet every hop stays under
    // base + 20 x jitter (40 ms inside a datacenter, 220 ms across), within the timeouts above.
    const jitter = on('reorder') ? g.jitterUs : 100;
    const value = {
      name: `generated-${g.mix}`,
      description: `generated by stadium check (${g.mix} faults; ${features.join(', ') || 'no features'})`,
      mode,
      durationMs: healByMs,
      deliveryDeadlineMs: 2_000,
      subscribeGraceMs: 1_000,
      topology: { datacenters },
      network: {
        client: { latency: { baseUs: 2_000, jitterUs: 1_000 } },
        intraDc: link(200, jitter, loss, duplicates),
        crossDc: link(20_000, on('reorder') ? g.jitterUs * 5 : 5_000, loss, duplicates),
      },
      workload: {
        topics: g.topics.map((t, i) => ({
          name: on('prefixes') ? (prefixNames[i % prefixNames.length] as string) : `topic-${i}`,
          viewers: t.viewers,
          publishesPerSecond: t.publishesPerSecond,
          // A quiet topic is silent for longer than a lease between its bursts.
          ...(on('quiet') && i % 2 === 0 ? { burstMs: t.burstMs, quietMs: leaseMs + 500 } : {}),
        })),
        joinOverMs: 500,
        publishFromMs,
        churnPerViewerPerMinute: on('churn') ? g.churnPerViewerPerMinute : 0,
        rejoinAfterMs: on('races') ? g.raceRejoinAfterMs : g.rejoinAfterMs,
        leavePerViewerPerMinute: on('leave') ? g.leavePerViewerPerMinute : 0,
        reconnectPerViewerPerMinute: on('reconnect') ? g.reconnectPerViewerPerMinute : 0,
        reconnectBackoffMs: { min: 50, max: 500 },
        payloadBytes: 48,
        occupancyWatchersEvery: o.watchersEvery,
      },
      roles,
      faults: g.faults
        .filter((f) => kindsOf[g.mix].includes(f.kind))
        .map((f) => resolveFault(f, { topology: { datacenters } }, healByMs))
        .filter((f): f is Fault => f !== null),
    };
    const draft = parseScenario(value, 'generated scenario');
    // The run goes on past the heal for the world to settle and then to publish for a while.
    const scenario = parseScenario(
      { ...value, durationMs: healByMs + settleMs(draft) + liveTailMs },
      'generated scenario',
    );
    return { scenario, seed: g.seed, mix: g.mix, features };
  });
}

function link(
  baseUs: number,
  jitterUs: number,
  lossPerMillion: number,
  duplicatePerMillion: number,
): unknown {
  return { latency: { baseUs, jitterUs }, lossPerMillion, duplicatePerMillion, fifo: false };
}

/**
 * A raw fault made concrete against the topology and healed by `healByMs`, or null when the
 * topology cannot host it. Generated kills always restart: liveness after heal needs every node back.
 */
function resolveFault(raw: RawFault, topology: Pick<Scenario, 'topology'>, healByMs: number): Fault | null {
  const nodes = nodeIds(topology).map((n) => n.id);
  const dcs = topology.topology.datacenters.map((dc) => dc.name);
  const atMs = Math.min(raw.atMs, healByMs - 100);
  const lastsMs = Math.max(1, Math.min(raw.lastsMs, healByMs - atMs));
  const node = nodes[raw.target % nodes.length] as string;
  const dc = dcs[raw.target % dcs.length] as string;
  switch (raw.kind) {
    case 'kill':
      return { kind: 'kill', atMs, node, restartAfterMs: lastsMs };
    case 'partition': {
      if (dcs.length < 2) return null;
      const other = dcs.filter((name) => name !== dc)[raw.other % (dcs.length - 1)] as string;
      return { kind: 'partition', atMs, between: [dc, other], oneWay: raw.oneWay, repairAfterMs: lastsMs };
    }
    case 'isolate':
      return { kind: 'isolate', atMs, node, releaseAfterMs: lastsMs };
    case 'jitter-storm':
      return {
        kind: 'jitter-storm',
        atMs,
        durationMs: lastsMs,
        extraLatency: {
          baseUs: 10_000 + (raw.other % 10) * 20_000,
          jitterUs: 20_000 + (raw.other % 7) * 40_000,
        },
        ...(raw.scoped ? { dc } : {}),
      };
    case 'loss-burst':
      return {
        kind: 'loss-burst',
        atMs,
        durationMs: lastsMs,
        lossPerMillion: 50_000 + (raw.other % 10) * 80_000,
        ...(raw.scoped ? { dc } : {}),
      };
  }
}
