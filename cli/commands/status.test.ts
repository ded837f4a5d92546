// `runway status`: live's annotations turned into each pipeline's release state (a gate, a hold,
// the freezes in force), the waiting release marked, and the lines that say who or what it waits for.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  activeFreezesOf,
  type JobStatus,
  jobStatus,
  type PipelineRef,
  type PipelineStatus,
  pipelineStatuses,
  type ReleaseStatus,
  renderJobPipelines,
  renderWaits,
  type ServiceStatus,
  withWaits,
} from './status.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const NOW = new Date('2026-12-02T10:00:00Z');
const GATE = {
  execution: 'e-gate',
  url: 'http://127.0.0.1:1/v1/projects/p/locations/r/workflows/w/executions/e-gate/callbacks/c',
  stage: 'promote',
  before: 'live',
  digest: D2,
  deadline: '2026-12-03T10:00:00Z',
  approvers: ['user:alice@example.com'],
};
const HELD = {
  execution: 'e-held',
  freeze: 'year-end',
  until: '2026-12-27T00:00:00Z',
  before: '50',
};

const service = (name: string, annotations: Record<string, string>): ServiceStatus => ({
  name,
  uri: '',
  ready: true,
  revisions: [],
  annotations,
});

const job = (name: string, annotations: Record<string, string>): JobStatus => ({
  name,
  image: null,
  latestExecution: null,
  annotations,
});

describe('pipelineStatuses: live annotations as release state', () => {
  const config: PipelineRef[] = [{ name: 'web', live: { service: 'web' } }];
  const jobConfig: PipelineRef[] = [{ name: 'etl', live: { job: 'etl' } }];
  const cases: {
    name: string;
    pipelines: PipelineRef[] | null;
    services: ServiceStatus[];
    jobs?: JobStatus[];
    want: Partial<PipelineStatus>[];
  }[] = [
    {
      name: 'nothing running: digests, no waits, no freezes',
      pipelines: config,
      services: [
        service('web', {
          'runway.dev/digest': D2,
          'runway.dev/previous': D1,
          'runway.dev/refused': JSON.stringify([D1]),
        }),
      ],
      want: [
        {
          name: 'web',
          kind: 'service',
          live: 'web',
          digest: D2,
          candidate: null,
          lastFailed: D1,
          previous: D1,
          refused: [D1],
          running: null,
          gate: null,
          held: null,
          freezes: [],
        },
      ],
    },
    {
      name: 'a release waiting at a gate',
      pipelines: config,
      services: [
        service('web', {
          'runway.dev/digest': D1,
          'runway.dev/claim': JSON.stringify({ digest: D2, execution: 'e-gate', at: 1 }),
          'runway.dev/gate': JSON.stringify(GATE),
        }),
      ],
      want: [
        {
          running: 'e-gate',
          gate: {
            execution: 'e-gate',
            stage: 'promote',
            before: 'live',
            deadline: GATE.deadline,
            url: GATE.url,
            approvers: GATE.approvers,
          },
          held: null,
          freezes: [],
        },
      ],
    },
    {
      name: 'a release held by a freeze: the freeze is in force',
      pipelines: config,
      services: [service('web', { 'runway.dev/held': JSON.stringify(HELD) })],
      want: [
        {
          running: 'e-held',
          held: HELD,
          freezes: [{ name: 'year-end', until: '2026-12-27T00:00:00Z' }],
        },
      ],
    },
    {
      name: 'an annotation that does not parse reads as absent',
      pipelines: config,
      services: [service('web', { 'runway.dev/gate': '{not json', 'runway.dev/refused': '"x"' })],
      want: [{ gate: null, refused: [] }],
    },
    {
      name: 'no live service yet',
      pipelines: config,
      services: [],
      want: [{ name: 'web', digest: null, gate: null }],
    },
    {
      name: 'without runway.yaml: each service with runway state, by its name',
      pipelines: null,
      services: [service('web', { 'runway.dev/digest': D1 }), service('web-staging', {})],
      want: [{ name: 'web', live: 'web', digest: D1 }],
    },
    {
      name: "a job pipeline: its live job's digest, not a service's of the same name",
      pipelines: jobConfig,
      services: [service('etl', { 'runway.dev/digest': D1 })],
      jobs: [
        job('etl', {
          'runway.dev/digest': D2,
          'runway.dev/previous': D1,
          'runway.dev/refused': JSON.stringify([D1, D2]),
        }),
        job('etl-staging', { 'runway.dev/digest': D1 }),
      ],
      want: [
        {
          name: 'etl',
          kind: 'job',
          live: 'etl',
          digest: D2,
          previous: D1,
          candidate: null,
          lastFailed: D2,
          running: null,
          gate: null,
          held: null,
        },
      ],
    },
    {
      name: 'a job pipeline with a release running: its claim names the execution and the digest',
      pipelines: jobConfig,
      services: [],
      jobs: [
        job('etl', {
          'runway.dev/digest': D1,
          'runway.dev/claim': JSON.stringify({ digest: D2, execution: 'e-job', at: 1 }),
        }),
      ],
      want: [{ kind: 'job', digest: D1, running: 'e-job', candidate: D2, lastFailed: null }],
    },
    {
      name: 'a job pipeline before its first release: no live job',
      pipelines: jobConfig,
      services: [],
      jobs: [],
      want: [{ name: 'etl', kind: 'job', digest: null, running: null }],
    },
    {
      name: 'without runway.yaml: jobs with runway state are pipelines too',
      pipelines: null,
      services: [service('web', { 'runway.dev/digest': D1 })],
      jobs: [job('etl', { 'runway.dev/digest': D2 }), job('other', {})],
      want: [
        { name: 'web', kind: 'service', digest: D1 },
        { name: 'etl', kind: 'job', live: 'etl', digest: D2 },
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = pipelineStatuses(c.pipelines, c.services, NOW, [], c.jobs ?? []);
      assert.equal(got.length, c.want.length);
      c.want.forEach((w, i) => {
        for (const [k, v] of Object.entries(w))
          assert.deepEqual(got[i]![k as keyof PipelineStatus], v, k);
      });
    });
  }
});

describe('activeFreezesOf: a hold is a freeze in force until it ends', () => {
  const cases = [
    { name: 'no hold', held: null, want: [] },
    { name: 'a hold', held: HELD, want: [{ name: 'year-end', until: HELD.until }] },
    { name: 'a hold past its end', held: { ...HELD, until: '2026-12-01T00:00:00Z' }, want: [] },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(activeFreezesOf(c.held, NOW), c.want));
});

test('withWaits: the release at the gate carries it, the held one its freeze, others neither', () => {
  const release = (execution: string): ReleaseStatus => ({
    execution,
    state: 'ACTIVE',
    startTime: null,
    durationMs: null,
    billedSteps: null,
    result: null,
    error: null,
    stage: 'gate',
    labels: {},
  });
  const pipelines = pipelineStatuses(
    [
      { name: 'web', live: { service: 'web' } },
      { name: 'api', live: { service: 'api' } },
    ],
    [
      service('web', { 'runway.dev/gate': JSON.stringify(GATE) }),
      service('api', { 'runway.dev/held': JSON.stringify(HELD) }),
    ],
    NOW,
  );
  const got = withWaits([release('e-gate'), release('e-held'), release('e-other')], pipelines);
  assert.deepEqual(
    got.map((r) => [r.execution, r.gate, r.held]),
    [
      [
        'e-gate',
        {
          stage: 'promote',
          before: 'live',
          deadline: GATE.deadline,
          url: GATE.url,
          approvers: GATE.approvers,
        },
        null,
      ],
      ['e-held', null, { freeze: 'year-end', until: HELD.until, before: '50' }],
      ['e-other', null, null],
    ],
  );
  assert.deepEqual(renderWaits(pipelines), [
    'web: release e-gate awaits approval before live traffic moves (stage promote) until 2026-12-03T10:00:00Z; approvers: user:alice@example.com; answer with `runway approve web` or `runway reject web`',
    'api: release e-held is held by the freeze year-end until 2026-12-27T00:00:00Z, before 50%; live keeps its traffic split until then',
  ]);
});

test('renderJobPipelines: one row per job pipeline, none for services', () => {
  const pipelines = pipelineStatuses(
    [
      { name: 'web', live: { service: 'web' } },
      { name: 'etl', live: { job: 'etl' } },
      { name: 'nightly', live: { job: 'nightly' } },
    ],
    [service('web', { 'runway.dev/digest': D1 })],
    NOW,
    [],
    [
      job('etl', {
        'runway.dev/digest': D1,
        'runway.dev/claim': JSON.stringify({ digest: D2, execution: 'e-job-0123456789', at: 1 }),
        'runway.dev/refused': JSON.stringify([D2]),
      }),
    ],
  );
  assert.equal(
    renderJobPipelines(pipelines),
    [
      'JOB PIPELINE  LIVE JOB  DIGEST        RUNNING (DIGEST)             LAST FAILED',
      'etl           etl       111111111111  e-job-012345 (222222222222)  222222222222',
      'nightly       nightly   -             -                            -',
    ].join('\n'),
  );
  assert.equal(renderJobPipelines(pipelines.filter((p) => p.kind === 'service')), null);
});

test('jobStatus: a Cloud Run job as status reads it, runway annotations only', () => {
  assert.deepEqual(
    jobStatus({
      name: 'projects/p/locations/r/jobs/etl',
      annotations: { 'runway.dev/digest': D1, 'run.googleapis.com/launch-stage': 'GA' },
      template: { template: { containers: [{ image: `img@${D1}` }] } },
      latestCreatedExecution: { name: 'projects/p/locations/r/jobs/etl/executions/etl-abc' },
    }),
    {
      name: 'etl',
      image: `img@${D1}`,
      latestExecution: 'etl-abc',
      annotations: { 'runway.dev/digest': D1 },
    },
  );
  assert.deepEqual(jobStatus({ name: 'projects/p/locations/r/jobs/x' }), {
    name: 'x',
    image: null,
    latestExecution: null,
    annotations: {},
  });
});
