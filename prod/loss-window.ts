/**
 * The loss-window measurement's command line (prod/loss-window-measure.ts says what it measures):
 *
 *   node --import tsx prod/loss-window.ts --fault redis|freeze [--runs N] ...
 *
 * prints a table per run (`--help` lists the options), or one JSON object per run with `--json`.
 * Exit codes: 0 every run finished, 1 a run failed, 2 bad input.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { LogLevel } from './config.ts';
import { lossFaults } from './loss-window-fault.ts';
import { formatLossWindow } from './loss-window-format.ts';
import { lossWindowDefaults, measureLossWindow } from './loss-window-measure.ts';
import type { LossWindowOptions, LossWindowResult } from './loss-window-measure.ts';

const usage = `Usage: node --import tsx prod/loss-window.ts --fault redis|freeze [options]

Measures how many publishes answered 200 never reach viewers that stayed connected, around a
fault: a private redis-server killed and restarted empty (redis), or one frontend stopped past
its lease and resumed (freeze). Starts its own redis-server and stadium serve processes.

Options:
  --fault F             redis | freeze (required)
  --lease-ms MS         frontend lease (default 1500)
  --seconds S           seconds of publishing after the fault heals (default 6)
  --runs N              runs, one after another (default 1)
  --gap-ms MS           redis: how long Redis stays dead (default 300)
  --freeze-ms MS        freeze: how long the frontend stays stopped (default 2.5 x lease)
  --publish-every-ms MS one publish this often (default 5)
  --log-level L         the servers' log level (default info)
  --log-file PATH       write the servers' logs there (every run, each under '# run N')
  --json                one JSON object per run on stdout (publish records included)`;

export class LossWindowUsageError extends Error {
  override name = 'LossWindowUsageError';
}

export interface LossWindowCli {
  options: LossWindowOptions;
  runs: number;
  logFile: string | null;
  json: boolean;
}

export function parseLossWindowArgs(argv: string[]): LossWindowCli | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        fault: { type: 'string' },
        'lease-ms': { type: 'string' },
        seconds: { type: 'string' },
        runs: { type: 'string' },
        'gap-ms': { type: 'string' },
        'freeze-ms': { type: 'string' },
        'publish-every-ms': { type: 'string' },
        'log-level': { type: 'string' },
        'log-file': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }).values;
  } catch (error) {
    throw new LossWindowUsageError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.help === true) return 'help';
  const fault = lossFaults.find((f) => f === parsed.fault);
  if (fault === undefined) {
    throw new LossWindowUsageError(
      `--fault must be one of ${lossFaults.join(', ')}, got ${parsed.fault === undefined ? 'nothing' : `"${parsed.fault}"`}`,
    );
  }
  const integer = (
    name: string,
    text: string | undefined,
    fallback: number,
    min: number,
    max: number,
  ): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) {
      throw new LossWindowUsageError(`--${name} must be an integer from ${min} to ${max}, got "${text}"`);
    }
    return value;
  };
  const leaseMs = integer('lease-ms', parsed['lease-ms'], 1_500, 300, 60_000);
  const options = lossWindowDefaults(fault, leaseMs);
  options.afterHealMs = integer('seconds', parsed.seconds, 6, 1, 120) * 1000;
  options.redisGapMs = integer('gap-ms', parsed['gap-ms'], options.redisGapMs, 0, 60_000);
  options.freezeMs = integer('freeze-ms', parsed['freeze-ms'], options.freezeMs, 1, 300_000);
  options.publishEveryMs = integer('publish-every-ms', parsed['publish-every-ms'], 5, 1, 10_000);
  const levels: LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
  const logLevel = levels.find((level) => level === (parsed['log-level'] ?? 'info'));
  if (logLevel === undefined)
    throw new LossWindowUsageError(`--log-level must be one of ${levels.join(', ')}`);
  options.logLevel = logLevel;
  return {
    options,
    runs: integer('runs', parsed.runs, 1, 1, 50),
    logFile: parsed['log-file'] ?? null,
    json: parsed.json === true,
  };
}

async function main(argv: string[]): Promise<number> {
  let cli: LossWindowCli | 'help';
  try {
    cli = parseLossWindowArgs(argv);
  } catch (error) {
    if (!(error instanceof LossWindowUsageError)) throw error;
    process.stderr.write(`loss-window: ${error.message}\n${usage}\n`);
    return 2;
  }
  if (cli === 'help') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (cli.logFile !== null) writeFileSync(cli.logFile, '');
  for (let run = 1; run <= cli.runs; run++) {
    const log: string[] = [`# run ${run}`];
    let result: LossWindowResult;
    try {
      result = await measureLossWindow({ ...cli.options, logSink: (line) => log.push(line) });
    } catch (error) {
      process.stderr.write(
        `loss-window: run ${run} failed: ${error instanceof Error ? error.message : String(error)}\n`,
      );
      return 1;
    } finally {
      if (cli.logFile !== null) appendFileSync(cli.logFile, `${log.join('\n')}\n`);
    }
    process.stdout.write(cli.json ? `${JSON.stringify(result)}\n` : `${formatLossWindow(run, result)}\n\n`);
  }
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
