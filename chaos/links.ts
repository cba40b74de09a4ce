/** The fault proxies as a run's `StartLinks` (chaos/fault-proxy.ts). */
import type { StartLinks } from './run.ts';

export async function faultProxyLinks(): Promise<StartLinks | null> {
  return null;
}
