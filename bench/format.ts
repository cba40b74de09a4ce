/** The results of a run as text: the table `stadium bench` prints, and the README's markdown. */
import type { FanoutCase } from './fanout.ts';
import type { BenchResults, ModeComparison, TargetCheck } from './summary.ts';

/** Thousands separators, no decimals. */
export const count = (x: number): string => Math.round(x).toLocaleString('en-US');
const ms = (x: number): string => (x >= 100 ? String(Math.round(x)) : x.toFixed(1));
const asked = (rate: number | null): string => (rate === null ? 'max' : count(rate));
const percent = (x: number | null): string => (x === null ? '-' : `${x}%`);

/** Columns padded to their widest cell; numbers (cells starting with a digit or '-') right-aligned. */
export function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => /^[-\d]/.test(r[i] ?? '')));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/** A GitHub-flavoured markdown table. */
export function markdownTable(headers: string[], rows: string[][]): string[] {
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => /^[-\d]/.test(r[i] ?? '')));
  return [
    `| ${headers.join(' | ')} |`,
    `| ${numeric.map((right) => (right ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

const serverName = (c: Pick<FanoutCase, 'server'>): string =>
  c.server === 'bare-uws' ? 'bare uWS' : c.server === 'socketio' ? 'Socket.IO' : 'Stadium';

const fanoutHeaders = [
  'server',
  'mode',
  'store',
  'transport',
  'conns',
  'asked pub/s',
  'pub/s',
  'deliveries/s',
  'delivered',
  'p50 ms',
  'p90 ms',
  'p99 ms',
  'max ms',
  'server cpu',
  'client cpu',
];

/** Stadium's delivery mode ('best-effort' where older results do not say); '-' for the alternatives. */
const modeName = (c: { server?: FanoutCase['server']; mode?: FanoutCase['mode'] }): string =>
  c.server !== undefined && c.server !== 'stadium' ? '-' : (c.mode ?? 'best-effort');

function fanoutRow(c: FanoutCase): string[] {
  return [
    serverName(c),
    modeName(c),
    c.store,
    c.transport,
    count(c.connectionsOpenAtStart),
    asked(c.requestedPublishesPerSecond),
    count(c.achievedPublishesPerSecond),
    count(c.deliveriesPerSecond),
    `${(c.deliveredRatio * 100).toFixed(1)}%`,
    ms(c.latency.p50Ms),
    ms(c.latency.p90Ms),
    ms(c.latency.p99Ms),
    ms(c.latency.maxMs),
    percent(c.serverCpuPercent),
    percent(c.clientCpuPercent),
  ];
}

const verdict = (t: TargetCheck): string => (t.met === null ? 'n/a' : t.met ? 'met' : 'MISSED');

/**
 * One row per comparison, shared by the text and the markdown tables; the markdown one names the
 * Redis adapter in full and gives Stadium's transport alone.
 */
function comparisonRows(r: BenchResults, style: 'text' | 'markdown'): string[][] {
  return r.comparisons.map((c) => [
    c.against === 'bare-uws'
      ? 'bare uWS'
      : `Socket.IO (${c.otherStore !== 'redis' ? 'memory' : style === 'markdown' ? 'Redis adapter' : 'Redis'})`,
    style === 'markdown' || c.transport === c.otherTransport
      ? c.transport
      : `${c.transport} vs ${c.otherTransport}`,
    count(c.connections),
    asked(c.requestedPublishesPerSecond),
    count(c.stadiumDeliveriesPerSecond),
    count(c.otherDeliveriesPerSecond),
    c.deliveriesRatio.toFixed(2),
    ms(c.stadiumP99Ms),
    ms(c.otherP99Ms),
    c.p99Ratio.toFixed(2),
  ]);
}

/** The dispatcher table's columns after the store's, shared by the text and the markdown tables. */
const dispatcherColumns = [
  'mode',
  'requests in flight',
  'events/request',
  'publishes/s',
  'failed',
  'p50 ms',
  'p99 ms',
  'server cpu',
  'Redis cpu / publish',
];

/** One row per dispatcher case, shared by the text and the markdown tables. */
function dispatcherRows(r: BenchResults): string[][] {
  return r.dispatcher.map((d) => [
    d.store,
    modeName(d),
    String(d.concurrency),
    String(d.batch),
    count(d.publishesPerSecond),
    count(d.failures),
    ms(d.latency.p50Ms),
    ms(d.latency.p99Ms),
    percent(d.serverCpuPercent),
    d.redisCpuUsPerPublish === null || d.redisCpuUsPerPublish === undefined
      ? '-'
      : `${d.redisCpuUsPerPublish} µs`,
  ]);
}

const modeHeaders = [
  'case',
  'store',
  'reliable /s',
  'best-effort /s',
  'ratio',
  'reliable p99 ms',
  'best-effort p99 ms',
  'ratio',
];

/** One row per reliable case beside its best-effort twin, shared by the text and the markdown tables. */
function modeRows(comparisons: ModeComparison[]): string[][] {
  return comparisons.map((m) => [
    m.kind === 'fanout'
      ? `fan-out ${(m.transport ?? '').toUpperCase()}, ${count(m.connections ?? 0)} conns, ${asked(m.requestedPublishesPerSecond)} pub/s (deliveries)`
      : `dispatcher, ${m.concurrency ?? 0} in flight x ${m.batch ?? 0} event${m.batch === 1 ? '' : 's'} (publishes)`,
    m.store,
    count(m.reliablePerSecond),
    count(m.bestEffortPerSecond),
    m.throughputRatio.toFixed(2),
    ms(m.reliableP99Ms),
    ms(m.bestEffortP99Ms),
    m.p99Ratio.toFixed(2),
  ]);
}

/** One row per memory case, shared by the text and the markdown tables. */
function memoryRows(r: BenchResults): string[][] {
  return r.memory.map((c) => [
    c.server === 'stadium' ? 'Stadium frontend' : 'bare uWS',
    c.transport,
    count(c.connections),
    String(c.clientProcesses),
    `${(c.rssBeforeBytes / 2 ** 20).toFixed(1)} MiB`,
    `${(c.rssAfterBytes / 2 ** 20).toFixed(1)} MiB`,
    count(c.rssBytesPerConnection),
    c.rssBytesPerConnectionMarginal === null ? '-' : count(c.rssBytesPerConnectionMarginal),
  ]);
}

/** The report printed on stdout. */
export function formatResults(r: BenchResults): string[] {
  const out: string[] = [];
  const m = r.machine;
  out.push(`stadium bench${r.quick ? ' --quick' : ''}, ${r.date}`);
  out.push(
    `machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node} (${m.platform}), ` +
      `load average ${m.loadAverage1m} at the start`,
  );
  if (r.simulator !== null) {
    const s = r.simulator;
    out.push('', `simulator (${s.scenario}, seed ${s.seed})`);
    out.push(
      ...table(
        ['figure', 'value'],
        [
          ['heap items / s', count(s.heapItemsPerSecond)],
          ['simulated events / s (items + client receipts)', count(s.simulatedEventsPerSecond)],
          ['simulated s / wall s', String(s.simulatedSecondsPerWallSecond)],
          ['bare heap loop items / s (ceiling)', count(s.bareHeapItemsPerSecond)],
          ['ratio to the bare heap', String(s.ratioToBareHeap)],
        ],
      ).map((l) => `  ${l}`),
    );
  }
  if (r.occupancy !== undefined && r.occupancy !== null) {
    const o = r.occupancy;
    const { options: b } = o;
    out.push(
      '',
      `occupancy (simulated: ${count(b.viewers)} viewers on one topic over 2 datacenters x 4 frontends, ` +
        `each leaving and rejoining ${b.churnPerViewerPerMinute}/min, interval ${b.occupancyEveryMs} ms, ` +
        `1 in ${b.watchersEvery} watching, seed ${b.seed})`,
    );
    out.push(
      ...table(
        ['figure', 'value'],
        [
          ['membership changes / s (the churn)', String(o.churnChangesPerSecond)],
          ['node messages / s, occupancy off', String(o.messagesPerSecond.off)],
          ['node messages / s, occupancy on', String(o.messagesPerSecond.on)],
          [
            'extra messages / s (by type)',
            `${o.messagesPerSecond.extra} (${Object.entries(o.extraByType)
              .filter(([, n]) => n > 0)
              .map(([type, n]) => `${type} ${n}`)
              .join(', ')})`,
          ],
          ['counts told to watchers / s', String(o.toldPerSecond)],
          [
            'error while churning: mean over watchers',
            `${o.error.meanOfMeans} (${(o.error.meanRelative * 100).toFixed(2)}% of the count)`,
          ],
          ['error while churning: p99 / max of the worst watcher', `${o.error.p99OfMax} / ${o.error.max}`],
          [
            'exact after the last change, in',
            o.convergedMsAfterChurn === null ? 'never' : `${o.convergedMsAfterChurn} ms`,
          ],
        ],
      ).map((l) => `  ${l}`),
    );
  }
  if (r.properties !== null) {
    const p = r.properties;
    out.push(
      '',
      `property checks: ${count(p.runs)} scenarios in ${count(p.durationMs)} ms = ${p.scenariosPerSecond} scenarios/s (seed ${p.seed})`,
    );
  }
  if (r.fanout.length > 0) {
    out.push(
      '',
      `fan-out over loopback (${r.settings.workload}; warm-up ${r.settings.warmupMs} ms, window ${r.settings.windowMs} ms)`,
    );
    out.push(...table(fanoutHeaders, r.fanout.map(fanoutRow)).map((l) => `  ${l}`));
  }
  if (r.comparisons.length > 0) {
    out.push('', 'Stadium / alternative, same workload (deliveries: higher is better; p99: lower is)');
    out.push(
      ...table(
        [
          'against',
          'transport',
          'conns',
          'asked pub/s',
          'Stadium del/s',
          'other del/s',
          'ratio',
          'Stadium p99',
          'other p99',
          'ratio',
        ],
        comparisonRows(r, 'text'),
      ).map((l) => `  ${l}`),
    );
  }
  if (r.memory.length > 0) {
    out.push('', 'RSS per idle connection (one server process; RSS after - before, / connections)');
    out.push(
      ...table(
        [
          'server',
          'transport',
          'conns',
          'client procs',
          'RSS before',
          'RSS after',
          'bytes / conn',
          'marginal',
        ],
        memoryRows(r),
      ).map((l) => `  ${l}`),
    );
  }
  if (r.dispatcher.length > 0) {
    out.push(
      '',
      'one dispatcher process, publishing flat out (no frontends registered; p50/p99 per request)',
    );
    out.push(...table(['store', ...dispatcherColumns], dispatcherRows(r)).map((l) => `  ${l}`));
  }
  const modes = r.modeComparisons ?? [];
  if (modes.length > 0) {
    out.push(
      '',
      'reliable / best-effort Stadium, same store and workload (throughput: higher is better; p99: lower is)',
    );
    out.push(...table(modeHeaders, modeRows(modes)).map((l) => `  ${l}`));
  }
  if (r.targets.length > 0) {
    out.push(
      '',
      'performance targets (the figures Stadium aims to meet on one machine; met, MISSED or not measured)',
    );
    for (const t of r.targets) out.push(`  [${verdict(t)}] ${t.target}: ${t.measured}`);
  }
  for (const s of r.skipped) out.push(`skipped: ${s}`);
  for (const e of r.errors) out.push(`error: ${e}`);
  out.push('', `run took ${(r.durationMs / 1000).toFixed(1)} s`);
  return out;
}

/** The markdown summary for the README's Performance section. */
export function formatMarkdown(r: BenchResults): string[] {
  const out: string[] = [];
  const section = (lines: string[]): void => {
    if (out.length > 0) out.push('');
    out.push(...lines);
  };
  if (r.fanout.length > 0) section(markdownTable(fanoutHeaders, r.fanout.map(fanoutRow)));
  if (r.comparisons.length > 0) {
    section(
      markdownTable(
        [
          'Stadium vs',
          'transport',
          'conns',
          'asked pub/s',
          'Stadium del/s',
          'other del/s',
          'ratio',
          'Stadium p99 ms',
          'other p99 ms',
          'ratio',
        ],
        comparisonRows(r, 'markdown'),
      ),
    );
  }
  if (r.memory.length > 0) {
    section(
      markdownTable(
        [
          'server',
          'transport',
          'idle conns',
          'client procs',
          'RSS before',
          'RSS after',
          'bytes / conn',
          'marginal bytes / conn',
        ],
        memoryRows(r),
      ),
    );
  }
  if (r.dispatcher.length > 0) {
    section(markdownTable(['dispatcher store', ...dispatcherColumns], dispatcherRows(r)));
  }
  const modes = r.modeComparisons ?? [];
  if (modes.length > 0) section(markdownTable(modeHeaders, modeRows(modes)));
  if (r.targets.length > 0) {
    section(
      markdownTable(
        ['target', 'result', 'measured'],
        r.targets.map((t) => [t.target, verdict(t), t.measured]),
      ),
    );
  }
  return out;
}
