// A push the deployer never gets is caught by the local Cloud Scheduler: the reconcile job that
// deployRunway creates as infra/modules/scheduler declares it calls /reconcile on its schedule,
// and the image is released. The push subscription goes through a proxy that fails every delivery
// of one push (the deployer's push route broken for that event) and forwards the rest.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CloudSchedulerClient } from '@google-cloud/scheduler';
import { localAuthorization, localClientOptions } from '../../services/shared/clients.ts';
import { liveVersion } from '../../local/demo-scenarios.ts';
import { repoRoot } from '../../local/images.ts';
import { ensureSubscription } from '../../local/pubsub/index.ts';
import { RECONCILE_JOB, type Stack, startStack, SUBSCRIPTION, TOPIC } from '../../local/stack.ts';
import { waitForRelease } from '../../local/watch.ts';
import { loopbackServer } from '../helpers/loopback.ts';

const CONFIG = join(repoRoot, 'runway.yaml');

/** The failed push's message id, and how often it was refused; other pushes are forwarded. */
const proxy = { failing: '', refused: 0, forwarded: 0, deployer: '' };
const pushProxy = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    const id = (JSON.parse(body.toString()) as { message?: { messageId?: string } }).message
      ?.messageId;
    proxy.failing ||= id ?? '';
    if (id === proxy.failing) {
      proxy.refused++;
      res.writeHead(500).end('the push route fails for this push');
      return;
    }
    proxy.forwarded++;
    const answer = await fetch(`${proxy.deployer}/pubsub/artifact-registry`, {
      method: 'POST',
      headers: {
        'content-type': String(req.headers['content-type'] ?? 'application/json'),
        // The push's OIDC token: Cloud Run's invoker check and the deployer both want it.
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      },
      body,
    }).catch(() => undefined);
    res.writeHead(answer?.status ?? 502).end();
  });
});
const proxyUrl = loopbackServer(pushProxy);

describe('the scheduled reconcile catches a push the deployer never got', () => {
  let stack: Stack;
  let home: string;
  let scheduler: CloudSchedulerClient;

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'runway-e2e-sched-'));
    stack = await startStack({ config: CONFIG, home, timeScale: 20 });
    scheduler = new CloudSchedulerClient(localClientOptions(stack.env.SCHEDULER_EMULATOR_HOST!));
    proxy.deployer = stack.info.deployer;
    // The push subscription, recreated through the proxy.
    const sub = `${stack.info.pubsub}/v1/projects/${stack.info.project}/subscriptions/${SUBSCRIPTION}`;
    const deleted = await fetch(sub, { method: 'DELETE', headers: localAuthorization });
    assert.ok(deleted.ok, await deleted.text());
    await ensureSubscription(stack.info.pubsub, stack.info.project, SUBSCRIPTION, {
      topic: TOPIC,
      pushEndpoint: `${proxyUrl()}/push`,
      ackDeadlineSeconds: 30,
      minimumBackoff: '1s',
      maximumBackoff: '10s',
    });
  });

  after(async () => {
    await scheduler?.close();
    await stack?.close();
    await rm(home, { recursive: true, force: true });
  });

  test('the reconcile job is the one infra/modules/scheduler declares', async () => {
    const name = `projects/${stack.info.project}/locations/${stack.info.region}/jobs/${RECONCILE_JOB}`;
    const [job] = await scheduler.getJob({ name });
    assert.equal(job.schedule, '*/15 * * * *');
    assert.equal(job.timeZone, 'Etc/UTC');
    assert.equal(job.state, 'ENABLED');
    assert.equal(job.httpTarget?.uri, `${stack.info.deployer}/reconcile`);
    assert.equal(job.httpTarget?.httpMethod, 'POST');
    assert.equal(job.httpTarget?.headers?.['Content-Type'], 'application/json');
    assert.equal(Buffer.from(job.httpTarget!.body as Uint8Array).toString(), '{"verify":false}');
    assert.equal(
      job.httpTarget?.oidcToken?.serviceAccountEmail,
      `runway-scheduler@${stack.info.project}.iam.gserviceaccount.com`,
    );
    assert.equal(job.retryConfig?.retryCount, 3);
    assert.equal(job.retryConfig?.minBackoffDuration?.seconds, '10');
  });

  test('a push whose delivery fails is released by the next scheduled reconcile', async () => {
    const pipeline = stack.config.pipelines[0]!;
    const sample = join(repoRoot, 'services', 'sample-app');
    const pushed = await stack.registry.push(sample, `${pipeline.image}:latest`);
    for (let i = 0; i < 2000 && proxy.refused === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(proxy.refused > 0, 'the push was delivered to the failing route');
    // Every workflow minute (3 s of wall time at --time-scale 20) rather than every 15.
    const name = `projects/${stack.info.project}/locations/${stack.info.region}/jobs/${RECONCILE_JOB}`;
    await scheduler.updateJob({
      job: { name, schedule: '* * * * *' },
      updateMask: { paths: ['schedule'] },
    });
    const run = await waitForRelease(stack.info, pushed.digest, { timeoutMs: 180_000 });
    assert.equal(run.result?.outcome, 'PROMOTED', JSON.stringify(run.result ?? run));
    assert.equal(await liveVersion(stack), '1.0.0');
    assert.equal(proxy.forwarded, 0, 'the release came from the reconcile, not the push');
    const [job] = await scheduler.getJob({ name });
    assert.ok(job.lastAttemptTime, 'the job ran');
    assert.equal(job.status?.code ?? 0, 0, JSON.stringify(job.status));
  });
});
