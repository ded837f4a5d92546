// The local APIs with IAM on, over real sockets: who the caller is, what Google answers when the
// caller lacks a permission (403 PERMISSION_DENIED naming it, with an ErrorInfo), act-as on the
// account a resource runs as, and nothing done before the check.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type LocalIssuer, startIssuer } from '../identity/issuer.ts';
import { startLocalMonitoring } from '../monitoring/server.ts';
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
      assert.equal(status, c.status, JSON.stringify(body));
      if (!c.permission) return;
      assert.equal(body.error?.status, 'PERMISSION_DENIED');
      assert.match(
        String(body.error?.message),
        new RegExp(
          `^Permission '${c.permission.replace(/\./g, '\\.')}' denied on resource '.+' \\(or it may not exist\\)\\.$`,
        ),
      );
      const details = body.error?.details as {
        reason?: string;
        metadata?: { permission?: string };
      }[];
      assert.equal(details?.[0]?.reason, 'IAM_PERMISSION_DENIED');
      assert.equal(details?.[0]?.metadata?.permission, c.permission);
    });
  }
});
