/**
 * Dispatcher throughput: one `stadium serve --role dispatcher` process, no frontends registered,
 * and a publisher process keeping many keep-alive POSTs in flight, each one event or a batch of
 * them. Each event of a batch is still its own publish: validated, stamped, looked up in the store
 * (a Redis round trip with Redis) and answered; in reliable mode also given its position and
 * appended to the topic's history in the same store call.
 *
 * Where the bench owns the Redis (a private `redis-server`, nothing else talking to it), the
 * Redis CPU of the window (INFO cpu, user + system) divided by the publishes answered is Redis'
 * cost per publish; on a shared Redis it is not measured, since other clients' work would count.
 */
import { randomBytes } from 'node:crypto';
import { createHistogram, merge, summarize } from './histogram.ts';
import type { LatencySummary } from './histogram.ts';
import type { DeliveryMode } from './fanout.ts';
import { forkBench } from './processes.ts';
import type { PublisherReport } from './protocol.ts';
import { redisCpuSeconds } from './redis.ts';
import { cpuMs, sleep, startStadium } from './servers.ts';

export interface DispatcherCase {
  store: 'memory' | 'redis' | 'redis-cluster';
  /** `stadium serve --mode`; absent in results recorded before reliable mode (best-effort then). */
  mode?: DeliveryMode;
  /** Requests in flight at once (one per keep-alive connection). */
  concurrency: number;
  /** Events per request (1: one publish per request; more: a batch publish). */
  batch: number;
  publishesPerSecond: number;
  failures: number;
  firstError: string | null;
  latency: LatencySummary;
  serverCpuPercent: number | null;
  /**
   * Redis CPU (user + system) per publish answered in the window, in microseconds; null when not
   * measured (a shared Redis, or the embedded store). Absent in results recorded before it was.
   */
  redisCpuUsPerPublish?: number | null;
  windowMs: number;
}

export type DispatcherStore =
  | { kind: 'memory' }
  /** `private`: the bench started this Redis and nothing else uses it, so its CPU can be measured. */
  | { kind: 'redis'; url: string; prefix: string; private: boolean }
  /** A private Redis Cluster (bench/dispatcher-cluster.ts): its CPU is the sum over its masters. */
  | { kind: 'redis-cluster'; url: string; prefix: string; ports: readonly number[] };

export async function benchDispatcher(
  store: DispatcherStore,
  options: { mode: DeliveryMode; concurrency: number; batch: number; warmupMs: number; windowMs: number },
): Promise<DispatcherCase> {
  // A lone dispatcher still needs the internal token every multi-node role requires; no node uses it.
  const flags = [
    '--role',
    'dispatcher',
    '--dc',
    'bench',
    '--internal-token',
    randomBytes(16).toString('hex'),
  ];
  if (store.kind !== 'memory') flags.push('--store', store.url, '--redis-prefix', store.prefix);
  if (options.mode !== 'best-effort') flags.push('--mode', options.mode);
  const target = await startStadium(
    flags,
    `stadium serve --role dispatcher (${store.kind}, ${options.mode})`,
  );
  const redisCpu = async (): Promise<number | null> => {
    if (store.kind === 'redis-cluster') {
      const seconds = await Promise.all(
        store.ports.map((port) => redisCpuSeconds(`redis://127.0.0.1:${port}`)),
      );
      return seconds.reduce((sum, s) => sum + s, 0);
    }
    return store.kind === 'redis' && store.private ? redisCpuSeconds(store.url) : null;
  };
  const publisher = forkBench('publisher.ts', 'publisher (dispatcher)');
  try {
    const started = await publisher.request<{ error?: string }>({
      type: 'start',
      url: target.url,
      topic: 'bench-dispatcher',
      ratePerSecond: 0,
      connections: options.concurrency,
      batch: options.batch,
    });
    if (started.error !== undefined) throw new Error(`publisher: ${started.error}`);
    await sleep(options.warmupMs);
    const cpuBefore = cpuMs(target.process.pid);
    const redisBefore = await redisCpu();
    const windowStarted = Date.now();
    await publisher.request({ type: 'reset' });
    await sleep(options.windowMs);
    const report = await publisher.request<PublisherReport>({ type: 'report' });
    const cpuAfter = cpuMs(target.process.pid);
    const redisAfter = await redisCpu();
    return {
      store: store.kind,
      mode: options.mode,
      concurrency: options.concurrency,
      batch: options.batch,
      publishesPerSecond: report.elapsedMs > 0 ? Math.round((report.ok / report.elapsedMs) * 1000) : 0,
      failures: report.failed,
      firstError: report.firstError,
      latency: summarize(merge(createHistogram(), report.histogram)),
      serverCpuPercent:
        cpuBefore === null || cpuAfter === null
          ? null
          : Math.round(((cpuAfter - cpuBefore) / (Date.now() - windowStarted)) * 100),
      redisCpuUsPerPublish:
        redisBefore === null || redisAfter === null || report.ok === 0
          ? null
          : Math.round(((redisAfter - redisBefore) * 1e6 * 100) / report.ok) / 100,
      windowMs: report.elapsedMs,
    };
  } finally {
    try {
      await publisher.request({ type: 'stop' }, 15_000);
    } catch {
      // stopped below either way
    }
    await publisher.stop(2_000);
    await target.process.stop();
  }
}
