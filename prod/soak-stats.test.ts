// Goal: the soak's "flat RSS" verdict and p99 are computed as documented, and a leak is caught.
// Method: synthetic RSS series: steady with noise (flat), a planted leak of 1 MB/min (growing), a
// warm-up climb in the first third only (flat), a restart late in the run (not judged).
import { describe, expect, it } from 'vitest';
import { percentile, rssSlopeMbPerMinMax, rssTrend, slope } from './soak-stats.ts';
import type { RssSample } from './soak-stats.ts';

const minute = 60_000;

/** A sample every 10 s for `minutes`, of `mb(t in minutes)`. */
function series(minutes: number, mb: (t: number) => number, pid = 1): RssSample[] {
  return Array.from({ length: minutes * 6 + 1 }, (_, i) => ({ atMs: i * 10_000, pid, mb: mb(i / 6) }));
}

describe('soak stats', () => {
  it('percentile: nearest rank', () => {
    expect(percentile([], 99)).toBeNull();
    expect(percentile([5], 99)).toBe(5);
    expect(
      percentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        99,
      ),
    ).toBe(99);
    expect(
      percentile(
        Array.from({ length: 1000 }, (_, i) => 1000 - i),
        99,
      ),
    ).toBe(990);
  });

  it('slope: least squares', () => {
    expect(slope([{ x: 0, y: 1 }])).toBeNull();
    expect(slope([0, 1, 2, 3].map((x) => ({ x, y: 2 * x + 1 })))).toBeCloseTo(2);
  });

  it('steady memory with GC noise is flat', () => {
    const trend = rssTrend(
      series(30, (t) => 80 + 3 * Math.sin(t * 7)),
      0,
      30 * minute,
    );
    expect(trend.verdict).toBe('flat');
    expect(Math.abs(trend.slopeMbPerMin!)).toBeLessThan(rssSlopeMbPerMinMax);
    expect(trend.spreadMb).toBeGreaterThan(5);
  });

  it('planted: a leak of 1 MB/min is growing', () => {
    const trend = rssTrend(
      series(30, (t) => 80 + t + Math.sin(t * 7)),
      0,
      30 * minute,
    );
    expect(trend.verdict).toBe('growing');
    expect(trend.slopeMbPerMin).toBeCloseTo(1, 1);
  });

  it('a climb during the first third (warm-up) is not judged', () => {
    const trend = rssTrend(
      series(30, (t) => (t < 9 ? 40 + 5 * t : 85)),
      0,
      30 * minute,
    );
    expect(trend.verdict).toBe('flat');
  });

  it('only the latest incarnation counts; one restarted late is not judged', () => {
    const early = series(30, (t) => (t < 12 ? 200 : 60 + 0.1 * t)).map((s) => ({
      ...s,
      pid: s.atMs < 12 * minute ? 1 : 2,
    }));
    expect(rssTrend(early, 0, 30 * minute).verdict).toBe('flat');
    const late = series(30, () => 80).map((s) => ({ ...s, pid: s.atMs < 25 * minute ? 1 : 2 }));
    expect(rssTrend(late, 0, 30 * minute)).toMatchObject({ verdict: 'restarted', slopeMbPerMin: null });
  });
});
