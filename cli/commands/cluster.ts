/** `stadium cluster`: a local multi-process, multi-datacenter deployment of `stadium serve` nodes. */
import type { Command } from 'commander';
import { deliveryModes } from '../../core/index.ts';
import { stadiumBin } from '../package-root.ts';
import { onStdoutClosed } from '../stdout-closed.ts';
import { UsageError } from '../usage-error.ts';

interface ClusterFlags {
  mode: string;
  dcs: string;
  frontends: string;
  dispatchers?: string;
  redis?: string;
  redisPrefix: string;
  basePort: string;
  host: string;
  leaseMs?: string;
  payloadLimit?: string;
  occupancyEveryMs?: string;
  logLevel: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('cluster')
    .description(
      'Start a local cluster: datacenters of dispatcher and frontend processes, and print the endpoints.',
    )
    .option('--mode <mode>', 'best-effort | reliable: the delivery mode of every process', 'best-effort')
    .option('--dcs <n>', 'datacenters (dc-a, dc-b, ...)', '2')
    .option('--frontends <n>', 'frontends per datacenter', '2')
    .option(
      '--dispatchers <n>',
      'dispatchers per datacenter (default: 2 with --redis, else 1; more needs --redis)',
    )
    .option(
      '--redis <url>',
      'redis://HOST:PORT[/DB] or redis-cluster://HOST:PORT,HOST:PORT: the subscription store, one key prefix per datacenter',
    )
    .option('--redis-prefix <p>', 'key prefix; each datacenter appends "<dc>:"', 'stadium:')
    .option('--base-port <n>', 'first port to use; busy ports are skipped', '7100')
    .option('--host <host>', 'address every node binds', '127.0.0.1')
    .option('--lease-ms <ms>', 'frontend lease length (how fast a dead frontend is forgotten)')
    .option('--payload-limit <bytes>', 'largest event payload accepted, in bytes of its JSON text')
    .option(
      '--occupancy-every-ms <ms>',
      'viewer counts: how often they are reported and sent (0: off; default 1000)',
    )
    .option('--log-level <level>', 'children log level: debug | info | warn | error | silent', 'info')
    .option('--json', 'print the endpoints as one JSON line on stdout once every node is ready')
    .addHelpText(
      'after',
      `
Without --redis each datacenter gets one dispatcher that embeds the memory store (dispatchers of a
datacenter must share one store). Children's logs go to stderr, each line prefixed with its node.
Ctrl-C (or SIGTERM) stops every process.

Examples:
  stadium cluster                                            2 datacenters, memory stores
  stadium cluster --dcs 2 --frontends 2 --dispatchers 2 --redis redis://127.0.0.1:6379
  stadium cluster --redis redis://127.0.0.1:6379 --lease-ms 1500 --json
  stadium cluster --mode reliable --dcs 2 --frontends 2      sequenced, acknowledged, resumable`,
    )
    .action(async (flags: ClusterFlags) => {
      const count = (name: string, text: string, min: number, max: number): number => {
        const value = Number(text);
        if (!/^\d+$/.test(text) || value < min || value > max) {
          throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
        }
        return value;
      };
      const dcs = count('dcs', flags.dcs, 1, 26);
      const frontends = count('frontends', flags.frontends, 1, 50);
      const redis = flags.redis ?? null;
      const dispatchers =
        flags.dispatchers === undefined
          ? redis === null
            ? 1
            : 2
          : count('dispatchers', flags.dispatchers, 1, 50);
      if (redis === null && dispatchers > 1) {
        throw new UsageError(
          '--dispatchers above 1 needs --redis: the dispatchers of a datacenter share its store',
        );
      }
      // The shapes only (prod/ is loaded below, once the flags are good); startCluster checks the rest.
      if (
        redis !== null &&
        !/^redis:\/\/[^/]+(\/\d{0,2})?$/.test(redis) &&
        !/^redis-cluster:\/\/([^@/]*@)?[^,/@]+:\d+(,[^,/@]+:\d+)*\/?$/.test(redis)
      ) {
        throw new UsageError(
          `--redis must look like redis://HOST:PORT[/DB] or redis-cluster://HOST:PORT,HOST:PORT, got "${redis}"`,
        );
      }
      const mode = deliveryModes.find((m) => m === flags.mode);
      if (mode === undefined) throw new UsageError(`--mode must be one of ${deliveryModes.join(', ')}`);
      const logLevels = ['debug', 'info', 'warn', 'error', 'silent'] as const;
      const logLevel = logLevels.find((level) => level === flags.logLevel);
      if (logLevel === undefined) throw new UsageError(`--log-level must be one of ${logLevels.join(', ')}`);
      const serveArgs: string[] = [];
      if (flags.payloadLimit !== undefined) {
        serveArgs.push(
          '--payload-limit',
          String(count('payload-limit', flags.payloadLimit, 1, 16 * 1024 * 1024)),
        );
      }
      const prod = await import('../../prod/index.ts');
      if (flags.occupancyEveryMs !== undefined) {
        const everyMs = count('occupancy-every-ms', flags.occupancyEveryMs, 0, prod.occupancyEveryMsMax);
        if (everyMs > 0 && everyMs < prod.occupancyEveryMsMin)
          throw new UsageError(
            `--occupancy-every-ms must be 0 (off) or from ${prod.occupancyEveryMsMin} to ${prod.occupancyEveryMsMax}, got ${everyMs}`,
          );
        serveArgs.push('--occupancy-every-ms', String(everyMs));
      }
      let cluster;
      try {
        cluster = await prod.startCluster({
          mode,
          dcs,
          frontends,
          dispatchers,
          redis,
          redisPrefix: flags.redisPrefix,
          host: flags.host,
          basePort: count('base-port', flags.basePort, 1, 65535),
          leaseMs: flags.leaseMs === undefined ? null : count('lease-ms', flags.leaseMs, 3, 600_000),
          logLevel,
          serveArgs,
          command: { file: process.execPath, args: [stadiumBin] },
          logSink: (line) => process.stderr.write(`${line}\n`),
          readyTimeoutMs: 30_000,
        });
      } catch (error) {
        if (error instanceof prod.ClusterError) throw new UsageError(error.message);
        throw error;
      }
      if (flags.json === true) {
        process.stdout.write(`${JSON.stringify({ dcs: cluster.dcs })}\n`);
      } else {
        const store =
          redis === null
            ? 'memory (one dispatcher per datacenter)'
            : `${redis}, prefix ${flags.redisPrefix}<dc>:`;
        process.stdout.write(
          `stadium cluster (${mode}): ${dcs} datacenters, ${dispatchers} dispatcher(s) and ${frontends} frontend(s) each; store ${store}\n` +
            `${prod.describeCluster(cluster.dcs)}\nCtrl-C stops every process.\n`,
        );
      }
      let stopping = false;
      const stop = (): void => {
        if (stopping) return;
        stopping = true;
        void cluster.stop().then(() => process.exit(0));
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
      onStdoutClosed(stop);
    });
}
