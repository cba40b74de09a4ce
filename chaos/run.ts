/**
 * One chaos run: a simulator scenario on real processes, judged by the simulator's checkers, side
 * by side with the simulator's run of the same scenario and seed.
 *
 * Theory of operation
 * - The scenario is scaled to what one machine holds (`viewersMax` viewers in all, each topic keeping
 *   its share and at least one viewer per datacenter), and the same scaled scenario runs in both
 *   worlds, so the comparison is like for like; the report says when it was scaled.
 * - Start: a redis-server per datacenter, every node a process (chaos/deployment.ts), fault proxies
 *   on the node links (chaos/fault-proxy.ts, in a process of their own): the scenario's link latency
 *   and loss, and its network faults. Without proxies, a schedule with network faults is refused. The run's clock
 *   starts when every node answers /healthz: viewers join, publishers publish and faults strike at
 *   the scenario's moments from then on (chaos/viewers.ts, chaos/publishers.ts, chaos/faults.ts).
 * - It lasts as long as the simulated run does (the scenario's duration and its quiet tail), then
 *   everything stops, whatever happened, and the facts are merged (chaos/merge.ts) and judged by the
 *   simulator's checkers; the trace is written in the simulator's format, so `stadium replay` opens
 *   it, and the report has the simulator's report's keys.
 * - What differs between the worlds is named (chaos/compare.ts): a violation in one world only, a
 *   loss the other world does not have, latencies far apart.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { msOfUs, usOfMs, type DcId } from '../core/index.ts';
import {
  catchUpMs,
  Checkers,
  faultSchedule,
  latencySummary,
  nodeIds,
  rolesWithBug,
  Rng,
  runScenario,
  TraceWriter,
} from '../sim/index.ts';
import type { Fact, FaultKind, PlantedBug, Report, Scenario } from '../sim/index.ts';
import { compareWorlds, type WorldDifference } from './compare.ts';
import { ChaosDeployment } from './deployment.ts';
import { monotonicUs } from './fact-recorder.ts';
import { ChaosFaults, needsProxy, type LinkFaults } from './faults.ts';
import { mergeFacts, type MergeCounts } from './merge.ts';
import { ChaosPublishers, type PlannedPublish } from './publishers.ts';
import { ChaosViewers, type ViewerPlan } from './viewers.ts';

/**
 * Fault proxies for a deployment's node links, started before its nodes: `emit` takes their drops
 * as facts, `runUs` turns a CLOCK_MONOTONIC microsecond into the run's clock.
 */
export type StartLinks = (context: {
  deployment: ChaosDeployment;
  seed: string;
  emit: (fact: Fact) => void;
  runUs: (monotonicUs: number) => number;
  /** The scenario's links: the proxies lose and delay messages by them as the simulator does. */
  network: Scenario['network'];
}) => Promise<{ links: LinkFaults; close(): Promise<void> }>;

export interface ChaosOptions {
  scenario: Scenario;
  seed: string;
  plantBug: PlantedBug | null;
  /** Most viewers the run holds; a scenario with more is scaled down. */
  viewersMax: number;
  /** Where the facts, logs and trace go (a fresh temporary directory when null). */
  dir: string | null;
  tracePath: string | null;
  /** Starts the fault proxies; null: no proxies (a schedule with network faults is refused). */
  startLinks: StartLinks | null;
  /** Told what happens, a line at a time. */
  onProgress?: (line: string) => void;
  /** Told once everything is started: the function that tears it all down (Ctrl-C calls it). */
  onStarted?: (teardown: () => Promise<void>) => void;
}

/** The real run's report: the simulator's report's keys, and what only a real run has. */
export interface RealReport extends Report {
  world: 'real';
  chaos: {
    dir: string;
    merge: MergeCounts;
    problems: string[];
    viewerConnectFailures: number;
  };
}

export interface ChaosResult {
  scenario: Scenario;
  /** How it was scaled from the scenario asked for, or null. */
  scaled: { viewersAsked: number; viewersRun: number } | null;
  /** Role timeouts raised to the real floors (both worlds ran with them). */
  raised: Record<string, { from: number; to: number }>;
  real: RealReport;
  sim: Report;
  differences: WorldDifference[];
}

export class ChaosError extends Error {
  override name = 'ChaosError';
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const say = options.onProgress ?? (() => {});
  const { scenario: sized, scaled } = scaleScenario(options.scenario, options.viewersMax);
  const { scenario, raised } = realTimeouts(sized);
  const schedule = faultSchedule(scenario, new Rng(options.seed, 'faults'));
  // With proxies at hand every run uses them: they are the scenario's links (latency, loss) too.
  const needsLinks = options.startLinks !== null || schedule.some(needsProxy);
  if (needsLinks && options.startLinks === null)
    throw new ChaosError('the schedule has network faults, but no fault proxies were given to inject them');
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'stadium-chaos-'));
  mkdirSync(dir, { recursive: true });

  // The simulator's run first: it is fast, and a scenario it refuses is refused before any process starts.
  say(`simulating ${scenario.name} (seed ${options.seed})`);
  const workload = new SimWorkload(scenario);
  const sim = runScenario(scenario, options.seed, {
    tracePath: null,
    onFact: workload.fact,
    ...(options.plantBug === null ? {} : { roles: rolesWithBug(options.plantBug) }),
  });

  say(
    `starting ${nodeIds(scenario).length} nodes and ${scenario.topology.datacenters.length} redis-servers in ${dir}`,
  );
  const harness: Fact[] = [];
  const emit = (fact: Fact): void => void harness.push(fact);
  let originUs = 0;
  const nowUs = (): number => monotonicUs() - originUs;
  const started = performance.now();
  const proxies: { started: Awaited<ReturnType<StartLinks>> | null } = { started: null };
  // Nodes write CLOCK_MONOTONIC times (origin 0); the merge shifts them to the run's clock.
  const deployment = await ChaosDeployment.start({
    scenario,
    mode: scenario.mode,
    dir,
    originUs: 0,
    plantBug: options.plantBug,
    proxied: needsLinks,
    readyTimeoutMs: 30_000,
    beforeLaunch: async (planned) => {
      if (needsLinks && options.startLinks !== null)
        proxies.started = await options.startLinks({
          deployment: planned,
          seed: options.seed,
          emit,
          runUs: (us) => us - originUs,
          network: scenario.network,
        });
    },
    onStartFailed: async () => {
      await proxies.started?.close();
      proxies.started = null;
    },
  });
  let viewers: ChaosViewers | null = null;
  let publishers: ChaosPublishers | null = null;
  let faults: ChaosFaults | null = null;
  let torn: Promise<void> | null = null;
  const teardown = (): Promise<void> =>
    (torn ??= (async () => {
      await publishers?.stop();
      await faults?.stop();
      viewers?.close();
      await deployment.stop();
      await proxies.started?.close();
    })());
  options.onStarted?.(teardown);
  let endUs = 0;
  try {
    originUs = monotonicUs();
    const plans = workload.plans();
    viewers = new ChaosViewers(plans, (dc: DcId) => deployment.frontendsOf(dc), {
      mode: scenario.mode,
      seed: options.seed,
      reconnectBackoffMs: scenario.workload.reconnectBackoffMs,
      churnPerViewerPerMinute: scenario.workload.churnPerViewerPerMinute,
      rejoinAfterMs: scenario.workload.rejoinAfterMs,
      stopReconnectsAtMs: scenario.durationMs,
      connectTimeoutMs: 2_000,
      nowUs,
    });
    publishers = new ChaosPublishers({
      scenario,
      plan: workload.publishes,
      liveDispatchers: (dc) => deployment.liveDispatchers(dc).map((node) => node.url),
      nowUs,
      emit,
    });
    faults = new ChaosFaults(schedule, deployment, proxies.started?.links ?? null, nowUs, emit);
    viewers.start(0);
    publishers.start(0);
    faults.start(0);
    const tailMs =
      scenario.mode === 'reliable'
        ? Math.max(scenario.deliveryDeadlineMs, catchUpMs(scenario))
        : scenario.deliveryDeadlineMs;
    const runMs = scenario.durationMs + tailMs;
    say(`running ${(runMs / 1000).toFixed(1)} s of ${scenario.name} on real processes`);
    while (msOfUs(nowUs()) < runMs) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, runMs - msOfUs(nowUs()) + 1)));
      const published = harness.filter((fact) => fact.kind === 'answered').length;
      say(
        `  ${(msOfUs(nowUs()) / 1000).toFixed(1)} s: ${viewers.connected}/${plans.length} viewers connected, ${published} publishes answered`,
      );
    }
    endUs = nowUs();
  } finally {
    await teardown();
  }

  say('merging and judging the facts');
  const { facts, counts } = mergeFacts({
    scenario,
    seed: options.seed,
    nodes: nodeIds(scenario),
    faults: schedule,
    factsDir: join(dir, 'facts'),
    harness,
    viewers: viewers.records,
    endUs,
    originUs,
    timerSlackUs: usOfMs(timerSlackMs),
  });
  const trace = new TraceWriter(options.tracePath);
  const checkers = new Checkers((output) => trace.output(output));
  for (const fact of facts) {
    trace.fact(fact);
    checkers.apply(fact);
  }
  const traceHash = trace.close();
  const wallMs = Math.max(1, Math.round(performance.now() - started));
  const { latency: histograms, violationCounts, violations, ...deliveries } = checkers.summary();
  const violationTotal = Object.values(violationCounts).reduce((a, b) => a + b, 0);
  const real: RealReport = {
    scenario: scenario.name,
    mode: scenario.mode,
    seed: options.seed,
    traceHash,
    tracePath: options.tracePath,
    traceBytes: trace.bytes,
    traceLines: trace.lines,
    events: facts.length,
    ...deliveries,
    latencyMs: latencySummary(histograms.overall),
    latencyMsSameDc: latencySummary(histograms.sameDc),
    latencyMsCrossDc: latencySummary(histograms.crossDc),
    faults: faultCounts(schedule),
    messages: messageCounts(facts),
    publishes: publishers.counts,
    connections: connectionCounts(facts),
    counters: { frontend: {}, dispatcher: {}, store: {} },
    simulatedMs: msOfUs(endUs),
    wallMs,
    eventsPerSecond: Math.round((facts.length / wallMs) * 1000),
    violationCounts,
    violations,
    ok: violationTotal === 0,
    world: 'real',
    chaos: {
      dir,
      merge: counts,
      problems: faults.problems,
      viewerConnectFailures: viewers.records.failedAttempts,
    },
  };
  return { scenario, scaled, raised, real, sim, differences: compareWorlds(sim, real) };
}

/**
 * How late a real process' timer may fire before the checkers call it missed: a loaded machine's
 * scheduling (a 2-core machine running eight nodes, two redis-servers and the harness), not a bug.
 */
export const timerSlackMs = 250;

/**
 * The least each role timeout may be on real processes, so that a store answering in tens of
 * milliseconds on a busy machine, or a process paused by its garbage collector, is not taken for a
 * fault. The simulator's defaults are tighter (a simulated store answers within its link's latency).
 */
export const realTimeoutFloorsMs = {
  storeRequestTimeoutMs: 500,
  leaseRequestTimeoutMs: 800,
  forwardTimeoutMs: 1_000,
  deliverTimeoutMs: 1_000,
  readTimeoutMs: 1_000,
  forwardAckWaitMs: 2_000,
} as const satisfies Partial<Record<keyof Scenario['roles'], number>>;

/** The scenario with its role timeouts raised to the real floors, and which were raised (from, to). */
export function realTimeouts(scenario: Scenario): {
  scenario: Scenario;
  raised: Record<string, { from: number; to: number }>;
} {
  const roles = { ...scenario.roles };
  const raised: Record<string, { from: number; to: number }> = {};
  for (const [name, floor] of Object.entries(realTimeoutFloorsMs) as [
    keyof typeof realTimeoutFloorsMs,
    number,
  ][]) {
    if (roles[name] >= floor) continue;
    raised[name] = { from: roles[name], to: floor };
    roles[name] = floor;
  }
  return { scenario: { ...scenario, roles }, raised };
}

/** The scenario with at most `viewersMax` viewers, each topic keeping its share (one per datacenter at least). */
export function scaleScenario(
  scenario: Scenario,
  viewersMax: number,
): { scenario: Scenario; scaled: ChaosResult['scaled'] } {
  const asked = scenario.workload.topics.reduce((n, topic) => n + topic.viewers, 0);
  if (asked <= viewersMax) return { scenario, scaled: null };
  const dcs = scenario.topology.datacenters.length;
  const topics = scenario.workload.topics.map((topic) => ({
    ...topic,
    viewers: Math.max(dcs, Math.floor((topic.viewers * viewersMax) / asked)),
  }));
  const run = topics.reduce((n, topic) => n + topic.viewers, 0);
  return {
    scenario: { ...scenario, workload: { ...scenario.workload, topics } },
    scaled: { viewersAsked: asked, viewersRun: run },
  };
}

/**
 * The simulated run's workload, to run for real: its publishes (each event's first `published`
 * fact: when, topic, origin) and its viewers (each viewer's first connection: when, which
 * datacenter; the topics it ever joined). Even viewers use SSE, odd ones WebSocket.
 */
export class SimWorkload {
  readonly publishes: PlannedPublish[] = [];
  private readonly viewers = new Map<number, ViewerPlan>();
  private readonly published = new Set<string>();
  private readonly dcOf = new Map<string, DcId>();

  constructor(scenario: Scenario) {
    for (const node of nodeIds(scenario)) this.dcOf.set(node.id, node.dc);
  }

  readonly fact = (fact: Fact): void => {
    if (fact.kind === 'published' && !this.published.has(fact.event.id)) {
      this.published.add(fact.event.id);
      this.publishes.push({ atMs: fact.t / 1000, topic: fact.event.topic, dc: fact.origin });
    } else if (fact.kind === 'connection' && fact.op === 'opened' && !this.viewers.has(fact.viewer)) {
      this.viewers.set(fact.viewer, {
        viewer: fact.viewer,
        dc: this.dcOf.get(fact.node) ?? '',
        transport: fact.viewer % 2 === 0 ? 'sse' : 'ws',
        topics: [],
        joinAtMs: fact.t / 1000,
      });
    } else if (fact.kind === 'connection' && fact.op === 'joined') {
      const plan = this.viewers.get(fact.viewer);
      if (plan !== undefined && !plan.topics.includes(fact.topic)) plan.topics.push(fact.topic);
    }
  };

  /** Every viewer that joined a topic. */
  plans(): ViewerPlan[] {
    return [...this.viewers.values()].filter((plan) => plan.topics.length > 0);
  }
}

function faultCounts(schedule: readonly { kind: FaultKind }[]): Record<FaultKind, number> {
  const counts: Record<FaultKind, number> = {
    kill: 0,
    partition: 0,
    isolate: 0,
    'jitter-storm': 0,
    'loss-burst': 0,
  };
  for (const fault of schedule) counts[fault.kind]++;
  return counts;
}

function messageCounts(facts: readonly Fact[]): Report['messages'] {
  const messages: Report['messages'] = { sent: 0, dropped: {}, duplicated: 0 };
  for (const fact of facts) {
    if (fact.kind === 'sent') messages.sent++;
    else if (fact.kind === 'dropped') messages.dropped[fact.why] = (messages.dropped[fact.why] ?? 0) + 1;
  }
  return messages;
}

function connectionCounts(facts: readonly Fact[]): Report['connections'] {
  const connections = { opened: 0, refused: 0, reconnects: 0 };
  const viewersSeen = new Set<number>();
  for (const fact of facts) {
    if (fact.kind !== 'connection') continue;
    if (fact.op === 'opened') {
      connections.opened++;
      if (viewersSeen.has(fact.viewer)) connections.reconnects++;
      viewersSeen.add(fact.viewer);
    } else if (fact.op === 'refused') connections.refused++;
  }
  return connections;
}
