/** The two worlds side by side, for people: one table, then the differences that matter. */
import type { Report } from '../sim/index.ts';
import type { ChaosResult } from './run.ts';

export function formatChaos(result: ChaosResult): string {
  const { sim, real, scaled, differences } = result;
  const n = (x: number): string => x.toLocaleString('en-US');
  const violations = (r: Report): number => Object.values(r.violationCounts).reduce((a, b) => a + b, 0);
  const lat = (r: Report): string => `${r.latencyMs.p50} / ${r.latencyMs.p99} / ${r.latencyMs.max}`;
  const causes = (r: Report): string =>
    Object.entries(r.lost.byCause)
      .sort((a, b) => b[1] - a[1])
      .map(([cause, count]) => `${cause} ${n(count)}`)
      .join(', ') || 'none';
  const rows: [string, string, string][] = [
    ['events published', n(sim.published), n(real.published)],
    ['deliveries expected', n(sim.expected), n(real.expected)],
    ['delivered', n(sim.delivered), n(real.delivered)],
    ['late', n(sim.late), n(real.late)],
    ['lost, explained', n(sim.lost.explained), n(real.lost.explained)],
    ['lost, unexplained', n(sim.lost.unexplained), n(real.lost.unexplained)],
    ['duplicates', n(sim.duplicates), n(real.duplicates)],
    ['latency p50 / p99 / max ms', lat(sim), lat(real)],
    [
      'publishes answered OK',
      n(sim.publishes.answered + sim.publishes.warned),
      n(real.publishes.answered + real.publishes.warned),
    ],
    ['connections opened', n(sim.connections.opened), n(real.connections.opened)],
    ['messages between nodes', n(sim.messages.sent), n(real.messages.sent)],
    ['violations', n(violations(sim)), n(violations(real))],
  ];
  if (sim.reliable !== undefined && real.reliable !== undefined) {
    const gaps = (r: NonNullable<Report['reliable']>): number =>
      Object.values(r.gaps).reduce((a, b) => a + b, 0);
    rows.splice(
      7,
      0,
      ['reliable: events appended', n(sim.reliable.appended), n(real.reliable.appended)],
      ['reliable: gap notices', n(gaps(sim.reliable)), n(gaps(real.reliable))],
      ['reliable: seqs missing at end', n(sim.reliable.seqsMissing), n(real.reliable.seqsMissing)],
    );
  }
  const width = Math.max(...rows.map(([label]) => label.length));
  const col = Math.max(12, ...rows.map(([, s]) => s.length));
  const lines = [
    `${result.scenario.name} (${result.scenario.mode}), seed ${sim.seed}${scaled === null ? '' : `, scaled to ${n(scaled.viewersRun)} of ${n(scaled.viewersAsked)} viewers`}`,
    ...(Object.keys(result.raised).length === 0
      ? []
      : [
          `role timeouts raised for real processes (both worlds): ${Object.entries(result.raised)
            .map(([name, { from, to }]) => `${name} ${from}→${to} ms`)
            .join(', ')}`,
        ]),
    '',
    `${''.padEnd(width)}  ${'simulator'.padStart(col)}  ${'real processes'.padStart(14)}`,
    ...rows.map(([label, s, r]) => `${label.padEnd(width)}  ${s.padStart(col)}  ${r.padStart(14)}`),
    '',
    `losses by cause, simulator: ${causes(sim)}`,
    `losses by cause, real:      ${causes(real)}`,
  ];
  for (const [world, report] of [
    ['simulator', sim],
    ['real', real],
  ] as const) {
    for (const v of report.violations.slice(0, 5))
      lines.push(`${world}: ${v.invariant} at ${(v.t / 1000).toFixed(1)} ms: ${v.message}`);
  }
  const { merge, problems } = real.chaos;
  if (merge.receiptsUnmatched + merge.receivedUnsent + merge.linesUnreadable > 0)
    lines.push(
      `facts not judged: ${n(merge.receiptsUnmatched)} receipts on no known connection, ${n(merge.receivedUnsent)} messages received but never sent, ${n(merge.linesUnreadable)} unreadable lines`,
    );
  for (const problem of problems) lines.push(`fault not injected as asked: ${problem}`);
  lines.push('');
  if (differences.length === 0) lines.push('No difference between the worlds beyond what timing explains.');
  else {
    lines.push('Differences beyond what timing explains:');
    for (const d of differences) lines.push(`  ${d.what}: simulator ${d.sim}, real ${d.real} — ${d.why}`);
  }
  return lines.join('\n');
}
