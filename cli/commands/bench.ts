/**
 * `stadium bench`: run the benchmarks, print a table, record the results as JSON in bench/results/
 * and draw its charts (SVG) beside them.
 * Progress goes to stderr, so `--json` leaves stdout to the results object alone.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { compiled } from '../package-root.ts';
import { UsageError } from '../usage-error.ts';

interface BenchFlags {
  quick?: boolean;
  json?: boolean;
  markdown?: boolean;
  scenario: string;
  redis: string;
  from?: string;
  charts?: boolean;
}

export function register(program: Command): void {
  program
    .command('bench')
    .description(
      'Measure the simulator, production fan-out (SSE and WebSocket, embedded store and Redis, best-effort and ' +
        'reliable), memory per connection and dispatcher throughput, beside bare uWebSockets.js and Socket.IO; ' +
        'record the results and draw their charts.',
    )
    .option('--quick', 'a reduced set in about two minutes, for a smoke check')
    .option('--json', 'print the results object alone on stdout')
    .option('--markdown', 'print the markdown summary (the README Performance tables) instead of the table')
    .option('--scenario <name>', 'the scenario for the simulator measurement (full run)', 'live-video')
    .option(
      '--redis <url>',
      'Redis for the Redis measurements; keys go under a per-run prefix and are deleted',
      'redis://127.0.0.1:6379/14',
    )
    .option('--from <file>', 'print a recorded results file instead of measuring')
    .option('--charts', "with --from: (re)draw that file's SVG charts beside it")
    .addHelpText(
      'after',
      `
Every server and load client runs in its own process over 127.0.0.1; all are stopped at the end.
The full run takes about 17 minutes and wants an otherwise idle machine; the dispatcher cases
start a private redis-server (when one is installed) to read Redis' CPU per publish. Results are
written to bench/results/<date>.json with the machine's description, and beside it SVG charts of
the fan-out sweep (<date>-fanout-<connections>-deliveries.svg and -p99.svg: deliveries/s and p99
against the asked publish rate). A full run also replaces bench/results/latest.json and
latest-*.svg (the committed ones), --quick does not.

Examples:
  npm run bench                                      the full run
  npm run -s bench -- --quick --json                 a smoke check, one JSON object on stdout
  stadium bench --from bench/results/latest.json --markdown
  stadium bench --from bench/results/latest.json --charts   redraw the committed charts
  stadium bench --redis redis://127.0.0.1:6380/3`,
    )
    .action(async (flags: BenchFlags) => {
      if (!/^redis:\/\/[^/]+(\/\d+)?$/.test(flags.redis))
        throw new UsageError(`--redis must look like redis://HOST:PORT[/DB], got "${flags.redis}"`);
      if (flags.charts === true && flags.from === undefined)
        throw new UsageError("--charts redraws a recorded file's charts: give it with --from <file>");
      if (flags.from === undefined) benchDependenciesPresent();
      const bench = await import('../../bench/index.ts');
      const progress = (line: string): void => {
        process.stderr.write(`${line}\n`);
      };
      /** Draw the charts beside `dir`/`stems`; a run with nothing to chart says why and goes on. */
      const drawCharts = (
        dir: string,
        stems: string[],
        drawn: Parameters<typeof bench.fanoutCharts>[0],
      ): void => {
        let charts;
        try {
          charts = [...bench.fanoutCharts(drawn), ...bench.occupancyCharts(drawn)];
        } catch (error) {
          if (!(error instanceof bench.ChartError)) throw error;
          progress(`charts: not drawn: ${error.message}`);
          return;
        }
        for (const stem of stems) progress(`charts: ${bench.writeCharts(dir, stem, charts).join(', ')}`);
      };
      let results;
      if (flags.from !== undefined) {
        try {
          results = JSON.parse(readFileSync(flags.from, 'utf8')) as Awaited<
            ReturnType<typeof bench.runBench>
          >;
        } catch (error) {
          throw new UsageError(`cannot read results from ${flags.from}: ${String(error)}`);
        }
        if (flags.charts === true) drawCharts(dirname(flags.from), [basename(flags.from, '.json')], results);
      } else {
        // Ctrl-C or a kill: stop every server and load client first (the `stadium serve` children
        // have no IPC channel to notice that this process went away).
        const interrupted = (signal: NodeJS.Signals): void => {
          bench.killAll();
          process.stderr.write(`stadium bench: ${signal}, stopped every child process\n`);
          process.exit(130);
        };
        process.once('SIGINT', interrupted);
        process.once('SIGTERM', interrupted);
        results = await bench.runBench({
          quick: flags.quick === true,
          scenario: flags.scenario,
          redisUrl: flags.redis,
          progress,
          command: `stadium bench${flags.quick === true ? ' --quick' : ''}`,
        });
        const dir = join(bench.repoRoot, 'bench', 'results');
        mkdirSync(dir, { recursive: true });
        const text = `${JSON.stringify(results, null, 2)}\n`;
        const stem = `${results.date.replace(/[:.]/g, '-')}${results.quick ? '-quick' : ''}`;
        const file = join(dir, `${stem}.json`);
        writeFileSync(file, text);
        if (!results.quick) writeFileSync(join(dir, 'latest.json'), text);
        progress(`results: ${file}${results.quick ? '' : ' and bench/results/latest.json'}`);
        drawCharts(dir, results.quick ? [stem] : [stem, 'latest'], results);
        if (bench.liveChildren() > 0)
          progress(`warning: ${bench.liveChildren()} child process(es) still running`);
        if (results.errors.length > 0) process.exitCode = 1;
      }
      const lines =
        flags.json === true
          ? [JSON.stringify(results)]
          : flags.markdown === true
            ? bench.formatMarkdown(results)
            : bench.formatResults(results);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

/**
 * The packages a measuring run needs beyond the package's own: its child processes run bench/'s
 * TypeScript through tsx, and the Socket.IO comparison needs Socket.IO. They are development
 * dependencies, so an installed package (or a checkout installed with --omit=dev) lacks them; say
 * which, and how to get them, instead of failing halfway through a run.
 */
const benchPackages = ['tsx', 'socket.io', 'socket.io-client', '@socket.io/redis-adapter'] as const;

function benchDependenciesPresent(): void {
  const missing = benchPackages.filter((name) => {
    try {
      import.meta.resolve(name);
      return false;
    } catch {
      return true;
    }
  });
  if (compiled) {
    throw new UsageError(
      'stadium bench measures from a checkout of Stadium (its child processes run the TypeScript ' +
        `sources), with its development dependencies${missing.length > 0 ? ` (missing here: ${missing.join(', ')})` : ''}: ` +
        'clone the repository, run `npm install`, then `npm run bench`. ' +
        '(`stadium bench --from FILE` prints a recorded run anywhere.)',
      'missing-dependency',
    );
  }
  if (missing.length > 0) {
    throw new UsageError(
      `stadium bench needs development dependencies that are not installed: ${missing.join(', ')}; ` +
        'run `npm install` (without --omit=dev).',
      'missing-dependency',
    );
  }
}
