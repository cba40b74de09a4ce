/** Property-based tests of the delivery invariants, and contract suites shared by implementations. */
export { faultMixes, scenarioArbitrary } from './arbitraries.ts';
export type { FaultMix, GeneratedScenario, ScenarioSize } from './arbitraries.ts';
export { checkProperties, ReplayPathError } from './check.ts';
export type { CheckOptions, CheckResult, Counterexample } from './check.ts';
export { formatTally, ineffectiveKinds } from './tally.ts';
export type { FaultTally } from './tally.ts';
