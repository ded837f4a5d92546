// The Workflows API v1 of the local Workflows server. @google-cloud/workflows (5.x) carries only
// the Executions client, so the workflows resource is driven over REST as Google documents it,
// executions through the client, and `gcloud workflows deploy` (Google's client) where installed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ExecutionsClient } from '@google-cloud/workflows';
import { localClientOptions } from '../../../services/shared/clients.ts';
import { gcloudInstalled } from '../../../test/helpers/gcloud.ts';
import { type ExecutionsServer, startExecutionsServer } from './server.ts';
import { MAX_SOURCE_BYTES } from './workflows.ts';

const exec = promisify(execFile);
const PROJECT = 'local-project';
const LOCATION = 'us-central1';
const PARENT = `projects/${PROJECT}/locations/${LOCATION}`;
type Wf = Record<string, unknown>;
const source = (word: string) => `main:\n  steps:\n    - r:\n        return: ${word}\n`;

describe('the local Workflows API v1', () => {
  let server: ExecutionsServer;
  let executions: ExecutionsClient;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runway-workflows-api-'));
    await writeFile(join(dir, 'fromfile.yaml'), source('file'));
    server = await startExecutionsServer({ dir, project: PROJECT, location: LOCATION });
    executions = new ExecutionsClient(localClientOptions(server.host));
  });
  after(async () => {
    await executions.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A REST call that must succeed; its JSON. */
  async function rest(method: string, path: string, body?: unknown): Promise<Wf> {
    const res = await fetch(`${server.url}/v1/${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const json = (await res.json()) as Wf;
    assert.equal(res.status, 200, JSON.stringify(json));
    return json;
  }
  /** A write's operation, done, and the workflow it answers. */
  async function written(method: string, path: string, body?: unknown): Promise<Wf> {
    const op = await rest(method, path, body);
    assert.equal(op.done, true);
    assert.match(String(op.name), new RegExp(`^${PARENT}/operations/operation-`));
    return op.response as Wf;
  }

  async function runOnce(name: string): Promise<string | null | undefined> {
    const [e] = await executions.createExecution({ parent: name, execution: {} });
    for (let i = 0; i < 200; i++) {
      const [got] = await executions.getExecution({ name: e.name! });
      if (String(got.state) !== 'ACTIVE') return got.result;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('the execution did not end');
  }

  test('create, get, patch (a new revision that executions run), list and delete', async () => {
    const name = `${PARENT}/workflows/deployed`;
    const created = await written('POST', `${PARENT}/workflows?workflowId=deployed`, {
      sourceContents: source('one'),
      serviceAccount: `projects/-/serviceAccounts/wf@${PROJECT}.iam.gserviceaccount.com`,
      labels: { team: 'runway' },
    });
    assert.equal(created['@type'], 'type.googleapis.com/google.cloud.workflows.v1.Workflow');
    assert.equal(created.name, name);
    assert.equal(created.state, 'ACTIVE');
    assert.match(String(created.revisionId), /^000001-[0-9a-f]{3}$/);
    assert.equal(
      created.serviceAccount,
      `projects/${PROJECT}/serviceAccounts/wf@${PROJECT}.iam.gserviceaccount.com`,
    );
    assert.equal(await runOnce(name), '"one"');

    const patched = await written('PATCH', `${name}?updateMask=source_contents`, {
      sourceContents: source('two'),
    });
    assert.match(String(patched.revisionId), /^000002-/);
    assert.deepEqual(patched.labels, { team: 'runway' }, 'fields outside the mask are kept');
    assert.equal(await runOnce(name), '"two"', 'executions run the new revision');

    const relabelled = await written('PATCH', `${name}?updateMask=labels`, {
      labels: { team: 'ops' },
    });
    assert.equal(relabelled.revisionId, patched.revisionId, 'labels make no new revision');
    assert.equal(relabelled.createTime, created.createTime);

    const got = await rest('GET', name);
    assert.equal(got.sourceContents, source('two'));
    assert.deepEqual(got.labels, { team: 'ops' });

    const list = await rest('GET', `${PARENT}/workflows`);
    assert.deepEqual(
      (list.workflows as Wf[]).map((w) => w.name),
      [`${PARENT}/workflows/deployed`, `${PARENT}/workflows/fromfile`],
    );
    const paged = await rest('GET', `${PARENT}/workflows?pageSize=1`);
    assert.equal((paged.workflows as Wf[]).length, 1);
    assert.equal(paged.nextPageToken, '1');

    const op = await rest('DELETE', name);
    assert.equal((op.response as Wf)['@type'], 'type.googleapis.com/google.protobuf.Empty');
    const gone = await fetch(`${server.url}/v1/${name}`);
    assert.equal(gone.status, 404);
  });

  test('a deploy through the API replaces a workflow read from the directory', async () => {
    const name = `${PARENT}/workflows/fromfile`;
    assert.equal(await runOnce(name), '"file"');
    await written('PATCH', `${name}?updateMask=sourceContents`, { sourceContents: source('api') });
    assert.equal(await runOnce(name), '"api"');
  });

  test('the operation of a deploy is done and can be read back', async () => {
    const op = await rest('POST', `${PARENT}/workflows?workflowId=withop`, {
      sourceContents: source('x'),
    });
    const again = await rest('GET', String(op.name));
    assert.equal(again.done, true);
    assert.equal((again.metadata as Wf).verb, 'create');
    assert.equal((again.metadata as Wf).target, `${PARENT}/workflows/withop`);
    assert.equal((again.response as Wf).name, `${PARENT}/workflows/withop`);
    const list = await rest('GET', `${PARENT}/operations`);
    assert.ok((list.operations as Wf[]).some((o) => o.name === op.name));
  });

  const refusals: {
    name: string;
    method: string;
    path: string;
    body?: unknown;
    status: number;
    message: RegExp;
  }[] = [
    {
      name: 'a workflow that does not parse is INVALID_ARGUMENT, naming the step',
      method: 'POST',
      path: `/v1/${PARENT}/workflows?workflowId=bad`,
      body: { sourceContents: 'main:\n  steps:\n    - a:\n        bogus: 1\n' },
      status: 400,
      message: /step "a".*bogus/,
    },
    {
      name: 'a create without source',
      method: 'POST',
      path: `/v1/${PARENT}/workflows?workflowId=empty`,
      body: {},
      status: 400,
      message: /sourceContents is required/,
    },
    {
      name: 'a source over 128 KB',
      method: 'POST',
      path: `/v1/${PARENT}/workflows?workflowId=big`,
      body: { sourceContents: `# ${'x'.repeat(MAX_SOURCE_BYTES)}\n${source('big')}` },
      status: 400,
      message: /at most 131072 bytes/,
    },
    {
      name: 'a create without workflowId',
      method: 'POST',
      path: `/v1/${PARENT}/workflows`,
      body: { sourceContents: source('x') },
      status: 400,
      message: /workflowId is required/,
    },
    {
      name: 'an invalid workflowId',
      method: 'POST',
      path: `/v1/${PARENT}/workflows?workflowId=9starts-with-digit`,
      body: { sourceContents: source('x') },
      status: 400,
      message: /is not valid/,
    },
    {
      name: 'a create of a workflow that exists is ALREADY_EXISTS',
      method: 'POST',
      path: `/v1/${PARENT}/workflows?workflowId=fromfile`,
      body: { sourceContents: source('x') },
      status: 409,
      message: /already exists/,
    },
    {
      name: 'a patch of a workflow that does not exist',
      method: 'PATCH',
      path: `/v1/${PARENT}/workflows/missing?updateMask=sourceContents`,
      body: { sourceContents: source('x') },
      status: 404,
      message: /was not found/,
    },
    {
      name: 'a patch naming a field the local Workflows does not update',
      method: 'PATCH',
      path: `/v1/${PARENT}/workflows/fromfile?updateMask=cryptoKeyName`,
      body: { cryptoKeyName: 'k' },
      status: 400,
      message: /cryptoKeyName/,
    },
    {
      name: 'a service account that is not one',
      method: 'POST',
      path: `/v1/${PARENT}/workflows?workflowId=badsa`,
      body: { sourceContents: source('x'), serviceAccount: 'not an account' },
      status: 400,
      message: /serviceAccount must be/,
    },
    {
      name: 'an environment variable named GOOGLE_*',
      method: 'POST',
      path: `/v1/${PARENT}/workflows?workflowId=badenv`,
      body: { sourceContents: source('x'), userEnvVars: { GOOGLE_X: '1' } },
      status: 400,
      message: /is not a valid name/,
    },
    {
      name: 'another location',
      method: 'GET',
      path: `/v1/projects/${PROJECT}/locations/europe-west1/workflows/fromfile`,
      status: 404,
      message: /is not served here/,
    },
    {
      name: 'a body that is not JSON',
      method: 'POST',
      path: `/v1/${PARENT}/workflows?workflowId=notjson`,
      body: '{',
      status: 400,
      message: /not valid JSON/,
    },
    {
      name: 'PUT on a workflow',
      method: 'PUT',
      path: `/v1/${PARENT}/workflows/fromfile`,
      body: {},
      status: 405,
      message: /not allowed/,
    },
    {
      name: 'an unknown operation',
      method: 'GET',
      path: `/v1/${PARENT}/operations/operation-0-nope`,
      status: 404,
      message: /was not found/,
    },
  ];
  for (const c of refusals) {
    test(`refuses ${c.name}`, async () => {
      const res = await fetch(`${server.url}${c.path}`, {
        method: c.method,
        ...(c.body === undefined
          ? {}
          : {
              body: typeof c.body === 'string' ? c.body : JSON.stringify(c.body),
              headers: { 'content-type': 'application/json' },
            }),
      });
      const body = (await res.json()) as { error: { code: number; message: string } };
      assert.equal(res.status, c.status, body.error.message);
      assert.match(body.error.message, c.message);
    });
  }

  test('gcloud workflows deploy creates, then updates, what executions run', {
    skip: gcloudInstalled ? false : 'gcloud is not installed here',
  }, async () => {
    const home = await mkdtemp(join(tmpdir(), 'runway-workflows-gcloud-'));
    const env = {
      ...process.env,
      CLOUDSDK_CONFIG: home,
      CLOUDSDK_CORE_PROJECT: PROJECT,
      CLOUDSDK_AUTH_ACCESS_TOKEN: 'local',
      CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
      CLOUDSDK_API_ENDPOINT_OVERRIDES_WORKFLOWS: `${server.url}/`,
      CLOUDSDK_API_ENDPOINT_OVERRIDES_WORKFLOWEXECUTIONS: `${server.url}/`,
    };
    try {
      for (const word of ['first', 'second']) {
        const file = join(home, 'wf.yaml');
        await writeFile(file, source(word));
        await exec(
          'gcloud',
          [
            'workflows',
            'deploy',
            'bygcloud',
            `--source=${file}`,
            `--location=${LOCATION}`,
            `--service-account=wf@${PROJECT}.iam.gserviceaccount.com`,
            '--quiet',
          ],
          { env },
        );
        assert.equal(await runOnce(`${PARENT}/workflows/bygcloud`), JSON.stringify(word));
      }
      const bad = join(home, 'bad.yaml');
      await writeFile(bad, 'main:\n  steps:\n    - a:\n        bogus: 1\n');
      await assert.rejects(
        exec(
          'gcloud',
          ['workflows', 'deploy', 'bygcloud', `--source=${bad}`, `--location=${LOCATION}`],
          {
            env,
          },
        ),
        /INVALID_ARGUMENT[\s\S]*bogus/,
      );
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
