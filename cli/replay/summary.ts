/**
 * The static summary replay prints when there is no terminal to draw on (output piped or
 * redirected): topology, faults, counters and node states at the end, for a reliable trace what
 * reliable mode's checker counted (gap notices by why, resumes, acknowledgements, the promises
 * judged after heal), and every violation the checkers keep in detail with its causal chain. Plain
 * text, no colours, so it reads the same in a CI log.
 */
import { describeFault, type ReliableCounts } from '../../sim/index.ts';
import { formatTime } from './format.ts';
import { isReliable } from './index-pass.ts';
import type { TraceIndex } from './trace-index.ts';

const describeNode = (node: {
  role: string;
  alive: boolean;
  connections: number;
  topics: number;
  leases: number;
}): string => {
  if (!node.alive) return 'DOWN';
  if (node.role === 'frontend')
    return `up, ${node.connections} connections, ${node.topics} topics, ${node.leases} leases`;
  if (node.role === 'store') return `up, ${node.leases} leases`;
  return 'up';
};

/** What reliable mode's checker counted over the whole trace. */
function reliableLines(r: ReliableCounts): string[] {
  const n = (x: number): string => x.toLocaleString('en-US');
  const byWhy = Object.entries(r.gaps)
    .map(([why, count]) => `${why} ${n(count)}`)
    .join(', ');
  return [
    'Reliable mode (the checkers, over the whole trace):',
    `  gap notices: ${byWhy}; ${n(r.dishonestGaps)} dishonest`,
    `  resumes: ${n(r.resumes)} (a viewer's stream going on on a new connection)`,
    `  acknowledged: ${n(r.acknowledged + r.acknowledgedPending)} publishes answered OK (${n(r.acknowledgedPending)} with forward-pending); ${n(r.unstoredAcknowledgements)} not stored where owed`,
    `  appended: ${n(r.appended)} over every store`,
    `  after heal: ${n(r.seqsMissing)} seqs missing over ${n(r.streamsJudged)} viewer streams still joined; ${n(r.orderErrors)} order violations`,
  ];
}

export function summaryText(index: TraceIndex): string {
  const out: string[] = [];
  const scenario = index.run.scenario as { name?: unknown } | null;
  const name = typeof scenario?.name === 'string' ? scenario.name : 'unnamed scenario';
  out.push(
    `Trace ${index.path}: ${index.lines} records, ${formatTime(index.endT)} simulated, scenario ${name}, seed ${index.run.seed}`,
  );
  if (!index.end) out.push('(no `end` record: the run stopped before it finished)');
  out.push('', 'Topology:');
  for (const dc of index.datacenters) {
    const ids = index.nodes.filter((node) => node.dc === dc).map((node) => node.id.slice(dc.length + 1));
    out.push(`  ${dc}: ${ids.join(', ')}`);
  }
  out.push('', `Faults (${index.faults.length}):`);
  for (const span of index.faults) {
    const until = span.end === null ? 'never ends' : `until ${formatTime(span.end)}`;
    out.push(
      `  #${span.f} ${formatTime(span.start)} ${until}: ${describeFault(span.fault, { durations: false })}`,
    );
  }
  if (index.faults.length === 0) out.push('  none');
  const state = index.stateAt(index.endT);
  const c = state.counters;
  // Reliable mode delivers late what missed its deadline, or tells a gap: it is late, not lost.
  const lost = isReliable(index) ? 'late' : 'lost';
  out.push(
    '',
    `At the end (${formatTime(index.endT)}): published ${c.published}, delivered ${c.delivered}, ` +
      `${lost} ${c.lostExplained} explained / ${c.lostUnexplained} unexplained, duplicates ${c.duplicates}, violations ${c.violations}`,
  );
  const late = index.checkersHeld().pastRetention;
  if (late > 0)
    out.push(
      `  (${late} record(s) came after their event's retention in the checkers and were judged against a forgotten history: a repeat among them is not counted as a duplicate)`,
    );
  for (const node of state.nodeViews()) out.push(`  ${node.id}: ${describeNode(node)}`);
  const reliable = index.checked.reliable;
  if (reliable !== undefined) out.push('', ...reliableLines(reliable));
  const counted = index.totals.violations;
  const kept = index.violations.length;
  // The checkers count every violation and keep the first of each invariant in detail.
  out.push(
    '',
    `Violations (${kept}${counted > kept ? `, the first of ${counted} the checkers counted` : ''}):`,
  );
  index.violations.forEach((entry, i) => {
    const v = entry.violation;
    const where = [v.e, v.connection, v.node].filter((x) => x !== undefined).join(' ');
    out.push(
      `  ${i + 1}. ${formatTime(v.t)} ${v.invariant}${where ? ` (${where})` : ''}: ${v.message} [line ${entry.line}]`,
    );
    for (const step of v.chain) out.push(`       ${step}`);
  });
  if (index.violations.length === 0) out.push('  none');
  out.push('', `On a terminal, \`stadium replay ${index.path}\` opens the interactive replay.`);
  return `${out.join('\n')}\n`;
}
