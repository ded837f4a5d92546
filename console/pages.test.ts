// Rendering: escaping of everything that comes from the cloud, the models the pages are made of,
// and the stylesheet's colour pairs against WCAG AA (4.5:1 for text).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fakeSnapshot } from './fake-source.ts';
import { escapeHtml, html, raw, safeHref } from './html.ts';
import { pipelineStatuses } from '../cli/commands/status.ts';
import { parsePipelineConfig } from '../services/shared/pipeline-config.ts';
import { canarySteps, cards, releaseModel, type Snapshot } from './model.ts';
import * as pages from './pages.ts';

describe('html``', () => {
  const cases: { name: string; got: () => string; want: string }[] = [
    {
      name: 'text is escaped',
      got: () => html`<p>${'<script>&"\'`'}</p>`.text,
      want: '<p>&lt;script&gt;&amp;&quot;&#39;&#96;</p>',
    },
    {
      name: 'in an attribute',
      got: () => html`<a title="${'" onclick="x'}">`.text,
      want: '<a title="&quot; onclick=&quot;x">',
    },
    {
      name: 'Html is kept',
      got: () => html`<div>${html`<b>${'<i>'}</b>`}</div>`.text,
      want: '<div><b>&lt;i&gt;</b></div>',
    },
    {
      name: 'arrays are joined, each escaped',
      got: () => html`${['<a>', raw('<b>')]}`.text,
      want: '&lt;a&gt;<b>',
    },
    {
      name: 'null, undefined and booleans vanish',
      got: () => html`${null}${undefined}${false}${true}|`.text,
      want: '|',
    },
    { name: 'numbers', got: () => html`${42}%`.text, want: '42%' },
    { name: 'escapeHtml alone', got: () => escapeHtml('a<b'), want: 'a&lt;b' },
  ];
  for (const c of cases) test(c.name, () => assert.equal(c.got(), c.want));

  const hrefs: [string, string][] = [
    ['/logs?x=1', '/logs?x=1'],
    ['//evil.example/', '#'],
    ['javascript:alert(1)', '#'],
    ['data:text/html,x', '#'],
    ['https://console.cloud.google.com/logs', 'https://console.cloud.google.com/logs'],
    ['not a url', '#'],
  ];
  for (const [input, want] of hrefs)
    test(`safeHref(${input})`, () => assert.equal(safeHref(input), want));
});

describe('pages', () => {
  const snapshot = fakeSnapshot(2);
  const clock = () => snapshot.at.getTime();

  test('a hostile value from the cloud is text everywhere it shows', () => {
    const s = fakeSnapshot(1);
    const evil = '<img src=x onerror=alert(1)>';
    const e = s.executions.find((x) => x.id === 'p0-bad')!;
    (e.result as { reason: string }).reason = evil;
    (e.argument as { tag: string }).tag = evil;
    const out = [
      pages.overview(cards(s, clock), 0).text,
      pages.release(releaseModel(s, e), 0, 1).text,
      pages.logs(evil, [evil], evil).text,
    ].join('\n');
    assert.doesNotMatch(out, /<img/);
    assert.match(out, /&lt;img src=x onerror=alert\(1\)&gt;/);
  });

  test('a card: live digest, bars for live and staging, the running canary, the gate', () => {
    const [c] = cards(snapshot, clock);
    assert.equal(c?.live.tag, 'v-p0-good');
    assert.deepEqual(
      c?.bars.map((b) => [b.service, b.segments.map((x) => `${x.role} ${x.percent}`)]),
      [['p0', ['stable 50', 'candidate 50']]],
    );
    assert.equal(c?.running?.stage, 'gate');
    assert.deepEqual(
      c?.running?.steps?.map((x) => x.state),
      ['done', 'current', 'pending'],
    );
    assert.equal(c?.running?.bakeEndsAt, null, 'no bake while a gate waits');
    const [, other] = cards(snapshot, clock);
    assert.equal(other?.running?.bakeEndsAt, snapshot.at.getTime() + 60_000);
    assert.equal(other?.last?.outcome, 'REJECTED');
  });

  test('canary steps of a rolled back release mark the failed step and its analysis', () => {
    const e = { ...snapshot.executions[0]!, state: 'SUCCEEDED' };
    const steps = canarySteps(e, null, {
      outcome: 'ROLLED_BACK',
      reason: 'canary at 50% failed: 5xx ratio 7/40 is above 0.05',
      stages: [],
    });
    assert.deepEqual(steps, [
      { percent: 10, state: 'done', analysis: null },
      { percent: 50, state: 'failed', analysis: '5xx ratio 7/40 is above 0.05' },
      { percent: 100, state: 'pending', analysis: null },
    ]);
  });

  test("canary steps show each step's recorded analysis: values against thresholds", () => {
    const e = { ...snapshot.executions[0]!, state: 'SUCCEEDED' };
    const metric = (name: string, value: number, threshold: number, verdict: string) => ({
      name,
      builtin: name === 'p99' ? 'latency-p99' : 'error-ratio',
      compareTo: null,
      value,
      threshold,
      verdict,
    });
    const report = (percent: number, verdict: string, p99: number) => ({
      percent,
      verdict,
      requests: 120,
      stableRequests: 900,
      dryRun: false,
      metrics: [metric('errors', 0.01, 0.05, 'PASSED'), metric('p99', p99, 800, verdict)],
    });
    const steps = canarySteps(e, null, {
      outcome: 'ROLLED_BACK',
      reason: 'canary at 50% failed: p99: p99 1210 ms is above 800',
      stages: [],
      analysis: [report(10, 'PASSED', 212), report(50, 'FAILED', 1210)] as never,
    });
    assert.deepEqual(
      steps?.map((x) => [x.percent, x.state, x.analysis]),
      [
        [10, 'done', 'PASSED at 10% over 120 requests: errors 0.01 <= 0.05, p99 212 ms <= 800 ms'],
        [
          50,
          'failed',
          'FAILED at 50% over 120 requests: errors 0.01 <= 0.05, p99 1210 ms > 800 ms',
        ],
        [100, 'pending', null],
      ],
    );
  });

  test('release actions: each disabled with why when it does not apply', () => {
    const running = releaseModel(snapshot, snapshot.executions.find((e) => e.id === 'p1-run')!);
    assert.deepEqual(running.actions.approve, {
      enabled: false,
      why: 'this release is not waiting at an approval gate',
    });
    assert.equal(running.actions.abort.enabled, true);
    assert.equal(running.actions.rollback.enabled, true);
    const done = releaseModel(snapshot, snapshot.executions.find((e) => e.id === 'p1-good')!);
    assert.deepEqual(done.actions.abort, {
      enabled: false,
      why: 'the release has ended (PROMOTED)',
    });
    const gated = releaseModel(
      { ...snapshot, member: 'user:mallory@example.com' },
      snapshot.executions.find((e) => e.id === 'p0-run')!,
    );
    assert.match(gated.actions.approve.why, /user:mallory@example.com is not an approver/);
    assert.equal(gated.actions.approve.enabled, false);
  });
});

describe('a job pipeline', () => {
  const D1 = `sha256:${'1'.repeat(64)}`;
  const D2 = `sha256:${'2'.repeat(64)}`;
  const D3 = `sha256:${'3'.repeat(64)}`;
  const IMG = 'us-central1-docker.pkg.dev/my-project/apps/etl';
  /** fakeSnapshot's service pipeline and a job pipeline `etl`, its release of D3 running. */
  function withJob(running: boolean): Snapshot {
    const s = fakeSnapshot(1);
    const jobs = [
      {
        name: 'etl',
        image: `${IMG}@${D2}`,
        latestExecution: 'etl-x2',
        annotations: {
          'runway.dev/digest': D2,
          'runway.dev/previous': D1,
          'runway.dev/refused': JSON.stringify([D1]),
          ...(running
            ? {
                'runway.dev/claim': JSON.stringify({ digest: D3, execution: 'etl-run', at: 1 }),
              }
            : {}),
        },
      },
      { name: 'etl-staging', image: `${IMG}@${D3}`, latestExecution: null, annotations: {} },
    ];
    const release = (id: string, state: string, digest: string, extra: object = {}) => ({
      name: `projects/p/locations/us-central1/workflows/runway-release/executions/${id}`,
      id,
      state,
      startTime: '2026-12-02T10:00:00.000Z',
      endTime: state === 'ACTIVE' ? null : '2026-12-02T10:01:00.000Z',
      argument: { pipeline: 'etl', kind: 'job', image: `${IMG}@${digest}`, tag: `t-${id}` },
      result: null,
      error: null,
      labels: { pipeline: 'etl', digest: digest.slice(7, 19) },
      routine: state === 'ACTIVE' ? 'test_job' : null,
      ...extra,
    });
    const executions = [
      ...(running ? [release('etl-run', 'ACTIVE', D3)] : []),
      release('etl-good', 'SUCCEEDED', D2, {
        result: {
          outcome: 'PROMOTED',
          action: 'release',
          pipeline: 'etl',
          digest: D2,
          reason: null,
          staging: { job: 'etl-staging', execution: 'etl-staging-x' },
          live: { job: 'etl', previousDigest: D1 },
          stages: [],
        },
      }),
    ];
    const service = s.pipelines[0]!;
    return {
      ...s,
      config: parsePipelineConfig(`region: us-central1
pipelines:
  - name: ${service.name}
    image: ${IMG}-web
    staging: { service: ${service.name}-staging }
    live: { service: ${service.live} }
    acceptance: { job: ${service.name}-acceptance }
  - name: etl
    image: ${IMG}
    kind: job
    staging: { job: etl-staging }
    live: { job: etl }
`),
      jobs,
      executions: [...executions, ...s.executions],
      pipelines: [
        ...s.pipelines,
        ...pipelineStatuses(
          [
            { name: service.name, live: { service: service.live } },
            { name: 'etl', live: { job: 'etl' } },
          ],
          s.services,
          s.at,
          [],
          jobs,
        ).slice(1),
      ],
    };
  }
  const clock = () => 0;

  test("its card: the live job's digest, the last refused one, its jobs, no traffic bars", () => {
    const s = withJob(false);
    const c = cards(s, clock).find((x) => x.name === 'etl')!;
    assert.equal(c.kind, 'job');
    assert.deepEqual(c.live, { service: 'etl', digest: D2, tag: 't-etl-good', previous: D1 });
    assert.equal(c.lastFailed, D1);
    assert.deepEqual(c.bars, []);
    assert.deepEqual(c.jobs, [
      { job: 'etl', role: 'live', digest: D2, latestExecution: 'etl-x2', exists: true },
      { job: 'etl-staging', role: 'staging', digest: D3, latestExecution: null, exists: true },
    ]);
    assert.equal(c.running, null);
    assert.equal(c.last?.outcome, 'PROMOTED');
    const page = pages.overview(cards(s, clock), 0).text;
    const card = page.slice(page.indexOf('id="pipeline-etl"'));
    assert.match(card, /<dt>Live job<\/dt><dd class="live-job">etl<\/dd>/);
    assert.match(
      card,
      /<dd class="live-digest"><code>222222222222<\/code> <span class="tag">t-etl-good<\/span>/,
    );
    assert.match(card, /<dd class="last-failed"><code>111111111111<\/code>/);
    assert.match(
      card,
      /<td>etl<\/td><td>live<\/td><td><code>222222222222<\/code><\/td><td>etl-x2<\/td>/,
    );
    assert.match(
      card,
      /<td>etl-staging<\/td><td>staging<\/td><td><code>333333333333<\/code><\/td><td>never ran<\/td>/,
    );
    assert.doesNotMatch(card, /Live logs/, 'a job has no service logs');
    // The service pipeline's card is as before: bars, no jobs, its logs link.
    const web = cards(s, clock)[0]!;
    assert.equal(web.kind, 'service');
    assert.deepEqual(web.jobs, []);
    assert.equal(web.bars[0]?.service, 'p0');
  });

  test('a job pipeline before its first release: its jobs not created yet', () => {
    const s = { ...withJob(false), jobs: [] };
    const c = cards(s, clock).find((x) => x.name === 'etl')!;
    assert.deepEqual(
      c.jobs.map((j) => [j.job, j.exists, j.digest]),
      [
        ['etl', false, null],
        ['etl-staging', false, null],
      ],
    );
    assert.match(
      pages.card(c, 0).text,
      /<td>etl<\/td><td>live<\/td><td><code>[^<]*<\/code><\/td><td>not created yet<\/td>/,
    );
  });

  test('a job release running: its stage from the job routines; abort is refused', () => {
    const s = withJob(true);
    const c = cards(s, clock).find((x) => x.name === 'etl')!;
    assert.deepEqual(
      [c.running?.execution, c.running?.digest, c.running?.stage, c.running?.steps],
      ['etl-run', D3, 'test', null],
    );
    const page = pages.overview(cards(s, clock), 0).text;
    assert.match(
      page,
      /Release etl-run<\/a> of <code>333333333333<\/code>.*stage <strong class="stage">test<\/strong>/,
    );
    const m = releaseModel(s, s.executions.find((e) => e.id === 'etl-run')!);
    assert.deepEqual(m.actions.abort, {
      enabled: false,
      why: 'a job release runs to its end (it has no control channel); roll back after it',
    });
    assert.deepEqual(m.actions.rollback, { enabled: true, why: 'live back to 111111111111' });
  });
});

describe('colours pass WCAG AA', () => {
  const css = readFileSync(new URL('client/style.css', import.meta.url), 'utf8');
  const vars = Object.fromEntries(
    [...css.matchAll(/--([a-z-]+):\s*(#[0-9a-f]{6})/g)].map((m) => [m[1]!, m[2]!]),
  );
  const luminance = (hex: string) => {
    const [r, g, b] = [1, 3, 5].map((i) => {
      const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a: string, b: string) => {
    const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p) as [number, number];
    return (x + 0.05) / (y + 0.05);
  };
  const color = (name: string) => (name.startsWith('#') ? name : vars[name]!);
  // Text on its background, as the stylesheet pairs them.
  const pairs: [string, string][] = [
    ['text', '#ffffff'],
    ['muted', '#ffffff'],
    ['muted', 'panel'],
    ['link', '#ffffff'],
    ['link', 'panel'],
    ['link', 'warn-bg'],
    ['#ffffff', 'link'],
    ['#ffffff', 'stable'],
    ['#ffffff', 'candidate'],
    ['#ffffff', 'other'],
    ['ok', 'ok-bg'],
    ['bad', 'bad-bg'],
    ['warn', 'warn-bg'],
    ['text', 'panel'],
    ['#f1f1f1', '#1f1f1f'],
  ];
  for (const [fg, bg] of pairs)
    test(`${fg} on ${bg}`, () => {
      const r = ratio(color(fg), color(bg));
      assert.ok(r >= 4.5, `${fg} on ${bg}: ${r.toFixed(2)}:1`);
    });
});
