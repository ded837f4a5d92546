// projects.timeSeries.list over the router's records when one project runs a service in two
// regions: as on Google, `location` is a resource label of cloud_run_revision, so a revision of
// the same name in us-central1 and europe-west1 is two series, a filter on
// resource.labels.location selects one region's, and a reducer combines the regions unless the
// request groups by location.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RequestMetrics } from '../run/metrics.ts';
import { listTimeSeries, REQUEST_COUNT, REQUEST_LATENCIES } from './server.ts';

const T0 = Date.parse('2026-11-23T10:00:00Z');
const REV = 'web-0123456789ab';

// The same service and revision names in two regions: us-central1 answers 3 requests 2xx in
// 10 ms; europe-west1 answers 5 2xx and 2 5xx, each in 1000 ms. Another service in us-central1.
let now = T0;
const metrics = new RequestMetrics(() => now);
for (let s = 0; s < 10; s++) {
  now = T0 + s * 1000;
  if (s < 3) metrics.record('us-central1', 'web', REV, 200, 10);
  if (s < 5) metrics.record('europe-west1', 'web', REV, 200, 1000);
  if (s < 2) metrics.record('europe-west1', 'web', REV, 503, 1000);
  if (s < 4) metrics.record('us-central1', 'api', 'api-0123456789ab', 200, 10);
}
now = T0 + 60_000;

type Listed = ReturnType<typeof listTimeSeries>['timeSeries'][number];

function list(filter: string, aggregation: Record<string, string | string[]> = {}): Listed[] {
  const query = new URLSearchParams({
    filter,
    'interval.startTime': new Date(T0 - 60_000).toISOString(),
    'interval.endTime': new Date(T0 + 60_000).toISOString(),
  });
  for (const [k, v] of Object.entries(aggregation)) {
    for (const one of [v].flat()) query.append(`aggregation.${k}`, one);
  }
  return listTimeSeries(metrics, 'demo-project', query, { now: () => now }).timeSeries;
}

const COUNT = `metric.type = "${REQUEST_COUNT}"`;
const WEB = `${COUNT} AND resource.labels.revision_name = "${REV}"`;
const SUM = {
  alignmentPeriod: '120s',
  perSeriesAligner: 'ALIGN_SUM',
  crossSeriesReducer: 'REDUCE_SUM',
};

/** Each series as `location/revision/class` (a label it lacks as `-`) -> its one point's count. */
function counts(series: Listed[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of series) {
    assert.equal(s.points.length, 1);
    const r = s.resource.labels;
    const key = `${r.location ?? '-'}/${r.revision_name ?? '-'}/${s.metric.labels.response_code_class ?? '-'}`;
    assert.equal(out[key], undefined, `two series ${key}`);
    const value = s.points[0]!.value as { int64Value?: string };
    out[key] = Number(value.int64Value);
  }
  return out;
}

describe('time series of two regions with the same revision names', () => {
  const cases: {
    name: string;
    filter: string;
    aggregation?: Record<string, string | string[]>;
    want: Record<string, number>;
  }[] = [
    {
      name: 'unfiltered: a series per region, the same revision name in each',
      filter: WEB,
      want: {
        [`us-central1/${REV}/2xx`]: 3,
        [`europe-west1/${REV}/2xx`]: 5,
        [`europe-west1/${REV}/5xx`]: 2,
      },
    },
    {
      name: 'a location filter selects one region',
      filter: `${WEB} AND resource.labels.location = "europe-west1"`,
      want: { [`europe-west1/${REV}/2xx`]: 5, [`europe-west1/${REV}/5xx`]: 2 },
    },
    {
      name: 'the other region, every service in it',
      filter: `${COUNT} AND resource.label.location = "us-central1"`,
      want: { [`us-central1/${REV}/2xx`]: 3, 'us-central1/api-0123456789ab/2xx': 4 },
    },
    {
      name: 'a region no request was served in has no series',
      filter: `${WEB} AND resource.labels.location = "asia-east1"`,
      want: {},
    },
    {
      name: 'location != excludes a region',
      filter: `${WEB} AND resource.labels.location != "us-central1"`,
      want: { [`europe-west1/${REV}/2xx`]: 5, [`europe-west1/${REV}/5xx`]: 2 },
    },
    {
      name: 'REDUCE_SUM grouped by location: a sum per region',
      filter: WEB,
      aggregation: { ...SUM, groupByFields: 'resource.labels.location' },
      want: { 'us-central1/-/-': 3, 'europe-west1/-/-': 7 },
    },
    {
      name: 'REDUCE_SUM grouped by location and class',
      filter: WEB,
      aggregation: {
        ...SUM,
        groupByFields: ['resource.labels.location', 'metric.labels.response_code_class'],
      },
      want: { 'us-central1/-/2xx': 3, 'europe-west1/-/2xx': 5, 'europe-west1/-/5xx': 2 },
    },
    {
      name: 'REDUCE_SUM grouped by revision alone combines both regions',
      filter: WEB,
      aggregation: { ...SUM, groupByFields: 'resource.labels.revision_name' },
      want: { [`-/${REV}/-`]: 10 },
    },
    {
      name: 'REDUCE_SUM without group-by combines both regions',
      filter: WEB,
      aggregation: SUM,
      want: { '-/-/-': 10 },
    },
    {
      name: 'REDUCE_COUNT grouped by location: how many series each region has',
      filter: WEB,
      aggregation: {
        ...SUM,
        crossSeriesReducer: 'REDUCE_COUNT',
        groupByFields: 'resource.labels.location',
      },
      want: { 'us-central1/-/-': 1, 'europe-west1/-/-': 2 },
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(counts(list(c.filter, c.aggregation)), c.want));
  }

  test('an unreduced series carries its region among its resource labels', () => {
    const [series] = list(`${WEB} AND resource.labels.location = "europe-west1"`);
    assert.deepEqual(series?.resource, {
      type: 'cloud_run_revision',
      labels: {
        project_id: 'demo-project',
        location: 'europe-west1',
        service_name: 'web',
        configuration_name: 'web',
        revision_name: REV,
      },
    });
  });

  test('latency percentiles: per region when grouped by location, mixed without', () => {
    const p50 = (aggregation: Record<string, string | string[]>) =>
      Object.fromEntries(
        list(`metric.type = "${REQUEST_LATENCIES}" AND resource.labels.revision_name = "${REV}"`, {
          alignmentPeriod: '120s',
          perSeriesAligner: 'ALIGN_DELTA',
          crossSeriesReducer: 'REDUCE_PERCENTILE_50',
          ...aggregation,
        }).map((s) => [
          s.resource.labels.location ?? '-',
          (s.points[0]!.value as { doubleValue: number }).doubleValue,
        ]),
      );
    const regions = p50({ groupByFields: 'resource.labels.location' });
    assert.deepEqual(Object.keys(regions).sort(), ['europe-west1', 'us-central1']);
    assert.ok(regions['us-central1']! < 20, `us-central1 p50 ${regions['us-central1']}`);
    assert.ok(regions['europe-west1']! > 500, `europe-west1 p50 ${regions['europe-west1']}`);
    // Without grouping, the 7 slow requests of europe-west1 outweigh the 3 fast of us-central1.
    const mixed = p50({});
    assert.deepEqual(Object.keys(mixed), ['-']);
    assert.ok(mixed['-']! > 500, `mixed p50 ${mixed['-']}`);
  });
});
