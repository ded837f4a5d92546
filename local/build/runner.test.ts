import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { findBuilder, imageWithoutTag, stepArgv } from './builders.ts';
import { parseBuild } from './config.ts';
import { LocalDocker, parseDockerBuild } from './docker.ts';
import { BuildRunner, rewriteWorkspace } from './runner.ts';

const roots: string[] = [];
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

interface Pushed {
  dir: string;
  image: string;
  dockerfile?: string;
}

async function setup(
  build: unknown,
  options: { timeScale?: number; cloudEnv?: Record<string, string> } = {},
) {
  const root = await mkdtemp(join(tmpdir(), 'runway-build-'));
  roots.push(root);
  const workspace = join(root, 'workspace');
  await mkdir(workspace);
  await writeFile(join(workspace, 'Dockerfile'), 'FROM node:20\nCMD ["node", "app.js"]\n');
  const pushed: Pushed[] = [];
  const docker = new LocalDocker(workspace, {
    async push(dir, image, dockerfile) {
      pushed.push({ dir, image, ...(dockerfile ? { dockerfile } : {}) });
      const digest = `sha256:${String(pushed.length).padStart(64, '0')}`;
      return { digest, digestRef: `${image.split(':')[0]}@${digest}` };
    },
  });
  const log: string[] = [];
  const runner = new BuildRunner(parseBuild(build, 'api'), {
    workspace,
    builderDir: join(root, 'builder'),
    docker,
    substitutions: { PROJECT_ID: 'p1', _X: 'x' },
    log: (l) => log.push(l),
    ...options,
  });
  return { root, workspace, runner, log, pushed };
}

const bash = (script: string, over: Record<string, unknown> = {}) => ({
  name: 'bash',
  args: ['-c', script],
  ...over,
});

describe('steps', () => {
  test('run in order in the workspace; /workspace, dir and env as Cloud Build gives them', async () => {
    const { runner, workspace, log } = await setup({
      steps: [
        bash('echo one > /workspace/a.txt', { id: 'first' }),
        bash('pwd > here.txt; echo "$GREETING" >> /workspace/a.txt', {
          dir: 'sub/dir',
          env: ['GREETING=hi from /workspace'],
        }),
        { name: 'ubuntu', args: ['cat', '/workspace/a.txt'] },
      ],
    });
    const run = await runner.run();
    assert.equal(run.status, 'SUCCESS', run.statusDetail);
    assert.deepEqual(
      run.steps.map((s) => s.status),
      ['SUCCESS', 'SUCCESS', 'SUCCESS'],
    );
    assert.equal(await readFile(join(workspace, 'a.txt'), 'utf8'), `one\nhi from ${workspace}\n`);
    assert.equal(
      (await readFile(join(workspace, 'sub/dir/here.txt'), 'utf8')).trim(),
      join(workspace, 'sub/dir'),
    );
    assert.ok(log.includes('Step #2: one'), log.join('\n'));
    assert.ok(log.includes('Starting Step #0 - "first"'));
    assert.ok(log.includes('DONE'));
    for (const s of run.steps) assert.ok((s.timing?.endMs ?? -1) >= (s.timing?.startMs ?? 0));
  });

  test('an arg is one argv entry, never parsed by a shell', async () => {
    const { runner, workspace } = await setup({
      steps: [{ name: 'ubuntu', args: ['touch', 'a; touch injected', '$(touch injected2)'] }],
    });
    assert.equal((await runner.run()).status, 'SUCCESS');
    assert.ok(existsSync(join(workspace, 'a; touch injected')));
    assert.ok(
      !existsSync(join(workspace, 'injected')) && !existsSync(join(workspace, 'injected2')),
    );
  });

  test("waitFor '-' runs steps at once: a step waits for a file the other writes", async () => {
    const { runner } = await setup({
      steps: [
        bash('for i in $(seq 100); do [ -f b.txt ] && exit 0; sleep 0.05; done; exit 1', {
          waitFor: ['-'],
          id: 'a',
        }),
        bash('touch b.txt', { waitFor: ['-'], id: 'b' }),
        bash('test -f b.txt', { waitFor: ['a', 'b'] }),
      ],
    });
    const run = await runner.run();
    assert.equal(run.status, 'SUCCESS', run.statusDetail);
  });

  test('a step without waitFor waits for every earlier step, even concurrent ones', async () => {
    const { runner, workspace } = await setup({
      steps: [
        bash('sleep 0.3; echo slow >> order.txt', { waitFor: ['-'] }),
        bash('echo fast >> order.txt', { waitFor: ['-'] }),
        bash('echo last >> order.txt'),
      ],
    });
    assert.equal((await runner.run()).status, 'SUCCESS');
    assert.equal(await readFile(join(workspace, 'order.txt'), 'utf8'), 'fast\nslow\nlast\n');
  });

  test('a failing step fails the build; later steps stay QUEUED', async () => {
    const { runner, workspace } = await setup({
      steps: [bash('exit 3'), bash('touch never')],
    });
    const run = await runner.run();
    assert.equal(run.status, 'FAILURE');
    assert.deepEqual(
      run.steps.map((s) => s.status),
      ['FAILURE', 'QUEUED'],
    );
    assert.equal(run.steps[0]?.exitCode, 3);
    assert.equal(run.failureInfo?.type, 'USER_BUILD_STEP');
    assert.match(
      run.statusDetail,
      /build step 0 "bash" failed: step exited with non-zero status: 3/,
    );
    assert.ok(!existsSync(join(workspace, 'never')));
  });

  test('a failing step cancels the steps running beside it', async () => {
    const { runner } = await setup({
      steps: [bash('sleep 30', { waitFor: ['-'] }), bash('sleep 0.1; exit 1', { waitFor: ['-'] })],
    });
    const run = await runner.run();
    assert.equal(run.status, 'FAILURE');
    assert.deepEqual(
      run.steps.map((s) => s.status),
      ['CANCELLED', 'FAILURE'],
    );
  });

  test('allowFailure and allowExitCodes', async () => {
    const { runner } = await setup({
      steps: [
        bash('exit 1', { allowFailure: true }),
        bash('exit 7', { allowExitCodes: [7] }),
        bash('true'),
      ],
    });
    const run = await runner.run();
    assert.equal(run.status, 'SUCCESS', run.statusDetail);
    assert.deepEqual(
      run.steps.map((s) => s.status),
      ['FAILURE', 'FAILURE', 'SUCCESS'],
    );
  });

  test('an exit code not in allowExitCodes fails, even with allowFailure', async () => {
    const { runner } = await setup({
      steps: [bash('exit 2', { allowExitCodes: [7], allowFailure: true })],
    });
    assert.equal((await runner.run()).status, 'FAILURE');
  });

  test('a step timeout kills the whole process tree', async () => {
    const { runner, workspace } = await setup(
      { steps: [bash('sleep 60 & echo $! > child.pid; wait', { timeout: '20s' })] },
      { timeScale: 100 },
    );
    const run = await runner.run();
    assert.equal(run.steps[0]?.status, 'TIMEOUT');
    assert.equal(run.status, 'FAILURE');
    assert.match(run.statusDetail, /timed out after 20s/);
    const pid = Number(await readFile(join(workspace, 'child.pid'), 'utf8'));
    // Killed: gone, or a zombie waiting for init to reap it.
    const state = await readFile(`/proc/${pid}/stat`, 'utf8').then(
      (t) => t.slice(t.lastIndexOf(')') + 2, t.lastIndexOf(')') + 3),
      () => 'gone',
    );
    assert.ok(
      ['gone', 'Z', 'X'].includes(state),
      `the step's child ${pid} is still running (${state})`,
    );
  });

  test('the build timeout stops the build as TIMEOUT', async () => {
    const { runner } = await setup(
      { timeout: '30s', steps: [bash('sleep 60'), bash('true')] },
      { timeScale: 100 },
    );
    const run = await runner.run();
    assert.equal(run.status, 'TIMEOUT');
    assert.deepEqual(
      run.steps.map((s) => s.status),
      ['TIMEOUT', 'QUEUED'],
    );
  });

  test('cancel stops running steps as CANCELLED', async () => {
    const { runner, log } = await setup({ steps: [bash('echo started; sleep 60')] });
    const done = runner.run();
    while (!log.some((l) => l.endsWith('started'))) await new Promise((r) => setImmediate(r));
    runner.cancel();
    const run = await done;
    assert.equal(run.status, 'CANCELLED');
    assert.equal(run.steps[0]?.status, 'CANCELLED');
  });

  test('an unknown builder fails its step naming the builder and the table', async () => {
    const { runner, log } = await setup({
      steps: [{ name: 'gcr.io/acme/custom-builder:1', args: ['x'] }],
    });
    const run = await runner.run();
    assert.equal(run.status, 'FAILURE');
    assert.match(
      run.statusDetail,
      /"gcr.io\/acme\/custom-builder:1" is not one the local Cloud Build can run/,
    );
    assert.ok(log.some((l) => l.includes('local/build/README.md')));
  });

  test('a missing executable fails the step', async () => {
    const { runner } = await setup({ steps: [{ name: 'ubuntu', args: ['no-such-tool-xyz'] }] });
    const run = await runner.run();
    assert.match(run.statusDetail, /exec: "no-such-tool-xyz": executable file not found in \$PATH/);
  });

  test('a dir outside /workspace fails the step', async () => {
    const { runner } = await setup({ steps: [bash('true', { dir: '../..' })] });
    assert.match((await runner.run()).statusDetail, /is outside \/workspace/);
  });

  test('node:* runs this machine node: a first arg that is no command gets node in front', async () => {
    const { runner, log } = await setup({
      steps: [
        { name: 'node:20', args: ['-e', 'console.log("v" + process.versions.node.split(".")[0])'] },
        { name: 'node:20-slim', args: ['node', '-e', 'console.log("as a command")'] },
        { name: 'node', entrypoint: 'bash', args: ['-c', 'echo via-bash'] },
      ],
    });
    const run = await runner.run();
    assert.equal(run.status, 'SUCCESS', `${run.statusDetail}\n${log.join('\n')}`);
    assert.ok(log.includes(`Step #0: v${process.versions.node.split('.')[0]}`));
    assert.ok(log.includes('Step #1: as a command'));
    assert.ok(log.includes('Step #2: via-bash'));
  });

  test('script runs with sh, or with its shebang', async () => {
    const { runner, log } = await setup({
      steps: [
        { name: 'ubuntu', script: 'echo "sh says $0" | sed "s|/.*/||"' },
        { name: 'bash', script: '#!/usr/bin/env bash\necho "bash ${BASH_VERSION%%.*}"' },
      ],
    });
    const run = await runner.run();
    assert.equal(run.status, 'SUCCESS', run.statusDetail);
    assert.ok(
      log.some((l) => /^Step #1: bash \d+$/.test(l)),
      log.join('\n'),
    );
  });

  test('env: the cloud env, global options.env, the step env wins, automap substitutions', async () => {
    const { runner, log } = await setup(
      {
        options: { env: ['A=global', 'B=global'], automapSubstitutions: true },
        steps: [
          bash('echo "$A $B $CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN $PROJECT_ID $_X"', {
            env: ['B=step'],
          }),
        ],
      },
      { cloudEnv: { CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN: 'http://127.0.0.1:1/' } },
    );
    assert.equal((await runner.run()).status, 'SUCCESS');
    assert.ok(log.includes('Step #0: global step http://127.0.0.1:1/ p1 x'), log.join('\n'));
  });

  test("the host's environment does not leak into steps", async () => {
    process.env.RUNWAY_TEST_SECRET = 'leak';
    try {
      const { runner, log } = await setup({ steps: [bash('echo "[${RUNWAY_TEST_SECRET:-}]"')] });
      await runner.run();
      assert.ok(log.includes('Step #0: []'));
    } finally {
      delete process.env.RUNWAY_TEST_SECRET;
    }
  });
});

describe('the docker builder and images', () => {
  const IMG = 'us-central1-docker.pkg.dev/my-project/apps/app';
  test('build, tag and push in steps; images pushed after the steps', async () => {
    const { runner, workspace, pushed, log } = await setup({
      steps: [
        {
          name: 'gcr.io/cloud-builders/docker',
          args: ['build', '-t', `${IMG}:v1`, '--build-arg', 'X=1', '.'],
        },
        { name: 'gcr.io/cloud-builders/docker', args: ['tag', `${IMG}:v1`, `${IMG}:latest`] },
        { name: 'gcr.io/cloud-builders/docker', args: ['push', `${IMG}:v1`] },
      ],
      images: [`${IMG}:latest`],
    });
    const run = await runner.run();
    assert.equal(run.status, 'SUCCESS', `${run.statusDetail}\n${log.join('\n')}`);
    assert.deepEqual(pushed, [
      { dir: workspace, image: `${IMG}:v1`, dockerfile: 'Dockerfile' },
      { dir: workspace, image: `${IMG}:latest`, dockerfile: 'Dockerfile' },
    ]);
    assert.deepEqual(
      run.images.map((i) => [i.name, i.digest]),
      [[`${IMG}:latest`, `sha256:${'2'.padStart(64, '0')}`]],
    );
    assert.ok(run.timing.PUSH?.endMs !== undefined);
  });

  test('an image in images that no step built fails the build', async () => {
    const { runner, pushed } = await setup({ steps: [bash('true')], images: [`${IMG}:nope`] });
    const run = await runner.run();
    assert.equal(run.status, 'FAILURE');
    assert.equal(run.failureInfo?.type, 'PUSH_IMAGE_NOT_FOUND');
    assert.match(
      run.statusDetail,
      /failed to find one or more images after execution of build steps: \[.*:nope\]/,
    );
    assert.equal(pushed.length, 0);
  });

  const bad: [string, string[], RegExp][] = [
    ['docker run', ['run', 'x'], /runs build, tag and push only/],
    [
      'push of an image never built',
      ['push', `${IMG}:x`],
      /An image does not exist locally with the tag/,
    ],
    ['a context outside the workspace', ['build', '-t', `${IMG}:x`, '..'], /outside the workspace/],
    [
      'a missing Dockerfile',
      ['build', '-f', 'nope/Dockerfile', '-t', `${IMG}:x`, '.'],
      /no such file or directory/,
    ],
    ['an unknown flag', ['build', '--squash', '.'], /does not support the flag --squash/],
    ['a bad tag', ['build', '-t', 'UPPER CASE', '.'], /./],
  ];
  for (const [name, args, pattern] of bad) {
    test(name, async () => {
      const { runner, log } = await setup({
        steps: [{ name: 'gcr.io/cloud-builders/docker', args }],
      });
      const run = await runner.run();
      assert.equal(run.status, 'FAILURE');
      assert.ok(
        log.some((l) => pattern.test(l)),
        log.join('\n'),
      );
    });
  }

  test('docker build argument parsing', () => {
    assert.deepEqual(
      parseDockerBuild([
        '-f',
        'a/Dockerfile',
        '--tag=x:1',
        '-t',
        'y',
        '--network=cloudbuild',
        'ctx',
      ]),
      {
        tags: ['x:1', 'y'],
        file: 'a/Dockerfile',
        context: 'ctx',
      },
    );
    assert.throws(() => parseDockerBuild(['-t']), /flag needs an argument/);
    assert.throws(() => parseDockerBuild(['a', 'b']), /exactly 1 argument/);
  });
});

describe('the builder table', () => {
  const cases: [string, string | undefined][] = [
    ['node:20', 'node'],
    ['node', 'node'],
    ['node@sha256:abc', 'node'],
    ['gcr.io/cloud-builders/docker', 'docker'],
    ['gcr.io/cloud-builders/gcloud', 'gcloud'],
    ['gcr.io/google.com/cloudsdktool/cloud-sdk:slim', 'gcloud'],
    ['gcr.io/google.com/cloudsdktool/google-cloud-cli:latest', 'gcloud'],
    ['bash', 'shell'],
    ['ubuntu:22.04', 'shell'],
    ['gcr.io/cloud-builders/git', 'git'],
    ['gcr.io/cloud-builders/kubectl', undefined],
    ['nodejs', undefined],
    ['evil/node', undefined],
  ];
  for (const [image, kind] of cases)
    test(image, () => assert.equal(findBuilder(image)?.kind, kind));

  test('image names without tags', () => {
    assert.equal(imageWithoutTag('localhost:5000/a/b:1'), 'localhost:5000/a/b');
  });

  test('argv: entrypoint wins, then the image entrypoint, then the first arg', () => {
    const always = () => true;
    assert.deepEqual(
      stepArgv(
        findBuilder('gcr.io/cloud-builders/gcloud')!,
        { entrypoint: '', args: ['version'] },
        always,
      ),
      ['gcloud', 'version'],
    );
    assert.deepEqual(
      stepArgv(
        findBuilder('gcr.io/google.com/cloudsdktool/cloud-sdk')!,
        { entrypoint: '', args: ['gcloud', 'version'] },
        always,
      ),
      ['gcloud', 'version'],
    );
    assert.deepEqual(
      stepArgv(findBuilder('bash')!, { entrypoint: '', args: ['-c', 'x'] }, always),
      ['bash', '-c', 'x'],
    );
    assert.deepEqual(
      stepArgv(findBuilder('node')!, { entrypoint: '', args: ['app.js'] }, () => false),
      ['node', 'app.js'],
    );
    assert.deepEqual(stepArgv(findBuilder('ubuntu')!, { entrypoint: '', args: [] }, always), [
      'bash',
    ]);
  });

  test('/workspace rewriting', () => {
    const ws = '/tmp/w';
    assert.equal(rewriteWorkspace('/workspace', ws), '/tmp/w');
    assert.equal(rewriteWorkspace('--out=/workspace/dist', ws), '--out=/tmp/w/dist');
    assert.equal(rewriteWorkspace('a /workspace/x "/workspace"', ws), 'a /tmp/w/x "/tmp/w"');
    assert.equal(
      rewriteWorkspace('/workspaces/x /home/workspace', ws),
      '/workspaces/x /home/workspace',
    );
  });
});
