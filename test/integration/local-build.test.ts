// `runway local build` and `runway logs --build` over the local Cloud Build and Cloud Storage:
// the source uploaded as gcloud would (.gcloudignore), the build created with Google's client, its
// log streamed to stdout while it runs, and the exit code its end.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { buildCommand } from '../../cli/commands/build.ts';
import { logsCommand } from '../../cli/commands/logs.ts';
import type { Command } from '../../cli/io.ts';
import { type LocalCloudBuild, startLocalCloudBuild } from '../../local/build/api.ts';
import type { StackInfo } from '../../local/stack.ts';
import { type LocalStorage, startLocalStorage } from '../../local/storage/server.ts';

const PROJECT = 'local-project';
let root: string;
let home: string;
let src: string;
let storage: LocalStorage;
let cb: LocalCloudBuild;

async function run(command: Command, argv: string[]) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d) => (stdout += d));
  err.on('data', (d) => (stderr += d));
  const code = await command([...argv, '--home', home], {
    stdout: out,
    stderr: err,
    env: {},
    cwd: src,
    stopSignal: new Promise(() => {}),
  });
  return { code, stdout, stderr };
}

describe('runway local build', () => {
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'runway-local-build-'));
    home = join(root, 'home');
    src = join(root, 'src');
    storage = await startLocalStorage();
    cb = await startLocalCloudBuild({
      project: PROJECT,
      location: 'global',
      root: join(home, 'cloudbuild'),
      logDir: join(home, 'logs', 'builds'),
      storage: storage.store,
      pusher: { push: async () => Promise.reject(new Error('no registry in this test')) },
    });
    const info: StackInfo = {
      run: 'http://127.0.0.1:9',
      workflows: 'http://127.0.0.1:9',
      pubsub: 'http://127.0.0.1:9',
      pubsubKind: 'bridge',
      registry: 'http://127.0.0.1:9',
      monitoring: 'http://127.0.0.1:9',
      build: cb.url,
      storage: storage.url,
      deployer: 'http://127.0.0.1:9',
      project: PROJECT,
      region: 'us-central1',
      pipelines: [],
      home,
      pid: process.pid,
    };
    await mkdir(home, { recursive: true });
    await writeFile(join(home, 'stack.json'), JSON.stringify(info));
    await mkdir(join(src, 'secret'), { recursive: true });
    await mkdir(join(src, 'ci'), { recursive: true });
    await writeFile(join(src, '.gcloudignore'), 'secret/\n');
    await writeFile(join(src, 'secret', 'key'), 'x');
    await writeFile(join(src, 'app.txt'), 'the app\n');
    await writeFile(
      join(src, 'cloudbuild.yaml'),
      [
        'steps:',
        '- id: show',
        '  name: bash',
        '  args: [-c, "cat app.txt; echo greeting=$_GREETING; test ! -e secret/key"]',
        'substitutions: { _GREETING: hello }',
        'options: { logging: CLOUD_LOGGING_ONLY }',
      ].join('\n'),
    );
    await writeFile(
      join(src, 'ci', 'fail.yaml'),
      ['steps:', '- name: bash', '  args: [-c, "echo about to fail; exit 3"]'].join('\n'),
    );
  });

  after(async () => {
    await cb?.close();
    await storage?.close();
    await rm(root, { recursive: true, force: true });
  });

  test('a build that succeeds: source uploaded without ignored files, log streamed, exit 0', async () => {
    const r = await run(buildCommand, ['--substitutions', '_GREETING=hi']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Step #0 - "show": the app\nStep #0 - "show": greeting=hi\n/);
    assert.match(r.stdout, /DONE/);
    assert.match(
      r.stderr,
      /Uploaded 5 files and directories .*gs:\/\/local-project_cloudbuild\/source\/.*\.tgz/,
    );
    const id = /Created build (\S+);/.exec(r.stderr)?.[1];
    assert.ok(id);
    assert.match(r.stderr, new RegExp(`DONE: build ${id} SUCCESS`));
    assert.equal(storage.store.list('local-project_cloudbuild', 'source/').length, 1);

    const logs = await run(logsCommand, ['--build', id!]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.equal(logs.stdout, cb.builds.logText(id!));
  });

  test('a failing step: its output streamed, exit 1 naming the status', async () => {
    const r = await run(buildCommand, ['--config', 'ci/fail.yaml']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /Step #0: about to fail/);
    assert.match(r.stderr, /ERROR: build \S+ ended FAILURE/);
  });

  test('--async prints the id at once; the build runs on', async () => {
    const r = await run(buildCommand, ['--async']);
    assert.equal(r.code, 0, r.stderr);
    const id = r.stdout.trim();
    assert.match(id, /^[0-9a-f-]{36}$/);
    await cb.builds.wait(id);
    assert.match(cb.builds.logText(id), /greeting=hello/);
  });

  test('a config Google would refuse is refused before anything is uploaded: exit 1', async () => {
    await writeFile(join(src, 'ci', 'bad.yaml'), 'steps:\n- name: bash\n  argz: [x]\n');
    const before = storage.store.list('local-project_cloudbuild').length;
    const r = await run(buildCommand, ['--config', 'ci/bad.yaml']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Unknown name "argz"/);
    assert.equal(storage.store.list('local-project_cloudbuild').length, before);
  });

  test('a substitution the template does not use is refused as Google refuses it: exit 1', async () => {
    const r = await run(buildCommand, ['--substitutions', '_UNUSED=1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /key "_UNUSED" in the substitution data is not matched in the template/);
  });

  test('runway logs --build: an unknown id exits 1, a malformed one 2', async () => {
    assert.equal((await run(logsCommand, ['--build', 'no-such-build'])).code, 1);
    assert.equal((await run(logsCommand, ['--build', '../../etc/passwd'])).code, 2);
  });
});
