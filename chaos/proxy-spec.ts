/** What the harness and its fault proxy process (chaos/proxy-process.ts) tell each other. */
import type { FaultProxy, FaultProxyOptions, FaultProxyTarget, ProxyDrop } from './fault-proxy.ts';

export const chaosProxyEnv = 'STADIUM_CHAOS_PROXY';

export interface ProxyProcessSpec {
  targets: FaultProxyTarget[];
  /** Public URL -> simulator name of every node. */
  names: [string, string][];
  seed: string;
  links: FaultProxyOptions['links'];
}

/** What the harness sends: one of the proxy's fault verbs and its arguments. */
export type ProxyCommand =
  { verb: Exclude<keyof FaultProxy, 'close' | 'portOf'>; args: unknown[] } | { verb: 'close' };

/** What the proxy process sends back. */
export type ProxyReport = { ready: true } | { failed: string } | { drop: ProxyDrop } | { closed: true };
