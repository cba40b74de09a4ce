/**
 * A log-bucketed histogram of non-negative integers (latencies in microseconds): buckets grow by
 * 1% so any percentile is within 1% of the truth, in constant memory however many samples arrive.
 */
const growth = Math.log(1.01);
const bucketsMax = 2_600; // 1.01^2600 > 1.7e11 µs, about two days

export class Histogram {
  private readonly counts = new Float64Array(bucketsMax);
  private lastValue = -1;
  private lastBucket = 0;
  count = 0;
  max = 0;
  sum = 0;

  record(value: number, times = 1): void {
    if (value !== this.lastValue) {
      this.lastValue = value;
      this.lastBucket = value < 1 ? 0 : Math.min(bucketsMax - 1, 1 + Math.floor(Math.log(value) / growth));
    }
    this.counts[this.lastBucket] = (this.counts[this.lastBucket] as number) + times;
    this.count += times;
    this.sum += value * times;
    if (value > this.max) this.max = value;
  }

  /** The value at quantile `q` (0..1): the upper edge of its bucket, never above the maximum seen. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let bucket = 0; bucket < bucketsMax; bucket++) {
      seen += this.counts[bucket] as number;
      if (seen >= rank) return bucket === 0 ? 0 : Math.min(this.max, Math.round(Math.exp(bucket * growth)));
    }
    return this.max;
  }
}
