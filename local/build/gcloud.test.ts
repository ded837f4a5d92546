// gcloud against the local Cloud Build and Cloud Storage: `gcloud builds submit` uploads the
// directory through the Storage JSON API and creates the build; list, describe and log read it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { gcloudInstalled } from '../../test/helpers/gcloud.ts';
import { type LocalStorage, startLocalStorage } from '../storage/server.ts';
import { type LocalCloudBuild, startLocalCloudBuild } from './api.ts';

const exec = promisify(execFile);
const PROJECT = 'my-project';
const skip = gcloudInstalled
  ? false
  : 'gcloud is not installed (the Google Cloud SDK): these tests drive the local Cloud Build with it';

describe('gcloud builds', { skip }, () => {
  let root: string;
  let storage: LocalStorage;
  let cb: LocalCloudBuild;
  let env: NodeJS.ProcessEnv;
  const gcloud = (...args: string[]) => exec('gcloud', args, { env, timeout: 180_000 });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'runway-gcloud-build-'));
    storage = await startLocalStorage();
    cb = await startLocalCloudBuild({
      project: PROJECT,
      location: 'global',
      root: join(root, 'cb'),
      storage: storage.store,
      pusher: { push: async () => Promise.reject(new Error('no registry in this test')) },
    });
    await mkdir(join(root, 'gcloud'));
    await writeFile(join(root, 'gcloud', 'gce'), 'False');
    env = {
      ...process.env,
      CLOUDSDK_CONFIG: join(root, 'gcloud'),
      CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDBUILD: `${cb.url}/`,
      CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE: `${storage.url}/storage/v1/`,
      CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING: `${cb.url}/`,
      CLOUDSDK_AUTH_ACCESS_TOKEN: 'fake',
      CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
      CLOUDSDK_CORE_PROJECT: PROJECT,
      CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
    };
    const src = join(root, 'src');
    await mkdir(join(src, 'ignored'), { recursive: true });
    await writeFile(join(src, 'a.txt'), 'from the directory\n');
    await writeFile(join(src, 'ignored', 'secret.txt'), 'x');
    await writeFile(join(src, '.gcloudignore'), 'ignored/\n');
    await writeFile(
      join(src, 'cloudbuild.yaml'),
      [
        'steps:',
        '- name: bash',
        "  args: ['-c', 'cat a.txt; echo \"x=$_X sha=$COMMIT_SHA\"; test ! -e ignored/secret.txt']",
        'substitutions:',
        '  _X: default',
        'options:',
        '  logging: CLOUD_LOGGING_ONLY',
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await cb?.close();
    await storage?.close();
    await rm(root, { recursive: true, force: true });
  });

  test('submit uploads the directory (honouring .gcloudignore), runs it and waits', async () => {
    const src = join(root, 'src');
    const { stdout } = await gcloud(
      'builds',
      'submit',
      '--config',
      join(src, 'cloudbuild.yaml'),
      '--substitutions=_X=given,COMMIT_SHA=abc',
      '--format=value(id,status)',
      src,
    );
    const [id, status] = stdout.trim().split(/\s+/);
    assert.equal(status, 'SUCCESS', cb.builds.logText(id!));
    assert.ok(storage.store.hasBucket(`${PROJECT}_cloudbuild`));
    assert.match(cb.builds.logText(id!), /Step #0: from the directory\nStep #0: x=given sha=abc/);

    const listed = await gcloud('builds', 'list', '--format=value(id,status)');
    assert.match(listed.stdout, new RegExp(`${id}\\s+SUCCESS`));
    const described = await gcloud('builds', 'describe', id!, '--format=value(substitutions._X)');
    assert.equal(described.stdout.trim(), 'given');
    const log = await gcloud('builds', 'log', id!);
    assert.match(log.stdout, /Step #0: x=given sha=abc/);
  });

  test('submit is refused as Google refuses a passed key the template does not use', async () => {
    const src = join(root, 'src');
    await assert.rejects(
      gcloud(
        'builds',
        'submit',
        '--config',
        join(src, 'cloudbuild.yaml'),
        '--substitutions=_UNUSED=1',
        src,
      ),
      (err: Error & { stderr?: string }) => {
        assert.match(
          err.stderr ?? '',
          /INVALID_ARGUMENT.*key "_UNUSED" in the substitution data is not matched in the template/s,
        );
        return true;
      },
    );
  });
});
