/** Property-based tests of the delivery invariants, and contract suites shared by implementations. */
export { faultMixes, scenarioArbitrary } from './arbitraries.ts';
export type { FaultMix, GeneratedScenario, ScenarioSize } from './arbitraries.ts';
export { checkProperties, formatTally, ineffectiveKinds, ReplayPathError } from './check.ts';
export type { CheckOptions, CheckResult, Counterexample, FaultTally } from './check.ts';
