// workflows/release.yaml releasing a Cloud Run job (kind job) on the local engine, its Cloud Run
// calls answered by the FAKE Run API (test/fixtures/fake-run.ts): the claim on the live job, the
// staging job's template and run, the acceptance job with RUNWAY_JOB_EXECUTION, the live job's
// template and annotations, and rollback. Asserts the jobs' state, not only the result.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { fromPlain, toJsonText } from '../../local/workflows/convert.ts';
import { createEndpoints } from '../../local/workflows/connectors/index.ts';
import { startExecution, timeScaledClock } from '../../local/workflows/engine.ts';
import { eventSchema } from '../../services/shared/events.ts';
import type { FakeRun } from '../fixtures/fake-run.ts';
import { fakeCloud, releaseWorkflow } from '../helpers/release-engine.ts';

const workflow = releaseWorkflow;
const IMG = 'us-central1-docker.pkg.dev/local-project/apps/etl';
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const base = 'projects/local-project/locations/us-central1';

const cloud = fakeCloud();
const callbacks = cloud.callbacks;
let run: FakeRun;
before(async () => {
  run = await cloud.started;
});

function args(d: string, extra: Record<string, unknown> = {}) {
  return {
    pipeline: 'etl',
    project: 'local-project',
    region: 'us-central1',
    image: `${IMG}@${d}`,
    tag: 'main',
    publishTime: '2026-11-22T10:00:00.000Z',
    kind: 'job',
    staging: { job: 'etl-staging' },
    live: { job: 'etl' },
    taskCount: 3,
    acceptance: null,
    notify: null,
    source: 'manual',
    ...extra,
  };
}

interface Result {
  outcome: string;
  reason: string | null;
  digest: string;
  staging: { job: string; execution: string | null };
  live: { job: string; previousDigest: string | null };
  stages: { name: string; outcome: string; detail: string | null }[];
  failed?: { message?: string } | string;
  steps: { internal: number; external: number };
}

async function release(a: unknown): Promise<Result> {
  const ex = startExecution(workflow, fromPlain(a), {
    clock: timeScaledClock(1000),
    callbacks: callbacks.hub,
    endpoints: createEndpoints({ RUN_EMULATOR_HOST: run.host, PUBSUB_EMULATOR_HOST: run.host }),
    env: { projectId: 'local-project', location: 'us-central1', workflowId: 'runway-release' },
  });
  const r = await ex.done;
  if (r.state !== 'SUCCEEDED')
    return { failed: JSON.parse(toJsonText(r.error?.payload ?? null)), steps: r.steps } as Result;
  return { ...JSON.parse(toJsonText(r.result ?? null)), steps: r.steps };
}

const live = () => run.jobs.get(`${base}/jobs/etl`);
const staging = () => run.jobs.get(`${base}/jobs/etl-staging`);
const image = (j: ReturnType<typeof live>) => j?.template.template?.containers?.[0]?.image;
const billed = (r: Result) => r.steps.internal + r.steps.external;
const events = () =>
  run.published.map(
    (m) => JSON.parse(Buffer.from(m.data, 'base64').toString()) as { type: string },
  );

describe('releasing a Cloud Run job (fake Cloud Run)', () => {
  test('first release: staging job created and run with taskCount, live job created on the digest, PROMOTED', async () => {
    const r = await release(args(digest('1')));
    assert.equal(r.outcome, 'PROMOTED', JSON.stringify(r));
    assert.deepEqual(
      r.stages.map((s) => [s.name, s.outcome]),
      [
        ['claim', 'OK'],
        ['staging', 'OK'],
        ['test', 'OK'],
        ['promote', 'OK'],
      ],
    );
    assert.equal(image(staging()), `${IMG}@${digest('1')}`);
    assert.deepEqual(run.jobRuns.at(-1), { taskCount: 3 });
    assert.match(r.staging.execution ?? '', /^projects\/.*\/jobs\/etl-staging\/executions\//);
    assert.deepEqual(r.live, { job: 'etl', previousDigest: null });
    assert.equal(image(live()), `${IMG}@${digest('1')}`);
    assert.equal(live()?.annotations['runway.dev/digest'], digest('1'));
    assert.equal(live()?.annotations['runway.dev/claim'], undefined, 'no claim left');
    assert.equal(live()?.annotations['runway.dev/previous-template'], '', 'nothing before it');
    // The budget of a direct service release (bench/release-cost.bench.ts).
    assert.ok(billed(r) <= 75, `a first job release billed ${billed(r)} steps`);
  });

  test('the same digest again is a DUPLICATE and writes nothing', async () => {
    const patches = run.jobPatches.length;
    const r = await release(args(digest('1')));
    assert.equal(r.outcome, 'DUPLICATE');
    assert.equal(run.jobPatches.length, patches);
  });

  test("a second digest: the live job's template takes it, the previous template is kept", async () => {
    const labelled = live()!;
    labelled.labels = { team: 'data' };
    const published = run.published.length;
    const r = await release(
      args(digest('2'), {
        publishTime: '2026-11-22T11:00:00Z',
        notify: { topic: 'runway-events' },
      }),
    );
    assert.equal(r.outcome, 'PROMOTED', JSON.stringify(r));
    assert.deepEqual(
      events()
        .slice(published)
        .map((e) => e.type),
      [
        'release.started',
        'stage.ended',
        'stage.ended',
        'stage.ended',
        'stage.ended',
        'release.ended',
      ],
    );
    // Each event as services/shared/events.ts defines them, the job's result included.
    for (const e of events().slice(published)) eventSchema.parse(e);
    assert.deepEqual(r.live, { job: 'etl', previousDigest: digest('1') });
    assert.equal(image(live()), `${IMG}@${digest('2')}`);
    assert.equal(live()?.annotations['runway.dev/previous'], digest('1'));
    assert.deepEqual(JSON.parse(live()!.annotations['runway.dev/previous-template']!), {
      image: `${IMG}@${digest('1')}`,
      digest: digest('1'),
    });
    assert.deepEqual(live()?.labels, { team: 'data' }, "the job's own fields survive");
  });

  test('a failing staging run: REJECTED, live untouched, the claim released, the digest refused', async () => {
    run.failJobs.value = (_o, job) => job === 'etl-staging';
    try {
      const before = structuredClone(live());
      const r = await release(args(digest('3'), { publishTime: '2026-11-22T12:00:00Z' }));
      assert.equal(r.outcome, 'REJECTED', JSON.stringify(r));
      assert.match(r.reason ?? '', /the staging job failed: .*exit code 1/);
      assert.deepEqual(
        r.stages.map((s) => [s.name, s.outcome]),
        [
          ['claim', 'OK'],
          ['staging', 'OK'],
          ['test', 'FAILED'],
        ],
      );
      assert.equal(image(live()), image(before));
      assert.equal(live()?.annotations['runway.dev/digest'], digest('2'));
      assert.equal(live()?.annotations['runway.dev/claim'], undefined);
      assert.deepEqual(JSON.parse(live()!.annotations['runway.dev/refused']!), [digest('3')]);
    } finally {
      run.failJobs.value = false;
    }
  });

  test('the acceptance job runs after the staging run, with RUNWAY_JOB_EXECUTION naming it', async () => {
    const r = await release(
      args(digest('4'), {
        publishTime: '2026-11-22T13:00:00Z',
        acceptance: { job: 'etl-check', timeoutSeconds: 60 },
      }),
    );
    assert.equal(r.outcome, 'PROMOTED', JSON.stringify(r));
    const env = (
      run.jobRuns.at(-1) as { containerOverrides: { env: { name: string; value: string }[] }[] }
    ).containerOverrides[0]!.env;
    assert.deepEqual(
      env.find((e) => e.name === 'RUNWAY_JOB_EXECUTION'),
      { name: 'RUNWAY_JOB_EXECUTION', value: r.staging.execution },
    );
    assert.ok(env.some((e) => e.name === 'RUNWAY_DIGEST' && e.value === digest('4')));
  });

  test('a failing acceptance job: REJECTED, live untouched', async () => {
    run.failJobs.value = (_o, job) => job === 'etl-check';
    try {
      const r = await release(
        args(digest('5'), {
          publishTime: '2026-11-22T14:00:00Z',
          acceptance: { job: 'etl-check', timeoutSeconds: 60 },
        }),
      );
      assert.equal(r.outcome, 'REJECTED', JSON.stringify(r));
      assert.match(r.reason ?? '', /acceptance tests failed/);
      assert.equal(live()?.annotations['runway.dev/digest'], digest('4'));
    } finally {
      run.failJobs.value = false;
    }
  });

  test('an image published before the live one is SUPERSEDED', async () => {
    const r = await release(args(digest('6'), { publishTime: '2026-11-22T09:00:00Z' }));
    assert.equal(r.outcome, 'SUPERSEDED', JSON.stringify(r));
    assert.equal(live()?.annotations['runway.dev/digest'], digest('4'));
  });

  test("another execution's fresh claim on the same digest: DUPLICATE", async () => {
    const j = live()!;
    const claim = {
      digest: digest('7'),
      publishTime: null,
      execution: 'other',
      at: Date.now() / 1000,
    };
    j.annotations = { ...j.annotations, 'runway.dev/claim': JSON.stringify(claim) };
    try {
      const r = await release(args(digest('7'), { publishTime: null }));
      assert.equal(r.outcome, 'DUPLICATE', JSON.stringify(r));
      assert.match(r.reason ?? '', /a running release already claims this digest \(other\)/);
    } finally {
      delete j.annotations['runway.dev/claim'];
    }
  });

  test("rollback: the live job's template back to the previous one, and forward again", async () => {
    const r = await release(
      args(digest('1'), { image: null, action: 'rollback', by: 'user:ana@example.com' }),
    );
    assert.equal(r.outcome, 'ROLLED_BACK', JSON.stringify(r));
    assert.equal(r.digest, digest('2'));
    assert.equal(image(live()), `${IMG}@${digest('2')}`);
    assert.equal(live()?.annotations['runway.dev/digest'], digest('2'));
    assert.equal(live()?.annotations['runway.dev/previous'], digest('4'));
    assert.deepEqual(live()?.labels, { team: 'data' });
    const back = await release(args(digest('1'), { image: null, action: 'rollback' }));
    assert.equal(back.outcome, 'ROLLED_BACK');
    assert.equal(image(live()), `${IMG}@${digest('4')}`);
  });

  describe('refusals', () => {
    const cases: { name: string; args: Record<string, unknown>; want: RegExp }[] = [
      {
        name: 'rollback to a digest the job did not keep',
        args: args(digest('1'), { image: null, action: 'rollback', to: digest('9') }),
        want: /rollback refused: a job keeps one previous template, of sha256:2+; sha256:9+ is not it/,
      },
      {
        name: 'rollback of a job never released',
        args: args(digest('1'), { image: null, action: 'rollback', live: { job: 'nope' } }),
        want: /rollback refused: the live job nope does not exist/,
      },
      {
        name: 'abort of a job release',
        args: args(digest('1'), { image: null, action: 'abort' }),
        want: /abort refused: a release of the job pipeline etl runs to its end/,
      },
      {
        name: 'a job pipeline naming services',
        args: args(digest('1'), { live: { service: 'etl' } }),
        want: /invalid workflow arguments: a job pipeline names staging\.job and live\.job/,
      },
      {
        name: 'an unknown kind',
        args: args(digest('1'), { kind: 'batch' }),
        want: /invalid workflow arguments: kind must be service, job or workerPool/,
      },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const r = await release(c.args);
        const message = typeof r.failed === 'string' ? r.failed : r.failed?.message;
        assert.match(String(message), c.want, JSON.stringify(r));
      });
    }
  });

  describe('freezes, checked again before the live job changes', () => {
    const frozenArgs = (d: string, extra: Record<string, unknown> = {}) =>
      args(d, {
        staging: { job: 'etl-frozen-staging' },
        live: { job: 'etl-frozen' },
        publishTime: null,
        ...extra,
      });
    const frozenLive = () => run.jobs.get(`${base}/jobs/etl-frozen`);
    /** A freeze whose window covers the release's clock from now for `seconds` of its time. */
    const freeze = (actions: string[], seconds: number) => {
      // Each release's engine clock starts at the wall's now (timeScaledClock).
      const now = Date.now();
      return {
        name: 'nightly',
        actions,
        overriders: ['user:oncall@example.com'],
        windows: [
          {
            start: new Date(now - 3600_000).toISOString(),
            end: new Date(now + seconds * 1000).toISOString(),
          },
        ],
      };
    };
    const heldPatches = () =>
      run.jobPatches
        .filter((p) => p.name.endsWith('/jobs/etl-frozen'))
        .map((p) => (p.body.annotations as Record<string, string> | undefined)?.['runway.dev/held'])
        .filter((h): h is string => h !== undefined);

    before(async () => {
      const first = await release(frozenArgs(digest('a')));
      assert.equal(first.outcome, 'PROMOTED', JSON.stringify(first));
    });

    test('a freeze that began during the release holds it, on runway.dev/held, until it ends', async () => {
      const f = freeze(['release'], 300);
      const r = await release(frozenArgs(digest('b'), { freezes: [f] }));
      assert.equal(r.outcome, 'PROMOTED', JSON.stringify(r));
      const held = heldPatches().map((h) => JSON.parse(h));
      assert.equal(held.length, 1, 'the hold was written once');
      assert.deepEqual(
        [held[0].freeze, held[0].until, held[0].before],
        ['nightly', f.windows[0]!.end, 'live'],
      );
      // A stage starts where the one before it ended: the promote stage's end is the patch's time.
      const promote = r.stages.find((x) => x.name === 'promote') as { end?: string } | undefined;
      assert.ok(
        Date.parse(promote?.end ?? '') >= Date.parse(f.windows[0]!.end),
        `promoted after the freeze ended: ${promote?.end} vs ${f.windows[0]!.end}`,
      );
      assert.equal(frozenLive()?.annotations['runway.dev/digest'], digest('b'));
      assert.equal(frozenLive()?.annotations['runway.dev/held'], undefined);
      assert.equal(frozenLive()?.annotations['runway.dev/claim'], undefined);
    });

    const passes: { name: string; extra: () => Record<string, unknown>; d: string }[] = [
      {
        name: 'an override naming the freeze lifts it',
        d: digest('c'),
        extra: () => ({
          freezes: [freeze(['release'], 3600)],
          override: { freeze: 'nightly', by: 'user:oncall@example.com', reason: 'hotfix' },
        }),
      },
      {
        name: 'a freeze of rollbacks only does not hold a release',
        d: digest('d'),
        extra: () => ({ freezes: [freeze(['rollback'], 3600)] }),
      },
    ];
    for (const c of passes) {
      test(`${c.name}: promoted without a hold`, async () => {
        const before = heldPatches().length;
        const r = await release(frozenArgs(c.d, c.extra()));
        assert.equal(r.outcome, 'PROMOTED', JSON.stringify(r));
        assert.equal(heldPatches().length, before, 'no hold written');
        assert.equal(frozenLive()?.annotations['runway.dev/digest'], c.d);
      });
    }
  });
});
