/**
 * Simulator speed: events per second on a scenario, with a bare event-heap loop of the same size
 * run in the same process as the ceiling. Two counts are given, because the world batches: a
 * fan-out to N connections is one heap item but N simulated client receipts.
 */

import { EventHeap, loadScenario, runScenario } from '../sim/index.ts';

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

/** The ceiling: pop the earliest item and push one a jittered latency later, `items` times, from a heap of 10,000. */
export function bareHeapLoop(items: number): number {
  const heap = new EventHeap<{ at: number; seq: number; node: number }>();
  let x = 12_345;
  const next = (): number => (x = (x * 1_103_515_245 + 12_345) & 0x7fffffff);
  for (let i = 0; i < 10_000; i++) heap.push({ at: next() % 1_000_000, node: i });
  const count = Math.max(items, 1_000_000);
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const item = heap.pop();
    if (item === undefined) break;
    heap.push({ at: item.at + 200 + (next() % 50_000), node: item.node });
  }
  const ms = Math.max(1, performance.now() - started);
  return Math.round((count / ms) * 1000);
}
