// The operator commands' Google implementations (cli/google.ts) over real sockets, against the
// local cloud's APIs through the same clients: the Workflows Executions API (start with labels,
// read, list by label newest first across pages, errors as text), gate answers on its callback
// URLs with an OAuth2 token, Cloud Run services and revisions (the fake Run API, which speaks the
// same wire format), who the credentials are, and the deployer asked with an ID token.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type ExecutionsServer, startExecutionsServer } from '../../local/workflows/api/server.ts';
import { localClientOptions } from '../../services/shared/clients.ts';
import { Refused } from '../../cli/exit.ts';
import {
  type CredentialSource,
  credentialsCaller,
  googleCallbacks,
  runServices,
  tokenDeployer,
  workflowsExecutions,
} from '../../cli/google.ts';
import { waitForExecution } from '../../cli/operate.ts';
import { type FakeRun, startFakeRun } from '../fixtures/fake-run.ts';

const PROJECT = 'local-project';
const REGION = 'us-central1';
const PARENT = `projects/${PROJECT}/locations/${REGION}/workflows/ops`;
// Returns its argument; raises `fail` when given; with `gate`, opens a callback endpoint (its URL
// logged) and returns the body of the request that answers it.
const OPS = `main:
  params: [args]
  steps:
    - check:
        switch:
          - condition: \${map.get(args, "fail") != null}
            raise: \${args.fail}
    - gate:
        switch:
          - condition: \${map.get(args, "gate") == true}
            steps:
              - create:
                  call: events.create_callback_endpoint
                  args:
                    http_callback_method: POST
                  result: cb
              - announce:
                  call: sys.log
                  args:
                    text: \${cb.url}
              - wait:
                  call: events.await_callback
                  args:
                    callback: \${cb}
                    timeout: 3600
                  result: heard
              - answered:
                  return: \${heard.http_request}
    - done:
        return: \${args}
`;

let server: ExecutionsServer;
const logged: string[] = [];
const fastSleep = () => new Promise<void>((r) => setImmediate(r));

before(async () => {
  server = await startExecutionsServer({
    project: PROJECT,
    location: REGION,
    host: '127.0.0.1',
    port: 0,
    engineOptions: {
      log: ({ payload }) => {
        if (typeof payload === 'string') logged.push(payload);
      },
    },
  });
  server.deploy('ops', OPS);
});
after(() => server.close());

describe('workflowsExecutions: the Executions API through @google-cloud/workflows', () => {
  let executions: ReturnType<typeof workflowsExecutions>;
  before(() => {
    executions = workflowsExecutions(localClientOptions(server.host), PARENT);
  });
  after(() => executions.close());

  test('start with labels, then read: argument and result as JSON, the id from the name', async () => {
    const started = await executions.start({ n: 1 }, { pipeline: 'web', action: 'rollback' });
    assert.match(started.name, new RegExp(`^${PARENT}/executions/[0-9a-f-]+$`));
    assert.equal(started.id, started.name.split('/').pop());
    const done = await waitForExecution(executions, started.name, { sleep: fastSleep });
    assert.equal(done?.state, 'SUCCEEDED');
    assert.deepEqual(done?.argument, { n: 1 });
    assert.deepEqual(done?.result, { n: 1 });
    assert.deepEqual(done?.labels, {
      pipeline: 'web',
      action: 'rollback',
      'runway-billed-steps': done?.labels['runway-billed-steps'],
    });
    assert.equal(done?.routine, null);
    assert.ok(done?.startTime && done.endTime && done.startTime <= done.endTime);
  });

  const failures = [
    {
      name: 'a raised string is the message',
      raise: 'rollback refused: x',
      want: 'rollback refused: x',
    },
    { name: "a raised map's message", raise: { message: 'boom', code: 7 }, want: 'boom' },
  ];
  for (const c of failures) {
    test(`errors as text: ${c.name}`, async () => {
      const started = await executions.start({ fail: c.raise }, { pipeline: 'errors' });
      const done = await waitForExecution(executions, started.name, { sleep: fastSleep });
      assert.equal(done?.state, 'FAILED');
      assert.equal(done?.error, c.want);
    });
  }

  test('list: more than a page (100) of executions', async () => {
    const names: string[] = [];
    for (let i = 0; i < 103; i++)
      names.push((await executions.start({ i }, { pipeline: 'many' })).name);
    const got = await executions.list({ labels: { pipeline: 'many' }, limit: 102 });
    assert.deepEqual(
      got.map((e) => e.name),
      names.reverse().slice(0, 102),
    );
  });

  test('list: by every label, newest first, at most the limit', async () => {
    const names: string[] = [];
    for (let i = 0; i < 5; i++)
      names.push(
        (await executions.start({ i }, { pipeline: 'listed', kind: i % 2 ? 'odd' : 'even' })).name,
      );
    await executions.start({}, { pipeline: 'other' });
    const all = await executions.list({ labels: { pipeline: 'listed' }, limit: 100 });
    assert.deepEqual(
      all.map((e) => e.name),
      [...names].reverse(),
    );
    const even = await executions.list({
      labels: { pipeline: 'listed', kind: 'even' },
      limit: 100,
    });
    assert.deepEqual(
      even.map((e) => (e.argument as { i: number }).i),
      [4, 2, 0],
    );
    const two = await executions.list({ labels: { pipeline: 'listed' }, limit: 2 });
    assert.deepEqual(
      two.map((e) => e.name),
      [names[4], names[3]],
    );
    assert.deepEqual(await executions.list({ labels: { pipeline: 'nobody' }, limit: 10 }), []);
  });

  test('waitForExecution stops waiting when told to, and hears the routine running', async () => {
    const started = await executions.start({ gate: true }, { pipeline: 'waits' });
    const routines: string[] = [];
    const done = await waitForExecution(executions, started.name, {
      sleep: fastSleep,
      stop: new Promise((r) => setTimeout(r, 50)),
      onRoutine: (r) => routines.push(r),
    });
    assert.equal(done, null);
    assert.deepEqual(routines, ['main']);
  });
});

describe('googleCallbacks: a gate answered with an OAuth2 token', () => {
  let executions: ReturnType<typeof workflowsExecutions>;
  before(() => {
    executions = workflowsExecutions(localClientOptions(server.host), PARENT);
  });
  after(() => executions.close());
  const callbacks = googleCallbacks(localClientOptions('127.0.0.1:1').authClient);

  async function gateUrl(id: string): Promise<string> {
    for (;;) {
      const url = logged.find((u) => u.includes(`/executions/${id}/callbacks/`));
      if (url) return url;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  test('the answer reaches the waiting execution as its body', async () => {
    const started = await executions.start({ gate: true }, { pipeline: 'gate' });
    const url = await gateUrl(started.id);
    const answer = { decision: 'approve' as const, by: 'user:alice@example.com', reason: 'ok' };
    await callbacks.send(url, answer);
    const done = await waitForExecution(executions, started.name, { sleep: fastSleep });
    const heard = done?.result as { body: unknown; headers: Record<string, string> };
    assert.deepEqual(heard.body, answer);
    assert.equal(heard.headers.Authorization, 'Bearer local-fake-token');
    await assert.rejects(
      callbacks.send(url, answer),
      (err: Error) => err instanceof Refused && /the gate is closed/.test(err.message),
      'the execution ended: its callback is gone',
    );
  });
});

describe('runServices: Cloud Run services and revisions through @google-cloud/run', () => {
  let run: FakeRun;
  let services: ReturnType<typeof runServices>;
  before(async () => {
    run = await startFakeRun();
    services = runServices(localClientOptions(run.host), { project: PROJECT, region: REGION });
    const name = `projects/${PROJECT}/locations/${REGION}/services/web`;
    run.services.set(name, {
      name,
      uri: 'https://web.example',
      etag: '"1"',
      generation: 1,
      annotations: { 'runway.dev/digest': 'sha256:1', 'runway.dev/previous': 'sha256:0' },
      template: {},
      traffic: [],
      revisions: ['web-000000000001'],
    });
  });
  after(async () => {
    await services.close();
    await run.close();
  });
  test('a service: its annotations and URL', async () => {
    assert.deepEqual(await services.service('web'), {
      annotations: { 'runway.dev/digest': 'sha256:1', 'runway.dev/previous': 'sha256:0' },
      uri: 'https://web.example',
    });
  });
  test('no such service: null', async () => assert.equal(await services.service('api'), null));
  test('revisions that exist and that do not', async () => {
    assert.equal(await services.revisionExists('web', 'web-000000000001'), true);
    assert.equal(await services.revisionExists('web', 'web-ffffffffffff'), false);
  });
});

describe('credentialsCaller: who the credentials are', () => {
  const cases: {
    name: string;
    source: Partial<CredentialSource>;
    want: string | RegExp;
  }[] = [
    {
      name: 'a service account: its own email',
      source: { serviceAccountEmail: async () => 'deployer@p.iam.gserviceaccount.com' },
      want: 'serviceAccount:deployer@p.iam.gserviceaccount.com',
    },
    {
      name: "user credentials: the token's email (tokeninfo)",
      source: {
        serviceAccountEmail: async () => undefined,
        accessToken: async () => 'ya29.token',
        tokenEmail: async (t) => (t === 'ya29.token' ? 'alice@example.com' : undefined),
      },
      want: 'user:alice@example.com',
    },
    {
      name: 'a token that names no email',
      source: {
        serviceAccountEmail: async () => undefined,
        accessToken: async () => 'ya29.token',
        tokenEmail: async () => undefined,
      },
      want: /cannot tell who the application default credentials are/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const source = {
        serviceAccountEmail: async () => undefined,
        accessToken: async () => assert.fail('no token needed'),
        tokenEmail: async () => assert.fail('no tokeninfo needed'),
        ...c.source,
      } as CredentialSource;
      const caller = credentialsCaller(source);
      if (typeof c.want === 'string') assert.equal(await caller.member(), c.want);
      else await assert.rejects(caller.member(), { message: c.want });
    });
  }
});

test('tokenDeployer: POST /releases with the ID token, the answer whatever its status', async () => {
  const seen: { auth?: string; type?: string; body: unknown }[] = [];
  const deployer = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({
        auth: req.headers.authorization,
        type: req.headers['content-type'],
        body: JSON.parse(body),
      });
      const frozen = (JSON.parse(body) as { pipeline: string }).pipeline === 'frozen';
      res.writeHead(frozen ? 409 : 202, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          frozen
            ? { error: { code: 409, message: 'the freeze year-end blocks it' } }
            : { releases: [{ kind: 'started', pipeline: 'web', execution: 'e-1' }] },
        ),
      );
    });
  });
  await new Promise<void>((r) => deployer.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(deployer.address() as AddressInfo).port}`;
    const client = tokenDeployer(
      async () => url,
      async () => 'id-token',
    );
    const image = `us-central1-docker.pkg.dev/p/apps/web@sha256:${'1'.repeat(64)}`;
    assert.deepEqual(await client.release({ pipeline: 'web', image }), {
      status: 202,
      body: { releases: [{ kind: 'started', pipeline: 'web', execution: 'e-1' }] },
    });
    assert.equal((await client.release({ pipeline: 'frozen', image })).status, 409);
    assert.deepEqual(seen[0], {
      auth: 'Bearer id-token',
      type: 'application/json',
      body: { pipeline: 'web', image },
    });
  } finally {
    await new Promise<void>((r) => deployer.close(() => r()));
  }
});
