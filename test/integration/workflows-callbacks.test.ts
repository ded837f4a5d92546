// Callbacks over real sockets: events.create_callback_endpoint URLs served by the local
// Executions API (and by `runway workflows run`'s loopback listener), requests resuming
// events.await_callback, queueing, timeouts, cancel, Google-shaped refusals and callbacks.list.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ExecutionsServer, startExecutionsServer } from '../../local/workflows/api/server.ts';
import { parseWorkflow, startExecution, timeScaledClock } from '../../local/workflows/engine.ts';
import { startCli } from '../helpers/workflows-cli.ts';

const PROJECT = 'local-project';
const LOCATION = 'us-central1';
const dir = mkdtempSync(join(tmpdir(), 'runway-wfcb-'));
const workflows: Record<string, string> = {
  // Creates an endpoint with the method it is given, announces its URL, returns what arrives.
  await: `main:
  params: [args]
  steps:
    - create:
        call: events.create_callback_endpoint
        args:
          http_callback_method: \${args.method}
        result: callback_details
    - announce:
        call: sys.log
        args:
          text: \${callback_details.url}
    - wait:
        call: events.await_callback
        args:
          callback: \${callback_details}
          timeout: 3600
        result: callback_request
    - done:
        return: \${callback_request}
`,
  // Two endpoints awaited one after the other: a request to the second arrives before its await.
  two: `main:
  steps:
    - create_a:
        call: events.create_callback_endpoint
        result: a
    - create_b:
        call: events.create_callback_endpoint
        args:
          http_callback_method: "PUT"
        result: b
    - announce_a:
        call: sys.log
        args:
          text: \${a.url}
    - announce_b:
        call: sys.log
        args:
          text: \${b.url}
    - wait_a:
        call: events.await_callback
        args:
          callback: \${a}
        result: ra
    - wait_b:
        call: events.await_callback
        args:
          callback: \${b}
        result: rb
    - done:
        return:
          - \${ra.http_request.body}
          - \${rb.http_request.body}
          - \${rb.http_request.method}
`,
  timeout: `main:
  steps:
    - create:
        call: events.create_callback_endpoint
        result: callback_details
    - wait:
        try:
          call: events.await_callback
          args:
            callback: \${callback_details}
            timeout: 3600
          result: callback_request
        except:
          as: e
          steps:
            - timed_out:
                return:
                  tags: \${e.tags}
                  message: \${get_type(e.message)}
    - received:
        return: "received"
`,
  // Awaits a callback map it is handed: one made by another execution.
  foreign: `main:
  params: [args]
  steps:
    - wait:
        try:
          call: events.await_callback
          args:
            callback: \${args}
            timeout: 5
          result: r
        except:
          as: e
          steps:
            - refused:
                return: \${e.tags}
`,
};
for (const [name, source] of Object.entries(workflows))
  writeFileSync(join(dir, `${name}.yaml`), source);

const parent = (w: string) => `projects/${PROJECT}/locations/${LOCATION}/workflows/${w}`;

interface GoogleError {
  error: { code: number; status: string; message: string };
}
interface ListedCallback {
  name: string;
  method: string;
  availablePayloads?: string[];
  waiters?: string;
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined) {
  for (let i = 0; i < 500; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** One local Executions API with its own clock, remembering the callback URLs workflows log. */
class Api {
  readonly logged: string[] = [];
  server!: ExecutionsServer;

  async start(scale: number) {
    this.server = await startExecutionsServer({
      dir,
      project: PROJECT,
      location: LOCATION,
      engineOptions: {
        clock: timeScaledClock(scale),
        log: ({ payload }) => {
          if (typeof payload === 'string') this.logged.push(payload);
        },
      },
    });
  }

  async run(workflow: string, argument?: unknown): Promise<string> {
    const res = await fetch(`${this.server.url}/v1/${parent(workflow)}/executions`, {
      method: 'POST',
      body: JSON.stringify(argument === undefined ? {} : { argument: JSON.stringify(argument) }),
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { name: string }).name;
  }

  /** The callback URLs an execution logged, once it has logged `n`. */
  urls(execution: string, n = 1): Promise<string[]> {
    const id = execution.slice(execution.lastIndexOf('/') + 1);
    return until(`${n} callback URLs`, () => {
      const mine = this.logged.filter((u) => u.includes(`/executions/${id}/callbacks/`));
      return mine.length >= n ? mine : undefined;
    });
  }

  async get(execution: string) {
    const res = await fetch(`${this.server.url}/v1/${execution}`);
    return (await res.json()) as { state: string; result?: string; error?: { payload: string } };
  }

  done(execution: string) {
    return until('the execution to end', async () => {
      const e = await this.get(execution);
      return e.state === 'ACTIVE' ? undefined : e;
    });
  }

  async list(execution: string) {
    const res = await fetch(`${this.server.url}/v1/${execution}/callbacks`);
    return { status: res.status, body: (await res.json()) as { callbacks?: ListedCallback[] } };
  }

  /** Waits until the execution's callback ending in `url`'s ID has an await_callback waiting. */
  awaiting(execution: string, url: string) {
    const id = url.slice(url.lastIndexOf('/') + 1);
    return until('an await_callback', async () => {
      const { body } = await this.list(execution);
      return body.callbacks?.find((c) => c.name.endsWith(`/${id}`) && c.waiters === '1');
    });
  }
}

async function expectGoogleError(res: Response, status: number, what: string) {
  assert.equal(res.status, status, what);
  const body = (await res.json()) as GoogleError;
  assert.equal(body.error.code, status, what);
  assert.ok(body.error.status, what);
  assert.ok(body.error.message, what);
}

describe('workflow callbacks', () => {
  const api = new Api();
  const fast = new Api();
  before(async () => {
    await api.start(1);
    // 3600 seconds of workflow time in 0.36 s.
    await fast.start(10_000);
  });
  after(async () => {
    await api.server.close();
    await fast.server.close();
  });

  test('a request to the callback URL resumes await_callback with the documented map', async () => {
    const execution = await api.run('await', { method: 'POST' });
    const [url] = await api.urls(execution);
    assert.match(
      url!,
      new RegExp(`^${api.server.url}/v1/${execution}/callbacks/[0-9a-f-]+$`.replaceAll('/', '\\/')),
    );
    const res = await fetch(`${url}?approved=yes&tag=a&tag=b`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer any-token',
        'x-request-id': 'r-1',
      },
      body: '{"approved": true, "big": 9007199254740993, "ratio": 1.0}',
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
    const done = await api.done(execution);
    assert.equal(done.state, 'SUCCEEDED');
    // Raw text, so the exact integer and the double stay as they were sent.
    assert.match(done.result!, /"big":9007199254740993/);
    const result = JSON.parse(done.result!) as {
      http_request: {
        body: unknown;
        headers: Record<string, string>;
        method: string;
        query: Record<string, string[]>;
        url: string;
      };
      received_time: string;
      type: string;
    };
    assert.deepEqual(Object.keys(result), ['http_request', 'received_time', 'type']);
    assert.deepEqual(Object.keys(result.http_request), [
      'body',
      'headers',
      'method',
      'query',
      'url',
    ]);
    assert.equal(result.type, 'HTTP');
    assert.equal(result.http_request.method, 'POST');
    assert.deepEqual(result.http_request.query, { approved: ['yes'], tag: ['a', 'b'] });
    assert.equal(result.http_request.url, `${new URL(url!).pathname}?approved=yes&tag=a&tag=b`);
    assert.equal(result.http_request.headers['Content-Type'], 'application/json');
    assert.equal(result.http_request.headers['X-Request-Id'], 'r-1');
    assert.equal(result.http_request.headers.Authorization, 'Bearer any-token');
    assert.match(result.received_time, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC$/);

    // The execution has ended: its callback URL is gone.
    await expectGoogleError(
      await fetch(url!, { method: 'POST', body: '{}' }),
      404,
      'callback of an ended execution',
    );
    const listed = await api.list(execution);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body, {});
  });

  test('a GET endpoint takes GET requests; an empty body is null', async () => {
    const execution = await api.run('await', { method: 'GET' });
    const [url] = await api.urls(execution);
    const res = await fetch(`${url}?id=7`);
    assert.equal(res.status, 200);
    const done = await api.done(execution);
    const result = JSON.parse(done.result!);
    assert.equal(result.http_request.body, null);
    assert.equal(result.http_request.method, 'GET');
    assert.deepEqual(result.http_request.query, { id: ['7'] });
  });

  test('requests that arrive before await_callback are queued; callbacks.list shows them', async () => {
    const execution = await api.run('two');
    const [a, b] = await api.urls(execution, 2);
    await api.awaiting(execution, a!);
    const early = await fetch(b!, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"n": 2}',
    });
    assert.equal(early.status, 200);
    assert.deepEqual(await early.json(), {});

    const { status, body } = await api.list(execution);
    assert.equal(status, 200);
    const idOf = (u: string) => u.slice(u.lastIndexOf('/') + 1);
    const ids = [idOf(a!), idOf(b!)];
    assert.deepEqual(
      body.callbacks?.map((c) => c.name),
      [...ids].sort().map((id) => `${execution}/callback/${id}`),
      'ordered by callback ID',
    );
    const listed = (u: string) => body.callbacks!.find((c) => c.name.endsWith(idOf(u)))!;
    assert.deepEqual(listed(a!), { name: listed(a!).name, method: 'POST', waiters: '1' });
    assert.equal(listed(b!).method, 'PUT');
    assert.equal(listed(b!).waiters, undefined);
    assert.equal(listed(b!).availablePayloads?.length, 1);
    assert.deepEqual(JSON.parse(listed(b!).availablePayloads![0]!).http_request.body, { n: 2 });

    const res = await fetch(a!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"n": 1}',
    });
    assert.equal(res.status, 200);
    const done = await api.done(execution);
    assert.equal(done.state, 'SUCCEEDED');
    assert.deepEqual(JSON.parse(done.result!), [{ n: 1 }, { n: 2 }, 'PUT']);
  });

  test('nothing arriving within timeout raises TimeoutError (time-scaled clock)', async () => {
    const t0 = Date.now();
    const execution = await fast.run('timeout');
    const done = await fast.done(execution);
    assert.equal(done.state, 'SUCCEEDED');
    assert.deepEqual(JSON.parse(done.result!), { tags: ['TimeoutError'], message: 'string' });
    assert.ok(Date.now() - t0 < 4000, 'an hour of workflow time passed in well under 4 s');
  });

  test('bad requests are refused Google-shaped and the await keeps waiting', async () => {
    const execution = await api.run('await', { method: 'POST' });
    const [url] = await api.urls(execution);
    const bad = [
      {
        name: 'malformed JSON body',
        init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{oops' },
        status: 400,
      },
      {
        name: 'oversized body',
        init: { method: 'POST', body: 'x'.repeat(2 * 1024 * 1024) },
        status: 413,
      },
      {
        name: 'method the endpoint does not expect',
        init: { method: 'PUT', body: '1' },
        status: 404,
      },
    ];
    for (const c of bad) await expectGoogleError(await fetch(url!, c.init), c.status, c.name);
    const unknown = `${url!.slice(0, url!.lastIndexOf('/'))}/no-such-callback`;
    await expectGoogleError(
      await fetch(unknown, { method: 'POST', body: '{}' }),
      404,
      'unknown callback ID',
    );
    await expectGoogleError(
      await fetch(`${api.server.url}/v1/${parent('await')}/executions/none/callbacks`),
      404,
      'callbacks.list of an unknown execution',
    );
    assert.equal((await api.get(execution)).state, 'ACTIVE');

    const res = await fetch(url!, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    assert.equal(res.status, 200);
    const done = await api.done(execution);
    assert.equal(JSON.parse(done.result!).http_request.body, 'hello');
  });

  test('cancel ends an await promptly and its callback URL then 404s', async () => {
    const execution = await api.run('await', { method: 'POST' });
    const [url] = await api.urls(execution);
    await api.awaiting(execution, url!);
    const t0 = Date.now();
    const res = await fetch(`${api.server.url}/v1/${execution}:cancel`, { method: 'POST' });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { state: string }).state, 'CANCELLED');
    assert.ok(Date.now() - t0 < 500, 'cancel answered promptly');
    await expectGoogleError(
      await fetch(url!, { method: 'POST', body: '{}' }),
      404,
      'callback of a cancelled execution',
    );
    assert.deepEqual((await api.list(execution)).body, {});
  });

  test('a callback made by another execution is refused with ValueError', async () => {
    const owner = await api.run('await', { method: 'POST' });
    const [url] = await api.urls(owner);
    const thief = await api.run('foreign', { url });
    assert.deepEqual(JSON.parse((await api.done(thief)).result!), ['ValueError']);
    await fetch(`${api.server.url}/v1/${owner}:cancel`, { method: 'POST' });
  });

  test('without a callback registry the functions name the commands that serve them', async () => {
    const wf = parseWorkflow(
      '- c:\n    call: events.create_callback_endpoint\n    result: cb\n- r:\n    return: ${cb}\n',
    );
    const r = await startExecution(wf, null).done;
    assert.equal(r.state, 'FAILED');
    const payload = r.error?.payload as Map<string, unknown>;
    assert.deepEqual(payload.get('tags'), ['SystemError']);
    assert.match(String(payload.get('message')), /runway workflows serve/);
  });

  test('runway workflows run prints each callback URL and resumes on a request to it', async () => {
    const file = join(dir, 'await.yaml');
    const run = startCli([file, '--data', '{"method":"PATCH"}'], { cwd: dir });
    const url = await until(
      'the callback URL on stderr',
      () => /callback endpoint: (http:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(run.stderr())?.[1],
    );
    const res = await fetch(url, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: '{"ok": true}',
    });
    assert.equal(res.status, 200);
    assert.equal(await run.code, 0);
    const result = JSON.parse(run.stdout());
    assert.deepEqual(result.http_request.body, { ok: true });
    assert.equal(result.http_request.method, 'PATCH');
    // The listener closed with the run.
    await assert.rejects(fetch(url, { method: 'PATCH', body: '{}' }));
  });
});
