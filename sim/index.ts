/**
 * The simulator: a seeded discrete-event world that runs the pure core under faults and emits what
 * happens as facts; checkers that judge the delivery invariants from those facts; and the trace, a
 * file of the facts that the trace reader turns back into facts for the same checkers.
 */
export {
  loadScenario,
  namedScenarios,
  latencySummary,
  runScenario,
  scenariosDir,
  withoutAmbientNondeterminism,
} from './run.ts';
export type { LatencySummary, Report, RunOptions } from './run.ts';
export { formatComparison, formatReport } from './format.ts';
export { parseScenario } from './scenario-parse.ts';
export { ScenarioError, nodeIds, faultKinds, defaultRoles, defaultNetwork } from './scenario.ts';
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
export { describeFault } from './describe-fault.ts';
export { coreRoles, bareHeapLoop, faultSchedule, publishAttemptsMax, publishRetryMs } from './world/index.ts';
export type { Roles } from './world/index.ts';
export { plantedBugs, rolesWithBug } from './planted-bugs.ts';
export type { PlantedBug } from './planted-bugs.ts';
export type {
  ConnectionOp,
  EventStamp,
  Fact,
  FactKind,
  FactSink,
  HistoryAnswer,
  MessageFacts,
  NetworkDropReason,
  NodeRole,
  TopologyNode,
} from './facts.ts';
export { Checkers, judgedInvariants, violationsKeptPerInvariant, zeroTotals } from './checkers/index.ts';
export type {
  CheckerOutput,
  CheckersHeld,
  CheckerSummary,
  CheckerTotals,
  DeliveryCounts,
  InvariantName,
  LivenessSummary,
  LossGroup,
  OccupancyConvergence,
  OccupancyError,
  OccupancySummary,
  ReliableCounts,
  Violation,
} from './checkers/index.ts';
export { traceVersion } from './trace.ts';
export type { TraceKind, TraceRecord } from './trace.ts';
export { decodeRecipients } from './recipients.ts';
export type { Recipients } from './recipients.ts';
export { readTraceFacts, TraceError, TraceReader } from './trace-reader.ts';
export type { TraceLine } from './trace-reader.ts';
export { eventOfRecord, parseTraceLine, TraceFormatError, traceKinds } from './trace-line.ts';
export { checkTrace } from './check-trace.ts';
export { MessageNamer } from './message-facts.ts';
export type { MessageEnd } from './message-facts.ts';
export { payloadText, stampOf } from './facts.ts';
export { Rng } from './rng.ts';

export { catchUpMs, faultDurationMs, settleMs } from './settle.ts';
export { occupancyBounds, occupancyEndMs, occupancyStaleMs, watchesOccupancy } from './occupancy-bounds.ts';
export type { OccupancyBounds } from './occupancy-bounds.ts';
export { TraceWriter } from './trace-writer.ts';
export type { Histogram } from './histogram.ts';
