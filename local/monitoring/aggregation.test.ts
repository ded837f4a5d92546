// Aggregation checked against each metric's kind and value type as Cloud Monitoring checks it
// (common.proto's "valid for" of each aligner and reducer), and the arithmetic of the aligners and
// reducers the local cloud computes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RunwayError } from '../../services/shared/errors.ts';
import {
  type Aggregation,
  align,
  checkAggregation,
  numericPercentile,
  reduce,
  type Value,
} from './aggregation.ts';
import { emptyHistogram, lowerBound, observe, percentile } from './distribution.ts';

const agg = (aligner: string, reducer?: string): Aggregation => ({
  aligner,
  periodMs: 60_000,
  ...(reducer ? { reducer } : {}),
  groupBy: [],
});

describe('aggregations allowed per metric', () => {
  const cases: {
    name: string;
    input: 'INT64' | 'DISTRIBUTION';
    agg: Aggregation;
    want: string | { code: string; message: RegExp };
  }[] = [
    { name: 'count: none', input: 'INT64', agg: { groupBy: [] }, want: 'DELTA INT64' },
    {
      name: 'count: sum',
      input: 'INT64',
      agg: agg('ALIGN_SUM', 'REDUCE_SUM'),
      want: 'DELTA INT64',
    },
    { name: 'count: delta', input: 'INT64', agg: agg('ALIGN_DELTA'), want: 'DELTA INT64' },
    {
      name: 'count: rate',
      input: 'INT64',
      agg: agg('ALIGN_RATE', 'REDUCE_SUM'),
      want: 'GAUGE DOUBLE',
    },
    {
      name: 'count: sum, mean',
      input: 'INT64',
      agg: agg('ALIGN_SUM', 'REDUCE_MEAN'),
      want: 'DELTA DOUBLE',
    },
    {
      name: 'count: sum, count',
      input: 'INT64',
      agg: agg('ALIGN_SUM', 'REDUCE_COUNT'),
      want: 'DELTA INT64',
    },
    {
      name: 'count: sum, max',
      input: 'INT64',
      agg: agg('ALIGN_SUM', 'REDUCE_MAX'),
      want: 'DELTA INT64',
    },
    {
      name: 'count: a percentile aligner is for distributions',
      input: 'INT64',
      agg: agg('ALIGN_PERCENTILE_99'),
      want: {
        code: 'INVALID_ARGUMENT',
        message:
          /^Field aggregation\.perSeriesAligner had an invalid value of "ALIGN_PERCENTILE_99": The aligner cannot be applied to metrics with kind DELTA and value type INT64\.$/,
      },
    },
    {
      name: 'count: a Boolean reducer',
      input: 'INT64',
      agg: agg('ALIGN_SUM', 'REDUCE_FRACTION_TRUE'),
      want: {
        code: 'INVALID_ARGUMENT',
        message: /The reducer cannot be applied to metrics with kind DELTA and value type INT64\.$/,
      },
    },
    {
      name: 'count: ALIGN_MEAN is valid but needs raw samples',
      input: 'INT64',
      agg: agg('ALIGN_MEAN'),
      want: { code: 'UNIMPLEMENTED', message: /ALIGN_MEAN is valid/ },
    },
    {
      name: 'latencies: none',
      input: 'DISTRIBUTION',
      agg: { groupBy: [] },
      want: 'DELTA DISTRIBUTION',
    },
    {
      name: 'latencies: delta',
      input: 'DISTRIBUTION',
      agg: agg('ALIGN_DELTA'),
      want: 'DELTA DISTRIBUTION',
    },
    {
      name: 'latencies: sum',
      input: 'DISTRIBUTION',
      agg: agg('ALIGN_SUM', 'REDUCE_SUM'),
      want: 'DELTA DISTRIBUTION',
    },
    {
      name: 'latencies: p99',
      input: 'DISTRIBUTION',
      agg: agg('ALIGN_PERCENTILE_99'),
      want: 'GAUGE DOUBLE',
    },
    {
      name: 'latencies: p50, p99 across',
      input: 'DISTRIBUTION',
      agg: agg('ALIGN_PERCENTILE_50', 'REDUCE_PERCENTILE_99'),
      want: 'GAUGE DOUBLE',
    },
    {
      name: 'latencies: p99 then max across',
      input: 'DISTRIBUTION',
      agg: agg('ALIGN_PERCENTILE_99', 'REDUCE_MAX'),
      want: 'GAUGE DOUBLE',
    },
    {
      name: 'latencies: delta, p99 across',
      input: 'DISTRIBUTION',
      agg: agg('ALIGN_DELTA', 'REDUCE_PERCENTILE_99'),
      want: 'DELTA DOUBLE',
    },
    {
      name: 'latencies: delta, mean across',
      input: 'DISTRIBUTION',
      agg: agg('ALIGN_DELTA', 'REDUCE_MEAN'),
      want: 'DELTA DOUBLE',
    },
    {
      name: 'latencies: delta, count across',
      input: 'DISTRIBUTION',
      agg: agg('ALIGN_DELTA', 'REDUCE_COUNT'),
      want: 'DELTA INT64',
    },
    ...[
      'ALIGN_RATE',
      'ALIGN_MEAN',
      'ALIGN_COUNT',
      'ALIGN_MAX',
      'ALIGN_STDDEV',
      'ALIGN_FRACTION_TRUE',
      'ALIGN_INTERPOLATE',
    ].map((a) => ({
      name: `latencies: ${a} is for numbers`,
      input: 'DISTRIBUTION' as const,
      agg: agg(a),
      want: {
        code: 'INVALID_ARGUMENT',
        message: new RegExp(
          `^Field aggregation\\.perSeriesAligner had an invalid value of "${a}": The aligner cannot be applied to metrics with kind DELTA and value type DISTRIBUTION\\.$`,
        ),
      },
    })),
    ...['REDUCE_MAX', 'REDUCE_MIN', 'REDUCE_COUNT_TRUE'].map((r) => ({
      name: `latencies: ${r} across distributions`,
      input: 'DISTRIBUTION' as const,
      agg: agg('ALIGN_DELTA', r),
      want: {
        code: 'INVALID_ARGUMENT',
        message:
          /^Field aggregation\.crossSeriesReducer had an invalid value of "REDUCE_[A-Z_]+": The reducer cannot be applied to metrics with kind DELTA and value type DISTRIBUTION\.$/,
      },
    })),
  ];
  for (const c of cases) {
    test(c.name, () => {
      if (typeof c.want === 'string') {
        const out = checkAggregation(c.agg, c.input);
        assert.equal(`${out.kind} ${out.type}`, c.want);
        return;
      }
      const want = c.want;
      assert.throws(
        () => checkAggregation(c.agg, c.input),
        (err: unknown) =>
          err instanceof RunwayError && err.code === want.code && want.message.test(err.message),
      );
    });
  }
});

const hist = (...values: number[]): Value => {
  const h = emptyHistogram();
  for (const v of values) observe(h, v);
  return { type: 'DISTRIBUTION', h };
};
const n = (v: Value | undefined) => (v && v.type !== 'DISTRIBUTION' ? v.n : Number.NaN);

describe('aligners and reducers: arithmetic', () => {
  test('ALIGN_RATE: requests per second over the period', () => {
    assert.equal(n(align('ALIGN_RATE', { type: 'INT64', n: 90 }, 60_000)), 1.5);
  });
  test('an empty period has no point', () => {
    assert.equal(align('ALIGN_SUM', { type: 'INT64', n: 0 }, 60_000), undefined);
    assert.equal(align('ALIGN_PERCENTILE_99', hist(), 60_000), undefined);
  });
  test('ALIGN_PERCENTILE_99 reads the period’s histogram', () => {
    const v = hist(100);
    assert.equal(
      n(align('ALIGN_PERCENTILE_99', v, 60_000)),
      lowerBound(14) + 0.99 * (lowerBound(15) - lowerBound(14)),
    );
  });
  test('REDUCE_PERCENTILE_99 over distributions merges them first', () => {
    // 98 fast requests in one series, 2 slow in the other: p99 is halfway into the slow bucket,
    // where the p99 of the two series' own p99s would be near the slow bucket's top.
    const fast = hist(...Array.from({ length: 98 }, () => 100));
    const slow = hist(1000, 1000);
    const merged = emptyHistogram();
    for (const v of [...Array.from({ length: 98 }, () => 100), 1000, 1000]) observe(merged, v);
    const want = percentile(merged, 99);
    assert.equal(n(reduce('REDUCE_PERCENTILE_99', [fast, slow])), want);
    assert.equal(want, lowerBound(21) + 0.5 * (lowerBound(22) - lowerBound(21)));
  });
  test('REDUCE_SUM over distributions is their merge; REDUCE_MEAN their overall mean', () => {
    const sum = reduce('REDUCE_SUM', [hist(10, 20), hist(30)]);
    assert.equal(sum.type === 'DISTRIBUTION' && sum.h.count, 3);
    assert.equal(n(reduce('REDUCE_MEAN', [hist(10, 20), hist(30)])), 20);
    assert.equal(n(reduce('REDUCE_COUNT', [hist(10, 20), hist(30)])), 2);
  });
  const numbers: Value[] = [3, 1, 4, 1, 5].map((x) => ({ type: 'INT64', n: x }));
  const cases: { reducer: string; want: number }[] = [
    { reducer: 'REDUCE_SUM', want: 14 },
    { reducer: 'REDUCE_MEAN', want: 2.8 },
    { reducer: 'REDUCE_MIN', want: 1 },
    { reducer: 'REDUCE_MAX', want: 5 },
    { reducer: 'REDUCE_COUNT', want: 5 },
    { reducer: 'REDUCE_STDDEV', want: Math.sqrt(2.56) },
    { reducer: 'REDUCE_PERCENTILE_50', want: 3 },
    { reducer: 'REDUCE_PERCENTILE_99', want: 4 + 0.96 },
  ];
  for (const c of cases) {
    test(`${c.reducer} of 3, 1, 4, 1, 5`, () => {
      assert.ok(Math.abs(n(reduce(c.reducer, numbers)) - c.want) < 1e-9);
    });
  }
  test('numeric percentiles interpolate between the closest ranks', () => {
    assert.equal(numericPercentile([10], 99), 10);
    assert.equal(numericPercentile([10, 20], 50), 15);
    assert.equal(numericPercentile([], 50), 0);
  });
});
