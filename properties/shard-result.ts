/**
 * A shard's result file, and the merge of a run's shard results into the run's one outcome.
 *
 * A shard's result is its range's counts (up to its first failure, as any range), that failure's
 * index and its shrunk counterexample, and what identifies the run (seed, runs, scenario size,
 * mode, planted bug, shard count). A result without a mode (written before reliable mode) is of a
 * best-effort run. Merged, the shards' ranges combine in index order up to the first
 * failure among them (check-range.ts): the verdict, the counts and the counterexample are those of
 * the run unsharded. Every file must be of the same run and every shard present exactly once; a
 * file that breaks either, or is not a result at all, is refused with a message that names it.
 */
import { deliveryModes, type DeliveryMode } from '../core/index.ts';
import { parseScenario, plantedBugs, type PlantedBug, type Violation } from '../sim/index.ts';
import { faultMixes, reliableFeatures, swarmFeatures, type ScenarioSize } from './arbitraries.ts';
import { combineRanges, type RangeFailure, type RangeResult } from './check-range.ts';
import { verdictOf, type CheckResult } from './check.ts';
import type { Counterexample } from './counterexample.ts';
import type { Mark, MarkCounts } from './marks.ts';
import { shardRange, type Shard } from './shard-range.ts';
import type { FaultTally } from './tally.ts';

export const shardResultFormat = 'stadium-check-result';
export const shardResultVersion = 1;

/** What makes a run: results merge only when these are equal. */
export interface RunIdentity {
  /** The seed as given (any safe integer), and fast-check's 32-bit seed made from it. */
  seed: number;
  fastCheckSeed: number;
  runs: number;
  scenarioSize: ScenarioSize;
  mode: DeliveryMode;
  plantBug: PlantedBug | null;
}

export interface ShardResult extends RunIdentity, RangeResult {
  format: typeof shardResultFormat;
  version: typeof shardResultVersion;
  shard: Shard;
  durationMs: number;
  workers: number;
  counterexample: Counterexample | null;
}

/** A result file that cannot be merged, and why, naming the file. */
export class ShardResultError extends Error {
  override name = 'ShardResultError';
}

/** The result file of `shard`'s run. */
export function shardResultOf(identity: RunIdentity, shard: Shard, result: CheckResult): ShardResult {
  const counterexample = result.counterexample;
  const failure: RangeFailure | null =
    counterexample === null
      ? null
      : { index: Number(counterexample.path.split(':')[0]), problem: counterexample.problem };
  return {
    format: shardResultFormat,
    version: shardResultVersion,
    ...identity,
    shard,
    from: result.range.from,
    to: result.range.to,
    durationMs: result.durationMs,
    workers: result.workers,
    tally: result.tally,
    marks: result.marks,
    failure,
    counterexample,
  };
}

export interface MergedRun {
  identity: RunIdentity;
  shards: number;
  result: CheckResult;
}

/** Merge a whole run's shard results; `files` are their names and parsed JSON. */
export function mergeShardResults(
  files: readonly { name: string; value: unknown }[],
  declaredOf: (mode: DeliveryMode) => readonly Mark[],
): MergedRun {
  const first = files[0];
  if (first === undefined) throw new ShardResultError('no result files to merge');
  const results = files.map(({ name, value }) => ({
    name,
    result: readShardResult(name, value, declaredOf),
  }));
  const [head] = results as [(typeof results)[0]];
  const identity: RunIdentity = {
    seed: head.result.seed,
    fastCheckSeed: head.result.fastCheckSeed,
    runs: head.result.runs,
    scenarioSize: head.result.scenarioSize,
    mode: head.result.mode,
    plantBug: head.result.plantBug,
  };
  const count = head.result.shard.count;
  const byIndex = new Map<number, string>();
  for (const { name, result } of results) {
    for (const key of ['seed', 'runs', 'scenarioSize', 'mode', 'plantBug'] as const)
      if (result[key] !== identity[key])
        throw new ShardResultError(
          `${name} is from another run: ${key} ${String(result[key])}, not ${String(identity[key])} as in ${head.name}`,
        );
    if (result.shard.count !== count)
      throw new ShardResultError(
        `${name} is shard ${result.shard.index}/${result.shard.count}, of another cut than ${head.name}'s ${head.result.shard.index}/${count}`,
      );
    const twin = byIndex.get(result.shard.index);
    if (twin !== undefined)
      throw new ShardResultError(`${twin} and ${name} are both shard ${result.shard.index}/${count}`);
    byIndex.set(result.shard.index, name);
  }
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((index) => !byIndex.has(index));
  if (missing.length > 0)
    throw new ShardResultError(
      `shard${missing.length === 1 ? '' : 's'} ${missing.map((i) => `${i}/${count}`).join(', ')} missing: a merge needs every shard of the run (given ${[
        ...byIndex.keys(),
      ]
        .sort((a, b) => a - b)
        .map((i) => `${i}/${count}`)
        .join(', ')})`,
    );
  const declared = declaredOf(identity.mode);
  const combined = combineRanges(
    declared,
    0,
    identity.runs,
    results.map(({ result }) => result),
  );
  const index = combined.failure?.index;
  const failing = results.find(({ result }) => index !== undefined && result.failure?.index === index);
  const counterexample = failing?.result.counterexample ?? null;
  const durations = results.map(({ result }) => result.durationMs);
  return {
    identity,
    shards: count,
    result: {
      ...verdictOf({
        declared,
        whole: true,
        failed: counterexample !== null,
        tally: combined.tally,
        marks: combined.marks,
      }),
      seed: identity.fastCheckSeed,
      range: { from: 0, to: identity.runs },
      // The longest shard: the run's time when its shards run side by side.
      durationMs: Math.max(...durations),
      workers: results.reduce((sum, { result }) => sum + result.workers, 0),
      tally: combined.tally,
      marks: combined.marks,
      counterexample,
    },
  };
}

/** A parsed result file checked field by field; throws ShardResultError naming the file and field. */
export function readShardResult(
  name: string,
  value: unknown,
  declaredOf: (mode: DeliveryMode) => readonly Mark[],
): ShardResult {
  const bad = (what: string): never => {
    throw new ShardResultError(`${name}: not a stadium check result file: ${what}`);
  };
  const o = record(value) ?? bad('not a JSON object');
  if (o.format !== shardResultFormat) bad(`"format" must be "${shardResultFormat}"`);
  if (o.version !== shardResultVersion)
    bad(`"version" ${JSON.stringify(o.version)}; this stadium reads version ${shardResultVersion}`);
  const int = (x: unknown, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number =>
    typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max
      ? x
      : bad(`"${field}" must be an integer from ${min} to ${max}`);
  const counts = (x: unknown, field: string): Record<string, number> => {
    const r = record(x) ?? bad(`"${field}" must be an object of counts`);
    for (const [key, n] of Object.entries(r)) int(n, `${field}.${key}`);
    return r as Record<string, number>;
  };
  const seed = int(o.seed, 'seed', -Number.MAX_SAFE_INTEGER);
  const fastCheckSeed = int(o.fastCheckSeed, 'fastCheckSeed', -(2 ** 31), 2 ** 31 - 1);
  const runs = int(o.runs, 'runs', 1);
  const scenarioSize =
    o.scenarioSize === 'small' || o.scenarioSize === 'large'
      ? o.scenarioSize
      : bad('"scenarioSize" must be small or large');
  const mode =
    o.mode === undefined
      ? 'best-effort'
      : (deliveryModes.find((m) => m === o.mode) ?? bad(`"mode" must be one of ${deliveryModes.join(', ')}`));
  const plantBug =
    o.plantBug === null
      ? null
      : (plantedBugs.find((b) => b === o.plantBug) ??
        bad(`"plantBug" ${JSON.stringify(o.plantBug)} is not a planted bug`));
  const shardRecord = record(o.shard) ?? bad('"shard" must be an object');
  const count = int(shardRecord.count, 'shard.count', 1, runs);
  const shard = { index: int(shardRecord.index, 'shard.index', 1, count), count };
  const { from, to } = shardRange(runs, shard);
  if (o.from !== from || o.to !== to)
    bad(
      `shard ${shard.index}/${count} of ${runs} runs is [${from}, ${to}), not [${String(o.from)}, ${String(o.to)})`,
    );
  const t = record(o.tally) ?? bad('"tally" must be an object');
  const tally: FaultTally = {
    generated: int(t.generated, 'tally.generated'),
    shrinkCandidates: int(t.shrinkCandidates, 'tally.shrinkCandidates'),
    byMix: counts(t.byMix, 'tally.byMix') as FaultTally['byMix'],
    requested: counts(t.requested, 'tally.requested') as FaultTally['requested'],
    started: counts(t.started, 'tally.started') as FaultTally['started'],
    deathsByRole: counts(t.deathsByRole, 'tally.deathsByRole') as FaultTally['deathsByRole'],
    drops: counts(t.drops, 'tally.drops'),
    duplicatedMessages: int(t.duplicatedMessages, 'tally.duplicatedMessages'),
    deliveries: int(t.deliveries, 'tally.deliveries'),
    occupancy: counts(t.occupancy, 'tally.occupancy') as FaultTally['occupancy'],
  };
  if (faultMixes.some((mix) => tally.byMix[mix] === undefined))
    bad(`"tally.byMix" must count ${faultMixes.join(', ')}`);
  if (
    ['scenarios', 'stretches', 'againstCuts', 'cutsChecked'].some(
      (key) => !Object.hasOwn(tally.occupancy, key),
    )
  )
    bad('"tally.occupancy" must count scenarios, stretches, againstCuts and cutsChecked');
  const m = record(o.marks) ?? bad('"marks" must be an object');
  const names = declaredOf(mode).map((mark) => mark.name);
  if (Object.keys(m).sort().join() !== [...names].sort().join())
    bad(
      `its marks (${Object.keys(m).join(', ')}) are not this stadium's (${names.join(', ')}): merge results made by one version`,
    );
  const marks: MarkCounts = {};
  for (const mark of names) {
    const c = record(m[mark]) ?? bad(`"marks.${mark}" must be an object`);
    marks[mark] = {
      count: int(c.count, `marks.${mark}.count`),
      scenarios: int(c.scenarios, `marks.${mark}.scenarios`),
    };
  }
  let failure: RangeFailure | null = null;
  let counterexample: Counterexample | null = null;
  if (o.failure !== null) {
    const f = record(o.failure) ?? bad('"failure" must be null or an object');
    const problem = typeof f.problem === 'string' ? f.problem : bad('"failure.problem" must be a string');
    failure = { index: int(f.index, 'failure.index', from, to - 1), problem };
    counterexample = readCounterexample(o.counterexample, failure.index, bad);
  } else if (o.counterexample !== null) bad('"counterexample" must be null when "failure" is');
  // A range counts every scenario from its start up to the end, or up to and including its failure.
  const judged = failure === null ? to - from : failure.index - from + 1;
  if (tally.generated !== judged)
    bad(`"tally.generated" is ${tally.generated}, but the shard judged ${judged} scenarios`);
  return {
    format: shardResultFormat,
    version: shardResultVersion,
    seed,
    fastCheckSeed,
    runs,
    scenarioSize,
    mode,
    plantBug,
    shard,
    from,
    to,
    durationMs: int(o.durationMs, 'durationMs'),
    workers: int(o.workers, 'workers', 1),
    tally,
    marks,
    failure,
    counterexample,
  };
}

function readCounterexample(x: unknown, index: number, bad: (what: string) => never): Counterexample {
  const c = record(x) ?? bad('"counterexample" must be an object when "failure" is');
  const path =
    typeof c.path === 'string' && /^\d+(:\d+)*$/.test(c.path)
      ? c.path
      : bad('"counterexample.path" must look like 17:3:0');
  if (Number(path.split(':')[0]) !== index)
    bad(`"counterexample.path" ${path} does not start at the failure's index ${index}`);
  const g = record(c.generated) ?? bad('"counterexample.generated" must be an object');
  let scenario;
  try {
    scenario = parseScenario(g.scenario, 'counterexample.generated.scenario');
  } catch (error) {
    return bad(error instanceof Error ? error.message : String(error));
  }
  const mix =
    faultMixes.find((m) => m === g.mix) ?? bad('"counterexample.generated.mix" must be a fault mix');
  const seed = typeof g.seed === 'string' ? g.seed : bad('"counterexample.generated.seed" must be a string');
  const features = Array.isArray(g.features)
    ? g.features.map(
        (f) =>
          [...swarmFeatures, ...reliableFeatures].find((known) => known === f) ??
          bad(`"counterexample.generated.features" has no feature ${JSON.stringify(f)}`),
      )
    : bad('"counterexample.generated.features" must be an array');
  return {
    // Fields of a generated scenario this reader does not check are kept as the shard wrote them.
    generated: { ...g, scenario, seed, mix, features },
    violations: readViolations(c.violations, bad),
    problem: typeof c.problem === 'string' ? c.problem : bad('"counterexample.problem" must be a string'),
    path,
    shrinks:
      typeof c.shrinks === 'number' && Number.isInteger(c.shrinks) && c.shrinks >= 0
        ? c.shrinks
        : bad('"counterexample.shrinks" must be a count'),
  };
}

function readViolations(x: unknown, bad: (what: string) => never): Violation[] {
  if (!Array.isArray(x)) return bad('"counterexample.violations" must be an array');
  for (const [i, v] of x.entries()) {
    const o = record(v);
    if (
      o === null ||
      typeof o.invariant !== 'string' ||
      typeof o.message !== 'string' ||
      !Array.isArray(o.chain)
    )
      bad(`"counterexample.violations[${i}]" must be a violation (invariant, message, chain)`);
  }
  // Each one has the fields the output reads; the rest is printed as it stands.
  return x as Violation[];
}

function record(x: unknown): Record<string, unknown> | null {
  return typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : null;
}
