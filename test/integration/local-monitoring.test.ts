// The local Cloud Monitoring through Google's own client (@google-cloud/monitoring, REST mode):
// the router's request counts as run.googleapis.com/request_count, filtered and summed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MetricServiceClient } from '@google-cloud/monitoring';
import { localClientOptions } from '../../local/clients.ts';
import { type LocalMonitoring, startLocalMonitoring } from '../../local/monitoring/server.ts';
import { RequestMetrics } from '../../local/run/metrics.ts';

const PROJECT = 'demo-project';
let now = Date.parse('2026-11-23T10:00:00Z');
const metrics = new RequestMetrics(() => now);
let monitoring: LocalMonitoring;
let client: MetricServiceClient;

before(async () => {
  // 30 s of traffic: web-a answers 2xx; web-b 2xx and one 5xx in four; api-a 4xx.
  for (let s = 0; s < 30; s++) {
    now = Date.parse('2026-11-23T10:00:00Z') + s * 1000;
    metrics.record('web', 'web-a', 200);
    metrics.record('web', 'web-b', s % 4 === 0 ? 503 : 200);
    metrics.record('api', 'api-a', 404);
  }
  monitoring = await startLocalMonitoring({ metrics, project: PROJECT, location: 'us-central1' });
  client = new MetricServiceClient(localClientOptions(monitoring.host));
});
after(async () => {
  await client.close();
  await monitoring.close();
});

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
      interval: interval('2026-11-23T10:00:00Z', '2026-11-23T10:00:30Z'),
      aggregation: {
        alignmentPeriod: { seconds: 30 },
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
      filter: 'metric.type = "run.googleapis.com/request_latencies"',
      interval: interval('2026-11-23T10:00:00Z', '2026-11-23T10:00:30Z'),
    });
    assert.deepEqual(series, []);
  });

  const bad: { name: string; query: string; status: number; message: RegExp }[] = [
    {
      name: 'no filter',
      query: 'interval.endTime=2026-11-23T10:00:30Z',
      status: 400,
      message: /use field = "value" terms|metric.type/,
    },
    {
      name: 'a filter without metric.type',
      query: `filter=${encodeURIComponent('resource.type = "cloud_run_revision"')}&interval.endTime=2026-11-23T10:00:30Z`,
      status: 400,
      message: /must name a metric.type/,
    },
    {
      name: 'an unsupported filter',
      query: `filter=${encodeURIComponent('metric.type = starts_with("run")')}&interval.endTime=2026-11-23T10:00:30Z`,
      status: 400,
      message: /not supported by the local Cloud Monitoring/,
    },
    {
      name: 'no end time',
      query: `filter=${encodeURIComponent('metric.type = "x"')}`,
      status: 400,
      message: /interval.endTime is required/,
    },
    {
      name: 'start after end',
      query: `filter=${encodeURIComponent('metric.type = "x"')}&interval.startTime=2026-11-23T11:00:00Z&interval.endTime=2026-11-23T10:00:00Z`,
      status: 400,
      message: /must not be after/,
    },
    {
      name: 'an unsupported reducer',
      query: `filter=${encodeURIComponent('metric.type = "run.googleapis.com/request_count"')}&interval.endTime=2026-11-23T10:00:30Z&aggregation.crossSeriesReducer=REDUCE_MEAN`,
      status: 400,
      message: /REDUCE_SUM is/,
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

  test('another project or path is NOT_FOUND', async () => {
    assert.equal((await fetch(`${monitoring.url}/v3/projects/other/timeSeries?x`)).status, 404);
    assert.equal(
      (await fetch(`${monitoring.url}/v3/projects/${PROJECT}/alertPolicies`)).status,
      404,
    );
  });
});
