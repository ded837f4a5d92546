import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseImageRef } from './image-ref.ts';
import {
  matchesTag,
  parsePipelineConfig,
  pipelinesFor,
  type ReleaseRequest,
  type ServicePipeline,
  whyIgnored,
  workflowArgsFor,
} from './pipeline-config.ts';

import { workflowArgsSchema } from './workflow-args.ts';
const IMG = 'us-central1-docker.pkg.dev/my-project/apps/web';
const HEX = 'b'.repeat(64);

const base = `
project: my-project
region: us-central1
pipelines:
  - name: web
    image: ${IMG}
    tags: [main, "v*"]
    staging: { service: web-staging }
    live: { service: web }
    acceptance: { job: web-acceptance }
    promotion: { strategy: canary, steps: [10, 50, 100], bakeSeconds: 30 }
    notify: { topic: runway-events }
  - name: api
    image: us-docker.pkg.dev/my-project/apps/api
    region: europe-west1
    staging: { service: api-staging }
    live: { service: api }
    acceptance: { job: api-acceptance, timeoutSeconds: 120, taskCount: 3 }
`;

test('a good file parses with defaults filled in', () => {
  const config = parsePipelineConfig(base);
  assert.equal(config.project, 'my-project');
  const [web, api] = config.pipelines as ServicePipeline[];
  assert.equal(web?.region, 'us-central1');
  assert.deepEqual(web?.promotion, {
    strategy: 'canary',
    steps: [10, 50, 100],
    bakeSeconds: 30,
    analysis: null,
  });
  assert.deepEqual(web?.acceptance, {
    job: 'web-acceptance',
    timeoutSeconds: 600,
    taskCount: 1,
    checks: null,
  });
  assert.equal(api?.region, 'europe-west1');
  assert.deepEqual(api?.promotion, { strategy: 'direct' });
  assert.equal(api?.notify, null);
});

/** Replaces one line of the good file, so each case breaks exactly one thing. */
const edit = (from: string, to: string) => {
  assert.ok(base.includes(from), `fixture has ${from}`);
  return base.replace(from, to);
};

describe('bad files are rejected naming the path of the bad key', () => {
  const cases: { name: string; text: string; want: RegExp }[] = [
    { name: 'not YAML', text: 'pipelines: [unclosed', want: /^runway\.yaml:\d+:\d+: / },
    {
      name: 'duplicate key',
      text: 'region: a\nregion: b\npipelines: []',
      want: /Map keys must be unique/,
    },
    { name: 'empty file', text: '', want: /runway\.yaml: / },
    { name: 'a list at the top', text: '- a\n- b', want: /object/ },
    {
      name: 'no pipelines',
      text: 'pipelines: []',
      want: /pipelines: define at least one pipeline/,
    },
    { name: 'unknown top-level key', text: `${base}\nextra: 1`, want: /extra/ },
    {
      name: 'canary step out of range',
      text: edit('steps: [10, 50, 100]', 'steps: [10, 50, 150]'),
      want: /pipelines\[0\]\.promotion\.steps\[2\]: must be 1\.\.100/,
    },
    {
      name: 'canary steps not increasing',
      text: edit('steps: [10, 50, 100]', 'steps: [50, 10, 100]'),
      want: /pipelines\[0\]\.promotion\.steps\[1\]: steps must increase/,
    },
    {
      name: 'canary not ending at 100',
      text: edit('steps: [10, 50, 100]', 'steps: [10, 50]'),
      want: /pipelines\[0\]\.promotion\.steps: the last step must be 100/,
    },
    {
      name: 'unknown strategy',
      text: edit('strategy: canary', 'strategy: bluegreen'),
      want: /pipelines\[0\]\.promotion\.strategy: strategy must be "direct" or "canary"/,
    },
    {
      name: 'bad service name',
      text: edit('live: { service: web }', 'live: { service: Web_Live }'),
      want: /pipelines\[0\]\.live\.service: a Cloud Run service name must be lowercase/,
    },
    {
      name: 'service name too long',
      text: edit('live: { service: web }', `live: { service: ${'w'.repeat(50)} }`),
      want: /at most 49 characters/,
    },
    {
      name: 'staging equals live',
      text: edit('staging: { service: web-staging }', 'staging: { service: web }'),
      want: /pipelines\[0\]\.staging\.service: staging and live must be different/,
    },
    {
      name: 'watched image with a tag',
      text: edit(`image: ${IMG}`, `image: ${IMG}:v1`),
      want: /pipelines\[0\]\.image: name the image without a tag/,
    },
    {
      name: 'watched image not Google',
      text: edit(`image: ${IMG}`, 'image: docker.io/library/web'),
      want: /pipelines\[0\]\.image: .*not Artifact Registry/,
    },
    {
      name: 'bad tag pattern',
      text: edit('tags: [main, "v*"]', 'tags: [main, "v[0-9]"]'),
      want: /pipelines\[0\]\.tags\[1\]: a tag pattern/,
    },
    {
      name: 'empty tag list',
      text: edit('tags: [main, "v*"]', 'tags: []'),
      want: /pipelines\[0\]\.tags: omit tags/,
    },
    {
      name: 'task count zero',
      text: edit('taskCount: 3', 'taskCount: 0'),
      want: /pipelines\[1\]\.acceptance\.taskCount/,
    },
    {
      name: 'timeout not a number',
      text: edit('timeoutSeconds: 120', 'timeoutSeconds: soon'),
      want: /pipelines\[1\]\.acceptance\.timeoutSeconds/,
    },
    {
      name: 'duplicate pipeline name',
      text: edit('- name: api', '- name: web'),
      want: /pipelines\[1\]\.name: pipeline web is already used by pipelines\[0\]/,
    },
    {
      name: 'no region anywhere',
      text: edit('region: us-central1\n', ''),
      want: /pipelines\[0\]\.region: set region here or at the top level/,
    },
    {
      name: 'bad topic',
      text: edit('topic: runway-events', 'topic: goog-events'),
      want: /pipelines\[0\]\.notify\.topic: a topic name must not start with "goog"/,
    },
    {
      name: 'bad project',
      text: edit('project: my-project', 'project: X'),
      want: /project: a project id/,
    },
    { name: 'unknown pipeline key', text: edit('    notify:', '    notfy:'), want: /notfy/ },
    { name: 'oversized', text: `# ${'x'.repeat(300_000)}\n${base}`, want: /larger than/ },
    {
      name: 'alias bomb',
      text: `a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\npipelines: [*c]`,
      want: /alias|runway\.yaml/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.throws(
        () => parsePipelineConfig(c.text),
        (err: Error) => {
          assert.equal(err.name, 'ConfigError');
          assert.match(err.message, c.want);
          return true;
        },
      );
    });
  }
});

describe('which pipeline takes a push', () => {
  const config = parsePipelineConfig(base);
  const cases = [
    { name: 'watched tag', ref: `${IMG}:main@sha256:${HEX}`, want: ['web'] },
    { name: 'wildcard tag', ref: `${IMG}:v1.2@sha256:${HEX}`, want: ['web'] },
    {
      name: 'filtered tag',
      ref: `${IMG}:feature-x@sha256:${HEX}`,
      want: [],
      why: /tag feature-x matches no tag filter of web/,
    },
    {
      name: 'untagged push to a filtered pipeline',
      ref: `${IMG}@sha256:${HEX}`,
      want: [],
      why: /only release tagged pushes/,
    },
    {
      name: 'any push to an unfiltered pipeline',
      ref: `us-docker.pkg.dev/my-project/apps/api@sha256:${HEX}`,
      want: ['api'],
    },
    {
      name: 'unwatched image',
      ref: `us-docker.pkg.dev/my-project/apps/other@sha256:${HEX}`,
      want: [],
      why: /no pipeline watches/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const ref = parseImageRef(c.ref);
      assert.deepEqual(
        pipelinesFor(config, ref).map((p) => p.name),
        c.want,
      );
      if (c.why) assert.match(whyIgnored(config, ref), c.why);
    });
  }
});

test('tag patterns match whole tags only', () => {
  assert.equal(matchesTag('v*', 'v1.2'), true);
  assert.equal(matchesTag('v?', 'v1'), true);
  assert.equal(matchesTag('v?', 'v12'), false);
  assert.equal(matchesTag('main', 'main2'), false);
  assert.equal(matchesTag('1.0', '1x0'), false);
});

test('workflowArgsFor builds valid arguments from a pipeline', () => {
  const config = parsePipelineConfig(base);
  const args = workflowArgsFor(config, config.pipelines[0]!, {
    image: `${IMG}@sha256:${HEX}`,
    tag: 'main',
    publishTime: '2026-11-22T10:00:00.123Z',
    source: 'pubsub',
  });
  assert.equal(args.project, 'my-project');
  assert.equal(args.region, 'us-central1');
  assert.deepEqual(args.staging, { service: 'web-staging' });
  assert.equal(args.promotion.strategy, 'canary');
  assert.deepEqual(args.notify, { topic: 'runway-events' });
});

describe('workflowArgsFor validates the pipeline part once and the release part every time', () => {
  const config = parsePipelineConfig(base);
  const release = {
    image: `${IMG}@sha256:${HEX}`,
    tag: 'main',
    publishTime: '2026-11-22T10:00:00.123Z',
    source: 'pubsub' as const,
  };

  test('the same arguments as validating the whole, for every pipeline', () => {
    for (const pipeline of config.pipelines) {
      const args = workflowArgsFor(config, pipeline, release);
      const whole = workflowArgsSchema.parse({
        pipeline: pipeline.name,
        project: config.project,
        region: pipeline.region,
        ...release,
        kind: pipeline.kind,
        staging: pipeline.staging,
        live: pipeline.live,
        acceptance: pipeline.acceptance,
        ...(pipeline.kind === 'job'
          ? { taskCount: pipeline.taskCount }
          : { promotion: pipeline.promotion }),
        notify: pipeline.notify,
      });
      assert.deepEqual(args, whole, pipeline.name);
      assert.deepEqual(Object.keys(args), Object.keys(whole), `${pipeline.name}: key order`);
    }
  });

  test('the shared pipeline part cannot be changed through one release', () => {
    const a = workflowArgsFor(config, config.pipelines[0]!, release);
    assert.throws(() => {
      (a.staging as { service: string }).service = 'other';
    }, TypeError);
    const b = workflowArgsFor(config, config.pipelines[0]!, release);
    assert.deepEqual(b.staging, { service: 'web-staging' });
  });

  test('what the release adds: who, why, the override and the freezes', () => {
    const args = workflowArgsFor(config, config.pipelines[0]!, {
      ...release,
      source: 'manual',
      by: 'user:oncall@example.com',
      reason: 'hotfix',
      override: { freeze: 'year-end', by: 'user:oncall@example.com', reason: 'hotfix' },
      freezes: [
        {
          name: 'year-end',
          actions: ['release'],
          windows: [{ start: '2026-12-23T23:00:00.000Z', end: '2026-12-26T23:00:00.000Z' }],
        },
      ],
    });
    assert.equal(args.action, 'release');
    assert.equal(args.by, 'user:oncall@example.com');
    assert.deepEqual(args.override, {
      freeze: 'year-end',
      by: 'user:oncall@example.com',
      reason: 'hotfix',
    });
    assert.equal(args.freezes[0]?.windows[0]?.start, '2026-12-23T23:00:00.000000000Z');
    assert.deepEqual(args, workflowArgsSchema.parse(args), 'valid as a whole');
  });

  const bad: { name: string; change: Partial<ReleaseRequest>; error: RegExp }[] = [
    { name: 'tag-only image', change: { image: `${IMG}:main` }, error: /image/ },
    { name: 'short digest', change: { image: `${IMG}@sha256:abc` }, error: /image/ },
    {
      name: 'publishTime not RFC 3339',
      change: { publishTime: 'yesterday' },
      error: /publishTime/,
    },
    { name: 'oversized tag', change: { tag: 'x'.repeat(200) }, error: /tag/ },
    { name: 'by that is not a member', change: { by: 'alice' }, error: /by/ },
    {
      name: 'to on a release',
      change: { to: `sha256:${'e'.repeat(64)}` },
      error: /is for action .{0,2}rollback.{0,2} only/,
    },
  ];
  for (const c of bad) {
    test(`refuses a release with a ${c.name}`, () => {
      assert.throws(
        () => workflowArgsFor(config, config.pipelines[0]!, { ...release, ...c.change }),
        c.error,
      );
    });
  }
});

// --- approval gates, the watch, and freezes (issue 16) ---

const operated = `
project: my-project
region: us-central1
pipelines:
  - name: web
    image: ${IMG}
    staging: { service: web-staging }
    live: { service: web }
    acceptance: { job: web-acceptance }
    promotion:
      strategy: canary
      steps: [10, 50, 100]
      approval:
        before: [live, "100"]
        approvers: [group:release-managers@example.com]
      watchSeconds: 1800
  - name: api
    image: us-docker.pkg.dev/my-project/apps/api
    staging: { service: api-staging }
    live: { service: api }
    acceptance: { job: api-acceptance }
    promotion:
      strategy: direct
      approval: { before: [live], timeoutSeconds: 3600, onTimeout: promote, approvers: [user:a@example.com, domain:example.com] }
  - name: api-eu
    image: us-docker.pkg.dev/my-project/apps/api
    staging: { service: api-eu-staging }
    live: { service: api-eu }
    acceptance: { job: api-eu-acceptance }
freezes:
  - name: year-end
    pipelines: ["*"]
    timeZone: Europe/Paris
    weekly: [{ days: [SAT, SUN], start: "00:00", end: "24:00" }, { days: [FRI], start: "18:00", end: "24:00" }]
    oneTime: [{ start: "2026-12-24T00:00", end: "2026-12-27T00:00" }]
    actions: [release]
    overriders: [user:oncall@example.com]
  - name: api-nights
    pipelines: [api*]
    timeZone: America/New_York
    weekly: [{ days: [MON, TUE, WED, THU, FRI], start: "00:00", end: "06:00" }]
`;

test('approval, watch and freezes parse with their defaults', () => {
  const config = parsePipelineConfig(operated);
  const [web, api, eu] = config.pipelines as ServicePipeline[];
  assert.deepEqual(web?.promotion, {
    strategy: 'canary',
    steps: [10, 50, 100],
    bakeSeconds: 60,
    analysis: null,
    approval: {
      before: ['live', '100'],
      timeoutSeconds: 86_400,
      onTimeout: 'reject',
      approvers: ['group:release-managers@example.com'],
    },
    watchSeconds: 1800,
  });
  assert.deepEqual(api?.promotion, {
    strategy: 'direct',
    approval: {
      before: ['live'],
      timeoutSeconds: 3600,
      onTimeout: 'promote',
      approvers: ['user:a@example.com', 'domain:example.com'],
    },
  });
  assert.deepEqual(eu?.promotion, { strategy: 'direct' }, 'no gate, no watch: absent');
  assert.deepEqual(config.freezes[1], {
    name: 'api-nights',
    pipelines: ['api*'],
    timeZone: 'America/New_York',
    weekly: [{ days: ['MON', 'TUE', 'WED', 'THU', 'FRI'], start: '00:00', end: '06:00' }],
    actions: ['release'],
    overriders: [],
  });
  assert.deepEqual(parsePipelineConfig(base).freezes, [], 'no freezes: an empty list');
});

describe('good freeze and gate settings', () => {
  const cases: { name: string; from: string; to: string }[] = [
    {
      name: 'a 24:00 end',
      from: 'end: "24:00" }, { days: [FRI]',
      to: 'end: "24:00" }, { days: [FRI]',
    },
    {
      name: 'a window to 23:59',
      from: 'start: "18:00", end: "24:00"',
      to: 'start: "18:00", end: "23:59"',
    },
    { name: 'rollback frozen too', from: 'actions: [release]', to: 'actions: [release, rollback]' },
    {
      name: 'a one-time window only',
      from: '    weekly: [{ days: [MON, TUE, WED, THU, FRI], start: "00:00", end: "06:00" }]',
      to: '    oneTime: [{ start: "2026-01-01T22:00", end: "2026-01-02T02:00" }]',
    },
    { name: 'a ? wildcard', from: 'pipelines: [api*]', to: 'pipelines: ["we?"]' },
    { name: 'a name and a pattern', from: 'pipelines: [api*]', to: 'pipelines: [web, "api-*"]' },
    {
      name: 'a zone with a :30 offset',
      from: 'timeZone: America/New_York',
      to: 'timeZone: Asia/Kolkata',
    },
    {
      name: 'a serviceAccount approver',
      from: 'user:a@example.com',
      to: 'serviceAccount:ci@my-project.iam.gserviceaccount.com',
    },
    { name: 'a leap day', from: '2026-12-27T00:00', to: '2028-02-29T00:00' },
    {
      name: 'an unquoted time (YAML 1.2 reads 18:00 as text, not sexagesimal)',
      from: 'start: "18:00"',
      to: 'start: 18:00',
    },
    { name: 'a year-long timeout', from: 'timeoutSeconds: 3600', to: 'timeoutSeconds: 31536000' },
    { name: 'a minute-long watch', from: 'watchSeconds: 1800', to: 'watchSeconds: 60' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.ok(operated.includes(c.from), `fixture has ${c.from}`);
      parsePipelineConfig(operated.replace(c.from, c.to));
    });
  }
});

describe('bad freeze and gate settings are refused naming the path', () => {
  const cases: { name: string; from: string; to: string; want: RegExp }[] = [
    {
      name: 'gate before 100 on a direct promotion',
      from: 'before: [live], timeoutSeconds',
      to: 'before: [live, "100"], timeoutSeconds',
      want: /^runway\.yaml: pipelines\[1\]\.promotion\.approval\.before\[1\]: "100" is a gate before a canary's last step; a direct promotion has only "live"$/,
    },
    {
      name: 'no gate point',
      from: 'before: [live, "100"]',
      to: 'before: []',
      want: /pipelines\[0\]\.promotion\.approval\.before: name at least one gate/,
    },
    {
      name: 'a gate point twice',
      from: 'before: [live, "100"]',
      to: 'before: [live, live]',
      want: /pipelines\[0\]\.promotion\.approval\.before\[1\]: "live" is listed twice/,
    },
    {
      name: 'an unknown gate point',
      from: 'before: [live, "100"]',
      to: 'before: [live, "50"]',
      want: /pipelines\[0\]\.promotion\.approval\.before\[1\]: must be "live" or "100"/,
    },
    {
      name: 'gate point 100 as a number',
      from: 'before: [live, "100"]',
      to: 'before: [live, 100]',
      want: /pipelines\[0\]\.promotion\.approval\.before\[1\]: must be "live" or "100"/,
    },
    {
      name: 'no approvers',
      from: 'approvers: [group:release-managers@example.com]',
      to: 'approvers: []',
      want: /pipelines\[0\]\.promotion\.approval\.approvers: name at least one approver/,
    },
    {
      name: 'approvers missing',
      from: '\n        approvers: [group:release-managers@example.com]',
      to: '',
      want: /pipelines\[0\]\.promotion\.approval\.approvers: /,
    },
    {
      name: 'an approver without a kind',
      from: 'group:release-managers@example.com',
      to: 'release-managers@example.com',
      want: /pipelines\[0\]\.promotion\.approval\.approvers\[0\]: an IAM member is user:EMAIL/,
    },
    {
      name: 'a user approver without an email',
      from: 'user:a@example.com',
      to: 'user:alice',
      want: /pipelines\[1\]\.promotion\.approval\.approvers\[0\]: an IAM member/,
    },
    {
      name: 'allUsers is not an approver',
      from: 'user:a@example.com',
      to: 'allUsers',
      want: /pipelines\[1\]\.promotion\.approval\.approvers\[0\]: an IAM member/,
    },
    {
      name: 'gate timeout under a minute',
      from: 'timeoutSeconds: 3600',
      to: 'timeoutSeconds: 59',
      want: /pipelines\[1\]\.promotion\.approval\.timeoutSeconds: must be 60\.\.31536000/,
    },
    {
      name: 'gate timeout over a year',
      from: 'timeoutSeconds: 3600',
      to: 'timeoutSeconds: 31536001',
      want: /pipelines\[1\]\.promotion\.approval\.timeoutSeconds: must be 60\.\.31536000/,
    },
    {
      name: 'unknown onTimeout',
      from: 'onTimeout: promote',
      to: 'onTimeout: wait',
      want: /pipelines\[1\]\.promotion\.approval\.onTimeout: must be "reject" or "promote"/,
    },
    {
      name: 'unknown approval key',
      from: 'onTimeout: promote',
      to: 'onTimeout: promote, timeout: 5',
      want: /pipelines\[1\]\.promotion\.approval: .*timeout/,
    },
    {
      name: 'watch too short',
      from: 'watchSeconds: 1800',
      to: 'watchSeconds: 30',
      want: /pipelines\[0\]\.promotion\.watchSeconds: must be 60\.\.86400 seconds/,
    },
    {
      name: 'watch over a day',
      from: 'watchSeconds: 1800',
      to: 'watchSeconds: 86401',
      want: /pipelines\[0\]\.promotion\.watchSeconds: must be 60\.\.86400 seconds/,
    },
    {
      name: 'fractional watch',
      from: 'watchSeconds: 1800',
      to: 'watchSeconds: 90.5',
      want: /pipelines\[0\]\.promotion\.watchSeconds: must be a whole number/,
    },
    {
      name: 'duplicate freeze name',
      from: 'name: api-nights',
      to: 'name: year-end',
      want: /freezes\[1\]\.name: freeze year-end is already used by freezes\[0\]/,
    },
    {
      name: 'freeze name not a name',
      from: 'name: api-nights',
      to: 'name: API Nights',
      want: /freezes\[1\]\.name: a freeze name must be lowercase/,
    },
    {
      name: 'a pattern that matches no pipeline',
      from: 'pipelines: [api*]',
      to: 'pipelines: [api*, wbe]',
      want: /^runway\.yaml: freezes\[1\]\.pipelines\[1\]: wbe matches no pipeline$/,
    },
    {
      name: 'a wildcard that matches no pipeline',
      from: 'pipelines: [api*]',
      to: 'pipelines: ["worker-*"]',
      want: /freezes\[1\]\.pipelines\[0\]: worker-\* matches no pipeline/,
    },
    {
      name: 'no pipelines',
      from: 'pipelines: [api*]',
      to: 'pipelines: []',
      want: /freezes\[1\]\.pipelines: name at least one pipeline, or "\*"/,
    },
    {
      name: 'a pattern with a regex',
      from: 'pipelines: [api*]',
      to: 'pipelines: ["api.+"]',
      want: /freezes\[1\]\.pipelines\[0\]: a pipeline pattern/,
    },
    {
      name: 'unknown time zone',
      from: 'timeZone: America/New_York',
      to: 'timeZone: America/Springfield',
      want: /^runway\.yaml: freezes\[1\]\.timeZone: "America\/Springfield" is not an IANA time zone/,
    },
    {
      name: 'an offset is not a zone',
      from: 'timeZone: America/New_York',
      to: 'timeZone: "+01:00"',
      want: /freezes\[1\]\.timeZone: "\+01:00" is not an IANA time zone/,
    },
    {
      name: 'time zone missing',
      from: '    timeZone: America/New_York\n',
      to: '',
      want: /freezes\[1\]\.timeZone: must be an IANA time zone/,
    },
    {
      name: 'no window at all',
      from: '    weekly: [{ days: [MON, TUE, WED, THU, FRI], start: "00:00", end: "06:00" }]\n',
      to: '',
      want: /freezes\[1\]: give at least one weekly or oneTime window/,
    },
    {
      name: 'an empty weekly list',
      from: 'weekly: [{ days: [MON, TUE, WED, THU, FRI], start: "00:00", end: "06:00" }]',
      to: 'weekly: []',
      want: /freezes\[1\]\.weekly: omit weekly, or give a window/,
    },
    {
      name: 'a window across midnight',
      from: '{ days: [FRI], start: "18:00", end: "24:00" }',
      to: '{ days: [FRI], start: "22:00", end: "02:00" }',
      want: /^runway\.yaml: freezes\[0\]\.weekly\[1\]\.end: 02:00 is before start 22:00: a window may not cross midnight; use two windows, 22:00-24:00 and 00:00-02:00/,
    },
    {
      name: 'an empty window',
      from: '{ days: [FRI], start: "18:00", end: "24:00" }',
      to: '{ days: [FRI], start: "18:00", end: "18:00" }',
      want: /freezes\[0\]\.weekly\[1\]\.end: must be after start/,
    },
    {
      name: '24:00 as a start',
      from: '{ days: [FRI], start: "18:00", end: "24:00" }',
      to: '{ days: [FRI], start: "24:00", end: "24:00" }',
      want: /freezes\[0\]\.weekly\[1\]\.start: "24:00" is allowed as an end only/,
    },
    {
      name: 'hour 25',
      from: '{ days: [FRI], start: "18:00", end: "24:00" }',
      to: '{ days: [FRI], start: "18:00", end: "25:00" }',
      want: /freezes\[0\]\.weekly\[1\]\.end: must be a time "HH:MM" \(00:00\.\.23:59, or 24:00\)/,
    },
    {
      name: 'a time without a leading zero',
      from: '{ days: [FRI], start: "18:00", end: "24:00" }',
      to: '{ days: [FRI], start: "9:00", end: "24:00" }',
      want: /freezes\[0\]\.weekly\[1\]\.start: must be a time "HH:MM" \(00:00\.\.23:59\)/,
    },
    {
      name: 'an unknown day',
      from: 'days: [FRI]',
      to: 'days: [FRIDAY]',
      want: /freezes\[0\]\.weekly\[1\]\.days\[0\]: must be one of MON, TUE, WED, THU, FRI, SAT, SUN/,
    },
    {
      name: 'no days',
      from: 'days: [FRI]',
      to: 'days: []',
      want: /freezes\[0\]\.weekly\[1\]\.days: name at least one day/,
    },
    {
      name: 'a day twice',
      from: 'days: [SAT, SUN]',
      to: 'days: [SAT, SAT]',
      want: /freezes\[0\]\.weekly\[0\]\.days\[1\]: SAT is listed twice/,
    },
    {
      name: 'a one-time window ending before it starts',
      from: 'end: "2026-12-27T00:00"',
      to: 'end: "2026-12-23T00:00"',
      want: /^runway\.yaml: freezes\[0\]\.oneTime\[0\]\.end: must be after start$/,
    },
    {
      name: 'a one-time window with an offset',
      from: 'end: "2026-12-27T00:00"',
      to: 'end: "2026-12-27T00:00Z"',
      want: /freezes\[0\]\.oneTime\[0\]\.end: must be a local time "YYYY-MM-DDTHH:MM" \(no seconds, no offset/,
    },
    {
      name: 'a one-time window with seconds',
      from: 'start: "2026-12-24T00:00"',
      to: 'start: "2026-12-24T00:00:00"',
      want: /freezes\[0\]\.oneTime\[0\]\.start: must be a local time/,
    },
    {
      name: 'a day that does not exist',
      from: 'start: "2026-12-24T00:00"',
      to: 'start: "2026-02-29T00:00"',
      want: /freezes\[0\]\.oneTime\[0\]\.start: must be a local time/,
    },
    {
      name: 'a one-time 24:00',
      from: 'end: "2026-12-27T00:00"',
      to: 'end: "2026-12-26T24:00"',
      want: /freezes\[0\]\.oneTime\[0\]\.end: must be a local time/,
    },
    {
      name: 'an unknown action',
      from: 'actions: [release]',
      to: 'actions: [deploy]',
      want: /freezes\[0\]\.actions\[0\]: must be "release" or "rollback"/,
    },
    {
      name: 'no actions',
      from: 'actions: [release]',
      to: 'actions: []',
      want: /freezes\[0\]\.actions: name at least one action/,
    },
    {
      name: 'an overrider that is not an IAM member',
      from: 'overriders: [user:oncall@example.com]',
      to: 'overriders: [oncall@example.com]',
      want: /freezes\[0\]\.overriders\[0\]: an IAM member is/,
    },
    {
      name: 'an unknown freeze key',
      from: 'actions: [release]',
      to: 'actions: [release]\n    reason: holidays',
      want: /freezes\[0\]: .*reason/,
    },
    {
      name: 'freezes not a list',
      from: 'freezes:\n',
      to: 'freezes: 3\nx:\n',
      want: /freezes: /,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.ok(operated.includes(c.from), `fixture has ${c.from}`);
      assert.throws(
        () => parsePipelineConfig(operated.replace(c.from, c.to)),
        (err: Error) => {
          assert.equal(err.name, 'ConfigError');
          assert.match(err.message, c.want);
          return true;
        },
      );
    });
  }
});

const jobs = `
project: my-project
region: us-central1
pipelines:
  - name: etl
    image: us-central1-docker.pkg.dev/my-project/apps/etl
    kind: job
    staging: { job: etl-staging }
    live: { job: etl }
    taskCount: 3
  - name: report
    image: us-central1-docker.pkg.dev/my-project/apps/report
    kind: job
    staging: { job: report-staging }
    live: { job: report }
    acceptance: { job: report-check }
`;

test('job pipelines: kind job, jobs as targets, taskCount 1 and no acceptance by default', () => {
  const [etl, report] = parsePipelineConfig(jobs).pipelines;
  assert.equal(etl?.kind, 'job');
  assert.deepEqual(etl?.staging, { job: 'etl-staging' });
  assert.deepEqual(etl?.live, { job: 'etl' });
  assert.equal(etl?.kind === 'job' && etl.taskCount, 3);
  assert.equal(etl?.acceptance, null);
  assert.equal(report?.kind === 'job' && report.taskCount, 1);
  assert.equal(report?.acceptance?.job, 'report-check');
  assert.equal(parsePipelineConfig(base).pipelines[0]?.kind, 'service', 'kind defaults to service');
});

test('workflowArgsFor a job pipeline: kind, jobs, taskCount, a direct promotion', () => {
  const config = parsePipelineConfig(jobs);
  const args = workflowArgsFor(config, config.pipelines[0]!, {
    image: `us-central1-docker.pkg.dev/my-project/apps/etl@sha256:${HEX}`,
    source: 'pubsub',
  });
  assert.equal(args.kind, 'job');
  assert.deepEqual(args.staging, { job: 'etl-staging' });
  assert.deepEqual(args.live, { job: 'etl' });
  assert.equal(args.taskCount, 3);
  assert.equal(args.acceptance, null);
  assert.deepEqual(args.promotion, { strategy: 'direct' });
  assert.deepEqual(workflowArgsSchema.parse(args), args);
});

describe('bad job pipelines are refused naming the path', () => {
  const cases: { name: string; from: string; to: string; want: RegExp }[] = [
    {
      name: 'a service as a job pipeline staging',
      from: 'staging: { job: etl-staging }',
      to: 'staging: { service: etl-staging }',
      want: /pipelines\[0\]\.staging\.service: a job pipeline \(kind: job\) releases jobs/,
    },
    {
      name: 'a job in a service pipeline',
      from: '    kind: job\n    staging: { job: etl-staging }',
      to: '    staging: { job: etl-staging }',
      want: /pipelines\[0\]\.staging\.job: a job is released by a job pipeline: add kind: job/,
    },
    {
      name: 'an unknown kind',
      from: '    kind: job\n    staging: { job: etl-staging }',
      to: '    kind: function\n    staging: { job: etl-staging }',
      want: /pipelines\[0\]\.kind: kind must be "service", "job" or "workerPool"/,
    },
    {
      name: 'taskCount 0',
      from: 'taskCount: 3',
      to: 'taskCount: 0',
      want: /pipelines\[0\]\.taskCount: must be 1\.\.10000/,
    },
    {
      name: 'taskCount not whole',
      from: 'taskCount: 3',
      to: 'taskCount: 1.5',
      want: /pipelines\[0\]\.taskCount: must be a whole number/,
    },
    {
      name: 'a canary for a job',
      from: 'taskCount: 3',
      to: 'taskCount: 3\n    promotion: { strategy: canary }',
      want: /pipelines\[0\]: Unrecognized key: "promotion"/,
    },
    {
      name: 'the same job for staging and live',
      from: 'live: { job: etl }',
      to: 'live: { job: etl-staging }',
      want: /pipelines\[0\]\.staging\.job: staging and live must be different jobs/,
    },
    {
      name: "another pipeline's live job",
      from: 'live: { job: report }',
      to: 'live: { job: etl }',
      want: /pipelines\[1\]\.live: job us-central1\/etl is already used by pipelines\[0\]/,
    },
    {
      name: 'a bad job name',
      from: 'live: { job: etl }',
      to: 'live: { job: ETL_ }',
      want: /pipelines\[0\]\.live\.job: a Cloud Run job name must be lowercase/,
    },
    {
      name: 'a service pipeline without acceptance',
      from: '    kind: job\n    staging: { job: etl-staging }\n    live: { job: etl }\n    taskCount: 3',
      to: '    staging: { service: etl-staging }\n    live: { service: etl }',
      want: /pipelines\[0\]\.acceptance: /,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.ok(jobs.includes(c.from), `fixture has ${c.from}`);
      assert.throws(
        () => parsePipelineConfig(jobs.replace(c.from, c.to)),
        (err: Error) => {
          assert.equal(err.name, 'ConfigError');
          assert.match(err.message, c.want);
          return true;
        },
      );
    });
  }
});

const pools = `
project: my-project
region: us-central1
pipelines:
  - name: queue
    image: us-central1-docker.pkg.dev/my-project/apps/queue
    kind: workerPool
    staging: { workerPool: queue-staging }
    live: { workerPool: queue }
    acceptance: { job: queue-check }
    promotion: { strategy: canary, steps: [25, 100], bakeSeconds: 30 }
  - name: mailer
    image: us-central1-docker.pkg.dev/my-project/apps/mailer
    kind: workerPool
    staging: { workerPool: mailer-staging }
    live: { workerPool: mailer }
`;

test('worker pool pipelines: kind workerPool, pools as targets, acceptance optional, direct by default', () => {
  const [queue, mailer] = parsePipelineConfig(pools).pipelines;
  assert.equal(queue?.kind, 'workerPool');
  assert.deepEqual(queue?.staging, { workerPool: 'queue-staging' });
  assert.deepEqual(queue?.live, { workerPool: 'queue' });
  assert.equal(queue?.acceptance?.job, 'queue-check');
  assert.deepEqual(queue?.kind === 'workerPool' && queue.promotion, {
    strategy: 'canary',
    steps: [25, 100],
    bakeSeconds: 30,
    analysis: null,
  });
  assert.equal(mailer?.acceptance, null);
  assert.deepEqual(mailer?.kind === 'workerPool' && mailer.promotion, { strategy: 'direct' });
});

test('workflowArgsFor a worker pool pipeline: kind, pools, the canary', () => {
  const config = parsePipelineConfig(pools);
  const args = workflowArgsFor(config, config.pipelines[0]!, {
    image: `us-central1-docker.pkg.dev/my-project/apps/queue@sha256:${HEX}`,
    source: 'pubsub',
  });
  assert.equal(args.kind, 'workerPool');
  assert.deepEqual(args.staging, { workerPool: 'queue-staging' });
  assert.deepEqual(args.live, { workerPool: 'queue' });
  assert.equal(args.promotion.strategy, 'canary');
  assert.deepEqual(workflowArgsSchema.parse(args), args);
});

describe('bad worker pool pipelines are refused naming the path', () => {
  const cases: { name: string; from: string; to: string; want: RegExp }[] = [
    {
      name: 'a service as a worker pool pipeline staging',
      from: 'staging: { workerPool: queue-staging }',
      to: 'staging: { service: queue-staging }',
      want: /pipelines\[0\]\.staging\.service: a worker pool pipeline \(kind: workerPool\) releases worker pools/,
    },
    {
      name: 'a worker pool in a service pipeline',
      from: '    kind: workerPool\n    staging: { workerPool: queue-staging }',
      to: '    staging: { workerPool: queue-staging }',
      want: /pipelines\[0\]\.staging\.workerPool: a worker pool is released by a worker pool pipeline: add kind: workerPool/,
    },
    {
      name: 'a worker pool in a job pipeline',
      from: '    kind: workerPool\n    staging: { workerPool: queue-staging }',
      to: '    kind: job\n    staging: { workerPool: queue-staging }',
      want: /pipelines\[0\]\.staging\.workerPool: a job pipeline \(kind: job\) releases jobs/,
    },
    {
      name: 'an analysis for a worker pool canary',
      from: 'bakeSeconds: 30 }',
      to: 'bakeSeconds: 30, health: { maxErrorRatio: 0.1 } }',
      want: /pipelines\[0\]\.promotion\.health: a worker pool serves no requests/,
    },
    {
      name: 'a watch for a worker pool',
      from: 'bakeSeconds: 30 }',
      to: 'bakeSeconds: 30, watchSeconds: 600 }',
      want: /pipelines\[0\]\.promotion\.watchSeconds: is for service pipelines/,
    },
    {
      name: 'regions for a worker pool',
      from: 'live: { workerPool: queue }',
      to: 'live: { workerPool: queue, regions: [us-central1] }',
      want: /pipelines\[0\]\.live\.regions: a worker pool pipeline \(kind: workerPool\) releases in the pipeline region only/,
    },
    {
      name: 'taskCount for a worker pool',
      from: '    live: { workerPool: mailer }',
      to: '    live: { workerPool: mailer }\n    taskCount: 2',
      want: /pipelines\[1\]: Unrecognized key: "taskCount"/,
    },
    {
      name: 'the same worker pool for staging and live',
      from: 'live: { workerPool: queue }',
      to: 'live: { workerPool: queue-staging }',
      want: /pipelines\[0\]\.staging\.workerPool: staging and live must be different worker pools/,
    },
    {
      name: "another pipeline's live worker pool",
      from: 'live: { workerPool: mailer }',
      to: 'live: { workerPool: queue }',
      want: /pipelines\[1\]\.live: worker pool us-central1\/queue is already used by pipelines\[0\]/,
    },
    {
      name: 'a bad worker pool name',
      from: 'live: { workerPool: queue }',
      to: 'live: { workerPool: Queue_ }',
      want: /pipelines\[0\]\.live\.workerPool: a Cloud Run worker pool name must be lowercase/,
    },
    {
      name: 'an unknown kind names workerPool',
      from: '    kind: workerPool\n    staging: { workerPool: queue-staging }',
      to: '    kind: pool\n    staging: { workerPool: queue-staging }',
      want: /pipelines\[0\]\.kind: kind must be "service", "job" or "workerPool"/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.ok(pools.includes(c.from), `fixture has ${c.from}`);
      assert.throws(
        () => parsePipelineConfig(pools.replace(c.from, c.to)),
        (err: Error) => {
          assert.equal(err.name, 'ConfigError');
          assert.match(err.message, c.want);
          return true;
        },
      );
    });
  }
});

// Issue 19: a service pipeline may release to several regions.
const regional = `
project: my-project
region: us-central1
pipelines:
  - name: web
    image: ${IMG}
    staging: { service: web-staging }
    live: { service: web, regions: [us-central1, europe-west1, asia-east1] }
    acceptance: { job: web-acceptance }
    promotion: { strategy: canary, regions: { concurrency: 1, onFailure: stop } }
  - name: etl
    kind: job
    image: us-docker.pkg.dev/my-project/apps/etl
    staging: { job: etl-staging }
    live: { job: etl }
`;

describe('good multi-region pipelines', () => {
  const image = `${IMG}@sha256:${HEX}`;
  const cases: {
    name: string;
    from: string;
    to: string;
    staging: unknown;
    live: unknown;
    regions: unknown;
  }[] = [
    {
      name: 'live in three regions, one wave at a time, stop on failure',
      from: '',
      to: '',
      staging: { service: 'web-staging' },
      live: { service: 'web', regions: ['us-central1', 'europe-west1', 'asia-east1'] },
      regions: { concurrency: 1, onFailure: 'stop' },
    },
    {
      name: 'promotion.regions omitted: every region at once, rollback-all',
      from: 'promotion: { strategy: canary, regions: { concurrency: 1, onFailure: stop } }',
      to: 'promotion: { strategy: canary }',
      staging: { service: 'web-staging' },
      live: { service: 'web', regions: ['us-central1', 'europe-west1', 'asia-east1'] },
      regions: { concurrency: 3, onFailure: 'rollback-all' },
    },
    {
      name: 'only onFailure given: concurrency is every region',
      from: 'regions: { concurrency: 1, onFailure: stop }',
      to: 'regions: { onFailure: stop }',
      staging: { service: 'web-staging' },
      live: { service: 'web', regions: ['us-central1', 'europe-west1', 'asia-east1'] },
      regions: { concurrency: 3, onFailure: 'stop' },
    },
    {
      name: 'a direct promotion with concurrency 2',
      from: 'promotion: { strategy: canary, regions: { concurrency: 1, onFailure: stop } }',
      to: 'promotion: { strategy: direct, regions: { concurrency: 2 } }',
      staging: { service: 'web-staging' },
      live: { service: 'web', regions: ['us-central1', 'europe-west1', 'asia-east1'] },
      regions: { concurrency: 2, onFailure: 'rollback-all' },
    },
    {
      name: 'staging names its own regions',
      from: 'staging: { service: web-staging }',
      to: 'staging: { service: web-staging, regions: [us-central1, europe-west1] }',
      staging: { service: 'web-staging', regions: ['us-central1', 'europe-west1'] },
      live: { service: 'web', regions: ['us-central1', 'europe-west1', 'asia-east1'] },
      regions: { concurrency: 1, onFailure: 'stop' },
    },
    {
      name: 'one region named',
      from: 'regions: [us-central1, europe-west1, asia-east1]',
      to: 'regions: [europe-west1]',
      staging: { service: 'web-staging' },
      live: { service: 'web', regions: ['europe-west1'] },
      regions: { concurrency: 1, onFailure: 'stop' },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.ok(regional.includes(c.from), `fixture has ${c.from}`);
      const config = parsePipelineConfig(regional.replace(c.from, c.to));
      const web = config.pipelines[0] as ServicePipeline;
      assert.equal(web.region, 'us-central1', 'staging stays in the pipeline region');
      const args = workflowArgsFor(config, web, { image, source: 'pubsub' });
      assert.deepEqual(args.staging, c.staging);
      assert.deepEqual(args.live, c.live);
      assert.deepEqual(args.promotion.regions, c.regions);
      assert.deepEqual(workflowArgsSchema.parse(args), args);
    });
  }

  test('a pipeline without regions has no promotion.regions', () => {
    const config = parsePipelineConfig(base);
    const args = workflowArgsFor(config, config.pipelines[0]!, { image, source: 'pubsub' });
    assert.deepEqual(args.live, { service: 'web' });
    assert.equal(args.promotion.regions, undefined);
  });
});

describe('bad multi-region pipelines are refused naming the path', () => {
  const cases: { name: string; from: string; to: string; want: RegExp }[] = [
    {
      name: 'a region listed twice',
      from: 'regions: [us-central1, europe-west1, asia-east1]',
      to: 'regions: [us-central1, europe-west1, us-central1]',
      want: /pipelines\[0\]\.live\.regions\[2\]: us-central1 is listed twice/,
    },
    {
      name: 'a malformed region',
      from: 'regions: [us-central1, europe-west1, asia-east1]',
      to: 'regions: [us-central1, Europe_West1]',
      want: /pipelines\[0\]\.live\.regions\[1\]: a region looks like us-central1/,
    },
    {
      name: 'a region that is not a string',
      from: 'regions: [us-central1, europe-west1, asia-east1]',
      to: 'regions: [us-central1, 7]',
      want: /pipelines\[0\]\.live\.regions\[1\]: a region must be a string/,
    },
    {
      name: 'regions not a list',
      from: 'regions: [us-central1, europe-west1, asia-east1]',
      to: 'regions: us-central1',
      want: /pipelines\[0\]\.live\.regions: must be a list of regions/,
    },
    {
      name: 'an empty list of regions',
      from: 'regions: [us-central1, europe-west1, asia-east1]',
      to: 'regions: []',
      want: /pipelines\[0\]\.live\.regions: name at least one region/,
    },
    {
      name: 'a malformed staging region',
      from: 'staging: { service: web-staging }',
      to: 'staging: { service: web-staging, regions: [mars] }',
      want: /pipelines\[0\]\.staging\.regions\[0\]: a region looks like us-central1/,
    },
    {
      name: 'concurrency above the number of regions',
      from: 'concurrency: 1',
      to: 'concurrency: 4',
      want: /pipelines\[0\]\.promotion\.regions\.concurrency: must be 1\.\.3 \(the number of live\.regions\)/,
    },
    {
      name: 'an approval gate with several live regions',
      from: 'regions: { concurrency: 1, onFailure: stop } }',
      to: 'regions: { concurrency: 1, onFailure: stop }, approval: { before: [live], approvers: [user:a@example.com] } }',
      want: /pipelines\[0\]\.promotion\.approval: is not supported with several live\.regions/,
    },
    {
      name: 'concurrency 0',
      from: 'concurrency: 1',
      to: 'concurrency: 0',
      want: /pipelines\[0\]\.promotion\.regions\.concurrency: must be at least 1/,
    },
    {
      name: 'concurrency not whole',
      from: 'concurrency: 1',
      to: 'concurrency: 1.5',
      want: /pipelines\[0\]\.promotion\.regions\.concurrency: must be a whole number/,
    },
    {
      name: 'an unknown onFailure',
      from: 'onFailure: stop',
      to: 'onFailure: rollback-some',
      want: /pipelines\[0\]\.promotion\.regions\.onFailure: must be "rollback-all" or "stop"/,
    },
    {
      name: 'an unknown key in promotion.regions',
      from: 'onFailure: stop',
      to: 'onFailure: stop, parallel: true',
      want: /pipelines\[0\]\.promotion\.regions: Unrecognized key: "parallel"/,
    },
    {
      name: 'promotion.regions without live.regions',
      from: 'live: { service: web, regions: [us-central1, europe-west1, asia-east1] }',
      to: 'live: { service: web }',
      want: /pipelines\[0\]\.promotion\.regions: says how to move through several regions: name them in live\.regions/,
    },
    {
      name: 'regions on a job pipeline',
      from: 'live: { job: etl }',
      to: 'live: { job: etl, regions: [us-central1, europe-west1] }',
      want: /pipelines\[1\]\.live\.regions: a job pipeline \(kind: job\) releases in the pipeline region only/,
    },
    {
      name: "another pipeline's live service in one of its regions",
      from: '  - name: etl',
      to: `  - name: web-eu\n    image: ${IMG}\n    region: europe-west1\n    staging: { service: web-eu-staging }\n    live: { service: web }\n    acceptance: { job: web-acceptance }\n  - name: etl`,
      want: /pipelines\[1\]\.live: service europe-west1\/web is already used by pipelines\[0\]/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.ok(regional.includes(c.from), `fixture has ${c.from}`);
      assert.throws(
        () => parsePipelineConfig(regional.replace(c.from, c.to)),
        (err: Error) => {
          assert.equal(err.name, 'ConfigError');
          assert.match(err.message, c.want);
          return true;
        },
      );
    });
  }
});
