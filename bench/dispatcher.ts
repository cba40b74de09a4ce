/**
 * Dispatcher throughput: one `stadium serve --role dispatcher` process, no frontends registered,
 * and a publisher process keeping many keep-alive POSTs in flight, each one event or a batch of
 * them. Each event of a batch is still its own publish: validated, stamped, looked up in the store
 * (a Redis round trip with Redis) and answered.
 */
import { randomBytes } from 'node:crypto';
import { createHistogram, merge, summarize } from './histogram.ts';
import type { LatencySummary } from './histogram.ts';
import { forkBench } from './processes.ts';
import type { PublisherReport } from './protocol.ts';
import { cpuMs, sleep, startStadium } from './servers.ts';

export interface DispatcherCase {
  store: 'memory' | 'redis';
  /** Requests in flight at once (one per keep-alive connection). */
  concurrency: number;
  /** Events per request (1: one publish per request; more: a batch publish). */
  batch: number;
  publishesPerSecond: number;
  failures: number;
  firstError: string | null;
  latency: LatencySummary;
  serverCpuPercent: number | null;
  windowMs: number;
}

export async function benchDispatcher(
  store: { kind: 'memory' } | { kind: 'redis'; url: string; prefix: string },
  options: { concurrency: number; batch: number; warmupMs: number; windowMs: number },
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
  if (store.kind === 'redis') flags.push('--store', store.url, '--redis-prefix', store.prefix);
  const target = await startStadium(flags, `stadium serve --role dispatcher (${store.kind})`);
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
    const windowStarted = Date.now();
    await publisher.request({ type: 'reset' });
    await sleep(options.windowMs);
    const report = await publisher.request<PublisherReport>({ type: 'report' });
    const cpuAfter = cpuMs(target.process.pid);
    return {
      store: store.kind,
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
