/**
 * One simulator run from the outside: load a scenario, run it with ambient nondeterminism banned,
 * and turn what the world did and what the checkers found into a report. This is where the three
 * meet: the world emits its facts to the trace writer, then to the checkers; the checkers' outputs
 * go to the trace writer too.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { msOfUs, usOfMs, type DeliveryMode, type Us } from '../core/index.ts';
import { Checkers, type DeliveryCounts, type InvariantName, type Violation } from './checkers/index.ts';
import type { FactSink } from './facts.ts';
import type { Histogram } from './histogram.ts';
import { parseScenario } from './scenario-parse.ts';
import { ScenarioError, type FaultKind, type Scenario } from './scenario.ts';
import { TraceWriter } from './trace-writer.ts';
import { runWorld, type RoleCounters, type Roles, type WorldResult } from './world/index.ts';

export const scenariosDir = join(import.meta.dirname, 'scenarios');

export function namedScenarios(): string[] {
  return readdirSync(scenariosDir)
    .filter((file) => file.endsWith('.json'))
    .map((file) => file.slice(0, -'.json'.length))
    .sort();
}

/** A named scenario (`live-video`) or a path to a scenario JSON file. Throws ScenarioError naming the problem. */
export function loadScenario(nameOrPath: string): Scenario {
  const named = join(scenariosDir, `${nameOrPath}.json`);
  const path = /^[a-z0-9-]+$/.test(nameOrPath) && existsSync(named) ? named : nameOrPath;
  if (!existsSync(path)) {
    throw new ScenarioError(nameOrPath, [
      `no such scenario file, and no named scenario of that name (named: ${namedScenarios().join(', ')})`,
    ]);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ScenarioError(path, [`cannot read: ${(error as Error).message}`]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ScenarioError(path, [`not valid JSON: ${(error as Error).message}`]);
  }
  return parseScenario(value, path);
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface Report extends DeliveryCounts {
  scenario: string;
  /** The mode the roles delivered in. */
  mode: DeliveryMode;
  seed: string;
  traceHash: string;
  tracePath: string | null;
  traceBytes: number;
  traceLines: number;
  /** Items the world processed (messages, deadlines, client actions, faults...). */
  events: number;
  latencyMs: LatencySummary;
  latencyMsSameDc: LatencySummary;
  latencyMsCrossDc: LatencySummary;
  faults: Record<FaultKind, number>;
  messages: { sent: number; dropped: Record<string, number>; duplicated: number };
  /**
   * `warned`: answered OK with a warning that some viewers may have been missed; reliable mode:
   * `retried` sends of a publish after its first, `abandoned` publishes never answered OK.
   */
  publishes: WorldResult['publishes'];
  connections: { opened: number; refused: number; reconnects: number };
  /** Every role's decision-point counters, summed over its nodes (what `stadium check`'s marks count). */
  counters: RoleCounters;
  simulatedMs: number;
  wallMs: number;
  eventsPerSecond: number;
  violationCounts: Record<InvariantName, number>;
  violations: Violation[];
  ok: boolean;
}

export interface RunOptions {
  tracePath: string | null;
  /** Told every fact of the run too (a chaos run takes its workload from them). */
  onFact?: FactSink;
  onProgress?: (doneMs: number, totalMs: number) => void;
  roles?: Roles;
}

/** Run `scenario` with `seed`; a pure function of the two, except for `wallMs` and `eventsPerSecond`. */
export function runScenario(scenario: Scenario, seed: string, options: RunOptions): Report {
  const started = performance.now();
  const trace = new TraceWriter(options.tracePath);
  const checkers = new Checkers((output) => trace.output(output));
  const world = withoutAmbientNondeterminism(() =>
    runWorld(scenario, seed, {
      facts: [
        (fact) => trace.fact(fact),
        (fact) => checkers.apply(fact),
        ...(options.onFact === undefined ? [] : [options.onFact]),
      ],
      ...(options.roles === undefined ? {} : { roles: options.roles }),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    }),
  );
  const traceHash = trace.close();
  const wallMs = Math.max(1, Math.round(performance.now() - started));
  const { latency: histograms, violationCounts, violations, ...counts } = checkers.summary();
  const violationTotal = Object.values(violationCounts).reduce((a, b) => a + b, 0);
  return {
    scenario: scenario.name,
    mode: scenario.mode,
    seed,
    traceHash,
    tracePath: options.tracePath,
    traceBytes: trace.bytes,
    traceLines: trace.lines,
    events: world.items,
    ...counts,
    latencyMs: latencySummary(histograms.overall),
    latencyMsSameDc: latencySummary(histograms.sameDc),
    latencyMsCrossDc: latencySummary(histograms.crossDc),
    faults: world.faults,
    messages: world.messages,
    publishes: world.publishes,
    connections: world.connections,
    counters: world.counters,
    simulatedMs: msOfUs(world.simulatedUs),
    wallMs,
    eventsPerSecond: Math.round((world.items / wallMs) * 1000),
    violationCounts,
    violations,
    ok: violationTotal === 0,
  };
}

/** A latency histogram (microseconds) as reports give it: milliseconds with three decimals. */
export function latencySummary(histogram: Histogram): LatencySummary {
  // Milliseconds with three decimals: the histograms hold microseconds.
  const ms = (us: Us): number => Math.round(us) / usOfMs(1);
  return {
    p50: ms(histogram.quantile(0.5)),
    p90: ms(histogram.quantile(0.9)),
    p99: ms(histogram.quantile(0.99)),
    max: ms(histogram.max),
  };
}

/**
 * Run `body` with `Date.now`, `performance.now` and `Math.random` replaced by functions that throw,
 * so any read of the real clock or ambient randomness during a run fails loudly instead of making
 * the run irreproducible.
 */
export function withoutAmbientNondeterminism<T>(body: () => T): T {
  const saved = { dateNow: Date.now, performanceNow: performance.now, random: Math.random };
  const ban = (name: string) => (): never => {
    throw new Error(
      `${name} was called during a simulation run; use the run's seeded streams and virtual time`,
    );
  };
  Date.now = ban('Date.now');
  performance.now = ban('performance.now');
  Math.random = ban('Math.random');
  try {
    return body();
  } finally {
    Date.now = saved.dateNow;
    performance.now = saved.performanceNow;
    Math.random = saved.random;
  }
}
