// `runway status`: live's annotations turned into each pipeline's release state (a gate, a hold,
// the freezes in force), the waiting release marked, and the lines that say who or what it waits for.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { policyGate } from '../../local/iam/caller.ts';
import { Policy } from '../../local/iam/policy.ts';
import { type LocalIssuer, startIssuer } from '../../local/identity/issuer.ts';
import { type LocalRun, startLocalRun } from '../../local/run/index.ts';
import { type ExecutionsServer, startExecutionsServer } from '../../local/workflows/api/server.ts';
import {
  activeFreezesOf,
  type JobStatus,
  jobStatus,
  type PipelineRef,
  type PipelineStatus,
  pipelineStatuses,
  regionsToRead,
  type ReleaseStatus,
  renderJobPipelines,
  renderStatus,
  renderWaits,
  type ServiceStatus,
  statusCommand,
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

// `--as` against a local stack with IAM on: the CLI calls with the member's own access token from
// the stack's issuer, so the stack's IAM checks them, not the local user.
describe('runway status --as, against a stack with IAM on', () => {
  let dir: string;
  let issuer: LocalIssuer;
  let run: LocalRun;
  let workflows: ExecutionsServer;
  const P = 'projects/local-project';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runway-status-as-'));
    issuer = await startIssuer();
    const policy = new Policy(
      [
        { principal: 'user:developer@local', role: 'roles/owner', resource: P },
        { principal: 'user:viewer@example.com', role: 'roles/viewer', resource: P },
      ],
      { project: 'local-project' },
    );
    const gate = policyGate({ policy, issuer: issuer.issuer, localUser: 'user:developer@local' });
    run = await startLocalRun({
      project: 'local-project',
      region: 'us-central1',
      images: { resolve: async () => assert.fail('status deploys nothing') },
      gate,
    });
    workflows = await startExecutionsServer({
      project: 'local-project',
      location: 'us-central1',
      gate,
    });
    await mkdir(join(dir, 'home'));
    await writeFile(
      join(dir, 'home', 'stack.json'),
      JSON.stringify({
        run: run.url,
        workflows: workflows.url,
        deployer: 'http://127.0.0.1:9',
        project: 'local-project',
        region: 'us-central1',
        issuer: issuer.url,
        config: join(dir, 'absent.yaml'),
      }),
    );
  });
  after(async () => {
    await Promise.all([run?.close(), workflows?.close()]);
    await issuer?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const cases: {
    name: string;
    argv: string[];
    env?: Record<string, string>;
    code: number;
    stderr?: RegExp;
  }[] = [
    { name: 'the default local user (owner) reads the stack', argv: [], code: 0 },
    {
      name: 'a user without a grant is refused, the permission named',
      argv: ['--as', 'user:nobody@example.com'],
      code: 1,
      stderr:
        /^runway status: PERMISSION_DENIED: Permission '(run\.services|workflows\.executions)\.list' denied on resource '.+' \(or it may not exist\)\.\n$/,
    },
    {
      name: 'RUNWAY_AS: a viewer reads it',
      argv: [],
      env: { RUNWAY_AS: 'user:viewer@example.com' },
      code: 0,
    },
    {
      name: '--as wins over RUNWAY_AS',
      argv: ['--as', 'user:nobody@example.com'],
      env: { RUNWAY_AS: 'user:viewer@example.com' },
      code: 1,
      stderr: /PERMISSION_DENIED/,
    },
    {
      name: 'a service account without a grant is refused too',
      argv: ['--as', 'serviceAccount:runway-app@local-project.iam.gserviceaccount.com'],
      code: 1,
      stderr: /PERMISSION_DENIED: Permission '/,
    },
    {
      name: 'a group holds no token: bad usage',
      argv: ['--as', 'group:ops@example.com'],
      code: 2,
      stderr: /a group holds no token/,
    },
    {
      name: '--as with --project: bad usage',
      argv: ['--project', 'p', '--region', 'r', '--as', 'user:a@b.c'],
      code: 2,
      stderr: /--as is for the local cloud/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      let out = '';
      let err = '';
      const sink = (write: (s: string) => void) =>
        new Writable({
          write(chunk, _e, done) {
            write(String(chunk));
            done();
          },
        });
      const code = await statusCommand(['--home', join(dir, 'home'), ...c.argv], {
        stdout: sink((s) => (out += s)),
        stderr: sink((s) => (err += s)),
        env: { ...(c.env ?? {}) },
        cwd: dir,
        stopSignal: new Promise(() => {}),
      });
      assert.equal(code, c.code, `${err}${out}`);
      if (c.stderr) assert.match(err, c.stderr);
    });
  }
});

// A release that failed on a missing grant: status names the permission, from the failed stage's
// detail or from the execution's error (an HTTP error's body carries Google's message).
describe('renderStatus: why a release failed', () => {
  const DENIED =
    "Permission 'run.services.get' denied on resource 'projects/p/locations/r/services/web' (or it may not exist).";
  const release = (extra: Partial<ReleaseStatus>): ReleaseStatus => ({
    execution: 'e-1',
    state: 'FAILED',
    startTime: '2026-12-02T10:00:00.000Z',
    durationMs: 1000,
    billedSteps: 10,
    result: null,
    error: null,
    stage: null,
    labels: { pipeline: 'web' },
    ...extra,
  });
  const cases: { name: string; release: ReleaseStatus; want: RegExp | null }[] = [
    {
      name: "an HTTP error raised from a connector: the API's message",
      release: release({
        error: JSON.stringify({
          message: 'HTTP server responded with error code 403',
          code: 403,
          tags: ['HttpError'],
          body: { error: { code: 403, status: 'PERMISSION_DENIED', message: DENIED } },
        }),
      }),
      want: /^ {4}error: HTTP server responded with error code 403: Permission 'run\.services\.get' denied on resource 'projects\/p\/locations\/r\/services\/web' \(or it may not exist\)\.$/m,
    },
    {
      name: 'a raised string',
      release: release({ error: JSON.stringify(DENIED) }),
      want: /^ {4}error: Permission 'run\.services\.get' denied/m,
    },
    {
      name: 'a failed stage: its detail',
      release: release({
        state: 'SUCCEEDED',
        result: {
          outcome: 'ROLLED_BACK',
          pipeline: 'web',
          digest: D1,
          stages: [
            {
              name: 'staging',
              start: '2026-12-02T10:00:00.000Z',
              end: '2026-12-02T10:00:01.000Z',
              outcome: 'FAILED',
              detail: `staging revision did not become ready: Permission 'iam.serviceAccounts.actAs' denied on resource 'projects/-/serviceAccounts/app@p.iam.gserviceaccount.com' (or it may not exist).`,
              by: null,
              reason: null,
            },
          ],
        } as unknown as ReleaseStatus['result'],
      }),
      want: /^ {4}staging failed: staging revision did not become ready: Permission 'iam\.serviceAccounts\.actAs' denied/m,
    },
    { name: 'a running release: nothing more', release: release({ state: 'ACTIVE' }), want: null },
  ];
  for (const c of cases)
    test(c.name, () => {
      const text = renderStatus([], [c.release]);
      if (c.want) assert.match(text, c.want);
      else assert.doesNotMatch(text, /error:|failed:/);
    });
});

describe('a pipeline in several regions (live.regions)', () => {
  const pipelines = [
    { name: 'web', live: { service: 'web' } },
    { name: 'global', live: { service: 'global', regions: ['us-central1', 'europe-west1'] } },
  ];
  test('regionsToRead: the target region and every region a pipeline names, once', () => {
    assert.deepEqual(regionsToRead('us-central1', pipelines), ['us-central1', 'europe-west1']);
    assert.deepEqual(regionsToRead('us-central1', [pipelines[0]!]), ['us-central1']);
  });
  test('a row per region, from that region’s live service; a one-region pipeline from the target region', () => {
    const rows = pipelineStatuses(
      pipelines,
      [
        { ...service('web', { 'runway.dev/digest': D1 }), region: 'us-central1' },
        { ...service('web', { 'runway.dev/digest': D2 }), region: 'europe-west1' },
        { ...service('global', { 'runway.dev/digest': D1 }), region: 'us-central1' },
        {
          ...service('global', {
            'runway.dev/digest': D2,
            'runway.dev/claim': JSON.stringify({ digest: D1, execution: 'e-1', at: 1 }),
          }),
          region: 'europe-west1',
        },
      ],
      NOW,
      [],
      [],
      'us-central1',
    );
    assert.deepEqual(
      rows.map((r) => [r.name, r.region ?? null, r.digest, r.running]),
      [
        ['web', null, D1, null],
        ['global', 'us-central1', D1, null],
        ['global', 'europe-west1', D2, 'e-1'],
      ],
    );
  });
  test('a pipeline naming only the target region: read from the one region read', () => {
    const rows = pipelineStatuses(
      [{ name: 'here', live: { service: 'here', regions: ['us-central1'] } }],
      [service('here', { 'runway.dev/digest': D1 })],
      NOW,
      [],
      [],
      'us-central1',
    );
    assert.deepEqual(
      rows.map((r) => [r.region, r.digest]),
      [['us-central1', D1]],
    );
  });
  test('renderStatus names a service’s region when several were read, and a stage’s', () => {
    const text = renderStatus(
      [
        {
          ...service('global', {}),
          region: 'europe-west1',
          revisions: [{ name: 'global-1', percent: 100, tags: [], digest: D1, ready: true }],
        },
      ],
      [],
    );
    assert.match(text, /^europe-west1\/global +global-1 +100%/m);
  });
});
