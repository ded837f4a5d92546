// Request latencies measured by the local Cloud Run's router, as Cloud Monitoring reports them:
// a revision of the sample app slowed by LATENCY_MS and a fast one, real processes behind real
// sockets, read back as run.googleapis.com/request_latencies through Google's Monitoring client.
// And a service of the same name and revision name in two regions, each request labelled with the
// region of the service that served it (resource.labels.location).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MetricServiceClient } from '@google-cloud/monitoring';
import { ServicesClient } from '@google-cloud/run';
import { type LocalMonitoring, startLocalMonitoring } from '../../local/monitoring/server.ts';
import { type LocalRegistry, startLocalRegistry } from '../../local/registry/server.ts';
import { type LocalRun, startLocalRun } from '../../local/run/index.ts';
import { localClientOptions } from '../../services/shared/clients.ts';

const PROJECT = 'demo-project';
const REGION = 'us-central1';
const APP = new URL('../../services/sample-app/', import.meta.url).pathname;
const SLOW_MS = 300;
const TWIN = 'twin-0123456789ab';
/** Requests to the twin service, per region. */
const TWIN_REQUESTS: Record<string, number> = { 'us-central1': 2, 'europe-west1': 3 };

let root: string;
let registry: LocalRegistry;
let run: LocalRun;
let monitoring: LocalMonitoring;
let services: ServicesClient;
let client: MetricServiceClient;
const revisions: Record<string, string> = {};
let started: number;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'runway-latencies-'));
  registry = await startLocalRegistry({ root: join(root, 'registry') });
  run = await startLocalRun({
    project: PROJECT,
    region: REGION,
    images: registry.images,
    logDir: join(root, 'logs'),
    graceMs: 300,
    settleMs: 300,
  });
  monitoring = await startLocalMonitoring({
    metrics: run.metrics,
    project: PROJECT,
  });
  services = new ServicesClient(localClientOptions(run.host));
  client = new MetricServiceClient(localClientOptions(monitoring.host));
  const image = (await registry.push(APP, `${REGION}-docker.pkg.dev/${PROJECT}/apps/sample:v1`))
    .digestRef;
  started = Date.now();
  for (const [id, env] of [
    ['slow', [{ name: 'LATENCY_MS', value: String(SLOW_MS) }]],
    ['fast', []],
  ] as const) {
    const [op] = await services.createService({
      parent: `projects/${PROJECT}/locations/${REGION}`,
      serviceId: id,
      service: { template: { containers: [{ image, env: [...env] }] } },
    });
    const [svc] = await op.promise();
    revisions[id] = String(svc.latestReadyRevision).split('/').at(-1)!;
    // Ten requests each, one after another so that no request waits for a new instance to
    // start: the router times each from its start to its end.
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${svc.uri}/`);
      assert.equal(res.status, 200);
      await res.text();
    }
  }
  for (const [region, n] of Object.entries(TWIN_REQUESTS)) {
    const [op] = await services.createService({
      parent: `projects/${PROJECT}/locations/${region}`,
      serviceId: 'twin',
      service: { template: { revision: TWIN, containers: [{ image }] } },
    });
    const [svc] = await op.promise();
    assert.equal(String(svc.latestReadyRevision).split('/').at(-1), TWIN);
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${svc.uri}/`);
      assert.equal(res.status, 200);
      await res.text();
    }
  }
});
after(async () => {
  await client?.close();
  await services?.close();
  await monitoring?.close();
  await run?.close();
  await registry?.close();
  await rm(root, { recursive: true, force: true });
});

describe('latencies through the router', () => {
  test('p99 per revision: the slow revision above its LATENCY_MS, the fast one well under it', async () => {
    const end = Math.ceil((Date.now() + 1000) / 1000) * 1000;
    const [series] = await client.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter:
        'metric.type = "run.googleapis.com/request_latencies" AND resource.type = "cloud_run_revision" AND resource.labels.service_name = one_of("slow", "fast")',
      interval: {
        startTime: { seconds: Math.floor(started / 1000) - 60 },
        endTime: { seconds: end / 1000 },
      },
      aggregation: {
        alignmentPeriod: { seconds: Math.max(60, Math.ceil((end - started) / 1000) + 60) },
        perSeriesAligner: 'ALIGN_DELTA',
        crossSeriesReducer: 'REDUCE_PERCENTILE_99',
        groupByFields: ['resource.labels.revision_name'],
      },
    });
    const p99 = Object.fromEntries(
      series.map((s) => [
        s.resource?.labels?.revision_name,
        s.points?.[0]?.value?.doubleValue ?? 0,
      ]),
    );
    const slow = p99[revisions.slow!]!;
    const fast = p99[revisions.fast!]!;
    // 300 ms lies in the bucket [289.3, 404.9): its p99 is read from there or above.
    assert.ok(slow >= 289, `slow p99 ${slow}`);
    assert.ok(fast < 200, `fast p99 ${fast}`);
  });

  test('every request timed is counted, with its code class', async () => {
    const [series] = await client.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter: `metric.type = "run.googleapis.com/request_latencies" AND resource.labels.revision_name = "${revisions.slow}"`,
      interval: {
        startTime: { seconds: Math.floor(started / 1000) - 60 },
        endTime: { seconds: Math.ceil(Date.now() / 1000) + 1 },
      },
    });
    assert.equal(series.length, 1);
    assert.equal(series[0]!.metric?.labels?.response_code_class, '2xx');
    const d = series[0]!.points?.[0]?.value?.distributionValue;
    assert.equal(Number(d?.count), 10);
    assert.ok(Number(d?.mean) >= SLOW_MS, `mean ${d?.mean}`);
  });

  test('a revision of the same name in two regions: a series per region, one per location filter', async () => {
    const interval = {
      startTime: { seconds: Math.floor(started / 1000) - 60 },
      endTime: { seconds: Math.ceil(Date.now() / 1000) + 1 },
    };
    const filter = `metric.type = "run.googleapis.com/request_count" AND resource.labels.revision_name = "${TWIN}"`;
    const [series] = await client.listTimeSeries({ name: `projects/${PROJECT}`, filter, interval });
    const byRegion = Object.fromEntries(
      series.map((s) => [s.resource?.labels?.location, Number(s.points?.[0]?.value?.int64Value)]),
    );
    assert.deepEqual(byRegion, TWIN_REQUESTS);
    const [europe] = await client.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter: `${filter} AND resource.labels.location = "europe-west1"`,
      interval,
    });
    assert.equal(europe.length, 1);
    assert.equal(europe[0]!.resource?.labels?.service_name, 'twin');
    assert.equal(Number(europe[0]!.points?.[0]?.value?.int64Value), 3);
  });
});
