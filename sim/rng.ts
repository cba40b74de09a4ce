/**
 * Seeded randomness. One run seed is split into independent named streams (network, faults,
 * workload), so that changing how much the workload draws never reshuffles the fault schedule.
 * Probabilities are integers per million; every draw is an integer.
 */
import seedrandom from 'seedrandom';
import type { Latency } from './scenario.ts';

export class Rng {
  private readonly next: () => number;

  constructor(seed: string, stream: string) {
    // Alea is fast and has a long period; the stream name makes each sub-seed independent.
    this.next = seedrandom.alea(`${seed}/${stream}`);
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.next();
  }

  /** Uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `perMillion` / 1,000,000. */
  chance(perMillion: number): boolean {
    return perMillion > 0 && this.next() * 1_000_000 < perMillion;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** `baseUs` plus an exponential tail of mean `jitterUs`, capped at 20 means; an integer. */
  latencyUs(latency: Latency): number {
    if (latency.jitterUs <= 0) return latency.baseUs;
    const tail = Math.min(-Math.log(1 - this.next()) * latency.jitterUs, 20 * latency.jitterUs);
    return latency.baseUs + Math.floor(tail);
  }

  /** Exponential inter-arrival time for a Poisson process of `perSecond`, in integer microseconds (at least 1). */
  intervalUs(perSecond: number): number {
    return Math.max(1, Math.floor((-Math.log(1 - this.next()) * 1_000_000) / perSecond));
  }
}
