/**
 * Traces for replay's tests, written by real simulator runs: what replay reads in the tests is what
 * the simulator writes, so a change of the trace format breaks replay's tests, not only its users.
 *
 * Two small scenarios, three datacenters of two frontends and two dispatchers each:
 * - `faulty`: `dc-a/frontend-1` killed at 2 s and restarted at 3 s (its viewers reconnect to
 *   frontend-2), a symmetric partition dc-a | dc-b from 3.5 s to 4.5 s (cross-DC forwards dropped
 *   with their fault), viewers that churn (subscriptions change while deliveries are in flight),
 *   and two planted bugs: dispatchers that skip every seventh delivery to a `frontend-1` (unexplained
 *   losses, `explained-loss` violations) and frontends that forget event ids on intra-DC links that
 *   duplicate 10% of their messages (more duplicate deliveries than the checker writes violations
 *   for: it keeps 20 per invariant, the rest only counted);
 * - `calm`: the same world without faults, bugs or duplication, and one viewer in four per
 *   datacenter watching viewer counts (`occupancy` records; the run goes on until they settled);
 * - `reliable`: the same world in reliable mode, with 3% loss on intra-datacenter links (deliveries
 *   and acks dropped, so deliveries retried), a history of 5 events per topic, `dc-b/dispatcher-1`
 *   killed from 1.5 s to 2.5 s (forwards to it unacknowledged, retried with failover to
 *   dispatcher-2), and `dc-b/frontend-2` isolated from 3 s to 4.5 s (when it is back the history
 *   no longer holds what it missed: a `trimmed` gap notice, after a history read).
 *
 * Nobody watches viewer counts in `faulty` and `reliable`: their runs end a delivery deadline after
 * publishing stops, as the tests' times expect. Each run takes well under a second; a test file
 * writes the traces it needs once.
 *
 * Beside them, the naive reading every index test compares with: all records read at once by the
 * sim's trace reader, applied one by one, and the counters after each the totals of checkers that
 * judge every fact and forget nothing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Checkers,
  parseScenario,
  rolesWithBug,
  runScenario,
  TraceReader,
  type Fact,
  type Report,
  type Roles,
  type Scenario,
  type TraceRecord,
} from '../../sim/index.ts';
import type { RunRecord } from './index-pass.ts';
import { ReplayState } from './replay-state.ts';

export type TestTraceKind = 'faulty' | 'calm' | 'reliable';

export interface TestTrace {
  path: string;
  scenario: Scenario;
  report: Report;
}

/** When the faulty scenario's faults start and end, in microseconds (the trace's unit). */
export const faultyTimesUs = {
  kill: [2_000_000, 3_000_000],
  partition: [3_500_000, 4_500_000],
} as const;

/** When the reliable scenario's faults start and end, in microseconds. */
export const reliableTimesUs = {
  dispatcherKill: [1_500_000, 2_500_000],
  isolation: [3_000_000, 4_500_000],
} as const;

const reliableFaults = [
  {
    kind: 'kill',
    atMs: reliableTimesUs.dispatcherKill[0] / 1000,
    node: 'dc-b/dispatcher-1',
    restartAfterMs: (reliableTimesUs.dispatcherKill[1] - reliableTimesUs.dispatcherKill[0]) / 1000,
  },
  {
    kind: 'isolate',
    atMs: reliableTimesUs.isolation[0] / 1000,
    node: 'dc-b/frontend-2',
    releaseAfterMs: (reliableTimesUs.isolation[1] - reliableTimesUs.isolation[0]) / 1000,
  },
];

export function testScenario(kind: TestTraceKind): Scenario {
  const faulty = kind === 'faulty';
  const reliable = kind === 'reliable';
  const link = (
    baseUs: number,
    jitterUs: number,
    duplicatePerMillion: number,
    lossPerMillion = 0,
  ): unknown => ({
    latency: { baseUs, jitterUs },
    lossPerMillion,
    duplicatePerMillion,
    fifo: false,
  });
  return parseScenario(
    {
      name: kind,
      ...(reliable
        ? { mode: 'reliable', roles: { storeLimits: { historyEventsMax: 5, historyIdsMax: 20 } } }
        : {}),
      durationMs: 6_000,
      deliveryDeadlineMs: 1_000,
      subscribeGraceMs: 500,
      topology: {
        datacenters: ['dc-a', 'dc-b', 'dc-c'].map((name) => ({ name, frontends: 2, dispatchers: 2 })),
      },
      network: {
        client: { latency: { baseUs: 2_000, jitterUs: 1_000 } },
        intraDc: link(200, 100, faulty ? 100_000 : 0, reliable ? 30_000 : 0),
        crossDc: link(20_000, 5_000, 0),
      },
      workload: {
        topics: [
          { name: 'likes-1', viewers: 24, publishesPerSecond: 5 },
          { name: 'likes-2', viewers: 8, publishesPerSecond: 2 },
        ],
        joinOverMs: 300,
        publishFromMs: 800,
        churnPerViewerPerMinute: faulty ? 2 : 0,
        rejoinAfterMs: 1_000,
        reconnectBackoffMs: { min: 50, max: 300 },
        payloadBytes: 32,
        occupancyWatchersEvery: kind === 'calm' ? 4 : 0,
      },
      faults: reliable
        ? reliableFaults
        : faulty
          ? [
              {
                kind: 'kill',
                atMs: faultyTimesUs.kill[0] / 1000,
                node: 'dc-a/frontend-1',
                restartAfterMs: (faultyTimesUs.kill[1] - faultyTimesUs.kill[0]) / 1000,
              },
              {
                kind: 'partition',
                atMs: faultyTimesUs.partition[0] / 1000,
                between: ['dc-a', 'dc-b'],
                repairAfterMs: (faultyTimesUs.partition[1] - faultyTimesUs.partition[0]) / 1000,
              },
            ]
          : [],
      randomFaults: null,
    },
    `replay test scenario ${kind}`,
  );
}

/** The faulty scenario's two planted bugs: one in the dispatcher, one in the frontend. */
function buggyRoles(): Roles {
  return { ...rolesWithBug('skip-frontend'), frontend: rolesWithBug('no-dedupe').frontend };
}

/** Run the scenario of `kind` with `seed` and write its trace to `dir/<kind>-<seed>.jsonl`. */
export function writeTestTrace(dir: string, kind: TestTraceKind, seed = '1'): TestTrace {
  const scenario = testScenario(kind);
  const path = join(dir, `${kind}-${seed}.jsonl`);
  const report = runScenario(
    scenario,
    seed,
    kind === 'faulty' ? { tracePath: path, roles: buggyRoles() } : { tracePath: path },
  );
  return { path, scenario, report };
}

/** Every line of a (small) trace, read by the sim's trace reader: its record and its fact. */
export interface ReadTrace {
  records: TraceRecord[];
  facts: (Fact | null)[];
}

export function readTrace(path: string): ReadTrace {
  const reader = new TraceReader(path);
  const trace: ReadTrace = { records: [], facts: [] };
  for (const line of readFileSync(path, 'utf8').trimEnd().split('\n')) {
    const { record, fact } = reader.read(line);
    trace.records.push(record);
    trace.facts.push(fact);
  }
  return trace;
}

/** Every record of a (small) trace. */
export function readRecords(path: string): TraceRecord[] {
  return readTrace(path).records;
}

/** The world as a naive reader sees it: every record applied in order, nothing forgotten. */
export class NaiveReplay {
  readonly state: ReplayState;
  /** Records applied. */
  applied = 0;
  private readonly checkers = new Checkers(() => {}, { retainEventsForever: true });

  constructor(private readonly trace: ReadTrace) {
    this.state = new ReplayState((trace.records[0] as RunRecord).nodes);
  }

  /** Apply the next record; the counters are then the checkers' totals. */
  next(): TraceRecord {
    const i = this.applied++;
    const record = this.trace.records[i]!;
    const fact = this.trace.facts[i];
    if (fact) this.checkers.apply(fact);
    this.state.apply(record);
    this.state.counters = this.checkers.totals();
    return record;
  }

  /** Apply records until `count` have been applied. */
  until(count: number): ReplayState {
    while (this.applied < count) this.next();
    return this.state;
  }
}

/** The naive answer: every record at or before `t` applied to a fresh state. */
export function naiveStateAt(trace: ReadTrace, t: number): ReplayState {
  const naive = new NaiveReplay(trace);
  while (naive.applied < trace.records.length && trace.records[naive.applied]!.t <= t) naive.next();
  return naive.state;
}

/** A seeded generator of numbers in [0, 1), so random times are the same every run. */
export function seeded(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}
