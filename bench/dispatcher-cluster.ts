/**
 * Dispatcher throughput with a Redis Cluster store against one Redis, alone (not part of
 * `stadium bench`, which measures one Redis): one `stadium serve --role dispatcher` each time, its
 * store first a private `redis-server`, then a private 3-master Redis Cluster
 * (prod/redis-cluster-process.ts), both started here and stopped after; the same publisher and
 * shapes as bench/dispatcher.ts. Redis CPU per publish is the sum over the cluster's masters.
 *
 *   npx tsx bench/dispatcher-cluster.ts [--window-ms 5000] [--warmup-ms 1000] [--modes best-effort,reliable]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { freePorts, startRedisCluster, startRedisServer } from '../prod/index.ts';
import { benchDispatcher } from './dispatcher.ts';
import type { DispatcherCase, DispatcherStore } from './dispatcher.ts';
import type { DeliveryMode } from './fanout.ts';

const { values } = parseArgs({
  options: {
    'window-ms': { type: 'string', default: '5000' },
    'warmup-ms': { type: 'string', default: '1000' },
    modes: { type: 'string', default: 'best-effort,reliable' },
  },
});
const windowMs = Number(values['window-ms']);
const warmupMs = Number(values['warmup-ms']);
const modes = values.modes.split(',') as DeliveryMode[];
if (!(windowMs > 0) || !(warmupMs >= 0) || modes.some((m) => m !== 'best-effort' && m !== 'reliable')) {
  process.stderr.write(
    'usage: bench/dispatcher-cluster.ts [--window-ms N] [--warmup-ms N] [--modes best-effort,reliable]\n',
  );
  process.exit(2);
}
const shapes = [
  { concurrency: 32, batch: 1 },
  { concurrency: 16, batch: 16 },
];

const [port] = await freePorts('127.0.0.1', 16_400, 1);
const single = await startRedisServer(port!);
const cluster = await startRedisCluster();
const rows: DispatcherCase[] = [];
try {
  const stores: DispatcherStore[] = [
    { kind: 'redis', url: single.url, prefix: 'bench-single:', private: true },
    { kind: 'redis-cluster', url: cluster.url, prefix: 'bench-cluster:', ports: cluster.ports },
  ];
  process.stderr.write(
    `load average before: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  for (const mode of modes) {
    for (const shape of shapes) {
      for (const store of stores) {
        const row = await benchDispatcher(store, { mode, ...shape, warmupMs, windowMs });
        rows.push(row);
        process.stderr.write(
          `${row.store.padEnd(13)} ${mode.padEnd(11)} c${shape.concurrency} b${shape.batch}: ` +
            `${row.publishesPerSecond.toLocaleString('en-US')} publishes/s, p99 ${row.latency.p99Ms} ms, ` +
            `dispatcher CPU ${row.serverCpuPercent ?? '?'}%, Redis ${row.redisCpuUsPerPublish ?? '?'} µs/publish, ` +
            `${row.failures} failed${row.firstError === null ? '' : ` (${row.firstError})`}\n`,
        );
      }
    }
  }
  process.stderr.write(
    `load average after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
} finally {
  await cluster.stop();
  await single.stop();
}
