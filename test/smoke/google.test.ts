// Opt-in smoke test against a real Google Cloud project: one direct release of an image by digest
// through the deployed `runway-release` workflow, then live put back as it was.
//
// Runs only when all of these are set (skipped with the missing names otherwise):
//   GOOGLE_CLOUD_PROJECT      the project infra/ was applied to
//   credentials               GOOGLE_APPLICATION_CREDENTIALS, or gcloud's application-default file
//   RUNWAY_SMOKE_CONFIG       a runway.yaml whose first pipeline is a dedicated smoke pipeline
//                             (declared in the Terraform `pipelines` variable, so the workflow's
//                             account may deploy to its services; never a pipeline users depend on)
//   RUNWAY_SMOKE_IMAGE        the image to release, by digest (REPO@sha256:...)
// Optional: RUNWAY_REGION (default the pipeline's), RUNWAY_WORKFLOW (default runway-release).
//
// Clean-up: the release is forced to the direct strategy; afterwards staging's and live's traffic
// and annotations are restored to what they were and the revisions the release added are deleted
// (once traffic is back, nothing routes to them). Never run here (no Google project can be reached from this machine): the skip is.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseImageRef } from '../../services/shared/image-ref.ts';
import {
  parsePipelineConfig,
  type ServicePipeline,
  workflowArgsFor,
} from '../../services/shared/pipeline-config.ts';

const env = process.env;
const adc = join(homedir(), '.config', 'gcloud', 'application_default_credentials.json');
const missing = [
  !env.GOOGLE_CLOUD_PROJECT && 'GOOGLE_CLOUD_PROJECT',
  !(env.GOOGLE_APPLICATION_CREDENTIALS || existsSync(adc)) &&
    'credentials (GOOGLE_APPLICATION_CREDENTIALS or gcloud auth application-default login)',
  !env.RUNWAY_SMOKE_CONFIG && 'RUNWAY_SMOKE_CONFIG',
  !env.RUNWAY_SMOKE_IMAGE && 'RUNWAY_SMOKE_IMAGE',
].filter(Boolean);
const skip = missing.length > 0 ? `opt-in: set ${missing.join(', ')}` : false;

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const undo of cleanups.reverse()) await undo().catch((err) => console.error(err));
});

test('one direct release against a real project, then live as it was', {
  skip,
  timeout: 30 * 60_000,
}, async () => {
  const project = env.GOOGLE_CLOUD_PROJECT!;
  const config = parsePipelineConfig(readFileSync(env.RUNWAY_SMOKE_CONFIG!, 'utf8'));
  const pipeline = config.pipelines[0] as ServicePipeline;
  const region = env.RUNWAY_REGION ?? pipeline.region;
  const image = parseImageRef(env.RUNWAY_SMOKE_IMAGE!);
  assert.ok(image.digest, 'RUNWAY_SMOKE_IMAGE must name the image by digest');

  const { ServicesClient, RevisionsClient } = await import('@google-cloud/run');
  const { ExecutionsClient } = await import('@google-cloud/workflows');
  const services = new ServicesClient();
  const revisions = new RevisionsClient();
  const executions = new ExecutionsClient();
  const serviceName = (service: string) =>
    `projects/${project}/locations/${region}/services/${service}`;
  const liveName = serviceName(pipeline.live.service);

  /** Puts a service's traffic and annotations back and deletes the revisions added since. */
  async function restoreLater(name: string) {
    const [before] = await services.getService({ name }).catch(() => [undefined]);
    if (!before) return;
    const [had] = await revisions.listRevisions({ parent: name });
    const existed = new Set(had.map((r) => r.name));
    cleanups.push(async () => {
      const [op] = await services.updateService({
        service: { name, traffic: before.traffic, annotations: before.annotations },
        updateMask: { paths: ['traffic', 'annotations'] },
      });
      await op.promise();
      const [now] = await revisions.listRevisions({ parent: name });
      for (const r of now.filter((r) => !existed.has(r.name))) {
        const [del] = await revisions.deleteRevision({ name: r.name! });
        await del.promise();
      }
    });
  }
  await restoreLater(serviceName(pipeline.staging.service));
  await restoreLater(liveName);

  const direct = { ...pipeline, promotion: { strategy: 'direct' as const } };
  const args = workflowArgsFor(config, direct, {
    image: env.RUNWAY_SMOKE_IMAGE!,
    source: 'manual',
    project,
  });
  const workflow = `projects/${project}/locations/${region}/workflows/${env.RUNWAY_WORKFLOW ?? 'runway-release'}`;
  const [started] = await executions.createExecution({
    parent: workflow,
    execution: { argument: JSON.stringify(args), labels: { runway: 'smoke' } },
  });
  let execution = started;
  const deadline = Date.now() + 25 * 60_000;
  while (String(execution.state) === 'ACTIVE' || String(execution.state) === 'QUEUED') {
    assert.ok(Date.now() < deadline, `${started.name} still running after 25 min`);
    await new Promise((r) => setTimeout(r, 10_000));
    [execution] = await executions.getExecution({ name: started.name! });
  }
  assert.equal(String(execution.state), 'SUCCEEDED', JSON.stringify(execution.error ?? execution));
  const result = JSON.parse(execution.result ?? '{}') as { outcome?: string };
  assert.ok(
    result.outcome === 'PROMOTED' || result.outcome === 'DUPLICATE',
    `outcome ${result.outcome}: ${execution.result}`,
  );
  const [live] = await services.getService({ name: liveName });
  assert.equal(live.annotations?.['runway.dev/digest'], image.digest);
});
