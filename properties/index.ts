/** Property-based tests of the delivery invariants, and contract suites shared by implementations. */
export { faultMixes, scenarioArbitrary } from './arbitraries.ts';
export type { FaultMix, GeneratedScenario, ScenarioSize } from './arbitraries.ts';
export { checkProperties } from './check.ts';
export type { CheckOptions, CheckResult } from './check.ts';
export { checkPropertiesInParallel } from './check-workers.ts';
export { ReplayPathError } from './counterexample.ts';
export type { Counterexample } from './counterexample.ts';
export { formatMarks, marks, marksJudgedFromRuns, marksOf } from './marks.ts';
export type { Mark, MarkCount, MarkCounts } from './marks.ts';
export { parseShard, shardError, shardRange } from './shard-range.ts';
export type { Shard } from './shard-range.ts';
export { mergeShardResults, ShardResultError, shardResultOf } from './shard-result.ts';
export type { MergedRun, RunIdentity, ShardResult } from './shard-result.ts';
export { formatTally, ineffectiveKinds } from './tally.ts';
export type { FaultTally } from './tally.ts';
