/** Benchmarks: reproducible measurements of Stadium, run by `npm run bench` / `stadium bench`. */
export { bareHeapLoop, benchSimulator } from './simulator.ts';
export type { SimulatorBench } from './simulator.ts';
export { describeMachine, runBench } from './run.ts';
export type { BenchOptions } from './run.ts';
export { formatMarkdown, formatResults } from './format.ts';
export { fanoutCharts, occupancyCharts, writeCharts } from './charts.ts';
export type { ChartFile } from './charts.ts';
export { ChartError } from './svg-chart.ts';
export type { BenchResults, Comparison, Machine, PropertyBench, TargetCheck } from './summary.ts';
export { BenchError, killAll, liveChildren, repoRoot } from './processes.ts';
