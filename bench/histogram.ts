/**
 * A latency histogram in integer microseconds, log-linear like HdrHistogram: exact below 128 µs,
 * then 64 linear buckets per power of two (at most 1.6% relative error). Load clients record into
 * one and send it over IPC in its sparse form; the parent merges them and reads percentiles.
 */

/** Linear buckets per power of two. */
const subBuckets = 64;
const subBucketsLog2 = 6;
/** Values at or above this are clamped: an hour in microseconds. */
const valueUsMax = 3_600_000_000;

export interface Histogram {
  /** counts[i] is how many values fell in bucket i (see bucketOf). */
  counts: number[];
  total: number;
  minUs: number;
  maxUs: number;
  sumUs: number;
}

/** The form that crosses IPC: only the buckets in use, as [bucket, count] pairs. */
export interface SparseHistogram {
  buckets: [number, number][];
  total: number;
  minUs: number;
  maxUs: number;
  sumUs: number;
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

export function createHistogram(): Histogram {
  return { counts: [], total: 0, minUs: Infinity, maxUs: 0, sumUs: 0 };
}

/** The bucket a value in microseconds falls in. */
export function bucketOf(valueUs: number): number {
  const v = Math.min(valueUsMax, Math.max(0, Math.round(valueUs)));
  if (v < 2 * subBuckets) return v;
  const shift = 31 - Math.clz32(v) - subBucketsLog2;
  return (shift + 1) * subBuckets + ((v >>> shift) - subBuckets);
}

/** The smallest value in microseconds that falls in a bucket. */
export function bucketFloorUs(bucket: number): number {
  if (bucket < 2 * subBuckets) return bucket;
  const shift = Math.floor(bucket / subBuckets) - 1;
  return ((bucket % subBuckets) + subBuckets) * 2 ** shift;
}

export function record(histogram: Histogram, valueUs: number): void {
  const bucket = bucketOf(valueUs);
  histogram.counts[bucket] = (histogram.counts[bucket] ?? 0) + 1;
  histogram.total++;
  const v = Math.max(0, valueUs);
  if (v < histogram.minUs) histogram.minUs = v;
  if (v > histogram.maxUs) histogram.maxUs = v;
  histogram.sumUs += v;
}

export function toSparse(histogram: Histogram): SparseHistogram {
  const buckets: [number, number][] = [];
  histogram.counts.forEach((count, bucket) => {
    if (count > 0) buckets.push([bucket, count]);
  });
  return {
    buckets,
    total: histogram.total,
    minUs: histogram.total === 0 ? 0 : histogram.minUs,
    maxUs: histogram.maxUs,
    sumUs: histogram.sumUs,
  };
}

/** Add `source` (dense or sparse) into `target`. */
export function merge(target: Histogram, source: Histogram | SparseHistogram): Histogram {
  const pairs: Iterable<[number, number]> =
    'buckets' in source
      ? source.buckets
      : source.counts.flatMap((count, bucket): [number, number][] => (count > 0 ? [[bucket, count]] : []));
  for (const [bucket, count] of pairs) target.counts[bucket] = (target.counts[bucket] ?? 0) + count;
  if (source.total > 0) {
    target.minUs = Math.min(target.minUs, source.minUs);
    target.maxUs = Math.max(target.maxUs, source.maxUs);
  }
  target.total += source.total;
  target.sumUs += source.sumUs;
  return target;
}

/**
 * The value at quantile q (0..1), in microseconds: the floor of the bucket holding the
 * ceil(q * total)-th smallest value, never above the true maximum. 0 for an empty histogram.
 */
export function quantileUs(histogram: Histogram, q: number): number {
  if (histogram.total === 0) return 0;
  const rank = Math.max(1, Math.ceil(q * histogram.total));
  let seen = 0;
  for (let bucket = 0; bucket < histogram.counts.length; bucket++) {
    seen += histogram.counts[bucket] ?? 0;
    if (seen >= rank) return Math.min(bucketFloorUs(bucket), histogram.maxUs);
  }
  return histogram.maxUs;
}

const ms = (us: number): number => Math.round(us) / 1000;

export function summarize(histogram: Histogram): LatencySummary {
  return {
    count: histogram.total,
    p50Ms: ms(quantileUs(histogram, 0.5)),
    p90Ms: ms(quantileUs(histogram, 0.9)),
    p99Ms: ms(quantileUs(histogram, 0.99)),
    maxMs: ms(histogram.maxUs),
    meanMs: histogram.total === 0 ? 0 : ms(histogram.sumUs / histogram.total),
  };
}
