// The variables the stack hands infra/'s Terraform (local/cloud.ts reads its grants with them):
// each pipeline's services, and the regions a multi-region pipeline names.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parsePipelineConfig } from '../services/shared/pipeline-config.ts';
import { readTerraformGrants } from './iam/terraform.ts';
import { jobPipelinesVar, pipelinesVar } from './stack.ts';

const repo = fileURLToPath(new URL('../', import.meta.url));
const IMG = 'us-central1-docker.pkg.dev/my-project/apps/web';

const config = (pipelines: string) =>
  parsePipelineConfig(`project: my-project
region: us-central1
pipelines:
${pipelines}`);

const cases: { name: string; pipeline: string; want: Record<string, unknown> }[] = [
  {
    name: 'one region: no regions passed, the Terraform defaults to var.region',
    pipeline: `  - name: web
    image: ${IMG}
    staging: { service: web-staging }
    live: { service: web }
    acceptance: { job: web-acceptance }`,
    want: {
      staging_service: 'web-staging',
      live_service: 'web',
      acceptance_job: 'web-acceptance',
      live_public: true,
    },
  },
  {
    name: 'live in three regions, staging in one',
    pipeline: `  - name: web
    image: ${IMG}
    staging: { service: web-staging }
    live: { service: web, regions: [us-central1, europe-west1, asia-east1] }
    acceptance: { job: web-acceptance }`,
    want: {
      staging_service: 'web-staging',
      live_service: 'web',
      acceptance_job: 'web-acceptance',
      live_public: true,
      live_regions: ['us-central1', 'europe-west1', 'asia-east1'],
    },
  },
  {
    name: 'staging names its regions too',
    pipeline: `  - name: web
    image: ${IMG}
    staging: { service: web-staging, regions: [europe-west1] }
    live: { service: web, regions: [us-central1, europe-west1] }
    acceptance: { job: web-acceptance }`,
    want: {
      staging_service: 'web-staging',
      live_service: 'web',
      acceptance_job: 'web-acceptance',
      live_public: true,
      live_regions: ['us-central1', 'europe-west1'],
      staging_regions: ['europe-west1'],
    },
  },
];

for (const c of cases) {
  test(`pipelinesVar: ${c.name}`, () => {
    assert.deepEqual(pipelinesVar(config(c.pipeline)), { web: c.want });
  });
}

test('pipelinesVar leaves job pipelines to jobPipelinesVar', () => {
  const cfg = config(`  - name: etl
    kind: job
    image: ${IMG}
    staging: { job: etl-staging }
    live: { job: etl }`);
  assert.deepEqual(pipelinesVar(cfg), {});
  assert.deepEqual(jobPipelinesVar(cfg), { etl: { staging_job: 'etl-staging', live_job: 'etl' } });
});

test("the stack's variables give the workflow run.developer on each region's live service", async () => {
  const cfg = config(cases[2]!.pipeline);
  const { bindings } = await readTerraformGrants({
    dir: join(repo, 'infra/envs/example'),
    base: repo,
    localUser: false,
    vars: { pipelines: pipelinesVar(cfg), job_pipelines: jobPipelinesVar(cfg) },
  });
  const on = (role: string, principal: string) =>
    bindings
      .filter(
        (b) => b.role === role && b.principal === principal && /\/services\/web/.test(b.resource),
      )
      .map((b) => b.resource)
      .sort();
  const workflow = 'serviceAccount:runway-workflow@my-project.iam.gserviceaccount.com';
  assert.deepEqual(on('roles/run.developer', workflow), [
    'projects/my-project/locations/europe-west1/services/web',
    'projects/my-project/locations/europe-west1/services/web-staging',
    'projects/my-project/locations/us-central1/services/web',
  ]);
  assert.deepEqual(on('roles/run.invoker', 'allUsers'), [
    'projects/my-project/locations/europe-west1/services/web',
    'projects/my-project/locations/us-central1/services/web',
  ]);
});
