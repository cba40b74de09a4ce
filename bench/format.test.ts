// Goal: the verdicts and ratios printed and recorded follow from the measured cases, and the
// tables stay readable. Method: small fixtures of cases, checked against hand-computed answers.
import { describe, expect, it } from 'vitest';
import type { FanoutCase } from './fanout.ts';
import { formatMarkdown, formatResults, markdownTable, table } from './format.ts';
import type { BenchResults } from './summary.ts';
import { checkTargets, compare, units } from './summary.ts';

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
    latency: { count: 1, p50Ms: 2, p90Ms: 5, p99Ms: 10, maxMs: 30, meanMs: 3 },
    publishLatency: { count: 1, p50Ms: 1, p90Ms: 1, p99Ms: 1, maxMs: 1, meanMs: 1 },
    serverCpuPercent: 90,
    clientCpuPercent: 90,
    windowMs: 4_000,
    ...over,
  };
}

const flatOut = { requestedPublishesPerSecond: null };
const cases: FanoutCase[] = [
  fanoutCase({}),
  fanoutCase({
    ...flatOut,
    deliveriesPerSecond: 600_000,
    latency: { count: 1, p50Ms: 9, p90Ms: 20, p99Ms: 40, maxMs: 90, meanMs: 10 },
  }),
  fanoutCase({ ...flatOut, server: 'bare-uws', store: 'none', deliveriesPerSecond: 1_500_000 }),
  fanoutCase({ ...flatOut, store: 'redis', deliveriesPerSecond: 500_000 }),
  fanoutCase({
    ...flatOut,
    server: 'socketio',
    store: 'redis',
    transport: 'socketio',
    deliveriesPerSecond: 100_000,
  }),
  fanoutCase({ server: 'bare-uws', store: 'none', transport: 'sse' }),
];

describe('compare', () => {
  it('pairs Stadium (embedded store) with bare uWS and Stadium (Redis, WebSocket) with Socket.IO on the same load', () => {
    const comparisons = compare(cases);
    expect(comparisons).toHaveLength(2); // the SSE bare case has no Stadium SSE counterpart
    const bare = comparisons.find((c) => c.against === 'bare-uws')!;
    expect(bare).toMatchObject({
      stadiumStore: 'memory',
      transport: 'ws',
      deliveriesRatio: 0.4,
      p99Ratio: 4,
    });
    const sio = comparisons.find((c) => c.against === 'socketio')!;
    expect(sio).toMatchObject({ stadiumStore: 'redis', otherTransport: 'socketio', deliveriesRatio: 5 });
  });

  it('falls back to the embedded store against Socket.IO without Redis', () => {
    const withoutRedis = cases.filter((c) => c.store !== 'redis');
    withoutRedis.push(
      fanoutCase({
        ...flatOut,
        server: 'socketio',
        store: 'memory',
        transport: 'socketio',
        deliveriesPerSecond: 200_000,
      }),
    );
    const sio = compare(withoutRedis).find((c) => c.against === 'socketio')!;
    expect(sio).toMatchObject({ stadiumStore: 'memory', deliveriesRatio: 3 });
  });
});

describe('checkTargets', () => {
  it('judges each target from the cases, and says when one was not measured', () => {
    const comparisons = compare(cases);
    const targets = checkTargets({
      fanout: cases,
      comparisons,
      memory: [
        {
          server: 'stadium',
          transport: 'sse',
          connections: 10_000,
          clientProcesses: 1,
          rssBeforeBytes: 0,
          rssAfterBytes: 30_000_000,
          rssBytesPerConnection: 3_000,
          rssBytesPerConnectionMarginal: null,
        },
        {
          server: 'stadium',
          transport: 'ws',
          connections: 19_000,
          clientProcesses: 2,
          rssBeforeBytes: 0,
          rssAfterBytes: 95_000_000,
          rssBytesPerConnection: 5_000,
          rssBytesPerConnectionMarginal: 7_000,
        },
      ],
      dispatcher: [],
    });
    expect(targets.map((t) => t.met)).toEqual([true, true, false, null, false, true, null, null]);
    expect(targets[0]!.measured).toMatch(/best 1,000,000 deliveries\/s/);
    expect(targets[3]!.measured).toBe('not measured with Redis in this run');
  });

  it('misses the latency target when the load was asked for but not delivered', () => {
    const short = [
      fanoutCase({
        deliveriesPerSecond: 700_000,
        latency: { count: 1, p50Ms: 1, p90Ms: 2, p99Ms: 5, maxMs: 9, meanMs: 1 },
      }),
    ];
    const targets = checkTargets({ fanout: short, comparisons: [], memory: [], dispatcher: [] });
    expect(targets[0]!.met).toBe(false);
    expect(targets[1]!.met).toBe(false);
    expect(targets.slice(2).map((t) => t.met)).toEqual([null, null, null, null, null, null]);
  });
});

describe('tables', () => {
  it('pads columns and right-aligns the numeric ones', () => {
    expect(
      table(
        ['name', 'n'],
        [
          ['a', '1'],
          ['bbb', '1,000'],
        ],
      ),
    ).toEqual(['name      n', 'a         1', 'bbb   1,000']);
  });

  it('writes markdown with right-aligned numeric columns', () => {
    expect(markdownTable(['name', 'n'], [['a', '12']])).toEqual([
      '| name | n |',
      '| --- | ---: |',
      '| a | 12 |',
    ]);
  });

  it('formats a whole results object, text and markdown', () => {
    const comparisons = compare(cases);
    const results: BenchResults = {
      date: '2026-11-21T22:45:00.000Z',
      quick: false,
      command: 'stadium bench',
      machine: {
        cpu: 'AMD EPYC',
        cores: 2,
        memoryGiB: 24,
        node: 'v20.20.2',
        platform: 'linux',
        loadAverage1m: 0.1,
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
      properties: { runs: 300, seed: 1, durationMs: 3_000, scenariosPerSecond: 100 },
      fanout: cases,
      memory: [],
      dispatcher: [
        {
          store: 'redis',
          concurrency: 64,
          batch: 1,
          publishesPerSecond: 12_345,
          failures: 0,
          firstError: null,
          latency: { count: 1, p50Ms: 4, p90Ms: 5, p99Ms: 9.5, maxMs: 20, meanMs: 4 },
          serverCpuPercent: 99,
          windowMs: 5_000,
        },
      ],
      comparisons,
      targets: checkTargets({ fanout: cases, comparisons, memory: [], dispatcher: [] }),
      skipped: ['memory per idle connection: not in --quick'],
      errors: [],
      durationMs: 600_000,
    };
    const text = formatResults(results).join('\n');
    expect(text).toContain('machine: AMD EPYC, 2 cores, 24 GiB, Node v20.20.2');
    expect(text).toMatch(/Stadium\s+best-effort\s+memory\s+ws\s+10,000\s+100\s+100\s+1,000,000\s+100\.0%/);
    expect(text).toContain('[met] 1,000,000 deliveries/s to 10,000 connections');
    // The product's output names what the targets are, and no issue tracker.
    expect(text).toContain('performance targets (the figures Stadium aims to meet on one machine');
    expect(text).not.toMatch(/issue/i);
    expect(text).toContain('12,345');
    expect(text).toContain('skipped: memory per idle connection: not in --quick');
    const markdown = formatMarkdown(results);
    expect(markdown[0]).toMatch(/^\| server \| mode \| store \|/);
    expect(markdown.join('\n')).toContain(
      '| bare uWS | ws | 10,000 | max | 600,000 | 1,500,000 | 0.40 | 40.0 | 10.0 | 4.00 |',
    );
  });
});
