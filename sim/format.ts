/** The human-readable form of a run report, as `stadium sim` prints it. */
import { judgedInvariants } from './checkers/index.ts';
import type { Report } from './run.ts';

export function formatReport(report: Report): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const lat = (l: Report['latencyMs']): string =>
    `p50 ${l.p50} · p90 ${l.p90} · p99 ${l.p99} · max ${l.max} ms`;
  const byCause = Object.entries(report.lost.byCause)
    .sort((a, b) => b[1] - a[1])
    .map(([cause, count]) => `${cause} ${n(count)}`)
    .join(', ');
  const faults = Object.entries(report.faults)
    .filter(([, count]) => count > 0)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(', ');
  const dropped = Object.entries(report.messages.dropped)
    .map(([why, count]) => `${why} ${n(count)}`)
    .join(', ');
  const lines = [
    `scenario            ${report.scenario} (seed ${report.seed})`,
    `mode                ${modeLine[report.mode]}`,
    `published           ${n(report.published)} events (${n(report.publishes.unroutable)} publishes found no live dispatcher; ${n(report.publishes.warned)} answered with a warning that viewers may have missed them${retries(report.publishes)})`,
    `expected deliveries ${n(report.expected)}`,
    `delivered           ${n(report.delivered)}${report.late > 0 ? ` (${n(report.late)} after the deadline)` : ''}`,
    report.reliable === undefined
      ? `lost                ${n(report.lost.explained + report.lost.unexplained)}: ${n(report.lost.explained)} explained${byCause === '' ? '' : ` (${byCause})`}, ${n(report.lost.unexplained)} unexplained`
      : `missed deadline     ${n(report.lost.explained + report.lost.unexplained)} deliveries not there by their deadline${byCause === '' ? '' : ` (with a fault on their path: ${byCause})`}; delivered later or told as a gap, as judged after heal below`,
    `duplicates          ${n(report.duplicates)}`,
    `misdeliveries       ${n(report.misdeliveries)}`,
    `latency             ${lat(report.latencyMs)}`,
    `  same datacenter   ${lat(report.latencyMsSameDc)}`,
    `  cross datacenter  ${lat(report.latencyMsCrossDc)}`,
    `faults injected     ${faults === '' ? 'none' : faults}`,
    `messages            ${n(report.messages.sent)} sent, ${n(report.messages.duplicated)} duplicated, dropped: ${dropped === '' ? 'none' : dropped}`,
    `connections         ${n(report.connections.opened)} opened, ${n(report.connections.refused)} refused, ${n(report.connections.reconnects)} reconnects`,
    `simulated time      ${(report.simulatedMs / 1000).toFixed(1)} s`,
    `wall time           ${(report.wallMs / 1000).toFixed(2)} s (${n(report.events)} events, ${n(report.eventsPerSecond)} events/s)`,
    `trace               ${report.tracePath ?? '(not written)'} (${(report.traceBytes / 1e6).toFixed(1)} MB, ${n(report.traceLines)} lines)`,
    `traceHash           ${report.traceHash}`,
    `liveness after heal ${livenessLine(report.liveness)}`,
    ...(report.reliable === undefined ? [] : reliableLines(report.reliable)),
    ...occupancyLines(report.occupancy),
  ];
  const total = Object.values(report.violationCounts).reduce((a, b) => a + b, 0);
  if (total === 0) {
    lines.push(`violations          none: ${judgedInvariants[report.mode].join(', ')} all hold`);
  } else {
    const counts = Object.entries(report.violationCounts)
      .filter(([, count]) => count > 0)
      .map(([name, count]) => `${name} ${n(count)}`)
      .join(', ');
    lines.push(`violations          ${n(total)}: ${counts}`);
    for (const v of report.violations.slice(0, 5)) {
      lines.push(`  [${v.invariant}] at ${(v.t / 1_000_000).toFixed(6)}s: ${v.message}`);
      for (const step of v.chain.slice(0, 12)) lines.push(`      ${step}`);
      if (v.chain.length > 12) lines.push(`      … ${v.chain.length - 12} more steps in the trace`);
    }
    if (report.violations.length > 5)
      lines.push(`  … ${report.violations.length - 5} more detailed in the trace and in --json`);
  }
  return lines.join('\n');
}

const modeLine: Record<Report['mode'], string> = {
  'best-effort': 'best-effort (fire and forget)',
  reliable: 'reliable (sequenced, acknowledged, retried)',
};

/** Reliable mode's publisher retries, when there were any. */
function retries(publishes: Report['publishes']): string {
  const { retried, abandoned } = publishes;
  if (retried === 0 && abandoned === 0) return '';
  return `; ${retried.toLocaleString('en-US')} sent again, ${abandoned.toLocaleString('en-US')} never answered OK`;
}

function livenessLine(liveness: Report['liveness']): string {
  const { healedAtMs, checkedFromMs, eventsChecked, convergedAfterMs } = liveness;
  if (healedAtMs === null || checkedFromMs === null) return 'not judged: a fault never ends';
  const converged =
    convergedAfterMs === 0
      ? 'no fault cost a delivery after it'
      : `faults cost deliveries until ${convergedAfterMs} ms after it`;
  return `healed at ${(healedAtMs / 1000).toFixed(1)} s (${converged}); ${eventsChecked} events from ${(checkedFromMs / 1000).toFixed(1)} s had to reach everyone`;
}

/**
 * What the viewer counts came to: who watched, how far the counts told were from the truth over
 * the run and once quiet, how stale datacenters were reported, and how soon after their topics'
 * last change each datacenter's counts settled, beside the bound.
 */
function occupancyLines(o: Report['occupancy']): string[] {
  const n = (x: number): string => x.toLocaleString('en-US');
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  const stale =
    o.stale.records === 0
      ? 'no datacenter told stale'
      : `${n(o.stale.records)} with a stale datacenter (${o.stale.dcs.join(', ')}; ${n(o.stale.judged)} judged against a cut)`;
  const told = `viewer counts       ${n(o.watchers)} watchers told ${n(o.told.connections)} counts (${n(o.told.records)} times); ${stale}`;
  if (o.notJudged !== null) return [told, `  not judged        ${o.notJudged}`];
  const worst =
    o.maxError === null
      ? 'none told'
      : `max ${n(o.maxError.viewers)} (${o.maxError.topic} at ${s(o.maxError.t / 1000)}, ${o.maxError.node} told ${n(o.maxError.told)} of ${n(o.maxError.truth)})`;
  const settled = o.convergence
    .map((c) =>
      c.topic === null
        ? `${c.dc} no watchers`
        : c.afterMs === null
          ? `${c.dc} NOT settled`
          : `${c.dc} ${s(c.afterMs)}`,
    )
    .join(' · ');
  return [
    told,
    `  error             |told - truth| mean ${o.meanErrorViewers}, ${worst}; ${n(o.maxErrorJudgedViewers)} once quiet (${n(o.windowsJudged)} stretches judged)`,
    `  settled           ${settled} after their topics' last change (bound B ${s(o.boundMs)}; ${s(o.deathBoundMs)} after a frontend's death)`,
  ];
}

/** What reliable mode's checker found: the promises after heal, the gaps told, the acknowledgements. */
function reliableLines(r: NonNullable<Report['reliable']>): string[] {
  const n = (x: number): string => x.toLocaleString('en-US');
  const gaps = Object.entries(r.gaps)
    .map(([why, count]) => `${why} ${n(count)}`)
    .join(' · ');
  return [
    `after heal          ${n(r.seqsMissing)} seqs missing over ${n(r.streamsJudged)} viewer streams still joined; ${n(r.orderErrors)} order violations; ${n(r.resumes)} resumes`,
    `gap notices         ${gaps}; ${n(r.dishonestGaps)} dishonest`,
    `acknowledged        ${n(r.acknowledged + r.acknowledgedPending)} publishes (${n(r.acknowledgedPending)} with forward-pending); ${n(r.unstoredAcknowledgements)} not stored where owed; ${n(r.appended)} appends over every store`,
  ];
}

/**
 * The same scenario and seed in both modes, side by side: what each delivered, how fast, at what
 * cost in messages, and what each promise came to.
 */
export function formatComparison(bestEffort: Report, reliable: Report): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const missing = (r: Report): number => r.lost.explained + r.lost.unexplained;
  const violations = (r: Report): number => Object.values(r.violationCounts).reduce((a, b) => a + b, 0);
  const after = reliable.reliable;
  const rows: [string, string, string][] = [
    ['published', n(bestEffort.published), n(reliable.published)],
    ['delivered', n(bestEffort.delivered), n(reliable.delivered)],
    ['missed deadline', n(missing(bestEffort)), n(missing(reliable))],
    [
      'missing after heal',
      'not judged: nothing is repaired',
      after === undefined ? '?' : `${n(after.seqsMissing)} seqs`,
    ],
    ['duplicates', n(bestEffort.duplicates), n(reliable.duplicates)],
    ['order violations', 'not promised', after === undefined ? '?' : n(after.orderErrors)],
    [
      'gap notices',
      'none',
      after === undefined
        ? '?'
        : Object.entries(after.gaps)
            .map(([why, count]) => `${why} ${n(count)}`)
            .join(', '),
    ],
    ['latency p50 ms', `${bestEffort.latencyMs.p50}`, `${reliable.latencyMs.p50}`],
    ['latency p90 ms', `${bestEffort.latencyMs.p90}`, `${reliable.latencyMs.p90}`],
    ['latency p99 ms', `${bestEffort.latencyMs.p99}`, `${reliable.latencyMs.p99}`],
    ['  same dc p50/p99', pair(bestEffort.latencyMsSameDc), pair(reliable.latencyMsSameDc)],
    ['  cross dc p50/p99', pair(bestEffort.latencyMsCrossDc), pair(reliable.latencyMsCrossDc)],
    [
      'messages sent',
      n(bestEffort.messages.sent),
      `${n(reliable.messages.sent)} (x${(reliable.messages.sent / Math.max(1, bestEffort.messages.sent)).toFixed(2)})`,
    ],
    [
      'messages per publish',
      (bestEffort.messages.sent / Math.max(1, bestEffort.published)).toFixed(1),
      (reliable.messages.sent / Math.max(1, reliable.published)).toFixed(1),
    ],
    ['wall time s', (bestEffort.wallMs / 1000).toFixed(2), (reliable.wallMs / 1000).toFixed(2)],
    ['violations', n(violations(bestEffort)), n(violations(reliable))],
  ];
  const width = Math.max(...rows.map(([, b]) => b.length), 'best-effort'.length);
  const line = (label: string, b: string, r: string): string =>
    `${label.padEnd(20)} ${b.padEnd(width)}  ${r}`;
  return [
    `scenario            ${bestEffort.scenario} (seed ${bestEffort.seed}), the same faults in both modes`,
    line('', 'best-effort', 'reliable'),
    ...rows.map(([label, b, r]) => line(label, b, r)),
  ].join('\n');
}

function pair(l: Report['latencyMs']): string {
  return `${l.p50} / ${l.p99}`;
}
