// The local Cloud Run's v1 (Knative) API over raw HTTP, as gcloud calls it: the region in the
// request's host, services read and replaced for traffic, revisions, routes and configurations
// read; and the requests Google refuses refused the same way, changing nothing.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JobsClient, ServicesClient } from '@google-cloud/run';
import { type LocalRegistry, startLocalRegistry } from '../../local/registry/server.ts';
import { projectNumber } from '../../local/run/resources.ts';
import { type LocalRun, startLocalRun } from '../../local/run/index.ts';
import { localClientOptions } from '../../services/shared/clients.ts';

const PROJECT = 'demo-project';
const REGION = 'us-central1';
const PARENT = `projects/${PROJECT}/locations/${REGION}`;
const NUMBER = projectNumber(PROJECT);
const NS = `/apis/serving.knative.dev/v1/namespaces/${PROJECT}`;
const APP = new URL('../fixtures/apps/probe/', import.meta.url).pathname;

// biome-ignore lint/suspicious/noExplicitAny: JSON read back from the API
type Json = Record<string, any>;

let root: string;
let registry: LocalRegistry;
let run: LocalRun;
let services: ServicesClient;
let revs: string[] = [];

/** A request as gcloud sends it: `host` names the region (`us-central1-…`) or none (global). */
function call(
  method: string,
  path: string,
  options: { host?: string; body?: unknown } = {},
): Promise<{ status: number; body: Json }> {
  const port = Number(run.host.split(':')[1]);
  const host = options.host ?? `${REGION}-127.0.0.1:${port}`;
  const text =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: { host, 'content-type': 'application/json' },
      },
      (res) => {
        let out = '';
        res.on('data', (d) => (out += d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(out || '{}') }),
        );
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

async function getService(): Promise<Json> {
  const r = await call('GET', `${NS}/services/web`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/** Polls the v1 service until Ready is True at its generation, as gcloud does. */
async function settled(): Promise<Json> {
  for (let i = 0; i < 200; i++) {
    const s = await getService();
    const ready = s.status.conditions.find((c: Json) => c.type === 'Ready');
    if (s.status.observedGeneration === s.metadata.generation && ready.status === 'True') return s;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail('the service did not settle');
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'runway-knative-'));
  registry = await startLocalRegistry({ root: join(root, 'registry') });
  run = await startLocalRun({
    project: PROJECT,
    region: REGION,
    images: registry.images,
    logDir: join(root, 'logs'),
    graceMs: 300,
    settleMs: 300,
  });
  const image = (await registry.push(APP, `${REGION}-docker.pkg.dev/${PROJECT}/apps/probe:v1`))
    .digestRef;
  services = new ServicesClient(localClientOptions(run.host));
  for (const greeting of ['one', 'two']) {
    const [op] = await services.updateService({
      service: {
        name: `${PARENT}/services/web`,
        labels: { team: 'a' },
        annotations: { 'runway.dev/digest': 'sha256:x' },
        template: {
          containers: [{ image, env: [{ name: 'GREETING', value: greeting }] }],
          scaling: { maxInstanceCount: 3 },
        },
      },
      allowMissing: true,
    });
    await op.promise();
  }
  const [list] = await services.listServices({ parent: PARENT });
  assert.equal(list.length, 1);
  revs = (await call('GET', `${NS}/revisions`)).body.items.map((r: Json) => r.metadata.name);
});

after(async () => {
  await services?.close();
  await run?.close();
  await registry?.close();
  await rm(root, { recursive: true, force: true });
});

describe('reads', () => {
  test('a service as Knative shows it', async () => {
    const s = await getService();
    assert.equal(s.apiVersion, 'serving.knative.dev/v1');
    assert.equal(s.kind, 'Service');
    assert.equal(s.metadata.name, 'web');
    assert.equal(s.metadata.namespace, NUMBER);
    assert.equal(s.metadata.labels.team, 'a');
    assert.equal(s.metadata.labels['cloud.googleapis.com/location'], REGION);
    assert.equal(s.metadata.annotations['runway.dev/digest'], 'sha256:x');
    assert.equal(s.metadata.annotations['run.googleapis.com/ingress'], 'all');
    assert.equal(s.metadata.generation, 2);
    assert.match(s.metadata.resourceVersion, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(s.spec.traffic, [{ latestRevision: true, percent: 100 }]);
    assert.equal(s.spec.template.metadata.annotations['autoscaling.knative.dev/maxScale'], '3');
    const container = s.spec.template.spec.containers[0];
    assert.deepEqual(container.env, [{ name: 'GREETING', value: 'two' }]);
    assert.deepEqual(container.ports, [{ name: 'http1', containerPort: 8080 }]);
    assert.equal(s.spec.template.spec.timeoutSeconds, 300);
    assert.deepEqual(
      s.status.conditions.map((c: Json) => [c.type, c.status]),
      [
        ['Ready', 'True'],
        ['ConfigurationsReady', 'True'],
        ['RoutesReady', 'True'],
      ],
    );
    assert.equal(s.status.latestReadyRevisionName, revs[0]);
    assert.deepEqual(s.status.traffic, [
      { revisionName: revs[0], percent: 100, latestRevision: true },
    ]);
    assert.match(s.status.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(s.status.address.url, s.status.url);
  });

  const lists: { name: string; path: string; host?: string; want: string[] }[] = [
    { name: 'namespaces by project id', path: `${NS}/services`, want: ['web'] },
    {
      name: 'namespaces by project number',
      path: `/apis/serving.knative.dev/v1/namespaces/${NUMBER}/services`,
      want: ['web'],
    },
    {
      name: 'the global endpoint lists every region',
      path: `${NS}/services`,
      host: '127.0.0.1',
      want: ['web'],
    },
    {
      name: 'another region has none',
      path: `${NS}/services`,
      host: 'europe-west1-127.0.0.1',
      want: [],
    },
    {
      name: 'projects/P/locations/- (every region)',
      path: `/v1/projects/${PROJECT}/locations/-/services`,
      want: ['web'],
    },
    {
      name: 'projects/P/locations/other',
      path: `/v1/projects/${PROJECT}/locations/asia-east1/services`,
      want: [],
    },
    { name: 'routes', path: `${NS}/routes`, want: ['web'] },
    { name: 'configurations', path: `${NS}/configurations`, want: ['web'] },
  ];
  for (const c of lists) {
    test(`list: ${c.name}`, async () => {
      const r = await call('GET', c.path, c.host ? { host: c.host } : {});
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.match(r.body.kind, /List$/);
      assert.deepEqual(
        r.body.items.map((i: Json) => i.metadata.name),
        c.want,
      );
    });
  }

  test('revisions: newest first, by label selector, one by name', async () => {
    const all = await call(
      'GET',
      `${NS}/revisions?labelSelector=${encodeURIComponent('serving.knative.dev/service = web')}`,
    );
    assert.deepEqual(
      all.body.items.map((r: Json) => r.metadata.name),
      revs,
    );
    const none = await call(
      'GET',
      `${NS}/revisions?labelSelector=serving.knative.dev/service=other`,
    );
    assert.deepEqual(none.body.items, []);
    const one = (await call('GET', `${NS}/revisions/${revs[1]}`)).body;
    assert.equal(one.kind, 'Revision');
    assert.equal(one.metadata.labels['serving.knative.dev/service'], 'web');
    assert.equal(one.metadata.ownerReferences[0].kind, 'Configuration');
    assert.deepEqual(
      one.status.conditions.find((c: Json) => c.type === 'Active'),
      { ...one.status.conditions.find((c: Json) => c.type === 'Active'), status: 'False' },
    );
    assert.match(one.status.imageDigest, /@sha256:[0-9a-f]{64}$/);
    const page = await call('GET', `${NS}/revisions?limit=1`);
    assert.equal(page.body.items.length, 1);
    const next = await call(
      'GET',
      `${NS}/revisions?limit=1&continue=${page.body.metadata.continue}`,
    );
    assert.equal(next.body.items[0].metadata.name, revs[1]);
  });

  test('a route and a configuration by name', async () => {
    const route = (await call('GET', `${NS}/routes/web`)).body;
    assert.equal(route.kind, 'Route');
    assert.deepEqual(route.spec.traffic, [{ latestRevision: true, percent: 100 }]);
    const config = (await call('GET', `${NS}/configurations/web`)).body;
    assert.equal(config.kind, 'Configuration');
    assert.equal(config.status.latestReadyRevisionName, revs[0]);
  });
});

describe('replaceService moves traffic', () => {
  test('a split by revision name and tag, then back to the latest', async () => {
    const s = await getService();
    s.spec.traffic = [
      { revisionName: revs[1], percent: 25, tag: 'old' },
      { latestRevision: true, percent: 75 },
    ];
    const put = await call('PUT', `${NS}/services/web`, { body: s });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.metadata.generation, 3);
    const done = await settled();
    assert.deepEqual(
      done.status.traffic.map((t: Json) => [t.revisionName, t.percent, t.tag ?? null]),
      [
        [revs[1], 25, 'old'],
        [revs[0], 75, null],
      ],
    );
    assert.match(done.status.traffic[0].url, /^http:\/\/127\.0\.0\.1:\d+$/);
    // Labels and annotations are the request's; the server's own stay derived.
    done.metadata.labels = { team: 'b' };
    done.metadata.annotations = { 'runway.dev/digest': 'sha256:y' };
    done.spec.traffic = [];
    assert.equal((await call('PUT', `${NS}/services/web`, { body: done })).status, 200);
    const back = await settled();
    assert.deepEqual(back.spec.traffic, [{ latestRevision: true, percent: 100 }]);
    assert.equal(back.metadata.labels.team, 'b');
    assert.equal(back.metadata.labels['cloud.googleapis.com/location'], REGION);
    assert.equal(back.metadata.annotations['runway.dev/digest'], 'sha256:y');
    const [v2] = await services.getService({ name: `${PARENT}/services/web` });
    assert.deepEqual(v2.labels, { team: 'b' });
  });

  test('dryRun=all changes nothing', async () => {
    const s = await getService();
    s.spec.traffic = [{ revisionName: revs[1], percent: 100 }];
    assert.equal((await call('PUT', `${NS}/services/web?dryRun=all`, { body: s })).status, 200);
    assert.deepEqual((await getService()).spec.traffic, [{ latestRevision: true, percent: 100 }]);
  });
});

describe('refusals change nothing', () => {
  const withTraffic = (traffic: unknown) => async () => {
    const s = await getService();
    s.spec.traffic = traffic;
    return s;
  };
  const cases: {
    name: string;
    method?: string;
    path?: string;
    host?: string;
    body?: () => Promise<unknown>;
    status: number;
    message: RegExp;
  }[] = [
    {
      name: 'get on the global endpoint',
      path: `${NS}/services/web`,
      host: '127.0.0.1',
      status: 400,
      message: /global endpoint serves list methods only/,
    },
    {
      name: 'get in another region',
      path: `${NS}/services/web`,
      host: 'europe-west1-127.0.0.1',
      status: 404,
      message: /Resource 'web' of kind 'SERVICE' in region 'europe-west1'/,
    },
    { name: 'an unknown service', path: `${NS}/services/nope`, status: 404, message: /'nope'/ },
    {
      name: 'an unknown revision',
      path: `${NS}/revisions/web-nope`,
      status: 404,
      message: /web-nope/,
    },
    {
      name: 'another namespace',
      path: '/apis/serving.knative.dev/v1/namespaces/other/services',
      status: 404,
      message: /Namespace 'other' is not served here/,
    },
    {
      name: 'a label selector it cannot read',
      path: `${NS}/revisions?labelSelector=${encodeURIComponent('a in (b)')}`,
      status: 400,
      message: /labelSelector: cannot parse/,
    },
    {
      name: 'a continue token it never gave',
      path: `${NS}/revisions?continue=zzz`,
      status: 400,
      message: /continue/,
    },
    {
      name: 'create through v1',
      method: 'POST',
      path: `${NS}/services`,
      body: async () => ({}),
      status: 405,
      message: /Method POST is not allowed/,
    },
    {
      name: 'a body that is not JSON',
      method: 'PUT',
      body: async () => '{',
      status: 400,
      message: /not valid JSON/,
    },
    {
      name: 'a stale resourceVersion',
      method: 'PUT',
      body: async () => {
        const s = await getService();
        s.metadata.resourceVersion = 'stale';
        return s;
      },
      status: 409,
      message: /has changed/,
    },
    {
      name: 'a name that is not the URL',
      method: 'PUT',
      body: async () => ({ ...(await getService()), metadata: { name: 'other' } }),
      status: 400,
      message: /does not match the name in the URL/,
    },
    {
      name: 'a template without containers',
      method: 'PUT',
      body: async () => {
        const s = await getService();
        s.spec.template.spec.containers = [];
        return s;
      },
      status: 400,
      message: /at least one container/,
    },
    {
      name: 'a container without an image',
      method: 'PUT',
      body: async () => {
        const s = await getService();
        s.spec.template.spec.containers[0].image = '';
        return s;
      },
      status: 400,
      message: /containers\[0\]\.image is required/,
    },
    {
      name: 'a minScale that is not a number',
      method: 'PUT',
      body: async () => {
        const s = await getService();
        s.spec.template.metadata.annotations['autoscaling.knative.dev/minScale'] = 'many';
        return s;
      },
      status: 400,
      message: /minScale\] must be a whole number/,
    },
    {
      name: 'a configurationName target',
      method: 'PUT',
      body: withTraffic([{ configurationName: 'web', percent: 100 }]),
      status: 400,
      message: /must not set the field\(s\): spec\.traffic\[0\]\.configurationName/,
    },
    {
      name: 'latestRevision and a revisionName together',
      method: 'PUT',
      body: withTraffic([{ latestRevision: true, revisionName: 'x', percent: 100 }]),
      status: 400,
      message: /may not set revisionName/,
    },
    {
      name: 'neither latestRevision nor a revisionName',
      method: 'PUT',
      body: withTraffic([{ percent: 100 }]),
      status: 400,
      message: /expected exactly one, got neither/,
    },
    {
      name: 'percentages that do not sum to 100',
      method: 'PUT',
      body: withTraffic([{ latestRevision: true, percent: 60 }]),
      status: 400,
      message: /sum to 100/,
    },
    {
      name: 'a revision of no service',
      method: 'PUT',
      body: withTraffic([{ revisionName: 'web-00099-zzz', percent: 100 }]),
      status: 400,
      message: /Revision 'web-00099-zzz' does not exist/,
    },
    {
      name: 'an ingress Cloud Run does not know',
      method: 'PUT',
      body: async () => {
        const s = await getService();
        s.metadata.annotations['run.googleapis.com/ingress'] = 'everyone';
        return s;
      },
      status: 400,
      message: /is not one of all, internal/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const before = await getService();
      const body = c.body ? await c.body() : undefined;
      const r = await call(c.method ?? 'GET', c.path ?? `${NS}/services/web`, {
        ...(c.host ? { host: c.host } : {}),
        ...(body !== undefined ? { body } : {}),
      });
      assert.equal(r.status, c.status, JSON.stringify(r.body));
      assert.match(r.body.error.message, c.message);
      const now = await getService();
      assert.equal(now.metadata.resourceVersion, before.metadata.resourceVersion);
    });
  }
});

describe('replaceService with a changed template, as `gcloud run services update --image` sends it', () => {
  test('makes a new revision on the v2 path; generation and Ready move as gcloud waits for them', async () => {
    const before = await settled();
    const image = (await registry.push(APP, `${REGION}-docker.pkg.dev/${PROJECT}/apps/probe:v2`))
      .digestRef;
    const s = structuredClone(before);
    s.spec.template.metadata.labels = { 'client.knative.dev/nonce': 'abcdef' };
    s.spec.template.spec.containers[0].image = image;
    s.spec.template.spec.containers[0].env = [{ name: 'GREETING', value: 'three' }];
    s.spec.traffic = [{ latestRevision: true, percent: 100 }];
    const put = await call('PUT', `${NS}/services/web`, { body: s });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.metadata.generation, before.metadata.generation + 1);
    const done = await settled();
    assert.notEqual(done.status.latestReadyRevisionName, before.status.latestReadyRevisionName);
    assert.equal(done.spec.template.spec.containers[0].image, image);
    assert.deepEqual(
      done.status.traffic.map((t: Json) => [t.revisionName, t.percent]),
      [[done.status.latestReadyRevisionName, 100]],
    );
    const [v2] = await services.getService({ name: `${PARENT}/services/web` });
    const c = v2.template?.containers?.[0];
    assert.equal(c?.image, image);
    assert.deepEqual(
      c?.env?.map((e) => [e.name, e.value]),
      [['GREETING', 'three']],
    );
    assert.equal(v2.template?.scaling?.maxInstanceCount, 3, 'what v1 leaves alone is kept');
    assert.deepEqual(v2.template?.labels ?? {}, {}, 'the nonce is not kept');
  });
});

describe('v1 jobs (run.googleapis.com/v1), as `gcloud run jobs describe|update` call them', () => {
  const JOBS = `/apis/run.googleapis.com/v1/namespaces/${PROJECT}/jobs`;
  let jobs: JobsClient;
  let image: string;
  before(async () => {
    jobs = new JobsClient(localClientOptions(run.host));
    image = (await registry.push(APP, `${REGION}-docker.pkg.dev/${PROJECT}/apps/probe:job`))
      .digestRef;
    const [op] = await jobs.createJob({
      parent: PARENT,
      jobId: 'batch',
      job: {
        labels: { team: 'a' },
        template: {
          taskCount: 2,
          template: {
            containers: [{ image, env: [{ name: 'MODE', value: 'one' }] }],
            maxRetries: 1,
          },
        },
      },
    });
    await op.promise();
  });
  after(() => jobs.close());

  test('get shows the job as v1 does', async () => {
    const r = await call('GET', `${JOBS}/batch`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.apiVersion, 'run.googleapis.com/v1');
    assert.equal(r.body.kind, 'Job');
    assert.equal(r.body.metadata.namespace, NUMBER);
    assert.equal(r.body.metadata.labels.team, 'a');
    assert.equal(r.body.spec.template.spec.taskCount, 2);
    const task = r.body.spec.template.spec.template.spec;
    assert.equal(task.containers[0].image, image);
    assert.equal(task.maxRetries, 1);
    assert.equal(r.body.status.conditions[0].type, 'Ready');
    assert.equal(r.body.status.conditions[0].status, 'True');
  });

  test('replaceJob changes the image and env through v2; what v1 leaves alone is kept', async () => {
    const j = (await call('GET', `${JOBS}/batch`)).body;
    const next = (await registry.push(APP, `${REGION}-docker.pkg.dev/${PROJECT}/apps/probe:job2`))
      .digestRef;
    j.spec.template.spec.template.spec.containers[0].image = next;
    j.spec.template.spec.template.spec.containers[0].env = [{ name: 'MODE', value: 'two' }];
    const put = await call('PUT', `${JOBS}/batch`, { body: j });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.metadata.generation, j.metadata.generation + 1);
    assert.equal(put.body.status.observedGeneration, put.body.metadata.generation);
    const [v2] = await jobs.getJob({ name: `${PARENT}/jobs/batch` });
    const c = v2.template?.template?.containers?.[0];
    assert.equal(c?.image, next);
    assert.deepEqual(
      c?.env?.map((e) => [e.name, e.value]),
      [['MODE', 'two']],
    );
    assert.equal(v2.template?.taskCount, 2);
    assert.deepEqual(v2.labels, { team: 'a' });
  });

  const refusals: {
    name: string;
    method: string;
    path?: string;
    host?: string;
    edit?: (j: Json) => void;
    status: number;
    message: RegExp;
  }[] = [
    {
      name: 'an unknown job',
      method: 'GET',
      path: `${JOBS}/nope`,
      status: 404,
      message: /'nope' of kind 'JOB'/,
    },
    {
      name: 'the global endpoint',
      method: 'GET',
      host: '127.0.0.1',
      status: 400,
      message: /regional endpoint/,
    },
    {
      name: 'another region',
      method: 'GET',
      host: 'europe-west1-127.0.0.1',
      status: 404,
      message: /region 'europe-west1'/,
    },
    {
      name: 'another namespace',
      method: 'GET',
      path: '/apis/run.googleapis.com/v1/namespaces/other/jobs/batch',
      status: 404,
      message: /Namespace 'other'/,
    },
    {
      name: 'a name that is not the URL',
      method: 'PUT',
      edit: (j) => {
        j.metadata.name = 'other';
      },
      status: 400,
      message: /does not match the name in the URL/,
    },
    {
      name: 'a stale resourceVersion',
      method: 'PUT',
      edit: (j) => {
        j.metadata.resourceVersion = 'stale';
      },
      status: 409,
      message: /has changed/,
    },
    {
      name: 'no containers',
      method: 'PUT',
      edit: (j) => {
        j.spec.template.spec.template.spec.containers = [];
      },
      status: 400,
      message: /at least one container/,
    },
    {
      name: 'a container without an image',
      method: 'PUT',
      edit: (j) => {
        j.spec.template.spec.template.spec.containers[0].image = '';
      },
      status: 400,
      message: /image is required/,
    },
    {
      name: 'a task count of zero',
      method: 'PUT',
      edit: (j) => {
        j.spec.template.spec.taskCount = 0;
      },
      status: 400,
      message: /taskCount must be a whole number of at least 1/,
    },
    {
      name: 'another kind',
      method: 'PUT',
      edit: (j) => {
        j.kind = 'Service';
      },
      status: 400,
      message: /kind must be Job/,
    },
  ];
  for (const c of refusals) {
    test(`refused: ${c.name}`, async () => {
      const before = (await call('GET', `${JOBS}/batch`)).body;
      let body: Json | undefined;
      if (c.edit) {
        body = structuredClone(before);
        c.edit(body);
      }
      const r = await call(c.method, c.path ?? `${JOBS}/batch`, {
        ...(c.host ? { host: c.host } : {}),
        ...(body ? { body } : {}),
      });
      assert.equal(r.status, c.status, JSON.stringify(r.body));
      assert.match(r.body.error.message, c.message);
      const now = (await call('GET', `${JOBS}/batch`)).body;
      assert.equal(now.metadata.resourceVersion, before.metadata.resourceVersion);
    });
  }
});
