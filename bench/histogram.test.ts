// Goal: the latency histogram keeps 1.6% precision, and merging what the load clients send over IPC
// gives the same percentiles as recording every value in one place.
// Method: record known values, compare against exact order statistics; merge dense and sparse forms.
import { describe, expect, it } from 'vitest';
import {
  bucketFloorUs,
  bucketOf,
  createHistogram,
  merge,
  quantileUs,
  record,
  summarize,
  toSparse,
} from './histogram.ts';

describe('histogram', () => {
  it('buckets are exact below 128 µs and within 1.6% above', () => {
    for (const v of [0, 1, 5, 127]) expect(bucketFloorUs(bucketOf(v))).toBe(v);
    for (const v of [128, 129, 1_000, 12_345, 999_999, 60_000_000]) {
      const floor = bucketFloorUs(bucketOf(v));
      expect(floor).toBeLessThanOrEqual(v);
      expect((v - floor) / v).toBeLessThan(1 / 64);
    }
  });

  it('bucket numbers grow with the value and their floors round-trip', () => {
    let last = -1;
    for (let v = 0; v < 100_000; v += 7) {
      const bucket = bucketOf(v);
      expect(bucket).toBeGreaterThanOrEqual(last);
      expect(bucketOf(bucketFloorUs(bucket))).toBe(bucket);
      last = bucket;
    }
  });

  it('percentiles match the exact order statistics within a bucket', () => {
    const h = createHistogram();
    const values = Array.from({ length: 10_000 }, (_, i) => (i + 1) * 10); // 10 µs .. 100 ms
    for (const v of values) record(h, v);
    expect(quantileUs(h, 0.5)).toBeGreaterThan(50_000 * 0.98);
    expect(quantileUs(h, 0.5)).toBeLessThanOrEqual(50_000);
    expect(quantileUs(h, 0.99)).toBeGreaterThan(99_000 * 0.98);
    expect(h.maxUs).toBe(100_000);
    expect(summarize(h).maxMs).toBe(100);
    expect(summarize(h).count).toBe(10_000);
  });

  it('merging the sparse forms of two halves equals recording everything in one', () => {
    const all = createHistogram();
    const a = createHistogram();
    const b = createHistogram();
    for (let i = 0; i < 5_000; i++) {
      const v = (i * 7919) % 250_000;
      record(all, v);
      record(i % 2 === 0 ? a : b, v);
    }
    const merged = merge(merge(createHistogram(), toSparse(a)), JSON.parse(JSON.stringify(toSparse(b))));
    expect(summarize(merged)).toEqual(summarize(all));
    expect(merged.minUs).toBe(all.minUs);
    expect(merge(createHistogram(), a).total).toBe(a.total);
  });

  it('an empty histogram reads as zeros and merges as nothing', () => {
    const empty = createHistogram();
    expect(summarize(empty)).toEqual({ count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0, meanMs: 0 });
    const h = createHistogram();
    record(h, 42);
    merge(h, toSparse(empty));
    expect(h.minUs).toBe(42);
    expect(summarize(h).p50Ms).toBe(0.042);
  });
});
