/**
 * Simulator speed: events per second on a scenario, with a bare event-heap loop of the same size
 * run in the same process as the ceiling. Two counts are given, because the world batches: a
 * fan-out to N connections is one heap item but N simulated client receipts.
 */

import { bareHeapLoop, loadScenario, runScenario } from '../sim/index.ts';

export { bareHeapLoop };

export interface SimulatorBench {
  scenario: string;
  seed: string;
  heapItems: number;
  clientReceipts: number;
  wallMs: number;
  simulatedMs: number;
  heapItemsPerSecond: number;
  /** Heap items plus client receipts: what an unbatched simulator would process. */
  simulatedEventsPerSecond: number;
  simulatedSecondsPerWallSecond: number;
  bareHeapItemsPerSecond: number;
  /** heapItemsPerSecond / bareHeapItemsPerSecond. */
  ratioToBareHeap: number;
}

export function benchSimulator(scenarioName = 'live-video', seed = '1'): SimulatorBench {
  const scenario = loadScenario(scenarioName);
  const report = runScenario(scenario, seed, {
    tracePath: `.stadium/runs/bench-${scenarioName}-${seed}.jsonl`,
  });
  const bare = bareHeapLoop(report.events);
  const heapItemsPerSecond = Math.round((report.events / report.wallMs) * 1000);
  return {
    scenario: scenarioName,
    seed,
    heapItems: report.events,
    clientReceipts: report.delivered,
    wallMs: report.wallMs,
    simulatedMs: report.simulatedMs,
    heapItemsPerSecond,
    simulatedEventsPerSecond: Math.round(((report.events + report.delivered) / report.wallMs) * 1000),
    simulatedSecondsPerWallSecond: Math.round((report.simulatedMs / report.wallMs) * 100) / 100,
    bareHeapItemsPerSecond: bare,
    ratioToBareHeap: Math.round((heapItemsPerSecond / bare) * 10_000) / 10_000,
  };
}
