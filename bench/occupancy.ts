/**
 * What viewer counts cost and how exact they are: 10,000 viewers churning on one topic across two
 * datacenters, run in the simulator twice with the same seed, occupancy on (1 s interval) and off.
 *
 * - Cost: node-to-node messages per second (every message the core sends, store requests and
 *   replies included, as the simulator's `sent` facts count them), by type, on against off.
 * - Exactness: every 100 ms of simulated time, each watcher's last told count against the truth
 *   (the connections subscribed to the topic at live frontends, from the run's `joined`/`left`/
 *   `closed` facts): the mean and largest absolute error over watchers, and the share told exactly.
 *
 * The simulator is the honest place for this: the same core sends the same messages in
 * production, and its virtual time makes the error curve the same on every machine. Churn is the
 * scenario's `churnPerViewerPerMinute` (each viewer leaves and rejoins `rejoinAfterMs` later), so
 * the truth moves all the time; the error is what a viewer sees while it moves.
 */
import { parseScenario, runScenario } from '../sim/index.ts';
import type { Fact, Roles, Scenario } from '../sim/index.ts';

export interface OccupancyBenchOptions {
  viewers: number;
  /** Leaves (each followed by a rejoin) per viewer per minute. */
  churnPerViewerPerMinute: number;
  durationMs: number;
  occupancyEveryMs: number;
  /** One viewer in this many watches the count. */
  watchersEvery: number;
  seed: string;
  /** The roles the occupancy-on run uses (a test plants a bug here); the core's by default. */
  roles?: Roles;
}

export const defaultOccupancyBench: OccupancyBenchOptions = {
  viewers: 10_000,
  churnPerViewerPerMinute: 6,
  durationMs: 60_000,
  occupancyEveryMs: 1_000,
  watchersEvery: 100,
  seed: '1',
};

export interface OccupancySample {
  atMs: number;
  truth: number;
  watchers: number;
  errorMean: number;
  errorMax: number;
  exactShare: number;
}

export interface OccupancyBench {
  options: OccupancyBenchOptions;
  /** Membership changes (leaves and rejoins) per second the churn made, measured. */
  churnChangesPerSecond: number;
  messagesPerSecond: { on: number; off: number; extra: number; extraShare: number };
  /** Of the extra messages per second, by type (on minus off; negative: fewer with it on). */
  extraByType: Record<string, number>;
  /** Occupancy events told to watchers per second. */
  toldPerSecond: number;
  /** Over the samples while viewers churn (after they all joined): error as a watcher sees it. */
  error: {
    meanOfMeans: number;
    /** meanOfMeans over the mean truth. */
    meanRelative: number;
    p99OfMax: number;
    max: number;
    exactShare: number;
  };
  /** From the last membership change to the sample from which every watcher was told the exact count. */
  convergedMsAfterChurn: number | null;
  samples: OccupancySample[];
  wallMs: number;
}

const topic = 'live:occupancy';
/** Samples fall on whole multiples of this, so every 10th is a whole second. */
const sampleEveryMs = 100;

export function occupancyScenario(options: OccupancyBenchOptions, on: boolean): Scenario {
  return parseScenario(
    {
      name: `occupancy-${on ? 'on' : 'off'}`,
      description: `${options.viewers} viewers churning ${options.churnPerViewerPerMinute}/min each; occupancy ${on ? `every ${options.occupancyEveryMs} ms` : 'off'}`,
      durationMs: options.durationMs,
      deliveryDeadlineMs: 2_000,
      subscribeGraceMs: 1_000,
      topology: {
        datacenters: [
          { name: 'dc-a', frontends: 4, dispatchers: 2 },
          { name: 'dc-b', frontends: 4, dispatchers: 2 },
        ],
      },
      roles: { occupancyEveryMs: on ? options.occupancyEveryMs : 0 },
      workload: {
        topics: [{ name: topic, viewers: options.viewers, publishesPerSecond: 1 }],
        joinOverMs: 5_000,
        publishFromMs: 6_000,
        churnPerViewerPerMinute: options.churnPerViewerPerMinute,
        rejoinAfterMs: 2_000,
        reconnectBackoffMs: { min: 100, max: 1_000 },
        payloadBytes: 16,
        occupancyWatchersEvery: on ? options.watchersEvery : 0,
      },
      faults: [],
    },
    'the occupancy bench',
  );
}

interface Tally {
  sent: Map<string, number>;
  changes: number;
  lastChangeMs: number;
  told: number;
  samples: OccupancySample[];
  endMs: number;
}

/** Follows one run's facts: messages by type, the truth, and what each watcher was last told. */
function tally(watch: boolean): { sink: (fact: Fact) => void; result: Tally } {
  const result: Tally = { sent: new Map(), changes: 0, lastChangeMs: 0, told: 0, samples: [], endMs: 0 };
  const topicsOf = new Map<number, Set<string>>();
  const nodeOf = new Map<number, string>();
  const watchers = new Set<number>();
  const told = new Map<number, number>();
  let truth = 0;
  let nextSampleMs = sampleEveryMs;
  const leave = (c: number): void => {
    if (topicsOf.get(c)?.delete(topic) === true) truth--;
  };
  const sample = (atMs: number): void => {
    let n = 0;
    let sum = 0;
    let max = 0;
    let exact = 0;
    for (const c of watchers) {
      if (topicsOf.get(c)?.has(topic) !== true) continue;
      const error = Math.abs((told.get(c) ?? 0) - truth);
      n++;
      sum += error;
      max = Math.max(max, error);
      if (error === 0) exact++;
    }
    result.samples.push({
      atMs,
      truth,
      watchers: n,
      errorMean: n === 0 ? 0 : sum / n,
      errorMax: max,
      exactShare: n === 0 ? 1 : exact / n,
    });
  };
  const sink = (fact: Fact): void => {
    const ms = fact.t / 1000;
    while (watch && ms >= nextSampleMs) {
      sample(nextSampleMs);
      nextSampleMs += sampleEveryMs;
    }
    result.endMs = ms;
    if (fact.kind === 'sent') {
      result.sent.set(fact.message.type, (result.sent.get(fact.message.type) ?? 0) + fact.copies);
    } else if (fact.kind === 'connection') {
      if (fact.op === 'opened') {
        topicsOf.set(fact.c, new Set());
        nodeOf.set(fact.c, fact.node);
        if (fact.occupancy === true) watchers.add(fact.c);
      } else if (fact.op === 'joined' && fact.topic === topic) {
        const topics = topicsOf.get(fact.c);
        if (topics !== undefined && !topics.has(topic)) {
          topics.add(topic);
          truth++;
          result.changes++;
          result.lastChangeMs = ms;
        }
      } else if (fact.op === 'left' && fact.topic === topic) {
        if (topicsOf.get(fact.c)?.has(topic) === true) {
          result.changes++;
          result.lastChangeMs = ms;
        }
        leave(fact.c);
      } else if (fact.op === 'closed') {
        leave(fact.c);
        topicsOf.delete(fact.c);
        watchers.delete(fact.c);
        told.delete(fact.c);
      }
    } else if (fact.kind === 'node' && fact.op === 'down') {
      for (const [c, node] of nodeOf) if (node === fact.node) leave(c);
    } else if (fact.kind === 'occupancy' && fact.topic === topic) {
      for (const c of fact.connections) told.set(c, fact.count);
      result.told += fact.connections.length;
    }
  };
  return { sink, result };
}

/** What `npm run bench` keeps: the bench with its error curve at one point a second. */
export type OccupancyBenchSummary = Omit<OccupancyBench, 'samples'> & {
  curve: Pick<OccupancySample, 'atMs' | 'truth' | 'errorMean' | 'errorMax'>[];
};

export function summarizeOccupancy({ samples, ...rest }: OccupancyBench): OccupancyBenchSummary {
  const curve = samples
    .filter((s) => s.atMs % 1_000 === 0)
    .map(({ atMs, truth, errorMean, errorMax }) => ({
      atMs,
      truth,
      errorMean: round(errorMean, 1),
      errorMax,
    }));
  return { ...rest, curve };
}

export function benchOccupancy(options: OccupancyBenchOptions = defaultOccupancyBench): OccupancyBench {
  const started = performance.now();
  const run = (on: boolean): Tally => {
    const { sink, result } = tally(on);
    runScenario(occupancyScenario(options, on), options.seed, {
      tracePath: null,
      onFact: sink,
      ...(on && options.roles !== undefined ? { roles: options.roles } : {}),
    });
    return result;
  };
  const on = run(true);
  const off = run(false);
  const seconds = (t: Tally): number => Math.max(1, t.endMs) / 1000;
  const total = (t: Tally): number => [...t.sent.values()].reduce((a, b) => a + b, 0);
  const perSecondOn = total(on) / seconds(on);
  const perSecondOff = total(off) / seconds(off);
  const extraByType: Record<string, number> = {};
  for (const type of new Set([...on.sent.keys(), ...off.sent.keys()])) {
    const extra = (on.sent.get(type) ?? 0) / seconds(on) - (off.sent.get(type) ?? 0) / seconds(off);
    if (Math.abs(extra) >= 0.05) extraByType[type] = round(extra, 1);
  }
  // Judge the error while viewers churn, once every viewer had time to join (joinOverMs) and be counted.
  const judged = on.samples.filter((s) => s.atMs >= 10_000 && s.atMs <= options.durationMs && s.watchers > 0);
  const maxima = judged.map((s) => s.errorMax).sort((a, b) => a - b);
  const meanOfMeans = judged.reduce((sum, s) => sum + s.errorMean, 0) / Math.max(1, judged.length);
  const meanTruth = judged.reduce((sum, s) => sum + s.truth, 0) / Math.max(1, judged.length);
  const lastWrong = on.samples.findLastIndex((s) => s.exactShare < 1);
  const settled = on.samples[lastWrong + 1];
  return {
    options,
    churnChangesPerSecond: round(on.changes / seconds(on), 1),
    messagesPerSecond: {
      on: round(perSecondOn, 1),
      off: round(perSecondOff, 1),
      extra: round(perSecondOn - perSecondOff, 1),
      extraShare: round((perSecondOn - perSecondOff) / perSecondOff, 4),
    },
    extraByType,
    toldPerSecond: round(on.told / seconds(on), 1),
    error: {
      meanOfMeans: round(meanOfMeans, 2),
      meanRelative: round(meanOfMeans / Math.max(1, meanTruth), 5),
      p99OfMax: maxima[Math.min(maxima.length - 1, Math.floor(maxima.length * 0.99))] ?? 0,
      max: maxima.at(-1) ?? 0,
      exactShare: round(judged.reduce((sum, s) => sum + s.exactShare, 0) / Math.max(1, judged.length), 4),
    },
    convergedMsAfterChurn:
      settled === undefined || settled.atMs < on.lastChangeMs
        ? null
        : Math.round(settled.atMs - on.lastChangeMs),
    samples: on.samples,
    wallMs: Math.round(performance.now() - started),
  };
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
