/**
 * The fault a loss-window run injects, for real, and the named stretches of time it makes.
 * `redis`: SIGKILL the private redis-server, restart it empty on the same port `redisGapMs` later;
 * healed once it answers PING. `freeze`: SIGSTOP one frontend for `freezeMs` (longer than its
 * lease), then SIGCONT; healed at SIGCONT. The phases that lost publishes are sorted into come from
 * the fault's own times and what the watchers saw.
 */
import type { ClusterNode } from './cluster.ts';
import type { Phase } from './loss-report.ts';
import { signal } from './loss-window-harness.ts';
import type { LossWindowOptions, Note } from './loss-window-measure.ts';
import type { HealthWatcher, StoreWatcher } from './loss-window-watchers.ts';
import type { RedisServerProcess } from './redis-server-process.ts';
import { sleep } from './wait-for.ts';

export type LossFault = 'redis' | 'freeze';
export const lossFaults: readonly LossFault[] = ['redis', 'freeze'];

/** Inject the fault begun at `faultAtMs`; resolves at its heal, with the heal's time (epoch ms). */
export async function injectFault(
  options: LossWindowOptions,
  redis: RedisServerProcess,
  frozen: ClusterNode | null,
  faultAtMs: number,
  note: Note,
): Promise<number> {
  if (options.fault === 'redis') {
    await redis.kill();
    note('redis-server killed (SIGKILL)');
    await sleep(Math.max(0, faultAtMs + options.redisGapMs - Date.now()));
    note('redis-server restarting, empty');
    await redis.restart();
    const healedAtMs = Date.now();
    note('redis-server answers PING');
    return healedAtMs;
  }
  signal(frozen!, 'SIGSTOP');
  note(`${frozen!.name} frozen (SIGSTOP)`);
  await sleep(options.freezeMs);
  signal(frozen!, 'SIGCONT');
  const healedAtMs = Date.now();
  note(`${frozen!.name} resumed (SIGCONT)`);
  return healedAtMs;
}

/** The named stretches of the run, in time order, from the fault's own times and what the watchers saw. */
export function phasesOf(
  fault: LossFault,
  faultAtMs: number,
  healedAtMs: number,
  watcher: StoreWatcher,
  health: HealthWatcher,
  frozen: ClusterNode | null,
  frontends: ClusterNode[],
): Phase[] {
  const phases: Phase[] = [];
  if (fault === 'redis') {
    phases.push({ name: 'redis down', fromMs: faultAtMs });
    phases.push({ name: 'redis back, a dispatcher not yet reconnected', fromMs: healedAtMs });
    const reconnected = health.storeUpAfter(healedAtMs);
    if (reconnected !== null) {
      phases.push({ name: 'dispatchers reconnected, a frontend not yet re-registered', fromMs: reconnected });
    }
    const back = frontends.map((f) => watcher.liveAgainAfter(f.url, healedAtMs));
    if (back.every((at) => at !== null)) {
      phases.push({ name: 'every frontend re-registered', fromMs: Math.max(...(back as number[])) });
    }
  } else {
    const lapsed = watcher.lapsedAfter(frozen!.url, faultAtMs);
    const liveAgain = watcher.liveAgainAfter(frozen!.url, Math.max(healedAtMs, lapsed ?? healedAtMs));
    phases.push({ name: 'frozen, lease live', fromMs: faultAtMs });
    if (lapsed !== null && lapsed < healedAtMs)
      phases.push({ name: 'frozen, lease expired', fromMs: lapsed });
    phases.push({ name: 'resumed, not yet re-registered', fromMs: healedAtMs });
    if (liveAgain !== null) phases.push({ name: 're-registered', fromMs: liveAgain });
  }
  return phases.sort((a, b) => a.fromMs - b.fromMs);
}
