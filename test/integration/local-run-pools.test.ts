// Worker pools of the local Cloud Run through Google's own clients (@google-cloud/run v2
// WorkerPoolsClient and RevisionsClient, REST mode) and raw HTTP: instances are processes without
// a port, as many per revision as the instance splits give it of the manual instance count; a
// crashing instance is restarted and marks its revision; bad requests change nothing.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { protos, RevisionsClient, WorkerPoolsClient } from '@google-cloud/run';
import { localClientOptions } from '../../services/shared/clients.ts';
import { type LocalRegistry, startLocalRegistry } from '../../local/registry/server.ts';
import { type LocalRun, startLocalRun } from '../../local/run/index.ts';
import { alive } from '../helpers/processes.ts';

type IWorkerPool = protos.google.cloud.run.v2.IWorkerPool;
// Google's client hands enums back as numbers from operations and as names from reads.
const { State } = protos.google.cloud.run.v2.Condition;
const state = (s: unknown) => (typeof s === 'number' ? State[s] : s);
const { InstanceSplitAllocationType: SplitType } = protos.google.cloud.run.v2;
const PROJECT = 'demo-project';
const REGION = 'us-central1';
const PARENT = `projects/${PROJECT}/locations/${REGION}`;
const APP = new URL('../fixtures/apps/worker/', import.meta.url).pathname;
const IMAGE = `${REGION}-docker.pkg.dev/${PROJECT}/apps/worker`;
const REVISION = SplitType.INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION;
const START_MS = 600;

let root: string;
let registry: LocalRegistry;
let run: LocalRun;
let image: string;
let pools: WorkerPoolsClient;
let revisions: RevisionsClient;
const pids = new Set<number>();

/** Polls `check` until it holds; for states that settle by themselves (process exits, restarts). */
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
const short = (name: string | null | undefined) => String(name).split('/').pop()!;

async function create(id: string, pool: IWorkerPool): Promise<IWorkerPool> {
  const [op] = await pools.createWorkerPool({ parent: PARENT, workerPoolId: id, workerPool: pool });
  const [created] = await op.promise();
  return created;
}

async function update(
  workerPool: IWorkerPool,
  extra: Omit<protos.google.cloud.run.v2.IUpdateWorkerPoolRequest, 'workerPool'> = {},
): Promise<IWorkerPool> {
  const [op] = await pools.updateWorkerPool({ workerPool, ...extra });
  const [updated] = await op.promise();
  return updated;
}

/** The running instances' pids of one revision, remembered so `after` can check they stopped. */
function running(pool: string, revision: string): number[] {
  const list = run.workerPools.pidsOf(`${PARENT}/workerPools/${pool}`, revision);
  for (const pid of list) pids.add(pid);
  return list;
}

// In REST mode a failed call rejects with the HTTP status as its code, a failed operation with the
// google.rpc code: accept either for the canonical code a case expects.
const CODES = {
  INVALID_ARGUMENT: [3, 400],
  NOT_FOUND: [5, 404],
  ALREADY_EXISTS: [6, 409],
  FAILED_PRECONDITION: [9, 400],
  ABORTED: [10, 409],
} as const;

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

/** What the raw-HTTP tests read of an answer. */
interface RawBody {
  error: { status: string; message: string };
  done: boolean;
  response: { name: string };
  workerPools?: { name: string }[];
  containerStatuses: { imageDigest: string }[];
  logUri: string;
}

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${run.url}/v2/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as RawBody };
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'runway-local-pools-'));
  registry = await startLocalRegistry({ root: join(root, 'registry') });
  run = await startLocalRun({
    project: PROJECT,
    region: REGION,
    images: registry.images,
    logDir: join(root, 'logs'),
    graceMs: 300,
    settleMs: 300,
    // Long enough that a worker exiting at once has exited (Node boots slowly on a busy machine).
    workerStartMs: START_MS,
  });
  image = (await registry.push(APP, `${IMAGE}:v1`)).digestRef;
  const options = localClientOptions(run.host);
  pools = new WorkerPoolsClient(options);
  revisions = new RevisionsClient(options);
});

after(async () => {
  await run.close();
  await registry.close();
  for (const pid of pids)
    assert.equal(alive(pid), false, `process ${pid} outlived the local Cloud Run`);
  await rm(root, { recursive: true, force: true });
});

describe("worker pools through Google's WorkerPoolsClient", () => {
  test("a pool runs its instances without a port, with Cloud Run's worker pool variables", async () => {
    const pool = await create('contract', {
      template: template([{ name: 'GREETING', value: 'hi' }]),
      scaling: { manualInstanceCount: 2 },
    });
    assert.equal(state(pool.terminalCondition?.state), 'CONDITION_SUCCEEDED');
    assert.equal(pool.reconciling, false);
    assert.equal(String(pool.generation), '1');
    assert.equal(String(pool.observedGeneration), '1');
    assert.match(pool.uid ?? '', /^[0-9a-f-]{36}$/);
    assert.ok(pool.etag);
    assert.ok(pool.createTime && pool.updateTime);
    assert.match(
      pool.latestReadyRevision ?? '',
      /^projects\/demo-project\/locations\/us-central1\/workerPools\/contract\/revisions\/contract-00001-[a-z0-9]{3}$/,
    );
    assert.equal(pool.latestCreatedRevision, pool.latestReadyRevision);
    const rev = short(pool.latestReadyRevision);
    assert.equal(pool.instanceSplitStatuses?.length, 1);
    assert.equal(pool.instanceSplitStatuses?.[0]?.revision, rev);
    assert.equal(pool.instanceSplitStatuses?.[0]?.percent, 100);
    assert.equal(pool.scaling?.manualInstanceCount, 2);
    await eventually(() => running('contract', rev).length === 2, 'two instances');

    const log = join(root, 'logs', 'workerPools', 'contract', `${rev}.log`);
    await eventually(
      async () =>
        ((await readFile(log, 'utf8').catch(() => '')).match(/stdout: \{/g) ?? []).length === 2,
      'both instances to log',
    );
    const lines = (await readFile(log, 'utf8'))
      .split('\n')
      .filter((l) => l.includes('stdout: {'))
      .map((l) => ({
        instance: /instance (\d+) stdout/.exec(l)?.[1],
        seen: JSON.parse(l.slice(l.indexOf('{'))) as Record<string, unknown>,
      }));
    assert.deepEqual(lines.map((l) => l.instance).sort(), ['0', '1']);
    for (const { seen } of lines) {
      assert.equal(seen.workerPool, 'contract');
      assert.equal(seen.revision, rev);
      assert.equal(seen.port, null, 'a worker pool instance gets no PORT');
      assert.equal(seen.greeting, 'hi');
    }
    assert.equal(run.workerPools.logPath(`${PARENT}/workerPools/contract`), log);
  });

  test('get, list, and the revisions through RevisionsClient', async () => {
    const pool = await create('listed', { template: template() });
    const [got] = await pools.getWorkerPool({ name: pool.name! });
    assert.equal(got.etag, pool.etag);
    assert.equal(got.scaling?.manualInstanceCount, 1, 'one instance by default');
    const [all] = await pools.listWorkerPools({ parent: PARENT });
    assert.ok(all.some((p) => p.name === pool.name));
    const [revs] = await revisions.listRevisions({ parent: pool.name! });
    assert.deepEqual(
      revs.map((r) => r.name),
      [pool.latestReadyRevision],
    );
    const [rev] = await revisions.getRevision({ name: pool.latestReadyRevision! });
    assert.equal(rev.scalingStatus?.desiredMinInstanceCount, 1);
    assert.ok(
      rev.conditions?.some(
        (c) => c.type === 'ContainerHealthy' && state(c.state) === 'CONDITION_SUCCEEDED',
      ),
    );
    // Revision in the client's protos has no containerStatuses: read the JSON.
    const raw = await call('GET', rev.name!);
    assert.match(raw.body.containerStatuses[0]?.imageDigest ?? '', /@sha256:[0-9a-f]{64}$/);
    assert.equal(raw.body.logUri, `file://${run.workerPools.logPath(pool.name!)}`);
    running('listed', short(rev.name));
  });

  test('instance splits share the manual instance count between revisions', async () => {
    const pool = await create('split', {
      template: template([{ name: 'GREETING', value: 'a' }]),
      scaling: { manualInstanceCount: 4 },
    });
    const a = short(pool.latestReadyRevision);
    await eventually(() => running('split', a).length === 4, 'four instances of a');
    // A new revision pinned at 0%: it starts (and is checked) but then runs no instance.
    const pinned = await update({
      name: pool.name,
      template: template([{ name: 'GREETING', value: 'b' }], { revision: 'split-b' }),
      instanceSplits: [{ type: REVISION, revision: a, percent: 100 }],
      scaling: pool.scaling,
    });
    assert.equal(short(pinned.latestReadyRevision), 'split-b');
    await eventually(() => running('split', 'split-b').length === 0, 'b to run none');
    assert.equal(running('split', a).length, 4);
    const half = await update({
      name: pool.name,
      template: pinned.template,
      scaling: pinned.scaling,
      instanceSplits: [
        { type: REVISION, revision: a, percent: 50 },
        { type: REVISION, revision: 'split-b', percent: 50 },
      ],
    });
    assert.deepEqual(
      half.instanceSplitStatuses?.map((s) => [s.revision, s.percent]),
      [
        [a, 50],
        ['split-b', 50],
      ],
    );
    await eventually(
      () => running('split', a).length === 2 && running('split', 'split-b').length === 2,
      'two and two',
    );
    const [revB] = await revisions.getRevision({ name: `${pool.name}/revisions/split-b` });
    assert.equal(revB.scalingStatus?.desiredMinInstanceCount, 2);
    // Changing the count alone (update mask) makes no revision; 3 at 50/50 gives the tie to a.
    const three = await update(
      { name: pool.name, scaling: { manualInstanceCount: 3 } },
      { updateMask: { paths: ['scaling.manual_instance_count'] } },
    );
    assert.equal(short(three.latestCreatedRevision), 'split-b');
    assert.equal(three.instanceSplits?.length, 2, 'the mask kept the splits');
    await eventually(
      () => running('split', a).length === 2 && running('split', 'split-b').length === 1,
      'two and one',
    );
    // Back to LATEST: a stops.
    const latest = await update(
      { name: pool.name, instanceSplits: [{ type: 1, percent: 100 }] },
      { updateMask: { paths: ['instance_splits'] } },
    );
    assert.deepEqual(
      latest.instanceSplitStatuses?.map((s) => [s.revision, s.percent]),
      [['split-b', 100]],
    );
    await eventually(
      () => running('split', a).length === 0 && running('split', 'split-b').length === 3,
      'three of b, none of a',
    );
    // Without a mask an update replaces the pool: no scaling means the default, one instance.
    const replaced = await update({ name: pool.name, template: latest.template });
    assert.equal(replaced.scaling?.manualInstanceCount, 1);
    await eventually(() => running('split', 'split-b').length === 1, 'one instance of b');
  });

  test("a candidate's crashing instances are restarted and mark the revision's ContainerHealthy", async () => {
    const pool = await create('crashy', {
      template: template(),
      scaling: { manualInstanceCount: 2 },
    });
    const stable = short(pool.latestReadyRevision);
    const before = Date.now();
    const updated = await update({
      name: pool.name,
      template: template(
        [
          { name: 'MODE', value: 'crash-after' },
          { name: 'CRASH_AFTER_MS', value: String(START_MS + 300) },
        ],
        { revision: 'crashy-candidate' },
      ),
      scaling: pool.scaling,
      instanceSplits: [
        { type: REVISION, revision: stable, percent: 50 },
        { type: REVISION, revision: 'crashy-candidate', percent: 50 },
      ],
    });
    // It outlived the start grace, so the write succeeded; the crashes come during the bake.
    assert.equal(state(updated.terminalCondition?.state), 'CONDITION_SUCCEEDED');
    const first = running('crashy', 'crashy-candidate');
    assert.equal(first.length, 1);
    const name = `${pool.name}/revisions/crashy-candidate`;
    await eventually(async () => {
      const [rev] = await revisions.getRevision({ name });
      const c = rev.conditions?.find((x) => x.type === 'ContainerHealthy');
      return state(c?.state) === 'CONDITION_FAILED';
    }, 'the candidate to be marked unhealthy');
    const [rev] = await revisions.getRevision({ name });
    const healthy = rev.conditions!.find((x) => x.type === 'ContainerHealthy')!;
    assert.match(
      healthy.message ?? '',
      /^Container called exit\(1\)\. \(\d+ instance exits? since the revision started\.\)$/,
    );
    const at = Number(healthy.lastTransitionTime?.seconds) * 1000;
    assert.ok(at >= before - 1000, 'the condition carries the time of the crash');
    await eventually(
      () => running('crashy', 'crashy-candidate').some((pid) => !first.includes(pid)),
      'a replacement instance',
    );
    // The stable revision is untouched.
    const [stableRev] = await revisions.getRevision({ name: `${pool.name}/revisions/${stable}` });
    assert.equal(
      state(stableRev.conditions?.find((x) => x.type === 'ContainerHealthy')?.state),
      'CONDITION_SUCCEEDED',
    );
    assert.equal(running('crashy', stable).length, 1);
    const log = await readFile(run.workerPools.logPath(pool.name!, 'crashy-candidate'), 'utf8');
    assert.match(log, /runway: instance 0 exited with code 1; starting a new one/);
  });

  test('a revision whose container exits at once fails; the pool keeps running what it ran', async () => {
    const pool = await create('broken', { template: template() });
    const stable = short(pool.latestReadyRevision);
    const err = await rejection(
      update({ name: pool.name, template: template([{ name: 'MODE', value: 'exit' }]) }),
    );
    assertCode(err, 'FAILED_PRECONDITION');
    assert.match(err.message, new RegExp(`is not ready.*exited with code 1 within ${START_MS} ms`));
    const [now] = await pools.getWorkerPool({ name: pool.name! });
    assert.equal(state(now.terminalCondition?.state), 'CONDITION_FAILED');
    assert.equal(short(now.latestReadyRevision), stable);
    assert.notEqual(now.latestCreatedRevision, now.latestReadyRevision);
    assert.deepEqual(
      now.instanceSplitStatuses?.map((s) => s.revision),
      [stable],
    );
    const [failed] = await revisions.getRevision({ name: now.latestCreatedRevision! });
    const ready = failed.conditions?.find((c) => c.type === 'Ready');
    assert.equal(state(ready?.state), 'CONDITION_FAILED');
    assert.match(ready?.message ?? '', /Logs: runway logs broken --revision broken-00002-/);
    assert.equal(running('broken', stable).length, 1);
  });

  test('an image that does not exist fails the create', async () => {
    const err = await rejection(
      create('noimage', { template: { containers: [{ image: `${IMAGE}:missing` }] } }),
    );
    assertCode(err, 'FAILED_PRECONDITION');
    assert.match(err.message, /not found/i);
  });

  test('etags guard updates and deletes', async () => {
    const pool = await create('etag', { template: template() });
    const changed = await update(
      { name: pool.name, annotations: { a: '1' } },
      { updateMask: { paths: ['annotations'] } },
    );
    assert.notEqual(changed.etag, pool.etag);
    const stale = await rejection(
      update({
        name: pool.name,
        etag: pool.etag,
        annotations: { a: '2' },
        template: pool.template,
      }),
    );
    assertCode(stale, 'ABORTED');
    const staleDelete = await rejection(
      pools.deleteWorkerPool({ name: pool.name!, etag: pool.etag! }).then(([op]) => op.promise()),
    );
    assertCode(staleDelete, 'ABORTED');
    const [now] = await pools.getWorkerPool({ name: pool.name! });
    assert.equal(now.annotations?.a, '1');
    const [del] = await pools.deleteWorkerPool({ name: pool.name!, etag: now.etag! });
    await del.promise();
  });

  test('allowMissing creates a pool; without it a missing pool is NOT_FOUND', async () => {
    const name = `${PARENT}/workerPools/upserted`;
    const missing = await rejection(update({ name, template: template() }));
    assertCode(missing, 'NOT_FOUND');
    assert.match(
      missing.message,
      /Resource 'upserted' of kind 'WORKER_POOL' in region 'us-central1'/,
    );
    const made = await update({ name, template: template() }, { allowMissing: true });
    assert.equal(made.name, name);
    running('upserted', short(made.latestReadyRevision));
  });

  test('force_new_revision makes a revision from an unchanged template', async () => {
    const pool = await create('forced', { template: template() });
    const again = await update({ name: pool.name, template: pool.template });
    assert.equal(again.latestCreatedRevision, pool.latestCreatedRevision);
    const forced = await update(
      { name: pool.name, template: pool.template },
      { forceNewRevision: true },
    );
    assert.notEqual(forced.latestCreatedRevision, pool.latestCreatedRevision);
    assert.equal(forced.latestReadyRevision, forced.latestCreatedRevision);
    await eventually(
      () =>
        running('forced', short(pool.latestReadyRevision)).length === 0 &&
        running('forced', short(forced.latestReadyRevision)).length === 1,
      'the instance to move to the new revision',
    );
  });

  test('revisions named in the splits cannot be deleted; others can', async () => {
    const pool = await create('revdel', { template: template() });
    const old = short(pool.latestReadyRevision);
    const next = await update({ name: pool.name, template: template([{ name: 'V', value: '2' }]) });
    const inUse = await rejection(revisions.deleteRevision({ name: next.latestReadyRevision! }));
    assertCode(inUse, 'FAILED_PRECONDITION');
    assert.match(inUse.message, /named in the worker pool's instance splits/);
    const [op] = await revisions.deleteRevision({ name: `${pool.name}/revisions/${old}` });
    await op.promise();
    const [revs] = await revisions.listRevisions({ parent: pool.name! });
    assert.deepEqual(
      revs.map((r) => r.name),
      [next.latestReadyRevision],
    );
    const gone = await rejection(revisions.getRevision({ name: `${pool.name}/revisions/${old}` }));
    assertCode(gone, 'NOT_FOUND');
  });

  test('deleting a pool stops every instance', async () => {
    const pool = await create('doomed', {
      template: template(),
      scaling: { manualInstanceCount: 3 },
    });
    const rev = short(pool.latestReadyRevision);
    await eventually(() => running('doomed', rev).length === 3, 'three instances');
    const mine = running('doomed', rev);
    const [op] = await pools.deleteWorkerPool({ name: pool.name! });
    const [deleted] = await op.promise();
    assert.equal(deleted.name, pool.name);
    for (const pid of mine) assert.equal(alive(pid), false, `instance ${pid} still runs`);
    const err = await rejection(pools.getWorkerPool({ name: pool.name! }));
    assertCode(err, 'NOT_FOUND');
  });
});

describe('worker pool requests Cloud Run refuses', () => {
  const cases: { name: string; id?: string; pool: Record<string, unknown>; refused: RegExp }[] = [
    { name: 'an id with capitals', id: 'Bad_Pool', pool: {}, refused: /worker_pool_id/ },
    { name: 'an id ending in a hyphen', id: 'bad-', pool: {}, refused: /worker_pool_id/ },
    {
      name: 'no template',
      pool: { template: undefined },
      refused: /worker_pool\.template: template is required/,
    },
    {
      name: 'a reserved variable',
      pool: {
        template: {
          containers: [{ image: 'IMAGE', env: [{ name: 'CLOUD_RUN_WORKER_POOL', value: 'x' }] }],
        },
      },
      refused: /reserved env names were provided: CLOUD_RUN_WORKER_POOL/,
    },
    {
      name: 'a negative instance count',
      pool: { scaling: { manualInstanceCount: -1 } },
      refused: /manual_instance_count must be 0 or more/,
    },
    {
      name: 'a revision name without the pool prefix',
      pool: { template: { revision: 'other-1', containers: [{ image: 'IMAGE' }] } },
      refused: /must start with the worker pool name/,
    },
    {
      name: 'splits summing to 90',
      pool: { instanceSplits: [{ type: 'INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST', percent: 90 }] },
      refused: /must sum to 100, not 90/,
    },
    {
      name: 'a split naming an unknown revision',
      pool: { instanceSplits: [{ type: 2, revision: 'refused-nope', percent: 100 }] },
      refused: /Revision 'refused-nope' does not exist in worker pool/,
    },
    {
      name: 'an unknown field',
      pool: { trafic: [] },
      refused: /Unknown name "trafic"/,
    },
    {
      name: 'an unknown split type number',
      pool: { instanceSplits: [{ type: 7, percent: 100 }] },
      refused: /Invalid value at 'worker_pool\.instance_splits\[0\]\.type'/,
    },
    {
      name: 'a fractional percent',
      pool: { instanceSplits: [{ type: 1, percent: 99.5 }] },
      refused: /Invalid value at 'worker_pool\.instance_splits\[0\]\.percent' \(TYPE_INT32\)/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const body = { template: { containers: [{ image }] }, ...c.pool };
      const text = JSON.stringify(body).replaceAll('"IMAGE"', JSON.stringify(image));
      const id = c.id ?? 'refused';
      const res = await call('POST', `${PARENT}/workerPools?workerPoolId=${id}`, JSON.parse(text));
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.status, 'INVALID_ARGUMENT');
      assert.match(res.body.error.message, c.refused);
      const list = await call('GET', `${PARENT}/workerPools`);
      assert.ok(
        !(list.body.workerPools ?? []).some((p) => p.name.endsWith(`/${id}`)),
        'nothing was created',
      );
    });
  }

  test('a bad split on an update changes nothing', async () => {
    const pool = await create('keeps', { template: template() });
    const rev = short(pool.latestReadyRevision);
    for (const instanceSplits of [
      [
        { type: REVISION, revision: rev, percent: 50 },
        { type: REVISION, revision: rev, percent: 50 },
      ],
      [{ type: REVISION, revision: rev, percent: 101 }],
    ]) {
      const err = await rejection(
        update({ name: pool.name, template: pool.template, instanceSplits }),
      );
      assertCode(err, 'INVALID_ARGUMENT');
    }
    const [now] = await pools.getWorkerPool({ name: pool.name! });
    assert.equal(now.etag, pool.etag);
    running('keeps', rev);
  });

  test('validateOnly creates nothing and starts nothing', async () => {
    const res = await call('POST', `${PARENT}/workerPools?workerPoolId=dry&validateOnly=true`, {
      template: { containers: [{ image }] },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.done, true);
    assert.equal(res.body.response.name, `${PARENT}/workerPools/dry`);
    const got = await call('GET', `${PARENT}/workerPools/dry`);
    assert.equal(got.status, 404);
  });

  test('an id that is taken is ALREADY_EXISTS', async () => {
    const pool = await create('twice', { template: template() });
    running('twice', short(pool.latestReadyRevision));
    const err = await rejection(create('twice', { template: template() }));
    assertCode(err, 'ALREADY_EXISTS');
  });
});
