/** `stadium bench`: run the benchmarks, print a table, record the results as JSON in bench/results/. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('bench')
    .description('Measure the simulator (and, as they land, the production fan-out) and record the results.')
    .option('--quick', 'a reduced set for a smoke check')
    .option('--json', 'print the results object alone on stdout')
    .option('--scenario <name>', 'the scenario for the simulator measurement', 'live-video')
    .addHelpText(
      'after',
      `
Results are written to bench/results/<date>.json with the machine's description.

Examples:
  npm run bench
  npm run -s bench -- --quick --json`,
    )
    .action(async (options: { quick?: boolean; json?: boolean; scenario: string }) => {
      const bench = await import('../../bench/index.ts');
      const log = (line: string): void => {
        (options.json === true ? process.stderr : process.stdout).write(`${line}\n`);
      };
      log(`simulator: running ${options.scenario}…`);
      const simulator = bench.benchSimulator(options.quick === true ? 'fault-free' : options.scenario);
      const machine = {
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: cpus().length,
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        node: process.version,
      };
      const results = { date: new Date().toISOString(), machine, quick: options.quick === true, simulator };
      mkdirSync('bench/results', { recursive: true });
      const file = `bench/results/${results.date.replace(/[:.]/g, '-')}.json`;
      writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
      if (options.json === true) {
        process.stdout.write(`${JSON.stringify(results)}\n`);
        return;
      }
      const n = (x: number): string => x.toLocaleString('en-US');
      log('');
      log(
        `machine                      ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}`,
      );
      log(`simulator (${simulator.scenario}, seed ${simulator.seed})`);
      log(
        `  heap items / s             ${n(simulator.heapItemsPerSecond)} (${n(simulator.heapItems)} items in ${n(simulator.wallMs)} ms)`,
      );
      log(
        `  simulated events / s       ${n(simulator.simulatedEventsPerSecond)} (items + ${n(simulator.clientReceipts)} client receipts)`,
      );
      log(`  simulated s / wall s       ${simulator.simulatedSecondsPerWallSecond}`);
      log(`  bare heap loop items / s   ${n(simulator.bareHeapItemsPerSecond)} (ceiling)`);
      log(`  ratio to the bare heap     ${simulator.ratioToBareHeap}`);
      log(`results: ${file}`);
    });
}
