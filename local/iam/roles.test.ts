import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RunwayError } from '../../services/shared/errors.ts';
import { isServedPermission, predefinedRoles, RoleTable } from './roles.ts';

// Each role: permissions it must hold, and permissions it must not (as Google defines it).
const cases: { role: string; has: string[]; lacks: string[] }[] = [
  {
    role: 'roles/owner',
    has: ['run.services.setIamPolicy', 'iam.serviceAccounts.actAs', 'pubsub.topics.publish'],
    lacks: ['iam.serviceAccounts.getOpenIdToken'],
  },
  {
    role: 'roles/editor',
    has: ['run.services.update', 'iam.serviceAccounts.actAs', 'workflows.executions.create'],
    lacks: ['run.services.setIamPolicy', 'iam.serviceAccounts.setIamPolicy'],
  },
  {
    role: 'roles/viewer',
    has: ['run.services.get', 'workflows.executions.list', 'resourcemanager.projects.get'],
    lacks: ['run.services.update', 'run.routes.invoke', 'iam.serviceAccounts.actAs'],
  },
  {
    role: 'roles/run.admin',
    has: ['run.services.setIamPolicy', 'run.jobs.runWithOverrides', 'run.routes.invoke'],
    lacks: ['iam.serviceAccounts.actAs'],
  },
  {
    role: 'roles/run.developer',
    has: [
      'run.services.create',
      'run.services.update',
      'run.jobs.runWithOverrides',
      'run.operations.get',
    ],
    lacks: ['run.services.setIamPolicy', 'run.jobs.setIamPolicy', 'iam.serviceAccounts.actAs'],
  },
  {
    role: 'roles/run.invoker',
    has: ['run.routes.invoke', 'run.jobs.run'],
    lacks: ['run.services.update', 'run.services.get', 'run.jobs.runWithOverrides'],
  },
  {
    role: 'roles/run.viewer',
    has: ['run.services.get', 'run.executions.list', 'run.services.getIamPolicy'],
    lacks: ['run.services.update', 'run.jobs.run', 'run.routes.invoke'],
  },
  {
    role: 'roles/run.jobsExecutorWithOverrides',
    has: ['run.jobs.run', 'run.jobs.runWithOverrides', 'run.executions.cancel'],
    lacks: ['run.jobs.get', 'run.executions.get', 'run.operations.get'],
  },
  {
    role: 'roles/workflows.invoker',
    has: ['workflows.executions.create', 'workflows.executions.get', 'workflows.callbacks.send'],
    lacks: ['workflows.workflows.get', 'workflows.workflows.update'],
  },
  {
    role: 'roles/workflows.editor',
    has: [
      'workflows.workflows.update',
      'workflows.workflows.create',
      'workflows.executions.create',
    ],
    lacks: ['workflows.workflows.setIamPolicy'],
  },
  {
    // Workflows has no per-workflow IAM policy: there is no setIamPolicy to hold.
    role: 'roles/workflows.admin',
    has: ['workflows.workflows.delete', 'workflows.operations.cancel'],
    lacks: ['run.services.get', 'iam.serviceAccounts.actAs'],
  },
  {
    role: 'roles/iam.serviceAccountUser',
    has: ['iam.serviceAccounts.actAs', 'iam.serviceAccounts.get'],
    lacks: ['iam.serviceAccounts.getAccessToken', 'iam.serviceAccounts.getOpenIdToken'],
  },
  {
    role: 'roles/iam.serviceAccountTokenCreator',
    has: [
      'iam.serviceAccounts.getAccessToken',
      'iam.serviceAccounts.getOpenIdToken',
      'iam.serviceAccounts.signJwt',
    ],
    lacks: ['iam.serviceAccounts.actAs'],
  },
  {
    role: 'roles/iam.workloadIdentityUser',
    has: ['iam.serviceAccounts.getAccessToken'],
    lacks: ['iam.serviceAccounts.actAs', 'iam.serviceAccounts.signJwt'],
  },
  {
    role: 'roles/pubsub.publisher',
    has: ['pubsub.topics.publish'],
    lacks: ['pubsub.topics.get', 'pubsub.subscriptions.consume'],
  },
  {
    role: 'roles/pubsub.subscriber',
    has: ['pubsub.subscriptions.consume', 'pubsub.topics.attachSubscription'],
    lacks: ['pubsub.topics.publish', 'pubsub.subscriptions.create'],
  },
  {
    role: 'roles/pubsub.editor',
    has: ['pubsub.topics.create', 'pubsub.subscriptions.create', 'pubsub.topics.publish'],
    lacks: ['pubsub.topics.setIamPolicy'],
  },
  {
    role: 'roles/monitoring.viewer',
    has: ['monitoring.timeSeries.list'],
    lacks: ['monitoring.timeSeries.create'],
  },
  {
    role: 'roles/monitoring.metricWriter',
    has: ['monitoring.timeSeries.create'],
    lacks: ['monitoring.timeSeries.list'],
  },
  {
    role: 'roles/artifactregistry.reader',
    has: ['artifactregistry.repositories.downloadArtifacts', 'artifactregistry.tags.list'],
    lacks: ['artifactregistry.repositories.uploadArtifacts', 'artifactregistry.tags.create'],
  },
  {
    role: 'roles/artifactregistry.writer',
    has: [
      'artifactregistry.repositories.uploadArtifacts',
      'artifactregistry.repositories.downloadArtifacts',
    ],
    lacks: [
      'artifactregistry.repositories.delete',
      'artifactregistry.repositories.deleteArtifacts',
    ],
  },
  {
    role: 'roles/cloudbuild.builds.editor',
    has: ['cloudbuild.builds.create', 'cloudbuild.builds.update', 'cloudbuild.builds.get'],
    lacks: ['iam.serviceAccounts.actAs', 'storage.objects.create'],
  },
  {
    role: 'roles/cloudbuild.builds.builder',
    has: [
      'artifactregistry.repositories.uploadArtifacts',
      'logging.logEntries.create',
      'storage.objects.create',
    ],
    lacks: ['iam.serviceAccounts.actAs', 'run.services.update'],
  },
  {
    role: 'roles/cloudscheduler.admin',
    has: ['cloudscheduler.jobs.create', 'cloudscheduler.jobs.enable', 'cloudscheduler.jobs.run'],
    lacks: ['iam.serviceAccounts.actAs'],
  },
  {
    role: 'roles/logging.logWriter',
    has: ['logging.logEntries.create'],
    lacks: ['logging.logEntries.list'],
  },
  {
    role: 'roles/storage.objectAdmin',
    has: ['storage.objects.create', 'storage.objects.delete', 'storage.objects.get'],
    lacks: ['storage.buckets.create', 'storage.buckets.delete'],
  },
  {
    role: 'roles/storage.objectViewer',
    has: ['storage.objects.get', 'storage.objects.list'],
    lacks: ['storage.objects.create', 'storage.buckets.get'],
  },
  {
    role: 'roles/storage.objectCreator',
    has: ['storage.objects.create'],
    lacks: ['storage.objects.get', 'storage.objects.delete'],
  },
  {
    role: 'roles/storage.legacyBucketReader',
    has: ['storage.buckets.get', 'storage.objects.list'],
    lacks: ['storage.objects.get'],
  },
];

for (const c of cases) {
  test(`${c.role} holds what Google grants it, and no more`, () => {
    const perms = predefinedRoles.permissions(c.role);
    for (const p of c.has) assert.ok(perms.has(p), `${c.role} should hold ${p}`);
    for (const p of c.lacks) assert.ok(!perms.has(p), `${c.role} should not hold ${p}`);
  });
}

test('every role runway infra/ grants is in the table', () => {
  const root = fileURLToPath(new URL('../../infra/', import.meta.url));
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.tf') ? [join(dir, e.name)] : [],
    );
  const roles = new Set(
    walk(root).flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/"(roles\/[A-Za-z0-9_.]+)"/g)].map((m) => m[1]!),
    ),
  );
  assert.ok(roles.size >= 10, `found only ${roles.size} roles in infra/`);
  assert.deepEqual(
    [...roles].filter((r) => !predefinedRoles.has(r)),
    [],
  );
});

test('only permissions of the served services are kept', () => {
  for (const name of predefinedRoles.names()) {
    for (const p of predefinedRoles.permissions(name)) {
      assert.ok(isServedPermission(p), `${name} keeps ${p}`);
    }
  }
  assert.equal(isServedPermission('compute.instances.get'), false);
  assert.equal(isServedPermission('resourcemanager.projects.list'), false);
  assert.equal(isServedPermission('iam.roles.create'), false);
  assert.equal(isServedPermission('iam.serviceAccounts.actAs'), true);
});

test('an unknown role is an error naming it, never an empty grant', () => {
  assert.throws(
    () => predefinedRoles.permissions('roles/run.superuser'),
    (e: unknown) => e instanceof RunwayError && /roles\/run\.superuser/.test(e.message),
  );
});

test('a custom role can be defined, and a bad role name is refused', () => {
  const t = new RoleTable();
  t.define('projects/p/roles/executionReader', {
    title: 'Execution reader',
    permissions: ['run.executions.get', 'run.executions.list'],
  });
  assert.ok(t.permissions('projects/p/roles/executionReader').has('run.executions.get'));
  assert.ok(t.names().includes('projects/p/roles/executionReader'));
  assert.throws(
    () => t.define('executionReader', { title: 'x', permissions: [] }),
    /not a role name/,
  );
});
