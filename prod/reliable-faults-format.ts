/** The reliable fault measurement's report for people: one table per fault (prod/reliable-faults.ts). */
import type { FaultRunResult } from './reliable-faults-run.ts';

const n = (value: number): string => value.toLocaleString('en-US');

function counts(record: Record<string, number>): string {
  const entries = Object.entries(record);
  return entries.length === 0 ? 'none' : entries.map(([key, value]) => `${key} ${n(value)}`).join(', ');
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  return rows.map((row) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '),
  );
}

export function formatFaultRun(result: FaultRunResult): string {
  const { check, publishes } = result;
  const t = check.totals;
  const lines = [
    `fault ${result.fault}: ${result.target}, healed after ${n(result.healedAfterMs)} ms (topic ${result.topic})`,
    `  publishes: ${n(publishes.sent)} sent, ${n(publishes.acknowledged)} acknowledged (warnings: ${counts(publishes.warnings)}), ${n(publishes.failed)} not (${counts(publishes.failures)})`,
    `  gap notices: ${counts(result.gapsByWhy)}; store epochs seen: ${counts(result.epochsSeen)}; failed connection attempts: ${n(result.failedAttempts)}; drained in ${n(result.drainMs)} ms`,
  ];
  const header = [
    'viewer',
    'owed',
    'received',
    'gap-covered',
    'time-covered',
    'past-window',
    'lost',
    'duplicates',
    'inversions',
    'holes',
    'behind',
    'reconnects',
  ];
  const row = (name: string, v: typeof t | (typeof check.viewers)[number]): string[] => [
    name,
    n(v.owed),
    n(v.received),
    n(v.coveredByGap),
    n(v.coveredByTime),
    n(v.pastForwardWindow),
    n(v.lost),
    n(v.duplicates),
    n(v.inversions),
    n(v.holes),
    n(v.behind),
    n(v.reconnects),
  ];
  lines.push(
    ...table([header, ...check.viewers.map((v) => row(v.name, v)), row('total', t)]).map((l) => `  ${l}`),
  );
  lines.push(
    `  verdict: ${check.ok ? 'PASS' : 'FAIL'} (${n(t.lost)} lost, ${n(t.duplicates)} duplicates, ${n(t.inversions)} inversions, ${n(t.holes)} holes, ${n(t.behind)} behind)`,
  );
  for (const v of check.viewers) {
    if (v.lostIds.length > 0) lines.push(`  ${v.name} lost, first: ${v.lostIds.join(' ')}`);
    const b = v.firstBehind;
    if (b !== null)
      lines.push(`  ${v.name} behind from epoch ${b.epoch} seq ${n(b.seq)} (${b.id ?? 'event unknown'})`);
  }
  if (result.lostPublishes.length > 0) {
    lines.push('  lost publishes (times in ms from the fault):');
    for (const p of result.lostPublishes) {
      lines.push(
        `    ${p.id} to ${p.dc}: sent ${n(p.sentAtMs)}, answered ${p.answeredAtMs === null ? '-' : n(p.answeredAtMs)}${p.warning === null ? '' : ` (${p.warning})`}`,
      );
    }
  }
  if (!check.ok) {
    // What the nodes counted, to tell where a miss was made (the whole set is in --json).
    const telling = /expired|exhausted|failed|timed-out|timeouts|dropped|drops|gap|duplicate|refused/;
    lines.push('  counters of the nodes (/metrics, nonzero, failures and drops):');
    for (const [node, counters] of Object.entries(result.metrics)) {
      const shown = Object.entries(counters).filter(([name]) => telling.test(name));
      if (shown.length > 0)
        lines.push(`    ${node}: ${shown.map(([name, value]) => `${name} ${n(value)}`).join(', ')}`);
    }
  }
  lines.push('  timeline (ms from the fault):');
  for (const entry of result.timeline) lines.push(`    ${String(entry.atMs).padStart(7)}  ${entry.what}`);
  return lines.join('\n');
}
