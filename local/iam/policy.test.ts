import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { RunwayError, sendGoogleError } from '../../services/shared/errors.ts';
import {
  type Binding,
  defaultBucketBindings,
  parentOf,
  Policy,
  permissionDenied,
  serviceAccountResource,
} from './policy.ts';
import { RoleTable } from './roles.ts';

const P = 'projects/p';
const LOC = `${P}/locations/us-central1`;
const STAGING = `${LOC}/services/app-staging`;
const LIVE = `${LOC}/services/app`;
const JOB = `${LOC}/jobs/app-acceptance`;
const sa = (name: string) => `${name}@p.iam.gserviceaccount.com`;
const WORKFLOW = `serviceAccount:${sa('runway-workflow')}`;
const ACCEPTANCE = `serviceAccount:${sa('runway-acceptance')}`;
const DEPLOYER = `serviceAccount:${sa('runway-deployer')}`;

const bindings: Binding[] = [
  { principal: WORKFLOW, role: 'roles/run.developer', resource: STAGING, source: 'staging' },
  { principal: WORKFLOW, role: 'roles/run.developer', resource: LIVE, source: 'live' },
  {
    principal: WORKFLOW,
    role: 'roles/run.jobsExecutorWithOverrides',
    resource: JOB,
    source: 'job',
  },
  {
    principal: WORKFLOW,
    role: 'roles/iam.serviceAccountUser',
    resource: `projects/p/serviceAccounts/${sa('runway-app')}`,
    source: 'actAs app',
  },
  { principal: DEPLOYER, role: 'roles/workflows.invoker', resource: P, source: 'project' },
  { principal: ACCEPTANCE, role: 'roles/run.invoker', resource: STAGING, source: 'invoke' },
  { principal: 'allUsers', role: 'roles/run.invoker', resource: LIVE, source: 'public' },
  { principal: 'user:dev@local', role: 'roles/owner', resource: P, source: 'owner' },
  {
    principal: WORKFLOW,
    role: 'roles/storage.objectViewer',
    resource: 'projects/_/buckets/p_cloudbuild',
    source: 'bucket',
  },
  { principal: WORKFLOW, role: 'roles/logging.logWriter', resource: P, source: 'logs' },
];

const policy = () => new Policy(bindings, { project: 'p', projectNumber: '123' });

const cases: {
  name: string;
  who: string | undefined;
  permission: string;
  on: string;
  allowed: boolean;
}[] = [
  {
    name: 'developer updates the service it is granted on',
    who: WORKFLOW,
    permission: 'run.services.update',
    on: STAGING,
    allowed: true,
  },
  {
    name: 'developer grant reaches the service’s revisions',
    who: WORKFLOW,
    permission: 'run.revisions.get',
    on: `${STAGING}/revisions/app-staging-00001`,
    allowed: true,
  },
  {
    name: 'developer grant on one service is not on another',
    who: WORKFLOW,
    permission: 'run.services.update',
    on: `${LOC}/services/other`,
    allowed: false,
  },
  {
    name: 'developer cannot change the service’s IAM policy',
    who: WORKFLOW,
    permission: 'run.services.setIamPolicy',
    on: STAGING,
    allowed: false,
  },
  {
    name: 'a resource grant does not reach the project',
    who: WORKFLOW,
    permission: 'run.services.list',
    on: LOC,
    allowed: false,
  },
  {
    name: 'job executor runs with overrides',
    who: WORKFLOW,
    permission: 'run.jobs.runWithOverrides',
    on: JOB,
    allowed: true,
  },
  {
    name: 'job executor reaches the job’s executions',
    who: WORKFLOW,
    permission: 'run.executions.cancel',
    on: `${JOB}/executions/e1`,
    allowed: true,
  },
  {
    name: 'job executor cannot read the execution',
    who: WORKFLOW,
    permission: 'run.executions.get',
    on: `${JOB}/executions/e1`,
    allowed: false,
  },
  {
    name: 'a project grant reaches every workflow',
    who: DEPLOYER,
    permission: 'workflows.executions.create',
    on: `${LOC}/workflows/runway-release`,
    allowed: true,
  },
  {
    name: 'a project grant reaches an execution',
    who: DEPLOYER,
    permission: 'workflows.executions.get',
    on: `${LOC}/workflows/runway-release/executions/x`,
    allowed: true,
  },
  {
    name: 'invoker calls staging',
    who: ACCEPTANCE,
    permission: 'run.routes.invoke',
    on: STAGING,
    allowed: true,
  },
  {
    name: 'invoker cannot update staging',
    who: ACCEPTANCE,
    permission: 'run.services.update',
    on: STAGING,
    allowed: false,
  },
  {
    name: 'an anonymous caller calls a public service',
    who: undefined,
    permission: 'run.routes.invoke',
    on: LIVE,
    allowed: true,
  },
  {
    name: 'an anonymous caller cannot call a private one',
    who: undefined,
    permission: 'run.routes.invoke',
    on: STAGING,
    allowed: false,
  },
  {
    name: 'anyone signed in calls a public service',
    who: 'user:someone@example.com',
    permission: 'run.routes.invoke',
    on: LIVE,
    allowed: true,
  },
  {
    name: 'the owner updates anything in the project',
    who: 'user:dev@local',
    permission: 'run.services.update',
    on: `${LOC}/services/whatever`,
    allowed: true,
  },
  {
    // As on Google: the basic roles grant no object access; a bucket's default policy does.
    name: 'the owner alone does not read objects',
    who: 'user:dev@local',
    permission: 'storage.objects.get',
    on: 'projects/_/buckets/b/objects/o',
    allowed: false,
  },
  {
    name: 'the owner, by project number',
    who: 'user:dev@local',
    permission: 'run.services.get',
    on: 'projects/123/locations/us-central1/services/s',
    allowed: true,
  },
  {
    name: 'a full resource name with its service prefix',
    who: WORKFLOW,
    permission: 'run.services.get',
    on: `//run.googleapis.com/${STAGING}`,
    allowed: true,
  },
  {
    name: 'a bucket grant reaches its objects',
    who: WORKFLOW,
    permission: 'storage.objects.get',
    on: 'projects/_/buckets/p_cloudbuild/objects/source/x.tgz',
    allowed: true,
  },
  {
    name: 'a bucket grant is not on another bucket',
    who: WORKFLOW,
    permission: 'storage.objects.get',
    on: 'projects/_/buckets/other/objects/x',
    allowed: false,
  },
  {
    name: 'a principal with no grant at all',
    who: 'user:stranger@example.com',
    permission: 'run.services.get',
    on: STAGING,
    allowed: false,
  },
  {
    name: 'an unknown permission is refused',
    who: 'user:dev@local',
    permission: 'run.services.teleport',
    on: STAGING,
    allowed: false,
  },
];

for (const c of cases) {
  test(`check: ${c.name}`, () => {
    assert.equal(policy().check(c.who, c.permission, c.on).allowed, c.allowed);
  });
}

const actAsCases: { name: string; who: string; email: string; allowed: boolean }[] = [
  {
    name: 'the workflow acts as the app account',
    who: WORKFLOW,
    email: sa('runway-app'),
    allowed: true,
  },
  {
    name: 'an email in capitals is the same account',
    who: WORKFLOW,
    email: sa('RUNWAY-APP'),
    allowed: true,
  },
  {
    name: 'the workflow may not act as the deployer',
    who: WORKFLOW,
    email: sa('runway-deployer'),
    allowed: false,
  },
  {
    name: 'the owner acts as any account of the project',
    who: 'user:dev@local',
    email: sa('runway-deployer'),
    allowed: true,
  },
  {
    name: 'the owner, even as the default compute account',
    who: 'user:dev@local',
    email: '123-compute@developer.gserviceaccount.com',
    allowed: true,
  },
  {
    name: 'the invoker may not act as anyone',
    who: ACCEPTANCE,
    email: sa('runway-acceptance'),
    allowed: false,
  },
];

for (const c of actAsCases) {
  test(`actAs: ${c.name}`, () => {
    assert.equal(policy().actAs(c.who, c.email).allowed, c.allowed);
  });
}

test("actAs's denial names iam.serviceAccounts.actAs on projects/-/serviceAccounts/EMAIL", () => {
  const d = policy().actAs(WORKFLOW, sa('runway-deployer'));
  assert.equal(d.allowed, false);
  if (d.allowed) return;
  assert.equal(
    d.error.message,
    `Permission 'iam.serviceAccounts.actAs' denied on resource 'projects/-/serviceAccounts/${sa('runway-deployer')}' (or it may not exist).`,
  );
  assert.equal(d.error.info?.domain, 'iam.googleapis.com');
});

test('a denial is Google-shaped over HTTP: 403 PERMISSION_DENIED with an ErrorInfo', async () => {
  const server = createServer((_req, res) => {
    try {
      policy().require(ACCEPTANCE, 'run.services.update', STAGING, 'run.googleapis.com');
    } catch (err) {
      sendGoogleError(res, err);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(res.status, 403);
    assert.deepEqual(await res.json(), {
      error: {
        code: 403,
        message: `Permission 'run.services.update' denied on resource '${STAGING}' (or it may not exist).`,
        status: 'PERMISSION_DENIED',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            reason: 'IAM_PERMISSION_DENIED',
            domain: 'run.googleapis.com',
            metadata: { permission: 'run.services.update', resource: STAGING },
          },
        ],
      },
    });
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('the denial names the resource as the caller named it', () => {
  const e = permissionDenied('run.services.get', 'projects/123/locations/l/services/s');
  assert.ok(e instanceof RunwayError);
  assert.equal(e.httpStatus, 403);
  assert.match(e.message, /'projects\/123\/locations\/l\/services\/s'/);
});

const authorizeCases: {
  name: string;
  who: string;
  service: string;
  method: string;
  resources: { resource: string; serviceAccount?: string; topic?: string };
  overrides?: boolean;
  denied?: string;
}[] = [
  {
    name: 'the workflow deploys staging as the app account',
    who: WORKFLOW,
    service: 'run.googleapis.com',
    method: 'google.cloud.run.v2.Services.UpdateService',
    resources: { resource: STAGING, serviceAccount: serviceAccountResource(sa('runway-app')) },
  },
  {
    name: 'deploying as an account it may not act as is refused on actAs',
    who: WORKFLOW,
    service: 'run.googleapis.com',
    method: 'google.cloud.run.v2.Services.UpdateService',
    resources: { resource: STAGING, serviceAccount: serviceAccountResource(sa('runway-deployer')) },
    denied: 'iam.serviceAccounts.actAs',
  },
  {
    name: 'creating a service needs run.services.create on the location',
    who: WORKFLOW,
    service: 'run.googleapis.com',
    method: 'google.cloud.run.v2.Services.CreateService',
    resources: {
      resource: `${LOC}/services/new`,
      serviceAccount: serviceAccountResource(sa('runway-app')),
    },
    denied: 'run.services.create',
  },
  {
    name: 'running the job with overrides',
    who: WORKFLOW,
    service: 'run.googleapis.com',
    method: 'google.cloud.run.v2.Jobs.RunJob',
    resources: { resource: JOB },
    overrides: true,
  },
  {
    name: 'the invoker runs a job without overrides only',
    who: ACCEPTANCE,
    service: 'run.googleapis.com',
    method: 'google.cloud.run.v2.Jobs.RunJob',
    resources: { resource: JOB },
    overrides: true,
    denied: 'run.jobs.runWithOverrides',
  },
  {
    name: 'the deployer starts a release',
    who: DEPLOYER,
    service: 'workflowexecutions.googleapis.com',
    method: 'google.cloud.workflows.executions.v1.Executions.CreateExecution',
    resources: { resource: `${LOC}/workflows/runway-release/executions/new` },
  },
  {
    name: 'the deployer may not deploy the workflow',
    who: DEPLOYER,
    service: 'workflows.googleapis.com',
    method: 'google.cloud.workflows.v1.Workflows.UpdateWorkflow',
    resources: { resource: `${LOC}/workflows/runway-release` },
    denied: 'workflows.workflows.update',
  },
  {
    name: 'the owner creates a push subscription (project, topic, and act-as)',
    who: 'user:dev@local',
    service: 'pubsub.googleapis.com',
    method: 'google.pubsub.v1.Subscriber.CreateSubscription',
    resources: {
      resource: 'projects/p/subscriptions/s',
      topic: 'projects/p/topics/t',
      serviceAccount: serviceAccountResource(sa('runway-push')),
    },
  },
];

for (const c of authorizeCases) {
  test(`authorize: ${c.name}`, () => {
    const run = () =>
      policy().authorize(
        c.who,
        c.service,
        c.method,
        c.resources,
        c.overrides ? { overrides: true } : {},
      );
    if (!c.denied) return run();
    assert.throws(
      run,
      (e: unknown) =>
        e instanceof RunwayError &&
        e.code === 'PERMISSION_DENIED' &&
        e.info?.metadata.permission === c.denied,
    );
  });
}

test('authorize: a check on a target the caller did not name is a wiring error', () => {
  assert.throws(
    () =>
      policy().authorize(
        'user:dev@local',
        'pubsub.googleapis.com',
        'google.pubsub.v1.Subscriber.CreateSubscription',
        {
          resource: 'projects/p/subscriptions/s',
        },
      ),
    /did not name/,
  );
});

test('unused(): the grants no allowed call used, and whether a local call could use them', () => {
  const p = policy();
  p.require(WORKFLOW, 'run.services.update', STAGING);
  p.require(WORKFLOW, 'run.jobs.runWithOverrides', JOB);
  p.require(DEPLOYER, 'workflows.executions.create', `${LOC}/workflows/runway-release`);
  p.actAs(WORKFLOW, sa('runway-app'));
  // A refused call uses nothing.
  p.check(ACCEPTANCE, 'run.services.update', STAGING);
  const unused = p
    .unused()
    .map((u) => `${u.binding.source}${u.checkable ? '' : ' (not checkable)'}`);
  assert.deepEqual(unused, ['live', 'invoke', 'public', 'owner', 'bucket', 'logs']);
  assert.deepEqual(
    p.used().map((u) => [u.binding.source, u.permissions]),
    [
      ['staging', ['run.services.update']],
      ['job', ['run.jobs.runWithOverrides']],
      ['project', ['workflows.executions.create']],
      ['actAs app', ['iam.serviceAccounts.actAs']],
    ],
  );
});

test('unused(): a role no local method asks for is reported as not checkable', () => {
  const roles = new RoleTable();
  roles.define('projects/p/roles/cleaner', {
    title: 'Cleaner',
    permissions: ['artifactregistry.repositories.deleteArtifacts'],
  });
  const p = new Policy(
    [{ principal: WORKFLOW, role: 'projects/p/roles/cleaner', resource: P, source: 'cleaner' }],
    { project: 'p', roles },
  );
  assert.deepEqual(p.unused(), [
    {
      binding: {
        principal: WORKFLOW,
        role: 'projects/p/roles/cleaner',
        resource: P,
        source: 'cleaner',
      },
      checkable: false,
    },
  ]);
});

const bucketCases: { name: string; who: string; permission: string; allowed: boolean }[] = [
  {
    name: 'the owner reads an object',
    who: 'user:dev@local',
    permission: 'storage.objects.get',
    allowed: true,
  },
  {
    name: 'the owner uploads one',
    who: 'user:dev@local',
    permission: 'storage.objects.create',
    allowed: true,
  },
  {
    name: 'the owner changes the bucket policy',
    who: 'user:dev@local',
    permission: 'storage.buckets.setIamPolicy',
    allowed: true,
  },
  {
    name: 'a viewer reads an object',
    who: 'user:viewer@local',
    permission: 'storage.objects.get',
    allowed: true,
  },
  {
    name: 'a viewer does not upload',
    who: 'user:viewer@local',
    permission: 'storage.objects.create',
    allowed: false,
  },
  {
    name: 'a service account with no project role gets nothing',
    who: WORKFLOW,
    permission: 'storage.objects.create',
    allowed: false,
  },
];

for (const c of bucketCases) {
  test(`a bucket's default policy: ${c.name}`, () => {
    const p = new Policy(
      [
        ...bindings,
        { principal: 'user:viewer@local', role: 'roles/viewer', resource: P },
        ...defaultBucketBindings('b', 'p'),
      ],
      { project: 'p' },
    );
    assert.equal(p.check(c.who, c.permission, 'projects/_/buckets/b/objects/o').allowed, c.allowed);
  });
}

test('the most specific grant is credited, so a redundant wider one shows as unused', () => {
  const p = new Policy(
    [
      { principal: WORKFLOW, role: 'roles/run.developer', resource: P, source: 'project-wide' },
      { principal: WORKFLOW, role: 'roles/run.developer', resource: STAGING, source: 'staging' },
    ],
    { project: 'p' },
  );
  p.require(WORKFLOW, 'run.services.update', STAGING);
  assert.deepEqual(
    p.unused().map((u) => u.binding.source),
    ['project-wide'],
  );
});

test('a bad binding is refused: unknown role, malformed principal', () => {
  const p = new Policy([], { project: 'p' });
  assert.throws(
    () => p.add({ principal: WORKFLOW, role: 'roles/nope', resource: P }),
    /roles\/nope/,
  );
  assert.throws(
    () => p.add({ principal: 'runway-workflow', role: 'roles/viewer', resource: P }),
    /not a principal/,
  );
  assert.throws(
    () => p.add({ principal: 'user:a b', role: 'roles/viewer', resource: P }),
    /not a principal/,
  );
});

test('the same grant twice is one binding', () => {
  const p = new Policy([bindings[0]!, { ...bindings[0]!, source: 'again' }], { project: 'p' });
  assert.equal(p.bindings().length, 1);
});

test('parentOf cuts the last collection off', () => {
  assert.equal(parentOf(STAGING), LOC);
  assert.equal(parentOf(`${JOB}/executions/e`), JOB);
  assert.equal(parentOf(P), P);
});

test('a check costs microseconds (many bindings, a deep resource)', () => {
  const many: Binding[] = [...bindings];
  for (let i = 0; i < 2000; i++) {
    many.push({
      principal: `serviceAccount:sa${i}@p.iam.gserviceaccount.com`,
      role: 'roles/run.invoker',
      resource: `${LOC}/services/s${i}`,
    });
  }
  const p = new Policy(many, { project: 'p' });
  const n = 20_000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++)
    p.check(WORKFLOW, 'run.executions.cancel', `${JOB}/executions/e${i % 50}`);
  const perCheckUs = Number(process.hrtime.bigint() - start) / n / 1000;
  // Generous for a shared CI machine; typically well under 2 µs.
  assert.ok(perCheckUs < 50, `${perCheckUs.toFixed(2)} µs a check`);
});
