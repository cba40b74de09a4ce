/**
 * The chaos harness: a simulator scenario's faults injected into real `stadium serve` processes.
 */
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
