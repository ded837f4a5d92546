// Latency histograms as Cloud Monitoring keeps them (google.api.Distribution): counts in
// exponential buckets plus count, mean and the sum of squared deviations, so memory stays bounded
// whatever the traffic, and percentiles are read from the buckets the way Monitoring reads them.

/**
 * The buckets of `run.googleapis.com/request_latencies`. Google's metrics list does not state
 * them; these are exponential buckets with growth factor 1.4 from 1 ms, with enough finite buckets
 * (1.4^70 ms) to hold Cloud Run's longest request (3600 s) with room to spare.
 */
export const LATENCY_BUCKETS = { numFiniteBuckets: 70, growthFactor: 1.4, scale: 1 } as const;

type Exponential = { numFiniteBuckets: number; growthFactor: number; scale: number };

export interface Histogram {
  count: number;
  sum: number;
  sumOfSquares: number;
  /** bucket index -> count; index 0 is the underflow bucket, N+1 the overflow bucket. */
  buckets: Map<number, number>;
}

export const emptyHistogram = (): Histogram => ({
  count: 0,
  sum: 0,
  sumOfSquares: 0,
  buckets: new Map(),
});

/** The bucket of `value`: 0 below scale, i for [scale·g^(i-1), scale·g^i), N+1 at and above the top. */
export function bucketIndex(value: number, b: Exponential = LATENCY_BUCKETS): number {
  if (!(value >= b.scale)) return 0;
  let i = Math.floor(Math.log(value / b.scale) / Math.log(b.growthFactor)) + 1;
  // Floating point can land one bucket off at a boundary; settle it against the bounds themselves.
  if (value < lowerBound(i, b)) i--;
  else if (value >= lowerBound(i + 1, b)) i++;
  return Math.min(i, b.numFiniteBuckets + 1);
}

/** The lower bound of bucket `i` (bucket 0's is 0 here: latencies are never negative). */
export function lowerBound(i: number, b: Exponential = LATENCY_BUCKETS): number {
  return i <= 0 ? 0 : b.scale * b.growthFactor ** (i - 1);
}

export function observe(h: Histogram, value: number): void {
  h.count++;
  h.sum += value;
  h.sumOfSquares += value * value;
  const i = bucketIndex(value);
  h.buckets.set(i, (h.buckets.get(i) ?? 0) + 1);
}

/** Adds `from` into `into`: what ALIGN_DELTA and REDUCE_SUM do to DELTA distributions. */
export function merge(into: Histogram, from: Histogram): Histogram {
  into.count += from.count;
  into.sum += from.sum;
  into.sumOfSquares += from.sumOfSquares;
  for (const [i, n] of from.buckets) into.buckets.set(i, (into.buckets.get(i) ?? 0) + n);
  return into;
}

export const mean = (h: Histogram) => (h.count === 0 ? 0 : h.sum / h.count);

export function sumOfSquaredDeviation(h: Histogram): number {
  if (h.count === 0) return 0;
  return Math.max(0, h.sumOfSquares - (h.sum * h.sum) / h.count);
}

export const stddev = (h: Histogram) =>
  h.count === 0 ? 0 : Math.sqrt(sumOfSquaredDeviation(h) / h.count);

/**
 * The p-th percentile as Monitoring reads it from a histogram: find the bucket holding the
 * p·count-th value and interpolate linearly within it (a single value in [4, 8) gives p50 = 6 and
 * p99 = 7.96). The overflow bucket has no upper bound, so a percentile there is its lower bound.
 */
export function percentile(h: Histogram, p: number, b: Exponential = LATENCY_BUCKETS): number {
  if (h.count === 0) return 0;
  const rank = (p / 100) * h.count;
  let below = 0;
  const indices = [...h.buckets.keys()].sort((x, y) => x - y);
  for (const i of indices) {
    const n = h.buckets.get(i)!;
    if (n === 0) continue;
    if (below + n >= rank || i === indices.at(-1)) {
      const lo = lowerBound(i, b);
      if (i > b.numFiniteBuckets) return lo;
      const hi = lowerBound(i + 1, b);
      return lo + (hi - lo) * Math.min(1, Math.max(0, (rank - below) / n));
    }
    below += n;
  }
  return 0;
}

/** google.api.Distribution in Google's JSON: int64 as strings, trailing empty buckets left off. */
export function distributionJson(h: Histogram) {
  const last = Math.max(-1, ...h.buckets.keys());
  const bucketCounts = Array.from({ length: last + 1 }, (_, i) => String(h.buckets.get(i) ?? 0));
  return {
    count: String(h.count),
    mean: mean(h),
    sumOfSquaredDeviation: sumOfSquaredDeviation(h),
    bucketOptions: { exponentialBuckets: { ...LATENCY_BUCKETS } },
    bucketCounts,
  };
}
