/**
 * The soak's arithmetic (prod/soak.ts), pure: percentiles, and whether a process' resident memory
 * stayed flat.
 *
 * "Flat RSS", as the soak judges it: for each process, its RSS samples over the last 2/3 of the run
 * (the first third is warm-up: heaps, JIT and Redis' allocator settle), taken only from its latest
 * incarnation (a process a fault restarted starts again from nothing, which is no leak). The trend
 * is the least-squares slope of MB against minutes. A process is flat when the slope is at most
 * `rssSlopeMbPerMinMax` (0.5 MB/min: 15 MB over a 30-minute run, a few percent of a node's RSS),
 * and the spread (max - min, MB) is reported beside it for a reader to weigh. A process whose
 * latest incarnation covers less than half of that window is not judged ("restarted"): too few
 * minutes to tell a leak from a heap still growing to its working size.
 */

export const rssSlopeMbPerMinMax = 0.5;

/** The share of the run, from its end, whose RSS samples are judged. */
export const rssJudgedShare = 2 / 3;

/** The `p` percentile (0-100) of `values`, nearest rank; null when empty. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Least-squares slope of y against x; null with fewer than 2 distinct x. */
export function slope(points: readonly { x: number; y: number }[]): number | null {
  if (points.length < 2) return null;
  const meanX = points.reduce((s, p) => s + p.x, 0) / points.length;
  const meanY = points.reduce((s, p) => s + p.y, 0) / points.length;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - meanX) * (p.y - meanY);
    den += (p.x - meanX) ** 2;
  }
  return den === 0 ? null : num / den;
}

export interface RssSample {
  atMs: number;
  pid: number;
  mb: number;
}

export interface RssTrend {
  /** MB per minute over the judged samples, or null when not judged. */
  slopeMbPerMin: number | null;
  /** Max - min of the judged samples, MB. */
  spreadMb: number | null;
  /** The last sample, MB. */
  lastMb: number | null;
  samples: number;
  /** flat, growing, or restarted (not judged). */
  verdict: 'flat' | 'growing' | 'restarted';
}

/** One process' trend over a run from `startMs` to `endMs`. */
export function rssTrend(samples: readonly RssSample[], startMs: number, endMs: number): RssTrend {
  const windowFromMs = endMs - rssJudgedShare * (endMs - startMs);
  const last = samples.at(-1);
  const latest =
    last === undefined ? [] : samples.filter((s) => s.pid === last.pid && s.atMs >= windowFromMs);
  const covered = latest.length === 0 ? 0 : latest.at(-1)!.atMs - latest[0]!.atMs;
  const lastMb = last?.mb ?? null;
  if (latest.length < 3 || covered < (endMs - windowFromMs) / 2) {
    return { slopeMbPerMin: null, spreadMb: null, lastMb, samples: latest.length, verdict: 'restarted' };
  }
  const trend = slope(latest.map((s) => ({ x: s.atMs / 60_000, y: s.mb }))) ?? 0;
  const mbs = latest.map((s) => s.mb);
  return {
    slopeMbPerMin: trend,
    spreadMb: Math.max(...mbs) - Math.min(...mbs),
    lastMb,
    samples: latest.length,
    verdict: trend <= rssSlopeMbPerMinMax ? 'flat' : 'growing',
  };
}
