/**
 * One reliable-mode fault, measured on a running deployment (prod/reliable-deployment.ts).
 *
 * Theory of operation
 * - A topic of its own per run, so runs on one deployment never mix.
 * - Viewers in every datacenter: on every frontend `ssePerFrontend` SSE and `wsPerFrontend`
 *   WebSocket viewers, made by the `ViewerFactory` (the client library by default,
 *   prod/client-viewer.ts; or the wire-contract viewer, prod/reliable-viewer.ts), each
 *   reconnecting within its own datacenter and resuming from its cursor.
 * - Probe publishes, to every dispatcher in turn, until every viewer has received one: every
 *   registration is in place. Publishes sent from then on are the measured ones (`fromMs`).
 * - Publishing: one publish every `publishEveryMs`, to every dispatcher of every datacenter in
 *   turn, each with its own id; every answer is kept (status, position, warning).
 * - After `beforeFaultMs` the fault (prod/reliable-faults-inject.ts) is injected and heals; after
 *   `afterHealMs` more, publishing stops, and deliveries drain: until every viewer has received or
 *   been told a gap for everything it is owed and every stream has reached its datacenter's known
 *   head, nothing has arrived for `drainQuietMs`, or `drainMsMax` passed.
 * - The judge (prod/reliable-check.ts) counts per viewer what it was owed, received, was told
 *   gaps for, lost, received twice or out of order.
 */
import { randomBytes } from 'node:crypto';
import { startPublishing } from './loss-window-publisher.ts';
import { readMetrics } from './loss-window-watchers.ts';
import type { PublishRecord } from './loss-report.ts';
import { checkDefaults, checkReliable } from './reliable-check.ts';
import type { CheckOptions, CheckResult, FaultFacts, PublishOutcome } from './reliable-check.ts';
import type { Deployment } from './reliable-deployment.ts';
import { faultTiming, injectFault } from './reliable-faults-inject.ts';
import type { FaultTiming, ReliableFault } from './reliable-faults-inject.ts';
import { clientViewer } from './client-viewer.ts';
import { wireViewer } from './reliable-viewer.ts';
import type { FaultViewer, ViewerFactory } from './reliable-viewer.ts';
import { sleep, waitFor } from './wait-for.ts';

export interface FaultRunOptions {
  publishEveryMs: number;
  /** Unanswered publishes at most; a tick past it sends nothing. */
  inFlightMax: number;
  beforeFaultMs: number;
  afterHealMs: number;
  drainMsMax: number;
  drainQuietMs: number;
  timing: FaultTiming;
  ssePerFrontend: number;
  wsPerFrontend: number;
  viewerFactory: ViewerFactory;
  check: CheckOptions;
}

export function faultRunDefaults(leaseMs: number): FaultRunOptions {
  return {
    publishEveryMs: 50,
    inFlightMax: 256,
    beforeFaultMs: 1_500,
    afterHealMs: 4_000,
    // Ends at once when every viewer has caught up; the bounds matter only when one has not, and
    // a loaded machine's store timeouts can take many seconds to recover from.
    drainMsMax: 60_000,
    drainQuietMs: 10_000,
    timing: faultTiming(leaseMs),
    ssePerFrontend: 1,
    wsPerFrontend: 1,
    viewerFactory: clientViewer,
    check: checkDefaults,
  };
}

export interface FaultRunResult {
  fault: ReliableFault;
  target: string;
  topic: string;
  /** When the fault began (epoch ms); the timeline's times are relative to it. */
  faultAtMs: number;
  healedAfterMs: number;
  timeline: { atMs: number; what: string }[];
  publishes: {
    sent: number;
    acknowledged: number;
    failed: number;
    /** Acknowledged publishes by warning code. */
    warnings: Record<string, number>;
    /** Publishes not acknowledged, by HTTP status and error code (or the request's error). */
    failures: Record<string, number>;
  };
  /** Gap notices the viewers got, by why. */
  gapsByWhy: Record<string, number>;
  /** Per datacenter, the store epochs the viewers saw positions in. */
  epochsSeen: Record<string, number>;
  /** What the fault did that may excuse a miss (store losses, datacenter outages). */
  faultFacts: FaultFacts;
  /** Connection attempts the viewers made that failed. */
  failedAttempts: number;
  /** What shows the fault really happened. */
  evidence: {
    /** Per viewer, the longest stretch (ms) between two events it received while publishing went on. */
    longestSilenceMs: Record<string, number>;
    /** Per viewer, its connections after the first. */
    reconnects: Record<string, number>;
  };
  drainMs: number;
  check: CheckResult;
  /** The publishes some viewer lost (its first `lostListedMax`), times relative to the fault. */
  lostPublishes: {
    id: string;
    dc: string;
    sentAtMs: number;
    answeredAtMs: number | null;
    warning: string | null;
  }[];
  /** Node name -> its nonzero core counters and drops, read from /metrics after the drain. */
  metrics: Record<string, Record<string, number>>;
}

export async function runFault(
  deployment: Deployment,
  fault: ReliableFault,
  options: FaultRunOptions,
): Promise<FaultRunResult> {
  const run = randomBytes(4).toString('hex');
  const topic = `rf-${fault}-${run}`;
  const timeline: { atMs: number; what: string }[] = [];
  const note = (what: string): void => void timeline.push({ atMs: Date.now(), what });
  await deployment.healthy();
  const viewers = await connectViewers(deployment, topic, options);
  try {
    const dispatchers = deployment.dcs.flatMap((dc) => dc.dispatchers);
    await untilProbed(
      dispatchers.map((d) => d.url),
      topic,
      viewers,
      run,
    );
    const fromMs = Date.now();
    note('viewers registered; measured publishing starts');
    const publisher = startPublishing(options, dispatchers, topic, run);
    let records: PublishRecord[];
    let injected;
    try {
      await sleep(options.beforeFaultMs);
      injected = await injectFault(deployment, fault, options.timing, note);
      await sleep(options.afterHealMs);
    } finally {
      records = await publisher.stop();
    }
    note('publishing stopped');
    const measured = records.filter((r) => r.sentAtMs >= fromMs);
    const publishes = records.map((r) => outcomeOf(r, deployment.dcOf(r.dispatcher), topic));
    const check = { ...options.check, fromMs };
    const drainStartMs = Date.now();
    const faultFacts: FaultFacts = { storeLosses: injected.storeLosses, outages: injected.outages };
    const result = await drain(publishes, viewers, faultFacts, check, options);
    note('deliveries drained');
    const metrics = await readMetrics(deployment.dcs.flatMap((dc) => [...dc.dispatchers, ...dc.frontends]));
    return {
      fault,
      target: injected.target,
      topic,
      faultAtMs: injected.atMs,
      healedAfterMs: injected.healedAtMs - injected.atMs,
      timeline: timeline.map((t) => ({ atMs: t.atMs - injected.atMs, what: t.what })),
      publishes: publishSummary(measured),
      gapsByWhy: countBy(viewers.flatMap((v) => v.log.gaps.map((g) => g.gap.why))),
      epochsSeen: epochsSeen(viewers),
      faultFacts,
      failedAttempts: viewers.reduce((sum, v) => sum + v.log.failedAttemptsTotal, 0),
      evidence: {
        longestSilenceMs: Object.fromEntries(viewers.map((v) => [v.spec.name, longestSilence(v, fromMs)])),
        reconnects: Object.fromEntries(viewers.map((v) => [v.spec.name, v.log.connections.length - 1])),
      },
      drainMs: Date.now() - drainStartMs,
      check: result,
      lostPublishes: publishes
        .filter((p) => result.viewers.some((v) => v.lostIds.includes(p.id)))
        .map((p) => ({
          id: p.id,
          dc: p.dc,
          sentAtMs: p.sentAtMs - injected.atMs,
          answeredAtMs: p.answeredAtMs === null ? null : p.answeredAtMs - injected.atMs,
          warning: p.warning,
        })),
      metrics,
    };
  } finally {
    for (const viewer of viewers) viewer.close();
  }
}

async function connectViewers(
  deployment: Deployment,
  topic: string,
  options: FaultRunOptions,
): Promise<FaultViewer[]> {
  const pending: Promise<FaultViewer>[] = [];
  for (const dc of deployment.dcs) {
    const frontends = dc.frontends.map((f) => f.url);
    dc.frontends.forEach((frontend, first) => {
      const short = `${dc.name}/${frontend.name.split('/').at(-1)}`;
      const make = (transport: 'sse' | 'ws', k: number): Promise<FaultViewer> =>
        options.viewerFactory({
          name: `${short}/${transport}-${k}`,
          dc: dc.name,
          transport,
          frontends,
          first,
          topics: [topic],
        });
      for (let k = 1; k <= options.ssePerFrontend; k++) pending.push(make('sse', k));
      for (let k = 1; k <= options.wsPerFrontend; k++) pending.push(make('ws', k));
    });
  }
  const settled = await Promise.allSettled(pending);
  const viewers = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failure = settled.find((s) => s.status === 'rejected');
  if (failure !== undefined) {
    for (const viewer of viewers) viewer.close();
    throw (failure as PromiseRejectedResult).reason;
  }
  return viewers;
}

/** `--viewer`'s factory: `client` (or nothing) the client library, `wire` the raw wire viewer. */
export function viewerFactoryOf(
  name: string | undefined,
  usageError: (message: string) => Error,
): ViewerFactory {
  if (name === undefined || name === 'client') return clientViewer;
  if (name === 'wire') return (spec) => wireViewer(spec);
  throw usageError(`--viewer must be client or wire, got "${name}"`);
}

/** Probe publishes, to each dispatcher in turn, until every viewer has received one. */
export async function untilProbed(
  dispatchers: string[],
  topic: string,
  viewers: readonly FaultViewer[],
  run: string,
  timeoutMs = 20_000,
): Promise<void> {
  const probes = new Set<string>();
  await waitFor(
    async () => {
      const id = `probe-${run}-${probes.size}`;
      probes.add(id);
      try {
        const response = await fetch(`${dispatchers[probes.size % dispatchers.length]}/v1/publish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ topic, payload: 'probe', id }),
          signal: AbortSignal.timeout(5_000),
        });
        await response.text();
      } catch {
        // The next probe goes to another dispatcher.
      }
      await sleep(100);
      return viewers.every((v) => v.log.events.some((e) => probes.has(e.id)));
    },
    `every viewer of ${topic} to receive a probe publish`,
    timeoutMs,
    0,
  );
}

/** A publish record as the judge reads it. */
export function outcomeOf(record: PublishRecord, dc: string, topic: string): PublishOutcome {
  const body = (typeof record.body === 'object' && record.body !== null ? record.body : {}) as {
    position?: { epoch?: unknown; seq?: unknown };
    warning?: { code?: unknown };
  };
  const position =
    typeof body.position?.epoch === 'number' && typeof body.position.seq === 'number'
      ? { epoch: body.position.epoch, seq: body.position.seq }
      : null;
  return {
    id: record.id,
    topic,
    dc,
    sentAtMs: record.sentAtMs,
    answeredAtMs: record.answeredAtMs,
    status: record.status,
    position,
    warning: typeof body.warning?.code === 'string' ? body.warning.code : null,
  };
}

/** Until nothing owed is missing and no stream is behind, nothing arrived for `drainQuietMs`, or `drainMsMax` passed. */
async function drain(
  publishes: PublishOutcome[],
  viewers: readonly FaultViewer[],
  faults: FaultFacts,
  check: CheckOptions,
  options: FaultRunOptions,
): Promise<CheckResult> {
  const deadline = Date.now() + options.drainMsMax;
  const arrived = (): number => viewers.reduce((sum, v) => sum + v.log.events.length + v.log.gaps.length, 0);
  let last = arrived();
  let movedAtMs = Date.now();
  for (;;) {
    const result = checkReliable(publishes, viewers, faults, check);
    const caughtUp = result.totals.lost === 0 && result.totals.behind === 0;
    if (caughtUp || Date.now() > deadline || Date.now() - movedAtMs > options.drainQuietMs) {
      return result;
    }
    await sleep(200);
    const now = arrived();
    if (now !== last) {
      last = now;
      movedAtMs = Date.now();
    }
  }
}

export function publishSummary(records: readonly PublishRecord[]): FaultRunResult['publishes'] {
  const acked = records.filter((r) => r.status === 200);
  const warningOf = (r: PublishRecord): string | null => {
    const warning = (r.body as { warning?: { code?: unknown } } | null)?.warning?.code;
    return typeof warning === 'string' ? warning : null;
  };
  const failureOf = (r: PublishRecord): string => {
    if (r.status === 0) return (r.error ?? 'no answer').slice(0, 60);
    const code = (r.body as { code?: unknown } | null)?.code;
    return typeof code === 'string' ? `${r.status} ${code}` : String(r.status);
  };
  return {
    sent: records.length,
    acknowledged: acked.length,
    failed: records.length - acked.length,
    warnings: countBy(acked.flatMap((r) => warningOf(r) ?? [])),
    failures: countBy(records.filter((r) => r.status !== 200).map(failureOf)),
  };
}

/** The longest stretch between two events the viewer received after `fromMs` (publishing was steady). */
function longestSilence(viewer: FaultViewer, fromMs: number): number {
  let longest = 0;
  let previous = fromMs;
  for (const e of viewer.log.events) {
    if (e.atMs < fromMs) continue;
    longest = Math.max(longest, e.atMs - previous);
    previous = e.atMs;
  }
  return longest;
}

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

function epochsSeen(viewers: readonly FaultViewer[]): Record<string, number> {
  const epochs = new Map<string, Set<number>>();
  for (const viewer of viewers) {
    for (const e of viewer.log.events) {
      if (e.position === null) continue;
      const set = epochs.get(e.position.dc) ?? new Set<number>();
      set.add(e.position.epoch);
      epochs.set(e.position.dc, set);
    }
  }
  return Object.fromEntries([...epochs].sort().map(([dc, set]) => [dc, set.size]));
}
