// workflows/release.yaml on the local engine, its Cloud Run calls answered by a FAKE Run API
// (test/fixtures/fake-run.ts) until the local Cloud Run lands. Asserts the services' state
// (traffic, tags, annotations), not only the result.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { fromPlain, toJsonText } from '../../local/workflows/convert.ts';
import { createEndpoints } from '../../local/workflows/connectors/index.ts';
import { startExecution, timeScaledClock } from '../../local/workflows/engine.ts';
import { canonicalTimestamp } from '../../services/shared/timestamp.ts';
import type { AnalysisReport } from '../../services/shared/workflow-result.ts';
import type { FakeRun } from '../fixtures/fake-run.ts';
import { fakeCloud, releaseWorkflow } from '../helpers/release-engine.ts';

const workflow = releaseWorkflow;
const IMG = 'us-central1-docker.pkg.dev/local-project/apps/web';
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
    pipeline: 'web',
    project: 'local-project',
    region: 'us-central1',
    image: `${IMG}@${d}`,
    tag: 'main',
    publishTime: '2026-11-22T10:00:00.000Z',
    staging: { service: 'web-staging' },
    live: { service: 'web' },
    acceptance: { job: 'web-acceptance', timeoutSeconds: 60, taskCount: 1, checks: null },
    promotion: { strategy: 'direct' },
    notify: null,
    source: 'manual',
    ...extra,
  };
}

/** The sys.log payloads of the last release, as JSON. */
let logged: { name?: string; outcome?: string; pipeline?: string }[] = [];

async function release(a: unknown) {
  logged = [];
  const ex = startExecution(workflow, fromPlain(a), {
    log: (entry) => void logged.push(JSON.parse(toJsonText(entry.payload))),
    clock: timeScaledClock(1000),
    callbacks: callbacks.hub,
    endpoints: createEndpoints({ RUN_EMULATOR_HOST: run.host, MONITORING_EMULATOR_HOST: run.host }),
    env: { projectId: 'local-project', location: 'us-central1', workflowId: 'runway-release' },
  });
  const r = await ex.done;
  if (r.state !== 'SUCCEEDED')
    return { failed: JSON.parse(toJsonText(r.error?.payload ?? null)), steps: r.steps };
  return { ...JSON.parse(toJsonText(r.result ?? null)), steps: r.steps };
}

const live = () => run.services.get(`${base}/services/web`);

/** Waits (polling the fake's state) until `check` holds; the workflow runs on its own clock. */
async function until<T>(check: () => T | undefined, what: string, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('release workflow (fake Cloud Run)', () => {
  test('first release, direct: staging and live created, digest recorded, PROMOTED', async () => {
    const r = await release(args(digest('1')));
    assert.equal(r.outcome, 'PROMOTED', JSON.stringify(r));
    assert.equal(r.staging.revision, 'web-staging-111111111111');
    assert.equal(r.live.revision, 'web-111111111111');
    assert.deepEqual(
      r.stages.map((s: { name: string }) => s.name),
      ['claim', 'staging', 'test', 'promote'],
    );
    // Each stage is logged as it ends, with the pipeline and digest; then the result.
    assert.deepEqual(
      logged.filter((l) => l.name).map((l) => [l.name, l.pipeline]),
      [
        ['claim', 'web'],
        ['staging', 'web'],
        ['test', 'web'],
        ['promote', 'web'],
      ],
    );
    assert.equal(logged.at(-1)?.outcome, 'PROMOTED');
    assert.equal(live()?.annotations['runway.dev/digest'], digest('1'));
    assert.equal(live()?.annotations['runway.dev/claim'], undefined, 'the claim is released');
    assert.deepEqual(live()?.traffic, [
      {
        type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION',
        revision: 'web-111111111111',
        percent: 100,
        tag: 'stable',
      },
    ]);
    const env = (
      run.jobRuns.at(-1) as { containerOverrides: { env: { name: string; value: string }[] }[] }
    ).containerOverrides[0]!.env;
    assert.ok(env.some((e) => e.name === 'TARGET_URL' && e.value.includes('web-staging')));
    assert.ok(
      r.steps.internal + r.steps.external <= 75,
      `direct release billed ${r.steps.internal + r.steps.external} steps`,
    );
  });

  test('the same digest again is a DUPLICATE and changes nothing', async () => {
    const gen = live()!.generation;
    const r = await release(args(digest('1')));
    assert.equal(r.outcome, 'DUPLICATE');
    assert.equal(live()!.generation, gen);
  });

  test('failing acceptance tests: REJECTED, live untouched, staging back to the last good revision', async () => {
    run.failJobs.value = true;
    try {
      const r = await release(args(digest('2')));
      assert.equal(r.outcome, 'REJECTED');
      assert.match(r.reason, /acceptance tests failed/);
      assert.equal(live()?.annotations['runway.dev/digest'], digest('1'));
      // A kept claim would make a re-run of this digest a DUPLICATE.
      assert.equal(live()?.annotations['runway.dev/claim'], undefined, 'the claim is released');
      const staging = run.services.get(`${base}/services/web-staging`)!;
      assert.deepEqual(
        staging.traffic.map((t) => [t.revision, t.percent, t.tag]),
        [
          ['web-staging-111111111111', 100, undefined],
          ['web-staging-222222222222', 0, 'failed'],
        ],
      );
    } finally {
      run.failJobs.value = false;
    }
  });

  test('a revision that never becomes ready: REJECTED at staging', async () => {
    run.notReady.add(`${IMG}@${digest('3')}`);
    const r = await release(args(digest('3')));
    assert.equal(r.outcome, 'REJECTED');
    assert.match(r.reason, /did not become ready/);
    assert.equal(live()?.annotations['runway.dev/digest'], digest('1'));
    assert.equal(live()?.annotations['runway.dev/claim'], undefined, 'the claim is released');
  });

  test('canary: traffic moves 10, 50, 100 with the stable revision keeping the rest, PROMOTED', async () => {
    const before = run.trafficLog.get(`${base}/services/web`)?.length ?? 0;
    const r = await release(
      args(digest('4'), {
        promotion: { strategy: 'canary', steps: [10, 50, 100], bakeSeconds: 30, health: null },
      }),
    );
    assert.equal(r.outcome, 'PROMOTED', JSON.stringify(r));
    const splits = run.trafficLog.get(`${base}/services/web`)!.slice(before);
    const candidatePercents = splits.map(
      (t) => t.find((x) => x.revision === 'web-444444444444')?.percent ?? 0,
    );
    assert.deepEqual(candidatePercents, [0, 10, 50, 100]);
    assert.deepEqual(
      splits[1]!.map((t) => [t.revision, t.percent, t.tag]),
      [
        ['web-111111111111', 90, 'stable'],
        ['web-444444444444', 10, 'candidate'],
      ],
    );
    assert.equal(live()?.annotations['runway.dev/digest'], digest('4'));
    const steps = r.steps.internal + r.steps.external;
    assert.ok(steps <= 75 + 25 * 2, `canary release billed ${steps} steps`);
  });

  test('canary failing its checks at a step: ROLLED_BACK to the stable revision', async () => {
    // The staging test passes; the first canary check (against the candidate tag URL) fails.
    run.failJobs.value = (o: unknown) => JSON.stringify(o).includes('/tag/candidate');
    try {
      const r = await release(
        args(digest('5'), {
          promotion: { strategy: 'canary', steps: [25, 100], bakeSeconds: 10, health: null },
        }),
      );
      assert.equal(r.outcome, 'ROLLED_BACK', JSON.stringify(r));
      assert.deepEqual(
        live()?.traffic.map((t) => [t.revision, t.percent, t.tag]),
        [['web-444444444444', 100, 'stable']],
      );
      assert.equal(live()?.annotations['runway.dev/digest'], digest('4'));
      assert.equal(live()?.annotations['runway.dev/claim'], undefined);
    } finally {
      run.failJobs.value = false;
    }
  });

  test('canary whose candidate crashes during a bake: ROLLED_BACK, with the crash as the reason', async () => {
    const before = live()!.annotations['runway.dev/digest'];
    run.crashedRevisions.add('web-888888888888');
    try {
      const r = await release(
        args(digest('8'), {
          promotion: { strategy: 'canary', steps: [25, 100], bakeSeconds: 10, health: null },
        }),
      );
      assert.equal(r.outcome, 'ROLLED_BACK', JSON.stringify(r));
      assert.match(
        r.reason ?? '',
        /canary at 25% failed: the candidate crashed during the canary: Container terminated on signal 9\./,
      );
      assert.equal(live()?.annotations['runway.dev/digest'], before);
      assert.deepEqual(
        live()
          ?.traffic.filter((t) => (t.percent ?? 0) > 0)
          .map((t) => t.tag),
        ['stable'],
      );
    } finally {
      run.crashedRevisions.clear();
    }
  });

  test("a crash of the workflow's own logic during a canary: execution FAILED, live back on stable, claim released", async () => {
    const before = { ...live()!.annotations };
    const stableRevision = live()!.traffic.find((t) => t.tag === 'stable')?.revision;
    run.omitUri.add('web');
    try {
      const r = await release(
        args(digest('a'), {
          promotion: { strategy: 'canary', steps: [25, 100], bakeSeconds: 10, health: null },
        }),
      );
      assert.deepEqual(r.failed?.tags, ['KeyError'], JSON.stringify(r));
    } finally {
      run.omitUri.clear();
    }
    assert.deepEqual(
      live()?.traffic.map((t) => [t.revision, t.percent, t.tag]),
      [[stableRevision, 100, 'stable']],
    );
    assert.equal(live()?.annotations['runway.dev/digest'], before['runway.dev/digest']);
    assert.equal(live()?.annotations['runway.dev/claim'], undefined);
  });

  const health = { maxErrorRatio: 0.1, minRequests: 10, dataWaitSeconds: 180 };
  const monitored: {
    name: string;
    counts: { codeClass: string; count: number }[];
    health?: Record<string, unknown>;
    /** timeSeries.list calls that see no data yet, as right after a bake on Google. */
    hidden?: number;
    outcome: string;
    reason?: RegExp;
    queries?: number;
  }[] = [
    {
      name: '5xx ratio above the threshold: ROLLED_BACK',
      counts: [
        { codeClass: '2xx', count: 20 },
        { codeClass: '5xx', count: 5 },
      ],
      outcome: 'ROLLED_BACK',
      reason: /canary at 25% failed: errors: 5xx ratio 5\/25 is above 0\.1/,
      queries: 2,
    },
    {
      name: '5xx ratio under the threshold: PROMOTED',
      counts: [
        { codeClass: '2xx', count: 99 },
        { codeClass: '5xx', count: 1 },
      ],
      outcome: 'PROMOTED',
      queries: 2,
    },
    {
      name: 'fewer requests than minRequests after waiting for data: inconclusive, ROLLED_BACK',
      counts: [{ codeClass: '5xx', count: 3 }],
      outcome: 'ROLLED_BACK',
      reason:
        /canary at 25% failed: inconclusive: 3 requests in Cloud Monitoring after waiting 180 s for data, 10 needed/,
      queries: 7,
    },
    {
      name: 'no requests at all, even with minRequests 0: inconclusive, ROLLED_BACK',
      counts: [],
      health: { minRequests: 0, dataWaitSeconds: 60 },
      outcome: 'ROLLED_BACK',
      reason: /inconclusive: 0 requests .* after waiting 60 s for data, 1 needed/,
      queries: 3,
    },
    {
      name: 'inconclusive with onInconclusive promote: PROMOTED',
      counts: [{ codeClass: '2xx', count: 3 }],
      health: { onInconclusive: 'promote', dataWaitSeconds: 30 },
      outcome: 'PROMOTED',
      queries: 2,
    },
    {
      name: 'data that shows up late is waited for, then judged: ROLLED_BACK on its ratio',
      counts: [
        { codeClass: '2xx', count: 10 },
        { codeClass: '5xx', count: 10 },
      ],
      hidden: 2,
      outcome: 'ROLLED_BACK',
      reason: /5xx ratio 10\/20 is above 0\.1/,
      queries: 4,
    },
  ];
  for (const [i, c] of monitored.entries()) {
    test(`canary with Cloud Monitoring thresholds, ${c.name}`, async () => {
      run.requestCounts.splice(0, Infinity, ...c.counts);
      run.monitoringQueries.length = 0;
      run.monitoringHidden.value = c.hidden ?? 0;
      const d = digest('bcdef0'[i]!);
      try {
        const r = await release(
          args(d, {
            promotion: {
              strategy: 'canary',
              steps: [25, 100],
              bakeSeconds: 30,
              health: { ...health, onInconclusive: 'rollback', ...c.health },
            },
          }),
        );
        assert.equal(r.outcome, c.outcome, JSON.stringify(r));
        if (c.reason) assert.match(r.reason ?? '', c.reason);
        assert.equal(run.monitoringQueries.length, c.queries, 'timeSeries.list calls');
        const q = run.monitoringQueries[0]!;
        // The candidate's and stable's requests in one query, summed per revision.
        assert.match(
          q.get('filter') ?? '',
          new RegExp(
            `resource.labels.revision_name = one_of\\("web-${d.slice(7, 19)}", "web-[0-9a-f]{12}"\\)$`,
          ),
        );
        assert.equal(q.get('aggregation.crossSeriesReducer'), 'REDUCE_SUM');
        assert.equal(q.get('aggregation.groupByFields'), 'resource.labels.revision_name');
        // A 30 s bake is read as the whole minute ending with it: Monitoring refuses periods
        // under 60 s.
        assert.equal(q.get('aggregation.alignmentPeriod'), '60s');
        const window =
          Date.parse(q.get('interval.endTime')!) - Date.parse(q.get('interval.startTime')!);
        assert.equal(window, 60_000);
      } finally {
        run.requestCounts.length = 0;
        run.monitoringHidden.value = 0;
      }
    });
  }

  // promotion.analysis: several metrics, each against a threshold or against stable. Stable
  // serves 2 % errors and ~100 ms; the candidate what each case says.
  const stableTraffic = [
    { codeClass: '2xx', count: 980, revision: 'stable' as const },
    { codeClass: '5xx', count: 20, revision: 'stable' as const },
  ];
  const fastStable = { revision: 'stable' as const, ms: Array.from({ length: 200 }, () => 100) };
  const metrics = [
    { name: 'errors', builtin: 'error-ratio', max: 0.05 },
    { name: 'p99', builtin: 'latency-p99', maxMs: 800 },
    { name: 'vs-stable', builtin: 'error-ratio', compareTo: 'stable', maxRatio: 1.5 },
  ];
  const analysed: {
    name: string;
    counts: { codeClass: string; count: number; revision?: 'stable' }[];
    candidateMs?: number[];
    analysis?: Record<string, unknown>;
    outcome: string;
    reason?: RegExp;
    verdicts: string[];
    queries: number;
  }[] = [
    {
      name: 'a good candidate passes every metric: PROMOTED',
      counts: [
        { codeClass: '2xx', count: 100 },
        { codeClass: '5xx', count: 2 },
      ],
      candidateMs: Array.from({ length: 100 }, () => 120),
      outcome: 'PROMOTED',
      verdicts: ['PASSED', 'PASSED', 'PASSED'],
      queries: 3,
    },
    {
      name: 'a slow candidate is rolled back on its p99',
      counts: [{ codeClass: '2xx', count: 100 }],
      candidateMs: [
        ...Array.from({ length: 90 }, () => 100),
        ...Array.from({ length: 10 }, () => 2000),
      ],
      outcome: 'ROLLED_BACK',
      reason: /canary at 25% failed: p99: p99 \d+(\.\d+)? ms is above 800$/,
      verdicts: ['PASSED', 'FAILED', 'PASSED'],
      queries: 3,
    },
    {
      name: 'twice as error-prone as stable: rolled back on the comparison, though under its fixed threshold',
      counts: [
        { codeClass: '2xx', count: 96 },
        { codeClass: '5xx', count: 4 },
      ],
      candidateMs: [100],
      outcome: 'ROLLED_BACK',
      reason: /canary at 25% failed: vs-stable: 2(\.0)?x stable is above 1\.5x$/,
      verdicts: ['PASSED', 'PASSED', 'FAILED'],
      queries: 3,
    },
    {
      name: 'too few requests, inconclusive: continue: PROMOTED, every metric INCONCLUSIVE',
      counts: [{ codeClass: '2xx', count: 3 }],
      analysis: { inconclusive: 'continue', minRequests: 10, dataWaitSeconds: 0 },
      outcome: 'PROMOTED',
      verdicts: ['INCONCLUSIVE', 'INCONCLUSIVE', 'INCONCLUSIVE'],
      queries: 1,
    },
    {
      name: 'too few requests, inconclusive: rollback (the default): ROLLED_BACK',
      counts: [{ codeClass: '2xx', count: 3 }],
      analysis: { minRequests: 10, dataWaitSeconds: 0 },
      outcome: 'ROLLED_BACK',
      reason:
        /canary at 25% failed: inconclusive: 3 requests in Cloud Monitoring after waiting 0 s for data, 10 needed/,
      verdicts: ['INCONCLUSIVE', 'INCONCLUSIVE', 'INCONCLUSIVE'],
      queries: 1,
    },
    {
      name: 'a dry run: a failing analysis is reported, nothing rolls back: PROMOTED',
      counts: [
        { codeClass: '2xx', count: 50 },
        { codeClass: '5xx', count: 50 },
      ],
      candidateMs: [100],
      analysis: { dryRun: true },
      outcome: 'PROMOTED',
      verdicts: ['FAILED', 'PASSED', 'FAILED'],
      queries: 3,
    },
  ];
  for (const [i, c] of analysed.entries()) {
    test(`canary analysis: ${c.name}`, async () => {
      run.requestCounts.splice(0, Infinity, ...stableTraffic, ...c.counts);
      run.requestLatencies.splice(0, Infinity, fastStable, { ms: c.candidateMs ?? [] });
      run.monitoringQueries.length = 0;
      const d = digest('89abcd'[i]!);
      try {
        const r = await release(
          args(d, {
            promotion: {
              strategy: 'canary',
              steps: [25, 100],
              bakeSeconds: 30,
              analysis: { metrics, minRequests: 10, dataWaitSeconds: 60, ...c.analysis },
            },
          }),
        );
        assert.equal(r.outcome, c.outcome, JSON.stringify(r));
        if (c.reason) assert.match(r.reason ?? '', c.reason);
        assert.equal(r.analysis.length, 1, 'one step judged');
        const [a] = r.analysis as AnalysisReport[];
        assert.deepEqual(
          a!.metrics.map((m) => m.verdict),
          c.verdicts,
          JSON.stringify(a),
        );
        assert.deepEqual(
          a!.metrics.map((m) => m.threshold),
          [0.05, 800, 1.5],
        );
        assert.equal(a!.percent, 25);
        assert.equal(a!.dryRun, c.analysis?.dryRun === true);
        assert.equal(run.monitoringQueries.length, c.queries, 'timeSeries.list calls');
        const latency = run.monitoringQueries.find((q) =>
          q.get('filter')?.includes('request_latencies'),
        );
        if (latency) {
          assert.equal(latency.get('aggregation.perSeriesAligner'), 'ALIGN_DELTA');
          assert.equal(latency.get('aggregation.crossSeriesReducer'), 'REDUCE_PERCENTILE_99');
          assert.equal(latency.get('aggregation.groupByFields'), 'resource.labels.revision_name');
        }
        assert.equal(live()?.annotations['runway.dev/analysis'], undefined, 'gone at the end');
      } finally {
        run.requestCounts.length = 0;
        run.requestLatencies.length = 0;
      }
    });
  }

  test('canary analysis, inconclusive: gate: the approvers decide after the step; approve goes on', async () => {
    run.requestCounts.splice(0, Infinity, ...stableTraffic, { codeClass: '2xx', count: 2 });
    const d = digest('e');
    try {
      const done = release(
        args(d, {
          promotion: {
            strategy: 'canary',
            steps: [25, 100],
            bakeSeconds: 30,
            analysis: { metrics, minRequests: 10, dataWaitSeconds: 0, inconclusive: 'gate' },
            approval: { before: ['100'], approvers: ['user:ann@example.com'] },
          },
        }),
      );
      const gate = await until(() => {
        const text = live()?.annotations['runway.dev/gate'];
        return text && JSON.parse(text).before === 'analysis' ? JSON.parse(text) : undefined;
      }, 'the analysis gate');
      await callbacks.send(gate.url, { decision: 'approve', by: 'user:ann@example.com' });
      // Approved there, the release meets its configured gate before 100 % too.
      const second = await until(() => {
        const text = live()?.annotations['runway.dev/gate'];
        return text && JSON.parse(text).before === '100' ? JSON.parse(text) : undefined;
      }, 'the gate before 100');
      await callbacks.send(second.url, { decision: 'approve', by: 'user:ann@example.com' });
      const r = await done;
      assert.equal(r.outcome, 'PROMOTED', JSON.stringify(r));
      assert.deepEqual(
        r.stages
          .filter((s: { name: string }) => s.name === 'gate')
          .map((s: { detail: string }) => s.detail),
        ['approve before analysis', 'approve before 100'],
      );
      assert.equal(r.analysis[0].verdict, 'INCONCLUSIVE');
    } finally {
      run.requestCounts.length = 0;
    }
  });

  test('every bake length gives a query Cloud Monitoring accepts (whole minutes, at least one)', async () => {
    run.requestCounts.splice(0, Infinity, { codeClass: '2xx', count: 50 });
    const periods: string[] = [];
    try {
      for (const [i, bakeSeconds] of [0, 1, 30, 59, 60, 61, 90.5, 3600].entries()) {
        run.monitoringQueries.length = 0;
        const r = await release(
          args(`sha256:${(i + 10).toString(16).padStart(2, '0').repeat(32)}`, {
            promotion: { strategy: 'canary', steps: [50, 100], bakeSeconds, health },
          }),
        );
        assert.equal(r.outcome, 'PROMOTED', `bake ${bakeSeconds}: ${JSON.stringify(r)}`);
        periods.push(run.monitoringQueries[0]!.get('aggregation.alignmentPeriod')!);
      }
    } finally {
      run.requestCounts.length = 0;
    }
    assert.deepEqual(periods, ['60s', '60s', '60s', '60s', '60s', '120s', '120s', '3600s']);
  });

  test('an older digest never overtakes a newer claim: SUPERSEDED', async () => {
    const s = live()!;
    s.annotations['runway.dev/claim'] = JSON.stringify({
      digest: digest('7'),
      publishTime: '2026-11-22T12:00:00.000Z',
      execution: 'other',
    });
    try {
      const before = live()?.annotations['runway.dev/digest'];
      const r = await release(args(digest('6'), { publishTime: '2026-11-22T11:00:00.000Z' }));
      assert.equal(r.outcome, 'SUPERSEDED');
      assert.equal(live()?.annotations['runway.dev/digest'], before);
    } finally {
      delete s.annotations['runway.dev/claim'];
    }
  });

  test('an older image delivered after a newer one went live: SUPERSEDED, live untouched', async () => {
    const s = live()!;
    const before = { ...s.annotations };
    s.annotations['runway.dev/published'] = '2026-11-22T12:00:00.000Z';
    try {
      const r = await release(args(digest('9'), { publishTime: '2026-11-22T11:59:59.900Z' }));
      assert.equal(r.outcome, 'SUPERSEDED', JSON.stringify(r));
      assert.match(r.reason ?? '', /is already live/);
      assert.equal(live()?.annotations['runway.dev/digest'], before['runway.dev/digest']);
      // A manual release (no publish time) of the same older image is allowed: a deliberate rollback.
      const manual = await release(args(digest('9'), { publishTime: null, source: 'manual' }));
      assert.equal(manual.outcome, 'PROMOTED', JSON.stringify(manual));
      assert.equal(live()?.annotations['runway.dev/digest'], digest('9'));
    } finally {
      delete s.annotations['runway.dev/published'];
    }
  });

  // Live's annotation and the push's publishTime in the spellings Pub/Sub, proto3 JSON and older
  // runway versions wrote: compared as text, each of these decides the wrong way round.
  const ordering = [
    {
      name: 'a push in the same second, later by its fraction, is not superseded',
      live: '2026-11-22T13:00:00Z',
      push: '2026-11-22T13:00:00.078Z',
      outcome: 'PROMOTED',
    },
    {
      name: 'an older push whose fraction sorts after the live whole second is superseded',
      live: '2026-11-22T14:00:01Z',
      push: '2026-11-22T14:00:00.999Z',
      outcome: 'SUPERSEDED',
    },
    {
      name: 'an offset spelling of an earlier instant is superseded',
      live: '2026-11-22T15:00:00.5Z',
      push: '2026-11-22T16:00:00+01:00',
      outcome: 'SUPERSEDED',
    },
    {
      name: 'an offset spelling of a later instant is not superseded',
      live: '2026-11-22T16:30:00.000000000Z',
      push: '2026-11-22T15:30:00.000000001-01:00',
      outcome: 'PROMOTED',
    },
  ];
  for (const [i, c] of ordering.entries()) {
    test(`publish times compare as instants: ${c.name}`, async () => {
      live()!.annotations['runway.dev/published'] = c.live;
      const before = live()!.annotations['runway.dev/digest'];
      const mine = `sha256:${(0xa0 + i).toString(16).repeat(32)}`;
      const r = await release(args(mine, { publishTime: c.push }));
      assert.equal(r.outcome, c.outcome, JSON.stringify(r));
      if (c.outcome === 'SUPERSEDED') {
        assert.equal(live()!.annotations['runway.dev/digest'], before);
      } else {
        assert.equal(live()!.annotations['runway.dev/digest'], mine);
        // Written back in the one canonical spelling the deployer also uses.
        assert.equal(live()!.annotations['runway.dev/published'], canonicalTimestamp(c.push));
      }
    });
  }

  test('manual runs whose argument has no publishTime key release every time, not only the first', async () => {
    for (const c of ['b1', 'b2']) {
      const a: Record<string, unknown> = args(`sha256:${c.repeat(32)}`);
      delete a.publishTime;
      const r = await release(a);
      assert.equal(r.outcome, 'PROMOTED', JSON.stringify(r));
      assert.equal(live()!.annotations['runway.dev/digest'], `sha256:${c.repeat(32)}`);
      assert.equal(live()!.annotations['runway.dev/published'], '');
    }
    // A push after them is compared with nothing and goes ahead.
    const r = await release(args(`sha256:${'b3'.repeat(32)}`));
    assert.equal(r.outcome, 'PROMOTED', JSON.stringify(r));
  });

  test('every template field runway does not own survives a release: the service account, env, limits, sidecars', async () => {
    const owned = {
      serviceAccount: 'web-runtime@local-project.iam.gserviceaccount.com',
      timeout: '30s',
      maxInstanceRequestConcurrency: 20,
      scaling: { minInstanceCount: 1, maxInstanceCount: 7 },
      annotations: { 'team.example.com/owner': 'payments' },
      labels: { team: 'payments' },
    };
    const container = {
      name: 'web',
      env: [{ name: 'MODE', value: 'production' }],
      resources: { limits: { cpu: '2', memory: '1Gi' } },
      ports: [{ containerPort: 8080 }],
    };
    const sidecar = {
      name: 'proxy',
      image: 'us-docker.pkg.dev/x/y/proxy@sha256:' + 'c'.repeat(64),
    };
    for (const service of ['web', 'web-staging']) {
      const s = run.services.get(`${base}/services/${service}`)!;
      s.template = {
        ...owned,
        revision: s.template.revision,
        containers: [{ ...container, image: s.template.containers?.[0]?.image ?? '' }, sidecar],
      } as typeof s.template;
    }
    const d = `sha256:${'c1'.repeat(32)}`;
    const r = await release(
      args(d, {
        promotion: { strategy: 'canary', steps: [50, 100], bakeSeconds: 10, health: null },
      }),
    );
    assert.equal(r.outcome, 'PROMOTED', JSON.stringify(r));
    for (const service of ['web', 'web-staging']) {
      const t = run.services.get(`${base}/services/${service}`)!.template as Record<
        string,
        unknown
      > & {
        containers: Record<string, unknown>[];
        annotations: Record<string, string>;
      };
      assert.equal(t.serviceAccount, owned.serviceAccount, `${service}: service account kept`);
      assert.deepEqual(
        { ...t, containers: undefined, revision: undefined, annotations: undefined },
        { ...owned, containers: undefined, revision: undefined, annotations: undefined },
      );
      assert.deepEqual(t.annotations, { ...owned.annotations, 'runway.dev/digest': d });
      assert.deepEqual(t.containers, [{ ...container, image: `${IMG}@${d}` }, sidecar]);
      assert.equal(t.revision, `${service}-${d.slice(7, 19)}`);
    }
  });

  const bad = [
    { name: 'not an object', a: 'web', want: /expected a JSON object/ },
    {
      name: 'missing live',
      a: { ...args(digest('8')), live: undefined },
      want: /live is required/,
    },
    {
      name: 'image by tag',
      a: { ...args(digest('8')), image: `${IMG}:v1` },
      want: /image must be a reference by digest/,
    },
    {
      name: 'unknown strategy',
      a: args(digest('8'), { promotion: { strategy: 'yolo' } }),
      want: /promotion.strategy/,
    },
  ];
  for (const c of bad) {
    test(`bad arguments fail at once: ${c.name}`, async () => {
      const gen = live()!.generation;
      const r = await release(c.a);
      assert.match(String(r.failed), c.want);
      assert.equal(live()!.generation, gen, 'nothing changed');
    });
  }
});

// A target naming one region releases there, by the single-region path (release-regions.test.ts
// covers several).
describe('live.regions naming one region', () => {
  test('live.regions naming exactly the pipeline region releases as before', async () => {
    const r = await release(
      args(digest('9'), {
        staging: { service: 'multi-staging' },
        live: { service: 'multi', regions: ['us-central1'] },
      }),
    );
    assert.equal(r.outcome, 'PROMOTED', JSON.stringify(r));
    assert.equal(r.live.revision, 'multi-999999999999');
    assert.equal(
      run.services.get(`${base}/services/multi`)?.annotations['runway.dev/digest'],
      digest('9'),
    );
  });
  test('live in one region that is not the pipeline region: released there', async () => {
    const r = await release(
      args(digest('9'), {
        staging: { service: 'away-staging', regions: ['europe-west1'] },
        live: { service: 'away', regions: ['europe-west1'] },
      }),
    );
    assert.equal(r.outcome, 'PROMOTED', JSON.stringify(r));
    const eu = 'projects/local-project/locations/europe-west1/services';
    assert.equal(run.services.get(`${eu}/away`)?.annotations['runway.dev/digest'], digest('9'));
    assert.ok(run.services.get(`${eu}/away-staging`));
    assert.equal(run.services.get(`${base}/services/away`), undefined);
    assert.equal(run.services.get(`${base}/services/away-staging`), undefined);
  });
});
