import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CloudBuildClient } from '@google-cloud/cloudbuild';
import * as tar from 'tar';
import { localClientOptions } from '../../services/shared/clients.ts';
import { type LocalStorage, ObjectStore, startLocalStorage } from '../storage/server.ts';
import { type LocalCloudBuild, startLocalCloudBuild } from './api.ts';

const PROJECT = 'my-project';
let root: string;
let storage: LocalStorage;
let cb: LocalCloudBuild;
let client: CloudBuildClient;
const pushed: string[] = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'runway-cb-'));
  storage = await startLocalStorage({ store: new ObjectStore() });
  cb = await startLocalCloudBuild({
    project: PROJECT,
    projectNumber: '42',
    location: 'global',
    root,
    logDir: join(root, 'logs'),
    storage: storage.store,
    pusher: {
      async push(_dir, image) {
        pushed.push(image);
        const digest = `sha256:${'a'.repeat(64)}`;
        return { digest, digestRef: `${image.split(':')[0]}@${digest}` };
      },
    },
    cloudEnv: { LOCAL_CLOUD: 'yes' },
  });
  client = new CloudBuildClient(localClientOptions(cb.host));
});
after(async () => {
  await client.close();
  await cb.close();
  await storage.close();
  await rm(root, { recursive: true, force: true });
});

/** Build.Status by name: the REST client decodes enums as numbers. */
const STATUS = [
  'STATUS_UNKNOWN',
  'QUEUED',
  'WORKING',
  'SUCCESS',
  'FAILURE',
  'INTERNAL_ERROR',
  'TIMEOUT',
  'CANCELLED',
];
const named = (s: unknown) => (typeof s === 'number' ? STATUS[s] : s);

/** The message of Google's error body inside a REST client error. */
const googleMessage = (err: Error) => {
  try {
    return String(JSON.parse(err.message).error.message);
  } catch {
    return err.message;
  }
};

const bash = (script: string, over: Record<string, unknown> = {}) => ({
  name: 'bash',
  args: ['-c', script],
  ...over,
});

describe('through @google-cloud/cloudbuild', () => {
  test('create returns an operation with the build; it ends SUCCESS with substitutions applied', async () => {
    const [op] = await client.createBuild({
      projectId: PROJECT,
      build: {
        steps: [
          bash(
            'echo "id=$BUILD_ID project=$PROJECT_ID loc=$LOCATION n=$PROJECT_NUMBER x=$_X cloud=$$LOCAL_CLOUD"',
            { id: 'hello' },
          ),
        ],
        substitutions: { _X: 'ex' },
        timeout: { seconds: 120 },
      },
    });
    const meta = op.metadata as { build?: { id?: string; status?: unknown } };
    assert.ok(meta.build?.id);
    const [build] = await op.promise();
    assert.equal(named(build.status), 'SUCCESS');
    assert.equal(named(build.steps?.[0]?.status), 'SUCCESS');
    assert.equal(String(build.timeout?.seconds), '120');
    const log = cb.builds.logText(build.id!);
    assert.match(
      log,
      new RegExp(
        `Step #0 - "hello": id=${build.id} project=${PROJECT} loc=global n=42 x=ex cloud=yes`,
      ),
    );
    const [got] = await client.getBuild({ projectId: PROJECT, id: build.id! });
    assert.equal(named(got.status), 'SUCCESS');
    assert.ok(got.finishTime);
    assert.equal(got.logsBucket, `gs://${PROJECT}_cloudbuild-logs`);
    assert.match(
      storage.store.get(`${PROJECT}_cloudbuild-logs`, `log-${build.id}.txt`).data.toString(),
      /DONE/,
    );
    // The same log in the logs directory, complete once the build is done.
    await cb.builds.wait(build.id!);
    assert.equal(await readFile(join(root, 'logs', `${build.id}.log`), 'utf8'), log);
  });

  test('the locations form, list (newest first) and get by name', async () => {
    const parent = `projects/${PROJECT}/locations/us-central1`;
    const [op] = await client.createBuild({
      parent,
      projectId: PROJECT,
      build: { steps: [bash('true')] },
    });
    const [build] = await op.promise();
    assert.equal(build.name, `${parent}/builds/${build.id}`);
    const [got] = await client.getBuild({ name: build.name! });
    assert.equal(got.id, build.id);
    const [listed] = await client.listBuilds(
      { parent, projectId: PROJECT },
      { autoPaginate: false },
    );
    assert.deepEqual(
      listed.map((b) => b.id),
      [build.id],
    );
    const [all] = await client.listBuilds({ projectId: PROJECT });
    assert.equal(all[0]?.id, build.id);
    assert.ok(all.length >= 2);
  });

  test('a failing build: the operation fails and the build says which step', async () => {
    const [op] = await client.createBuild({
      projectId: PROJECT,
      build: { steps: [bash('exit 4')] },
    });
    await assert.rejects(
      op.promise(),
      /build step 0 "bash" failed: step exited with non-zero status: 4/,
    );
    const id = (op.metadata as unknown as { build: { id: string } }).build.id;
    const [got] = await client.getBuild({ projectId: PROJECT, id });
    assert.equal(named(got.status), 'FAILURE');
    assert.ok(['USER_BUILD_STEP', 5].includes(got.failureInfo?.type as string));
    assert.equal(got.steps?.[0]?.exitCode, 4);
  });

  test('cancel stops a running build', async () => {
    const [op] = await client.createBuild({
      projectId: PROJECT,
      build: { steps: [bash('sleep 60')] },
    });
    const id = (op.metadata as unknown as { build: { id: string } }).build.id;
    while (!cb.builds.logText(id).includes('Starting Step #0'))
      await new Promise((r) => setTimeout(r, 10));
    const [cancelled] = await client.cancelBuild({ projectId: PROJECT, id });
    await cb.builds.wait(id);
    const [got] = await client.getBuild({ projectId: PROJECT, id });
    assert.equal(named(got.status), 'CANCELLED');
    assert.ok(['WORKING', 'CANCELLED'].includes(String(named(cancelled.status))));
  });

  test('storage source: the tarball is unpacked into the workspace; images are pushed', async () => {
    const src = join(root, 'src');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'hello.txt'), 'from the tarball\n');
    await writeFile(join(src, 'Dockerfile'), 'FROM node:20\nCMD ["node", "x.js"]\n');
    const tgz = join(root, 'src.tgz');
    await tar.c({ gzip: true, file: tgz, cwd: src }, ['.']);
    storage.store.createBucket(`${PROJECT}_cloudbuild`, PROJECT);
    const { readFile } = await import('node:fs/promises');
    storage.store.put(
      `${PROJECT}_cloudbuild`,
      'source/src.tgz',
      await readFile(tgz),
      'application/gzip',
    );
    const image = `us-central1-docker.pkg.dev/${PROJECT}/apps/app:$SHORT_SHA`;
    const [op] = await client.createBuild({
      projectId: PROJECT,
      build: {
        source: { storageSource: { bucket: `${PROJECT}_cloudbuild`, object: 'source/src.tgz' } },
        steps: [
          { name: 'ubuntu', args: ['cat', '/workspace/hello.txt'] },
          { name: 'gcr.io/cloud-builders/docker', args: ['build', '-t', image, '.'] },
        ],
        images: [image],
        substitutions: { SHORT_SHA: 'abc1234' },
      },
    });
    const [build] = await op.promise();
    assert.equal(named(build.status), 'SUCCESS', build.statusDetail ?? '');
    assert.match(cb.builds.logText(build.id!), /Step #0: from the tarball/);
    assert.deepEqual(pushed.at(-1), `us-central1-docker.pkg.dev/${PROJECT}/apps/app:abc1234`);
    assert.deepEqual(
      build.results?.images?.map((i) => i.digest),
      [`sha256:${'a'.repeat(64)}`],
    );
  });

  const refused: [string, Record<string, unknown>, RegExp][] = [
    [
      'a passed key the template does not use',
      { steps: [bash('true')], substitutions: { _UNUSED: 'x' } },
      /key "_UNUSED" in the substitution data is not matched in the template/,
    ],
    [
      'a shell variable',
      { steps: [{ name: 'bash', args: ['-c', 'echo $HOME'] }] },
      /key in the template "HOME" is not a valid built-in substitution/,
    ],
    [
      'secretEnv',
      { steps: [{ name: 'bash', secretEnv: ['X'] }] },
      /secretEnv is not supported by the local Cloud Build/,
    ],
    ['no steps', { steps: [] }, /no build steps are specified/],
  ];
  for (const [name, build, pattern] of refused) {
    test(`refuses ${name} with INVALID_ARGUMENT`, async () => {
      await assert.rejects(
        client.createBuild({ projectId: PROJECT, build }),
        (err: Error & { code?: number }) => {
          assert.match(googleMessage(err), pattern);
          assert.equal(err.code, 400);
          return true;
        },
      );
    });
  }

  test('another project is refused; an unknown build is NOT_FOUND', async () => {
    await assert.rejects(
      client.getBuild({ projectId: 'other-project', id: 'x' }),
      /does not have permission/,
    );
    await assert.rejects(
      client.getBuild({ projectId: PROJECT, id: 'nope' }),
      /"status":"NOT_FOUND"/,
    );
  });
});

describe('REST edges', () => {
  test('a hostile tarball cannot write outside the workspace', async () => {
    const evil = join(root, 'evil');
    await mkdir(join(evil, 'in'), { recursive: true });
    await writeFile(join(evil, 'in', 'x.txt'), 'x');
    const tgz = join(root, 'evil.tgz');
    await tar.c(
      {
        gzip: true,
        file: tgz,
        cwd: join(evil, 'in'),
        preservePaths: true,
        prefix: '../../../escaped',
      },
      ['x.txt'],
    );
    const { readFile } = await import('node:fs/promises');
    storage.store.put(
      `${PROJECT}_cloudbuild`,
      'source/evil.tgz',
      await readFile(tgz),
      'application/gzip',
    );
    const res = await fetch(`${cb.url}/v1/projects/${PROJECT}/builds`, {
      method: 'POST',
      body: JSON.stringify({
        source: { storageSource: { bucket: `${PROJECT}_cloudbuild`, object: 'source/evil.tgz' } },
        steps: [bash('true')],
      }),
    });
    const op = (await res.json()) as { metadata: { build: { id: string } } };
    await cb.builds.wait(op.metadata.build.id);
    const { existsSync } = await import('node:fs');
    assert.ok(!existsSync(join(root, 'builds', 'escaped')) && !existsSync(join(root, 'escaped')));
  });

  test('a missing source object fails the build as FETCH_SOURCE_FAILED', async () => {
    const res = await fetch(`${cb.url}/v1/projects/${PROJECT}/builds`, {
      method: 'POST',
      body: JSON.stringify({
        source: { storageSource: { bucket: `${PROJECT}_cloudbuild`, object: 'nope.tgz' } },
        steps: [bash('true')],
      }),
    });
    const op = (await res.json()) as { metadata: { build: { id: string } } };
    await cb.builds.wait(op.metadata.build.id);
    const got = (await (
      await fetch(`${cb.url}/v1/projects/${PROJECT}/builds/${op.metadata.build.id}`)
    ).json()) as { status: string; failureInfo: { type: string } };
    assert.equal(named(got.status), 'FAILURE');
    assert.equal(got.failureInfo.type, 'FETCH_SOURCE_FAILED');
  });

  test('an unknown path is 404, a wrong method 405, a body that is not JSON 400', async () => {
    assert.equal((await fetch(`${cb.url}/v2/nope`)).status, 404);
    assert.equal(
      (await fetch(`${cb.url}/v1/projects/${PROJECT}/builds`, { method: 'DELETE' })).status,
      405,
    );
    assert.equal(
      (await fetch(`${cb.url}/v1/projects/${PROJECT}/builds`, { method: 'POST', body: '{' }))
        .status,
      400,
    );
  });
});
