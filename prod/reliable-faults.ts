/**
 * The reliable fault measurements' command line (prod/reliable-faults-run.ts says what one measures):
 *
 *   node --import tsx prod/reliable-faults.ts --fault dispatcher-kill|frontend-kill|frontend-freeze|redis-restart|dc-restart|all [--json]
 *
 * starts one deployment (2 datacenters, each its own redis-server, 2 dispatchers and 2 frontends),
 * runs the faults asked one after another on it, and prints a table per fault, or one JSON object
 * per fault with `--json`. Exit codes: 0 every fault passed, 1 one failed (or could not run), 2 bad input.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { deliveryModes } from '../core/index.ts';
import type { DeliveryMode } from '../core/index.ts';
import type { LogLevel } from './config.ts';
import { deploymentDefaults, startDeployment } from './reliable-deployment.ts';
import type { DeploymentOptions } from './reliable-deployment.ts';
import { formatFaultRun } from './reliable-faults-format.ts';
import { reliableFaults } from './reliable-faults-inject.ts';
import type { ReliableFault } from './reliable-faults-inject.ts';
import { faultRunDefaults, runFault, viewerFactoryOf } from './reliable-faults-run.ts';
import type { FaultRunOptions } from './reliable-faults-run.ts';

const logLevels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

const usage = `Usage: node --import tsx prod/reliable-faults.ts --fault F|all [options]

Runs real faults against a reliable-mode deployment of real processes (2 datacenters, each its own
redis-server, 2 dispatchers and 2 frontends; viewers on every frontend of both), publishing
steadily, and counts per viewer: acknowledged publishes never received that no gap notice
explains (lost), duplicates, order inversions and seqs skipped without a notice (holes).

Options:
  --fault F          ${reliableFaults.join(' | ')} | all (required),
                     or none: a control run without a fault
  --lease-ms MS      frontend lease (default 1500)
  --viewer V         client (the client library, default) | wire (a viewer of the raw wire contract)
  --mode M           reliable | best-effort (default reliable)
  --publish-every-ms MS  one publish this often (default 50)
  --down-ms MS       how long a killed process or datacenter stays down (default 2000)
  --log-level L      the servers' log level (default warn)
  --log-file PATH    write the servers' logs there
  --json             one JSON object per fault on stdout`;

export class ReliableFaultsUsageError extends Error {
  override name = 'ReliableFaultsUsageError';
}

export interface ReliableFaultsCli {
  faults: ReliableFault[];
  deployment: DeploymentOptions;
  run: FaultRunOptions;
  logFile: string | null;
  json: boolean;
}

export function parseReliableFaultsArgs(argv: string[]): ReliableFaultsCli | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        fault: { type: 'string' },
        'lease-ms': { type: 'string' },
        mode: { type: 'string' },
        viewer: { type: 'string' },
        'publish-every-ms': { type: 'string' },
        'down-ms': { type: 'string' },
        'log-level': { type: 'string' },
        'log-file': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }).values;
  } catch (error) {
    throw new ReliableFaultsUsageError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.help === true) return 'help';
  const faults: ReliableFault[] =
    parsed.fault === 'all'
      ? [...reliableFaults]
      : parsed.fault === 'none'
        ? ['none']
        : reliableFaults.filter((f) => f === parsed.fault);
  if (faults.length === 0) {
    throw new ReliableFaultsUsageError(
      `--fault must be one of ${reliableFaults.join(', ')}, all, none; got ${parsed.fault === undefined ? 'nothing' : `"${parsed.fault}"`}`,
    );
  }
  const deployment = deploymentDefaults();
  const leaseText = parsed['lease-ms'];
  if (leaseText !== undefined) {
    const lease = Number(leaseText);
    if (!/^\d+$/.test(leaseText) || lease < 300 || lease > 60_000)
      throw new ReliableFaultsUsageError(
        `--lease-ms must be an integer from 300 to 60000, got "${leaseText}"`,
      );
    deployment.leaseMs = lease;
  }
  if (parsed.mode !== undefined) {
    const mode = deliveryModes.find((m) => m === parsed.mode);
    if (mode === undefined)
      throw new ReliableFaultsUsageError(
        `--mode must be one of ${deliveryModes.join(', ')}, got "${parsed.mode}"`,
      );
    deployment.mode = mode satisfies DeliveryMode;
  }
  if (parsed['log-level'] !== undefined) {
    const level = logLevels.find((l) => l === parsed['log-level']);
    if (level === undefined)
      throw new ReliableFaultsUsageError(
        `--log-level must be one of ${logLevels.join(', ')}, got "${parsed['log-level']}"`,
      );
    deployment.logLevel = level satisfies LogLevel;
  }
  const run = faultRunDefaults(deployment.leaseMs);
  run.viewerFactory = viewerFactoryOf(parsed.viewer, (m) => new ReliableFaultsUsageError(m));
  const everyText = parsed['publish-every-ms'];
  if (everyText !== undefined) {
    const every = Number(everyText);
    if (!/^\d+$/.test(everyText) || every < 1 || every > 10_000)
      throw new ReliableFaultsUsageError(
        `--publish-every-ms must be an integer from 1 to 10000, got "${everyText}"`,
      );
    run.publishEveryMs = every;
  }
  const downText = parsed['down-ms'];
  if (downText !== undefined) {
    const down = Number(downText);
    if (!/^\d+$/.test(downText) || down > 600_000)
      throw new ReliableFaultsUsageError(`--down-ms must be an integer from 0 to 600000, got "${downText}"`);
    run.timing.downMs = down;
  }
  return {
    faults,
    deployment,
    run,
    logFile: parsed['log-file'] ?? null,
    json: parsed.json === true,
  };
}

export async function main(argv: string[]): Promise<number> {
  let cli: ReliableFaultsCli | 'help';
  try {
    cli = parseReliableFaultsArgs(argv);
  } catch (error) {
    if (!(error instanceof ReliableFaultsUsageError)) throw error;
    process.stderr.write(`reliable-faults: ${error.message}\n\n${usage}\n`);
    return 2;
  }
  if (cli === 'help') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const logFile = cli.logFile;
  if (logFile !== null) {
    writeFileSync(logFile, '');
    cli.deployment.logSink = (line) => appendFileSync(logFile, `${line}\n`);
  }
  let failed = false;
  let deployment;
  try {
    deployment = await startDeployment(cli.deployment);
  } catch (error) {
    process.stderr.write(`reliable-faults: could not start the deployment: ${messageOf(error)}\n`);
    return 1;
  }
  try {
    for (const fault of cli.faults) {
      try {
        const result = await runFault(deployment, fault, cli.run);
        failed ||= !result.check.ok;
        process.stdout.write(cli.json ? `${JSON.stringify(result)}\n` : `${formatFaultRun(result)}\n\n`);
      } catch (error) {
        failed = true;
        process.stderr.write(`reliable-faults: ${fault} could not run: ${messageOf(error)}\n`);
      }
    }
  } finally {
    await deployment.stop();
  }
  return failed ? 1 : 0;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
