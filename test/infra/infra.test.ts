// infra/ and cloudbuild.yaml checked in Node, without Google credentials or the Terraform provider:
// least privilege per account, nothing public but what may be, OIDC and a dead letter on the push,
// no keys, the workflow's rights exactly on the pipeline's resources, CI's rights to submit and
// run its build, deletion protection said explicitly, the provider pinned; CI tests before it
// builds and deploys by digest, its substitutions are ones Cloud Build accepts, its first step
// stops a build without a commit, and the documented command matches it. Each check is also shown
// to catch a bad snippet.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { DEPLOYER_MEMORY_MIB } from '../../services/deployer/startup/command.ts';
import {
  type CloudBuildDoc,
  type CloudBuildStep,
  checkAccountRoles,
  checkCloudBuild,
  checkDeletionProtection,
  checkNoBroadRoles,
  checkNoKeys,
  checkNotPublic,
  checkProviderPin,
  checkPushSubscriptions,
  checkStorageOnBuckets,
  checkSubstitutions,
  checkTriggerOnlyGuard,
  enabledApis,
  grantsOf,
  parseHcl,
  parseTree,
  type Resource,
  resources,
  substitute,
} from './checks.ts';

const exec = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;
const infra = `${root}infra`;

/** What each account may hold, and why (the flow in DESIGN.md). */
const ALLOWED: Record<string, string[]> = {
  // starts release executions; /reconcile reads images, live's annotation, and runs verify;
  // reports a release a freeze blocked on the events topic
  deployer: [
    'roles/workflows.invoker',
    'roles/artifactregistry.reader',
    'roles/run.viewer',
    'roles/run.jobsExecutorWithOverrides',
    'roles/pubsub.publisher',
  ],
  push: ['roles/run.invoker'],
  scheduler: ['roles/run.invoker'],
  // deploys staging and live, runs the acceptance job and follows it (run.viewer on the job: its
  // operation and execution), deploys as app/acceptance, reports, logs
  workflow: [
    'roles/run.developer',
    'roles/run.jobsExecutorWithOverrides',
    'roles/run.viewer',
    // answers a running release's callback (abort): workflows.callbacks.send
    'roles/workflows.invoker',
    'roles/iam.serviceAccountUser',
    'roles/pubsub.publisher',
    'roles/logging.logWriter',
    'roles/monitoring.viewer',
  ],
  acceptance: ['roles/run.invoker'],
  app: [],
  // pushes images, updates the deployer and jobs, deploys the workflow; submits the Cloud Build
  // build, which runs as this account (logs to Cloud Logging) and reads the uploaded source
  ci: [
    'roles/artifactregistry.writer',
    'roles/run.developer',
    'roles/iam.serviceAccountUser',
    'roles/workflows.editor',
    'roles/cloudbuild.builds.editor',
    'roles/logging.logWriter',
    'roles/storage.legacyBucketReader',
    'roles/storage.objectCreator',
    'roles/storage.objectViewer',
  ],
};

let rs: Resource[];
before(async () => {
  rs = resources(await parseTree(infra));
});

/** The deployer's Cloud Run service. */
function deployerService(): Resource {
  const deployer = rs.find(
    (r) => r.type === 'google_cloud_run_v2_service' && r.name === 'deployer',
  );
  assert.ok(deployer, 'infra/ declares no deployer service');
  return deployer;
}

describe('infra/ invariants', () => {
  test("the tree parses and declares the flow's resources", () => {
    const types = new Set(rs.map((r) => r.type));
    for (const t of [
      'google_artifact_registry_repository',
      'google_pubsub_topic',
      'google_pubsub_subscription',
      'google_cloud_run_v2_service',
      'google_cloud_run_v2_job',
      'google_workflows_workflow',
      'google_cloud_scheduler_job',
      'google_iam_workload_identity_pool_provider',
    ]) {
      assert.ok(types.has(t), `infra/ declares a ${t}`);
    }
  });
  test('no roles/owner or roles/editor', () => assert.deepEqual(checkNoBroadRoles(rs), []));
  test('nothing public except an opted-in live service', () =>
    assert.deepEqual(checkNotPublic(rs), []));
  test('no service account keys', () => assert.deepEqual(checkNoKeys(rs), []));
  test('the push subscription sends an OIDC token, retries with backoff and dead-letters', () => {
    assert.ok(rs.some((r) => r.type === 'google_pubsub_subscription'));
    assert.deepEqual(checkPushSubscriptions(rs), []);
  });
  test('each account holds only its listed roles', () =>
    assert.deepEqual(checkAccountRoles(rs, ALLOWED), []));
  test('storage roles are granted on one bucket, never on the project', () =>
    assert.deepEqual(checkStorageOnBuckets(rs), []));
  test('the CI account may submit builds that run as itself, log, and stage their source', () => {
    const grants = grantsOf(rs, 'ci');
    const at = (role: string) => grants.filter((g) => g.role === role);
    // Creating builds is a project-level permission; the narrowest role that has it.
    assert.deepEqual(
      at('roles/cloudbuild.builds.editor').map((g) => g.type),
      ['google_project_iam_member'],
    );
    // The build runs as the CI account with CLOUD_LOGGING_ONLY: that account writes the logs.
    assert.deepEqual(
      at('roles/logging.logWriter').map((g) => g.type),
      ['google_project_iam_member'],
    );
    // Act-as: on the runtime accounts CI deploys as, and on itself (the build's account) alone.
    const actAs = at('roles/iam.serviceAccountUser');
    assert.ok(
      actAs.some((g) => g.on === '"${var.account_ids.ci}"'),
      `act-as on the CI account itself: ${JSON.stringify(actAs)}`,
    );
    assert.ok(actAs.every((g) => g.type === 'google_service_account_iam_member'));
    // The source bucket: looked up and written by gcloud, read back by the build; on it alone.
    const storage = grants.filter((g) => g.role.startsWith('roles/storage.'));
    assert.deepEqual(storage.map((g) => g.role).sort(), [
      'roles/storage.legacyBucketReader',
      'roles/storage.objectCreator',
      'roles/storage.objectViewer',
    ]);
    for (const g of storage) {
      assert.equal(g.type, 'google_storage_bucket_iam_member');
      assert.equal(g.on, '"${google_storage_bucket.build_source.name}"');
    }
  });
  test("terraform owns gcloud builds submit's source bucket, private, named as gcloud names it", async () => {
    const bucket = rs.find((r) => r.type === 'google_storage_bucket' && r.name === 'build_source');
    assert.ok(bucket, 'infra/ declares the build source bucket');
    assert.equal(bucket.body.uniform_bucket_level_access, true);
    assert.equal(bucket.body.public_access_prevention, 'enforced');
    // gcloud's default: PROJECT_cloudbuild, with ':' and '.' as '_' and 'google' as 'elgoog'.
    assert.equal(bucket.body.name, '${local.source_bucket}');
    const ci = await parseHcl('ci.tf', await readFile(`${infra}/modules/ci/main.tf`, 'utf8'));
    const [locals] = ci.locals as { source_bucket?: string }[];
    assert.equal(
      locals?.source_bucket,
      '${replace(replace(replace(var.project, ":", "_"), ".", "_"), "google", "elgoog")}_cloudbuild',
    );
  });
  test('the google provider is pinned to one major version wherever it is required', async () => {
    const docs = await parseTree(infra);
    assert.ok(
      docs.some(({ doc }) => doc.terraform),
      'some file declares required_providers',
    );
    assert.deepEqual(checkProviderPin(docs), []);
  });
  test('the APIs the resources need are enabled, IAM among them', async () => {
    const apis = enabledApis(
      await parseHcl('apis.tf', await readFile(`${infra}/modules/apis/main.tf`, 'utf8')),
    );
    // Service accounts and Workload Identity Federation need the IAM API; the rest, their own.
    for (const api of [
      'iam.googleapis.com',
      'iamcredentials.googleapis.com',
      'sts.googleapis.com',
      'run.googleapis.com',
      'workflows.googleapis.com',
      'cloudbuild.googleapis.com',
      'storage.googleapis.com',
    ]) {
      assert.ok(apis.includes(api), `${api} in ${apis.join(', ')}`);
    }
  });
  test('deletion_protection is set on every service, job and workflow', () =>
    assert.deepEqual(checkDeletionProtection(rs), []));
  test('staging and the acceptance jobs may be deleted; live, the workflow and the deployer are protected unless turned off', async () => {
    const protection = (type: string, name: string) =>
      rs.find((r) => r.type === type && r.name === name)?.body.deletion_protection;
    assert.equal(protection('google_cloud_run_v2_service', 'staging'), false);
    assert.equal(protection('google_cloud_run_v2_service', 'staging_regional'), false);
    assert.equal(
      protection('google_cloud_run_v2_service', 'live_regional'),
      '${var.live_deletion_protection}',
    );
    assert.equal(protection('google_cloud_run_v2_job', 'acceptance'), false);
    assert.equal(
      protection('google_cloud_run_v2_service', 'live'),
      '${var.live_deletion_protection}',
    );
    assert.equal(protection('google_workflows_workflow', 'release'), '${var.deletion_protection}');
    assert.equal(
      protection('google_cloud_run_v2_service', 'deployer'),
      '${var.deletion_protection}',
    );
    const variable = async (file: string, name: string) => {
      const doc = await parseHcl(file, await readFile(`${infra}/${file}`, 'utf8'));
      return ((doc.variable as Record<string, { default?: unknown }[]>)[name] ?? [])[0];
    };
    for (const [file, name] of [
      ['modules/pipeline/main.tf', 'live_deletion_protection'],
      ['modules/job-pipeline/main.tf', 'live_deletion_protection'],
      ['modules/workflow/main.tf', 'deletion_protection'],
      ['modules/deployer/main.tf', 'deletion_protection'],
      ['envs/example/variables.tf', 'deletion_protection'],
    ] as const) {
      assert.equal(
        (await variable(file, name))?.default,
        true,
        `${file}: ${name} defaults to true`,
      );
    }
  });
  test('the deployer is internal and only the push and scheduler identities invoke it', () => {
    assert.equal(deployerService().body.ingress, 'INGRESS_TRAFFIC_INTERNAL_ONLY');
    const invokers = rs
      .filter(
        (r) =>
          r.type === 'google_cloud_run_v2_service_iam_member' &&
          String(r.body.name).includes('google_cloud_run_v2_service.deployer'),
      )
      .map((r) => String(r.body.member));
    assert.deepEqual(invokers.sort(), [
      'serviceAccount:${var.accounts.push}',
      'serviceAccount:${var.accounts.scheduler}',
    ]);
  });
  test('the deployer runs under the memory limit its benchmarks measure it under', () => {
    const [template] = deployerService().body.template as {
      containers: { resources: unknown[] }[];
    }[];
    assert.deepEqual(template?.containers[0]?.resources[0], {
      limits: { cpu: '1', memory: `${DEPLOYER_MEMORY_MIB}Mi` },
      startup_cpu_boost: true,
    });
  });
  test("the workflow's rights cover exactly the resources it deploys to", async () => {
    const grants = grantsOf(rs, 'workflow');
    const developer = grants.filter((g) => g.role === 'roles/run.developer');
    assert.deepEqual([...new Set(developer.map((g) => g.type))].sort(), [
      'google_cloud_run_v2_job_iam_member',
      'google_cloud_run_v2_service_iam_member',
      'google_cloud_run_v2_worker_pool_iam_member',
    ]);
    // A service pipeline's two services, a job pipeline's two jobs (module job-pipeline).
    const services = developer.filter((g) => g.type === 'google_cloud_run_v2_service_iam_member');
    assert.equal(services.length, 2, JSON.stringify(services));
    const home = services.find((g) => !g.on.includes('local.regional'));
    assert.match(home?.on ?? '', /google_cloud_run_v2_service\.staging\b/);
    assert.match(home?.on ?? '', /google_cloud_run_v2_service\.live\b/);
    // In the pipeline's other regions (live_regions, staging_regions): on each region's services,
    // which the module creates per region, and on nothing else.
    const pipeline = rs.filter((r) => r.file === 'modules/pipeline/main.tf');
    const byName = (type: string, name: string) =>
      pipeline.find((r) => r.type === type && r.name === name)?.body;
    assert.ok(services.some((g) => g.on === '"${local.regional}"'));
    assert.equal(
      byName('google_cloud_run_v2_service', 'staging_regional')?.for_each,
      '${local.staging_others}',
    );
    assert.equal(
      byName('google_cloud_run_v2_service', 'live_regional')?.for_each,
      '${local.live_others}',
    );
    const regionalIn = ['staging_regional', 'live_regional'].map(
      (n) => `google_cloud_run_v2_service.${n}`,
    );
    for (const grant of [
      'workflow_deploys_regional',
      'acceptance_calls_regional',
      'deployer_reads_live_regional',
      'live_public_regional',
    ]) {
      const body = byName('google_cloud_run_v2_service_iam_member', grant);
      assert.ok(body, `modules/pipeline grants ${grant}`);
      assert.equal(body.location, '${each.value.location}', grant);
      assert.equal(body.name, '${each.value.name}', grant);
      assert.ok(
        /^\$\{local\.regional\}$|google_cloud_run_v2_service\.live_regional\b/.test(
          String(body.for_each),
        ),
        `${grant} iterates the regional services: ${body.for_each}`,
      );
    }
    const [locals] = (
      await parseHcl('pipeline.tf', await readFile(`${infra}/modules/pipeline/main.tf`, 'utf8'))
    ).locals as { regional?: string }[];
    for (const r of regionalIn) assert.match(String(locals?.regional), new RegExp(`${r}\\b`));
    const jobs = developer.find((g) => g.type === 'google_cloud_run_v2_job_iam_member');
    assert.match(jobs?.on ?? '', /google_cloud_run_v2_job\.staging/);
    assert.match(jobs?.on ?? '', /google_cloud_run_v2_job\.live/);
    // A worker pool pipeline's: on each of its two pools, which the same module creates.
    const pools = rs.find((r) => r.type === 'google_cloud_run_v2_worker_pool');
    const poolGrant = rs.find((r) => r.type === 'google_cloud_run_v2_worker_pool_iam_member');
    assert.equal(pools?.body.for_each, poolGrant?.body.for_each);
    assert.equal(poolGrant?.body.name, '${google_cloud_run_v2_worker_pool.pool[each.key].name}');
    assert.ok(
      grants.some(
        (g) =>
          g.role === 'roles/run.jobsExecutorWithOverrides' &&
          /google_cloud_run_v2_job\.acceptance/.test(g.on),
      ),
    );
    const actAs = grants.filter((g) => g.role === 'roles/iam.serviceAccountUser').map((g) => g.on);
    assert.deepEqual(actAs.sort(), ['"${var.account_ids.acceptance}"', '"${var.account_ids.app}"']);
    // Monitoring only when canary metrics are on.
    const monitoring = rs.find((r) => r.name === 'workflow_reads_metrics');
    assert.match(String(monitoring?.body.count), /var\.canary_metrics/);
  });
});

describe('each check catches a bad snippet', () => {
  const cases: { name: string; hcl: string; check: (r: Resource[]) => string[]; want: RegExp }[] = [
    {
      name: 'owner role',
      hcl: 'resource "google_project_iam_member" "x" {\n role = "roles/owner"\n member = "user:a@b.c"\n}',
      check: checkNoBroadRoles,
      want: /grants roles\/owner/,
    },
    {
      name: 'editor role',
      hcl: 'resource "google_project_iam_member" "x" {\n role = "roles/editor"\n member = "user:a@b.c"\n}',
      check: checkNoBroadRoles,
      want: /grants roles\/editor/,
    },
    {
      name: 'allUsers invoker on the deployer',
      hcl: 'resource "google_cloud_run_v2_service_iam_member" "open" {\n name = "runway-deployer"\n role = "roles/run.invoker"\n member = "allUsers"\n}',
      check: checkNotPublic,
      want: /makes a resource public/,
    },
    {
      name: 'allAuthenticatedUsers on staging',
      hcl: 'resource "google_cloud_run_v2_service_iam_member" "staging" {\n role = "roles/run.invoker"\n member = "allAuthenticatedUsers"\n}',
      check: checkNotPublic,
      want: /makes a resource public/,
    },
    {
      name: 'a grant named live_public on staging',
      hcl: 'resource "google_cloud_run_v2_service_iam_member" "live_public_regional" {\n for_each = google_cloud_run_v2_service.staging_regional\n name = each.value.name\n role = "roles/run.invoker"\n member = "allUsers"\n}',
      check: checkNotPublic,
      want: /makes a resource public/,
    },
    {
      name: 'a service account key',
      hcl: 'resource "google_service_account_key" "k" {\n service_account_id = "x"\n}',
      check: checkNoKeys,
      want: /creates a service account key/,
    },
    {
      name: 'a push without OIDC',
      hcl: 'resource "google_pubsub_subscription" "s" {\n topic = "t"\n push_config {\n push_endpoint = "https://x"\n }\n dead_letter_policy {\n dead_letter_topic = "d"\n max_delivery_attempts = 5\n }\n retry_policy {\n minimum_backoff = "10s"\n }\n}',
      check: checkPushSubscriptions,
      want: /without an OIDC token/,
    },
    {
      name: 'a push without a dead letter',
      hcl: 'resource "google_pubsub_subscription" "s" {\n topic = "t"\n push_config {\n push_endpoint = "https://x"\n oidc_token {\n service_account_email = "a"\n audience = "b"\n }\n }\n retry_policy {\n minimum_backoff = "10s"\n }\n}',
      check: checkPushSubscriptions,
      want: /no dead-letter policy/,
    },
    {
      name: 'a job without deletion_protection',
      hcl: 'resource "google_cloud_run_v2_job" "j" {\n name = "j"\n}',
      check: checkDeletionProtection,
      want: /leaves deletion_protection/,
    },
    {
      name: 'a storage role on the project',
      hcl: 'resource "google_project_iam_member" "x" {\n role = "roles/storage.objectCreator"\n member = "serviceAccount:${var.accounts.ci}"\n}',
      check: checkStorageOnBuckets,
      want: /beyond one bucket/,
    },
    {
      name: "a role beyond an account's list",
      hcl: 'resource "google_project_iam_member" "x" {\n role = "roles/run.admin"\n member = "serviceAccount:${var.accounts.deployer}"\n}',
      check: (r) => checkAccountRoles(r, ALLOWED),
      want: /may hold only/,
    },
  ];
  test('an open-ended provider version', async () => {
    const hcl =
      'terraform {\n required_providers {\n google = {\n source = "hashicorp/google"\n version = ">= 6.0"\n }\n }\n}';
    assert.deepEqual(checkProviderPin([{ file: 'bad.tf', doc: await parseHcl('bad.tf', hcl) }]), [
      'bad.tf: google provider version >= 6.0, not ~> 6.0',
    ]);
  });
  for (const c of cases) {
    test(c.name, async () => {
      const found = c.check(resources([{ file: 'bad.tf', doc: await parseHcl('bad.tf', c.hcl) }]));
      assert.ok(
        found.some((v) => c.want.test(v)),
        JSON.stringify(found),
      );
    });
  }
});

/** A Cloud Build step whose entrypoint is bash, run here with Cloud Build's substitutions. */
async function runStep(step: CloudBuildStep, values: Record<string, string>) {
  assert.equal(step.entrypoint, 'bash', `step ${step.id} runs bash`);
  const args = (step.args ?? []).map((a) => substitute(String(a), values));
  return exec('bash', args).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
}

/** Every documented `gcloud builds submit --config ...` command, continuation lines joined. */
function submitCommands(text: string): string[] {
  return text
    .replace(/\\\n[\s#]*/g, ' ')
    .split('\n')
    .filter((line) => /gcloud builds submit\b.*--config/.test(line));
}

describe('cloudbuild.yaml', () => {
  let doc: CloudBuildDoc;
  before(async () => {
    doc = parseYaml(await readFile(`${root}cloudbuild.yaml`, 'utf8'));
  });
  test('tests run before any image is built; images are tagged with the commit; deploys go by digest', () => {
    assert.deepEqual(checkCloudBuild(doc), []);
  });
  test('every substitution used has a default, every passed key is accepted, serviceAccount takes none', () => {
    assert.deepEqual(checkSubstitutions(doc), []);
  });
  test('the first step checks COMMIT_SHA, which Cloud Build fills only for trigger builds', () => {
    assert.deepEqual(checkTriggerOnlyGuard(doc), []);
  });
  const commits: { name: string; sha: string; fails: boolean }[] = [
    { name: 'empty (gcloud builds submit without it)', sha: '', fails: true },
    { name: 'a short hash', sha: 'abc1234', fails: true },
    { name: 'a branch name', sha: 'main', fails: true },
    { name: 'a full SHA-1 commit', sha: 'a'.repeat(40), fails: false },
    { name: 'a full SHA-256 commit', sha: '0123456789abcdef'.repeat(4), fails: false },
  ];
  for (const c of commits) {
    test(`the first step ${c.fails ? 'stops' : 'passes'} the build on ${c.name}`, async () => {
      const first = doc.steps?.[0];
      assert.ok(first);
      const { code, stderr } = await runStep(first, { PROJECT_ID: 'p', COMMIT_SHA: c.sha });
      assert.equal(code !== 0, c.fails, stderr);
      if (c.fails)
        assert.match(stderr, /COMMIT_SHA.*--substitutions=COMMIT_SHA=\$\(git rev-parse HEAD\)/);
    });
  }
  test('every documented submit passes the commit, the build account and the source bucket', async () => {
    const defined = Object.keys(doc.substitutions ?? {});
    const found: string[] = [];
    for (const file of ['docs/deploy.md', 'README.md', 'infra/README.md', 'cloudbuild.yaml']) {
      for (const command of submitCommands(await readFile(`${root}${file}`, 'utf8'))) {
        found.push(file);
        const subs = /--substitutions=((?:\$\([^)]*\)|\S)+)/.exec(command)?.[1] ?? '';
        assert.match(subs, /(^|,)COMMIT_SHA=\$\(git rev-parse HEAD\)(,|$)/, `${file}: ${command}`);
        for (const key of subs.split(',').map((kv) => kv.split('=')[0] ?? '')) {
          assert.ok(key === 'COMMIT_SHA' || defined.includes(key), `${file} passes ${key}`);
        }
        assert.match(command, /--service-account=projects\/\S+\/serviceAccounts\/runway-ci@/, file);
        // The bucket Terraform made; named, so gcloud needs no project-wide storage.buckets.list.
        assert.match(command, /--gcs-source-staging-dir=gs:\/\/\S+_cloudbuild\/source/, file);
      }
    }
    assert.ok(found.includes('docs/deploy.md'), 'docs/deploy.md documents gcloud builds submit');
  });
  test('terraform outputs the build account in the form --service-account takes', async () => {
    const outputs = await parseHcl(
      'outputs.tf',
      await readFile(`${infra}/envs/example/outputs.tf`, 'utf8'),
    );
    const [out] =
      (outputs.output as Record<string, { value: string }[]>).ci_build_service_account ?? [];
    assert.equal(
      out?.value,
      'projects/${var.project}/serviceAccounts/${module.identities.emails.ci}',
    );
  });
  const bad: { name: string; doc: unknown; want: RegExp }[] = [
    {
      name: 'build before tests',
      doc: {
        steps: [
          { id: 'b', args: ['build', '-t', 'i:${COMMIT_SHA}', '.'] },
          { id: 't', entrypoint: 'npm', args: ['test'] },
        ],
      },
      want: /builds before the tests ran/,
    },
    {
      name: 'latest only',
      doc: {
        steps: [
          { id: 't', entrypoint: 'npm', args: ['test'] },
          { id: 'b', args: ['build', '-t', 'i:latest', '.'] },
        ],
      },
      want: /not the commit/,
    },
    {
      name: 'deploy by tag',
      doc: {
        steps: [
          { id: 't', entrypoint: 'npm', args: ['test'] },
          { id: 'b', args: ['build', '-t', 'i:${COMMIT_SHA}', '.'] },
          {
            id: 'd',
            entrypoint: 'gcloud',
            args: ['run', 'services', 'update', 'x', '--image=i:${COMMIT_SHA}'],
          },
        ],
      },
      want: /not pinned by digest/,
    },
    {
      name: 'workflow without its account',
      doc: {
        steps: [
          { id: 't', entrypoint: 'npm', args: ['test'] },
          { id: 'b', args: ['build', '-t', 'i:${COMMIT_SHA}', '.'] },
          { id: 'w', entrypoint: 'gcloud', args: ['workflows', 'deploy', 'runway-release'] },
        ],
      },
      want: /without its own service account/,
    },
  ];
  for (const c of bad) {
    test(`catches: ${c.name}`, () => {
      assert.ok(checkCloudBuild(c.doc as never).some((v) => c.want.test(v)));
    });
  }
  const badSubstitutions: {
    name: string;
    doc: CloudBuildDoc;
    check: (d: CloudBuildDoc) => string[];
    want: RegExp;
  }[] = [
    {
      name: 'a key used only inside another substitution, without ALLOW_LOOSE',
      doc: {
        substitutions: { _REPO: 'apps', _IMAGE: 'x/${_REPO}/y' },
        options: { dynamicSubstitutions: true },
        steps: [{ args: ['push', '${_IMAGE}'] }],
      },
      check: checkSubstitutions,
      want: /_REPO is not used directly.*ALLOW_LOOSE/,
    },
    {
      name: 'a key used without a default',
      doc: { steps: [{ args: ['${_MISSING}'] }] },
      check: checkSubstitutions,
      want: /_MISSING\} is used but has no default/,
    },
    {
      name: 'nested substitutions without dynamicSubstitutions',
      doc: {
        substitutions: { _A: 'a', _B: '${_A}' },
        options: { substitutionOption: 'ALLOW_LOOSE' },
        steps: [{ args: ['${_B}'] }],
      },
      check: checkSubstitutions,
      want: /without options.dynamicSubstitutions/,
    },
    {
      name: 'serviceAccount built from substitutions',
      doc: {
        serviceAccount:
          'projects/${PROJECT_ID}/serviceAccounts/ci@${PROJECT_ID}.iam.gserviceaccount.com',
        steps: [],
      },
      check: checkSubstitutions,
      want: /serviceAccount uses substitutions/,
    },
    {
      name: 'COMMIT_SHA used with no first step checking it',
      doc: {
        steps: [
          { id: 'install', entrypoint: 'npm', args: ['ci'] },
          { id: 'b', args: ['build', '-t', 'i:${COMMIT_SHA}', '.'] },
        ],
      },
      check: checkTriggerOnlyGuard,
      want: /COMMIT_SHA\} is empty outside trigger builds/,
    },
  ];
  for (const c of badSubstitutions) {
    test(`catches: ${c.name}`, () => {
      const found = c.check(c.doc);
      assert.ok(
        found.some((v) => c.want.test(v)),
        JSON.stringify(found),
      );
    });
  }
});

describe('terraform itself, where it is installed', () => {
  const terraform = exec('terraform', ['version']).then(
    () => true,
    () => false,
  );
  test('terraform fmt -check', async (t) => {
    if (!(await terraform)) return t.skip('terraform is not installed here');
    const { stdout } = await exec('terraform', ['fmt', '-check', '-recursive', infra]).catch(
      (e) => {
        throw new Error(`terraform fmt -check: unformatted files:\n${e.stdout}`);
      },
    );
    assert.equal(stdout.trim(), '');
  });
  test('terraform validate', async (t) => {
    // The google provider cannot be downloaded here (no registry access); validate runs only
    // where `terraform init` has already fetched it.
    if (!existsSync(`${infra}/envs/example/.terraform/providers`)) {
      return t.skip(
        'the google provider is not installed (run terraform init in infra/envs/example where the registry is reachable)',
      );
    }
    await exec('terraform', [`-chdir=${infra}/envs/example`, 'validate']);
  });
});
