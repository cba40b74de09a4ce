// Goal: the bench's SVG charts draw exactly the measured cases (one line per server, store,
// transport and mode, one marker per asked rate), with titled axes, units and a legend, the same
// bytes for the same results, and refuse data they cannot honestly draw with a clear message.
// Method: fixture results; the SVG is read back by structure (series groups, markers, tick and
// axis texts), checked for balanced tags by a small checker shown failing on a broken document.
import { describe, expect, it } from 'vitest';
import { compact, duration, fanoutCharts, thousands } from './charts.ts';
import type { FanoutCase } from './fanout.ts';
import type { BenchResults } from './summary.ts';
import { units } from './summary.ts';
import { ChartError, lineChart, seriesMax } from './svg-chart.ts';
import type { LineChartSpec } from './svg-chart.ts';

function fanoutCase(over: Partial<FanoutCase>): FanoutCase {
  return {
    server: 'stadium',
    store: 'memory',
    transport: 'ws',
    connections: 10_000,
    connectionsOpenAtStart: 10_000,
    connectionsOpenAtEnd: 10_000,
    requestedPublishesPerSecond: 100,
    achievedPublishesPerSecond: 100,
    publishFailures: 0,
    publishesSkipped: 0,
    publishFirstError: null,
    deliveriesPerSecond: 1_000_000,
    expectedDeliveriesPerSecond: 1_000_000,
    deliveredRatio: 1,
    latency: { count: 100, p50Ms: 2, p90Ms: 5, p99Ms: 300, maxMs: 30, meanMs: 3 },
    publishLatency: { count: 1, p50Ms: 1, p90Ms: 1, p99Ms: 1, maxMs: 1, meanMs: 1 },
    serverCpuPercent: 90,
    clientCpuPercent: 90,
    windowMs: 4_000,
    ...over,
  };
}

/** One series' cases over `rates`, deliveries at `share` of asked x connections. */
function sweep(over: Partial<FanoutCase>, connections: number, rates: number[], share = 1): FanoutCase[] {
  return rates.map((rate) =>
    fanoutCase({
      ...over,
      connections,
      requestedPublishesPerSecond: rate,
      achievedPublishesPerSecond: rate,
      deliveriesPerSecond: rate * connections * share,
      deliveredRatio: share,
    }),
  );
}

const rates1k = [100, 500, 1_000];
const rates10k = [10, 50, 100, 120];

function results(fanout: FanoutCase[]): BenchResults {
  return {
    date: '2026-12-01T14:05:00.000Z',
    quick: false,
    command: 'stadium bench',
    machine: {
      cpu: 'AMD EPYC',
      cores: 2,
      memoryGiB: 24,
      node: 'v20.20.2',
      platform: 'linux',
      loadAverage1m: 0.4,
    },
    settings: {
      warmupMs: 1_500,
      windowMs: 4_000,
      connectionsPerProcessMax: 10_000,
      workload: 'one topic',
      redis: null,
    },
    units,
    simulator: null,
    properties: null,
    fanout,
    memory: [],
    dispatcher: [],
    comparisons: [],
    targets: [],
    skipped: [],
    errors: [],
    durationMs: 1,
  };
}

const fullRun: FanoutCase[] = [
  ...sweep({ transport: 'ws' }, 1_000, rates1k),
  ...sweep({ transport: 'sse' }, 1_000, rates1k),
  fanoutCase({ connections: 1_000, requestedPublishesPerSecond: null }), // flat out: not on the chart
  ...sweep({ server: 'bare-uws', store: 'none', transport: 'ws' }, 1_000, rates1k),
  ...sweep({ server: 'socketio', store: 'redis', transport: 'socketio' }, 1_000, rates1k, 0.5),
  ...sweep({ transport: 'ws' }, 10_000, rates10k),
  ...sweep({ transport: 'sse', mode: 'best-effort' }, 10_000, rates10k),
  ...sweep({ store: 'redis', transport: 'ws', mode: 'reliable' }, 10_000, rates10k),
];

/** Texts of every <text> element with the given class, in document order. */
const texts = (svg: string, cls?: string): string[] =>
  [...svg.matchAll(/<text([^>]*)>([^<]*)<\/text>/g)]
    .filter((m) => cls === undefined || m[1]!.includes(`class="${cls}"`))
    .map((m) => m[2]!);

/** The series groups: label and how many markers each holds. */
const seriesGroups = (svg: string): { label: string; markers: number }[] =>
  [...svg.matchAll(/<g class="series" data-label="([^"]*)">([\s\S]*?)<\/g>/g)].map((m) => ({
    label: m[1]!,
    markers: (m[2]!.match(/<(circle|rect|path) /g) ?? []).length,
  }));

/** null when every opened tag is closed in order; else the first mismatch. */
function unbalanced(svg: string): string | null {
  const open: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing === '/') continue;
    if (closing === '') open.push(name!);
    else if (open.pop() !== name) return `</${name}> closes nothing open`;
  }
  return open.length === 0 ? null : `<${open.join('>, <')}> never closed`;
}

describe('fanoutCharts', () => {
  const charts = fanoutCharts(results(fullRun));
  const chart = (name: string): string => charts.find((c) => c.name === name)!.svg;

  it('draws deliveries/s and p99 for each connection count of the sweep', () => {
    expect(charts.map((c) => c.name)).toEqual([
      'fanout-1000-deliveries.svg',
      'fanout-1000-p99.svg',
      'fanout-10000-deliveries.svg',
      'fanout-10000-p99.svg',
    ]);
    for (const c of charts) {
      expect(c.svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(unbalanced(c.svg)).toBeNull();
    }
  });

  it('one line per server, store, transport and mode, one marker per asked rate, in legend order', () => {
    expect(seriesGroups(chart('fanout-1000-deliveries.svg'))).toEqual([
      { label: 'Stadium, memory, WS', markers: 3 },
      { label: 'Stadium, memory, SSE', markers: 3 },
      { label: 'bare uWS, WS', markers: 3 },
      { label: 'Socket.IO, Redis adapter', markers: 3 },
    ]);
    expect(seriesGroups(chart('fanout-10000-p99.svg'))).toEqual([
      { label: 'Stadium, memory, WS', markers: 4 },
      { label: 'Stadium, memory, SSE', markers: 4 },
      { label: 'Stadium reliable, Redis, WS', markers: 4 },
    ]);
    const legend = /<g class="legend"[^>]*>([\s\S]*?)<\/g>/.exec(chart('fanout-10000-p99.svg'))![1]!;
    expect(texts(legend)).toEqual([
      'Stadium, memory, WS',
      'Stadium, memory, SSE',
      'Stadium reliable, Redis, WS',
    ]);
  });

  it('titles, axis labels with units, and ticks at the asked rates', () => {
    const deliveries = chart('fanout-10000-deliveries.svg');
    expect(deliveries).toContain(
      '<title>Deliveries per second vs asked publish rate, 10,000 connections</title>',
    );
    expect(texts(deliveries, 'axis-label')).toEqual(['asked publishes / s', 'deliveries / s (achieved)']);
    const x = /<g class="x-axis"[^>]*>([\s\S]*?)<\/g>/.exec(deliveries)![1]!;
    expect(texts(x, 'tick')).toEqual(['0', '10', '50', '100', '120']);
    const y = /<g class="y-axis"[^>]*>([\s\S]*?)<\/g>/.exec(deliveries)![1]!;
    expect(texts(y, 'tick')).toEqual(['0', '200k', '400k', '600k', '800k', '1M', '1.2M']);
    // Full delivery is drawn as a reference line and named in the legend.
    expect(deliveries).toContain('class="reference"');
    expect(deliveries).toContain('asked x connections');
    expect(deliveries).toContain('stadium bench, 2026-12-01 14:05 UTC; AMD EPYC, 2 cores');

    const p99 = chart('fanout-1000-p99.svg');
    expect(texts(p99, 'axis-label')).toEqual(['asked publishes / s', 'p99 latency (log scale)']);
    const logTicks = texts(/<g class="y-axis"[^>]*>([\s\S]*?)<\/g>/.exec(p99)![1]!, 'tick');
    expect(logTicks).toEqual(['100 ms', '1 s']);
  });

  it('the same results give the same bytes, whatever the order of the cases', () => {
    const again = fanoutCharts(results([...fullRun].reverse()));
    expect(again).toEqual(charts);
  });

  it('marks saturated cases hollow and explains it in the legend', () => {
    const saturated = fanoutCharts(
      results([
        ...sweep({}, 1_000, [100, 500]),
        fanoutCase({
          connections: 1_000,
          requestedPublishesPerSecond: 1_000,
          achievedPublishesPerSecond: 600,
        }),
      ]),
    )[0]!.svg;
    const group = /<g class="series"[^>]*>([\s\S]*?)<\/g>/.exec(saturated)![1]!;
    expect(group.match(/fill="#ffffff"/g)).toHaveLength(1);
    expect(saturated).toContain('>saturated case</text>');
    expect(saturated).toContain('Hollow marker: saturated, under 95% of the asked publishes sent');
    // Socket.IO delivered half of what was asked at 1,000 connections; nothing saturated at 10,000.
    expect(chart('fanout-1000-deliveries.svg')).toContain('saturated case');
    expect(chart('fanout-10000-deliveries.svg')).not.toContain('saturated');
  });

  it('leaves out a case that recorded no latency, and says so, instead of drawing it as zero', () => {
    const svg = fanoutCharts(
      results([
        ...sweep({}, 1_000, [100, 500]),
        fanoutCase({
          connections: 1_000,
          requestedPublishesPerSecond: 1_000,
          latency: { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 },
        }),
      ]),
    ).find((c) => c.name === 'fanout-1000-p99.svg')!.svg;
    expect(seriesGroups(svg)).toEqual([{ label: 'Stadium, memory, WS', markers: 2 }]);
    expect(svg).toContain('No latency recorded, not drawn: Stadium, memory, WS at 1,000/s.');
  });

  it('refuses results with nothing to draw, or numbers that are not numbers', () => {
    expect(() => fanoutCharts(results([]))).toThrow(
      new ChartError('no fan-out cases in these results: nothing to chart'),
    );
    expect(() => fanoutCharts(results([fanoutCase({ requestedPublishesPerSecond: null })]))).toThrow(
      /flat-out cases only/,
    );
    expect(() => fanoutCharts(results([fanoutCase({ deliveriesPerSecond: NaN })]))).toThrow(
      /series "Stadium, memory, WS", point 1: y is NaN, not a finite number/,
    );
    const silent = { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 };
    expect(() => fanoutCharts(results([fanoutCase({ latency: silent })]))).toThrow(
      /no case recorded any latency/,
    );
  });
});

describe('lineChart', () => {
  const spec = (over: Partial<LineChartSpec>): LineChartSpec => ({
    title: 'T',
    subtitle: 'S',
    x: { label: 'x', format: String },
    y: { label: 'y', format: String, scale: 'linear' },
    series: [{ label: 'a', color: '#000', dashed: false, marker: 'circle', points: [{ x: 1, y: 1 }] }],
    notes: [],
    ...over,
  });
  const one = (points: { x: number; y: number }[]): LineChartSpec['series'] => [
    { label: 'a', color: '#000', dashed: false, marker: 'circle', points },
  ];

  it('refuses what it cannot draw, naming the chart, the series and the point', () => {
    expect(() => lineChart(spec({ series: [] }))).toThrow('"T": no series to draw');
    expect(() => lineChart(spec({ series: one([]) }))).toThrow('"T": series "a" has no points');
    expect(() => lineChart(spec({ series: one([{ x: Infinity, y: 1 }]) }))).toThrow(
      '"T": series "a", point 1: x is Infinity, not a finite number',
    );
    expect(() => lineChart(spec({ series: one([{ x: 1, y: -1 }]) }))).toThrow('y is -1, below 0');
    expect(() =>
      lineChart(spec({ y: { label: 'y', format: String, scale: 'log' }, series: one([{ x: 1, y: 0 }]) })),
    ).toThrow('a log axis needs values above 0');
    const many = Array.from({ length: seriesMax + 1 }, (_, i) => ({
      ...spec({}).series[0]!,
      label: `s${i}`,
    }));
    expect(() => lineChart(spec({ series: many }))).toThrow(`the legend has room for ${seriesMax}`);
  });

  it('escapes text, so a label cannot break the document', () => {
    const svg = lineChart(spec({ title: 'a <b> & "c"', series: [{ ...spec({}).series[0]!, label: '<x>' }] }));
    expect(svg).toContain('<title>a &lt;b&gt; &amp; &quot;c&quot;</title>');
    expect(svg).toContain('data-label="&lt;x&gt;"');
    expect(unbalanced(svg)).toBeNull();
  });

  it('the balance checker catches a broken document (planted)', () => {
    const svg = lineChart(spec({}));
    expect(unbalanced(svg.replace('</g>', ''))).not.toBeNull();
    expect(unbalanced(svg.replace('<rect width', '<rect data-x="1"><rect width'))).not.toBeNull();
  });
});

describe('tick labels', () => {
  it('counts, rates and durations without the locale', () => {
    expect([0, 999, 1_000, 1_234_567].map(thousands)).toEqual(['0', '999', '1,000', '1,234,567']);
    expect([0, 500, 200_000, 1_200_000, 1_250_000].map(compact)).toEqual([
      '0',
      '500',
      '200k',
      '1.2M',
      '1.25M',
    ]);
    expect([0.1, 10, 100, 1_000, 20_000].map(duration)).toEqual(['0.1 ms', '10 ms', '100 ms', '1 s', '20 s']);
  });
});
