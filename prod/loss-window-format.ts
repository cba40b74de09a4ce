/** The table and timeline a person reads after one loss-window run. */
import type { LossWindowResult } from './loss-window-measure.ts';

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
