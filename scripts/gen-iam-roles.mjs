#!/usr/bin/env node
// Writes local/iam/roles.generated.json: Google's predefined roles that runway's infra/ grants (and the
// common ones), each with the permissions it holds on the services the local cloud serves.
// The input is a directory of role definitions as IAM's roles.get returns them, one NAME.json a
// role (`gcloud iam roles describe roles/NAME --format=json > DIR/NAME.json`, or the gcp/roles/
// folder of github.com/iann0036/iam-dataset, which collects the same answers):
//   node scripts/gen-iam-roles.mjs DIR
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node scripts/gen-iam-roles.mjs DIR (role definitions, one NAME.json each)');
  process.exit(2);
}

/** Permissions of the services the local cloud serves; any other permission is left out. */
const SERVED =
  /^(run|workflows|pubsub|artifactregistry|monitoring|cloudbuild|cloudscheduler|storage|logging)\.|^iam\.serviceAccounts\.|^resourcemanager\.projects\.get$/;

const ROLES = [
  'owner',
  'editor',
  'viewer',
  'run.admin',
  'run.developer',
  'run.invoker',
  'run.servicesInvoker',
  'run.viewer',
  'run.jobsExecutor',
  'run.jobsExecutorWithOverrides',
  'workflows.admin',
  'workflows.editor',
  'workflows.invoker',
  'workflows.viewer',
  'iam.serviceAccountUser',
  'iam.serviceAccountTokenCreator',
  'iam.serviceAccountOpenIdTokenCreator',
  'iam.workloadIdentityUser',
  'pubsub.admin',
  'pubsub.editor',
  'pubsub.publisher',
  'pubsub.subscriber',
  'pubsub.viewer',
  'monitoring.editor',
  'monitoring.metricWriter',
  'monitoring.viewer',
  'artifactregistry.admin',
  'artifactregistry.repoAdmin',
  'artifactregistry.reader',
  'artifactregistry.writer',
  'cloudbuild.builds.builder',
  'cloudbuild.builds.editor',
  'cloudbuild.builds.viewer',
  'cloudscheduler.admin',
  'cloudscheduler.jobRunner',
  'cloudscheduler.viewer',
  'logging.logWriter',
  'logging.viewer',
  'storage.admin',
  'storage.objectAdmin',
  'storage.objectCreator',
  'storage.objectUser',
  'storage.objectViewer',
  'storage.legacyBucketOwner',
  'storage.legacyBucketReader',
  'storage.legacyBucketWriter',
  'storage.legacyObjectOwner',
  'storage.legacyObjectReader',
];

const roles = {};
for (const id of ROLES) {
  const def = JSON.parse(readFileSync(join(dir, `${id}.json`), 'utf8'));
  if (def.name !== `roles/${id}`) throw new Error(`${id}.json names ${def.name}`);
  roles[def.name] = {
    title: def.title,
    permissions: [...new Set(def.includedPermissions ?? [])].filter((p) => SERVED.test(p)).sort(),
  };
}
const out = fileURLToPath(new URL('../local/iam/roles.generated.json', import.meta.url));
writeFileSync(out, `${JSON.stringify({ served: SERVED.source, roles }, null, 2)}\n`);
console.log(`wrote ${Object.keys(roles).length} roles to ${out}`);
