/**
 * A property run on several threads, one per core by default: this one and `workers - 1` worker
 * threads. The run's indexes are cut into chunks, handed out in index order to whichever thread is
 * free; each judges its chunk with `checkRange`, and a worker sends back the chunk's counts. Once a
 * chunk fails at index f, no chunk after f is handed out, and a worker busy past f is stopped: the
 * run's outcome needs every index up to f and none after. The chunks are then combined in index
 * order, and the failure is shrunk here: the verdict, the counts and the counterexample are those
 * of a run in one thread.
 *
 * This thread judges chunks too, between which it hears the workers: a worker costs its own module
 * loading and JIT warm-up, so on two cores this thread and one worker beat two workers.
 *
 * Workers run what this thread runs: the compiled check-worker.js in an installed package, or, from
 * the sources, TypeScript through tsx as the `stadium` command does (each registers tsx's loader
 * before it imports check-worker.ts). A planted bug crosses to them by name (roles are functions).
 */
import { Worker } from 'node:worker_threads';
import { checkRange, combineRanges, type RangeResult } from './check-range.ts';
import {
  checkProperties,
  contextOf,
  finishRun,
  rangeOf,
  type CheckOptions,
  type CheckResult,
} from './check.ts';
import type { RunContext } from './scenario-check.ts';

/** What a worker is sent: a chunk to judge. */
export interface ChunkRequest {
  from: number;
  to: number;
}

/** What a worker sends back: a scenario judged (for progress), or its chunk's result. */
export type WorkerReport =
  { kind: 'scenario'; faultsStarted: number } | { kind: 'chunk'; result: RangeResult };

/** Chunks per thread: small enough to balance the load, large enough that skipping to one is cheap. */
const chunksPerThread = 20;

/**
 * Check the properties on `workers` threads, this one included (so `workers - 1` worker threads);
 * with 1, or a path to replay, in this thread only.
 */
export async function checkPropertiesInParallel(
  options: CheckOptions & { workers: number },
): Promise<CheckResult> {
  if (options.workers <= 1 || options.path !== undefined) return checkProperties(options);
  const started = performance.now();
  const context = contextOf(options);
  const { from, to } = rangeOf(options);
  let done = 0;
  let faults = 0;
  const onScenario = (faultsStarted: number): void => {
    faults += faultsStarted;
    options.onProgress?.(++done, faults);
  };
  const chunk = Math.max(1, Math.ceil((to - from) / (options.workers * chunksPerThread)));
  const workers = Math.max(1, Math.min(options.workers, Math.ceil((to - from) / chunk)));
  const parts = await judgeInChunks(context, { from, to }, chunk, workers, onScenario);
  const range = combineRanges(context.marks, from, to, parts);
  return finishRun(context, options, range, { started, workers, onCandidate: () => onScenario(0) });
}

/** The chunks of `range`, judged by this thread and `threads - 1` workers, up to the first failure. */
async function judgeInChunks(
  context: RunContext,
  range: { from: number; to: number },
  chunk: number,
  threads: number,
  onScenario: (faultsStarted: number) => void,
): Promise<RangeResult[]> {
  const parts: RangeResult[] = [];
  const busy = new Map<Worker, ChunkRequest>();
  let next = range.from;
  let firstFailure = Infinity;
  let failed: Error | null = null;
  let allIdle: (() => void) | null = null;
  /** The next chunk to judge, or null once the range is handed out up to its first failure. */
  const take = (): ChunkRequest | null => {
    if (failed !== null || next >= range.to || next > firstFailure) return null;
    const request = { from: next, to: Math.min(range.to, next + chunk) };
    next = request.to;
    return request;
  };
  const stop = (worker: Worker): void => {
    busy.delete(worker);
    void worker.terminate();
    if (busy.size === 0) allIdle?.();
  };
  const judged = (result: RangeResult): void => {
    parts.push(result);
    if (result.failure === null) return;
    firstFailure = Math.min(firstFailure, result.failure.index);
    // A chunk that started past the failure cannot change the outcome: stop its worker.
    for (const [worker, request] of busy) if (request.from > firstFailure) stop(worker);
  };
  const handOut = (worker: Worker): void => {
    const request = take();
    if (request === null) return stop(worker);
    busy.set(worker, request);
    worker.postMessage(request);
  };
  const fail = (error: unknown): void => {
    failed ??= error instanceof Error ? error : new Error(String(error));
    for (const worker of [...busy.keys()]) stop(worker);
  };
  for (let i = 1; i < threads; i++) {
    const worker = startWorker(context);
    worker.on('message', (report: WorkerReport) => {
      // A worker stopped past the failure may have spoken before it stopped: it is not heard.
      if (!busy.has(worker)) return;
      if (report.kind === 'scenario') return onScenario(report.faultsStarted);
      judged(report.result);
      handOut(worker);
    });
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (busy.has(worker)) fail(new Error(`a check worker stopped with exit code ${code}`));
    });
    handOut(worker);
  }
  // This thread's share: a chunk at a time, hearing the workers in between.
  for (;;) {
    await new Promise((resolve) => setImmediate(resolve));
    const request = take();
    if (request === null) break;
    judged(checkRange(context, request.from, request.to, onScenario));
  }
  if (busy.size > 0) await new Promise<void>((resolve) => (allIdle = resolve));
  if (failed !== null) throw failed;
  return parts;
}

// From the sources this module is check-workers.ts, compiled (dist/) it is check-workers.js; the
// worker is its sibling either way.
const compiled = !import.meta.url.endsWith('.ts');
const workerModule = new URL(compiled ? './check-worker.js' : './check-worker.ts', import.meta.url);

function startWorker(context: RunContext): Worker {
  if (compiled) return new Worker(workerModule, { workerData: context });
  // The worker's first module is plain JavaScript: it registers tsx, then imports the TypeScript.
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerModule.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: context });
}
