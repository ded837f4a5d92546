// `gcloud scheduler jobs ...` against the local Cloud Scheduler, with a fresh gcloud config and a
// fake token. Skipped, naming what is missing, where gcloud is not installed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { gcloudInstalled } from '../../test/helpers/gcloud.ts';
import { loopbackServer } from '../../test/helpers/loopback.ts';
import { type LocalScheduler, startLocalScheduler } from './server.ts';

const exec = promisify(execFile);
const PROJECT = 'local-project';
const LOCATION = 'us-central1';

const received: { method: string; headers: IncomingHttpHeaders; body: string }[] = [];
const target = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    received.push({
      method: req.method ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    });
    res.writeHead(200).end();
  });
});
const targetUrl = loopbackServer(target);

describe('gcloud scheduler jobs', {
  skip: gcloudInstalled ? false : 'gcloud is not installed',
}, () => {
  let local: LocalScheduler;
  let config: string;

  before(async () => {
    local = await startLocalScheduler({ project: PROJECT });
    config = await mkdtemp(join(tmpdir(), 'gcloud-config-'));
    await writeFile(join(config, 'gce'), 'False');
  });
  after(async () => {
    await local.close();
    await rm(config, { recursive: true, force: true });
  });

  /** Runs `gcloud scheduler jobs ARGS --location=us-central1 --format=json`; stdout as JSON. */
  async function gcloud(...args: string[]): Promise<unknown> {
    const { stdout } = await exec(
      'gcloud',
      ['scheduler', 'jobs', ...args, `--location=${LOCATION}`, '--format=json'],
      {
        timeout: 60_000,
        env: {
          ...process.env,
          CLOUDSDK_CONFIG: config,
          CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDSCHEDULER: `${local.url}/`,
          CLOUDSDK_AUTH_ACCESS_TOKEN: 'fake',
          CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
          CLOUDSDK_CORE_PROJECT: PROJECT,
          CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
        },
      },
    );
    return stdout.trim() === '' ? undefined : JSON.parse(stdout);
  }

  test('create http, describe, list', async () => {
    const created = (await gcloud(
      'create',
      'http',
      'runway-reconcile',
      '--schedule=*/15 * * * *',
      '--time-zone=Etc/UTC',
      `--uri=${targetUrl()}/reconcile`,
      '--http-method=POST',
      '--headers=Content-Type=application/json',
      '--message-body={"verify":false}',
      '--max-retry-attempts=3',
      '--min-backoff=10s',
      '--oidc-service-account-email=scheduler@local-project.iam.gserviceaccount.com',
      `--oidc-token-audience=${targetUrl()}`,
    )) as Record<string, unknown>;
    const name = `projects/${PROJECT}/locations/${LOCATION}/jobs/runway-reconcile`;
    assert.equal(created.name, name);
    const job = (await gcloud('describe', 'runway-reconcile')) as {
      state: string;
      schedule: string;
      httpTarget: { body: string; httpMethod: string; headers: Record<string, string> };
      retryConfig: { retryCount: number; minBackoffDuration: string };
    };
    assert.equal(job.state, 'ENABLED');
    assert.equal(job.schedule, '*/15 * * * *');
    assert.equal(job.httpTarget.httpMethod, 'POST');
    assert.equal(Buffer.from(job.httpTarget.body, 'base64').toString(), '{"verify":false}');
    assert.equal(job.httpTarget.headers['Content-Type'], 'application/json');
    assert.equal(job.retryConfig.retryCount, 3);
    assert.equal(job.retryConfig.minBackoffDuration, '10s');
    const list = (await gcloud('list')) as { name: string }[];
    assert.deepEqual(
      list.map((j) => j.name),
      [name],
    );
  });

  test('run sends the request; pause and resume change the state', async () => {
    await gcloud('run', 'runway-reconcile');
    for (let i = 0; i < 400 && received.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(received.length, 1);
    assert.equal(received[0]!.method, 'POST');
    assert.equal(received[0]!.body, '{"verify":false}');
    assert.equal(received[0]!.headers['content-type'], 'application/json');
    await gcloud('pause', 'runway-reconcile');
    assert.equal(
      ((await gcloud('describe', 'runway-reconcile')) as { state: string }).state,
      'PAUSED',
    );
    await gcloud('resume', 'runway-reconcile');
    assert.equal(
      ((await gcloud('describe', 'runway-reconcile')) as { state: string }).state,
      'ENABLED',
    );
  });

  test('update http changes the schedule', async () => {
    await gcloud('update', 'http', 'runway-reconcile', '--schedule=0 * * * *');
    const job = (await gcloud('describe', 'runway-reconcile')) as {
      schedule: string;
      httpTarget: { uri: string };
    };
    assert.equal(job.schedule, '0 * * * *');
    assert.equal(job.httpTarget.uri, `${targetUrl()}/reconcile`);
  });

  test('a bad schedule is refused with Google’s message', async () => {
    await assert.rejects(
      gcloud('create', 'http', 'bad', '--schedule=99 * * * *', '--uri=http://127.0.0.1:9/'),
      (err: { stderr?: string }) => /Schedule or time zone is invalid\./.test(err.stderr ?? ''),
    );
  });

  test('delete, then describe is NOT_FOUND', async () => {
    await gcloud('delete', 'runway-reconcile');
    await assert.rejects(gcloud('describe', 'runway-reconcile'), (err: { stderr?: string }) =>
      /NOT_FOUND|not found/i.test(err.stderr ?? ''),
    );
  });
});
