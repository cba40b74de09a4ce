/**
 * A property run on worker threads, one per core by default. The run's indexes are cut into
 * chunks, handed out in index order to whichever worker is free; each worker judges its chunk with
 * `checkRange` and sends back the chunk's counts. Once a chunk fails at index f, no chunk after f
 * is handed out, and a worker busy past f is stopped: the run's outcome needs every index up to f
 * and none after. The chunks are then combined in index order, and the failure is shrunk here, in
 * the main thread: the verdict, the counts and the counterexample are those of a run in one thread.
 *
 * Workers run TypeScript through tsx as the `stadium` command does: each registers tsx's loader
 * before it imports check-worker.ts. A planted bug crosses to them by name (roles are functions).
 */
import { Worker } from 'node:worker_threads';
import { combineRanges, type RangeResult } from './check-range.ts';
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

/** Chunks per worker: small enough to balance the load, large enough that skipping to one is cheap. */
const chunksPerWorker = 20;

/** Check the properties on `workers` threads; with 1 (or a path to replay) in this thread. */
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
  const chunk = Math.max(1, Math.ceil((to - from) / (options.workers * chunksPerWorker)));
  const workers = Math.max(1, Math.min(options.workers, Math.ceil((to - from) / chunk)));
  const parts = await judgeOnWorkers(context, { from, to }, chunk, workers, onScenario);
  const range = combineRanges(context.marks, from, to, parts);
  return finishRun(context, options, range, { started, workers, onCandidate: () => onScenario(0) });
}

function judgeOnWorkers(
  context: RunContext,
  range: { from: number; to: number },
  chunk: number,
  count: number,
  onScenario: (faultsStarted: number) => void,
): Promise<RangeResult[]> {
  return new Promise((resolve, reject) => {
    const parts: RangeResult[] = [];
    const busy = new Map<Worker, ChunkRequest>();
    let next = range.from;
    let firstFailure = Infinity;
    let settled = false;
    const fail = (error: unknown): void => {
      if (settled) return;
      settled = true;
      for (const worker of busy.keys()) void worker.terminate();
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    const finishIfIdle = (): void => {
      if (!settled && busy.size === 0) {
        settled = true;
        resolve(parts);
      }
    };
    const handOut = (worker: Worker): void => {
      if (next >= range.to || next > firstFailure) {
        busy.delete(worker);
        void worker.terminate();
        return finishIfIdle();
      }
      const request = { from: next, to: Math.min(range.to, next + chunk) };
      next = request.to;
      busy.set(worker, request);
      worker.postMessage(request);
    };
    for (let i = 0; i < count; i++) {
      const worker = startWorker(context);
      worker.on('message', (report: WorkerReport) => {
        // A worker stopped past the failure may have spoken before it stopped: it is not heard.
        if (!busy.has(worker)) return;
        if (report.kind === 'scenario') return onScenario(report.faultsStarted);
        parts.push(report.result);
        if (report.result.failure !== null) {
          firstFailure = Math.min(firstFailure, report.result.failure.index);
          // A chunk that started past the failure cannot change the outcome: stop its worker.
          for (const [other, request] of busy)
            if (request.from > firstFailure) {
              busy.delete(other);
              void other.terminate();
            }
        }
        handOut(worker);
      });
      worker.on('error', fail);
      worker.on('exit', (code) => {
        if (busy.has(worker)) fail(new Error(`a check worker stopped with exit code ${code}`));
      });
      handOut(worker);
    }
  });
}

const workerModule = new URL('./check-worker.ts', import.meta.url).href;

function startWorker(context: RunContext): Worker {
  // The worker's first module is plain JavaScript: it registers tsx, then imports the TypeScript.
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerModule)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: context });
}
