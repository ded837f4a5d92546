import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { acceptanceCheckSchema } from '../shared/checks.ts';
import { main } from './main.ts';
import { pick, type RunDeps, runCheck, shard } from './run-checks.ts';

const server = createServer((req, res): void => {
  const u = new URL(req.url!, 'http://x');
  if (u.pathname === '/version')
    return void res
      .writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
      .end('{"version":"2.0.0","items":[{"id":7}]}');
  if (u.pathname === '/slow') return void setTimeout(() => res.end('slow'), 150);
  if (u.pathname === '/big') return void res.end('x'.repeat(3 * 1024 * 1024));
  if (u.pathname === '/echo') {
    let b = '';
    req.on('data', (c) => (b += c));
    req.on('end', () => res.end(`${req.method} ${req.headers['x-k'] ?? ''} ${b}`));
    return;
  }
  res.writeHead(404).end('nope');
});
let base = '';
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

const deps: RunDeps = {
  fetch,
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

describe('a check passes or fails with the reason', () => {
  const cases = [
    { name: 'status 200', check: { name: 'v', request: { path: '/version' } }, ok: true },
    {
      name: 'json path value',
      check: {
        name: 'v',
        request: { path: '/version' },
        expect: { json: { version: '2.0.0', 'items[0].id': 7 } },
      },
      ok: true,
    },
    {
      name: 'header prefix',
      check: {
        name: 'v',
        request: { path: '/version' },
        expect: { headers: { 'content-type': 'application/json' } },
      },
      ok: true,
    },
    {
      name: 'post with headers and body',
      check: {
        name: 'e',
        request: { method: 'POST', path: '/echo', headers: { 'x-k': 'v' }, body: 'hi' },
        expect: { bodyContains: 'POST v hi' },
      },
      ok: true,
    },
    {
      name: 'wrong status',
      check: { name: 'n', request: { path: '/missing' } },
      ok: false,
      why: /status 404, expected 200/,
    },
    {
      name: 'status list',
      check: { name: 'n', request: { path: '/missing' }, expect: { status: [200, 404] } },
      ok: true,
    },
    {
      name: 'wrong json value',
      check: { name: 'v', request: { path: '/version' }, expect: { json: { version: '1.0.0' } } },
      ok: false,
      why: /json version is "2.0.0", expected "1.0.0"/,
    },
    {
      name: 'body is not JSON',
      check: { name: 'n', request: { path: '/missing' }, expect: { status: 404, json: { a: 1 } } },
      ok: false,
      why: /not JSON/,
    },
    {
      name: 'over the latency budget',
      check: { name: 's', request: { path: '/slow' }, expect: { maxLatencyMs: 20 } },
      ok: false,
      why: /budget 20 ms/,
    },
    {
      name: 'request timeout',
      check: { name: 's', request: { path: '/slow', timeoutMs: 20 } },
      ok: false,
      why: /request failed/,
    },
    {
      name: 'huge body is read but bounded',
      check: { name: 'b', request: { path: '/big' }, expect: { bodyContains: 'xxx' } },
      ok: true,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const r = await runCheck(base, acceptanceCheckSchema.parse(c.check), deps);
      assert.equal(r.ok, c.ok, r.failures.join('; '));
      if (c.why) assert.match(r.failures.join('; '), c.why);
    });
  }
});

test('shards split checks across tasks with nothing lost or doubled', () => {
  const checks = Array.from({ length: 7 }, (_, i) => i);
  const parts = [0, 1, 2].map((i) => shard(checks, i, 3));
  assert.deepEqual(parts.flat().sort(), checks);
  assert.deepEqual(
    parts.map((p) => p.length),
    [3, 2, 2],
  );
});

test('pick reads simple paths', () => {
  assert.equal(pick({ a: { b: [1, { c: 2 }] } }, 'a.b[1].c'), 2);
  assert.equal(pick({ a: 1 }, 'a.b'), undefined);
});

describe('the job', () => {
  async function job(env: NodeJS.ProcessEnv) {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c) => (text += c));
    const code = await main({ RUNWAY_WAIT_SECONDS: '1', ...env }, out);
    return { code, text };
  }
  const checks = JSON.stringify([
    { name: 'version', request: { path: '/version' } },
    { name: 'missing', request: { path: '/missing' }, expect: { status: 404 } },
  ]);
  const cases = [
    {
      name: 'all checks pass',
      env: () => ({ TARGET_URL: base, RUNWAY_CHECKS: checks }),
      code: 0,
      want: /2\/2 checks passed/,
    },
    {
      name: 'a failing check fails the job',
      env: () => ({
        TARGET_URL: base,
        RUNWAY_CHECKS: JSON.stringify([{ name: 'bad', request: { path: '/missing' } }]),
      }),
      code: 1,
      want: /FAIL\s+bad/,
    },
    {
      name: 'no target',
      env: () => ({ RUNWAY_CHECKS: checks }),
      code: 2,
      want: /TARGET_URL must be/,
    },
    {
      name: 'checks not JSON',
      env: () => ({ TARGET_URL: base, RUNWAY_CHECKS: '{oops' }),
      code: 2,
      want: /not valid JSON/,
    },
    {
      name: 'checks of the wrong shape',
      env: () => ({ TARGET_URL: base, RUNWAY_CHECKS: '[{"request":{}}]' }),
      code: 2,
      want: /invalid checks: \[0\]\.name/,
    },
    {
      name: 'unreachable target',
      env: () => ({ TARGET_URL: 'http://127.0.0.1:1', RUNWAY_CHECKS: checks }),
      code: 1,
      want: /did not answer/,
    },
    {
      name: 'the user test command decides too',
      env: () => ({ TARGET_URL: base, RUNWAY_CHECKS: '[]', RUNWAY_TEST_COMMAND: 'exit 3' }),
      code: 1,
      want: /test command exited 3/,
    },
    {
      name: 'task 1 of 2 runs its shard only',
      env: () => ({
        TARGET_URL: base,
        RUNWAY_CHECKS: checks,
        CLOUD_RUN_TASK_INDEX: '1',
        CLOUD_RUN_TASK_COUNT: '2',
      }),
      code: 0,
      want: /1\/1 checks passed in task 1 of 2/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const r = await job(c.env());
      assert.equal(r.code, c.code, r.text);
      assert.match(r.text, c.want);
    });
  }
});
