import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Policy } from './policy.ts';
import { readTerraformGrants, TerraformError } from './terraform.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const example = join(repo, 'infra/envs/example');
const SA = (name: string) => `serviceAccount:runway-${name}@my-project.iam.gserviceaccount.com`;
const LOC = 'projects/my-project/locations/us-central1';

const temps: string[] = [];
after(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

/** Writes `files` (path -> text) under a new temp dir and returns it. */
async function fixture(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'runway-iam-tf-'));
  temps.push(dir);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

const key = (b: { principal: string; role: string; resource: string }) =>
  `${b.principal} ${b.role} ${b.resource}`;

test('the example environment: every grant of infra/, resolved', async () => {
  const g = await readTerraformGrants({ dir: example, base: repo, localUser: false });
  assert.equal(g.project, 'my-project');
  assert.equal(g.projectNumber, '123456789012');
  const got = new Set(g.bindings.map(key));
  const want = [
    // the pipeline module, for_each over var.pipelines, its own for_each over staging and live
    `${SA('workflow')} roles/run.developer ${LOC}/services/sample-staging`,
    `${SA('workflow')} roles/run.developer ${LOC}/services/sample`,
    `${SA('workflow')} roles/run.jobsExecutorWithOverrides ${LOC}/jobs/sample-acceptance`,
    `${SA('acceptance')} roles/run.invoker ${LOC}/services/sample-staging`,
    `${SA('acceptance')} roles/run.invoker ${LOC}/services/sample`,
    `${SA('deployer')} roles/run.viewer ${LOC}/services/sample`,
    `${SA('deployer')} roles/run.jobsExecutorWithOverrides ${LOC}/jobs/sample-acceptance`,
    // following the job's operation and execution (found with IAM on, issue 17)
    `${SA('workflow')} roles/run.viewer ${LOC}/jobs/sample-acceptance`,
    `${SA('deployer')} roles/run.viewer ${LOC}/jobs/sample-acceptance`,
    // the worker-pool module, for_each over var.worker_pool_pipelines, then over its two pools
    `${SA('workflow')} roles/run.developer ${LOC}/workerPools/queue-staging`,
    `${SA('workflow')} roles/run.developer ${LOC}/workerPools/queue`,
    // an abort posts to the running release's callback (found with IAM on, issue 17)
    `${SA('workflow')} roles/workflows.invoker projects/my-project`,
    // the deployer module
    `${SA('push')} roles/run.invoker ${LOC}/services/runway-deployer`,
    `${SA('scheduler')} roles/run.invoker ${LOC}/services/runway-deployer`,
    `${SA('deployer')} roles/workflows.invoker projects/my-project`,
    // the root module, through module.registry's output (a whole resource)
    `${SA('deployer')} roles/artifactregistry.reader ${LOC}/repositories/apps`,
    // the workflow module: count = var.canary_metrics ? 1 : 0 with canary_metrics = true
    `${SA('workflow')} roles/monitoring.viewer projects/my-project`,
    `${SA('workflow')} roles/iam.serviceAccountUser projects/my-project/serviceAccounts/runway-app@my-project.iam.gserviceaccount.com`,
    // the ci module: for_each over toset([...]) with var.account_ids[each.value]
    `${SA('ci')} roles/iam.serviceAccountUser projects/my-project/serviceAccounts/runway-deployer@my-project.iam.gserviceaccount.com`,
    `${SA('ci')} roles/iam.serviceAccountUser projects/my-project/serviceAccounts/runway-workflow@my-project.iam.gserviceaccount.com`,
    `${SA('ci')} roles/run.developer ${LOC}/jobs/sample-acceptance`,
    `${SA('ci')} roles/storage.objectCreator projects/_/buckets/my-project_cloudbuild`,
    `principalSet://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/runway-github/attribute.repository/my-org/my-repo roles/iam.workloadIdentityUser projects/my-project/serviceAccounts/runway-ci@my-project.iam.gserviceaccount.com`,
    // the events module: the Pub/Sub service agent, from var.project_number
    `serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com roles/iam.serviceAccountTokenCreator projects/my-project/serviceAccounts/runway-push@my-project.iam.gserviceaccount.com`,
    `serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com roles/pubsub.subscriber projects/my-project/subscriptions/runway-deployer-push`,
    `${SA('workflow')} roles/pubsub.publisher projects/my-project/topics/runway-events`,
    // the job-pipeline module, for_each over var.job_pipelines: a job pipeline's two jobs
    `${SA('workflow')} roles/run.developer ${LOC}/jobs/etl-staging`,
    `${SA('workflow')} roles/run.developer ${LOC}/jobs/etl`,
    `${SA('deployer')} roles/run.viewer ${LOC}/jobs/etl`,
    `${SA('deployer')} roles/pubsub.publisher projects/my-project/topics/runway-events`,
  ];
  for (const w of want) assert.ok(got.has(w), `missing: ${w}`);
  // live_public is optional(bool, false): its count is 0, so live is not public.
  assert.ok(!g.bindings.some((b) => b.principal === 'allUsers'));
  assert.ok(!g.bindings.some((b) => b.role === 'roles/owner' || b.role === 'roles/editor'));
  assert.equal(g.bindings.length, 42);
  // Each names its file, line and address.
  const ci = g.bindings.find((b) => b.source?.includes('ci_acts_as["workflow"]'));
  assert.match(
    ci?.source ?? '',
    /^infra\/modules\/ci\/main\.tf:\d+ module\.ci\.google_service_account_iam_member\.ci_acts_as\["workflow"\]$/,
  );
  const pipeline = g.bindings.find((b) =>
    b.source?.includes('service_iam_member.workflow_deploys["staging"]'),
  );
  assert.match(
    pipeline?.source ?? '',
    / module\.pipeline\["sample"\]\.google_cloud_run_v2_service_iam_member\.workflow_deploys\["staging"\]$/,
  );
  // Every grant is one the policy accepts: known roles, well-formed principals.
  assert.equal(new Policy(g.bindings, { project: g.project }).bindings().length, 42);
});

test('the local user owns the project, unless turned off or changed', async () => {
  const on = await readTerraformGrants({ dir: example });
  assert.deepEqual(on.bindings.at(-1), {
    principal: 'user:developer@local',
    role: 'roles/owner',
    resource: 'projects/my-project',
    source: 'local: the local user owns the project (runway local up)',
  });
  const other = await readTerraformGrants({ dir: example, localUser: 'user:someone@example.com' });
  assert.equal(other.bindings.at(-1)?.principal, 'user:someone@example.com');
  const off = await readTerraformGrants({ dir: example, localUser: false });
  assert.ok(!off.bindings.some((b) => b.role === 'roles/owner'));
});

test('the example with two pipelines, one public: for_each over the map, sets from it', async () => {
  const g = await readTerraformGrants({
    dir: example,
    localUser: false,
    vars: {
      pipelines: {
        a: {
          staging_service: 'a-staging',
          live_service: 'a',
          acceptance_job: 'a-acceptance',
          live_public: true,
        },
        b: { staging_service: 'b-staging', live_service: 'b', acceptance_job: 'b-acceptance' },
      },
    },
  });
  const got = new Set(g.bindings.map(key));
  assert.ok(got.has(`allUsers roles/run.invoker ${LOC}/services/a`));
  assert.ok(!got.has(`allUsers roles/run.invoker ${LOC}/services/b`));
  assert.ok(got.has(`${SA('ci')} roles/run.developer ${LOC}/jobs/a-acceptance`));
  assert.ok(got.has(`${SA('ci')} roles/run.developer ${LOC}/jobs/b-acceptance`));
  assert.ok(got.has(`${SA('workflow')} roles/run.developer ${LOC}/services/b-staging`));
  assert.equal(g.bindings.length, 42 + 9 + 1 + 1);
});

const regional = (region: string) => `projects/my-project/locations/${region}`;

test('a pipeline in several regions: its services and their grants in each (for_each over the regions)', async () => {
  const g = await readTerraformGrants({
    dir: example,
    localUser: false,
    vars: {
      pipelines: {
        sample: {
          staging_service: 'sample-staging',
          live_service: 'sample',
          acceptance_job: 'sample-acceptance',
          live_regions: ['us-central1', 'europe-west1'],
          staging_regions: ['us-central1'],
        },
      },
    },
  });
  const got = new Set(g.bindings.map(key));
  const EU = regional('europe-west1');
  for (const w of [
    `${SA('workflow')} roles/run.developer ${EU}/services/sample`,
    `${SA('deployer')} roles/run.viewer ${EU}/services/sample`,
    `${SA('acceptance')} roles/run.invoker ${EU}/services/sample`,
    // var.region's keep their single-region addresses and grants
    `${SA('workflow')} roles/run.developer ${LOC}/services/sample`,
    `${SA('workflow')} roles/run.developer ${LOC}/services/sample-staging`,
    `${SA('deployer')} roles/run.viewer ${LOC}/services/sample`,
    `${SA('acceptance')} roles/run.invoker ${LOC}/services/sample-staging`,
    // the acceptance job stays in var.region
    `${SA('workflow')} roles/run.jobsExecutorWithOverrides ${LOC}/jobs/sample-acceptance`,
  ])
    assert.ok(got.has(w), `missing: ${w}`);
  // Staging names us-central1 only: nothing on a staging service elsewhere, and live is not public.
  assert.ok(!g.bindings.some((b) => b.resource === `${EU}/services/sample-staging`));
  assert.ok(!g.bindings.some((b) => b.principal === 'allUsers'));
  assert.equal(g.bindings.length, 42 + 3);
  const eu = g.bindings.find(
    (b) => b.resource === `${EU}/services/sample` && b.role === 'roles/run.developer',
  );
  assert.match(
    eu?.source ?? '',
    / module\.pipeline\["sample"\]\.google_cloud_run_v2_service_iam_member\.workflow_deploys_regional\["live\/europe-west1"\]$/,
  );
  const home = g.bindings.find(
    (b) => b.resource === `${LOC}/services/sample` && b.role === 'roles/run.developer',
  );
  assert.match(home?.source ?? '', /\.workflow_deploys\["live"\]$/);
});

test('regions without var.region: the first named takes the single-region addresses; public in each', async () => {
  const g = await readTerraformGrants({
    dir: example,
    localUser: false,
    vars: {
      pipelines: {
        sample: {
          staging_service: 'sample-staging',
          live_service: 'sample',
          acceptance_job: 'sample-acceptance',
          live_public: true,
          live_regions: ['europe-west1', 'asia-east1'],
          staging_regions: ['europe-west1'],
        },
      },
    },
  });
  const got = new Set(g.bindings.map(key));
  const EU = regional('europe-west1');
  const ASIA = regional('asia-east1');
  for (const w of [
    `${SA('workflow')} roles/run.developer ${EU}/services/sample-staging`,
    `${SA('acceptance')} roles/run.invoker ${EU}/services/sample-staging`,
    `allUsers roles/run.invoker ${EU}/services/sample`,
    `allUsers roles/run.invoker ${ASIA}/services/sample`,
    `${SA('workflow')} roles/run.developer ${ASIA}/services/sample`,
    `${SA('deployer')} roles/run.viewer ${ASIA}/services/sample`,
    `${SA('acceptance')} roles/run.invoker ${ASIA}/services/sample`,
    `${SA('workflow')} roles/run.jobsExecutorWithOverrides ${LOC}/jobs/sample-acceptance`,
  ])
    assert.ok(got.has(w), `missing: ${w}`);
  // No service in var.region: no grant names one there.
  assert.ok(
    !g.bindings.some((b) =>
      /^projects\/my-project\/locations\/us-central1\/services\/sample/.test(b.resource),
    ),
  );
  const home = g.bindings.find(
    (b) => b.resource === `${EU}/services/sample` && b.role === 'roles/run.developer',
  );
  assert.match(home?.source ?? '', /\.workflow_deploys\["live"\]$/);
  assert.equal(g.bindings.length, 42 + 3 + 2);
});

test('a job pipeline with an acceptance job: its jobs, and the acceptance job with count = 1', async () => {
  const g = await readTerraformGrants({
    dir: example,
    localUser: false,
    vars: {
      job_pipelines: {
        etl: { staging_job: 'etl-staging', live_job: 'etl', acceptance_job: 'etl-check' },
        nightly: { staging_job: 'nightly-staging', live_job: 'nightly' },
      },
    },
  });
  const got = new Set(g.bindings.map(key));
  for (const w of [
    `${SA('workflow')} roles/run.developer ${LOC}/jobs/etl-staging`,
    `${SA('workflow')} roles/run.developer ${LOC}/jobs/etl`,
    `${SA('workflow')} roles/run.jobsExecutorWithOverrides ${LOC}/jobs/etl-check`,
    `${SA('workflow')} roles/run.viewer ${LOC}/jobs/etl-check`,
    `${SA('deployer')} roles/run.viewer ${LOC}/jobs/etl`,
    `${SA('workflow')} roles/run.developer ${LOC}/jobs/nightly-staging`,
    `${SA('workflow')} roles/run.developer ${LOC}/jobs/nightly`,
    `${SA('deployer')} roles/run.viewer ${LOC}/jobs/nightly`,
  ])
    assert.ok(got.has(w), `missing: ${w}`);
  // nightly has no acceptance job: its count is 0.
  assert.equal(g.bindings.length, 39 + 5 + 3);
  const source = g.bindings.find((b) => b.resource === `${LOC}/jobs/etl-check`)?.source ?? '';
  assert.match(
    source,
    / module\.job_pipeline\["etl"\]\.google_cloud_run_v2_job_iam_member\.workflow_\w+\[0\]$/,
  );
});

test('the example without canary metrics grants no monitoring.viewer (count = 0)', async () => {
  const g = await readTerraformGrants({
    dir: example,
    localUser: false,
    vars: { canary_metrics: false },
  });
  assert.ok(!g.bindings.some((b) => b.role === 'roles/monitoring.viewer'));
});

const PROVIDER = `
provider "google" {
  project = var.project
  region  = "europe-west1"
}
variable "project" {
  type    = string
  default = "p1"
}
`;

const fixtures: {
  name: string;
  files: Record<string, string>;
  want: string[];
  vars?: Record<string, string | number | boolean>;
}[] = [
  {
    name: 'for_each over a map: each.key and each.value',
    files: {
      'main.tf': `${PROVIDER}
locals {
  grants = {
    "roles/run.viewer"  = "user:a@example.com"
    "roles/run.invoker" = "user:b@example.com"
  }
}
resource "google_project_iam_member" "m" {
  for_each = local.grants
  project  = var.project
  role     = each.key
  member   = each.value
}`,
    },
    want: [
      'user:a@example.com roles/run.viewer projects/p1',
      'user:b@example.com roles/run.invoker projects/p1',
    ],
  },
  {
    name: "a service account's email, and the provider's project and region",
    files: {
      'main.tf': `${PROVIDER}
resource "google_service_account" "bot" {
  account_id = "bot"
}
resource "google_cloud_run_v2_service" "svc" {
  name = "svc"
}
resource "google_cloud_run_v2_service_iam_member" "bot_invokes" {
  name   = google_cloud_run_v2_service.svc.name
  role   = "roles/run.invoker"
  member = "serviceAccount:\${google_service_account.bot.email}"
}
resource "google_service_account_iam_member" "self" {
  service_account_id = google_service_account.bot.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.bot.member
}`,
    },
    want: [
      'serviceAccount:bot@p1.iam.gserviceaccount.com roles/run.invoker projects/p1/locations/europe-west1/services/svc',
      'serviceAccount:bot@p1.iam.gserviceaccount.com roles/iam.serviceAccountUser projects/p1/serviceAccounts/bot@p1.iam.gserviceaccount.com',
    ],
  },
  {
    name: 'a module called per map entry, its variables with defaults and an output read back',
    files: {
      'main.tf': `${PROVIDER}
module "team" {
  source   = "./modules/team"
  for_each = { red = "user:r@example.com", blue = "user:b@example.com" }
  project  = var.project
  member   = each.value
  topic    = "events-\${each.key}"
}
resource "google_pubsub_topic_iam_member" "extra" {
  topic  = module.team["red"].topic_id
  role   = "roles/pubsub.subscriber"
  member = "user:auditor@example.com"
}`,
      'modules/team/main.tf': `
variable "project" { type = string }
variable "member" { type = string }
variable "topic" { type = string }
variable "role" {
  type    = string
  default = "roles/pubsub.publisher"
}
resource "google_pubsub_topic" "t" {
  project = var.project
  name    = var.topic
}
resource "google_pubsub_topic_iam_member" "m" {
  project = var.project
  topic   = google_pubsub_topic.t.name
  role    = var.role
  member  = var.member
}
output "topic_id" {
  value = google_pubsub_topic.t.id
}`,
    },
    want: [
      'user:r@example.com roles/pubsub.publisher projects/p1/topics/events-red',
      'user:b@example.com roles/pubsub.publisher projects/p1/topics/events-blue',
      'user:auditor@example.com roles/pubsub.subscriber projects/p1/topics/events-red',
    ],
  },
  {
    name: 'count, a conditional and a list variable from a for expression',
    vars: { n: 2 },
    files: {
      'main.tf': `${PROVIDER}
variable "n" { type = number }
variable "users" {
  type    = list(string)
  default = ["x", "y", "z"]
}
resource "google_project_iam_member" "m" {
  count   = var.n > 1 ? var.n : 0
  project = var.project
  role    = "roles/viewer"
  member  = "user:\${[for u in var.users : upper(u)][count.index]}@example.com"
}`,
    },
    want: [
      'user:X@example.com roles/viewer projects/p1',
      'user:Y@example.com roles/viewer projects/p1',
    ],
  },
  {
    name: 'an iam_binding with members, on a bucket, a subscription, a repository and a job',
    files: {
      'main.tf': `${PROVIDER}
resource "google_storage_bucket_iam_binding" "b" {
  bucket  = "b/my-bucket"
  role    = "roles/storage.objectViewer"
  members = ["user:a@example.com", "group:g@example.com"]
}
resource "google_pubsub_subscription_iam_member" "s" {
  subscription = "projects/other/subscriptions/s"
  role         = "roles/pubsub.subscriber"
  member       = "user:a@example.com"
}
resource "google_artifact_registry_repository_iam_member" "r" {
  repository = "repo"
  role       = "roles/artifactregistry.reader"
  member     = "user:a@example.com"
}
resource "google_cloud_run_v2_job_iam_member" "j" {
  location = "us-east1"
  name     = "projects/p1/locations/us-east1/jobs/j"
  role     = "roles/run.jobsExecutor"
  member   = "user:a@example.com"
}`,
    },
    want: [
      'user:a@example.com roles/storage.objectViewer projects/_/buckets/my-bucket',
      'group:g@example.com roles/storage.objectViewer projects/_/buckets/my-bucket',
      'user:a@example.com roles/pubsub.subscriber projects/other/subscriptions/s',
      'user:a@example.com roles/artifactregistry.reader projects/p1/locations/europe-west1/repositories/repo',
      'user:a@example.com roles/run.jobsExecutor projects/p1/locations/us-east1/jobs/j',
    ],
  },
];

for (const f of fixtures) {
  test(`HCL: ${f.name}`, async () => {
    const dir = await fixture(f.files);
    const g = await readTerraformGrants({
      dir,
      localUser: false,
      ...(f.vars ? { vars: f.vars } : {}),
    });
    assert.deepEqual(g.bindings.map(key).sort(), [...f.want].sort());
  });
}

const failures: { name: string; main: string; error: RegExp; extra?: Record<string, string> }[] = [
  {
    name: 'a variable with no value names itself and the grant',
    main: `${PROVIDER}
variable "who" { type = string }
resource "google_project_iam_member" "m" {
  project = var.project
  role    = "roles/viewer"
  member  = var.who
}`,
    error: /google_project_iam_member\.m.*var\.who: no value/,
  },
  {
    name: 'an attribute known only after apply',
    main: `${PROVIDER}
resource "google_cloud_run_v2_service" "svc" {
  name = "svc"
}
resource "google_project_iam_member" "m" {
  project = var.project
  role    = "roles/viewer"
  member  = "user:\${google_cloud_run_v2_service.svc.uri}"
}`,
    error:
      /google_project_iam_member\.m.*google_cloud_run_v2_service\.svc\.uri .*known only after apply/,
  },
  {
    name: 'an unknown key of a map',
    main: `${PROVIDER}
locals {
  people = { a = "user:a@example.com" }
}
resource "google_project_iam_member" "m" {
  project = var.project
  role    = "roles/viewer"
  member  = local.people["b"]
}`,
    error: /google_project_iam_member\.m.*no key "b"/,
  },
  {
    name: 'a function the reader does not know',
    main: `${PROVIDER}
resource "google_project_iam_member" "m" {
  project = var.project
  role    = "roles/viewer"
  member  = sha256("x")
}`,
    error: /google_project_iam_member\.m.*sha256\(\) is not supported/,
  },
  {
    name: 'a whole-policy resource',
    main: `${PROVIDER}
resource "google_project_iam_policy" "p" {
  project     = var.project
  policy_data = "{}"
}`,
    error: /google_project_iam_policy\.p.*replaces a whole policy/,
  },
  {
    name: 'a grant on a resource type the reader does not know',
    main: `${PROVIDER}
resource "google_compute_instance_iam_member" "m" {
  instance_name = "vm"
  role          = "roles/compute.viewer"
  member        = "user:a@example.com"
}`,
    error: /google_compute_instance_iam_member\.m.*not a grant the local IAM reads/,
  },
  {
    name: 'a conditional grant',
    main: `${PROVIDER}
resource "google_project_iam_member" "m" {
  project = var.project
  role    = "roles/viewer"
  member  = "user:a@example.com"
  condition {
    title      = "until"
    expression = "request.time < timestamp(\\"2030-01-01T00:00:00Z\\")"
  }
}`,
    error: /google_project_iam_member\.m.*does not evaluate conditions/,
  },
  {
    name: 'a module from a registry',
    main: `${PROVIDER}
module "x" {
  source = "terraform-google-modules/iam/google"
}`,
    error:
      /module\.x: the module source "terraform-google-modules\/iam\/google" is not a local path/,
  },
  {
    name: 'a local that needs itself',
    main: `${PROVIDER}
locals {
  a = local.b
  b = local.a
}
resource "google_project_iam_member" "m" {
  project = var.project
  role    = "roles/viewer"
  member  = local.a
}`,
    error: /depends on itself/,
  },
  {
    name: 'a for_each that is not a collection',
    main: `${PROVIDER}
resource "google_project_iam_member" "m" {
  for_each = "x"
  project  = var.project
  role     = "roles/viewer"
  member   = each.value
}`,
    error: /google_project_iam_member\.m: for_each is string, not a map or a set/,
  },
  {
    name: 'an object variable missing a required attribute',
    main: `${PROVIDER}
variable "cfg" {
  type    = object({ member = string, role = optional(string, "roles/viewer") })
  default = { role = "roles/run.viewer" }
}
resource "google_project_iam_member" "m" {
  project = var.project
  role    = var.cfg.role
  member  = var.cfg.member
}`,
    error: /var\.cfg lacks the required attribute member/,
  },
  {
    name: 'not HCL at all',
    main: 'resource "google_project_iam_member" {{{',
    error: /not valid HCL/,
  },
];

for (const f of failures) {
  test(`HCL refused: ${f.name}`, async () => {
    const dir = await fixture({ 'main.tf': f.main, ...f.extra });
    await assert.rejects(readTerraformGrants({ dir, localUser: false }), (e: unknown) => {
      assert.ok(e instanceof TerraformError, String(e));
      assert.match(e.message, f.error);
      return true;
    });
  });
}

test('HCL: optional object attributes take their defaults', async () => {
  const dir = await fixture({
    'main.tf': `${PROVIDER}
variable "cfg" {
  type    = object({ member = string, role = optional(string, "roles/viewer") })
  default = { member = "user:a@example.com" }
}
resource "google_project_iam_member" "m" {
  project = var.project
  role    = var.cfg.role
  member  = var.cfg.member
}`,
  });
  const g = await readTerraformGrants({ dir, localUser: false });
  assert.deepEqual(g.bindings.map(key), ['user:a@example.com roles/viewer projects/p1']);
});

test('HCL: a tfvars file given explicitly, and vars that win over it', async () => {
  const dir = await fixture({
    'main.tf': `${PROVIDER}
variable "who" { type = string }
resource "google_project_iam_member" "m" {
  project = var.project
  role    = "roles/viewer"
  member  = var.who
}`,
    'dev.tfvars': 'who = "user:dev@example.com"\nproject = "p2"\n',
  });
  const g = await readTerraformGrants({ dir, localUser: false, tfvars: join(dir, 'dev.tfvars') });
  assert.deepEqual(g.bindings.map(key), ['user:dev@example.com roles/viewer projects/p2']);
  const h = await readTerraformGrants({
    dir,
    localUser: false,
    tfvars: join(dir, 'dev.tfvars'),
    vars: { who: 'user:other@example.com' },
  });
  assert.deepEqual(h.bindings.map(key), ['user:other@example.com roles/viewer projects/p2']);
});
