/**
 * The static summary replay prints when there is no terminal to draw on (output piped or
 * redirected): topology, faults, counters and node states at the end, and every violation the
 * checkers keep in detail with its causal chain. Plain text, no colours, so it reads the same in a CI log.
 */
import { describeFault } from '../../sim/index.ts';
import { formatTime } from './format.ts';
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
  out.push(
    '',
    `At the end (${formatTime(index.endT)}): published ${c.published}, delivered ${c.delivered}, ` +
      `lost ${c.lostExplained} explained / ${c.lostUnexplained} unexplained, duplicates ${c.duplicates}, violations ${c.violations}`,
  );
  const late = index.checkersHeld().pastRetention;
  if (late > 0)
    out.push(
      `  (${late} record(s) came after their event's retention in the checkers and were judged against a forgotten history: a repeat among them is not counted as a duplicate)`,
    );
  for (const node of state.nodeViews()) out.push(`  ${node.id}: ${describeNode(node)}`);
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
