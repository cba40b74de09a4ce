/**
 * A worker thread of a parallel property run (check-workers.ts): it judges each chunk of indexes
 * it is sent, in the run's context, and reports every scenario as it goes and the chunk's result.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { checkRange } from './check-range.ts';
import type { ChunkRequest, WorkerReport } from './check-workers.ts';
import type { RunContext } from './scenario-check.ts';

const port = parentPort;
if (port === null) throw new Error('check-worker.ts runs only as a worker thread');
// The context is the plain data check-workers.ts passed as workerData.
const context = workerData as RunContext;
const send = (report: WorkerReport): void => port.postMessage(report);

port.on('message', (request: ChunkRequest) => {
  const result = checkRange(context, request.from, request.to, (faultsStarted) =>
    send({ kind: 'scenario', faultsStarted }),
  );
  send({ kind: 'chunk', result });
});
