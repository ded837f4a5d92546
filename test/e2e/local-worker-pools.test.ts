// The worker pool path of workflows/release.yaml (kind workerPool), in its deployed form, on the
// local engine against the local Cloud Run with real processes: the pools' instances and the
// acceptance job's tasks are processes. A good pool is promoted through a canary (the live pool's
// instance splits seen moving in steps), a candidate whose instances crash during the bake is
// ROLLED_BACK, a candidate failing its acceptance job is REJECTED with live untouched, and a
// rollback restores the previous revision. No IAM: the Admin API here has no gate (infra/ grants
// the workflow account roles/run.developer on the pools). Time runs 20 times faster.
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type LocalRegistry, startLocalRegistry } from '../../local/registry/server.ts';
import { type LocalRun, startLocalRun } from '../../local/run/index.ts';
import { createEndpoints } from '../../local/workflows/connectors/index.ts';
import { fromPlain, toJsonText } from '../../local/workflows/convert.ts';
import { deployableFile } from '../../local/workflows/deployable.ts';
import { parseWorkflow, startExecution, timeScaledClock } from '../../local/workflows/engine.ts';
import {
  type WorkflowResult,
  workflowResultSchema,
} from '../../services/shared/workflow-result.ts';
import { workflowArgsSchema } from '../../services/shared/workflow-args.ts';
import { parsePipelineConfig } from '../../services/shared/pipeline-config.ts';
import { type ActionRequest, actionArguments } from '../../cli/action-args.ts';

const PROJECT = 'local-project';
const REGION = 'us-central1';
const PARENT = `projects/${PROJECT}/locations/${REGION}`;
const IMAGE = `${REGION}-docker.pkg.dev/${PROJECT}/apps/queue`;
const CHECK_IMAGE = `${REGION}-docker.pkg.dev/${PROJECT}/apps/queue-check`;
const WORKER = new URL('../fixtures/apps/worker/', import.meta.url).pathname;
const CHECK = new URL('../fixtures/apps/pool-check/', import.meta.url).pathname;

interface Pool {
  etag?: string;
  annotations?: Record<string, string>;
  template?: { revision?: string; containers?: { image?: string }[] };
  scaling?: { manualInstanceCount?: number };
  instanceSplitStatuses?: { revision?: string; percent?: number }[];
}

describe('a worker pool pipeline on the local cloud', () => {
  let root: string;
  let registry: LocalRegistry;
  let run: LocalRun;
  let workflow: ReturnType<typeof parseWorkflow>;
  const dirs: string[] = [];
  const digests: string[] = [];
  const short = (d: string) => d.slice(7, 19);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'runway-e2e-pools-'));
    workflow = parseWorkflow(
      deployableFile(new URL('../../workflows/release.yaml', import.meta.url)),
      { file: 'release.yaml' },
    );
    registry = await startLocalRegistry({ root: join(root, 'registry') });
    run = await startLocalRun({
      project: PROJECT,
      region: REGION,
      images: registry.images,
      logDir: join(root, 'logs'),
      graceMs: 300,
      workerStartMs: 700,
    });
    const res = await fetch(api('jobs?jobId=queue-check'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        template: { template: { maxRetries: 0, containers: [{ image: IMAGE }] } },
      }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    await checkMode('ok');
  });

  after(async () => {
    await run?.close();
    await registry?.close();
    await Promise.all([root, ...dirs].map((d) => rm(d, { recursive: true, force: true })));
  });

  /** A release of the pipeline `queue`, `extra` over its arguments. */
  async function execute(extra: Record<string, unknown>) {
    const base = {
      pipeline: 'queue',
      project: PROJECT,
      region: REGION,
      kind: 'workerPool',
      staging: { workerPool: 'queue-staging' },
      live: { workerPool: 'queue' },
      acceptance: { job: 'queue-check', timeoutSeconds: 120 },
      promotion: { strategy: 'canary', steps: [25, 100], bakeSeconds: 60 },
      ...extra,
    };
    return executeArgs(workflowArgsSchema.parse(base));
  }

  /** runway.yaml's pipeline of the releases above, for the CLI's actions on it. */
  const config = parsePipelineConfig(`
project: ${PROJECT}
region: ${REGION}
pipelines:
  - name: queue
    kind: workerPool
    image: ${IMAGE}
    staging: { workerPool: queue-staging }
    live: { workerPool: queue }
    acceptance: { job: queue-check, timeoutSeconds: 120 }
    promotion: { strategy: canary, steps: [25, 100], bakeSeconds: 60 }
`);

  /** An operator's action with the arguments `runway rollback` and `runway abort` start. */
  const act = (request: ActionRequest) =>
    executeArgs(actionArguments(config, config.pipelines[0]!, PROJECT, request));

  /** One execution of the release workflow; its result as the deployer reads it, or its error. */
  async function executeArgs(args: unknown) {
    const ex = startExecution(workflow, fromPlain(args), {
      clock: timeScaledClock(20),
      endpoints: createEndpoints({ RUN_EMULATOR_HOST: run.host }),
      env: { projectId: PROJECT, location: REGION, workflowId: 'runway-release' },
    });
    const r = await ex.done;
    if (r.state !== 'SUCCEEDED')
      return { result: null, error: toJsonText(r.error?.payload ?? null), steps: r.steps };
    const result: WorkflowResult = workflowResultSchema.parse(JSON.parse(toJsonText(r.result!)));
    return { result, error: null, steps: r.steps };
  }

  /** A copy of a fixture app with its `mode`; `version` makes each push its own image. */
  async function copyOf(app: string, mode: string, version = mode): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'runway-pool-'));
    dirs.push(dir);
    await cp(app, dir, { recursive: true });
    await writeFile(join(dir, 'mode'), `${mode}\n`);
    await writeFile(join(dir, 'version'), `${version}\n`);
    return dir;
  }

  const api = (path: string) => `${run.url}/v2/${PARENT}/${path}`;

  /** The acceptance job queue-check runs the pool-check fixture, passing or failing by `mode`. */
  async function checkMode(mode: 'ok' | 'fail') {
    const pushed = await registry.push(await copyOf(CHECK, mode), `${CHECK_IMAGE}:${mode}`);
    const current = (await (await fetch(api('jobs/queue-check'))).json()) as { etag?: string };
    const res = await fetch(api('jobs/queue-check'), {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        etag: current.etag,
        template: {
          template: { maxRetries: 0, containers: [{ image: `${CHECK_IMAGE}@${pushed.digest}` }] },
        },
      }),
    });
    assert.equal(res.status, 200, await res.clone().text());
  }

  async function pool(id: string): Promise<Pool> {
    const res = await fetch(api(`workerPools/${id}`));
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as Pool;
  }
  const image = (p: Pool) => p.template?.containers?.[0]?.image;
  const splits = (p: Pool) =>
    (p.instanceSplitStatuses ?? [])
      .filter((s) => (s.percent ?? 0) > 0)
      .map((s) => `${String(s.revision).split('/').pop()}:${s.percent}`)
      .join(',');

  /**
   * Pushes a version of the worker (its `mode` file: "loop", or "crash-after MS"), waits for its
   * release, and records every instance split the live pool showed meanwhile.
   */
  async function release(tag: string, mode: string) {
    const pushed = await registry.push(await copyOf(WORKER, mode, tag), `${IMAGE}:${tag}`);
    digests.push(pushed.digest);
    const seen: string[] = [];
    let watching = true;
    const sample = async () => {
      const res = await fetch(api('workerPools/queue'));
      if (res.ok) {
        const s = splits((await res.json()) as Pool);
        if (s && s !== seen.at(-1)) seen.push(s);
      }
    };
    const watch = (async () => {
      while (watching) {
        await sample();
        await new Promise((r) => setTimeout(r, 50));
      }
      // The splits as the release left them, whenever the last poll came.
      await sample();
    })();
    try {
      const done = await execute({
        image: `${IMAGE}@${pushed.digest}`,
        tag,
        publishTime: new Date().toISOString(),
      });
      return { digest: pushed.digest, ...done, seen };
    } finally {
      watching = false;
      await watch;
    }
  }

  test('a first release is promoted directly: the live pool is created on its revision', async () => {
    const v1 = await release('v1', 'loop');
    assert.equal(v1.result?.outcome, 'PROMOTED', JSON.stringify(v1));
    assert.deepEqual(
      v1.result?.stages.map((s) => [s.name, s.outcome]),
      [
        ['claim', 'OK'],
        ['staging', 'OK'],
        ['test', 'OK'],
        ['promote', 'OK'],
      ],
    );
    // A direct release's billed steps (84 when written; a direct service release budgets 75 in
    // bench/release-cost.bench.ts): a bound, so a change that bills much more shows here.
    const billed = v1.steps.internal + v1.steps.external;
    assert.ok(billed <= 100, `a first worker pool release billed ${billed} steps`);
    const live = await pool('queue');
    assert.equal(image(live), `${IMAGE}@${v1.digest}`);
    assert.equal(splits(live), `queue-${short(v1.digest)}:100`);
    assert.equal(live.annotations?.['runway.dev/digest'], v1.digest);
    assert.equal(live.annotations?.['runway.dev/claim'], undefined);
    const staging = await pool('queue-staging');
    assert.equal(splits(staging), `queue-staging-${short(v1.digest)}:100`);
    // Four instances, so a 25 % step gives the candidate one of them.
    const res = await fetch(api('workerPools/queue?updateMask=scaling'), {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ etag: live.etag, scaling: { manualInstanceCount: 4 } }),
    });
    assert.equal(res.status, 200, await res.clone().text());
  });

  test('a good pool is promoted through the canary: splits 25 % then 100 %', async () => {
    const v2 = await release('v2', 'loop');
    assert.equal(v2.result?.outcome, 'PROMOTED', JSON.stringify(v2));
    const [v1, c] = [`queue-${short(digests[0]!)}`, `queue-${short(v2.digest)}`];
    assert.ok(v2.seen.includes(`${v1}:75,${c}:25`), `splits seen: ${v2.seen.join(' | ')}`);
    assert.equal(v2.seen.at(-1), `${c}:100`);
    assert.ok(
      v2.seen.indexOf(`${v1}:75,${c}:25`) < v2.seen.indexOf(`${c}:100`),
      'the canary step came first',
    );
    const live = await pool('queue');
    assert.equal(live.scaling?.manualInstanceCount, 4, "the pool's own scaling survives");
    assert.equal(live.annotations?.['runway.dev/previous'], digests[0]);
    assert.equal(live.annotations?.['runway.dev/previous-revision'], v1);
    assert.deepEqual(v2.result?.live, { workerPool: 'queue', revision: c, previousRevision: v1 });
  });

  test('a candidate whose instances crash during the bake is ROLLED_BACK to stable', async () => {
    const v3 = await release('v3', 'crash-after 2000');
    assert.equal(v3.result?.outcome, 'ROLLED_BACK', JSON.stringify(v3));
    assert.match(
      v3.result?.reason ?? '',
      /crashed during the canary at 25%: Container called exit\(1\)/,
    );
    const stable = `queue-${short(digests[1]!)}`;
    assert.ok(
      v3.seen.some((s) => s.includes(`queue-${short(v3.digest)}:25`)),
      `the candidate took its step: ${v3.seen.join(' | ')}`,
    );
    const live = await pool('queue');
    assert.equal(splits(live), `${stable}:100`);
    assert.equal(live.annotations?.['runway.dev/digest'], digests[1]);
    assert.equal(live.annotations?.['runway.dev/last-failed'], v3.digest);
    assert.equal(live.annotations?.['runway.dev/claim'], undefined);
  });

  test('a candidate failing its acceptance job is REJECTED, live untouched', async () => {
    await checkMode('fail');
    try {
      const before = await pool('queue');
      const v4 = await release('v4', 'loop');
      assert.equal(v4.result?.outcome, 'REJECTED', JSON.stringify(v4));
      assert.match(v4.result?.reason ?? '', /acceptance tests failed/);
      const live = await pool('queue');
      assert.equal(splits(live), splits(before));
      assert.equal(image(live), image(before));
      assert.deepEqual(v4.seen, [splits(before)], 'the splits never moved');
      assert.ok(JSON.parse(live.annotations?.['runway.dev/refused'] ?? '[]').includes(v4.digest));
    } finally {
      await checkMode('ok');
    }
  });

  test('a rollback restores the previous revision, and forward again', async () => {
    const rollback = (extra: { reason?: string; to?: string } = {}) =>
      act({ action: 'rollback', by: 'user:ana@example.com', reason: null, ...extra });
    const [v1, v2] = [`queue-${short(digests[0]!)}`, `queue-${short(digests[1]!)}`];
    const r = await rollback({ reason: 'slow consumers' });
    assert.equal(r.result?.outcome, 'ROLLED_BACK', JSON.stringify(r));
    assert.deepEqual(r.result?.live, { workerPool: 'queue', revision: v1, previousRevision: v2 });
    let live = await pool('queue');
    assert.equal(splits(live), `${v1}:100`);
    assert.equal(live.annotations?.['runway.dev/digest'], digests[0]);
    const refused = await rollback({ to: digests[2] });
    assert.match(
      String(refused.error),
      /rollback refused: a worker pool keeps one previous revision/,
    );
    const forward = await rollback();
    assert.equal(forward.result?.outcome, 'ROLLED_BACK', JSON.stringify(forward));
    live = await pool('queue');
    assert.equal(splits(live), `${v2}:100`);
  });

  test('an abort is refused: a pool release runs to its end', async () => {
    const r = await act({ action: 'abort', by: 'user:ana@example.com', reason: null });
    assert.match(String(r.error), /abort refused: a release of the worker pool pipeline queue/);
  });

  // Arguments written by hand (`gcloud workflows run`), which only the workflow checks.
  describe('refusals', () => {
    const raw = {
      pipeline: 'queue',
      project: PROJECT,
      region: REGION,
      kind: 'workerPool',
      image: `${IMAGE}@sha256:${'e'.repeat(64)}`,
      staging: { workerPool: 'queue-staging' },
      live: { workerPool: 'queue' },
    };
    const cases: { name: string; args: Record<string, unknown>; want: RegExp }[] = [
      {
        name: 'a worker pool pipeline naming services',
        args: { ...raw, live: { service: 'queue' } },
        want: /invalid workflow arguments: a worker pool pipeline names staging\.workerPool and live\.workerPool/,
      },
      {
        name: 'a worker pool pipeline naming regions',
        args: { ...raw, live: { workerPool: 'queue', regions: [REGION, 'europe-west1'] } },
        want: /a worker pool pipeline releases in the pipeline region only/,
      },
      {
        name: 'a canary judged by health (an analysis)',
        args: { ...raw, promotion: { strategy: 'canary', health: { maxErrorRatio: 0.1 } } },
        want: /a worker pool pipeline promotes directly or by a canary of steps and bakes/,
      },
      {
        name: 'a watch after the promotion',
        args: { ...raw, promotion: { strategy: 'direct', watchSeconds: 60 } },
        want: /a worker pool pipeline promotes directly or by a canary of steps and bakes/,
      },
      {
        // No acceptance is no refusal: the rollback reaches the pool path, which finds no pool.
        name: 'a rollback of a pool never released, with no acceptance',
        args: { ...raw, image: null, action: 'rollback', live: { workerPool: 'nope' } },
        want: /rollback refused: the live worker pool nope does not exist/,
      },
    ];
    for (const c of cases)
      test(c.name, async () => {
        const r = await executeArgs(c.args);
        assert.match(String(r.error), c.want, JSON.stringify(r.result));
      });
  });
});
