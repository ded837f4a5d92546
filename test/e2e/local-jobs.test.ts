// A job pipeline (kind job) on the local cloud with real processes: each push goes registry ->
// Pub/Sub -> the deployer -> the release workflow, whose staging job runs its tasks as processes
// of the local Cloud Run. A good job is promoted (the live job's template on its digest), a job
// whose tasks exit 1 is REJECTED with live untouched, and `runway rollback` restores the previous
// template; /reconcile catches a push never notified. IAM is on, with infra/'s grants. Time runs 20 times faster.
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { deployerAudience, runwayAccount } from '../../local/identity/accounts.ts';
import { type Stack, startStack } from '../../local/stack.ts';
import { waitForRelease } from '../../local/watch.ts';
import { localAuthorization } from '../../services/shared/clients.ts';
import { pauseScheduledReconcile } from '../helpers/reconcile.ts';
import { runwayIn } from '../helpers/runway.ts';

const IMAGE = 'us-central1-docker.pkg.dev/local-project/apps/etl';
const CONFIG = `project: local-project
region: us-central1
pipelines:
  - name: etl
    image: ${IMAGE}
    kind: job
    staging: { job: etl-staging }
    live: { job: etl }
    taskCount: 2
`;
const APP = new URL('../fixtures/apps/etl/', import.meta.url).pathname;

interface Job {
  annotations?: Record<string, string>;
  template?: { taskCount?: number; template?: { containers?: { image?: string }[] } };
  executionCount?: number;
}

describe('a job pipeline on the local cloud', () => {
  let stack: Stack;
  let home: string;
  const dirs: string[] = [];
  const digests: string[] = [];

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'runway-e2e-jobs-'));
    await writeFile(join(home, 'runway.yaml'), CONFIG);
    // IAM on: the workflow's rights on the jobs are infra/'s module job-pipeline's, as on Google.
    stack = await startStack({ config: join(home, 'runway.yaml'), home, timeScale: 20, users: 0 });
    await pauseScheduledReconcile(stack.info);
  });

  after(async () => {
    await stack?.close();
    await Promise.all([home, ...dirs].map((d) => rm(d, { recursive: true, force: true })));
  });

  /** Pushes a version of the etl job (its tasks exit 0, or 1 for `fail`) and waits for its release. */
  async function release(tag: string, mode: 'ok' | 'fail') {
    const dir = await mkdtemp(join(tmpdir(), 'runway-etl-'));
    dirs.push(dir);
    await cp(APP, dir, { recursive: true });
    await writeFile(join(dir, 'mode'), `${mode} ${tag}\n`);
    const pushed = await stack.registry.push(dir, `${IMAGE}:${tag}`);
    digests.push(pushed.digest);
    const run = await waitForRelease(stack.info, pushed.digest, { timeoutMs: 90_000 });
    return { digest: pushed.digest, result: run.result, error: run.error };
  }

  async function job(id: string): Promise<Job> {
    const res = await fetch(
      `${stack.run.url}/v2/projects/${stack.info.project}/locations/${stack.info.region}/jobs/${id}`,
      { headers: localAuthorization },
    );
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as Job;
  }
  const image = (j: Job) => j.template?.template?.containers?.[0]?.image;

  /** `runway ARGS` in-process against the stack. */
  const runway = runwayIn(() => home);

  test('a good job is promoted: the live job is created on its digest', async () => {
    const v1 = await release('v1', 'ok');
    assert.equal(v1.result?.outcome, 'PROMOTED', JSON.stringify(v1));
    const live = await job('etl');
    assert.equal(image(live), `${IMAGE}@${v1.digest}`);
    assert.equal(live.annotations?.['runway.dev/digest'], v1.digest);
    const staging = await job('etl-staging');
    assert.equal(image(staging), `${IMAGE}@${v1.digest}`);
    assert.equal(staging.executionCount, 1, 'the staging job ran once');
  });

  test('a second good job is promoted; the previous template is kept', async () => {
    const v2 = await release('v2', 'ok');
    assert.equal(v2.result?.outcome, 'PROMOTED', JSON.stringify(v2));
    const live = await job('etl');
    assert.equal(image(live), `${IMAGE}@${v2.digest}`);
    assert.equal(live.annotations?.['runway.dev/previous'], digests[0]);
    assert.equal(
      JSON.parse(live.annotations?.['runway.dev/previous-template'] ?? '{}').image,
      `${IMAGE}@${digests[0]}`,
    );
  });

  test('a job whose tasks exit 1 is REJECTED, live untouched', async () => {
    const v3 = await release('v3', 'fail');
    assert.equal(v3.result?.outcome, 'REJECTED', JSON.stringify(v3));
    assert.match(v3.result?.reason ?? '', /the staging job failed: .*task\(s\) failed/);
    const live = await job('etl');
    assert.equal(image(live), `${IMAGE}@${digests[1]}`);
    assert.equal(live.annotations?.['runway.dev/digest'], digests[1]);
    assert.equal(live.annotations?.['runway.dev/claim'], undefined);
  });

  test('runway status reads the live job: its digest and the last refused digest', async () => {
    const r = await runway(['status', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const { pipelines } = JSON.parse(r.stdout) as {
      pipelines: {
        name: string;
        kind: string;
        digest: string;
        lastFailed: string;
        running: null;
      }[];
    };
    const etl = pipelines.find((p) => p.name === 'etl');
    assert.deepEqual(
      { kind: etl?.kind, digest: etl?.digest, lastFailed: etl?.lastFailed, running: etl?.running },
      { kind: 'job', digest: digests[1], lastFailed: digests[2], running: null },
    );
    const text = await runway(['status']);
    assert.match(
      text.stdout,
      new RegExp(`^etl +etl +${digests[1]!.slice(7, 19)} +- +${digests[2]!.slice(7, 19)}$`, 'm'),
    );
  });

  test('runway rollback restores the previous template', async () => {
    const r = await runway(['rollback', 'etl', '--reason', 'bad numbers', '--wait']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ROLLED_BACK: etl job etl on /);
    const live = await job('etl');
    assert.equal(image(live), `${IMAGE}@${digests[0]}`);
    assert.equal(live.annotations?.['runway.dev/digest'], digests[0]);
    assert.equal(live.annotations?.['runway.dev/previous'], digests[1]);
    const again = await runway(['rollback', 'etl', '--to', digests[2]!, '--wait']);
    assert.equal(again.code, 1, 'a job keeps one previous template');
    assert.match(again.stderr, /a job keeps one previous template/);
  });

  test("a missed push is caught by /reconcile from the live job's digest, then in sync", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'runway-etl-'));
    dirs.push(dir);
    await cp(APP, dir, { recursive: true });
    await writeFile(join(dir, 'mode'), 'ok latest\n');
    // Pushed to the registry without a notification: the event Pub/Sub never delivered.
    const pushed = await stack.registry.store.push(dir, `${IMAGE}:latest`);
    const reconcile = async (body: unknown) => {
      // As Cloud Scheduler calls it; the deployer reads the live job with infra/'s run.viewer.
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
      return ((await res.json()) as { pipelines: Record<string, unknown>[] }).pipelines[0]!;
    };
    const first = await reconcile({});
    assert.deepEqual(
      [first.action, first.newestDigest, first.liveDigest],
      ['started', pushed.digest, digests[0]],
      JSON.stringify(first),
    );
    const run = await waitForRelease(stack.info, pushed.digest, { timeoutMs: 90_000 });
    assert.equal(run.result?.outcome, 'PROMOTED', JSON.stringify(run));
    assert.equal(image(await job('etl')), `${IMAGE}@${pushed.digest}`);
    const again = await reconcile({ verify: true });
    assert.equal(again.action, 'in-sync', JSON.stringify(again));
    assert.equal((again.verify as { outcome?: string }).outcome, 'skipped');
  });
});
