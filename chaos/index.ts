/**
 * The chaos harness: a simulator scenario run against real `stadium serve` processes and Redis on
 * 127.0.0.1, its faults injected for real, its facts judged by the simulator's checkers, side by
 * side with the simulator's run of the same scenario and seed.
 */
export { ChaosError, runChaos, scaleScenario } from './run.ts';
export type { ChaosOptions, ChaosResult, RealReport, StartLinks } from './run.ts';
export { compareWorlds } from './compare.ts';
export type { WorldDifference } from './compare.ts';
export { formatChaos } from './format.ts';
export { faultProxyLinks } from './links.ts';
export {
  bodyBytesMax,
  heldMessagesMax,
  messageNumberOf,
  startFaultProxy,
  upstreamTimeoutMs,
} from './fault-proxy.ts';
export type {
  FaultProxy,
  FaultProxyOptions,
  FaultProxyTarget,
  ProxyDrop,
  ProxyDropReason,
  ProxyForward,
  ProxyUpstreamError,
} from './fault-proxy.ts';
