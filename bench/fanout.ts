/**
 * Fan-out over loopback: one server process, load clients in their own processes all subscribed to
 * one topic, a publisher process posting at a steady rate (or as fast as the server answers), a
 * warm-up, then a measured window. Reports achieved rates, not asked ones: deliveries counted by
 * the clients, publishes answered 200 by the server.
 */
import { createHistogram, merge, summarize } from './histogram.ts';
import type { LatencySummary } from './histogram.ts';
import { LoadPool } from './load-pool.ts';
import { forkBench } from './processes.ts';
import type { PublisherReport, Transport } from './protocol.ts';
import { cpuMs, sleep } from './servers.ts';
import type { RunningTarget, ServerKind } from './servers.ts';

export const benchTopic = 'bench-live';

/** Stadium's delivery modes (`stadium serve --mode`). */
export type DeliveryMode = 'best-effort' | 'reliable';

export interface FanoutCase {
  server: ServerKind;
  /** Where subscriptions live: Stadium's embedded store, Redis, or none (bare uWebSockets.js). */
  store: 'memory' | 'redis' | 'none';
  transport: Transport;
  /**
   * Stadium's delivery mode (`stadium serve --mode`); absent for the alternatives, and in results
   * recorded before reliable mode was measured (best-effort then).
   */
  mode?: DeliveryMode;
  /** Connections asked for, and open and subscribed when the window started / ended. */
  connections: number;
  connectionsOpenAtStart: number;
  connectionsOpenAtEnd: number;
  /** Publishes per second asked for; null: as fast as the server answers (4 in flight). */
  requestedPublishesPerSecond: number | null;
  achievedPublishesPerSecond: number;
  publishFailures: number;
  /** Publishes due at the asked rate but not sent because every publisher connection was waiting. */
  publishesSkipped: number;
  publishFirstError: string | null;
  deliveriesPerSecond: number;
  /** achievedPublishesPerSecond x connections open: what full delivery would be. */
  expectedDeliveriesPerSecond: number;
  /** deliveriesPerSecond / expectedDeliveriesPerSecond. */
  deliveredRatio: number;
  latency: LatencySummary;
  /** Publish request-to-response latency seen by the publisher. */
  publishLatency: LatencySummary;
  /** CPU used by the server process during the window, in % of one core. */
  serverCpuPercent: number | null;
  /** CPU used by the load clients and publisher together, in % of one core. */
  clientCpuPercent: number | null;
  windowMs: number;
}

export interface FanoutPlan {
  steps: { connections: number; rates: (number | null)[] }[];
  warmupMs: number;
  windowMs: number;
  connectionsPerProcessMax: number;
}

export interface FanoutGroup {
  label: string;
  store: FanoutCase['store'];
  transport: Transport;
  /** Stadium's delivery mode; absent for the alternatives, which have none. */
  mode?: DeliveryMode;
  start(): Promise<RunningTarget>;
}

/** Lanes of the publisher: in-flight publishes at a steady rate, and when publishing flat out. */
const steadyLanes = 64;
const flatOutLanes = 4;

/** Run one group (one server, one transport) through every step of the plan. */
export async function runFanoutGroup(
  group: FanoutGroup,
  plan: FanoutPlan,
  progress: (line: string) => void,
): Promise<FanoutCase[]> {
  const target = await group.start();
  const pool = new LoadPool(group.transport, target.url, benchTopic, plan.connectionsPerProcessMax);
  const cases: FanoutCase[] = [];
  try {
    for (const step of plan.steps) {
      const opened = await pool.topUp(step.connections);
      progress(
        `${group.label}: ${opened.open.toLocaleString('en-US')} connections open in ${pool.processCount} ` +
          `client process(es) (${opened.ms} ms${opened.failed > 0 ? `, ${opened.failed} failed: ${opened.firstError}` : ''})`,
      );
      for (const rate of step.rates) {
        if (cases.length > 0) await pool.topUp(step.connections);
        const result = await runCase(group, target, pool, step.connections, rate, plan, progress);
        cases.push(result);
        progress(
          `${group.label} ${step.connections.toLocaleString('en-US')} conns @ ${rate === null ? 'max' : rate} pub/s: ` +
            `${Math.round(result.achievedPublishesPerSecond).toLocaleString('en-US')} pub/s, ` +
            `${Math.round(result.deliveriesPerSecond).toLocaleString('en-US')} deliveries/s ` +
            `(${(result.deliveredRatio * 100).toFixed(1)}%), p99 ${result.latency.p99Ms} ms`,
        );
      }
    }
  } finally {
    await pool.close();
    await target.process.stop();
  }
  return cases;
}

async function runCase(
  group: FanoutGroup,
  target: RunningTarget,
  pool: LoadPool,
  connections: number,
  rate: number | null,
  plan: FanoutPlan,
  progress: (line: string) => void,
): Promise<FanoutCase> {
  const receivedBefore = (await pool.report()).total;
  const publisher = forkBench('publisher.ts', `publisher (${group.label})`);
  try {
    const started = await publisher.request<{ error?: string }>({
      type: 'start',
      url: target.url,
      topic: benchTopic,
      ratePerSecond: rate ?? 0,
      connections: rate === null ? flatOutLanes : steadyLanes,
    });
    if (started.error !== undefined) throw new Error(`publisher: ${started.error}`);
    await sleep(plan.warmupMs);
    const clientPids = [...pool.pids, publisher.pid];
    const cpuBefore = { server: cpuMs(target.process.pid), clients: sumCpu(clientPids) };
    const windowStarted = Date.now();
    await Promise.all([pool.reset(), publisher.request({ type: 'reset' })]);
    const openAtStart = (await pool.report()).open;
    await sleep(plan.windowMs);
    const [clients, published] = await Promise.all([
      pool.report(),
      publisher.request<PublisherReport>({ type: 'report' }),
    ]);
    const elapsedMs = Date.now() - windowStarted;
    const cpuAfter = { server: cpuMs(target.process.pid), clients: sumCpu(clientPids) };
    const achieved = published.elapsedMs > 0 ? (published.ok / published.elapsedMs) * 1000 : 0;
    const expected = achieved * openAtStart;
    const percent = (before: number | null, after: number | null): number | null =>
      before === null || after === null ? null : Math.round(((after - before) / elapsedMs) * 100);
    return {
      server: target.kind,
      store: group.store,
      transport: group.transport,
      ...(group.mode === undefined ? {} : { mode: group.mode }),
      connections,
      connectionsOpenAtStart: openAtStart,
      connectionsOpenAtEnd: clients.open,
      requestedPublishesPerSecond: rate,
      achievedPublishesPerSecond: round1(achieved),
      publishFailures: published.failed,
      publishesSkipped: published.behind,
      publishFirstError: published.firstError,
      deliveriesPerSecond: Math.round(clients.eventsPerSecond),
      expectedDeliveriesPerSecond: Math.round(expected),
      deliveredRatio: expected > 0 ? Math.round((clients.eventsPerSecond / expected) * 10_000) / 10_000 : 0,
      latency: summarize(clients.histogram),
      publishLatency: summarize(merge(createHistogram(), published.histogram)),
      serverCpuPercent: percent(cpuBefore.server, cpuAfter.server),
      clientCpuPercent: percent(cpuBefore.clients, cpuAfter.clients),
      windowMs: published.elapsedMs,
    };
  } finally {
    let publishedOk: number | null = null;
    try {
      publishedOk = (await publisher.request<PublisherReport>({ type: 'stop' }, 15_000)).totalOk;
    } catch {
      // stopped below either way
    }
    await publisher.stop(2_000);
    const open = (await pool.report()).open;
    const drained = await drain(pool, publishedOk === null ? null : receivedBefore + publishedOk * open);
    if (drained.ms > drainReportMs || drained.missing > 0)
      progress(
        `${group.label}: the backlog took ${(drained.ms / 1000).toFixed(1)} s to drain` +
          (drained.missing > 0
            ? `; ${drained.missing.toLocaleString('en-US')} deliveries never arrived (closed connections or dropped events)`
            : ''),
      );
  }
}

/** How often the clients' event counts are read while waiting for the backlog to drain. */
const drainPollMs = 250;
/** Nothing received for this long: what has not arrived never will (a closed connection). */
const drainQuietMs = 3_000;
const drainLimitMs = 90_000;
/** A drain longer than this is worth a progress line: the case before it was saturated. */
const drainReportMs = 1_000;

/**
 * Wait until the clients have received every delivery of the case (`target`, counted since the
 * load clients started), so that no backlog of a saturated case drains into the next one: it would
 * count those events as its own and its latency would include the wait. A pause in the flow does
 * not end the wait (a server busy with its backlog can go quiet for a second); only `drainQuietMs`
 * of silence does, or `drainLimitMs`.
 */
async function drain(pool: LoadPool, target: number | null): Promise<{ ms: number; missing: number }> {
  const started = Date.now();
  let received = (await pool.report()).total;
  let quietSinceMs = Date.now();
  while (target === null || received < target) {
    if (Date.now() - quietSinceMs >= drainQuietMs || Date.now() - started >= drainLimitMs) break;
    await sleep(drainPollMs);
    const total = (await pool.report()).total;
    if (total !== received) quietSinceMs = Date.now();
    received = total;
  }
  return { ms: Date.now() - started, missing: target === null ? 0 : Math.max(0, target - received) };
}

function sumCpu(pids: number[]): number | null {
  let total = 0;
  for (const pid of pids) {
    const ms = cpuMs(pid);
    if (ms === null) return null;
    total += ms;
  }
  return total;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;
