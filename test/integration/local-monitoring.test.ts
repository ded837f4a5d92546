// The local Cloud Monitoring through Google's own client (@google-cloud/monitoring, REST mode):
// the router's request counts as run.googleapis.com/request_count, filtered, aligned and summed;
// refused where Cloud Monitoring refuses (its reference: an alignment period of at least 60 s,
// a period with every aligner, an aligner with every reducer, an end time); data visible late.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MetricServiceClient } from '@google-cloud/monitoring';
import { localClientOptions } from '../../services/shared/clients.ts';
import { type LocalMonitoring, startLocalMonitoring } from '../../local/monitoring/server.ts';
import { RequestMetrics } from '../../local/run/metrics.ts';
import { emptyHistogram, observe, percentile } from '../../local/monitoring/distribution.ts';

const PROJECT = 'demo-project';
let now = Date.parse('2026-11-23T10:00:00Z');
const metrics = new RequestMetrics(() => now);
let monitoring: LocalMonitoring;
let client: MetricServiceClient;

before(async () => {
  // 30 s of traffic: web-a answers 2xx in 10 ms; web-b 2xx in 20 ms and one 5xx in four after
  // 1000 ms; api-a 4xx in 5 ms.
  for (let s = 0; s < 30; s++) {
    now = Date.parse('2026-11-23T10:00:00Z') + s * 1000;
    metrics.record('us-central1', 'web', 'web-a', 200, 10);
    metrics.record('us-central1', 'web', 'web-b', s % 4 === 0 ? 503 : 200, s % 4 === 0 ? 1000 : 20);
    metrics.record('us-central1', 'api', 'api-a', 404, 5);
  }
  monitoring = await startLocalMonitoring({ metrics, project: PROJECT });
  client = new MetricServiceClient(localClientOptions(monitoring.host));
});
after(async () => {
  await client.close();
  await monitoring.close();
});

const COUNT = `filter=${encodeURIComponent('metric.type = "run.googleapis.com/request_count"')}&interval.endTime=2026-11-23T10:00:30Z`;
const interval = (from: string, to: string) => ({
  startTime: { seconds: Date.parse(from) / 1000 },
  endTime: { seconds: Date.parse(to) / 1000 },
});
const count = (ts: { points?: { value?: { int64Value?: unknown } | null }[] | null }) =>
  Number(ts.points?.[0]?.value?.int64Value ?? 0);

describe('local Cloud Monitoring', () => {
  test('request counts of one revision, summed per response code class', async () => {
    const [series] = await client.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter:
        'metric.type = "run.googleapis.com/request_count" AND resource.labels.service_name = "web" AND resource.labels.revision_name = "web-b"',
      interval: interval('2026-11-23T09:59:30Z', '2026-11-23T10:00:30Z'),
      aggregation: {
        alignmentPeriod: { seconds: 60 },
        perSeriesAligner: 'ALIGN_SUM',
        crossSeriesReducer: 'REDUCE_SUM',
        groupByFields: ['metric.labels.response_code_class'],
      },
    });
    const byClass = Object.fromEntries(
      series.map((s) => [s.metric?.labels?.response_code_class, count(s)]),
    );
    assert.deepEqual(byClass, { '2xx': 22, '5xx': 8 });
  });

  test('the interval bounds the count; unsummed series carry their resource labels', async () => {
    const [series] = await client.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter:
        'metric.type = "run.googleapis.com/request_count" AND resource.labels.service_name = "web"',
      interval: interval('2026-11-23T10:00:10Z', '2026-11-23T10:00:20Z'),
    });
    const rows = series
      .map((s) => [
        s.resource?.labels?.revision_name,
        s.metric?.labels?.response_code_class,
        count(s),
      ])
      .sort();
    assert.deepEqual(rows, [
      ['web-a', '2xx', 10],
      ['web-b', '2xx', 8],
      ['web-b', '5xx', 2],
    ]);
  });

  test('another metric has no data', async () => {
    const [series] = await client.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter: 'metric.type = "run.googleapis.com/container/instance_count"',
      interval: interval('2026-11-23T10:00:00Z', '2026-11-23T10:00:30Z'),
    });
    assert.deepEqual(series, []);
  });

  const LATENCIES = 'metric.type = "run.googleapis.com/request_latencies"';
  const WINDOW = interval('2026-11-23T09:59:30Z', '2026-11-23T10:00:30Z');
  /** What Monitoring reports for web-b: the p-th percentile of its 30 requests, from buckets. */
  const webB = (p: number) => {
    const h = emptyHistogram();
    for (let s = 0; s < 30; s++) observe(h, s % 4 === 0 ? 1000 : 20);
    return percentile(h, p);
  };

  test('latencies without aggregation: one distribution per revision and class', async () => {
    const [series] = await client.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter: `${LATENCIES} AND resource.labels.revision_name = "web-a"`,
      interval: WINDOW,
    });
    assert.equal(series.length, 1);
    const s = series[0]!;
    assert.equal(s.metricKind, 'DELTA');
    assert.equal(s.valueType, 'DISTRIBUTION');
    assert.equal(s.metric?.labels?.response_code_class, '2xx');
    assert.equal(s.resource?.type, 'cloud_run_revision');
    assert.equal(s.resource?.labels?.service_name, 'web');
    const d = s.points?.[0]?.value?.distributionValue;
    assert.equal(Number(d?.count), 30);
    assert.equal(d?.mean, 10);
    assert.equal(d?.sumOfSquaredDeviation ?? 0, 0);
    assert.deepEqual(
      { ...d?.bucketOptions?.exponentialBuckets },
      { numFiniteBuckets: 70, growthFactor: 1.4, scale: 1 },
    );
    // 10 ms lies in bucket 7: [1.4^6, 1.4^7) = [7.53, 10.54).
    assert.deepEqual(d?.bucketCounts?.map(Number), [0, 0, 0, 0, 0, 0, 0, 30]);
  });

  test('p99 of one revision: ALIGN_DELTA, then REDUCE_PERCENTILE_99 over its merged distributions', async () => {
    const [series] = await client.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter: `${LATENCIES} AND resource.type = "cloud_run_revision" AND resource.labels.revision_name = "web-b"`,
      interval: WINDOW,
      aggregation: {
        alignmentPeriod: { seconds: 60 },
        perSeriesAligner: 'ALIGN_DELTA',
        crossSeriesReducer: 'REDUCE_PERCENTILE_99',
        groupByFields: ['resource.labels.revision_name'],
      },
    });
    assert.equal(series.length, 1);
    assert.equal(series[0]!.valueType, 'DOUBLE');
    assert.equal(series[0]!.resource?.labels?.revision_name, 'web-b');
    const p99 = series[0]!.points?.[0]?.value?.doubleValue;
    assert.equal(p99, webB(99));
    assert.ok(p99! > 1000 && p99! < 1172, `p99 ${p99} lies in 1000 ms's bucket`);
  });

  test('p99 per revision: ALIGN_PERCENTILE_99 per series, then REDUCE_PERCENTILE_99 of those', async () => {
    const [series] = await client.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter: `${LATENCIES} AND resource.labels.service_name = "web"`,
      interval: WINDOW,
      aggregation: {
        alignmentPeriod: { seconds: 60 },
        perSeriesAligner: 'ALIGN_PERCENTILE_99',
        crossSeriesReducer: 'REDUCE_PERCENTILE_99',
        groupByFields: ['resource.labels.revision_name'],
      },
    });
    const byRevision = Object.fromEntries(
      series.map((s) => [s.resource?.labels?.revision_name, s.points?.[0]?.value?.doubleValue]),
    );
    assert.deepEqual(Object.keys(byRevision).sort(), ['web-a', 'web-b']);
    assert.ok(byRevision['web-a']! > 7.5 && byRevision['web-a']! < 10.6);
    // web-b's two series (2xx near 20 ms, 5xx near 1000 ms): the p99 of their p99s.
    assert.ok(byRevision['web-b']! > 1000 && byRevision['web-b']! < 1172);
    const point = series[0]!.points?.[0];
    assert.equal(series[0]!.metricKind, 'GAUGE');
    assert.deepEqual(point?.interval?.startTime, point?.interval?.endTime);
  });

  test('p50 of one revision, and the mean of its latencies', async () => {
    const ask = async (crossSeriesReducer: 'REDUCE_PERCENTILE_50' | 'REDUCE_MEAN') => {
      const [series] = await client.listTimeSeries({
        name: `projects/${PROJECT}`,
        filter: `${LATENCIES} AND resource.labels.revision_name = "web-b"`,
        interval: WINDOW,
        aggregation: {
          alignmentPeriod: { seconds: 60 },
          perSeriesAligner: 'ALIGN_DELTA',
          crossSeriesReducer,
        },
      });
      return series[0]?.points?.[0]?.value?.doubleValue;
    };
    assert.equal(await ask('REDUCE_PERCENTILE_50'), webB(50));
    assert.equal(await ask('REDUCE_MEAN'), (22 * 20 + 8 * 1000) / 30);
  });

  test('request counts of one revision per class, and in all, with ALIGN_DELTA', async () => {
    const counts = async (groupByFields: string[]) => {
      const [series] = await client.listTimeSeries({
        name: `projects/${PROJECT}`,
        filter:
          'metric.type = "run.googleapis.com/request_count" AND resource.labels.revision_name = "web-b"',
        interval: WINDOW,
        aggregation: {
          alignmentPeriod: { seconds: 60 },
          perSeriesAligner: 'ALIGN_DELTA',
          crossSeriesReducer: 'REDUCE_SUM',
          groupByFields,
        },
      });
      return series.map((s) => [s.metric?.labels?.response_code_class ?? 'all', count(s)]);
    };
    assert.deepEqual((await counts(['metric.labels.response_code_class'])).sort(), [
      ['2xx', 22],
      ['5xx', 8],
    ]);
    assert.deepEqual(await counts([]), [['all', 30]]);
  });

  test('the 5xx count of one revision, filtered on the class', async () => {
    const [series] = await client.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter:
        'metric.type = "run.googleapis.com/request_count" AND resource.labels.revision_name = "web-b" AND metric.labels.response_code_class = "5xx"',
      interval: WINDOW,
      aggregation: {
        alignmentPeriod: { seconds: 60 },
        perSeriesAligner: 'ALIGN_SUM',
        crossSeriesReducer: 'REDUCE_SUM',
      },
    });
    assert.deepEqual(series.map(count), [8]);
  });

  test('an aligner for numbers is refused for latencies through Google’s client', async () => {
    await assert.rejects(
      client.listTimeSeries({
        name: `projects/${PROJECT}`,
        filter: LATENCIES,
        interval: WINDOW,
        aggregation: { alignmentPeriod: { seconds: 60 }, perSeriesAligner: 'ALIGN_RATE' },
      }),
      /The aligner cannot be applied to metrics with kind DELTA and value type DISTRIBUTION\./,
    );
  });

  const bad: { name: string; query: string; status: number; message: RegExp }[] = [
    {
      name: 'no filter',
      query: 'interval.endTime=2026-11-23T10:00:30Z',
      status: 400,
      message:
        /^Field filter had an invalid value of "": The filter must specify a single metric type/,
    },
    {
      name: 'a filter without metric.type',
      query: `filter=${encodeURIComponent('resource.type = "cloud_run_revision"')}&interval.endTime=2026-11-23T10:00:30Z`,
      status: 400,
      message: /The filter must specify a single metric type/,
    },
    {
      name: 'a filter that names no single metric type',
      query: `filter=${encodeURIComponent('metric.type = starts_with("run")')}&interval.endTime=2026-11-23T10:00:30Z`,
      status: 400,
      message: /The filter must specify a single metric type/,
    },
    {
      name: 'no interval',
      query: `filter=${encodeURIComponent('metric.type = "x"')}`,
      status: 400,
      message:
        /^Field interval\.endTime had an invalid value of "": The end time of the interval must be specified\.$/,
    },
    {
      name: 'start after end',
      query: `filter=${encodeURIComponent('metric.type = "x"')}&interval.startTime=2026-11-23T11:00:00Z&interval.endTime=2026-11-23T10:00:00Z`,
      status: 400,
      message: /^Field interval\.startTime had an invalid value of "2026-11-23T11:00:00Z"/,
    },
    {
      name: 'an end time that is not RFC 3339',
      query: `filter=${encodeURIComponent('metric.type = "x"')}&interval.endTime=${encodeURIComponent('Mon, 23 Nov 2026 10:00:00 GMT')}`,
      status: 400,
      message:
        /^Invalid value at 'interval\.end_time' \(type\.googleapis\.com\/google\.protobuf\.Timestamp\)/,
    },
    {
      name: 'an alignment period under a minute (what runway once sent for a 30 s bake)',
      query: `${COUNT}&aggregation.alignmentPeriod=31s&aggregation.perSeriesAligner=ALIGN_SUM`,
      status: 400,
      message:
        /^Field aggregation\.alignmentPeriod had an invalid value of "31s": The alignment period must be greater than or equal to 1 minute\.$/,
    },
    {
      name: 'an aligner without an alignment period',
      query: `${COUNT}&aggregation.perSeriesAligner=ALIGN_SUM`,
      status: 400,
      message:
        /^Field aggregation\.alignmentPeriod had an invalid value of "": An alignment period must be specified/,
    },
    {
      name: 'a reducer without an aligner',
      query: `${COUNT}&aggregation.crossSeriesReducer=REDUCE_SUM`,
      status: 400,
      message:
        /^Field aggregation\.perSeriesAligner had an invalid value of "": A per-series aligner other than ALIGN_NONE/,
    },
    {
      name: 'an unknown aligner',
      query: `${COUNT}&aggregation.alignmentPeriod=60s&aggregation.perSeriesAligner=ALIGN_TOTAL`,
      status: 400,
      message:
        /^Invalid value at 'aggregation\.per_series_aligner' \(type\.googleapis\.com\/google\.monitoring\.v3\.Aggregation\.Aligner\), "ALIGN_TOTAL"$/,
    },
    {
      name: 'an unknown reducer, by number',
      query: `${COUNT}&aggregation.alignmentPeriod=60s&aggregation.perSeriesAligner=14&aggregation.crossSeriesReducer=99`,
      status: 400,
      message:
        /^Invalid value at 'aggregation\.cross_series_reducer' \(type\.googleapis\.com\/google\.monitoring\.v3\.Aggregation\.Reducer\), "99"$/,
    },
    {
      name: 'an alignment period that is no duration',
      query: `${COUNT}&aggregation.alignmentPeriod=1m&aggregation.perSeriesAligner=ALIGN_SUM`,
      status: 400,
      message:
        /^Invalid value at 'aggregation\.alignment_period' \(type\.googleapis\.com\/google\.protobuf\.Duration\), "1m"$/,
    },
    {
      name: 'an aligner that does not apply to an INT64 DELTA metric',
      query: `${COUNT}&aggregation.alignmentPeriod=60s&aggregation.perSeriesAligner=ALIGN_FRACTION_TRUE`,
      status: 400,
      message: /The aligner cannot be applied to metrics with kind DELTA and value type INT64\.$/,
    },
    {
      name: 'a valid aligner the local cloud does not compute',
      query: `${COUNT}&aggregation.alignmentPeriod=60s&aggregation.perSeriesAligner=ALIGN_MEAN`,
      status: 501,
      message: /ALIGN_MEAN is valid, but the local Cloud Monitoring computes/,
    },
  ];
  for (const c of bad) {
    test(`bad request: ${c.name}`, async () => {
      const res = await fetch(`${monitoring.url}/v3/projects/${PROJECT}/timeSeries?${c.query}`);
      const body = (await res.json()) as { error: { code: number; message: string } };
      assert.equal(res.status, c.status);
      assert.match(body.error.message, c.message);
    });
  }

  test('aligned sums: one point per alignment period, newest first, each summing the period before it', async () => {
    const [series] = await client.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter:
        'metric.type = "run.googleapis.com/request_count" AND resource.labels.revision_name = "web-a"',
      interval: interval('2026-11-23T09:58:15Z', '2026-11-23T10:00:15Z'),
      aggregation: { alignmentPeriod: { seconds: 60 }, perSeriesAligner: 'ALIGN_SUM' },
    });
    // 10:00:00..10:00:14 in the newest period, nothing before 10:00:00; empty periods have no point.
    assert.equal(series.length, 1);
    assert.deepEqual(
      series[0]!.points?.map((p) => Number(p.value?.int64Value)),
      [15],
    );
  });

  test("bad requests are refused the same way through Google's client", async () => {
    await assert.rejects(
      client.listTimeSeries({
        name: `projects/${PROJECT}`,
        filter: 'metric.type = "run.googleapis.com/request_count"',
        interval: interval('2026-11-23T10:00:00Z', '2026-11-23T10:00:30Z'),
        aggregation: { alignmentPeriod: { seconds: 30 }, perSeriesAligner: 'ALIGN_SUM' },
      }),
      /The alignment period must be greater than or equal to 1 minute/,
    );
  });

  test('another project or path is NOT_FOUND', async () => {
    assert.equal((await fetch(`${monitoring.url}/v3/projects/other/timeSeries?x`)).status, 404);
    assert.equal(
      (await fetch(`${monitoring.url}/v3/projects/${PROJECT}/alertPolicies`)).status,
      404,
    );
  });
});

describe('local Cloud Monitoring with late data', () => {
  // Cloud Run's metrics become visible up to 180 s after they are sampled; so do local ones
  // when a visibility delay is set, on the stack's own clock.
  test('counts younger than the delay are not there yet, and show up once it has passed', async () => {
    let clock = Date.parse('2026-11-23T10:00:00Z');
    const late = new RequestMetrics(() => clock);
    for (let s = 0; s < 60; s++) {
      clock = Date.parse('2026-11-23T10:00:00Z') + s * 1000;
      late.record('us-central1', 'web', 'web-a', 200);
    }
    const server = await startLocalMonitoring({
      metrics: late,
      project: PROJECT,
      now: () => clock,
      visibilityDelayMs: 180_000,
    });
    const lateClient = new MetricServiceClient(localClientOptions(server.host));
    const total = async () => {
      const [series] = await lateClient.listTimeSeries({
        name: `projects/${PROJECT}`,
        filter:
          'metric.type = "run.googleapis.com/request_count" AND resource.labels.revision_name = "web-a"',
        interval: interval('2026-11-23T10:00:00Z', '2026-11-23T10:01:00Z'),
        aggregation: {
          alignmentPeriod: { seconds: 60 },
          perSeriesAligner: 'ALIGN_SUM',
          crossSeriesReducer: 'REDUCE_SUM',
        },
      });
      return series.reduce((n, s) => n + count(s), 0);
    };
    try {
      const cases = [
        { name: 'right after the minute', at: '2026-11-23T10:01:00Z', want: 0 },
        {
          name: 'half a minute short of the delay: the first 30 s',
          at: '2026-11-23T10:03:30Z',
          want: 30,
        },
        { name: 'after the delay', at: '2026-11-23T10:04:00Z', want: 60 },
      ];
      for (const c of cases) {
        clock = Date.parse(c.at);
        assert.equal(await total(), c.want, c.name);
      }
    } finally {
      await lateClient.close();
      await server.close();
    }
  });
});
