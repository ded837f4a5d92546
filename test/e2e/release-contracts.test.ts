// Google's contracts, held on the local cloud with real processes (issue 14): the runtime service
// account and every template field runway does not own survive releases; publish times compare
// as instants whatever their spelling; a manual run without publishTime works every time; a short
// canary bake reads Cloud Monitoring with a query Google accepts, and waits for data that shows
// up late. Time runs 20 times faster.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ServicesClient } from '@google-cloud/run';
import { localClientOptions } from '../../services/shared/clients.ts';
import { sampleVersion } from '../../local/demo-scenarios.ts';
import { type Stack, startStack, WORKFLOW } from '../../local/stack.ts';
import { waitForRelease } from '../../local/watch.ts';
import { shortDigest } from '../../services/shared/image-ref.ts';
import { workflowArgsFor } from '../../services/shared/pipeline-config.ts';
import { type GcloudExecution, gcloudInstalled, gcloudWorkflowsRun } from '../helpers/gcloud.ts';
import { deployerAudience, runwayAccount } from '../../local/identity/accounts.ts';
import { localAuthorization } from '../../services/shared/clients.ts';

const IMAGE = 'us-central1-docker.pkg.dev/local-project/apps/shop';
// The app account infra/ gives the pipelines' services, and the workflow may act as (IAM on).
const RUNTIME = 'runway-app@local-project.iam.gserviceaccount.com';
// A 20 s bake, under the minute Cloud Monitoring aligns to; metrics that take 90 s to show.
const CONFIG = `project: local-project
region: us-central1
pipelines:
  - name: shop
    image: ${IMAGE}
    staging: { service: shop-staging }
    live: { service: shop }
    acceptance:
      job: shop-acceptance
      timeoutSeconds: 120
      checks:
        - name: health
          request: { path: /healthz }
          expect: { status: 200 }
    promotion:
      strategy: canary
      steps: [50, 100]
      bakeSeconds: 20
      health: { maxErrorRatio: 0.1, minRequests: 5, dataWaitSeconds: 150 }
`;

describe('Google contracts on the local cloud', () => {
  let stack: Stack;
  let home: string;
  let services: ServicesClient;
  const dirs: string[] = [];
  const name = (service: string) =>
    `projects/${stack.info.project}/locations/${stack.info.region}/services/${service}`;

  async function version(v: string) {
    const dir = await sampleVersion(v);
    dirs.push(dir);
    return stack.registry.store.push(dir, `${IMAGE}:v${v}`);
  }

  /** What Pub/Sub would push for an image, with the publish time spelt as given. */
  async function push(digestRef: string, publishTime: string) {
    const event = { action: 'INSERT', digest: digestRef };
    // As Pub/Sub pushes: with the push account's token for the deployer's audience.
    const token = stack.identity!.sign(
      runwayAccount(stack.info.project, 'push'),
      deployerAudience(stack.info.project),
    );
    const res = await fetch(`${stack.info.deployer}/pubsub/artifact-registry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        message: {
          data: Buffer.from(JSON.stringify(event)).toString('base64'),
          messageId: String(Math.random()),
          publishTime,
        },
        subscription: `projects/${stack.info.project}/subscriptions/runway-deployer-push`,
      }),
    });
    assert.equal(res.status, 204, await res.text());
  }

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'runway-contracts-'));
    const config = join(home, 'runway.yaml');
    await writeFile(config, CONFIG);
    stack = await startStack({
      config,
      home,
      timeScale: 20,
      users: 5,
      metricsDelaySeconds: 90,
      pubsub: 'bridge',
    });
    services = new ServicesClient(localClientOptions(stack.run.host));
    // As infra/modules/pipeline does: both services exist before the first release, with the
    // app's runtime account, an env var and limits of their own, and a placeholder image.
    const placeholder = await version('0.0.1');
    for (const id of ['shop', 'shop-staging']) {
      const [op] = await services.createService({
        parent: `projects/${stack.info.project}/locations/${stack.info.region}`,
        serviceId: id,
        service: {
          template: {
            serviceAccount: RUNTIME,
            maxInstanceRequestConcurrency: 40,
            containers: [
              {
                image: placeholder.digestRef,
                env: [{ name: 'SHOP_MODE', value: 'production' }],
                resources: { limits: { cpu: '1', memory: '512Mi' } },
              },
            ],
          },
        },
      });
      await op.promise();
    }
  });

  after(async () => {
    await services.close();
    await stack.close();
    await Promise.all([...dirs, home].map((d) => rm(d, { recursive: true, force: true })));
  });

  test('a canary with a 20 s bake and metrics 90 s late is judged on its data and promoted; the runtime account, env and limits survive', async () => {
    const v1 = await version('1.0.0');
    await push(v1.digestRef, '2026-12-02T01:09:47Z');
    const run = await waitForRelease(stack.info, v1.digest, { timeoutMs: 120_000 });
    assert.equal(run.result?.outcome, 'PROMOTED', JSON.stringify(run.result ?? run.error));
    for (const id of ['shop', 'shop-staging']) {
      const [svc] = await services.getService({ name: name(id) });
      const t = svc.template!;
      assert.equal(t.serviceAccount, RUNTIME, `${id} still runs as its own account`);
      assert.equal(t.maxInstanceRequestConcurrency, 40);
      assert.deepEqual(
        t.containers?.[0]?.env?.map((e) => [e.name, e.value]),
        [['SHOP_MODE', 'production']],
      );
      assert.equal(t.containers?.[0]?.resources?.limits?.memory, '512Mi');
      assert.equal(t.containers?.[0]?.image, v1.digestRef);
    }
    const [live] = await services.getService({ name: name('shop') });
    assert.equal(live.annotations?.['runway.dev/published'], '2026-12-02T01:09:47.000000000Z');
  });

  test('publish times compare as instants: a push later by its fraction goes live, an older one is superseded', async () => {
    // As text, "…47.078Z" sorts before "…47Z" (live's): the old workflow called this SUPERSEDED.
    const later = await version('2.0.0');
    await push(later.digestRef, '2026-12-02T01:09:47.078Z');
    const promoted = await waitForRelease(stack.info, later.digest, { timeoutMs: 120_000 });
    assert.equal(promoted.result?.outcome, 'PROMOTED', JSON.stringify(promoted.result));
    // Spelt with an offset, an instant before live's: as text it sorts after.
    const older = await version('2.0.1');
    await push(older.digestRef, '2026-12-02T02:09:46.5+01:00');
    const superseded = await waitForRelease(stack.info, older.digest, { timeoutMs: 60_000 });
    assert.equal(superseded.result?.outcome, 'SUPERSEDED', JSON.stringify(superseded.result));
    const [live] = await services.getService({ name: name('shop') });
    assert.equal(live.annotations?.['runway.dev/digest'], later.digest);
  });

  const starters = [
    {
      name: 'gcloud workflows run',
      skip: gcloudInstalled ? false : 'gcloud is not installed here',
      start: (argument: unknown) => gcloudWorkflowsRun(stack.info, WORKFLOW, argument),
    },
    {
      name: 'the Executions API (what a machine without gcloud uses)',
      skip: false,
      start: async (argument: unknown) => {
        const base = `${stack.info.workflows}/v1/projects/${stack.info.project}/locations/${stack.info.region}/workflows/${WORKFLOW}/executions`;
        const res = await fetch(base, {
          method: 'POST',
          headers: localAuthorization,
          body: JSON.stringify({ argument: JSON.stringify(argument) }),
        });
        assert.equal(res.status, 200, await res.clone().text());
        const { name } = (await res.json()) as { name: string };
        for (;;) {
          const e = (await (
            await fetch(`${stack.info.workflows}/v1/${name}`, { headers: localAuthorization })
          ).json()) as GcloudExecution;
          if (e.state !== 'ACTIVE') return e;
          await new Promise((r) => setTimeout(r, 100));
        }
      },
    },
  ];
  for (const [i, s] of starters.entries()) {
    test(`manual releases whose argument has no publishTime, twice, through ${s.name}`, {
      skip: s.skip,
    }, async () => {
      const pipeline = stack.config.pipelines[0]!;
      for (const v of [`3.${i}.0`, `3.${i}.1`]) {
        const pushed = await version(v);
        const args: Record<string, unknown> = {
          ...workflowArgsFor(stack.config, pipeline, { image: pushed.digestRef, source: 'manual' }),
        };
        delete args.publishTime;
        // Hand-started executions carry no labels, so they are followed here, not by digest.
        const execution = await s.start(args);
        assert.equal(execution.state, 'SUCCEEDED', JSON.stringify(execution.error));
        const result = JSON.parse(execution.result!) as { outcome: string };
        assert.equal(result.outcome, 'PROMOTED', `${v}: ${execution.result}`);
        const [live] = await services.getService({ name: name('shop') });
        assert.equal(live.annotations?.['runway.dev/digest'], pushed.digest);
        assert.equal(
          shortDigest(live.annotations?.['runway.dev/digest'] ?? ''),
          shortDigest(pushed.digest),
        );
      }
    });
  }
});
