// Whole releases on the local cloud: registry push -> Pub/Sub -> the deployer (a local Cloud Run
// service) -> the release workflow -> staging, the acceptance job, live. Asserted through Google's
// clients. Time runs 20 times faster so canary bakes take seconds.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RevisionsClient, ServicesClient } from '@google-cloud/run';
import { shortDigest } from '../../services/shared/image-ref.ts';
import {
  type ServicePipeline,
  targetOf,
  workflowArgsFor,
} from '../../services/shared/pipeline-config.ts';
import { localClientOptions } from '../../services/shared/clients.ts';
import {
  liveVersion,
  prepareScenarios,
  runScenario,
  type Scenario,
  sampleVersion,
} from '../../local/demo-scenarios.ts';
import { repoRoot } from '../../local/images.ts';
import { findEmulator } from '../../local/pubsub/emulator.ts';
import { publish } from '../../local/pubsub/index.ts';
import { deployerAudience, runwayAccount } from '../../local/identity/accounts.ts';
import { newKeyPair, TokenIssuer } from '../../local/identity/issuer.ts';
import { DEPLOYER, type Stack, startStack, TOPIC, WORKFLOW } from '../../local/stack.ts';
import { waitForRelease, waitForStage } from '../../local/watch.ts';
import { gcloudInstalled, gcloudWorkflowsRun } from '../helpers/gcloud.ts';
import { alive } from '../helpers/processes.ts';
import { pauseScheduledReconcile } from '../helpers/reconcile.ts';
import { localAuthorization } from '../../services/shared/clients.ts';

const CONFIG = join(repoRoot, 'runway.yaml');

describe('releases on the local cloud', () => {
  let stack: Stack;
  let home: string;
  let scenarios: Scenario[];
  let cleanup: () => Promise<void>;
  let services: ServicesClient;
  let rejectedDigest = '';
  let revisions: RevisionsClient;
  const live = () =>
    `projects/${stack.info.project}/locations/${stack.info.region}/services/${targetOf(stack.config.pipelines[0]!.live)}`;

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'runway-e2e-home-'));
    ({ scenarios, cleanup } = await prepareScenarios());
    stack = await startStack({ config: CONFIG, home, timeScale: 20 });
    await pauseScheduledReconcile(stack.info);
    services = new ServicesClient(localClientOptions(stack.run.host));
    revisions = new RevisionsClient(localClientOptions(stack.run.host));
  });

  after(async () => {
    await Promise.all([services.close(), revisions.close()]);
    await stack.close();
    await cleanup();
    await rm(home, { recursive: true, force: true });
  });

  test('the demo: v1 first release, v2 canary, a build failing checks and one on port 8000 are rejected; v2.1 to two regions', async () => {
    const runs = [];
    for (const scenario of scenarios) runs.push(await runScenario(stack, scenario));
    rejectedDigest = runs[2]!.digest;
    assert.deepEqual(
      runs.map((r) => [r.scenario.tag, r.run.result?.outcome, r.live]),
      [
        ['v1', 'PROMOTED', '1.0.0'],
        ['v2', 'PROMOTED', '2.0.0'],
        ['v3-broken-checks', 'REJECTED', '2.0.0'],
        ['v4-broken-port', 'REJECTED', '2.0.0'],
        // runway.yaml's two-region pipeline: 2.1.0 in both regions.
        ['v2.1', 'PROMOTED', '2.1.0'],
      ],
      JSON.stringify(runs.map((r) => r.run.result?.reason ?? r.run.error)),
    );
    const v2 = runs[1]!;
    assert.deepEqual(
      v2.run.result?.stages.map((s) => [s.name, s.outcome]),
      [
        ['claim', 'OK'],
        ['staging', 'OK'],
        ['test', 'OK'],
        ['promote', 'OK'],
      ],
    );
    assert.match(runs[2]!.run.result?.reason ?? '', /acceptance tests failed/);
    assert.match(
      runs[3]!.run.result?.reason ?? '',
      /listens on port 8000 instead|tried to listen on port 8000, which is in use/,
    );
    // Live, read through Google's client: all traffic on v2's revision, tagged stable, annotated.
    const [svc] = await services.getService({ name: live() });
    assert.equal(svc.annotations?.['runway.dev/digest'], v2.digest);
    assert.equal(svc.annotations?.['runway.dev/claim'] ?? '', '');
    const serving = (svc.trafficStatuses ?? []).filter((t) => (t.percent ?? 0) > 0);
    assert.deepEqual(
      serving.map((t) => [t.revision, t.percent]),
      [[`sample-${shortDigest(v2.digest)}`, 100]],
    );
  });

  test('a rejected digest re-run by hand with gcloud workflows run is tested again, not a duplicate', {
    skip: gcloudInstalled ? false : 'gcloud is not installed here',
  }, async () => {
    const pipeline = stack.config.pipelines[0]!;
    const args = workflowArgsFor(stack.config, pipeline, {
      image: `${pipeline.image}@${rejectedDigest}`,
      source: 'manual',
    });
    const execution = await gcloudWorkflowsRun(stack.info, WORKFLOW, args);
    assert.equal(execution.state, 'SUCCEEDED', JSON.stringify(execution.error));
    const result = JSON.parse(execution.result!) as { outcome: string; reason: string };
    assert.equal(result.outcome, 'REJECTED');
    assert.match(result.reason, /acceptance tests failed/);
    assert.equal(await liveVersion(stack), '2.0.0');
  });

  test('a candidate answering 5xx to real traffic during a canary: rolled back by its Cloud Monitoring error ratio', async () => {
    const before = await liveVersion(stack);
    const dir = await sampleVersion('3.5.0');
    const server = join(dir, 'server.js');
    const code = await readFile(server, 'utf8');
    await writeFile(
      server,
      code.replace(
        "if (path === '/healthz')",
        "if (path === '/checkout') return json(500, { error: 'broken' });\n  if (path === '/healthz')",
      ),
    );
    const pipeline = stack.config.pipelines[0] as ServicePipeline;
    const pushed = await stack.registry.store.push(dir, `${pipeline.image}:v3-5`);
    const args = workflowArgsFor(
      stack.config,
      {
        ...pipeline,
        promotion: {
          strategy: 'canary',
          steps: [50, 100],
          bakeSeconds: 30,
          analysis: {
            metrics: [{ name: 'errors', builtin: 'error-ratio', max: 0.05 }],
            minRequests: 5,
            dataWaitSeconds: 180,
            inconclusive: 'rollback',
            dryRun: false,
          },
        },
      },
      { image: pushed.digestRef, source: 'manual' },
    );
    const started = await fetch(
      `${stack.info.workflows}/v1/projects/${stack.info.project}/locations/${stack.info.region}/workflows/runway-release/executions`,
      {
        method: 'POST',
        headers: localAuthorization,
        body: JSON.stringify({
          argument: JSON.stringify(args),
          labels: { pipeline: pipeline.name, digest: shortDigest(pushed.digest) },
        }),
      },
    );
    assert.equal(started.status, 200, await started.clone().text());
    // Users keep calling live's /checkout while the canary bakes (four at a time, beside the
    // stack's own users on /); half of them reach the candidate.
    const [svc] = await services.getService({ name: live() });
    let done = false;
    const user = async () => {
      while (!done) {
        await fetch(`${svc.uri}/checkout`)
          .then((r) => r.arrayBuffer())
          .catch(() => undefined);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const traffic = Promise.all([user(), user(), user(), user()]);
    const run = await waitForRelease(stack.info, pushed.digest, { timeoutMs: 90_000 });
    done = true;
    await traffic;
    assert.equal(run.result?.outcome, 'ROLLED_BACK', JSON.stringify(run.result));
    assert.match(
      run.result?.reason ?? '',
      /canary at 50% failed: errors: 5xx ratio \d+\/\d+ is above 0\.05/,
    );
    assert.equal(await liveVersion(stack), before);
    await rm(dir, { recursive: true, force: true });
  });

  test('the deployer verifies push tokens as on Google: none, forged, tampered or another account’s is refused and starts nothing', async () => {
    const { project } = stack.info;
    const identity = stack.identity!;
    const audience = deployerAudience(project);
    const pusher = runwayAccount(project, 'push');
    // A forger knows the issuer's URL and the claims, not its key.
    const forger = new TokenIssuer({ url: identity.url, keys: await newKeyPair() });
    const good = identity.sign(pusher, audience);
    const [head, , sig] = good.split('.');
    const claims = JSON.parse(Buffer.from(good.split('.')[1]!, 'base64url').toString());
    const tampered = `${head}.${Buffer.from(JSON.stringify({ ...claims, aud: 'x' })).toString('base64url')}.${sig}`;
    const dir = await sampleVersion('6.6.6');
    const pipeline = stack.config.pipelines[0]!;
    const pushed = await stack.registry.store.push(dir, `${pipeline.image}:v666`);
    const envelope = (digest: string) =>
      JSON.stringify({
        message: {
          data: Buffer.from(JSON.stringify({ action: 'INSERT', digest })).toString('base64'),
          messageId: String(Math.random()),
          publishTime: new Date().toISOString(),
        },
        subscription: `projects/${project}/subscriptions/runway-deployer-push`,
      });
    const cases: { name: string; token: string | null; status: number }[] = [
      // Cloud Run's invoker check answers before the deployer: no token is its 403.
      { name: 'no token', token: null, status: 403 },
      { name: 'forged (another key)', token: forger.idToken(pusher, audience), status: 401 },
      { name: 'tampered (audience edited)', token: tampered, status: 401 },
      {
        name: 'the push account, another audience',
        token: identity.sign(pusher, 'https://x.invalid'),
        status: 401,
      },
      {
        name: 'another account (the scheduler’s)',
        token: identity.sign(runwayAccount(project, 'scheduler'), audience),
        status: 403,
      },
      {
        name: 'an access token',
        token: identity.issuer.accessToken(`serviceAccount:${pusher}`).token,
        status: 401,
      },
    ];
    const before = await executionCount(stack);
    for (const c of cases) {
      const res = await fetch(`${stack.info.deployer}/pubsub/artifact-registry`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(c.token === null ? {} : { authorization: `Bearer ${c.token}` }),
        },
        body: envelope(pushed.digestRef),
      });
      assert.equal(res.status, c.status, `${c.name}: ${await res.text()}`);
    }
    assert.equal(await executionCount(stack), before, 'no refused push started a release');
    // The push account's token for the audience: accepted (an image no pipeline takes starts nothing).
    const ok = await fetch(`${stack.info.deployer}/pubsub/artifact-registry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${good}` },
      body: envelope(`us-central1-docker.pkg.dev/${project}/elsewhere/other@${pushed.digest}`),
    });
    assert.equal(ok.status, 204, await ok.text());
    await rm(dir, { recursive: true, force: true });
  });

  test('a storm of 100 identical pushes gives one release', async () => {
    const dir = await sampleVersion('5.0.0');
    const image = `${stack.config.pipelines[0]!.image}:v5`;
    const pushed = await stack.registry.store.push(dir, image);
    const event = { action: 'INSERT', digest: pushed.digestRef, tag: pushed.tagRef };
    await Promise.all(
      Array.from({ length: 100 }, () =>
        publish(stack.pubsub.url, stack.info.project, TOPIC, event),
      ),
    );
    const run = await waitForRelease(stack.info, pushed.digest, {
      timeoutMs: 90_000,
      quietMs: 1_500,
    });
    assert.equal(run.result?.outcome, 'PROMOTED');
    assert.equal(await liveVersion(stack), '5.0.0');
    const [list] = await revisions.listRevisions({ parent: live() });
    assert.equal(list.filter((r) => r.name?.endsWith(shortDigest(pushed.digest))).length, 1);
    const outcomes = await stackOutcomes(stack, pushed.digest);
    assert.equal(
      outcomes.filter((o) => o === 'PROMOTED').length,
      1,
      `outcomes: ${outcomes.join(', ')}`,
    );
    assert.ok(
      outcomes.every((o) => o === 'PROMOTED' || o === 'DUPLICATE'),
      `outcomes: ${outcomes.join(', ')}`,
    );
    await rm(dir, { recursive: true, force: true });
  });

  test('a push during a running release: the newer image ends live', async () => {
    const [six, seven] = await Promise.all([sampleVersion('6.0.0'), sampleVersion('7.0.0')]);
    const image = stack.config.pipelines[0]!.image;
    const first = await stack.registry.push(six, `${image}:v6`);
    await waitForStage(stack.info, first.digest, 'promote');
    const second = await stack.registry.push(seven, `${image}:v7`);
    const [a, b] = await Promise.all([
      waitForRelease(stack.info, first.digest, { timeoutMs: 90_000 }),
      waitForRelease(stack.info, second.digest, { timeoutMs: 90_000 }),
    ]);
    assert.notEqual(a.state, 'FAILED', a.error ?? '');
    assert.notEqual(b.state, 'FAILED', b.error ?? '');
    assert.equal(
      b.result?.outcome,
      'PROMOTED',
      JSON.stringify({ a: a.result, b: b.result }, null, 1),
    );
    assert.match(b.result?.stages[0]?.detail ?? '', /^waited \d+ s for the release before it$/);
    assert.equal(await liveVersion(stack), '7.0.0');
    await Promise.all([rm(six, { recursive: true }), rm(seven, { recursive: true })]);
  });

  test('the deployer killed in the middle of a release: the execution carries on and the deployer comes back', async () => {
    const dir = await sampleVersion('8.0.0');
    const [svc] = await services.getService({
      name: `projects/${stack.info.project}/locations/${stack.info.region}/services/${DEPLOYER}`,
    });
    const revision = svc.latestReadyRevision!.split('/').pop()!;
    const pid = stack.run.services.pidOf(svc.name!, revision)!;
    const pushed = await stack.registry.push(dir, `${stack.config.pipelines[0]!.image}:v8`);
    await waitForStage(stack.info, pushed.digest, 'test');
    process.kill(pid, 'SIGKILL');
    const run = await waitForRelease(stack.info, pushed.digest, { timeoutMs: 90_000 });
    assert.equal(run.result?.outcome, 'PROMOTED');
    assert.equal(alive(pid), false);
    // The deployer is private, as on Google: the push account's token passes Cloud Run's check.
    const token = stack.identity!.sign(
      runwayAccount(stack.info.project, 'push'),
      deployerAudience(stack.info.project),
    );
    const health = await fetch(`${stack.info.deployer}/healthz`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(health.status, 200);
    assert.notEqual(stack.run.services.pidOf(svc.name!, revision), pid);
    await rm(dir, { recursive: true, force: true });
  });

  test('a candidate SIGKILLed in the middle of a canary: rolled back, live keeps the stable version', async () => {
    const before = await liveVersion(stack);
    const dir = await sampleVersion('9.0.0');
    const pushed = await stack.registry.push(dir, `${stack.config.pipelines[0]!.image}:v9`);
    await waitForStage(stack.info, pushed.digest, 'promote');
    const candidate = `sample-${shortDigest(pushed.digest)}`;
    const deadline = Date.now() + 30_000;
    let pid = stack.run.services.pidOf(live(), candidate);
    while (!pid && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      pid = stack.run.services.pidOf(live(), candidate);
    }
    assert.ok(pid, 'the candidate revision started');
    process.kill(pid, 'SIGKILL');
    const run = await waitForRelease(stack.info, pushed.digest, { timeoutMs: 90_000 });
    assert.equal(run.result?.outcome, 'ROLLED_BACK', JSON.stringify(run.result));
    assert.match(
      run.result?.reason ?? '',
      /the candidate crashed during the canary: Container terminated on signal 9\./,
    );
    assert.equal(await liveVersion(stack), before);
    await rm(dir, { recursive: true, force: true });
  });

  test('two builds pushed 100 ms apart: the newer ends live and the older never overrides it', async () => {
    const [a, b] = await Promise.all([sampleVersion('10.0.0'), sampleVersion('11.0.0')]);
    const image = stack.config.pipelines[0]!.image;
    const older = await stack.registry.push(a, `${image}:v10`);
    await new Promise((r) => setTimeout(r, 100));
    const newer = await stack.registry.push(b, `${image}:v11`);
    const [ra, rb] = await Promise.all([
      waitForRelease(stack.info, older.digest, { timeoutMs: 90_000 }),
      waitForRelease(stack.info, newer.digest, { timeoutMs: 90_000 }),
    ]);
    assert.equal(rb.result?.outcome, 'PROMOTED', JSON.stringify(rb.result));
    assert.ok(
      ['PROMOTED', 'SUPERSEDED'].includes(ra.result?.outcome ?? ''),
      JSON.stringify(ra.result),
    );
    assert.equal(await liveVersion(stack), '11.0.0');
    const [svc] = await services.getService({ name: live() });
    assert.equal(svc.annotations?.['runway.dev/digest'], newer.digest);
    await Promise.all([rm(a, { recursive: true }), rm(b, { recursive: true })]);
  });

  test('with every 5th Cloud Run API call answering 503, a release still converges', async () => {
    const dir = await sampleVersion('12.0.0');
    stack.run.injectFaults(5);
    try {
      const pushed = await stack.registry.push(dir, `${stack.config.pipelines[0]!.image}:v12`);
      const run = await waitForRelease(stack.info, pushed.digest, { timeoutMs: 90_000 });
      assert.equal(run.result?.outcome, 'PROMOTED', JSON.stringify(run));
    } finally {
      stack.run.injectFaults(0);
    }
    assert.equal(await liveVersion(stack), '12.0.0');
    await rm(dir, { recursive: true, force: true });
  });

  test('a missed push is caught by /reconcile, which then reports in sync and verifies live', async () => {
    const dir = await sampleVersion('14.0.0');
    const pipeline = stack.config.pipelines[0]!;
    // Pushed to the registry without a notification: the event Pub/Sub never delivered.
    const pushed = await stack.registry.store.push(dir, `${pipeline.image}:latest`);
    const reconcile = async (body: unknown) => {
      // As Cloud Scheduler calls it: with the scheduler account's token for the deployer's audience.
      const token = stack.identity!.sign(
        runwayAccount(stack.info.project, 'scheduler'),
        deployerAudience(stack.info.project),
      );
      const res = await fetch(`${stack.info.deployer}/reconcile`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 200, await res.clone().text());
      return (
        (await res.json()) as {
          pipelines: { action: string; newestDigest: string; verify?: { outcome: string } }[];
        }
      ).pipelines[0]!;
    };
    const first = await reconcile({});
    assert.equal(first.action, 'started', JSON.stringify(first));
    assert.equal(first.newestDigest, pushed.digest);
    const run = await waitForRelease(stack.info, pushed.digest, { timeoutMs: 90_000 });
    assert.equal(run.result?.outcome, 'PROMOTED', JSON.stringify(run.result));
    assert.equal(await liveVersion(stack), '14.0.0');
    const again = await reconcile({ verify: true });
    assert.equal(again.action, 'in-sync', JSON.stringify(again));
    assert.equal(again.verify?.outcome, 'passed', JSON.stringify(again));
    await rm(dir, { recursive: true, force: true });
  });
});

/** Every execution of the release workflow the stack has started. */
async function executionCount(stack: Stack): Promise<number> {
  const res = await fetch(
    `${stack.info.workflows}/v1/projects/${stack.info.project}/locations/${stack.info.region}/workflows/${WORKFLOW}/executions?pageSize=1000`,
    { headers: localAuthorization },
  );
  return ((await res.json()) as { executions?: unknown[] }).executions?.length ?? 0;
}

async function stackOutcomes(stack: Stack, digest: string): Promise<string[]> {
  const filter = encodeURIComponent(`labels.digest="${shortDigest(digest)}"`);
  const res = await fetch(
    `${stack.info.workflows}/v1/projects/${stack.info.project}/locations/${stack.info.region}/workflows/runway-release/executions?view=FULL&pageSize=1000&filter=${filter}`,
    { headers: localAuthorization },
  );
  const { executions = [] } = (await res.json()) as {
    executions?: { state: string; result?: string }[];
  };
  return executions.map((e) => (e.result ? JSON.parse(e.result).outcome : e.state));
}

describe('both Pub/Sub paths carry a release', () => {
  const emulator = findEmulator(process.env);
  for (const kind of ['bridge', 'emulator'] as const) {
    test(`through ${kind === 'bridge' ? "runway's push bridge" : "Google's emulator"}`, {
      skip:
        kind === 'emulator' && !emulator
          ? "Google's Pub/Sub emulator is not installed here"
          : false,
    }, async () => {
      const home = await mkdtemp(join(tmpdir(), `runway-e2e-${kind}-`));
      const stack = await startStack({ config: CONFIG, home, timeScale: 20, pubsub: kind });
      try {
        assert.equal(stack.info.pubsubKind, kind);
        const { scenarios, cleanup } = await prepareScenarios();
        const r = await runScenario(stack, scenarios[0]!);
        await cleanup();
        assert.equal(r.run.result?.outcome, 'PROMOTED');
        assert.equal(r.live, '1.0.0');
      } finally {
        await stack.close();
        await rm(home, { recursive: true, force: true });
      }
    });
  }
});
