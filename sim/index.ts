/**
 * The simulated world: a seeded discrete-event runtime that runs the pure core under faults,
 * writes a trace, and checks the delivery invariants as it goes.
 */
export {
  loadScenario,
  namedScenarios,
  runScenario,
  scenariosDir,
  withoutAmbientNondeterminism,
} from './run.ts';
export type { LatencySummary, Report, RunOptions } from './run.ts';
export {
  parseScenario,
  ScenarioError,
  nodeIds,
  faultKinds,
  defaultRoles,
  defaultNetwork,
} from './scenario.ts';
export type {
  Fault,
  FaultKind,
  Latency,
  LinkClass,
  Network,
  RandomFaults,
  RoleSettings,
  Scenario,
  TopicLoad,
  Workload,
} from './scenario.ts';
export type { TraceKind, TraceRecord } from './trace.ts';
export type { InvariantName, Violation } from './checkers/index.ts';
export type { NetworkDropReason } from './facts.ts';
export { traceVersion } from './trace.ts';
export { coreRoles } from './world/index.ts';
export { describeFault } from './describe-fault.ts';
export type { Roles } from './world/index.ts';
export { formatReport } from './format.ts';
export { bareHeapLoop } from './world/index.ts';
export { plantedBugs, rolesWithBug } from './planted-bugs.ts';
export type { PlantedBug } from './planted-bugs.ts';
