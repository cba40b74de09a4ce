/**
 * How fast replay opens a large trace and how much memory its index keeps. Not a test: numbers
 * depend on the machine. Run it with
 *
 *   npx tsx cli/replay/index-benchmark.ts                 # simulates a trace of about 1,000,000 lines
 *   npx tsx cli/replay/index-benchmark.ts TRACE.jsonl     # or measures an existing trace
 *   node --expose-gc --import tsx cli/replay/index-benchmark.ts --compare   # settled heap, and the
 *                                                         # heap all parsed records would take
 *
 * It reports the wall and CPU time to index (the pass re-checks the trace with the sim's
 * checkers), the resident set size (and its peak) and heap before and after, what the index holds
 * (checkpoints, structural entries, events) and what the checkers held per event at the end, and
 * the time of typical views: the window at random times (scrubbing), a step, and following one
 * event.
 *
 * The generated trace is the flagship scenario (live-video, seed 1) run for 225 s instead of 30:
 * its faults in the first half minute, then steady fan-out to 10,000 viewers, about 1,230,000
 * lines. Simulating it takes a minute or two; it is kept in .stadium/ for the next run.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { loadScenario, parseScenario, parseTraceLine, runScenario } from '../../sim/index.ts';
import { TraceIndex } from './trace-index.ts';

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

function generate(path: string): void {
  const flagship = loadScenario('live-video');
  const scenario = parseScenario(
    { ...flagship, name: 'live-video-225s', durationMs: 225_000 },
    'the benchmark scenario',
  );
  const started = performance.now();
  const report = runScenario(scenario, '1', { tracePath: path });
  console.log(
    `simulated ${path}: ${report.traceLines} lines, ${mb(statSync(path).size)} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}

/** The event published nearest the middle of the run: one with a full path to follow. */
function middleEvent(index: TraceIndex): string {
  const { after } = index.window(index.endT / 2, 0, 1000);
  const publish = after.find((entry) => entry.record.k === 'publish')?.record;
  if (publish?.k !== 'publish') throw new Error('no publish in the middle of the trace');
  return publish.e;
}

function main(): void {
  const args = process.argv.slice(2);
  const compare = args.includes('--compare');
  const given = args.find((arg) => !arg.startsWith('--'));
  const path = given ?? '.stadium/bench-live-video-225s.jsonl';
  if (!given && !existsSync(path)) generate(path);
  global.gc?.();
  const before = process.memoryUsage();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const index = new TraceIndex(path);
  const openMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  global.gc?.();
  const after = process.memoryUsage();
  console.log(
    `opened ${index.lines} lines (${mb(index.sizeBytes)}) in ${(openMs / 1000).toFixed(2)} s ` +
      `(CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s); ` +
      `RSS ${mb(before.rss)} -> ${mb(after.rss)} (peak ${mb(process.resourceUsage().maxRSS * 1024)}), ` +
      `heap used ${mb(before.heapUsed)} -> ${mb(after.heapUsed)}` +
      `${global.gc ? '' : ' (run with node --expose-gc for settled heap numbers)'}`,
  );
  console.log('index holds', index.held(), `typed arrays ~${mb(index.heldBytes())}`, '(no parsed records)');
  console.log('the checkers held at the end (each event whole only for its retention)', index.checkersHeld());
  // Deterministic "random" positions, so two runs measure the same views.
  let seed = 7;
  const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const positions = Array.from({ length: 50 }, () => Math.floor(next() * index.endT));
  let windowStarted = performance.now();
  for (const t of positions) index.window(t, 20, 5);
  console.log(
    `window (20 before, 5 after) at 50 random times: ${((performance.now() - windowStarted) / 50).toFixed(1)} ms each`,
  );
  windowStarted = performance.now();
  for (const t of positions.slice(0, 20)) index.nextTime(t);
  console.log(`step to the next time: ${((performance.now() - windowStarted) / 20).toFixed(1)} ms each`);
  const middle = index.stateAt(index.endT / 2);
  void middle;
  const e = middleEvent(index);
  windowStarted = performance.now();
  const followed = index.follow(e);
  console.log(
    `follow ${e}: ${followed.steps.length} steps in ${(performance.now() - windowStarted).toFixed(1)} ms`,
  );
  const end = process.memoryUsage();
  console.log(`after scrubbing: RSS ${mb(end.rss)}, heap used ${mb(end.heapUsed)}`);
  if (compare) {
    // What holding every parsed record would cost, for comparison with the index.
    global.gc?.();
    const base = process.memoryUsage().heapUsed;
    const records = readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => parseTraceLine(line));
    global.gc?.();
    console.log(
      `for comparison, ${records.length} parsed records hold ${mb(process.memoryUsage().heapUsed - base)} of heap`,
    );
  }
}

main();
