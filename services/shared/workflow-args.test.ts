import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeZodError } from './validation.ts';
import { workflowArgsSchema } from './workflow-args.ts';
import { workflowResultSchema } from './workflow-result.ts';

const IMAGE = `us-central1-docker.pkg.dev/my-project/apps/web@sha256:${'c'.repeat(64)}`;
const minimal = {
  pipeline: 'web',
  project: 'my-project',
  region: 'us-central1',
  image: IMAGE,
  staging: { service: 'web-staging' },
  live: { service: 'web' },
  acceptance: { job: 'web-acceptance' },
};

test('minimal arguments get the documented defaults', () => {
  assert.deepEqual(workflowArgsSchema.parse(minimal), {
    ...minimal,
    kind: 'service',
    taskCount: 1,
    tag: null,
    publishTime: null,
    acceptance: { job: 'web-acceptance', timeoutSeconds: 600, taskCount: 1, checks: null },
    promotion: { strategy: 'direct' },
    notify: null,
    source: 'manual',
    action: 'release',
    by: null,
    reason: null,
    to: null,
    override: null,
    freezes: [],
  });
});

test('a rollback by a person, an override, and freeze windows as canonical instants', () => {
  const args = workflowArgsSchema.parse({
    ...minimal,
    action: 'rollback',
    by: 'user:oncall@example.com',
    reason: 'checkout is down',
    to: `sha256:${'d'.repeat(64)}`,
    override: { freeze: 'year-end', by: 'user:oncall@example.com', reason: 'hotfix' },
    freezes: [
      {
        name: 'year-end',
        actions: ['release', 'rollback'],
        windows: [{ start: '2026-12-24T00:00:00+01:00', end: '2026-12-26T23:00:00Z' }],
      },
    ],
    promotion: {
      strategy: 'canary',
      approval: { before: ['100'], approvers: ['group:rm@example.com'] },
      watchSeconds: 600,
    },
  });
  assert.deepEqual(args.freezes, [
    {
      name: 'year-end',
      actions: ['release', 'rollback'],
      overriders: [],
      windows: [{ start: '2026-12-23T23:00:00.000000000Z', end: '2026-12-26T23:00:00.000000000Z' }],
    },
  ]);
  assert.deepEqual(args.promotion.approval, {
    before: ['100'],
    timeoutSeconds: 86_400,
    onTimeout: 'reject',
    approvers: ['group:rm@example.com'],
  });
  assert.equal(args.promotion.watchSeconds, 600);
  assert.equal(args.by, 'user:oncall@example.com');
});

test('a canary gets default steps and bake time', () => {
  const args = workflowArgsSchema.parse({ ...minimal, promotion: { strategy: 'canary' } });
  assert.deepEqual(args.promotion, {
    strategy: 'canary',
    steps: [10, 50, 100],
    bakeSeconds: 60,
    analysis: null,
  });
});

describe('canary health, the older form, becomes an analysis of one error ratio', () => {
  const cases = [
    {
      name: 'defaults: no data never passes; late data is waited for; inconclusive rolls back',
      health: { maxErrorRatio: 0.05 },
      want: { minRequests: 0, dataWaitSeconds: 180, inconclusive: 'rollback', max: 0.05 },
    },
    {
      name: 'onInconclusive promote is inconclusive continue',
      health: {
        maxErrorRatio: 0.1,
        minRequests: 20,
        dataWaitSeconds: 0,
        onInconclusive: 'promote',
      },
      want: { minRequests: 20, dataWaitSeconds: 0, inconclusive: 'continue', max: 0.1 },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const args = workflowArgsSchema.parse({
        ...minimal,
        promotion: { strategy: 'canary', health: c.health },
      });
      assert.deepEqual(args.promotion.strategy === 'canary' && args.promotion.analysis, {
        metrics: [{ name: 'errors', builtin: 'error-ratio', max: c.want.max }],
        minRequests: c.want.minRequests,
        dataWaitSeconds: c.want.dataWaitSeconds,
        inconclusive: c.want.inconclusive,
        dryRun: false,
      });
      assert.ok(!('health' in args.promotion), 'only the analysis goes on');
    });
  }
});

test('an analysis: its defaults', () => {
  const args = workflowArgsSchema.parse({
    ...minimal,
    promotion: {
      strategy: 'canary',
      analysis: {
        metrics: [
          { name: 'errors', builtin: 'error-ratio', max: 0.02 },
          { name: 'p99', builtin: 'latency-p99', maxMs: 800 },
          { name: 'vs-stable', builtin: 'error-ratio', compareTo: 'stable', maxRatio: 1.5 },
        ],
      },
    },
  });
  assert.deepEqual(args.promotion.strategy === 'canary' && args.promotion.analysis, {
    metrics: [
      { name: 'errors', builtin: 'error-ratio', max: 0.02 },
      { name: 'p99', builtin: 'latency-p99', maxMs: 800 },
      { name: 'vs-stable', builtin: 'error-ratio', compareTo: 'stable', maxRatio: 1.5 },
    ],
    minRequests: 0,
    dataWaitSeconds: 180,
    inconclusive: 'rollback',
    dryRun: false,
  });
});

describe('publishTime: any RFC 3339 spelling comes out canonical', () => {
  const cases = [
    { name: 'absent', input: undefined, want: null },
    { name: 'null', input: null, want: null },
    { name: 'whole second', input: '2026-12-02T01:09:47Z', want: '2026-12-02T01:09:47.000000000Z' },
    {
      name: 'milliseconds',
      input: '2026-12-02T01:09:47.078Z',
      want: '2026-12-02T01:09:47.078000000Z',
    },
    {
      name: 'nanoseconds',
      input: '2026-12-02T01:09:47.078123456Z',
      want: '2026-12-02T01:09:47.078123456Z',
    },
    {
      name: 'offset across midnight',
      input: '2026-12-01T23:09:47.5-02:00',
      want: '2026-12-02T01:09:47.500000000Z',
    },
    { name: 'lowercase', input: '2026-12-02t01:09:47z', want: '2026-12-02T01:09:47.000000000Z' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const args = workflowArgsSchema.parse({ ...minimal, publishTime: c.input });
      assert.equal(args.publishTime, c.want);
    });
  }
});

describe('bad arguments name the field', () => {
  const cases: { name: string; input: unknown; want: RegExp }[] = [
    { name: 'not an object', input: 'web', want: /object/ },
    { name: 'no image', input: { ...minimal, image: undefined }, want: /^image: / },
    {
      name: 'image by tag',
      input: { ...minimal, image: IMAGE.replace(/@.*/, ':v1') },
      want: /image: .*by digest/,
    },
    {
      name: 'image wrong digest algorithm',
      input: { ...minimal, image: IMAGE.replace('sha256', 'sha1') },
      want: /image: .*sha256 algorithm/,
    },
    {
      name: 'bad pipeline name',
      input: { ...minimal, pipeline: 'Web!' },
      want: /^pipeline: a pipeline name/,
    },
    { name: 'bad project', input: { ...minimal, project: 'p' }, want: /^project: a project id/ },
    {
      name: 'bad region',
      input: { ...minimal, region: 'moon' },
      want: /^region: a region looks like/,
    },
    {
      name: 'staging missing service',
      input: { ...minimal, staging: {} },
      want: /staging\.service/,
    },
    {
      name: 'a job pipeline naming services',
      input: { ...minimal, kind: 'job' },
      want: /^staging\.service: a job pipeline releases jobs: name staging\.job; live\.service: /,
    },
    {
      name: 'a service pipeline naming a job',
      input: { ...minimal, live: { job: 'web' } },
      want: /^live\.job: a service pipeline releases services: name live\.service/,
    },
    {
      name: 'a target naming both',
      input: { ...minimal, live: { job: 'web', service: 'web' } },
      want: /^live\.job: name one service, or \(kind job\) one job/,
    },
    {
      name: 'a service pipeline without acceptance',
      input: { ...minimal, acceptance: null },
      want: /^acceptance: a service pipeline needs acceptance tests/,
    },
    {
      name: 'a job pipeline with a canary',
      input: {
        ...minimal,
        kind: 'job',
        staging: { job: 'a' },
        live: { job: 'b' },
        promotion: { strategy: 'canary' },
      },
      want: /^promotion: a job pipeline promotes directly/,
    },
    {
      name: 'a worker pool pipeline naming services',
      input: { ...minimal, kind: 'workerPool' },
      want: /^staging\.service: a workerPool pipeline releases workerPools: name staging\.workerPool; live\.service: /,
    },
    {
      name: 'a service pipeline naming a worker pool',
      input: { ...minimal, live: { workerPool: 'web' } },
      want: /^live\.workerPool: a service pipeline releases services: name live\.service/,
    },
    {
      name: 'a target naming a job and a worker pool',
      input: { ...minimal, live: { job: 'web', workerPool: 'web' } },
      want: /^live\.workerPool: name one service, or \(kind job\) one job, or \(kind workerPool\) one worker pool/,
    },
    {
      name: 'a worker pool canary with an analysis',
      input: {
        ...minimal,
        kind: 'workerPool',
        staging: { workerPool: 'a' },
        live: { workerPool: 'b' },
        promotion: { strategy: 'canary', health: { maxErrorRatio: 0.1 } },
      },
      want: /^promotion\.analysis: a worker pool serves no requests/,
    },
    {
      name: 'a worker pool promotion with a gate',
      input: {
        ...minimal,
        kind: 'workerPool',
        staging: { workerPool: 'a' },
        live: { workerPool: 'b' },
        promotion: {
          strategy: 'direct',
          approval: { before: ['live'], approvers: ['user:a@b.c'] },
        },
      },
      want: /^promotion\.approval: is for service pipelines; a worker pool pipeline/,
    },
    {
      name: 'a worker pool in several regions',
      input: {
        ...minimal,
        kind: 'workerPool',
        staging: { workerPool: 'a' },
        live: { workerPool: 'b', regions: ['us-central1', 'europe-west1'] },
      },
      want: /^live\.regions: a worker pool pipeline \(kind: workerPool\) releases in the pipeline region only/,
    },
    {
      name: 'a bad worker pool name',
      input: {
        ...minimal,
        kind: 'workerPool',
        staging: { workerPool: 'a' },
        live: { workerPool: 'B_' },
      },
      want: /^live\.workerPool: a Cloud Run worker pool name/,
    },
    {
      name: 'taskCount 0',
      input: { ...minimal, kind: 'job', staging: { job: 'a' }, live: { job: 'b' }, taskCount: 0 },
      want: /^taskCount: must be 1\.\.10000/,
    },
    {
      name: 'live service uppercase',
      input: { ...minimal, live: { service: 'WEB' } },
      want: /live\.service: a Cloud Run service name/,
    },
    {
      name: 'acceptance job missing',
      input: { ...minimal, acceptance: {} },
      want: /acceptance\.job/,
    },
    {
      name: 'timeout too long',
      input: { ...minimal, acceptance: { job: 'j', timeoutSeconds: 100_000 } },
      want: /acceptance\.timeoutSeconds/,
    },
    {
      name: 'fractional task count',
      input: { ...minimal, acceptance: { job: 'j', taskCount: 1.5 } },
      want: /acceptance\.taskCount/,
    },
    {
      name: 'unknown strategy',
      input: { ...minimal, promotion: { strategy: 'yolo' } },
      want: /promotion\.strategy: strategy must be/,
    },
    {
      name: 'canary step zero',
      input: { ...minimal, promotion: { strategy: 'canary', steps: [0, 100] } },
      want: /promotion\.steps\[0\]: must be 1\.\.100/,
    },
    {
      name: 'canary steps as strings',
      input: { ...minimal, promotion: { strategy: 'canary', steps: ['10', '100'] } },
      want: /promotion\.steps\[0\]: must be a number/,
    },
    {
      name: 'error ratio over 1',
      input: { ...minimal, promotion: { strategy: 'canary', health: { maxErrorRatio: 2 } } },
      want: /promotion\.health\.maxErrorRatio: must be 0\.\.1/,
    },
    {
      name: 'inconclusive policy unknown',
      input: {
        ...minimal,
        promotion: { strategy: 'canary', health: { maxErrorRatio: 0.1, onInconclusive: 'pass' } },
      },
      want: /promotion\.health\.onInconclusive: must be "rollback" or "promote"/,
    },
    {
      name: 'data wait over an hour',
      input: {
        ...minimal,
        promotion: { strategy: 'canary', health: { maxErrorRatio: 0.1, dataWaitSeconds: 3601 } },
      },
      want: /promotion\.health\.dataWaitSeconds: must be at most an hour/,
    },
    {
      name: 'data wait fractional',
      input: {
        ...minimal,
        promotion: { strategy: 'canary', health: { maxErrorRatio: 0.1, dataWaitSeconds: 1.5 } },
      },
      want: /promotion\.health\.dataWaitSeconds: must be a whole number of seconds/,
    },
    ...[
      {
        name: 'analysis: error-ratio without max',
        metric: { name: 'e', builtin: 'error-ratio' },
        want: /metrics\[0\]\.max: is required for error-ratio/,
      },
      {
        name: 'analysis: latency with max instead of maxMs',
        metric: { name: 'p', builtin: 'latency-p99', max: 0.5 },
        want: /metrics\[0\]\.maxMs: is required for latency-p99/,
      },
      {
        name: 'analysis: compareTo without maxRatio',
        metric: { name: 'c', builtin: 'error-ratio', compareTo: 'stable' },
        want: /metrics\[0\]\.maxRatio: is required with compareTo: stable/,
      },
      {
        name: 'analysis: compareTo with a fixed threshold too',
        metric: { name: 'c', builtin: 'latency-p99', compareTo: 'stable', maxRatio: 2, maxMs: 5 },
        want: /metrics\[0\]\.maxMs: is a fixed threshold; with compareTo give maxRatio only/,
      },
      {
        name: 'analysis: maxRatio under 1',
        metric: { name: 'c', builtin: 'error-ratio', compareTo: 'stable', maxRatio: 0.5 },
        want: /metrics\[0\]\.maxRatio: must be at least 1/,
      },
      {
        name: 'analysis: an unknown builtin',
        metric: { name: 'x', builtin: 'cpu', max: 1 },
        want: /metrics\[0\]\.builtin: must be one of error-ratio, latency-p99/,
      },
      {
        name: 'analysis: compareTo something else',
        metric: { name: 'x', builtin: 'error-ratio', compareTo: 'baseline', maxRatio: 2 },
        want: /metrics\[0\]\.compareTo: must be "stable"/,
      },
      {
        name: 'analysis: a hostile metric name',
        metric: { name: '"; drop', builtin: 'error-ratio', max: 0.1 },
        want: /metrics\[0\]\.name: must be lowercase letters/,
      },
    ].map((c) => ({
      name: c.name,
      input: {
        ...minimal,
        promotion: { strategy: 'canary', analysis: { metrics: [c.metric] } },
      },
      want: c.want,
    })),
    {
      name: 'analysis: one name twice',
      input: {
        ...minimal,
        promotion: {
          strategy: 'canary',
          analysis: {
            metrics: [
              { name: 'e', builtin: 'error-ratio', max: 0.1 },
              { name: 'e', builtin: 'latency-p99', maxMs: 100 },
            ],
          },
        },
      },
      want: /metrics\[1\]\.name: e is used twice/,
    },
    {
      name: 'analysis and health together',
      input: {
        ...minimal,
        promotion: {
          strategy: 'canary',
          health: { maxErrorRatio: 0.1 },
          analysis: { metrics: [{ name: 'e', builtin: 'error-ratio', max: 0.1 }] },
        },
      },
      want: /promotion\.health: give analysis or health \(its older form\), not both/,
    },
    {
      name: 'analysis: inconclusive gate without an approval',
      input: {
        ...minimal,
        promotion: {
          strategy: 'canary',
          analysis: {
            metrics: [{ name: 'e', builtin: 'error-ratio', max: 0.1 }],
            inconclusive: 'gate',
          },
        },
      },
      want: /promotion\.analysis\.inconclusive: "gate" asks the approvers: it needs promotion\.approval/,
    },
    {
      name: 'analysis: inconclusive something else',
      input: {
        ...minimal,
        promotion: {
          strategy: 'canary',
          analysis: {
            metrics: [{ name: 'e', builtin: 'error-ratio', max: 0.1 }],
            inconclusive: 'retry',
          },
        },
      },
      want: /promotion\.analysis\.inconclusive: must be "rollback", "gate" or "continue"/,
    },
    {
      name: 'direct with steps',
      input: { ...minimal, promotion: { strategy: 'direct', steps: [100] } },
      want: /steps/,
    },
    {
      name: 'bad publish time',
      input: { ...minimal, publishTime: 'Tuesday' },
      want: /^publishTime: must be an RFC 3339/,
    },
    {
      name: 'publish time in month 13',
      input: { ...minimal, publishTime: '2026-13-02T01:09:47Z' },
      want: /^publishTime: must be an RFC 3339 timestamp: month 13/,
    },
    {
      name: 'publish time at 25:00',
      input: { ...minimal, publishTime: '2026-12-02T25:00:00Z' },
      want: /^publishTime: must be an RFC 3339 timestamp: hour 25/,
    },
    {
      name: 'publish time on Feb 29 of a common year',
      input: { ...minimal, publishTime: '2026-02-29T00:00:00Z' },
      want: /^publishTime: .*day 29/,
    },
    {
      name: 'publish time without offset',
      input: { ...minimal, publishTime: '2026-12-02T01:09:47' },
      want: /^publishTime: must be an RFC 3339 timestamp: expected/,
    },
    {
      name: 'publish time a number',
      input: { ...minimal, publishTime: 1_700_000_000 },
      want: /^publishTime: must be an RFC 3339/,
    },
    {
      name: 'bad notify topic',
      input: { ...minimal, notify: { topic: '1x' } },
      want: /notify\.topic/,
    },
    { name: 'unknown source', input: { ...minimal, source: 'cron' }, want: /^source/ },
    {
      name: 'unknown action',
      input: { ...minimal, action: 'pause' },
      want: /^action: must be "release", "rollback" or "abort"/,
    },
    {
      name: 'by not a member',
      input: { ...minimal, by: 'bob' },
      want: /^by: must be an IAM member/,
    },
    { name: 'by the scheduler', input: { ...minimal, by: 'cron' }, want: /^by: / },
    {
      name: 'to on a release',
      input: { ...minimal, to: `sha256:${'d'.repeat(64)}` },
      want: /^to: is for action "rollback" only/,
    },
    {
      name: 'to a tag',
      input: { ...minimal, action: 'rollback', to: 'v1' },
      want: /^to: must be a digest/,
    },
    {
      name: 'override without a reason',
      input: { ...minimal, override: { freeze: 'year-end', by: 'user:a@example.com', reason: '' } },
      want: /^override\.reason: must say why/,
    },
    {
      name: 'override by someone who is not a member',
      input: { ...minimal, override: { freeze: 'year-end', by: 'a', reason: 'x' } },
      want: /^override\.by: an IAM member/,
    },
    {
      name: 'freeze window ending before it starts',
      input: {
        ...minimal,
        freezes: [
          {
            name: 'f',
            actions: ['release'],
            windows: [{ start: '2026-12-24T00:00:00Z', end: '2026-12-23T00:00:00Z' }],
          },
        ],
      },
      want: /^freezes\[0\]\.windows\[0\]\.end: end must be after start/,
    },
    {
      name: 'freeze window in local time',
      input: {
        ...minimal,
        freezes: [
          {
            name: 'f',
            actions: ['release'],
            windows: [{ start: '2026-12-24T00:00', end: '2026-12-25T00:00' }],
          },
        ],
      },
      want: /^freezes\[0\]\.windows\[0\]\.start: must be an RFC 3339/,
    },
    {
      name: 'freeze of an unknown action',
      input: { ...minimal, freezes: [{ name: 'f', actions: ['abort'], windows: [] }] },
      want: /^freezes\[0\]\.actions\[0\]: must be "release" or "rollback"/,
    },
    {
      name: 'a gate before 100 on a direct promotion',
      input: {
        ...minimal,
        promotion: {
          strategy: 'direct',
          approval: { before: ['100'], approvers: ['user:a@example.com'] },
        },
      },
      want: /^promotion\.approval\.before\[0\]: "100" is a gate before a canary's last step/,
    },
    {
      name: 'watch of a few seconds',
      input: { ...minimal, promotion: { strategy: 'direct', watchSeconds: 5 } },
      want: /^promotion\.watchSeconds: must be 60\.\.86400/,
    },
    { name: 'unknown field', input: { ...minimal, extra: true }, want: /extra/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = workflowArgsSchema.safeParse(c.input);
      assert.equal(r.success, false);
      if (!r.success) assert.match(describeZodError(r.error), c.want);
    });
  }
});

describe('workflow result', () => {
  const good = {
    outcome: 'PROMOTED',
    pipeline: 'web',
    digest: 'sha256:abc',
    staging: { service: 'web-staging', revision: 'web-staging-abc' },
    live: { service: 'web', revision: 'web-abc' },
    stages: [
      { name: 'claim', start: '2026-11-22T10:00:00Z', end: '2026-11-22T10:00:01Z', outcome: 'OK' },
    ],
  };
  test('parses with defaults', () => {
    const r = workflowResultSchema.parse(good);
    assert.equal(r.reason, null);
    assert.equal('previousRevision' in r.live && r.live.previousRevision, null);
    assert.equal(r.stages[0]?.detail, null);
  });
  test("a job release's result: the staging execution, live's previous digest", () => {
    const r = workflowResultSchema.parse({
      ...good,
      staging: {
        job: 'etl-staging',
        execution: 'projects/p/locations/r/jobs/etl-staging/executions/e1',
      },
      live: { job: 'etl' },
    });
    assert.deepEqual(r.live, { job: 'etl', previousDigest: null });
  });
  test("a worker pool release's result: the pools and their revisions", () => {
    const r = workflowResultSchema.parse({
      ...good,
      staging: { workerPool: 'queue-staging', revision: 'queue-staging-abc' },
      live: { workerPool: 'queue', revision: 'queue-abc' },
    });
    assert.deepEqual(r.staging, { workerPool: 'queue-staging', revision: 'queue-staging-abc' });
    assert.deepEqual(r.live, {
      workerPool: 'queue',
      revision: 'queue-abc',
      previousRevision: null,
    });
    assert.throws(() => workflowResultSchema.parse({ ...good, live: { workerPool: 'queue' } }));
  });
  test('a rollback, and decisions recorded with who and why', () => {
    const r = workflowResultSchema.parse({
      ...good,
      outcome: 'ROLLED_BACK',
      action: 'rollback',
      stages: [
        { ...good.stages[0], name: 'gate', by: 'user:alice@example.com', reason: 'looks good' },
        { ...good.stages[0], name: 'abort', outcome: 'FAILED', by: null, reason: null },
        { ...good.stages[0], name: 'watch' },
      ],
    });
    assert.equal(r.action, 'rollback');
    assert.deepEqual(
      r.stages.map((s) => [s.name, s.by, s.reason]),
      [
        ['gate', 'user:alice@example.com', 'looks good'],
        ['abort', null, null],
        ['watch', null, null],
      ],
    );
  });
  const bad: { name: string; input: unknown; want: RegExp }[] = [
    { name: 'unknown outcome', input: { ...good, outcome: 'DONE' }, want: /outcome/ },
    {
      name: 'bad stage name',
      input: { ...good, stages: [{ ...good.stages[0], name: 'deploy' }] },
      want: /stages\[0\]\.name/,
    },
    {
      name: 'bad stage time',
      input: { ...good, stages: [{ ...good.stages[0], start: 'now' }] },
      want: /stages\[0\]\.start/,
    },
    { name: 'missing live', input: { ...good, live: undefined }, want: /live/ },
    { name: 'not an object', input: 'PROMOTED', want: /object/ },
    { name: 'outcome lowercase', input: { ...good, outcome: 'promoted' }, want: /outcome/ },
    { name: 'digest not a string', input: { ...good, digest: 42 }, want: /digest/ },
    { name: 'stages not a list', input: { ...good, stages: {} }, want: /stages/ },
    {
      name: 'bad stage outcome',
      input: { ...good, stages: [{ ...good.stages[0], outcome: 'PASSED' }] },
      want: /stages\[0\]\.outcome/,
    },
    {
      name: 'staging revision not a string',
      input: { ...good, staging: { service: 'web-staging', revision: 5 } },
      want: /staging\.revision/,
    },
    { name: 'missing pipeline', input: { ...good, pipeline: undefined }, want: /pipeline/ },
  ];
  for (const c of bad) {
    test(c.name, () => {
      const r = workflowResultSchema.safeParse(c.input);
      assert.equal(r.success, false);
      if (!r.success) assert.match(describeZodError(r.error), c.want);
    });
  }
});

describe('multi-region arguments (issue 19)', () => {
  const three = { service: 'web', regions: ['us-central1', 'europe-west1', 'asia-east1'] };
  const job = {
    ...minimal,
    kind: 'job',
    staging: { job: 'etl-staging' },
    live: { job: 'etl' },
    acceptance: null,
  };
  const good: { name: string; input: object; want: unknown }[] = [
    {
      name: 'live regions without promotion.regions: all at once, rollback-all',
      input: { ...minimal, live: three },
      want: { strategy: 'direct', regions: { concurrency: 3, onFailure: 'rollback-all' } },
    },
    {
      name: 'a canary in waves that stops on failure',
      input: {
        ...minimal,
        live: three,
        promotion: { strategy: 'canary', regions: { concurrency: 1, onFailure: 'stop' } },
      },
      want: {
        strategy: 'canary',
        steps: [10, 50, 100],
        bakeSeconds: 60,
        analysis: null,
        regions: { concurrency: 1, onFailure: 'stop' },
      },
    },
  ];
  for (const c of good) {
    test(c.name, () => {
      const args = workflowArgsSchema.parse(c.input);
      assert.deepEqual(args.promotion, c.want);
      assert.deepEqual(args.live, three);
      assert.deepEqual(workflowArgsSchema.parse(args), args);
    });
  }

  const bad: { name: string; input: object; want: RegExp }[] = [
    {
      name: 'a region twice',
      input: { ...minimal, live: { service: 'web', regions: ['us-central1', 'us-central1'] } },
      want: /live\.regions\[1\]: us-central1 is listed twice/,
    },
    {
      name: 'a malformed region',
      input: { ...minimal, live: { service: 'web', regions: ['us central1'] } },
      want: /live\.regions\[0\]: a region looks like us-central1/,
    },
    {
      name: 'concurrency above the regions',
      input: {
        ...minimal,
        live: three,
        promotion: { strategy: 'direct', regions: { concurrency: 5 } },
      },
      want: /promotion\.regions\.concurrency: must be 1\.\.3/,
    },
    {
      name: 'promotion.regions for one region',
      input: { ...minimal, promotion: { strategy: 'direct', regions: { concurrency: 1 } } },
      want: /promotion\.regions: says how to move through several regions/,
    },
    {
      name: 'regions on a job',
      input: { ...job, live: { job: 'etl', regions: ['us-central1', 'europe-west1'] } },
      want: /live\.regions: a job pipeline \(kind: job\) releases in the pipeline region only/,
    },
    {
      name: 'promotion.regions on a job',
      input: { ...job, promotion: { strategy: 'direct', regions: { onFailure: 'stop' } } },
      want: /promotion: a job pipeline promotes directly: no canary, approval, watch or regions/,
    },
  ];
  for (const c of bad) {
    test(`refuses ${c.name}`, () => {
      const r = workflowArgsSchema.safeParse(c.input);
      assert.equal(r.success, false);
      if (!r.success) assert.match(describeZodError(r.error), c.want);
    });
  }
});

describe('worker pool arguments', () => {
  const pool = {
    ...minimal,
    kind: 'workerPool',
    staging: { workerPool: 'queue-staging' },
    live: { workerPool: 'queue' },
    acceptance: null,
  };
  test('a worker pool pipeline: no acceptance needed, a direct promotion by default', () => {
    const a = workflowArgsSchema.parse(pool);
    assert.equal(a.kind, 'workerPool');
    assert.deepEqual(a.staging, { workerPool: 'queue-staging' });
    assert.deepEqual(a.live, { workerPool: 'queue' });
    assert.equal(a.acceptance, null);
    assert.deepEqual(a.promotion, { strategy: 'direct' });
  });
  test('a canary of steps and bakes, with no analysis', () => {
    const a = workflowArgsSchema.parse({
      ...pool,
      promotion: { strategy: 'canary', steps: [25, 100], bakeSeconds: 30 },
    });
    assert.deepEqual(a.promotion, {
      strategy: 'canary',
      steps: [25, 100],
      bakeSeconds: 30,
      analysis: null,
    });
  });
});
