// POST /reconcile: the domain over fakes, then the route over real sockets through Google's own
// Artifact Registry and Cloud Run clients against a stub speaking their v1 / v2 REST JSON.
import assert from 'node:assert/strict';
import { createSign, generateKeyPairSync } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ArtifactRegistryClient } from '@google-cloud/artifact-registry';
import { JobsClient, ServicesClient } from '@google-cloud/run';
import { localClientOptions } from '../../services/shared/clients.ts';
import { createApp } from '../../services/deployer/app.ts';
import { createVerifier } from '../../services/deployer/auth.ts';
import { artifactRegistry, cloudRun, tagName } from '../../services/deployer/cloud.ts';
import {
  type CloudRun,
  type PipelineReport,
  type Registry,
  reconcile,
  watchedTag,
} from '../../services/deployer/reconcile.ts';
import type { Executions } from '../../services/deployer/release.ts';
import { RunwayError } from '../../services/shared/errors.ts';
import { parseImageRef } from '../../services/shared/image-ref.ts';
import { createLogger, silentLogger } from '../../services/shared/logger.ts';
import { parsePipelineConfig } from '../../services/shared/pipeline-config.ts';
import type { WorkflowArgs } from '../../services/shared/workflow-args.ts';

const PROJECT = 'local-project';
const REGION = 'us-central1';
const REPO = `${REGION}-docker.pkg.dev/${PROJECT}/apps`;
const PUSH_AUD = 'https://deployer.example/pubsub/artifact-registry';
const PUSHER = 'push@local-project.iam.gserviceaccount.com';
const SCHED_AUD = 'https://deployer.example/reconcile';
const SCHEDULER = 'scheduler@local-project.iam.gserviceaccount.com';
const D = (c: string) => `sha256:${c.repeat(64)}`;

const config = parsePipelineConfig(`
project: ${PROJECT}
region: ${REGION}
pipelines:
  - name: web
    image: ${REPO}/web
    tags: [main, "v*"]
    staging: { service: web-staging }
    live: { service: web }
    acceptance: { job: web-acceptance, checks: [{ name: home, request: { path: / } }] }
  - name: api
    image: ${REPO}/team/api
    staging: { service: api-staging }
    live: { service: api }
    acceptance: { job: api-acceptance, taskCount: 2, timeoutSeconds: 120 }
  - name: worker
    image: ${REPO}/worker
    tags: ["v*"]
    staging: { service: worker-staging }
    live: { service: worker }
    acceptance: { job: worker-acceptance }
  - name: etl
    image: ${REPO}/etl
    kind: job
    staging: { job: etl-staging }
    live: { job: etl }
    acceptance: { job: etl-check }
`);

// --- tokens signed by the test's own key, verified with the injected certs ---
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const certs = { k1: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
function token(claims: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${b64({ alg: 'RS256', typ: 'JWT', kid: 'k1' })}.${b64({
    iss: 'https://accounts.google.com',
    aud: SCHED_AUD,
    email: SCHEDULER,
    email_verified: true,
    iat: now,
    exp: now + 600,
    sub: '1',
    ...claims,
  })}`;
  return `${unsigned}.${createSign('RSA-SHA256').update(unsigned).sign(privateKey).toString('base64url')}`;
}

/** Executions that record starts; `active` holds the short digests with a running release. */
function fakeExecutions(active: Set<string> = new Set()) {
  const started: { args: WorkflowArgs; labels: Record<string, string> }[] = [];
  const executions: Executions & { failStart?: boolean } = {
    async start(args, labels) {
      if (executions.failStart) throw new RunwayError('UNAVAILABLE', 'Workflows is unavailable');
      started.push({ args, labels });
      return `projects/${PROJECT}/locations/${REGION}/workflows/runway-release/executions/e${started.length}`;
    },
    async isActive(labels) {
      return active.has(labels.digest!);
    },
  };
  return { executions, started, active };
}

// --- unit: the domain over fakes ---

describe('reconcile over fakes', () => {
  const web = config.pipelines[0]!;
  test('watched tag: first literal filter, latest without filters, none with only wildcards', () => {
    assert.equal(watchedTag(web), 'main');
    assert.equal(watchedTag(config.pipelines[1]!), 'latest');
    assert.equal(watchedTag(config.pipelines[2]!), null);
  });

  type Case = {
    name: string;
    tags?: Record<string, string | Error>;
    live?: Record<string, { digest?: string; uri?: string; refused?: string[] } | Error>;
    /** Live jobs (of job pipelines) by name. */
    liveJobs?: Record<string, { digest?: string; refused?: string[] } | Error>;
    active?: string[];
    failStart?: boolean;
    verify?: boolean;
    job?: (job: string) => { succeeded: boolean; detail?: string } | Error;
    expect: Record<string, Partial<PipelineReport>>;
    starts?: number;
  };
  const cases: Case[] = [
    {
      name: 'in sync',
      tags: { 'web:main': D('a') },
      live: { web: { digest: D('a') } },
      expect: { web: { action: 'in-sync', newestDigest: D('a'), liveDigest: D('a') } },
      starts: 0,
    },
    {
      name: 'differs: a release starts with source reconcile and the tag',
      tags: { 'web:main': D('b') },
      live: { web: { digest: D('a') } },
      expect: { web: { action: 'started', newestDigest: D('b'), liveDigest: D('a') } },
      starts: 1,
    },
    {
      name: 'a digest rolled back, aborted or rejected on live is not released again by itself',
      tags: { 'web:main': D('b') },
      live: { web: { digest: D('a'), refused: [D('9'), D('b')] } },
      expect: { web: { action: 'refused', newestDigest: D('b'), liveDigest: D('a') } },
      starts: 0,
    },
    {
      name: 'another digest refused before: the newest one still releases',
      tags: { 'web:main': D('c') },
      live: { web: { digest: D('a'), refused: [D('b')] } },
      expect: { web: { action: 'started', newestDigest: D('c') } },
      starts: 1,
    },
    {
      name: 'no live service yet: first release',
      tags: { 'team/api:latest': D('c') },
      expect: { api: { action: 'started', liveDigest: null, watchedTag: 'latest' } },
      starts: 1,
    },
    {
      name: 'differs but that digest is running',
      tags: { 'web:main': D('b') },
      live: { web: { digest: D('a') } },
      active: ['bbbbbbbbbbbb'],
      expect: { web: { action: 'running' } },
      starts: 0,
    },
    {
      name: 'no such tag',
      expect: { web: { action: 'no-image', newestDigest: null } },
      starts: 0,
    },
    {
      name: 'only wildcard filters',
      tags: { 'worker:v1': D('d') },
      expect: { worker: { action: 'no-image', watchedTag: null } },
    },
    {
      name: 'registry down for one pipeline only',
      tags: { 'web:main': new Error('connect ECONNREFUSED'), 'team/api:latest': D('c') },
      live: { api: { digest: D('0') } },
      expect: {
        web: {
          action: 'error',
          error: 'reading tag main of ' + `${REPO}/web: connect ECONNREFUSED`,
        },
        api: { action: 'started' },
      },
      starts: 1,
    },
    {
      name: 'Cloud Run down for one pipeline only',
      tags: { 'web:main': D('a'), 'team/api:latest': D('c') },
      live: { web: new Error('HTTP 500'), api: { digest: D('c') } },
      expect: { web: { action: 'error' }, api: { action: 'in-sync' } },
      starts: 0,
    },
    {
      name: 'Workflows unavailable while starting',
      tags: { 'web:main': D('b') },
      failStart: true,
      expect: { web: { action: 'error', error: 'Workflows is unavailable' } },
    },
    {
      name: 'verify: live passes, fails; no live is skipped',
      tags: { 'web:main': D('a'), 'team/api:latest': D('c') },
      live: {
        web: { digest: D('a'), uri: 'https://web.example' },
        api: { digest: D('c'), uri: 'https://api.example' },
      },
      verify: true,
      job: (job) =>
        job === 'web-acceptance' ? { succeeded: true } : { succeeded: false, detail: '1 failed' },
      expect: {
        web: {
          action: 'in-sync',
          verify: {
            outcome: 'passed',
            job: 'web-acceptance',
            execution: 'x/web-acceptance',
            digest: D('a'),
          },
        },
        api: {
          verify: {
            outcome: 'failed',
            job: 'api-acceptance',
            execution: 'x/api-acceptance',
            digest: D('c'),
            detail: '1 failed',
          },
        },
        worker: {
          verify: {
            outcome: 'skipped',
            job: 'worker-acceptance',
            detail: 'live has no URL or no runway digest yet',
          },
        },
      },
    },
    {
      name: "a job pipeline in sync: its live job's digest",
      tags: { 'etl:latest': D('e') },
      live: { etl: { digest: D('0') } },
      liveJobs: { etl: { digest: D('e') } },
      expect: { etl: { action: 'in-sync', newestDigest: D('e'), liveDigest: D('e') } },
      starts: 0,
    },
    {
      name: 'a job pipeline whose live job differs: a job release starts',
      tags: { 'etl:latest': D('f') },
      liveJobs: { etl: { digest: D('e') } },
      expect: { etl: { action: 'started', newestDigest: D('f'), liveDigest: D('e') } },
      starts: 1,
    },
    {
      name: 'a job pipeline before its first release (no live job): first release',
      tags: { 'etl:latest': D('f') },
      expect: { etl: { action: 'started', liveDigest: null } },
      starts: 1,
    },
    {
      name: 'a digest refused on the live job is not released again by itself',
      tags: { 'etl:latest': D('f') },
      liveJobs: { etl: { digest: D('e'), refused: [D('f')] } },
      expect: { etl: { action: 'refused', liveDigest: D('e') } },
      starts: 0,
    },
    {
      name: 'the live job cannot be read',
      tags: { 'etl:latest': D('f') },
      liveJobs: { etl: new Error('HTTP 403') },
      expect: { etl: { action: 'error', error: 'reading live job etl: HTTP 403' } },
      starts: 0,
    },
    {
      name: 'verify: a job pipeline is skipped, its jobs not run',
      tags: { 'etl:latest': D('e') },
      liveJobs: { etl: { digest: D('e') } },
      verify: true,
      expect: {
        etl: {
          action: 'in-sync',
          verify: {
            outcome: 'skipped',
            job: 'etl-check',
            detail: 'a job pipeline is verified when released, not re-run to verify live',
          },
        },
      },
    },
    {
      name: 'verify: the job cannot run',
      tags: { 'web:main': D('a') },
      live: { web: { digest: D('a'), uri: 'https://web.example' } },
      verify: true,
      job: () => new Error('job not found'),
      expect: {
        web: {
          verify: {
            outcome: 'error',
            job: 'web-acceptance',
            digest: D('a'),
            detail: 'running web-acceptance: job not found',
          },
        },
      },
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const { executions, started } = fakeExecutions(new Set(c.active));
      executions.failStart = c.failStart;
      const runs: { job: string; env: { name: string; value: string }[]; taskCount: number }[] = [];
      const registry: Registry = {
        async tagDigest(image, tag) {
          const v = c.tags?.[`${image.image}:${tag}`];
          if (v instanceof Error) throw v;
          return v;
        },
      };
      const run: CloudRun = {
        async getService(project, region, service) {
          assert.deepEqual([project, region], [PROJECT, REGION]);
          const v = c.live?.[service];
          if (v instanceof Error) throw v;
          return v;
        },
        async getJob(project, region, job) {
          assert.deepEqual([project, region], [PROJECT, REGION]);
          const v = c.liveJobs?.[job];
          if (v instanceof Error) throw v;
          return v;
        },
        async runJob(_p, _r, job, o) {
          runs.push({ job, env: o.env, taskCount: o.taskCount });
          const v = c.job?.(job) ?? { succeeded: true };
          if (v instanceof Error) throw v;
          return { execution: `x/${job}`, ...v };
        },
      };
      const reports = await reconcile(
        { config, project: PROJECT, executions, registry, run, log: silentLogger },
        { verify: c.verify === true },
      );
      assert.deepEqual(
        reports.map((r) => r.pipeline),
        ['web', 'api', 'worker', 'etl'],
      );
      for (const [pipeline, want] of Object.entries(c.expect)) {
        const got = reports.find((r) => r.pipeline === pipeline)!;
        for (const [k, v] of Object.entries(want))
          assert.deepEqual(got[k as keyof PipelineReport], v, `${pipeline}.${k}`);
      }
      if (c.starts !== undefined) assert.equal(started.length, c.starts);
      for (const s of started) assert.equal(s.args.source, 'reconcile');
      for (const s of started.filter((x) => x.args.pipeline === 'etl'))
        assert.deepEqual(
          [s.args.kind, s.args.live, s.args.image],
          ['job', { job: 'etl' }, `${REPO}/etl@${D('f')}`],
        );
      assert.ok(!runs.some((r) => r.job.startsWith('etl')), "a job pipeline's jobs are never run");
      if (!c.verify) assert.equal(runs.length, 0, 'no job runs without verify');
      const webRun = runs.find((r) => r.job === 'web-acceptance');
      if (webRun) {
        const env = Object.fromEntries(webRun.env.map((e) => [e.name, e.value]));
        assert.equal(env.TARGET_URL, 'https://web.example');
        assert.equal(env.RUNWAY_PIPELINE, 'web');
        assert.equal(env.RUNWAY_DIGEST, D('a'));
        assert.deepEqual(JSON.parse(env.RUNWAY_CHECKS!), web.acceptance?.checks);
      }
    });
  }
});

// --- integration: the route through Google's clients against a REST stub ---

interface StubState {
  tags: Map<string, string | 'down'>;
  services: Map<string, { digest?: string; uri?: string }>;
  jobs: Map<string, 'pass' | 'fail'>;
  /** Live jobs of job pipelines, by name. */
  liveJobs: Map<string, { digest?: string; refused?: string[] }>;
}

/** Artifact Registry v1 tag reads and Cloud Run v2 service reads and job runs, as Google answers. */
function startStub(state: StubState) {
  const seen: { method: string; url: string; body: unknown }[] = [];
  const err = (res: ServerResponse, code: number, status: string, message: string) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code, status, message } }));
  };
  const json = (res: ServerResponse, body: unknown) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.on('data', (c) => {
      text += c;
    });
    req.on('end', () => {
      const url = req.url ?? '';
      const path = url.split('?')[0]!;
      seen.push({ method: req.method ?? '', url, body: text ? JSON.parse(text) : undefined });
      const tag =
        /^\/v1\/(projects\/[^/]+\/locations\/[^/]+\/repositories\/[^/]+\/packages\/([^/]+)\/tags\/([^/]+))$/.exec(
          path,
        );
      if (req.method === 'GET' && tag) {
        // The resource name holds `team%2Fapi`; on the wire the client encodes it once more.
        const pkg = decodeURIComponent(decodeURIComponent(tag[2]!));
        const v = state.tags.get(`${pkg}:${tag[3]}`);
        if (v === 'down') return err(res, 500, 'INTERNAL', 'the registry is down');
        if (!v) return err(res, 404, 'NOT_FOUND', `Requested entity was not found.`);
        const name = decodeURIComponent(tag[1]!);
        return json(res, { name, version: `${name.replace(/\/tags\/.*$/, '')}/versions/${v}` });
      }
      const svc = /^\/v2\/projects\/[^/]+\/locations\/[^/]+\/services\/([^/]+)$/.exec(path);
      if (req.method === 'GET' && svc) {
        const s = state.services.get(svc[1]!);
        if (!s)
          return err(
            res,
            404,
            'NOT_FOUND',
            `Resource '${svc[1]}' of kind 'SERVICE' was not found.`,
          );
        return json(res, {
          name: path.slice(4),
          ...(s.uri ? { uri: s.uri } : {}),
          annotations: s.digest ? { 'runway.dev/digest': s.digest } : {},
        });
      }
      const liveJob = /^\/v2\/projects\/[^/]+\/locations\/[^/]+\/jobs\/([^/:]+)$/.exec(path);
      if (req.method === 'GET' && liveJob) {
        const j = state.liveJobs.get(liveJob[1]!);
        if (!j)
          return err(
            res,
            404,
            'NOT_FOUND',
            `Resource '${liveJob[1]}' of kind 'JOB' was not found.`,
          );
        return json(res, {
          name: path.slice(4),
          annotations: {
            ...(j.digest ? { 'runway.dev/digest': j.digest } : {}),
            ...(j.refused ? { 'runway.dev/refused': JSON.stringify(j.refused) } : {}),
          },
        });
      }
      const job = /^\/v2\/(projects\/[^/]+\/locations\/[^/]+\/jobs\/([^/:]+)):run$/.exec(path);
      if (req.method === 'POST' && job) {
        const verdict = state.jobs.get(job[2]!);
        if (!verdict) return err(res, 404, 'NOT_FOUND', `job ${job[2]} not found`);
        const execution = {
          '@type': 'type.googleapis.com/google.cloud.run.v2.Execution',
          name: `${job[1]}/executions/${job[2]}-x1`,
          taskCount: 1,
          ...(verdict === 'pass' ? { succeededCount: 1 } : { failedCount: 1 }),
        };
        return json(res, {
          name: `${job[1]}/operations/op1`,
          metadata: execution,
          done: true,
          ...(verdict === 'pass'
            ? { response: execution }
            : {
                error: {
                  code: 9,
                  message: 'Task web-acceptance-x1-task0 failed with exit code 1.',
                },
              }),
        });
      }
      err(res, 404, 'NOT_FOUND', `no route ${req.method} ${path}`);
    });
  });
  return { server, seen };
}

// A pipeline in several regions is in sync only when every region serves the watched digest.
describe('reconcile of a pipeline in several regions', () => {
  test('one region named, not the pipeline region: live is read there', async () => {
    const away = parsePipelineConfig(`
project: ${PROJECT}
region: ${REGION}
pipelines:
  - name: away
    image: ${REPO}/away
    staging: { service: away-staging }
    live: { service: away, regions: [europe-west1] }
    acceptance: { job: away-acceptance }
`);
    const { executions } = fakeExecutions();
    const asked: string[] = [];
    const [report] = await reconcile(
      {
        config: away,
        project: PROJECT,
        executions,
        registry: { tagDigest: async () => D('a') },
        run: {
          async getService(_p, region, service) {
            asked.push(`${region}/${service}`);
            return { digest: D('a') };
          },
          getJob: async () => assert.fail('no job'),
          runJob: async () => assert.fail('no verify'),
        },
        log: silentLogger,
      },
      { verify: false },
    );
    assert.deepEqual(asked, ['europe-west1/away']);
    assert.equal(report?.action, 'in-sync');
  });
  const global = parsePipelineConfig(`
project: ${PROJECT}
region: ${REGION}
pipelines:
  - name: global
    image: ${REPO}/global
    staging: { service: global-staging }
    live: { service: global, regions: [us-central1, europe-west1] }
    acceptance: { job: global-acceptance }
`);
  const cases: {
    name: string;
    live: Record<string, { digest?: string; refused?: string[] } | undefined>;
    want: Partial<PipelineReport>;
    starts: number;
  }[] = [
    {
      name: 'every region on the newest: in sync',
      live: { 'us-central1': { digest: D('a') }, 'europe-west1': { digest: D('a') } },
      want: { action: 'in-sync', liveDigest: D('a') },
      starts: 0,
    },
    {
      name: 'one region behind (a release that stopped): a release brings it up',
      live: { 'us-central1': { digest: D('a') }, 'europe-west1': { digest: D('9') } },
      want: { action: 'started', liveDigest: null },
      starts: 1,
    },
    {
      name: 'a region with no service yet: a release creates it',
      live: { 'us-central1': { digest: D('a') }, 'europe-west1': undefined },
      want: { action: 'started', liveDigest: null },
      starts: 1,
    },
    {
      name: 'the newest refused in one region: not released again by itself',
      live: {
        'us-central1': { digest: D('9') },
        'europe-west1': { digest: D('9'), refused: [D('a')] },
      },
      want: { action: 'refused', liveDigest: D('9') },
      starts: 0,
    },
  ];
  for (const c of cases)
    test(c.name, async () => {
      const { executions, started } = fakeExecutions();
      const asked: string[] = [];
      const [report] = await reconcile(
        {
          config: global,
          project: PROJECT,
          executions,
          registry: { tagDigest: async () => D('a') },
          run: {
            async getService(_p, region, service) {
              asked.push(`${region}/${service}`);
              return c.live[region];
            },
            getJob: async () => assert.fail('no job'),
            runJob: async () => assert.fail('no verify'),
          },
          log: silentLogger,
        },
        { verify: false },
      );
      assert.deepEqual(asked.sort(), ['europe-west1/global', 'us-central1/global']);
      assert.deepEqual({ action: report?.action, liveDigest: report?.liveDigest }, c.want);
      assert.equal(started.length, c.starts);
    });
});

describe('POST /reconcile through Google clients', () => {
  const state: StubState = {
    tags: new Map(),
    services: new Map(),
    jobs: new Map(),
    liveJobs: new Map(),
  };
  const stub = startStub(state);
  const fake = fakeExecutions();
  let app: Server;
  let url = '';
  let clients: { close(): Promise<void> }[] = [];
  const logs: Record<string, unknown>[] = [];

  before(async () => {
    await new Promise<void>((r) => stub.server.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(stub.server.address() as AddressInfo).port}`;
    const ar = new ArtifactRegistryClient(localClientOptions(host));
    const services = new ServicesClient(localClientOptions(host));
    const jobs = new JobsClient(localClientOptions(host));
    clients = [ar, services, jobs];
    app = createApp({
      project: PROJECT,
      pipelines: config,
      push: { audience: PUSH_AUD, serviceAccount: PUSHER },
      scheduler: { audience: SCHED_AUD, serviceAccount: SCHEDULER },
      verifier: createVerifier({ certs }),
      executions: fake.executions,
      registry: artifactRegistry(ar),
      run: cloudRun(services, jobs),
      logger: createLogger({ stream: { write: (l: string) => logs.push(JSON.parse(l)) } }),
    }).listen(0, '127.0.0.1');
    await new Promise((r) => app.once('listening', r));
    url = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  });
  after(async () => {
    app.close();
    stub.server.close();
    await Promise.all(clients.map((c) => c.close()));
  });

  test('the tag name encodes the image path', () => {
    assert.equal(
      tagName(parseImageRef(`${REPO}/team/api`), 'latest'),
      `projects/${PROJECT}/locations/${REGION}/repositories/apps/packages/team%2Fapi/tags/latest`,
    );
  });

  type Case = {
    name: string;
    setup: () => void;
    auth?: string | null;
    body?: string;
    status: number;
    expect?: Record<string, Partial<PipelineReport>>;
    starts?: { pipeline: string; image: string; tag: string }[];
    /** A request the stub must have seen. */
    wire?: RegExp;
  };
  const set = (
    tags: Record<string, string>,
    services: Record<string, { digest?: string; uri?: string }>,
    active: string[] = [],
    liveJobs: Record<string, { digest?: string; refused?: string[] }> = {},
  ) => {
    state.tags = new Map(Object.entries(tags));
    state.services = new Map(Object.entries(services));
    state.liveJobs = new Map(Object.entries(liveJobs));
    state.jobs = new Map([
      ['web-acceptance', 'pass'],
      ['api-acceptance', 'fail'],
    ]);
    fake.active.clear();
    for (const a of active) fake.active.add(a);
  };
  const now = Math.floor(Date.now() / 1000);
  const cases: Case[] = [
    {
      name: 'in sync',
      setup: () => set({ 'web:main': D('a') }, { web: { digest: D('a') } }),
      status: 200,
      expect: { web: { action: 'in-sync', newestDigest: D('a'), liveDigest: D('a') } },
      starts: [],
    },
    {
      name: 'differs: started, nested image path read through %2F',
      setup: () =>
        set({ 'web:main': D('b'), 'team/api:latest': D('c') }, { web: { digest: D('a') } }),
      status: 200,
      expect: {
        web: { action: 'started', newestDigest: D('b'), liveDigest: D('a') },
        api: { action: 'started', newestDigest: D('c'), liveDigest: null },
        worker: { action: 'no-image' },
      },
      wire: /\/packages\/team%252Fapi\/tags\/latest/,
      starts: [
        { pipeline: 'web', image: `${REPO}/web@${D('b')}`, tag: 'main' },
        { pipeline: 'api', image: `${REPO}/team/api@${D('c')}`, tag: 'latest' },
      ],
    },
    {
      name: 'differs but running',
      setup: () => set({ 'web:main': D('b') }, { web: { digest: D('a') } }, ['bbbbbbbbbbbb']),
      status: 200,
      expect: { web: { action: 'running' } },
      starts: [],
    },
    {
      name: 'no tag: no-image',
      setup: () => set({}, { web: { digest: D('a') } }),
      status: 200,
      expect: { web: { action: 'no-image', newestDigest: null, liveDigest: D('a') } },
      starts: [],
    },
    {
      name: 'registry down for one pipeline: error there, the others go on',
      setup: () =>
        set({ 'web:main': 'down', 'team/api:latest': D('c') }, { api: { digest: D('a') } }),
      status: 200,
      expect: { web: { action: 'error' }, api: { action: 'started' } },
      starts: [{ pipeline: 'api', image: `${REPO}/team/api@${D('c')}`, tag: 'latest' }],
    },
    {
      name: 'verify runs the acceptance job against live through the Run client',
      setup: () =>
        set(
          { 'web:main': D('a'), 'team/api:latest': D('c') },
          {
            web: { digest: D('a'), uri: 'https://web.example' },
            api: { digest: D('c'), uri: 'https://api.example' },
          },
        ),
      body: '{"verify": true}',
      status: 200,
      expect: {
        web: {
          action: 'in-sync',
          verify: {
            outcome: 'passed',
            job: 'web-acceptance',
            execution: `projects/${PROJECT}/locations/${REGION}/jobs/web-acceptance/executions/web-acceptance-x1`,
            digest: D('a'),
          },
        },
        api: { action: 'in-sync' },
      },
      starts: [],
    },
    {
      name: "a job pipeline: the live job's annotations read through the Jobs client",
      setup: () =>
        set({ 'etl:latest': D('f'), 'team/api:latest': D('c') }, { api: { digest: D('c') } }, [], {
          etl: { digest: D('e'), refused: [D('9')] },
        }),
      status: 200,
      expect: { etl: { action: 'started', newestDigest: D('f'), liveDigest: D('e') } },
      wire: /^\/v2\/projects\/local-project\/locations\/us-central1\/jobs\/etl(\?|$)/,
      starts: [{ pipeline: 'etl', image: `${REPO}/etl@${D('f')}`, tag: 'latest' }],
    },
    {
      name: 'a job pipeline whose newest digest the live job refused',
      setup: () =>
        set({ 'etl:latest': D('f') }, {}, [], { etl: { digest: D('e'), refused: [D('f')] } }),
      status: 200,
      expect: { etl: { action: 'refused', liveDigest: D('e') } },
      starts: [],
    },
    {
      name: 'a job pipeline with no live job yet: its first release',
      setup: () => set({ 'etl:latest': D('f') }, {}),
      status: 200,
      expect: { etl: { action: 'started', liveDigest: null } },
      starts: [{ pipeline: 'etl', image: `${REPO}/etl@${D('f')}`, tag: 'latest' }],
    },
    { name: 'no token', setup: () => set({}, {}), auth: null, status: 401 },
    { name: 'garbage token', setup: () => set({}, {}), auth: 'Bearer a.b.c', status: 401 },
    {
      name: 'the push audience is not the scheduler audience',
      setup: () => set({}, {}),
      auth: `Bearer ${token({ aud: PUSH_AUD, email: PUSHER })}`,
      status: 401,
    },
    {
      name: 'expired token',
      setup: () => set({}, {}),
      auth: `Bearer ${token({ iat: now - 7200, exp: now - 3600 })}`,
      status: 401,
    },
    {
      name: 'wrong account',
      setup: () => set({}, {}),
      auth: `Bearer ${token({ email: PUSHER })}`,
      status: 403,
    },
    { name: 'non-JSON body', setup: () => set({}, {}), body: 'verify', status: 400 },
    {
      name: 'verify not a boolean',
      setup: () => set({}, {}),
      body: '{"verify":"yes"}',
      status: 400,
    },
    { name: 'unknown key', setup: () => set({}, {}), body: '{"pipelines":["web"]}', status: 400 },
    { name: 'a JSON array', setup: () => set({}, {}), body: '[]', status: 400 },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      c.setup();
      fake.started.length = 0;
      const res = await fetch(`${url}/reconcile`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(c.auth === null ? {} : { authorization: c.auth ?? `Bearer ${token()}` }),
        },
        ...(c.body === undefined ? {} : { body: c.body }),
      });
      const body = (await res.json()) as {
        pipelines?: PipelineReport[];
        error?: { code: number };
      };
      assert.equal(res.status, c.status, JSON.stringify(body));
      if (c.status !== 200) {
        assert.equal(body.error?.code, c.status);
        assert.equal(fake.started.length, 0, 'a refused call starts nothing');
        return;
      }
      for (const [pipeline, want] of Object.entries(c.expect ?? {})) {
        const got = body.pipelines!.find((r) => r.pipeline === pipeline)!;
        for (const [k, v] of Object.entries(want))
          assert.deepEqual(got[k as keyof PipelineReport], v, `${pipeline}.${k}`);
      }
      if (c.wire)
        assert.ok(
          stub.seen.some((s) => c.wire!.test(s.url)),
          `requested ${c.wire}: ${stub.seen.map((s) => s.url).join(' ')}`,
        );
      if (c.starts)
        assert.deepEqual(
          fake.started
            .map((s) => ({ pipeline: s.args.pipeline, image: s.args.image, tag: s.args.tag }))
            .sort((a, b) => a.pipeline.localeCompare(b.pipeline)),
          [...c.starts].sort((a, b) => a.pipeline.localeCompare(b.pipeline)),
        );
    });
  }

  test('the failed acceptance job is reported as failed, with Cloud Run’s message', async () => {
    set({ 'team/api:latest': D('c') }, { api: { digest: D('c'), uri: 'https://api.example' } });
    const res = await fetch(`${url}/reconcile`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' },
      body: '{"verify":true}',
    });
    const { pipelines } = (await res.json()) as { pipelines: PipelineReport[] };
    const api = pipelines.find((p) => p.pipeline === 'api')!;
    assert.equal(api.verify?.outcome, 'failed');
    assert.match(api.verify?.detail ?? '', /exit code 1/);
    const run = stub.seen.find((s) => s.url.includes('api-acceptance:run'))!;
    const overrides = (run.body as { overrides: Record<string, unknown> }).overrides;
    assert.equal(overrides.taskCount, 2);
    assert.equal(overrides.timeout, '120s');
    assert.deepEqual(
      (overrides.containerOverrides as { env: { name: string; value: string }[] }[])[0]!.env,
      [
        { name: 'TARGET_URL', value: 'https://api.example' },
        { name: 'RUNWAY_PIPELINE', value: 'api' },
        { name: 'RUNWAY_DIGEST', value: D('c') },
      ],
    );
  });

  test('the scheduler identity cannot push events', async () => {
    const res = await fetch(`${url}/pubsub/artifact-registry`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(res.status, 401);
  });
});

describe('reconcile access modes', () => {
  const cases = [
    { name: 'disabled without a scheduler identity', scheduler: 'disabled' as const, status: 403 },
    { name: 'open in emulator mode', scheduler: 'unauthenticated' as const, status: 200 },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const server = createApp({
        project: PROJECT,
        pipelines: config,
        push: 'unauthenticated',
        scheduler: c.scheduler,
        verifier: createVerifier({ certs }),
        executions: fakeExecutions().executions,
        registry: { tagDigest: async () => undefined },
        run: {
          getService: async () => undefined,
          getJob: async () => undefined,
          runJob: async () => assert.fail('no verify'),
        },
        logger: silentLogger,
      }).listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      try {
        const res = await fetch(
          `http://127.0.0.1:${(server.address() as AddressInfo).port}/reconcile`,
          // No body, as a scheduler job may send; JSON all the same.
          { method: 'POST', headers: { 'content-type': 'application/json' } },
        );
        assert.equal(res.status, c.status);
      } finally {
        server.close();
      }
    });
  }
});
