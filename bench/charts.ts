/**
 * The bench's charts: for each connection count of the fan-out sweep, deliveries/s and p99
 * publish-to-client latency against the asked publish rate, one line per server, store, transport
 * and delivery mode. Drawn from a results object alone (a fresh run or a recorded file), written
 * beside its JSON as `<stem>-fanout-<connections>-deliveries.svg` and `…-p99.svg`.
 *
 * Only cases with an asked rate are on the x axis; flat-out cases stay in the table. A point is
 * hollow when the case was saturated (the server published or delivered under `saturatedBelow` of
 * what was asked). A case that recorded no latency (nothing delivered in its window) has no p99 to
 * draw: it is left out and named in the chart's notes, never plotted as zero.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeliveryMode, FanoutCase } from './fanout.ts';
import { ChartError, lineChart } from './svg-chart.ts';
import type { ChartSeries, LineChartSpec } from './svg-chart.ts';
import type { BenchResults } from './summary.ts';

export interface ChartFile {
  /** The file name's tail after the stem, e.g. `fanout-1000-deliveries.svg`. */
  name: string;
  svg: string;
}

/** Below this share of the asked publishes, or of the expected deliveries, a case is saturated. */
const saturatedBelow = 0.95;

type Mode = DeliveryMode;

interface SeriesKey {
  server: FanoutCase['server'];
  store: FanoutCase['store'];
  transport: FanoutCase['transport'];
  mode: Mode;
}

/** Colour by server, store and mode; SSE is dashed with square markers, WebSocket solid with circles. */
const colors: { match: (k: SeriesKey) => boolean; color: string }[] = [
  { match: (k) => k.server === 'stadium' && k.mode === 'reliable' && k.store === 'redis', color: '#0e8a7e' },
  { match: (k) => k.server === 'stadium' && k.mode === 'reliable', color: '#b5367a' },
  { match: (k) => k.server === 'stadium' && k.store === 'redis', color: '#6a3fb0' },
  { match: (k) => k.server === 'stadium', color: '#1f6fc5' },
  { match: (k) => k.server === 'bare-uws', color: '#e07800' },
  { match: (k) => k.server === 'socketio', color: '#3a9a2f' },
];

/** Legend order: Stadium best-effort, Stadium reliable, then the alternatives; WS before SSE. */
const rank = (k: SeriesKey): number =>
  (k.server === 'stadium' ? (k.mode === 'reliable' ? 2 : 0) : k.server === 'bare-uws' ? 4 : 6) * 10 +
  (k.store === 'redis' ? 1 : 0) * 2 +
  (k.transport === 'sse' ? 1 : 0);

function seriesLabel(k: SeriesKey): string {
  const transport = k.transport === 'sse' ? 'SSE' : k.transport === 'ws' ? 'WS' : 'Socket.IO';
  const store = k.store === 'redis' ? 'Redis' : 'memory';
  switch (k.server) {
    case 'stadium':
      return `Stadium${k.mode === 'reliable' ? ' reliable' : ''}, ${store}, ${transport}`;
    case 'bare-uws':
      return `bare uWS, ${transport}`;
    case 'socketio':
      return `Socket.IO, ${k.store === 'redis' ? 'Redis adapter' : 'in-memory adapter'}`;
  }
}

const keyOf = (c: FanoutCase): SeriesKey => ({
  server: c.server,
  store: c.store,
  transport: c.transport,
  mode: c.mode ?? 'best-effort',
});

const saturated = (c: FanoutCase): boolean =>
  c.requestedPublishesPerSecond !== null &&
  (c.achievedPublishesPerSecond < saturatedBelow * c.requestedPublishesPerSecond ||
    c.deliveredRatio < saturatedBelow);

/** Every chart of `results`; throws ChartError when there is nothing honest to draw. */
export function fanoutCharts(results: BenchResults): ChartFile[] {
  const asked = results.fanout.filter((c) => c.requestedPublishesPerSecond !== null);
  if (asked.length === 0)
    throw new ChartError(
      results.fanout.length === 0
        ? 'no fan-out cases in these results: nothing to chart'
        : 'no fan-out case at an asked publish rate (flat-out cases only): nothing to chart',
    );
  const connectionCounts = [...new Set(asked.map((c) => c.connections))].sort((a, b) => a - b);
  return connectionCounts.flatMap((connections) => {
    const cases = asked.filter((c) => c.connections === connections);
    return [
      {
        name: `fanout-${connections}-deliveries.svg`,
        svg: lineChart(deliveriesSpec(results, connections, cases)),
      },
      { name: `fanout-${connections}-p99.svg`, svg: lineChart(p99Spec(results, connections, cases)) },
    ];
  });
}

/**
 * The occupancy bench's error over time: the mean and the worst watcher's error while 10,000
 * viewers churn, and the true count for scale. None when the results hold no occupancy bench.
 */
export function occupancyCharts(results: BenchResults): ChartFile[] {
  const o = results.occupancy;
  if (o === undefined || o === null || o.curve.length < 2) return [];
  const curve = o.curve;
  const points = (y: (p: (typeof curve)[number]) => number): { x: number; y: number }[] =>
    curve.map((p) => ({ x: p.atMs / 1000, y: y(p) }));
  const spec: LineChartSpec = {
    title: `Viewer count error under churn: ${o.options.viewers.toLocaleString('en-US')} viewers`,
    subtitle:
      `each leaving and rejoining ${o.options.churnPerViewerPerMinute}/min (${o.churnChangesPerSecond} changes/s); ` +
      `interval ${o.options.occupancyEveryMs} ms; simulated, seed ${o.options.seed}`,
    x: { label: 'simulated time, s', format: (v) => String(Math.round(v)) },
    y: { label: 'viewers off the true count', format: (v) => String(Math.round(v)), scale: 'linear' },
    series: [
      {
        label: 'mean over watchers',
        color: '#1f6fc5',
        dashed: false,
        marker: 'circle',
        points: points((p) => p.errorMean),
      },
      {
        label: 'worst watcher',
        color: '#b5367a',
        dashed: true,
        marker: 'square',
        points: points((p) => p.errorMax),
      },
    ],
    notes: [
      `viewers join over the first 5 s (the error is the lag behind the ramp); churn stops at ${o.options.durationMs / 1000} s;`,
      `every watcher exact ${o.convergedMsAfterChurn ?? '?'} ms after the last change. Cost: +${o.messagesPerSecond.extra} node messages/s.`,
    ],
  };
  return [{ name: 'occupancy-error.svg', svg: lineChart(spec) }];
}

/** Write `charts` into `dir` as `<stem>-<name>`; returns the paths written. */
export function writeCharts(dir: string, stem: string, charts: ChartFile[]): string[] {
  return charts.map((chart) => {
    const path = join(dir, `${stem}-${chart.name}`);
    writeFileSync(path, chart.svg);
    return path;
  });
}

/** Cases grouped into series in legend order, each series' points from `y` (null: leave out). */
function seriesOf(
  cases: FanoutCase[],
  y: (c: FanoutCase) => number | null,
  left: (c: FanoutCase, label: string) => void,
): ChartSeries[] {
  const groups = new Map<string, { key: SeriesKey; cases: FanoutCase[] }>();
  for (const c of cases) {
    const key = keyOf(c);
    const id = `${key.server}/${key.store}/${key.transport}/${key.mode}`;
    const group = groups.get(id) ?? { key, cases: [] };
    group.cases.push(c);
    groups.set(id, group);
  }
  const ordered = [...groups.values()].sort(
    (a, b) => rank(a.key) - rank(b.key) || seriesLabel(a.key).localeCompare(seriesLabel(b.key), 'en'),
  );
  const series: ChartSeries[] = [];
  for (const { key, cases: own } of ordered) {
    const label = seriesLabel(key);
    const points = own.flatMap((c) => {
      const value = y(c);
      if (value === null) {
        left(c, label);
        return [];
      }
      return [{ x: c.requestedPublishesPerSecond ?? 0, y: value, hollow: saturated(c) }];
    });
    if (points.length === 0) continue;
    series.push({
      label,
      color: colors.find((entry) => entry.match(key))?.color ?? '#444444',
      dashed: key.transport === 'sse',
      marker: key.transport === 'sse' ? 'square' : key.transport === 'ws' ? 'circle' : 'diamond',
      points,
    });
  }
  return series;
}

function subtitle(r: BenchResults): string {
  const m = r.machine;
  return (
    `${r.command}, ${r.date.slice(0, 16).replace('T', ' ')} UTC; ${m.cpu}, ${m.cores} cores, ` +
    `Node ${m.node}; load average ${m.loadAverage1m} at the start`
  );
}

const commonNotes = (r: BenchResults): string[] => [
  `Each point: one case, a ${r.settings.windowMs / 1000} s window after ${r.settings.warmupMs / 1000} s of warm-up, ` +
    'all subscribed to one topic. Flat-out cases are in the table.',
  'Solid: WebSocket; dashed: SSE. Every server, load client and the publisher share this machine.',
];

const saturatedNote = (cases: FanoutCase[]): string[] =>
  cases.some(saturated)
    ? [
        `Hollow marker: saturated, under ${saturatedBelow * 100}% of the asked publishes sent or of their ` +
          'deliveries received in the window.',
      ]
    : [];

const rateAxis = { label: 'asked publishes / s', format: thousands };

function deliveriesSpec(r: BenchResults, connections: number, cases: FanoutCase[]): LineChartSpec {
  const rates = [...new Set(cases.map((c) => c.requestedPublishesPerSecond ?? 0))].sort((a, b) => a - b);
  return {
    title: `Deliveries per second vs asked publish rate, ${thousands(connections)} connections`,
    subtitle: subtitle(r),
    x: rateAxis,
    y: { label: 'deliveries / s (achieved)', format: compact, scale: 'linear' },
    series: seriesOf(
      cases,
      (c) => c.deliveriesPerSecond,
      () => {},
    ),
    reference: {
      label: 'asked x connections',
      points: [{ x: 0, y: 0 }, ...rates.map((rate) => ({ x: rate, y: rate * connections }))],
    },
    hollowMeaning: 'saturated case',
    notes: [...commonNotes(r), ...saturatedNote(cases)],
  };
}

function p99Spec(r: BenchResults, connections: number, cases: FanoutCase[]): LineChartSpec {
  const leftOut: string[] = [];
  const series = seriesOf(
    cases,
    (c) => (c.latency.count > 0 ? c.latency.p99Ms : null),
    (c, label) => leftOut.push(`${label} at ${thousands(c.requestedPublishesPerSecond ?? 0)}/s`),
  );
  if (series.length === 0)
    throw new ChartError(
      `p99 at ${thousands(connections)} connections: no case recorded any latency (nothing delivered)`,
    );
  return {
    title: `p99 publish-to-client latency vs asked publish rate, ${thousands(connections)} connections`,
    subtitle: subtitle(r),
    x: rateAxis,
    y: { label: 'p99 latency (log scale)', format: duration, scale: 'log' },
    series,
    hollowMeaning: 'saturated case',
    notes: [
      ...commonNotes(r),
      ...saturatedNote(cases),
      ...(leftOut.length > 0 ? [`No latency recorded, not drawn: ${leftOut.join('; ')}.`] : []),
    ],
  };
}

/** 1234567 -> "1,234,567", without the locale. */
export function thousands(x: number): string {
  const digits = String(Math.round(Math.abs(x)));
  return `${x < 0 ? '-' : ''}${digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}`;
}

/** 0, 500, 200k, 1.2M: tick labels for counts. */
export function compact(x: number): string {
  if (x >= 1e6) return `${trim(x / 1e6)}M`;
  if (x >= 1e3) return `${trim(x / 1e3)}k`;
  return trim(x);
}

/** 0.1 ms, 10 ms, 1 s, 10 s: tick labels for latencies given in ms. */
export function duration(ms: number): string {
  return ms >= 1000 ? `${trim(ms / 1000)} s` : `${trim(ms)} ms`;
}

const trim = (x: number): string => String(Number(x.toFixed(2)));
