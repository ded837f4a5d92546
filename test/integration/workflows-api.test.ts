// The local Executions API through Google's own clients: @google-cloud/workflows in REST mode and
// `gcloud workflows run` (skipped with a message where gcloud is not installed).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ExecutionsClient } from '@google-cloud/workflows';
import { localClientOptions } from '../../services/shared/clients.ts';
import { type ExecutionsServer, startExecutionsServer } from '../../local/workflows/api/server.ts';
import { timeScaledClock } from '../../local/workflows/engine.ts';

const run = promisify(execFile);
const PROJECT = 'local-project';
const LOCATION = 'us-central1';
const dir = mkdtempSync(join(tmpdir(), 'runway-wfapi-'));
writeFileSync(
  join(dir, 'hello.yaml'),
  'main:\n  params: [args]\n  steps:\n    - r:\n        return: ${"hello " + args.name}\n',
);
writeFileSync(join(dir, 'fails.yaml'), '- r:\n    raise:\n      message: nope\n      code: 7\n');
writeFileSync(
  join(dir, 'slow.yaml'),
  '- s:\n    call: sys.sleep\n    args:\n      seconds: 3600\n',
);
const parent = (w: string) => `projects/${PROJECT}/locations/${LOCATION}/workflows/${w}`;

let server: ExecutionsServer;
let client: ExecutionsClient;
const gcloud = await run('gcloud', ['--version']).then(
  () => true,
  () => false,
);
describe('local Executions API', () => {
  before(async () => {
    server = await startExecutionsServer({
      dir,
      project: PROJECT,
      location: LOCATION,
      engineOptions: { clock: timeScaledClock(1) },
    });
    client = new ExecutionsClient(localClientOptions(server.host));
  });
  after(async () => {
    await client.close();
    await server.close();
  });

  async function waitDone(name: string) {
    for (let i = 0; i < 200; i++) {
      const [e] = await client.getExecution({ name });
      if (e.state !== 'ACTIVE' && e.state !== 1) return e;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('execution did not finish');
  }

  describe('Executions API through @google-cloud/workflows', () => {
    test('create, get and list a succeeding execution', async () => {
      const [created] = await client.createExecution({
        parent: parent('hello'),
        execution: { argument: '{"name":"runway"}', labels: { pipeline: 'web' } },
      });
      assert.match(
        created.name ?? '',
        /^projects\/local-project\/locations\/us-central1\/workflows\/hello\/executions\/[0-9a-f-]{36}$/,
      );
      const done = await waitDone(created.name!);
      assert.equal(String(done.state), 'SUCCEEDED');
      assert.equal(done.result, '"hello runway"');
      assert.equal(done.labels?.pipeline, 'web');
      assert.ok(Number(done.labels?.['runway-billed-steps']) >= 1);
      const [list] = await client.listExecutions(
        { parent: parent('hello'), filter: 'labels.pipeline="web"' },
        { autoPaginate: false },
      );
      assert.ok(list.some((e) => e.name === created.name));
    });

    test('a failing execution carries the error payload', async () => {
      const [created] = await client.createExecution({ parent: parent('fails'), execution: {} });
      const done = await waitDone(created.name!);
      assert.equal(String(done.state), 'FAILED');
      assert.deepEqual(JSON.parse(done.error?.payload ?? ''), { message: 'nope', code: 7 });
      assert.match(done.error?.context ?? '', /step "r"/);
    });

    test('cancel stops a sleeping execution within 100 ms', async () => {
      const [created] = await client.createExecution({ parent: parent('slow'), execution: {} });
      const t0 = Date.now();
      const [cancelled] = await client.cancelExecution({ name: created.name! });
      assert.equal(String(cancelled.state), 'CANCELLED');
      assert.ok(Date.now() - t0 < 500, 'cancel answered promptly');
      const [active] = await client.listExecutions(
        { parent: parent('slow'), filter: 'state="ACTIVE"' },
        { autoPaginate: false },
      );
      assert.equal(active.length, 0);
    });

    const bad = [
      {
        name: 'unknown workflow',
        path: `/v1/${parent('nope')}/executions`,
        method: 'POST',
        body: '{}',
        status: 404,
      },
      {
        name: 'argument not JSON',
        path: `/v1/${parent('hello')}/executions`,
        method: 'POST',
        body: '{"argument":"{oops"}',
        status: 400,
      },
      {
        name: 'argument not a string',
        path: `/v1/${parent('hello')}/executions`,
        method: 'POST',
        body: '{"argument":{"a":1}}',
        status: 400,
      },
      {
        name: 'body not JSON',
        path: `/v1/${parent('hello')}/executions`,
        method: 'POST',
        body: 'nope',
        status: 400,
      },
      {
        name: 'oversized argument',
        path: `/v1/${parent('hello')}/executions`,
        method: 'POST',
        body: JSON.stringify({ argument: JSON.stringify('x'.repeat(40_000)) }),
        status: 400,
      },
      {
        name: 'unknown execution',
        path: `/v1/${parent('hello')}/executions/none`,
        method: 'GET',
        status: 404,
      },
      {
        name: 'bad filter',
        path: `/v1/${parent('hello')}/executions?filter=${encodeURIComponent('state ~ x')}`,
        method: 'GET',
        status: 400,
      },
      { name: 'unknown route', path: '/v2/whatever', method: 'GET', status: 404 },
    ];
    test('bad requests get Google-shaped errors and the server keeps serving', async () => {
      for (const c of bad) {
        const res = await fetch(`${server.url}${c.path}`, {
          method: c.method,
          ...(c.body ? { body: c.body } : {}),
        });
        assert.equal(res.status, c.status, c.name);
        const body = (await res.json()) as {
          error: { code: number; status: string; message: string };
        };
        assert.equal(body.error.code, c.status, c.name);
        assert.ok(body.error.message, c.name);
      }
      const [created] = await client.createExecution({
        parent: parent('hello'),
        execution: { argument: '{"name":"again"}' },
      });
      assert.equal((await waitDone(created.name!)).result, '"hello again"');
    });
  });

  describe('Executions API through gcloud', {
    skip: gcloud ? false : 'gcloud is not installed here',
  }, () => {
    test('gcloud workflows run prints the result', async () => {
      const config = mkdtempSync(join(tmpdir(), 'gcloud-config-'));
      writeFileSync(join(config, 'gce'), 'False');
      const env = {
        ...process.env,
        CLOUDSDK_CONFIG: config,
        CLOUDSDK_API_ENDPOINT_OVERRIDES_WORKFLOWEXECUTIONS: `${server.url}/`,
        CLOUDSDK_AUTH_ACCESS_TOKEN: 'fake',
        CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
        CLOUDSDK_CORE_PROJECT: PROJECT,
        CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
      };
      const { stdout } = await run(
        'gcloud',
        [
          'workflows',
          'run',
          'hello',
          `--location=${LOCATION}`,
          '--data={"name":"gcloud"}',
          '--format=json',
        ],
        { env, timeout: 60_000 },
      );
      const execution = JSON.parse(stdout) as { state: string; result: string; name: string };
      assert.equal(execution.state, 'SUCCEEDED');
      assert.equal(execution.result, '"hello gcloud"');
      const described = await run(
        'gcloud',
        ['workflows', 'executions', 'describe', execution.name, '--format=json'],
        { env, timeout: 60_000 },
      );
      assert.equal(JSON.parse(described.stdout).state, 'SUCCEEDED');
    });
  });
});
