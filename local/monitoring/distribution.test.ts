// Latency histograms: bucketing at the boundaries, percentiles read from buckets the way Cloud
// Monitoring's percentile aligners read them, merging, and google.api.Distribution's JSON.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  bucketIndex,
  distributionJson,
  emptyHistogram,
  type Histogram,
  LATENCY_BUCKETS,
  lowerBound,
  merge,
  observe,
  percentile,
} from './distribution.ts';

const g = LATENCY_BUCKETS.growthFactor;
const of = (...values: [number, number][]): Histogram => {
  const h = emptyHistogram();
  for (const [value, times] of values) for (let i = 0; i < times; i++) observe(h, value);
  return h;
};

describe('latency buckets', () => {
  const cases: { name: string; value: number; bucket: number }[] = [
    { name: 'zero is in the underflow bucket', value: 0, bucket: 0 },
    { name: 'just under the scale', value: 0.999, bucket: 0 },
    { name: 'the scale opens bucket 1', value: 1, bucket: 1 },
    { name: 'just under 1.4', value: 1.399, bucket: 1 },
    { name: 'exactly 1.4 opens bucket 2', value: 1.4, bucket: 2 },
    { name: '100 ms', value: 100, bucket: 14 },
    { name: 'a bound computed as the bounds are', value: g ** 20, bucket: 21 },
    { name: 'Cloud Run’s longest request (3600 s)', value: 3_600_000, bucket: 45 },
    { name: 'beyond the finite buckets', value: 1e12, bucket: 71 },
    { name: 'NaN goes nowhere finite', value: Number.NaN, bucket: 0 },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(bucketIndex(c.value), c.bucket));
  }
  test('every value lies within its bucket’s bounds', () => {
    for (let v = 1; v < 5e6; v *= 1.07) {
      const i = bucketIndex(v);
      assert.ok(lowerBound(i) <= v && v < lowerBound(i + 1), `${v} in bucket ${i}`);
    }
  });
});

describe('percentiles from buckets', () => {
  const b = (i: number) => [lowerBound(i), lowerBound(i + 1)] as const;
  const [lo14, hi14] = b(14); // 100 ms lies in [79.4, 111.1)
  const [lo21, hi21] = b(21); // 1000 ms lies in [836.7, 1171.4)
  const cases: { name: string; h: Histogram; p: number; want: number }[] = [
    {
      name: 'one value: p50 in the middle of its bucket',
      h: of([100, 1]),
      p: 50,
      want: lo14 + 0.5 * (hi14 - lo14),
    },
    {
      name: 'one value: p99 near the top of its bucket',
      h: of([100, 1]),
      p: 99,
      want: lo14 + 0.99 * (hi14 - lo14),
    },
    {
      name: '99 fast and 1 slow: p99 is still the fast bucket’s top',
      h: of([100, 99], [1000, 1]),
      p: 99,
      want: hi14,
    },
    {
      name: '98 fast and 2 slow: p99 is halfway into the slow bucket',
      h: of([100, 98], [1000, 2]),
      p: 99,
      want: lo21 + 0.5 * (hi21 - lo21),
    },
    {
      name: 'p05 of 98 fast and 2 slow',
      h: of([100, 98], [1000, 2]),
      p: 5,
      want: lo14 + (5 / 98) * (hi14 - lo14),
    },
    { name: 'an empty histogram is 0', h: emptyHistogram(), p: 99, want: 0 },
    {
      name: 'the overflow bucket reports its lower bound',
      h: of([1e12, 3]),
      p: 99,
      want: lowerBound(71),
    },
    { name: 'sub-millisecond answers interpolate from 0', h: of([0.2, 4]), p: 50, want: 0.5 },
  ];
  for (const c of cases) {
    test(c.name, () =>
      assert.ok(
        Math.abs(percentile(c.h, c.p) - c.want) < 1e-9,
        `${percentile(c.h, c.p)} != ${c.want}`,
      ),
    );
  }
  test('merging two revisions’ histograms is the histogram of all their requests', () => {
    const merged = merge(of([100, 98]), of([1000, 2]));
    assert.deepEqual(merged, of([100, 98], [1000, 2]));
  });
});

describe('google.api.Distribution JSON', () => {
  test('count and bucket counts as strings, mean, squared deviations, trailing zeros left off', () => {
    const json = distributionJson(of([1, 1], [3, 1]));
    assert.deepEqual(json, {
      count: '2',
      mean: 2,
      sumOfSquaredDeviation: 2,
      bucketOptions: { exponentialBuckets: { numFiniteBuckets: 70, growthFactor: 1.4, scale: 1 } },
      bucketCounts: ['0', '1', '0', '0', '1'],
    });
  });
  test('an empty distribution has no buckets', () => {
    assert.deepEqual(distributionJson(emptyHistogram()).bucketCounts, []);
  });
});
