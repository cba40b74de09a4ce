/** Benchmarks: reproducible measurements of Stadium, run by `npm run bench` / `stadium bench`. */
export { bareHeapLoop, benchSimulator } from './simulator.ts';
export type { SimulatorBench } from './simulator.ts';
