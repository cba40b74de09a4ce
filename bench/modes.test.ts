// Goal: reliable-mode rows are judged against best-effort on the same store and workload, against
// their own targets (half of best-effort; 25,000 publishes/s per dispatcher with batches), and
// never leak into best-effort's comparisons and targets; Redis CPU per publish is read right.
// Method: fixtures where a reliable row would change a best-effort verdict if it leaked, and
// targets planted just above and just below their bounds.
import { describe, expect, it } from 'vitest';
import type { DispatcherCase } from './dispatcher.ts';
import type { FanoutCase } from './fanout.ts';
import { formatMarkdown, formatResults } from './format.ts';
import { cpuSecondsOf } from './redis.ts';
import type { BenchResults } from './summary.ts';
import { checkTargets, compare, compareModes, units } from './summary.ts';

const latency = (p99Ms: number): FanoutCase['latency'] => ({
  count: 10,
  p50Ms: p99Ms / 4,
  p90Ms: p99Ms / 2,
  p99Ms,
  maxMs: p99Ms * 2,
  meanMs: p99Ms / 4,
});

function fanoutCase(over: Partial<FanoutCase>): FanoutCase {
  return {
    server: 'stadium',
    store: 'redis',
    transport: 'ws',
    mode: 'best-effort',
    connections: 10_000,
    connectionsOpenAtStart: 10_000,
    connectionsOpenAtEnd: 10_000,
    requestedPublishesPerSecond: null,
    achievedPublishesPerSecond: 40,
    publishFailures: 0,
    publishesSkipped: 0,
    publishFirstError: null,
    deliveriesPerSecond: 400_000,
    expectedDeliveriesPerSecond: 400_000,
    deliveredRatio: 1,
    latency: latency(300),
    publishLatency: latency(5),
    serverCpuPercent: 90,
    clientCpuPercent: 90,
    windowMs: 4_000,
    ...over,
  };
}

function dispatcherCase(over: Partial<DispatcherCase>): DispatcherCase {
  return {
    store: 'redis',
    mode: 'best-effort',
    concurrency: 16,
    batch: 16,
    publishesPerSecond: 60_000,
    failures: 0,
    firstError: null,
    latency: latency(10),
    serverCpuPercent: 100,
    redisCpuUsPerPublish: 2.5,
    windowMs: 5_000,
    ...over,
  };
}

/** The case as results recorded before reliable mode existed held it: no mode field. */
function legacy(c: FanoutCase): FanoutCase {
  const copy = { ...c };
  delete copy.mode;
  return copy;
}

const fanout: FanoutCase[] = [
  fanoutCase({}),
  fanoutCase({ mode: 'reliable', deliveriesPerSecond: 300_000, latency: latency(450) }),
  // Absent mode: a case recorded before reliable mode existed, best-effort.
  legacy(fanoutCase({ transport: 'sse', deliveriesPerSecond: 200_000 })),
  fanoutCase({ transport: 'sse', mode: 'reliable', deliveriesPerSecond: 90_000 }),
  // No best-effort twin at this load: not compared.
  fanoutCase({ mode: 'reliable', requestedPublishesPerSecond: 50 }),
  // A reliable case far better than best-effort, and a Socket.IO case: a leak would change verdicts.
  fanoutCase({ mode: 'reliable', store: 'memory', deliveriesPerSecond: 2_000_000 }),
  legacy(fanoutCase({ server: 'socketio', transport: 'socketio', deliveriesPerSecond: 100_000 })),
];

const dispatcher: DispatcherCase[] = [
  dispatcherCase({ batch: 1, concurrency: 64, publishesPerSecond: 30_000 }),
  dispatcherCase({ batch: 1, concurrency: 64, mode: 'reliable', publishesPerSecond: 14_000 }),
  dispatcherCase({}),
  dispatcherCase({ mode: 'reliable', publishesPerSecond: 31_000, redisCpuUsPerPublish: 6.25 }),
];

describe('compareModes', () => {
  it('pairs each reliable case with the best-effort one on the same store and workload', () => {
    const modes = compareModes(fanout, dispatcher);
    expect(
      modes.map((m) => [
        m.kind,
        m.transport,
        m.batch,
        m.reliablePerSecond,
        m.bestEffortPerSecond,
        m.throughputRatio,
      ]),
    ).toEqual([
      ['fanout', 'ws', null, 300_000, 400_000, 0.75],
      ['fanout', 'sse', null, 90_000, 200_000, 0.45],
      ['dispatcher', null, 1, 14_000, 30_000, 0.47],
      ['dispatcher', null, 16, 31_000, 60_000, 0.52],
    ]);
    expect(modes[0]).toMatchObject({ reliableP99Ms: 450, bestEffortP99Ms: 300, p99Ratio: 1.5 });
  });

  it('keeps reliable rows out of the comparisons with the alternatives', () => {
    const sio = compare(fanout).find((c) => c.against === 'socketio')!;
    expect(sio.stadiumDeliveriesPerSecond).toBe(400_000); // best-effort Redis WS, not a reliable row
  });
});

describe('reliable targets', () => {
  const targets = (f: FanoutCase[], d: DispatcherCase[]): ReturnType<typeof checkTargets> =>
    checkTargets({
      fanout: f,
      dispatcher: d,
      memory: [],
      comparisons: compare(f),
      modeComparisons: compareModes(f, d),
    });
  const find = (
    all: ReturnType<typeof checkTargets>,
    start: string,
  ): ReturnType<typeof checkTargets>[number] => all.find((t) => t.target.startsWith(start))!;

  it('half of best-effort: missed when any pair falls under 0.5, met when all reach it', () => {
    const missed = find(targets(fanout, dispatcher), 'reliable mode: at least half');
    expect(missed.met).toBe(false);
    expect(missed.measured).toBe(
      '0.75x deliveries/s at 10,000 WS (redis); 0.45x deliveries/s at 10,000 SSE (redis); ' +
        '0.47x publishes/s with one event per request; 0.52x publishes/s with batches of 16 per request',
    );
    const healthy = fanout.filter((c) => c.transport !== 'sse');
    const met = find(targets(healthy, dispatcher.slice(2)), 'reliable mode: at least half');
    expect(met.met).toBe(true);
    expect(find(targets(fanout.slice(0, 1), []), 'reliable mode: at least half').met).toBeNull();
  });

  it('25,000 publishes/s per dispatcher with Redis and batches: one event per request does not count', () => {
    expect(find(targets(fanout, dispatcher), 'reliable mode: 25,000').met).toBe(true);
    const slow = dispatcher.map((d) =>
      d.mode === 'reliable' && d.batch > 1 ? { ...d, publishesPerSecond: 24_999 } : d,
    );
    const missed = find(targets(fanout, slow), 'reliable mode: 25,000');
    expect(missed.met).toBe(false);
    expect(missed.measured).toBe('24,999 publishes/s (batches of 16, 16 in flight, p99 10 ms)');
    expect(find(targets(fanout, dispatcher.slice(0, 2)), 'reliable mode: 25,000').met).toBeNull();
  });

  it('best-effort targets ignore reliable rows, even better ones', () => {
    const all = targets(fanout, dispatcher);
    expect(all[0]!.measured).toBe(
      'best 400,000 deliveries/s (WS, redis store, 10,000 connections, publishing flat out)',
    );
    expect(all[0]!.met).toBe(false);
    expect(find(all, '50,000 publishes/s').measured).not.toContain('31,000');
  });
});

describe('tables with reliable rows', () => {
  const results: BenchResults = {
    date: '2026-12-01T15:00:00.000Z',
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
    properties: null,
    fanout,
    memory: [],
    dispatcher,
    comparisons: compare(fanout),
    modeComparisons: compareModes(fanout, dispatcher),
    targets: [],
    skipped: [],
    errors: [],
    durationMs: 1,
  };

  it('name the mode of every Stadium row, Redis CPU per publish, and reliable beside best-effort', () => {
    const text = formatResults(results).join('\n');
    expect(text).toMatch(/Stadium\s+reliable\s+redis\s+ws\s+10,000\s+max/);
    expect(text).toMatch(/Stadium\s+best-effort\s+redis\s+sse/); // recorded without a mode
    expect(text).toMatch(/Socket\.IO\s+-\s+redis\s+socketio/);
    expect(text).toMatch(/redis\s+reliable\s+16\s+16\s+31,000\s+0\s+2\.5\s+10\.0\s+100%\s+6\.25 µs/);
    expect(text).toContain('reliable / best-effort Stadium, same store and workload');
    expect(text).toContain('dispatcher, 64 in flight x 1 event (publishes)');
    expect(text).toMatch(
      /fan-out WS, 10,000 conns, max pub\/s \(deliveries\)\s+redis\s+300,000\s+400,000\s+0\.75/,
    );
    expect(formatMarkdown(results).join('\n')).toContain(
      '| dispatcher, 16 in flight x 16 events (publishes) | redis | 31,000 | 60,000 | 0.52 | 10.0 | 10.0 | 1.00 |',
    );
  });

  it('older results without modes or Redis CPU still print', () => {
    const oldCase = dispatcherCase({});
    delete oldCase.mode;
    delete oldCase.redisCpuUsPerPublish;
    const old: BenchResults = { ...results, dispatcher: [oldCase] };
    delete old.modeComparisons;
    const text = formatResults(old).join('\n');
    expect(text).toMatch(/redis\s+best-effort\s+16\s+16\s+60,000\s+0\s+2\.5\s+10\.0\s+100%\s+-/);
    expect(text).not.toContain('reliable / best-effort');
  });
});

describe('Redis CPU from INFO cpu', () => {
  it('adds user and system seconds; refuses a reply without them', () => {
    const info =
      '# CPU\r\nused_cpu_sys:1.778952\r\nused_cpu_user:1.993914\r\nused_cpu_sys_children:0.000000\r\n' +
      'used_cpu_user_children:0.500000\r\n';
    expect(cpuSecondsOf(info)).toBeCloseTo(3.772866, 6);
    expect(() => cpuSecondsOf('# CPU\r\nused_cpu_sys:1.0\r\n')).toThrow(
      'INFO cpu has no used_cpu_user field',
    );
  });
});
