// Goal: histogram quantiles stay within 1% of the exact values, in constant memory.
import { describe, expect, it } from 'vitest';
import { Histogram } from './histogram.ts';

describe('histogram', () => {
  it('quantiles are within 1% of the exact ones', () => {
    const h = new Histogram();
    const values: number[] = [];
    let x = 1;
    for (let i = 0; i < 10_000; i++) {
      x = (x * 48_271) % 2_147_483_647;
      const v = x % 500_000;
      values.push(v);
      h.record(v);
    }
    values.sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.99]) {
      const exact = values[Math.ceil(q * values.length) - 1]!;
      expect(Math.abs(h.quantile(q) - exact) / exact).toBeLessThan(0.011);
    }
    expect(h.max).toBe(values[values.length - 1]);
    expect(h.count).toBe(10_000);
  });

  it('weights count as repeated samples; an empty histogram answers 0', () => {
    const h = new Histogram();
    expect(h.quantile(0.5)).toBe(0);
    h.record(100, 99);
    h.record(10_000);
    expect(h.quantile(0.5)).toBeLessThanOrEqual(101);
    expect(h.quantile(1)).toBe(10_000);
    h.record(0);
    expect(h.count).toBe(101);
  });
});
