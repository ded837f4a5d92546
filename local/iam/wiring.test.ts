// The local APIs with IAM on, over real sockets: who the caller is, what Google answers when the
// caller lacks a permission (403 PERMISSION_DENIED naming it, with an ErrorInfo), act-as on the
// account a resource runs as, and nothing done before the check.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { notFound } from '../../services/shared/errors.ts';
import { type LocalIssuer, startIssuer } from '../identity/issuer.ts';
import { startLocalMonitoring } from '../monitoring/server.ts';
import { KnativeView } from '../run/knative.ts';
import { RequestMetrics } from '../run/metrics.ts';
import { type LocalRun, startLocalRun } from '../run/index.ts';
import { type LocalScheduler, startLocalScheduler } from '../scheduler/server.ts';
import { type ExecutionsServer, startExecutionsServer } from '../workflows/api/server.ts';
import { policyGate } from './caller.ts';
import { Policy } from './policy.ts';

const P = 'projects/p/locations/us-central1';
const DEV = 'user:developer@local';
const WORKFLOW = 'runway-workflow@p.iam.gserviceaccount.com';
const APP = 'runway-app@p.iam.gserviceaccount.com';
const ACCEPTANCE = 'runway-acceptance@p.iam.gserviceaccount.com';

describe('the local APIs with IAM on', () => {
  let issuer: LocalIssuer;
  let run: LocalRun;
  let workflows: ExecutionsServer;
  let scheduler: LocalScheduler;
  let monitoring: Awaited<ReturnType<typeof startLocalMonitoring>>;
  let workflowToken: string;
  const policy = new Policy(
    [
      { principal: DEV, role: 'roles/viewer', resource: 'projects/p' },
      {
        principal: `serviceAccount:${WORKFLOW}`,
        role: 'roles/run.developer',
        resource: `${P}/services/s`,
      },
      {
        principal: `serviceAccount:${WORKFLOW}`,
        role: 'roles/iam.serviceAccountUser',
        resource: `projects/-/serviceAccounts/${APP}`,
      },
    ],
    { project: 'p' },
  );

  before(async () => {
    issuer = await startIssuer();
    workflowToken = issuer.issuer.accessToken(`serviceAccount:${WORKFLOW}`).token;
    const gate = policyGate({ policy, issuer: issuer.issuer, localUser: DEV });
    run = await startLocalRun({
      project: 'p',
      region: 'us-central1',
      images: { resolve: async () => assert.fail('no image is resolved before the check') },
      gate,
    });
    workflows = await startExecutionsServer({ project: 'p', location: 'us-central1', gate });
    scheduler = await startLocalScheduler({ project: 'p', gate });
    monitoring = await startLocalMonitoring({
      metrics: new RequestMetrics(),
      project: 'p',
      gate,
    });
  });
  after(async () => {
    await Promise.all([run.close(), workflows.close(), scheduler.close(), monitoring.close()]);
    await issuer.close();
  });

  const call = async (
    base: () => string,
    method: string,
    path: string,
    auth: string | undefined,
    body?: unknown,
  ) => {
    const res = await fetch(`${base()}${path}`, {
      method,
      headers: {
        ...(auth ? { authorization: auth } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as { error?: Record<string, unknown> } };
  };
  const template = (sa?: string) => ({
    template: {
      ...(sa ? { serviceAccount: sa } : {}),
      containers: [{ image: 'x-docker.pkg.dev/p/r/i@sha256:' + '0'.repeat(64) }],
    },
  });

  const cases: {
    name: string;
    api: () => string;
    method: string;
    path: string;
    auth: () => string | undefined;
    body?: unknown;
    status: number;
    permission?: string;
  }[] = [
    {
      name: 'Cloud Run: no token is 401',
      api: () => run.url,
      method: 'GET',
      path: `/v2/${P}/services`,
      auth: () => undefined,
      status: 401,
    },
    {
      name: "Cloud Run: the local user's viewer role lists services",
      api: () => run.url,
      method: 'GET',
      path: `/v2/${P}/services`,
      auth: () => 'Bearer local-fake-token',
      status: 200,
    },
    {
      name: 'Cloud Run: a viewer may not create a service',
      api: () => run.url,
      method: 'POST',
      path: `/v2/${P}/services?serviceId=s&validateOnly=true`,
      auth: () => 'Bearer local-fake-token',
      body: template(APP),
      status: 403,
      permission: 'run.services.create',
    },
    {
      name: 'Cloud Run: the workflow may not act as an account it holds no act-as on',
      api: () => run.url,
      method: 'PATCH',
      path: `/v2/${P}/services/s?allowMissing=true&validateOnly=true`,
      auth: () => `Bearer ${workflowToken}`,
      body: template(ACCEPTANCE),
      status: 403,
      permission: 'iam.serviceAccounts.actAs',
    },
    {
      name: 'Cloud Run: the workflow deploys its service as the app account',
      api: () => run.url,
      method: 'PATCH',
      path: `/v2/${P}/services/s?allowMissing=true&validateOnly=true`,
      auth: () => `Bearer ${workflowToken}`,
      body: template(APP),
      status: 200,
    },
    {
      name: 'Cloud Run: the workflow may not touch another service',
      api: () => run.url,
      method: 'GET',
      path: `/v2/${P}/services/other`,
      auth: () => `Bearer ${workflowToken}`,
      status: 403,
      permission: 'run.services.get',
    },
    {
      name: 'Workflows: a viewer may not start an execution',
      api: () => workflows.url,
      method: 'POST',
      path: `/v1/${P}/workflows/w/executions`,
      auth: () => 'Bearer local-fake-token',
      body: {},
      status: 403,
      permission: 'workflows.executions.create',
    },
    {
      name: 'Scheduler: a viewer lists jobs',
      api: () => scheduler.url,
      method: 'GET',
      path: `/v1/${P}/jobs`,
      auth: () => 'Bearer local-fake-token',
      status: 200,
    },
    {
      name: 'Monitoring: the workflow may not read time series without monitoring.viewer',
      api: () => monitoring.url,
      method: 'GET',
      path: '/v3/projects/p/timeSeries?filter=x',
      auth: () => `Bearer ${workflowToken}`,
      status: 403,
      permission: 'monitoring.timeSeries.list',
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const { status, body } = await call(c.api, c.method, c.path, c.auth(), c.body);
      assertAnswer(status, body, c.status, c.permission);
    });
  }
});

/** Google's answer: `status`, and for a denial 403 PERMISSION_DENIED naming `permission`. */
function assertAnswer(
  status: number,
  body: { error?: Record<string, unknown> },
  wantStatus: number,
  permission: string | undefined,
) {
  assert.equal(status, wantStatus, JSON.stringify(body));
  if (!permission) return;
  assert.equal(body.error?.status, 'PERMISSION_DENIED');
  assert.match(
    String(body.error?.message),
    new RegExp(
      `^Permission '${permission.replace(/\./g, '\\.')}' denied on resource '.+' \\(or it may not exist\\)\\.$`,
    ),
  );
  const details = body.error?.details as {
    reason?: string;
    metadata?: { permission?: string };
  }[];
  assert.equal(details?.[0]?.reason, 'IAM_PERMISSION_DENIED');
  assert.equal(details?.[0]?.metadata?.permission, permission);
}

// The v1 (Knative) API gcloud run speaks: the same permissions as v2's methods, through the same
// gate, with act-as on the account a changed template runs as.
describe('the local Cloud Run v1 API with IAM on', () => {
  let issuer: LocalIssuer;
  let run: LocalRun;
  let workflowToken: string;
  let trafficToken: string;
  const TRAFFIC = 'user:traffic@example.com';
  const policy = new Policy(
    [
      { principal: DEV, role: 'roles/viewer', resource: 'projects/p' },
      ...[`${P}/services/s`, `${P}/jobs/j`].map((resource) => ({
        principal: `serviceAccount:${WORKFLOW}`,
        role: 'roles/run.developer',
        resource,
      })),
      {
        principal: `serviceAccount:${WORKFLOW}`,
        role: 'roles/iam.serviceAccountUser',
        resource: `projects/-/serviceAccounts/${APP}`,
      },
      // May change the service's traffic, but acts as no account.
      { principal: TRAFFIC, role: 'roles/run.developer', resource: `${P}/services/s` },
    ],
    { project: 'p' },
  );
  const IMAGE = `x-docker.pkg.dev/p/r/i@sha256:${'0'.repeat(64)}`;

  before(async () => {
    issuer = await startIssuer();
    workflowToken = issuer.issuer.accessToken(`serviceAccount:${WORKFLOW}`).token;
    trafficToken = issuer.issuer.accessToken(TRAFFIC).token;
    run = await startLocalRun({
      project: 'p',
      region: 'us-central1',
      // The fixtures' revisions fail to start: the v1 checks need records, not processes.
      images: {
        resolve: async (ref) => {
          throw notFound(`Image '${ref}' not found.`);
        },
      },
      settleMs: 0,
      gate: policyGate({ policy, issuer: issuer.issuer, localUser: DEV }),
    });
    // Made through the domain, not the API: the fixtures are not under test.
    await run.services.create(
      P,
      's',
      {
        template: { revision: 's-r1', serviceAccount: APP, containers: [{ image: IMAGE }] },
      },
      false,
    );
    await run.jobs.create(
      P,
      'j',
      { template: { template: { serviceAccount: APP, containers: [{ image: IMAGE }] } } },
      false,
    );
  });
  after(async () => {
    await run.close();
    await issuer.close();
  });

  /** A v1 request as gcloud sends it: the region in the host. */
  const call = (method: string, path: string, auth: string | undefined, body?: unknown) => {
    const port = Number(run.host.split(':')[1]);
    return new Promise<{ status: number; body: { error?: Record<string, unknown> } }>(
      (resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            method,
            path,
            headers: {
              host: `us-central1-127.0.0.1:${port}`,
              'content-type': 'application/json',
              ...(auth ? { authorization: auth } : {}),
            },
          },
          (res) => {
            let out = '';
            res.on('data', (d) => (out += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(out) }));
          },
        );
        req.on('error', reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
      },
    );
  };
  const NS = '/apis/serving.knative.dev/v1/namespaces/p';
  const JOBS = '/apis/run.googleapis.com/v1/namespaces/p';
  const dev = () => 'Bearer local-fake-token';
  const wf = () => `Bearer ${workflowToken}`;
  /** Service s as v1 reads it: replacing it as it is changes no template. */
  const current = () => {
    const view = new KnativeView(run.services, { project: 'p', region: 'us-central1' });
    return view.service(run.services.table.find(`${P}/services/s`)!);
  };
  /** Service s with its template running as `sa`: a new revision. */
  const runningAs = (sa: string) => {
    const svc = structuredClone(current()) as {
      spec: { template: { metadata: Record<string, unknown>; spec: Record<string, unknown> } };
    };
    svc.spec.template.metadata = {};
    svc.spec.template.spec.serviceAccountName = sa;
    return svc;
  };
  const job = (sa: string) => ({
    apiVersion: 'run.googleapis.com/v1',
    kind: 'Job',
    metadata: { name: 'j' },
    spec: {
      template: {
        spec: { template: { spec: { containers: [{ image: IMAGE }], serviceAccountName: sa } } },
      },
    },
  });

  const cases: {
    name: string;
    method: string;
    path: string;
    auth: () => string | undefined;
    body?: () => unknown;
    status: number;
    permission?: string;
  }[] = [
    {
      name: 'no token is 401',
      method: 'GET',
      path: `${NS}/services`,
      auth: () => undefined,
      status: 401,
    },
    {
      name: 'a viewer lists services',
      method: 'GET',
      path: `${NS}/services`,
      auth: dev,
      status: 200,
    },
    {
      name: 'a viewer lists every region through the projects form',
      method: 'GET',
      path: '/v1/projects/p/locations/-/services',
      auth: dev,
      status: 200,
    },
    {
      name: 'the workflow, granted on one service, may not list services',
      method: 'GET',
      path: `${NS}/services`,
      auth: wf,
      status: 403,
      permission: 'run.services.list',
    },
    {
      name: 'a viewer reads a service',
      method: 'GET',
      path: `${NS}/services/s`,
      auth: dev,
      status: 200,
    },
    {
      name: 'the workflow may not read another service',
      method: 'GET',
      path: `${NS}/services/other`,
      auth: wf,
      status: 403,
      permission: 'run.services.get',
    },
    {
      name: 'a viewer may not replace a service',
      method: 'PUT',
      path: `${NS}/services/s?dryRun=all`,
      auth: dev,
      body: current,
      status: 403,
      permission: 'run.services.update',
    },
    {
      name: 'a developer without act-as replaces a service as it is (traffic): no new template',
      method: 'PUT',
      path: `${NS}/services/s?dryRun=all`,
      auth: () => `Bearer ${trafficToken}`,
      body: current,
      status: 200,
    },
    {
      name: 'a developer without act-as may not change its template',
      method: 'PUT',
      path: `${NS}/services/s?dryRun=all`,
      auth: () => `Bearer ${trafficToken}`,
      body: () => runningAs(APP),
      status: 403,
      permission: 'iam.serviceAccounts.actAs',
    },
    {
      name: 'the workflow may not deploy its service as an account it holds no act-as on',
      method: 'PUT',
      path: `${NS}/services/s?dryRun=all`,
      auth: wf,
      body: () => runningAs(ACCEPTANCE),
      status: 403,
      permission: 'iam.serviceAccounts.actAs',
    },
    {
      name: 'the workflow deploys its service as the app account',
      method: 'PUT',
      path: `${NS}/services/s?dryRun=all`,
      auth: wf,
      body: () => runningAs(APP),
      status: 200,
    },
    {
      name: "the workflow reads its service's revision",
      method: 'GET',
      path: `${NS}/revisions/s-r1`,
      auth: wf,
      status: 200,
    },
    {
      name: 'a revision that does not exist is checked on the region: 403, not 404',
      method: 'GET',
      path: `${NS}/revisions/nope`,
      auth: wf,
      status: 403,
      permission: 'run.revisions.get',
    },
    {
      name: 'the workflow may not list revisions',
      method: 'GET',
      path: `${NS}/revisions`,
      auth: wf,
      status: 403,
      permission: 'run.revisions.list',
    },
    {
      name: "a viewer reads a service's configuration",
      method: 'GET',
      path: `${NS}/configurations/s`,
      auth: dev,
      status: 200,
    },
    {
      name: 'the workflow may not list configurations',
      method: 'GET',
      path: `${NS}/configurations`,
      auth: wf,
      status: 403,
      permission: 'run.configurations.list',
    },
    {
      name: "the workflow reads its service's route",
      method: 'GET',
      path: `${NS}/routes/s`,
      auth: wf,
      status: 200,
    },
    {
      name: "the workflow may not read another service's route",
      method: 'GET',
      path: `${NS}/routes/other`,
      auth: wf,
      status: 403,
      permission: 'run.routes.get',
    },
    { name: 'a viewer reads a job', method: 'GET', path: `${JOBS}/jobs/j`, auth: dev, status: 200 },
    {
      name: 'the workflow may not read another job',
      method: 'GET',
      path: `${JOBS}/jobs/other`,
      auth: wf,
      status: 403,
      permission: 'run.jobs.get',
    },
    {
      name: 'a viewer may not replace a job',
      method: 'PUT',
      path: `${JOBS}/jobs/j?dryRun=all`,
      auth: dev,
      body: () => job(APP),
      status: 403,
      permission: 'run.jobs.update',
    },
    {
      name: 'the workflow may not run its job as an account it holds no act-as on',
      method: 'PUT',
      path: `${JOBS}/jobs/j?dryRun=all`,
      auth: wf,
      body: () => job(ACCEPTANCE),
      status: 403,
      permission: 'iam.serviceAccounts.actAs',
    },
    {
      name: 'the workflow replaces its job running as the app account',
      method: 'PUT',
      path: `${JOBS}/jobs/j?dryRun=all`,
      auth: wf,
      body: () => job(APP),
      status: 200,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const { status, body } = await call(c.method, c.path, c.auth(), c.body?.());
      assertAnswer(status, body, c.status, c.permission);
    });
  }
});
