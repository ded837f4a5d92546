// The local Cloud Run through Google's own clients (@google-cloud/run v2, REST mode) and raw HTTP:
// revisions and job tasks are real processes, traffic splits and tags route real requests, and
// bad requests get Google-shaped errors without changing anything.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ExecutionsClient,
  JobsClient,
  protos,
  RevisionsClient,
  ServicesClient,
  TasksClient,
} from '@google-cloud/run';
import { localClientOptions } from '../../services/shared/clients.ts';
import { type LocalRegistry, startLocalRegistry } from '../../local/registry/server.ts';
import { type LocalRun, startLocalRun } from '../../local/run/index.ts';
import { alive } from '../helpers/processes.ts';

// Google's client hands enums back as numbers from operations and as names from reads.
const { State } = protos.google.cloud.run.v2.Condition;
const state = (s: unknown) => (typeof s === 'number' ? State[s] : s);
const SUCCEEDED = 'CONDITION_SUCCEEDED';
const FAILED = 'CONDITION_FAILED';
const PROJECT = 'demo-project';
const REGION = 'us-central1';
const PARENT = `projects/${PROJECT}/locations/${REGION}`;
const APP = new URL('../fixtures/apps/probe/', import.meta.url).pathname;
const IMAGE = `${REGION}-docker.pkg.dev/${PROJECT}/apps/probe`;

interface Probe {
  revision: string;
  service: string;
  configuration: string;
  port: string;
  greeting: string | null;
  pid: number;
}

let root: string;
let registry: LocalRegistry;
let run: LocalRun;
let image: string;
let services: ServicesClient;
let revisions: RevisionsClient;
let jobs: JobsClient;
let executions: ExecutionsClient;
let tasks: TasksClient;
const pids = new Set<number>();

async function probe(url: string): Promise<Probe> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `${url} answered ${res.status}: ${await res.clone().text()}`);
  const body = (await res.json()) as Probe;
  pids.add(body.pid);
  return body;
}

/** Polls `check` until it holds; for states that settle by themselves (process exits, idle timers). */
async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

type Env = { name: string; value: string }[];
const template = (env: Env = [], extra: Record<string, unknown> = {}) => ({
  containers: [{ image, env }],
  ...extra,
});

async function deploy(id: string, env: Env = [], extra: Record<string, unknown> = {}) {
  const [op] = await services.createService({
    parent: PARENT,
    serviceId: id,
    service: { template: template(env, extra) },
  });
  const [svc] = await op.promise();
  return svc;
}

async function update(service: Record<string, unknown>) {
  const [op] = await services.updateService({ service });
  const [svc] = await op.promise();
  return svc;
}

// In REST mode a failed call rejects with the HTTP status as its code, a failed operation with the
// google.rpc code: accept either for the canonical code a case expects.
const CODES = {
  CANCELLED: [1, 499],
  NOT_FOUND: [5, 404],
  ALREADY_EXISTS: [6, 409],
  FAILED_PRECONDITION: [9, 400],
  ABORTED: [10, 409],
} as const;

/** The error a rejected call or operation gives: its code and message. */
async function rejection(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: number; message: string };
    return { code: Number(e.code), message: e.message };
  }
  assert.fail('expected a rejection');
}

function assertCode(err: { code: number; message: string }, code: keyof typeof CODES) {
  assert.ok(
    (CODES[code] as readonly number[]).includes(err.code),
    `expected ${code}, got ${err.code}: ${err.message}`,
  );
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'runway-local-run-'));
  registry = await startLocalRegistry({ root: join(root, 'registry') });
  run = await startLocalRun({
    project: PROJECT,
    region: REGION,
    images: registry.images,
    logDir: join(root, 'logs'),
    startupTimeoutMs: 2_000,
    graceMs: 300,
    settleMs: 300,
  });
  image = (await registry.push(APP, `${IMAGE}:v1`)).digestRef;
  const options = localClientOptions(run.host);
  services = new ServicesClient(options);
  revisions = new RevisionsClient(options);
  jobs = new JobsClient(options);
  executions = new ExecutionsClient(options);
  tasks = new TasksClient(options);
});

after(async () => {
  await run.close();
  await registry.close();
  for (const pid of pids)
    assert.equal(alive(pid), false, `process ${pid} outlived the local Cloud Run`);
  await rm(root, { recursive: true, force: true });
});

describe("services through Google's client", () => {
  test("a service becomes ready and serves with Cloud Run's container contract", async () => {
    const svc = await deploy('contract', [{ name: 'GREETING', value: 'hi' }]);
    assert.equal(svc.terminalCondition?.type, 'Ready');
    assert.equal(state(svc.terminalCondition?.state), SUCCEEDED);
    assert.equal(svc.latestReadyRevision, svc.latestCreatedRevision);
    assert.match(
      svc.latestReadyRevision ?? '',
      /^projects\/demo-project\/locations\/us-central1\/services\/contract\/revisions\/contract-00001-[a-z0-9]{3}$/,
    );
    assert.equal(String(svc.generation), '1');
    assert.equal(svc.reconciling, false);
    assert.deepEqual(svc.urls, [svc.uri]);
    const body = await probe(svc.uri!);
    assert.equal(body.service, 'contract');
    assert.equal(body.configuration, 'contract');
    assert.equal(body.revision, svc.latestReadyRevision?.split('/').pop());
    assert.equal(body.greeting, 'hi');
    assert.match(body.port, /^\d+$/);
    assert.notEqual(
      body.port,
      new URL(svc.uri!).port,
      'the instance listens on its own port behind the router',
    );
  });

  test('a new template makes a new revision, LATEST traffic moves to it and the old one is retired', async () => {
    const svc = await deploy('rollout');
    const first = await probe(svc.uri!);
    const updated = await update({
      name: svc.name,
      template: template([{ name: 'GREETING', value: 'v2' }]),
    });
    assert.notEqual(updated.latestReadyRevision, svc.latestReadyRevision);
    assert.equal(String(updated.generation), '2');
    const second = await probe(svc.uri!);
    assert.equal(second.greeting, 'v2');
    assert.equal(second.revision, updated.latestReadyRevision?.split('/').pop());
    await eventually(() => !alive(first.pid), 'the retired revision to stop');
  });

  test('an update with the same template makes no revision', async () => {
    const svc = await deploy('same', [{ name: 'GREETING', value: 'x' }]);
    const again = await update({
      name: svc.name,
      template: template([{ name: 'GREETING', value: 'x' }]),
    });
    assert.equal(again.latestCreatedRevision, svc.latestCreatedRevision);
    const [list] = await revisions.listRevisions({ parent: svc.name! });
    assert.equal(list.length, 1);
  });

  test('requests split across revisions by traffic percent', async () => {
    const svc = await deploy('split', [{ name: 'GREETING', value: 'a' }]);
    const a = svc.latestReadyRevision!.split('/').pop()!;
    const b = `split-b`;
    await update({
      name: svc.name,
      template: template([{ name: 'GREETING', value: 'b' }], { revision: b }),
      traffic: [
        { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: a, percent: 70 },
        { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: b, percent: 30 },
      ],
    });
    const n = 600;
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => probe(svc.uri!)));
      for (const r of batch) counts.set(r.revision, (counts.get(r.revision) ?? 0) + 1);
    }
    // 70% of 600 has a standard deviation of about 11 requests: +-60 is more than 5 of them.
    const share = counts.get(a) ?? 0;
    assert.ok(share > 360 && share < 480, `revision a served ${share} of ${n}, expected about 420`);
    assert.equal(share + (counts.get(b) ?? 0), n);
  });

  test('a tag URL reaches the tagged revision directly, even at 0 percent', async () => {
    const svc = await deploy('tagged', [{ name: 'GREETING', value: 'stable' }]);
    const stable = svc.latestReadyRevision!.split('/').pop()!;
    const updated = await update({
      name: svc.name,
      template: template([{ name: 'GREETING', value: 'candidate' }], {
        revision: 'tagged-candidate',
      }),
      traffic: [
        { type: 2, revision: stable, percent: 100, tag: 'stable' },
        { type: 2, revision: 'tagged-candidate', percent: 0, tag: 'candidate' },
      ],
    });
    const status = new Map(updated.trafficStatuses!.map((t) => [t.tag, t]));
    assert.equal(status.get('candidate')?.revision, 'tagged-candidate');
    assert.equal(status.get('candidate')?.percent ?? 0, 0);
    const candidateUri = status.get('candidate')!.uri!;
    for (let i = 0; i < 10; i++) {
      assert.equal((await probe(candidateUri)).greeting, 'candidate');
      assert.equal((await probe(svc.uri!)).greeting, 'stable');
    }
    assert.equal((await probe(status.get('stable')!.uri!)).greeting, 'stable');
  });

  test('an update with a stale etag is ABORTED and changes nothing', async () => {
    const svc = await deploy('etag');
    await update({ name: svc.name, annotations: { a: '1' }, template: svc.template });
    const err = await rejection(
      update({ name: svc.name, etag: svc.etag, annotations: { a: '2' }, template: svc.template }),
    );
    assertCode(err, 'ABORTED');
    assert.match(err.message, /etag/);
    const [now] = await services.getService({ name: svc.name! });
    assert.equal(now.annotations?.a, '1');
  });

  test('allowMissing creates a service; without it a missing service is NOT_FOUND', async () => {
    const name = `${PARENT}/services/created-by-patch`;
    const missing = await rejection(update({ name, template: template() }));
    assertCode(missing, 'NOT_FOUND');
    const [op] = await services.updateService({
      service: { name, template: template() },
      allowMissing: true,
    });
    const [svc] = await op.promise();
    assert.equal(state(svc.terminalCondition?.state), SUCCEEDED);
  });

  test('an update mask writes only the named fields', async () => {
    const svc = await deploy('masked', [{ name: 'GREETING', value: 'kept' }]);
    const [op] = await services.updateService({
      service: {
        name: svc.name,
        annotations: { 'runway.dev/claim': 'x' },
        template: template([{ name: 'GREETING', value: 'ignored' }]),
      },
      updateMask: { paths: ['annotations'] },
    });
    const [after] = await op.promise();
    assert.equal(after.annotations?.['runway.dev/claim'], 'x');
    assert.equal(after.latestCreatedRevision, svc.latestCreatedRevision);
    assert.equal((await probe(svc.uri!)).greeting, 'kept');
  });

  test('a template names no service account: it runs as the default compute account, and a patch of template without one resets it', async () => {
    const DEFAULT = /^\d{12}-compute@developer\.gserviceaccount\.com$/;
    const plain = await deploy('default-account');
    assert.match(plain.template?.serviceAccount ?? '', DEFAULT);
    const own = 'app@demo-project.iam.gserviceaccount.com';
    const svc = await deploy('own-account', [], { serviceAccount: own });
    assert.equal(svc.template?.serviceAccount, own);
    const [rev] = await revisions.getRevision({ name: svc.latestCreatedRevision! });
    assert.equal(rev.serviceAccount, own);
    // updateMask "template" replaces the template as a whole: a body without the account, as
    // runway's workflow once sent, falls back to the default compute account.
    const [op] = await services.updateService({
      service: { name: svc.name, template: template([{ name: 'GREETING', value: 'new' }]) },
      updateMask: { paths: ['template'] },
    });
    const [after] = await op.promise();
    assert.match(after.template?.serviceAccount ?? '', DEFAULT);
    assert.equal(
      after.template?.serviceAccount,
      plain.template?.serviceAccount,
      'one project number',
    );
  });

  const failures: { name: string; env: Env; image?: string; message: RegExp }[] = [
    {
      name: 'exits at once',
      env: [{ name: 'MODE', value: 'exit' }],
      message: /exited with code 3 before it listened/,
    },
    {
      name: 'listens on another port',
      env: [{ name: 'MODE', value: 'wrong-port' }],
      message: /listens on port \d+ instead/,
    },
    {
      name: 'never listens',
      env: [{ name: 'MODE', value: 'hang' }],
      message: /within the allocated timeout/,
    },
    {
      name: 'image never pushed',
      env: [],
      image: `${IMAGE}@sha256:${'0'.repeat(64)}`,
      message: /Image '.*' not found/,
    },
  ];
  for (const [i, c] of failures.entries()) {
    test(`a revision that ${c.name} fails its operation and the service keeps serving`, async () => {
      const svc = await deploy(`fails-${i}`, [{ name: 'GREETING', value: 'good' }]);
      const err = await rejection(
        update({
          name: svc.name,
          template: { containers: [{ image: c.image ?? image, env: c.env }] },
        }),
      );
      assert.match(
        err.message,
        /^Revision 'fails-\d-00002-[a-z0-9]{3}' is not ready and cannot serve traffic\./,
      );
      assert.match(err.message, c.message);
      const [now] = await services.getService({ name: svc.name! });
      assert.equal(state(now.terminalCondition?.state), FAILED);
      assert.equal(now.latestReadyRevision, svc.latestReadyRevision);
      assert.notEqual(now.latestCreatedRevision, svc.latestCreatedRevision);
      const [failed] = await revisions.getRevision({ name: now.latestCreatedRevision! });
      assert.equal(state(failed.conditions?.[0]?.state), FAILED);
      assert.equal((await probe(svc.uri!)).greeting, 'good');
    });
  }

  test('a revision serving traffic cannot be deleted; one without traffic can', async () => {
    const svc = await deploy('deleting');
    const first = svc.latestReadyRevision!;
    const updated = await update({
      name: svc.name,
      template: template([{ name: 'GREETING', value: '2' }]),
    });
    const serving = await rejection(
      revisions.deleteRevision({ name: updated.latestReadyRevision! }),
    );
    assertCode(serving, 'FAILED_PRECONDITION');
    assert.match(serving.message, /serving traffic/);
    const [op] = await revisions.deleteRevision({ name: first });
    await op.promise();
    const [list] = await revisions.listRevisions({ parent: svc.name! });
    assert.deepEqual(
      list.map((r) => r.name),
      [updated.latestReadyRevision],
    );
  });

  test('deleting a service stops its processes and closes its URL', async () => {
    const svc = await deploy('deleted');
    const { pid } = await probe(svc.uri!);
    const [op] = await services.deleteService({ name: svc.name! });
    await op.promise();
    await eventually(() => !alive(pid), 'the revision process to stop');
    await assert.rejects(fetch(svc.uri!));
    assertCode(await rejection(services.getService({ name: svc.name! })), 'NOT_FOUND');
  });

  test('a request over the revision timeout gets 504 and the instance keeps serving', async () => {
    const svc = await deploy('slowpoke', [], { timeout: { seconds: 1 } });
    const started = Date.now();
    const res = await fetch(`${svc.uri}/hang`);
    assert.equal(res.status, 504);
    assert.match(await res.text(), /did not answer within its 1 s request timeout/);
    assert.ok(Date.now() - started >= 900);
    assert.equal((await probe(svc.uri!)).service, 'slowpoke');
  });

  test('an instance killed with SIGKILL is replaced on the next request', async () => {
    const svc = await deploy('crashy');
    const { pid } = await probe(svc.uri!);
    process.kill(pid, 'SIGKILL');
    await eventually(() => !alive(pid), 'the kill');
    const again = await probe(svc.uri!);
    assert.notEqual(again.pid, pid);
  });
});

describe('instances scale to zero and back', () => {
  let idle: LocalRun;
  let client: ServicesClient;
  before(async () => {
    idle = await startLocalRun({
      project: PROJECT,
      region: REGION,
      images: registry.images,
      logDir: join(root, 'idle-logs'),
      idleMs: 150,
      graceMs: 300,
    });
    client = new ServicesClient(localClientOptions(idle.host));
  });
  after(() => idle.close());

  test('min instances 0: idle instances stop and the next request cold-starts one', async () => {
    const [op] = await client.createService({
      parent: PARENT,
      serviceId: 'sleepy',
      service: { template: template() },
    });
    const [svc] = await op.promise();
    const first = await probe(svc.uri!);
    await eventually(() => !alive(first.pid), 'scale to zero');
    const second = await probe(svc.uri!);
    assert.notEqual(second.pid, first.pid);
  });

  test('min instances 1 keeps one instance warm', async () => {
    const [op] = await client.createService({
      parent: PARENT,
      serviceId: 'warm',
      service: { template: template([], { scaling: { minInstanceCount: 1 } }) },
    });
    const [svc] = await op.promise();
    const first = await probe(svc.uri!);
    await new Promise((r) => setTimeout(r, 400)); // more than twice the idle period
    assert.equal(alive(first.pid), true);
    assert.equal((await probe(svc.uri!)).pid, first.pid);
  });

  test('an instance that ignores SIGTERM gets SIGKILL after the grace period', async () => {
    const [op] = await client.createService({
      parent: PARENT,
      serviceId: 'stubborn',
      service: { template: template([{ name: 'MODE', value: 'stubborn' }]) },
    });
    const [svc] = await op.promise();
    const { pid } = await probe(svc.uri!);
    const started = Date.now();
    await eventually(() => !alive(pid), 'the SIGKILL', 3000);
    assert.ok(Date.now() - started >= 150, 'it outlived the SIGTERM');
  });
});

describe("jobs through Google's client", () => {
  const task = (env: Env, extra: Record<string, unknown> = {}) => ({
    template: {
      taskCount: 1,
      ...extra,
      template: {
        maxRetries: 0,
        ...((extra.task as object) ?? {}),
        containers: [{ image, command: ['node', 'task.js'], env }],
      },
    },
  });
  async function createJob(id: string, env: Env, extra: Record<string, unknown> = {}) {
    const { task: _t, ...rest } = extra;
    const [op] = await jobs.createJob({
      parent: PARENT,
      jobId: id,
      job: { ...task(env, extra), template: { ...task(env, extra).template, ...rest } },
    });
    const [job] = await op.promise();
    return job;
  }

  test("an execution runs taskCount tasks with Cloud Run's variables and the run's overrides", async () => {
    const job = await createJob('contract', [{ name: 'EXTRA', value: 'from-job' }], {
      taskCount: 3,
    });
    const [op] = await jobs.runJob({
      name: job.name!,
      overrides: {
        containerOverrides: [{ env: [{ name: 'EXTRA', value: 'from-run' }], args: ['one', 'two'] }],
      },
    });
    const [execution] = await op.promise();
    assert.equal(execution.succeededCount, 3);
    assert.equal(state(execution.conditions?.[0]?.state), SUCCEEDED);
    const log = await readFile(run.jobs.logPath(execution.name!), 'utf8');
    const lines = log
      .split('\n')
      .filter((l) => l.includes('stdout: {'))
      .map((l) => JSON.parse(l.slice(l.indexOf('{'))));
    assert.deepEqual(lines.map((l) => l.index).sort(), ['0', '1', '2']);
    for (const l of lines) {
      assert.equal(l.job, 'contract');
      assert.equal(l.execution, execution.name!.split('/').pop());
      assert.equal(l.count, '3');
      assert.equal(l.attempt, '0');
      assert.equal(l.extra, 'from-run');
      assert.deepEqual(l.args, ['one', 'two']);
    }
    const [list] = await tasks.listTasks({ parent: execution.name! });
    assert.equal(list.length, 3);
    assert.ok(list.every((t) => t.lastAttemptResult?.exitCode === 0));
  });

  test('parallelism bounds how many tasks run at once', async () => {
    const dir = await mkdtemp(join(root, 'track-'));
    const job = await createJob(
      'parallel',
      [
        { name: 'TASK_MODE', value: 'track' },
        { name: 'TRACK_DIR', value: dir },
      ],
      { taskCount: 5, parallelism: 2 },
    );
    const [op] = await jobs.runJob({ name: job.name! });
    await op.promise();
    for (let i = 0; i < 5; i++) {
      const seen = Number(await readFile(join(dir, `seen-${i}`), 'utf8'));
      assert.ok(seen <= 2, `task ${i} saw ${seen} tasks running`);
    }
  });

  test('a failing task is retried up to maxRetries and the execution succeeds when an attempt does', async () => {
    const job = await createJob(
      'flaky',
      [
        { name: 'TASK_MODE', value: 'flaky' },
        { name: 'RETRIES_NEEDED', value: '2' },
      ],
      { task: { maxRetries: 2 } },
    );
    const [op] = await jobs.runJob({ name: job.name! });
    const [execution] = await op.promise();
    assert.equal(execution.succeededCount, 1);
    assert.equal(execution.retriedCount, 2);
    const [list] = await tasks.listTasks({ parent: execution.name! });
    assert.equal(list[0]?.retried, 2);
  });

  test('a task that keeps failing fails the execution and the run operation', async () => {
    const job = await createJob('failing', [{ name: 'TASK_MODE', value: 'fail' }], {
      taskCount: 2,
      task: { maxRetries: 1 },
    });
    const [op] = await jobs.runJob({ name: job.name! });
    const err = await rejection(op.promise());
    assertCode(err, 'FAILED_PRECONDITION');
    assert.match(
      err.message,
      /failed: 2 of 2 task\(s\) failed\. Task 0: The container exited with code 4/,
    );
    const [[execution]] = await executions.listExecutions({ parent: job.name! });
    assert.equal(execution?.failedCount, 2);
    assert.equal(execution?.retriedCount, 2);
    assert.equal(state(execution?.conditions?.[0]?.state), FAILED);
  });

  test('a task over its timeout is stopped and fails', async () => {
    const job = await createJob('slow', [{ name: 'TASK_MODE', value: 'sleep' }], {
      task: { timeout: { seconds: 1 } },
    });
    const [op] = await jobs.runJob({ name: job.name! });
    const err = await rejection(op.promise());
    assert.match(err.message, /stopped at its timeout of 1 s/);
  });

  test('cancel stops a running execution and its run operation fails CANCELLED', async () => {
    const job = await createJob('cancelled', [{ name: 'TASK_MODE', value: 'sleep' }]);
    const [op] = await jobs.runJob({ name: job.name! });
    const name = (op.metadata as { name: string }).name;
    const [cancel] = await executions.cancelExecution({ name });
    await cancel.promise();
    const err = await rejection(op.promise());
    assertCode(err, 'CANCELLED');
    const [execution] = await executions.getExecution({ name });
    assert.equal(execution.cancelledCount, 1);
    const again = await rejection(executions.cancelExecution({ name }));
    assertCode(again, 'FAILED_PRECONDITION');
  });

  test('a job can be read, listed, updated, and deleted; a stale etag or a missing template is refused', async () => {
    const job = await createJob('crud', [{ name: 'EXTRA', value: 'one' }]);
    const [read] = await jobs.getJob({ name: job.name! });
    assert.equal(read.name, job.name);
    const [list] = await jobs.listJobs({ parent: PARENT });
    assert.ok(list.some((j) => j.name === job.name));
    const [op] = await jobs.updateJob({
      job: { name: job.name, template: read.template, labels: { team: 'release' } },
    });
    const [updated] = await op.promise();
    assert.equal(updated.labels?.team, 'release');
    assert.equal(String(updated.generation), '2');
    const stale = await rejection(
      jobs.updateJob({ job: { name: job.name, etag: read.etag, template: read.template } }),
    );
    assertCode(stale, 'ABORTED');
    const bare = await rejection(jobs.updateJob({ job: { name: job.name, labels: { a: 'b' } } }));
    assert.match(bare.message, /template is required/);
    const [del] = await jobs.deleteJob({ name: job.name! });
    await del.promise();
    assertCode(await rejection(jobs.getJob({ name: job.name! })), 'NOT_FOUND');
  });

  test('an execution can be deleted; the job lists what is left', async () => {
    const job = await createJob('deleted-exec', []);
    const [op] = await jobs.runJob({ name: job.name! });
    const [execution] = await op.promise();
    const [del] = await executions.deleteExecution({ name: execution.name! });
    await del.promise();
    const [list] = await executions.listExecutions({ parent: job.name! });
    assert.equal(list.length, 0);
    assertCode(await rejection(executions.getExecution({ name: execution.name! })), 'NOT_FOUND');
  });
});

describe('every region is served, each with its own services', () => {
  const EU = `projects/${PROJECT}/locations/europe-west1`;
  const REVISION = 'twin-0123456789ab';
  const twin = async (parent: string, greeting: string) => {
    const [op] = await services.createService({
      parent,
      serviceId: 'twin',
      service: {
        template: template([{ name: 'GREETING', value: greeting }], { revision: REVISION }),
      },
    });
    assert.ok(op.name!.startsWith(`${parent}/operations/`), op.name!);
    const [svc] = await op.promise();
    return svc;
  };

  test('the same service id in two regions: two services, two URLs, the same revision name in each', async () => {
    const us = await twin(PARENT, 'us');
    const eu = await twin(EU, 'eu');
    assert.equal(us.name, `${PARENT}/services/twin`);
    assert.equal(eu.name, `${EU}/services/twin`);
    assert.notEqual(us.uri, eu.uri);
    assert.equal(us.latestReadyRevision, `${PARENT}/services/twin/revisions/${REVISION}`);
    assert.equal(eu.latestReadyRevision, `${EU}/services/twin/revisions/${REVISION}`);
    assert.equal((await probe(us.uri!)).greeting, 'us');
    assert.equal((await probe(eu.uri!)).greeting, 'eu');
    // Each region's revision logs to its own file.
    assert.notEqual(run.services.logPath(us.name!), run.services.logPath(eu.name!));
    const [usRevisions] = await revisions.listRevisions({ parent: us.name! });
    assert.deepEqual(
      usRevisions.map((r) => r.name),
      [us.latestReadyRevision],
    );
  });

  test('a traffic change in one region leaves the other untouched', async () => {
    const [before] = await services.getService({ name: `${PARENT}/services/twin` });
    const moved = await update({
      name: `${EU}/services/twin`,
      template: template([{ name: 'GREETING', value: 'eu-b' }], { revision: 'twin-b' }),
      traffic: [
        { type: 2, revision: REVISION, percent: 50 },
        { type: 2, revision: 'twin-b', percent: 50 },
      ],
    });
    assert.deepEqual(
      moved.traffic!.map((t) => [t.revision, t.percent]),
      [
        [REVISION, 50],
        ['twin-b', 50],
      ],
    );
    const [after] = await services.getService({ name: `${PARENT}/services/twin` });
    assert.equal(after.etag, before.etag);
    assert.deepEqual(after.traffic, before.traffic);
    assert.equal(after.latestCreatedRevision, `${PARENT}/services/twin/revisions/${REVISION}`);
    for (let i = 0; i < 10; i++) assert.equal((await probe(after.uri!)).greeting, 'us');
    const [usRevisions] = await revisions.listRevisions({ parent: after.name! });
    assert.equal(usRevisions.length, 1);
    const missing = await rejection(
      revisions.getRevision({ name: `${PARENT}/services/twin/revisions/twin-b` }),
    );
    assertCode(missing, 'NOT_FOUND');
  });

  test('lists and operations are per region', async () => {
    const [eu] = await services.listServices({ parent: EU });
    assert.deepEqual(
      eu.map((s) => s.name),
      [`${EU}/services/twin`],
    );
    const [us] = await services.listServices({ parent: PARENT });
    assert.ok(us.every((s) => s.name!.startsWith(`${PARENT}/services/`)));
    assert.ok(us.some((s) => s.name === `${PARENT}/services/twin`));
    const [asia] = await services.listServices({
      parent: `projects/${PROJECT}/locations/asia-east1`,
    });
    assert.deepEqual(asia, []);
    const ops = async (parent: string) =>
      (
        (await (await fetch(`${run.url}/v2/${parent}/operations`)).json()) as {
          operations?: { name: string }[];
        }
      ).operations ?? [];
    const euOps = await ops(EU);
    assert.ok(euOps.length >= 2);
    assert.ok(euOps.every((o) => o.name.startsWith(`${EU}/operations/`)));
    assert.ok((await ops(PARENT)).every((o) => o.name.startsWith(`${PARENT}/operations/`)));
  });

  test('a service deleted in one region is NOT_FOUND there, named by its region, and lives on in the other', async () => {
    const [op] = await services.deleteService({ name: `${EU}/services/twin` });
    await op.promise();
    const gone = await rejection(services.getService({ name: `${EU}/services/twin` }));
    assertCode(gone, 'NOT_FOUND');
    assert.match(gone.message, /in region 'europe-west1'/);
    const [us] = await services.getService({ name: `${PARENT}/services/twin` });
    assert.equal((await probe(us.uri!)).greeting, 'us');
  });
});

describe('operations', () => {
  test('a write answers an operation that get, list and wait can read', async () => {
    const [op] = await services.createService({
      parent: PARENT,
      serviceId: 'ops',
      service: { template: template() },
    });
    const res = await fetch(`${run.url}/v2/${op.name}:wait`, {
      method: 'POST',
      body: JSON.stringify({ timeout: '10s' }),
    });
    const waited = (await res.json()) as {
      done: boolean;
      response: { '@type': string; name: string };
    };
    assert.equal(waited.done, true);
    assert.equal(waited.response['@type'], 'type.googleapis.com/google.cloud.run.v2.Service');
    assert.equal(waited.response.name, `${PARENT}/services/ops`);
    const list = (await (await fetch(`${run.url}/v2/${PARENT}/operations`)).json()) as {
      operations: { name: string }[];
    };
    assert.ok(list.operations.some((o) => o.name === op.name));
    const missing = await fetch(`${run.url}/v2/${PARENT}/operations/nope`);
    assert.equal(missing.status, 404);
  });
});

describe('bad requests get Google-shaped errors and change nothing', () => {
  // Bodies name the image as IMG; the digest is only known once the suite's before() pushed it.
  const IMG = '$IMAGE';
  const svcBody = (patch: Record<string, unknown> = {}) => ({
    template: { containers: [{ image: IMG }] },
    ...patch,
  });
  const cases: {
    name: string;
    method?: string;
    path: string;
    body?: unknown;
    raw?: string;
    status: number;
    message: RegExp;
    /** Sent to this location instead of PARENT. */
    location?: string;
  }[] = [
    {
      name: 'body not JSON',
      path: `services?serviceId=x1`,
      raw: '{nope',
      status: 400,
      message: /not valid JSON/,
    },
    {
      name: 'body a JSON array',
      path: `services?serviceId=x1`,
      raw: '[]',
      status: 400,
      message: /must be a JSON object/,
    },
    {
      name: 'body over 4 MB',
      path: `services?serviceId=x1`,
      raw: JSON.stringify({ description: 'x'.repeat(4 * 1024 * 1024 + 10) }),
      status: 413,
      message: /larger than/,
    },
    {
      name: 'unknown top-level field',
      path: `services?serviceId=x1`,
      body: svcBody({ colour: 'red' }),
      status: 400,
      message: /Unknown name "colour" at 'service': Cannot find field/,
    },
    {
      name: 'unknown nested field',
      path: `services?serviceId=x1`,
      body: { template: { containers: [{ image: IMG, cpu: 2 }] } },
      status: 400,
      message: /Unknown name "cpu" at 'service.template.containers\[0\]'/,
    },
    {
      name: 'wrong type',
      path: `services?serviceId=x1`,
      body: svcBody({ traffic: [{ percent: 'lots' }] }),
      status: 400,
      message: /Invalid value at 'service.traffic\[0\].percent'/,
    },
    {
      name: 'unknown enum',
      path: `services?serviceId=x1`,
      body: svcBody({ ingress: 'EVERYONE' }),
      status: 400,
      message: /Invalid value at 'service.ingress'/,
    },
    {
      name: 'missing service id',
      path: `services`,
      body: svcBody(),
      status: 400,
      message: /service id is required/,
    },
    {
      name: 'service id with capitals',
      path: `services?serviceId=Hello`,
      body: svcBody(),
      status: 400,
      message: /service_id: service id "Hello" must be/,
    },
    {
      name: 'service id starting with a digit',
      path: `services?serviceId=1st`,
      body: svcBody(),
      status: 400,
      message: /must be 1-49 characters/,
    },
    {
      name: 'service id too long',
      path: `services?serviceId=${'a'.repeat(50)}`,
      body: svcBody(),
      status: 400,
      message: /must be 1-49 characters/,
    },
    {
      name: 'no template',
      path: `services?serviceId=x1`,
      body: {},
      status: 400,
      message: /template is required/,
    },
    {
      name: 'no container',
      path: `services?serviceId=x1`,
      body: { template: { containers: [] } },
      status: 400,
      message: /needs a container/,
    },
    {
      name: 'container without image',
      path: `services?serviceId=x1`,
      body: { template: { containers: [{}] } },
      status: 400,
      message: /image is required/,
    },
    {
      name: 'two containers',
      path: `services?serviceId=x1`,
      body: { template: { containers: [{ image: IMG }, { image: IMG }] } },
      status: 400,
      message: /one container per instance/,
    },
    {
      name: 'reserved env PORT',
      path: `services?serviceId=x1`,
      body: { template: { containers: [{ image: IMG, env: [{ name: 'PORT', value: '1' }] }] } },
      status: 400,
      message: /reserved env names were provided: PORT/,
    },
    {
      name: 'secret env',
      path: `services?serviceId=x1`,
      body: {
        template: {
          containers: [
            { image: IMG, env: [{ name: 'S', valueSource: { secretKeyRef: { secret: 's' } } }] },
          ],
        },
      },
      status: 400,
      message: /secret references are not available/,
    },
    {
      name: 'revision name without the service prefix',
      path: `services?serviceId=x1`,
      body: svcBody({ template: { revision: 'other-1', containers: [{ image: IMG }] } }),
      status: 400,
      message: /must start with the service name/,
    },
    {
      name: 'revision name with capitals',
      path: `services?serviceId=x1`,
      body: svcBody({ template: { revision: 'x1-ABC', containers: [{ image: IMG }] } }),
      status: 400,
      message: /revision name/,
    },
    {
      name: 'traffic not summing to 100',
      path: `services?serviceId=x1`,
      body: svcBody({ traffic: [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 90 }] }),
      status: 400,
      message: /sum to 100, not 90/,
    },
    {
      name: 'unknown revision in traffic',
      path: `services?serviceId=x1`,
      body: svcBody({ traffic: [{ type: 2, revision: 'x1-nope', percent: 100 }] }),
      status: 400,
      message: /Revision 'x1-nope' does not exist/,
    },
    {
      name: 'duplicate tags',
      path: `services?serviceId=x1`,
      body: svcBody({
        traffic: [
          { type: 1, percent: 100, tag: 'a' },
          { type: 1, percent: 0, tag: 'a' },
        ],
      }),
      status: 400,
      message: /tag 'a' is used by two/,
    },
    {
      name: 'tag breaking the naming rules',
      path: `services?serviceId=x1`,
      body: svcBody({ traffic: [{ type: 1, percent: 100, tag: 'Bad_Tag' }] }),
      status: 400,
      message: /tag "Bad_Tag" must be/,
    },
    {
      name: 'min above max instances',
      path: `services?serviceId=x1`,
      body: svcBody({
        template: {
          containers: [{ image: IMG }],
          scaling: { minInstanceCount: 3, maxInstanceCount: 1 },
        },
      }),
      status: 400,
      message: /min_instance_count 3 is above/,
    },
    {
      name: 'another project',
      path: `services?serviceId=x1`,
      body: svcBody(),
      status: 404,
      message: /is not served here/,
      location: `projects/other-project/locations/${REGION}`,
    },
    ...['US-CENTRAL1', 'us_central1', 'uscentral1', 'us-central', 'us-central1-a', 'global'].map(
      (region) => ({
        name: `a region Google could not have: ${region}`,
        path: `services?serviceId=x1`,
        body: svcBody(),
        status: 400,
        message: /is not a valid location/,
        location: `projects/${PROJECT}/locations/${region}`,
      }),
    ),
    {
      name: 'a list in a region Google could not have',
      method: 'GET',
      path: `services`,
      status: 400,
      message: /is not a valid location/,
      location: `projects/${PROJECT}/locations/not_a_region`,
    },
    {
      name: 'job with task count 0',
      path: `jobs?jobId=j1`,
      body: { template: { taskCount: 0, template: { containers: [{ image: IMG }] } } },
      status: 400,
      message: /task_count must be 1-10000/,
    },
    {
      name: 'job with negative retries',
      path: `jobs?jobId=j1`,
      body: { template: { template: { maxRetries: -1, containers: [{ image: IMG }] } } },
      status: 400,
      message: /max_retries must be 0-10/,
    },
    {
      name: 'job with a bad duration',
      path: `jobs?jobId=j1`,
      body: { template: { template: { timeout: 'soon', containers: [{ image: IMG }] } } },
      status: 400,
      message: /Invalid value at 'job.template.template.timeout'/,
    },
    {
      name: 'unknown route',
      method: 'GET',
      path: `widgets`,
      status: 404,
      message: /was not found on this server/,
    },
    {
      name: 'method not allowed',
      method: 'PUT',
      path: `services`,
      status: 405,
      message: /not allowed/,
    },
    {
      name: 'bad page token',
      method: 'GET',
      path: `services?pageToken=%%%`,
      status: 400,
      message: /page_token|percent-encoding/,
    },
    {
      name: 'bad percent-encoding in the path',
      method: 'GET',
      path: `services/%E0%A4%A`,
      status: 400,
      message: /percent-encoding/,
    },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const before = (await (await fetch(`${run.url}/v2/${PARENT}/services`)).text()).replace(
        /"updateTime":"[^"]+"/g,
        '',
      );
      const res = await fetch(`${run.url}/v2/${c.location ?? PARENT}/${c.path}`, {
        method: c.method ?? 'POST',
        ...(c.method === 'GET'
          ? {}
          : { body: c.raw ?? JSON.stringify(c.body ?? {}).replaceAll('$IMAGE', image) }),
      });
      const body = (await res.json()) as {
        error: { code: number; message: string; status: string };
      };
      assert.equal(res.status, c.status, body.error?.message);
      assert.equal(body.error.code, c.status);
      assert.match(body.error.message, c.message);
      assert.equal(typeof body.error.status, 'string');
      const afterText = (await (await fetch(`${run.url}/v2/${PARENT}/services`)).text()).replace(
        /"updateTime":"[^"]+"/g,
        '',
      );
      assert.equal(afterText, before);
    });
  }

  test('a second create with the same id is ALREADY_EXISTS', async () => {
    await deploy('twice');
    const err = await rejection(deploy('twice'));
    assertCode(err, 'ALREADY_EXISTS');
  });

  test('a named revision with a different template is ALREADY_EXISTS', async () => {
    const svc = await deploy('named', [], { revision: 'named-one' });
    const err = await rejection(
      update({
        name: svc.name,
        template: template([{ name: 'GREETING', value: 'other' }], { revision: 'named-one' }),
      }),
    );
    assertCode(err, 'ALREADY_EXISTS');
    assert.match(err.message, /different configuration already exists/);
  });
});

// Services and jobs are kept by one resource table, so the Admin API's rules for writes hold for
// both alike: UpdateServiceRequest and UpdateJobRequest bind the resource's name from the URL,
// Service.template and Job.template are REQUIRED, validate_only (on create, update and delete)
// persists nothing, and only UpdateServiceRequest has an update_mask.
describe('services and jobs follow the same write rules', () => {
  const DEFAULT_ACCOUNT = /^\d{12}-compute@developer\.gserviceaccount\.com$/;
  type Json = Record<string, unknown>;
  async function call(method: string, path: string, body?: unknown) {
    const res = await fetch(`${run.url}/v2/${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Json & { error?: Json } };
  }
  const kinds = [
    {
      kind: 'services',
      field: 'service',
      body: (): Json => ({ template: template() }),
      account: (r: Json) => (r.template as Json).serviceAccount,
      make: async (id: string) => (await deploy(id)).name!,
    },
    {
      kind: 'jobs',
      field: 'job',
      body: (): Json => ({ template: { template: { containers: [{ image }] } } }),
      account: (r: Json) => ((r.template as Json).template as Json).serviceAccount,
      make: async (id: string) => {
        const [op] = await jobs.createJob({
          parent: PARENT,
          jobId: id,
          job: { template: { template: { containers: [{ image }] } } },
        });
        return (await op.promise())[0].name!;
      },
    },
  ];

  for (const k of kinds) {
    test(`${k.kind}: a PATCH whose body names another resource is INVALID_ARGUMENT and changes nothing`, async () => {
      const name = await k.make(`${k.field}-rename`);
      const before = (await call('GET', name)).body;
      const other = `${PARENT}/${k.kind}/${k.field}-other`;
      const res = await call('PATCH', name, { ...k.body(), name: other, labels: { a: 'b' } });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(String(res.body.error?.message), /does not match the URL/);
      assert.equal((await call('GET', name)).body.etag, before.etag);
      assert.equal((await call('GET', other)).status, 404);
    });

    test(`${k.kind}: a PATCH without a template or a mask is INVALID_ARGUMENT: the template is REQUIRED`, async () => {
      const name = await k.make(`${k.field}-bare`);
      const res = await call('PATCH', name, { labels: { a: 'b' } });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(String(res.body.error?.message), new RegExp(`${k.field}.template`));
      assert.match(String(res.body.error?.message), /template is required/);
    });

    test(`${k.kind}: validateOnly create answers the resource with its defaults and creates nothing`, async () => {
      const id = `${k.field}-dry-create`;
      const res = await call(
        'POST',
        `${PARENT}/${k.kind}?${k.field}Id=${id}&validateOnly=true`,
        k.body(),
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.done, true);
      const response = res.body.response as Json;
      assert.equal(response.name, `${PARENT}/${k.kind}/${id}`);
      assert.match(String(k.account(response)), DEFAULT_ACCOUNT);
      assert.equal((await call('GET', `${PARENT}/${k.kind}/${id}`)).status, 404);
    });

    test(`${k.kind}: validateOnly update answers the updated resource and changes nothing`, async () => {
      const name = await k.make(`${k.field}-dry-update`);
      const before = (await call('GET', name)).body;
      const res = await call('PATCH', `${name}?validateOnly=true`, {
        ...k.body(),
        labels: { team: 'release' },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.done, true);
      assert.deepEqual((res.body.response as Json).labels, { team: 'release' });
      const after = (await call('GET', name)).body;
      assert.deepEqual(after.labels, {});
      assert.equal(after.etag, before.etag);
    });

    test(`${k.kind}: validateOnly delete deletes nothing`, async () => {
      const name = await k.make(`${k.field}-dry-delete`);
      const res = await call('DELETE', `${name}?validateOnly=true`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.done, true);
      assert.equal((await call('GET', name)).status, 200);
    });

    test(`${k.kind}: allowMissing with a bad id names the field ${k.field}.name`, async () => {
      const res = await call('PATCH', `${PARENT}/${k.kind}/Bad_Id?allowMissing=true`, k.body());
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(String(res.body.error?.message), new RegExp(`^${k.field}\\.name: `));
    });
  }

  test('jobs: a PATCH with an updateMask is INVALID_ARGUMENT, as UpdateJobRequest has no update_mask', async () => {
    const name = await kinds[1]!.make('job-masked');
    const res = await call('PATCH', `${name}?updateMask=labels`, {
      ...kinds[1]!.body(),
      labels: { a: 'b' },
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.match(String(res.body.error?.message), /Unknown name "updateMask"/);
    assert.deepEqual((await call('GET', name)).body.labels, {});
  });
});
