import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseImageRef } from './image-ref.ts';
import {
  matchesTag,
  parsePipelineConfig,
  pipelinesFor,
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
  const [web, api] = config.pipelines;
  assert.equal(web?.region, 'us-central1');
  assert.deepEqual(web?.promotion, {
    strategy: 'canary',
    steps: [10, 50, 100],
    bakeSeconds: 30,
    health: null,
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
  assert.equal(args.staging.service, 'web-staging');
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
        staging: pipeline.staging,
        live: pipeline.live,
        acceptance: pipeline.acceptance,
        promotion: pipeline.promotion,
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
    assert.equal(b.staging.service, 'web-staging');
  });

  const bad: { name: string; change: Partial<typeof release>; error: RegExp }[] = [
    { name: 'tag-only image', change: { image: `${IMG}:main` }, error: /image/ },
    { name: 'short digest', change: { image: `${IMG}@sha256:abc` }, error: /image/ },
    {
      name: 'publishTime not RFC 3339',
      change: { publishTime: 'yesterday' },
      error: /publishTime/,
    },
    { name: 'oversized tag', change: { tag: 'x'.repeat(200) }, error: /tag/ },
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
