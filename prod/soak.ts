/**
 * The soak: a reliable deployment under steady publishing, viewer churn and a fault every few
 * minutes, for as long as asked; not part of CI.
 *
 *   npm run soak -- --minutes N [--fault-every-min M] [--out FILE] ...   (`--help` lists them)
 *
 * Theory of operation
 * - The deployment is the fault measurements' (prod/reliable-deployment.ts): 2 datacenters, each
 *   its own redis-server, 2 dispatchers and 2 frontends, `--mode reliable`.
 * - Two topics, each with its own publisher (a publish every 2 x `publishEveryMs`, to every
 *   dispatcher in turn, each with its own id; answers kept).
 * - Viewers (the client library, or `--viewer wire` the raw wire viewer, prod/reliable-viewer.ts;
 *   only the latter can have its connection dropped): on every frontend an SSE and a WebSocket viewer of both topics that stay for the
 *   whole run (they reconnect and resume through faults), and `churnPool` more that come and go:
 *   every `churnEveryMs` either one of them leaves and a new one joins (a random datacenter,
 *   frontend, transport, and one topic or both), or a random viewer's connection is dropped, as a
 *   network failure would, and it reconnects and resumes.
 * - Faults: every `faultEveryMin` minutes the next of prod/reliable-faults-inject.ts', in turn
 *   (never two at once).
 * - Every `rssEveryMs`, every process' VmRSS (prod/reliable-deployment.ts `residentMb`).
 * - Every minute a row: publishes sent and acknowledged that minute, deliveries, p50/p99 of
 *   publish -> receive latency of the deliveries that minute (receive time less the publish's
 *   send time, one clock), viewers connected, the faults begun, each process' RSS, and
 *   "undelivered": (viewer, publish) pairs acknowledged more than `settleMs` ago that the viewer
 *   is owed and has neither received nor been told a gap for (prod/reliable-check.ts' rules;
 *   nonzero during a fault is expected, what matters is that it comes back to 0).
 * - At the end: publishing stops, deliveries drain, and the whole run is judged: lost,
 *   duplicates, inversions, holes, and the RSS trend of every process with the "flat RSS" verdict
 *   (prod/soak-stats.ts defines it). Rows and summary go to `--out` as JSON (rewritten every
 *   minute, so a run cut short keeps its rows). Ctrl-C ends the run early, with its summary.
 * Exit codes: 0 no loss, duplicate, inversion, hole or stream behind, and every judged RSS flat; 1 otherwise; 2 bad input.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { deliveryModes } from '../core/index.ts';
import { startPublishing } from './loss-window-publisher.ts';
import type { Publisher } from './loss-window-publisher.ts';
import { checkDefaults, checkReliable } from './reliable-check.ts';
import type { CheckTotals, DcOutage, FaultFacts, PublishOutcome, StoreLoss } from './reliable-check.ts';
import { deploymentDefaults, residentMb, startDeployment } from './reliable-deployment.ts';
import type { DeploymentOptions } from './reliable-deployment.ts';
import { faultTiming, injectFault, reliableFaults } from './reliable-faults-inject.ts';
import type { ReliableFault } from './reliable-faults-inject.ts';
import { outcomeOf, publishSummary, untilProbed, viewerFactoryOf } from './reliable-faults-run.ts';
import type { FaultViewer, ViewerFactory, ViewerSpec } from './reliable-viewer.ts';
import { percentile, rssTrend } from './soak-stats.ts';
import type { RssSample, RssTrend } from './soak-stats.ts';
import { sleep } from './wait-for.ts';

const usage = `Usage: npm run soak -- --minutes N [options]

A reliable-mode deployment of real processes (2 datacenters, each its own redis-server, 2
dispatchers and 2 frontends) under steady publishing, viewer churn and a fault every few minutes
(in turn: ${reliableFaults.join(', ')}). Prints a row per minute (publishes, deliveries,
p99 latency, acknowledged-but-undelivered, RSS per process) and a summary with the "flat RSS"
verdict; writes rows and summary as JSON.

Options:
  --minutes N           how long (default 30)
  --fault-every-min M   a fault every M minutes (default 3; 0: no faults)
  --faults F,F          which faults, in turn (default all)
  --publish-every-ms MS a publish this often, over both topics (default 20)
  --churn-every-ms MS   a churn step this often (default 5000)
  --out FILE            the JSON results (default soak-<time>.json here)
  --lease-ms MS         frontend lease (default 1500)
  --mode M              reliable | best-effort (default reliable)
  --viewer V            client (the client library, default) | wire (the raw wire contract)
  --log-file PATH       the servers' logs (warn and up)`;

export class SoakUsageError extends Error {
  override name = 'SoakUsageError';
}

export interface SoakOptions {
  minutes: number;
  faultEveryMin: number;
  faults: ReliableFault[];
  publishEveryMs: number;
  churnEveryMs: number;
  churnPool: number;
  rssEveryMs: number;
  settleMs: number;
  drainMsMax: number;
  out: string;
  logFile: string | null;
  deployment: DeploymentOptions;
  viewerFactory: ViewerFactory;
}

export function parseSoakArgs(argv: string[], now = new Date()): SoakOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        minutes: { type: 'string' },
        'fault-every-min': { type: 'string' },
        faults: { type: 'string' },
        'publish-every-ms': { type: 'string' },
        'churn-every-ms': { type: 'string' },
        out: { type: 'string' },
        'lease-ms': { type: 'string' },
        mode: { type: 'string' },
        viewer: { type: 'string' },
        'log-file': { type: 'string' },
        help: { type: 'boolean' },
      },
    }).values;
  } catch (error) {
    throw new SoakUsageError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.help === true) return 'help';
  const integer = (
    name: string,
    text: string | undefined,
    fallback: number,
    min: number,
    max: number,
  ): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max)
      throw new SoakUsageError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
    return value;
  };
  const faults =
    parsed.faults === undefined
      ? [...reliableFaults]
      : parsed.faults.split(',').map((name) => {
          const fault = reliableFaults.find((f) => f === name);
          if (fault === undefined)
            throw new SoakUsageError(`--faults: "${name}" is not one of ${reliableFaults.join(', ')}`);
          return fault;
        });
  const deployment = deploymentDefaults();
  deployment.leaseMs = integer('lease-ms', parsed['lease-ms'], 1_500, 300, 60_000);
  if (parsed.mode !== undefined) {
    const mode = deliveryModes.find((m) => m === parsed.mode);
    if (mode === undefined)
      throw new SoakUsageError(`--mode must be one of ${deliveryModes.join(', ')}, got "${parsed.mode}"`);
    deployment.mode = mode;
  }
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  return {
    minutes: integer('minutes', parsed.minutes, 30, 1, 24 * 60),
    faultEveryMin: integer('fault-every-min', parsed['fault-every-min'], 3, 0, 24 * 60),
    faults,
    publishEveryMs: integer('publish-every-ms', parsed['publish-every-ms'], 20, 1, 60_000),
    churnEveryMs: integer('churn-every-ms', parsed['churn-every-ms'], 5_000, 100, 3_600_000),
    churnPool: 4,
    rssEveryMs: 10_000,
    settleMs: 10_000,
    drainMsMax: 30_000,
    out: parsed.out ?? `soak-${stamp}.json`,
    logFile: parsed['log-file'] ?? null,
    deployment,
    viewerFactory: viewerFactoryOf(parsed.viewer, (m) => new SoakUsageError(m)),
  };
}

export interface SoakRow {
  minute: number;
  publishes: { sent: number; acknowledged: number };
  deliveries: number;
  latencyMsP50: number | null;
  latencyMsP99: number | null;
  /** Owed pairs acknowledged more than `settleMs` ago, neither received nor told as a gap. */
  undelivered: number;
  viewersConnected: number;
  viewersLive: number;
  faults: string[];
  rssMb: Record<string, number | null>;
}

export interface SoakSummary {
  minutes: number;
  publishes: ReturnType<typeof publishSummary>;
  faults: { fault: string; target: string; atMinute: number; healedAfterMs: number | null; error?: string }[];
  viewers: { total: number; joinsFailed: number; bounces: number };
  totals: CheckTotals;
  latencyMsP99: number | null;
  rss: Record<string, RssTrend>;
  flatRss: boolean;
  ok: boolean;
}

export async function runSoak(
  options: SoakOptions,
  print: (line: string) => void,
  stopEarly: { requested: boolean },
): Promise<{ rows: SoakRow[]; summary: SoakSummary }> {
  const run = Math.random().toString(16).slice(2, 10);
  const topics = [`soak-${run}-a`, `soak-${run}-b`];
  const deployment = await startDeployment(options.deployment);
  const viewers: FaultViewer[] = [];
  const publishers: Publisher[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    const startMs = Date.now();
    for (const dc of deployment.dcs) {
      const frontends = dc.frontends.map((f) => f.url);
      for (const [first, frontend] of dc.frontends.entries()) {
        for (const transport of ['sse', 'ws'] as const) {
          viewers.push(
            await options.viewerFactory({
              name: `${frontend.name}/${transport}`,
              dc: dc.name,
              transport,
              frontends,
              first,
              topics,
            }),
          );
        }
      }
    }
    const dispatchers = deployment.dcs.flatMap((dc) => dc.dispatchers);
    for (const topic of topics)
      await untilProbed(
        dispatchers.map((d) => d.url),
        topic,
        viewers,
        `${run}-${topic}`,
      );
    const fromMs = Date.now();
    for (const [i, topic] of topics.entries()) {
      publishers.push(
        startPublishing(
          { publishEveryMs: options.publishEveryMs * 2, inFlightMax: 256 },
          dispatchers,
          topic,
          `${run}-${i}`,
        ),
      );
    }
    print(
      `soak: ${options.minutes} min, topics ${topics.join(' ')}, ${viewers.length} steady viewers; results in ${options.out}`,
    );

    const churn = { joinsFailed: 0, bounces: 0, next: 0 };
    const churners: FaultViewer[] = [];
    const join = async (): Promise<void> => {
      const dc = deployment.dcs[Math.floor(Math.random() * deployment.dcs.length)]!;
      const topicSets = [[topics[0]!], [topics[1]!], topics];
      const spec: ViewerSpec = {
        name: `churn-${++churn.next}`,
        dc: dc.name,
        transport: Math.random() < 0.5 ? 'sse' : 'ws',
        frontends: dc.frontends.map((f) => f.url),
        first: Math.floor(Math.random() * dc.frontends.length),
        topics: topicSets[Math.floor(Math.random() * topicSets.length)]!,
      };
      try {
        const viewer = await options.viewerFactory(spec);
        viewers.push(viewer);
        churners.push(viewer);
      } catch {
        churn.joinsFailed++;
      }
    };
    const churnStep = async (): Promise<void> => {
      if (churners.length < options.churnPool) return join();
      if (Math.random() < 0.5) {
        const [leaving] = churners.splice(Math.floor(Math.random() * churners.length), 1);
        leaving?.close();
        return join();
      }
      const live = viewers.filter((v) => v.closedAtMs() === null && v.connected());
      const bounced = live[Math.floor(Math.random() * live.length)];
      if (bounced?.bounce !== undefined) {
        bounced.bounce();
        churn.bounces++;
      }
    };
    let churning = false;
    timers.push(
      setInterval(() => {
        if (churning) return;
        churning = true;
        void churnStep().finally(() => (churning = false));
      }, options.churnEveryMs),
    );

    const rss = new Map<string, RssSample[]>();
    const sampleRss = (): void => {
      const atMs = Date.now();
      for (const { name, pid } of deployment.processes()) {
        const mb = residentMb(pid);
        if (mb === null) continue;
        const samples = rss.get(name) ?? [];
        samples.push({ atMs, pid, mb });
        rss.set(name, samples);
      }
    };
    sampleRss();
    timers.push(setInterval(sampleRss, options.rssEveryMs));

    const storeLosses: StoreLoss[] = [];
    const outages: DcOutage[] = [];
    const faultFacts: FaultFacts = { storeLosses, outages };
    const faults: SoakSummary['faults'] = [];
    let faultRunning: Promise<void> | null = null;
    const startFault = (minute: number): void => {
      if (faultRunning !== null || options.faults.length === 0) return;
      const fault = options.faults[faults.length % options.faults.length]!;
      const entry: SoakSummary['faults'][number] = {
        fault,
        target: '',
        atMinute: minute,
        healedAfterMs: null,
      };
      faults.push(entry);
      faultRunning = injectFault(deployment, fault, faultTiming(options.deployment.leaseMs), (what) =>
        print(`  ${((Date.now() - startMs) / 60_000).toFixed(2)} min: ${what}`),
      )
        .then((injected) => {
          entry.target = injected.target;
          entry.healedAfterMs = injected.healedAtMs - injected.atMs;
          storeLosses.push(...injected.storeLosses);
          outages.push(...injected.outages);
        })
        .catch((error: unknown) => {
          entry.error = error instanceof Error ? error.message : String(error);
          print(`  fault ${fault} failed: ${entry.error}`);
        })
        .finally(() => (faultRunning = null));
    };

    const sentAt = new Map<string, number>();
    const outcomes = (): PublishOutcome[] =>
      publishers.flatMap((p, i) =>
        p.records().map((r) => outcomeOf(r, deployment.dcOf(r.dispatcher), topics[i]!)),
      );
    const scanned = new Map<FaultViewer, number>();
    const rows: SoakRow[] = [];
    const row = (minute: number, fromMinuteMs: number, toMs: number): SoakRow => {
      const records = publishers.flatMap((p) => p.records());
      for (const r of records) sentAt.set(r.id, r.sentAtMs);
      const inMinute = records.filter((r) => r.sentAtMs >= fromMinuteMs && r.sentAtMs < toMs);
      const latencies: number[] = [];
      for (const viewer of viewers) {
        const events = viewer.log.events;
        for (let i = scanned.get(viewer) ?? 0; i < events.length; i++) {
          const e = events[i]!;
          const sent = sentAt.get(e.id);
          if (sent !== undefined && e.atMs >= fromMinuteMs) latencies.push(e.atMs - sent);
        }
        scanned.set(viewer, events.length);
      }
      const check = checkReliable(outcomes(), viewers, faultFacts, {
        ...checkDefaults,
        fromMs,
        untilMs: toMs - options.settleMs,
      });
      return {
        minute,
        publishes: { sent: inMinute.length, acknowledged: inMinute.filter((r) => r.status === 200).length },
        deliveries: latencies.length,
        latencyMsP50: percentile(latencies, 50),
        latencyMsP99: percentile(latencies, 99),
        undelivered: check.totals.lost,
        viewersConnected: viewers.filter((v) => v.closedAtMs() === null && v.connected()).length,
        viewersLive: viewers.filter((v) => v.closedAtMs() === null).length,
        faults: faults.filter((f) => f.atMinute === minute).map((f) => f.fault),
        rssMb: Object.fromEntries(
          [...rss].map(([name, samples]) => [name, round(samples.at(-1)?.mb ?? null)]),
        ),
      };
    };
    const save = (summary: SoakSummary | null): void => {
      const { viewerFactory: _factory, ...saved } = options;
      writeFileSync(options.out, `${JSON.stringify({ options: saved, rows, summary }, null, 2)}\n`);
    };

    const allLatencies: number[] = [];
    for (let minute = 1; minute <= options.minutes && !stopEarly.requested; minute++) {
      const minuteStartMs = startMs + (minute - 1) * 60_000;
      const minuteEndMs = minuteStartMs + 60_000;
      if (options.faultEveryMin > 0 && minute % options.faultEveryMin === 0) {
        // A fault half-way through the minute, so its row shows both sides of it.
        timers.push(setTimeout(() => startFault(minute), Math.max(0, minuteStartMs + 30_000 - Date.now())));
      }
      while (Date.now() < minuteEndMs && !stopEarly.requested)
        await sleep(Math.min(500, minuteEndMs - Date.now()));
      const r = row(minute, minuteStartMs, Date.now());
      rows.push(r);
      if (r.latencyMsP99 !== null) allLatencies.push(r.latencyMsP99);
      print(formatRow(r));
      save(null);
    }

    for (const timer of timers) clearInterval(timer);
    if (faultRunning !== null) await faultRunning;
    const records = (await Promise.all(publishers.map((p) => p.stop()))).flat();
    await deployment.healthy(60_000).catch(() => {});
    const publishes = outcomes();
    const deadline = Date.now() + options.drainMsMax;
    let final = checkReliable(publishes, viewers, faultFacts, { ...checkDefaults, fromMs });
    while ((final.totals.lost > 0 || final.totals.behind > 0) && Date.now() < deadline) {
      await sleep(500);
      final = checkReliable(publishes, viewers, faultFacts, { ...checkDefaults, fromMs });
    }
    sampleRss();
    const endMs = Date.now();
    const trends = Object.fromEntries(
      [...rss].map(([name, samples]) => [name, rssTrend(samples, startMs, endMs)]),
    );
    const judged = Object.values(trends).filter((t) => t.verdict !== 'restarted');
    const flatRss = judged.length > 0 && judged.every((t) => t.verdict === 'flat');
    const summary: SoakSummary = {
      minutes: rows.length,
      publishes: publishSummary(records.filter((r) => r.sentAtMs >= fromMs)),
      faults,
      viewers: { total: viewers.length, joinsFailed: churn.joinsFailed, bounces: churn.bounces },
      totals: final.totals,
      latencyMsP99: allLatencies.length === 0 ? null : Math.max(...allLatencies),
      rss: trends,
      flatRss,
      ok: final.ok && flatRss,
    };
    save(summary);
    for (const line of formatSummary(summary)) print(line);
    return { rows, summary };
  } finally {
    for (const timer of timers) clearInterval(timer);
    for (const publisher of publishers) await publisher.stop();
    for (const viewer of viewers) viewer.close();
    await deployment.stop();
  }
}

function round(value: number | null): number | null {
  return value === null ? null : Math.round(value * 10) / 10;
}

/** `dc-a/dispatcher-1` -> `a/d1`, `dc-b/redis` -> `b/redis`. */
function shortName(name: string): string {
  return name
    .replace(/^dc-/, '')
    .replace(/dispatcher-/, 'd')
    .replace(/frontend-/, 'f');
}

export function formatRow(r: SoakRow): string {
  const rss = Object.entries(r.rssMb)
    .map(([name, mb]) => `${shortName(name)} ${mb === null ? '-' : mb.toFixed(0)}`)
    .join(' ');
  return [
    `min ${String(r.minute).padStart(3)}`,
    `pub ${r.publishes.acknowledged}/${r.publishes.sent}`,
    `deliveries ${r.deliveries}`,
    `p50 ${r.latencyMsP50 ?? '-'} ms p99 ${r.latencyMsP99 ?? '-'} ms`,
    `undelivered ${r.undelivered}`,
    `viewers ${r.viewersConnected}/${r.viewersLive}`,
    r.faults.length > 0 ? `fault ${r.faults.join(',')}` : '',
    `| RSS MB ${rss}`,
  ]
    .filter((part) => part !== '')
    .join('  ');
}

export function formatSummary(s: SoakSummary): string[] {
  const t = s.totals;
  const lines = [
    `soak summary: ${s.minutes} min; ${s.publishes.acknowledged}/${s.publishes.sent} publishes acknowledged; ${s.faults.length} faults (${s.faults.map((f) => `${f.fault}${f.error === undefined ? '' : ' FAILED'}`).join(', ')})`,
    `  viewers ${s.viewers.total} (joins failed ${s.viewers.joinsFailed}, bounces ${s.viewers.bounces}); owed ${t.owed}, received ${t.received}, gap-covered ${t.coveredByGap}, time-covered ${t.coveredByTime}, past the forwarding window ${t.pastForwardWindow}`,
    `  lost ${t.lost}, duplicates ${t.duplicates}, inversions ${t.inversions}, holes ${t.holes}; worst minute p99 ${s.latencyMsP99 ?? '-'} ms`,
    `  RSS over the last 2/3 of the run (latest incarnation; flat: slope <= 0.5 MB/min):`,
  ];
  for (const [name, trend] of Object.entries(s.rss)) {
    lines.push(
      `    ${name.padEnd(18)} ${trend.verdict.padEnd(9)} slope ${trend.slopeMbPerMin === null ? '-' : trend.slopeMbPerMin.toFixed(3)} MB/min, spread ${trend.spreadMb === null ? '-' : trend.spreadMb.toFixed(1)} MB, last ${trend.lastMb === null ? '-' : trend.lastMb.toFixed(1)} MB`,
    );
  }
  lines.push(`  behind ${t.behind} (seqs past where a viewer's stream stopped, no notice)`);
  lines.push(`  verdict: ${s.ok ? 'PASS' : 'FAIL'} (flat RSS: ${s.flatRss ? 'yes' : 'no'})`);
  return lines;
}

export async function main(argv: string[]): Promise<number> {
  let options: SoakOptions | 'help';
  try {
    options = parseSoakArgs(argv);
  } catch (error) {
    if (!(error instanceof SoakUsageError)) throw error;
    process.stderr.write(`soak: ${error.message}\n\n${usage}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const logFile = options.logFile;
  if (logFile !== null) {
    writeFileSync(logFile, '');
    options.deployment.logSink = (line) => appendFileSync(logFile, `${line}\n`);
  }
  const stopEarly = { requested: false };
  process.once('SIGINT', () => {
    stopEarly.requested = true;
    process.stderr.write('soak: stopping early (Ctrl-C); the summary follows\n');
  });
  try {
    const { summary } = await runSoak(options, (line) => process.stdout.write(`${line}\n`), stopEarly);
    return summary.ok ? 0 : 1;
  } catch (error) {
    process.stderr.write(`soak: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
