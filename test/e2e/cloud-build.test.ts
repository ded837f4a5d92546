// runway's own cloudbuild.yaml on the local cloud, as `runway local build` runs it: the source
// uploaded, `npm ci`, the test step (swapped by _TEST_COMMAND for something fast), runway's
// deployer and acceptance images built as `runway local up` builds them and pushed by tag to the
// local Artifact Registry, then the deploy steps through gcloud pointed at the local cloud.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CloudBuildClient } from '@google-cloud/cloudbuild';
import { JobsClient, ServicesClient } from '@google-cloud/run';
import { buildCommand, statusName } from '../../cli/commands/build.ts';
import { repoRoot } from '../../local/images.ts';
import { DEPLOYER, type Stack, startStack } from '../../local/stack.ts';
import { localClientOptions } from '../../services/shared/clients.ts';
import { gcloudInstalled } from '../helpers/gcloud.ts';

const exec = promisify(execFile);
const COMMIT = 'c0ffee'.padEnd(40, '0');

describe("runway's cloudbuild.yaml on the local Cloud Build", () => {
  let root: string;
  let stack: Stack;
  let build: { id: string; code: number; stdout: string; stderr: string };
  let images: { deployer: string; acceptance: string };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'runway-e2e-cloud-build-'));
    // The checkout's files, with a line added to each Dockerfile so both images get new digests.
    const src = join(root, 'src');
    const { stdout } = await exec(
      'git',
      ['ls-files', '--cached', '--others', '--exclude-standard', '-z'],
      { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 },
    );
    for (const file of stdout.split('\0').filter(Boolean)) {
      await mkdir(dirname(join(src, file)), { recursive: true });
      await copyFile(join(repoRoot, file), join(src, file)).catch(() => {});
    }
    for (const name of ['deployer', 'acceptance'])
      await appendFile(join(src, 'services', name, 'Dockerfile'), `# built by ${COMMIT}\n`);

    stack = await startStack({
      config: join(repoRoot, 'runway.yaml'),
      home: join(root, 'home'),
      users: 0,
    });
    const out = new PassThrough();
    const err = new PassThrough();
    let o = '';
    let e = '';
    out.on('data', (d) => (o += d));
    err.on('data', (d) => (e += d));
    const code = await buildCommand(
      [
        src,
        '--home',
        stack.info.home,
        `--substitutions=COMMIT_SHA=${COMMIT},_TEST_COMMAND=node --version`,
      ],
      { stdout: out, stderr: err, env: {}, cwd: root, stopSignal: new Promise(() => {}) },
    );
    build = { id: /Created build (\S+);/.exec(e)?.[1] ?? '', code, stdout: o, stderr: e };
    const pushed = (name: string) =>
      stack.registry.events.find((ev) => ev.tag?.endsWith(`/apps/runway-${name}:${COMMIT}`))
        ?.digest ?? '';
    images = { deployer: pushed('deployer'), acceptance: pushed('acceptance') };
  });

  after(async () => {
    await stack?.close();
    await rm(root, { recursive: true, force: true });
  });

  test('installs, tests, builds both images as `runway local up` does and pushes them by commit tag', async () => {
    assert.ok(build.id, build.stderr);
    const client = new CloudBuildClient(localClientOptions(stack.info.build!));
    try {
      const [b] = await client.getBuild({ projectId: stack.info.project, id: build.id });
      const steps = (b.steps ?? []).map((s) => [s.id, statusName(s.status)]);
      assert.deepEqual(
        steps.slice(0, 7),
        [
          ['check-commit', 'SUCCESS'],
          ['install', 'SUCCESS'],
          ['test', 'SUCCESS'],
          ['build-deployer', 'SUCCESS'],
          ['build-acceptance', 'SUCCESS'],
          ['push-deployer', 'SUCCESS'],
          ['push-acceptance', 'SUCCESS'],
        ],
        build.stdout.slice(-3000),
      );
    } finally {
      await client.close();
    }
    assert.match(build.stdout, /Step #2 - "test": v\d+\./, 'the swapped test command ran');
    assert.match(
      build.stdout,
      /runway's deployer image: its build stage runs as scripts\/build\.mjs/,
    );
    for (const ref of Object.values(images)) assert.match(ref, /@sha256:[0-9a-f]{64}$/);
  });

  test('the deploy steps run the new digests on the deployer service and acceptance job', {
    skip: gcloudInstalled ? false : 'gcloud is not installed here: the deploy steps run gcloud',
  }, async () => {
    assert.equal(build.code, 0, build.stdout.slice(-3000));
    const options = localClientOptions(stack.run.host);
    const services = new ServicesClient(options);
    const jobs = new JobsClient(options);
    try {
      const parent = `projects/${stack.info.project}/locations/${stack.info.region}`;
      const [svc] = await services.getService({ name: `${parent}/services/${DEPLOYER}` });
      assert.equal(svc.template?.containers?.[0]?.image, images.deployer);
      for (const p of stack.config.pipelines) {
        if (!p.acceptance) continue;
        const [job] = await jobs.getJob({ name: `${parent}/jobs/${p.acceptance.job}` });
        assert.equal(job.template?.template?.containers?.[0]?.image, images.acceptance);
      }
    } finally {
      await Promise.all([services.close(), jobs.close()]);
    }
  });
});
