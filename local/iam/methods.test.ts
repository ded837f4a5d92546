import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checksFor, denialDomain, METHODS, methodRule, requiredPermissions } from './methods.ts';
import { isServedPermission, predefinedRoles } from './roles.ts';

const RUN = 'google.cloud.run.v2';
const cases: {
  name: string;
  service: string;
  method: string;
  want: string[];
  flags?: { overrides?: boolean };
}[] = [
  {
    name: 'get a service',
    service: 'run.googleapis.com',
    method: `${RUN}.Services.GetService`,
    want: ['run.services.get@resource'],
  },
  {
    name: 'list services',
    service: 'run.googleapis.com',
    method: `${RUN}.Services.ListServices`,
    want: ['run.services.list@parent'],
  },
  {
    name: 'create a service acts as its account',
    service: 'run.googleapis.com',
    method: `${RUN}.Services.CreateService`,
    want: ['run.services.create@parent', 'iam.serviceAccounts.actAs@serviceAccount'],
  },
  {
    name: 'update a service acts as its account',
    service: 'run.googleapis.com',
    method: `${RUN}.Services.UpdateService`,
    want: ['run.services.update@resource', 'iam.serviceAccounts.actAs@serviceAccount'],
  },
  {
    name: 'delete a service',
    service: 'run.googleapis.com',
    method: `${RUN}.Services.DeleteService`,
    want: ['run.services.delete@resource'],
  },
  {
    name: 'get a service policy',
    service: 'run.googleapis.com',
    method: `${RUN}.Services.GetIamPolicy`,
    want: ['run.services.getIamPolicy@resource'],
  },
  {
    name: 'v1: replace a service acts as its account',
    service: 'run.googleapis.com',
    method: 'google.cloud.run.v1.Services.ReplaceService',
    want: ['run.services.update@resource', 'iam.serviceAccounts.actAs@serviceAccount'],
  },
  {
    name: 'v1: get a route',
    service: 'run.googleapis.com',
    method: 'google.cloud.run.v1.Routes.GetRoute',
    want: ['run.routes.get@resource'],
  },
  {
    name: 'v1: replace a job acts as its account',
    service: 'run.googleapis.com',
    method: 'google.cloud.run.v1.Jobs.ReplaceJob',
    want: ['run.jobs.update@resource', 'iam.serviceAccounts.actAs@serviceAccount'],
  },
  {
    name: 'list revisions',
    service: 'run.googleapis.com',
    method: `${RUN}.Revisions.ListRevisions`,
    want: ['run.revisions.list@parent'],
  },
  {
    name: 'run a job',
    service: 'run.googleapis.com',
    method: `${RUN}.Jobs.RunJob`,
    want: ['run.jobs.run@resource'],
  },
  {
    name: 'run a job with overrides',
    service: 'run.googleapis.com',
    method: `${RUN}.Jobs.RunJob`,
    flags: { overrides: true },
    want: ['run.jobs.runWithOverrides@resource'],
  },
  {
    name: 'get an execution',
    service: 'run.googleapis.com',
    method: `${RUN}.Executions.GetExecution`,
    want: ['run.executions.get@resource'],
  },
  {
    name: 'cancel an execution',
    service: 'run.googleapis.com',
    method: `${RUN}.Executions.CancelExecution`,
    want: ['run.executions.cancel@resource'],
  },
  {
    name: 'wait for an operation',
    service: 'run.googleapis.com',
    method: 'google.longrunning.Operations.WaitOperation',
    want: ['run.operations.get@resource'],
  },
  {
    name: 'call a service URL',
    service: 'run.googleapis.com',
    method: 'http:invoke',
    want: ['run.routes.invoke@resource'],
  },
  {
    name: 'start a workflow execution',
    service: 'workflowexecutions.googleapis.com',
    method: 'google.cloud.workflows.executions.v1.Executions.CreateExecution',
    want: ['workflows.executions.create@parent'],
  },
  {
    name: 'cancel a workflow execution',
    service: 'workflowexecutions.googleapis.com',
    method: 'google.cloud.workflows.executions.v1.Executions.CancelExecution',
    want: ['workflows.executions.cancel@resource'],
  },
  {
    name: 'answer a callback',
    service: 'workflowexecutions.googleapis.com',
    method: 'http:callback',
    want: ['workflows.callbacks.send@resource'],
  },
  {
    name: 'get a workflow',
    service: 'workflows.googleapis.com',
    method: 'google.cloud.workflows.v1.Workflows.GetWorkflow',
    want: ['workflows.workflows.get@resource'],
  },
  {
    name: 'publish',
    service: 'pubsub.googleapis.com',
    method: 'google.pubsub.v1.Publisher.Publish',
    want: ['pubsub.topics.publish@resource'],
  },
  {
    name: 'create a subscription',
    service: 'pubsub.googleapis.com',
    method: 'google.pubsub.v1.Subscriber.CreateSubscription',
    want: [
      'pubsub.subscriptions.create@project',
      'pubsub.topics.attachSubscription@topic',
      'iam.serviceAccounts.actAs@serviceAccount',
    ],
  },
  {
    name: 'pull',
    service: 'pubsub.googleapis.com',
    method: 'google.pubsub.v1.Subscriber.Pull',
    want: ['pubsub.subscriptions.consume@resource'],
  },
  {
    name: 'docker push',
    service: 'artifactregistry.googleapis.com',
    method: 'Docker-PutManifest',
    want: ['artifactregistry.repositories.uploadArtifacts@resource'],
  },
  {
    name: 'docker pull',
    service: 'artifactregistry.googleapis.com',
    method: 'Docker-GetManifest',
    want: ['artifactregistry.repositories.downloadArtifacts@resource'],
  },
  {
    name: 'list tags',
    service: 'artifactregistry.googleapis.com',
    method: 'google.devtools.artifactregistry.v1.ArtifactRegistry.ListTags',
    want: ['artifactregistry.tags.list@parent'],
  },
  {
    name: 'read time series',
    service: 'monitoring.googleapis.com',
    method: 'google.monitoring.v3.MetricService.ListTimeSeries',
    want: ['monitoring.timeSeries.list@resource'],
  },
  {
    name: 'submit a build',
    service: 'cloudbuild.googleapis.com',
    method: 'google.devtools.cloudbuild.v1.CloudBuild.CreateBuild',
    want: ['cloudbuild.builds.create@parent', 'iam.serviceAccounts.actAs@serviceAccount'],
  },
  {
    name: 'cancel a build',
    service: 'cloudbuild.googleapis.com',
    method: 'google.devtools.cloudbuild.v1.CloudBuild.CancelBuild',
    want: ['cloudbuild.builds.update@resource'],
  },
  {
    name: 'resume a scheduler job',
    service: 'cloudscheduler.googleapis.com',
    method: 'google.cloud.scheduler.v1.CloudScheduler.ResumeJob',
    want: ['cloudscheduler.jobs.enable@resource'],
  },
  {
    name: 'force-run a scheduler job',
    service: 'cloudscheduler.googleapis.com',
    method: 'google.cloud.scheduler.v1.CloudScheduler.RunJob',
    want: ['cloudscheduler.jobs.run@resource'],
  },
  {
    name: 'create a bucket',
    service: 'storage.googleapis.com',
    method: 'storage.buckets.insert',
    want: ['storage.buckets.create@project'],
  },
  {
    name: 'upload an object',
    service: 'storage.googleapis.com',
    method: 'storage.objects.insert',
    want: ['storage.objects.create@resource'],
  },
  {
    name: 'mint an ID token',
    service: 'iamcredentials.googleapis.com',
    method: 'google.iam.credentials.v1.IAMCredentials.GenerateIdToken',
    want: ['iam.serviceAccounts.getOpenIdToken@resource'],
  },
];

for (const c of cases) {
  test(`method -> permission: ${c.name}`, () => {
    const got = checksFor(methodRule(c.service, c.method), c.flags).map(
      (x) => `${x.permission}@${x.on}`,
    );
    assert.deepEqual(got, c.want);
  });
}

test('an unknown method is an error, never an open door', () => {
  assert.throws(
    () => methodRule('run.googleapis.com', 'google.cloud.run.v2.Services.Teleport'),
    /no permission is known/,
  );
  assert.throws(() => methodRule('nothing.googleapis.com', 'Get'), /no permission is known/);
});

test('every permission the table asks for is one some predefined role grants', () => {
  const granted = new Set(
    predefinedRoles.names().flatMap((r) => [...predefinedRoles.permissions(r)]),
  );
  const missing = [...requiredPermissions()].filter((p) => !granted.has(p));
  assert.deepEqual(missing, []);
  for (const p of requiredPermissions()) assert.ok(isServedPermission(p), p);
});

test('every service in the table has methods, each with at least one check', () => {
  for (const [service, methods] of Object.entries(METHODS)) {
    assert.ok(Object.keys(methods).length > 0, service);
    for (const [m, r] of Object.entries(methods)) assert.ok(r.checks.length > 0, `${service} ${m}`);
  }
});

test("a denial's domain: IAM's for iam.* permissions, else the API's", () => {
  assert.equal(denialDomain('run.googleapis.com', 'run.services.update'), 'run.googleapis.com');
  assert.equal(
    denialDomain('run.googleapis.com', 'iam.serviceAccounts.actAs'),
    'iam.googleapis.com',
  );
  assert.equal(denialDomain(undefined, 'run.services.update'), 'iam.googleapis.com');
});
