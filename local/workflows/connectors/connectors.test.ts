// Connectors against a recording HTTP server standing in for Google's hosts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { toJsonText } from '../convert.ts';
import { parseWorkflow, startExecution, timeScaledClock } from '../engine.ts';
import { createEndpoints } from './index.ts';

const seen: { method: string; url: string; body: string }[] = [];
let polls = 0;
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    seen.push({ method: req.method!, url: req.url!, body });
    const json = (code: number, v: unknown) =>
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(v));
    const u = req.url!;
    if (
      u.startsWith('/v2/projects/p1/locations/r1/services/web?') ||
      u === '/v2/projects/p1/locations/r1/services/web'
    ) {
      if (req.method === 'PATCH')
        return json(200, { name: 'projects/p1/locations/r1/operations/op1', done: false });
      return json(200, { name: 'projects/p1/locations/r1/services/web', uri: 'http://x' });
    }
    if (u === '/v2/projects/p1/locations/r1/operations/op1') {
      polls++;
      return polls < 3
        ? json(200, { name: 'projects/p1/locations/r1/operations/op1', done: false })
        : json(200, {
            name: 'projects/p1/locations/r1/operations/op1',
            done: true,
            response: {
              '@type': 'type.googleapis.com/google.cloud.run.v2.Service',
              name: 'web',
              generation: '2',
            },
          });
    }
    // An operation whose second poll meets a busy Cloud Run (503): the poll is asked again.
    if (u === '/v2/projects/p1/locations/r1/jobs/busy:run')
      return json(200, { name: 'projects/p1/locations/r1/operations/op3', done: false });
    if (u === '/v2/projects/p1/locations/r1/operations/op3') {
      const n = seen.filter((x) => x.url === u).length;
      if (n === 2) return json(503, { error: { code: 503, status: 'UNAVAILABLE' } });
      return json(200, {
        name: 'projects/p1/locations/r1/operations/op3',
        done: n >= 3,
        ...(n >= 3 ? { response: { name: 'e1', succeededCount: 1 } } : {}),
      });
    }
    if (u === '/v2/projects/p1/locations/r1/jobs/tests:run')
      return json(200, {
        name: 'projects/p1/locations/r1/operations/op2',
        done: true,
        error: { code: 9, message: 'Task failed', details: [] },
      });
    if (u === '/v1/projects/p1/topics/events:publish') return json(200, { messageIds: ['1'] });
    if (u.startsWith('/v2/projects/p1/locations/r1/services/flaky'))
      return json(seen.filter((s) => s.url.includes('flaky')).length < 3 ? 503 : 200, {
        name: 'flaky',
      });
    return json(404, { error: { code: 404, message: 'not found', status: 'NOT_FOUND' } });
  });
});
let host = '';
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

async function run(yaml: string) {
  const ex = startExecution(parseWorkflow(yaml), null, {
    clock: timeScaledClock(1000),
    endpoints: createEndpoints({ RUN_EMULATOR_HOST: host, PUBSUB_EMULATOR_HOST: host }),
  });
  const r = await ex.done;
  return {
    ...r,
    json:
      r.state === 'SUCCEEDED' ? toJsonText(r.result ?? null) : toJsonText(r.error?.payload ?? null),
  };
}

describe('googleapis connectors', () => {
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty'])
    test(`googleapis.${name} is no connector (the table's own entries only)`, async () => {
      const r = await run(`
- c:
    call: googleapis.${name}
    result: x`);
      assert.equal(r.state, 'FAILED', r.json);
      assert.deepEqual(JSON.parse(r.json), {
        message: `unknown function or subworkflow: googleapis.${name}`,
        tags: ['KeyError'],
      });
    });

  test('a long-running patch is polled to its response, each poll a billed step', async () => {
    polls = 0;
    const r = await run(`
- p:
    call: googleapis.run.v2.projects.locations.services.patch
    args:
      name: projects/p1/locations/r1/services/web
      updateMask: template
      body:
        template: {containers: [{image: img}]}
    result: svc
- r:
    return: \${svc}`);
    assert.equal(r.state, 'SUCCEEDED', r.json);
    assert.deepEqual(JSON.parse(r.json), { name: 'web', generation: '2' });
    const patch = seen.find((s) => s.method === 'PATCH')!;
    assert.equal(patch.url, '/v2/projects/p1/locations/r1/services/web?updateMask=template');
    assert.deepEqual(JSON.parse(patch.body), { template: { containers: [{ image: 'img' }] } });
    assert.equal(r.steps.external, 1 + 3, 'the call and three polls are external steps');
  });

  test('a failed operation raises OperationError carrying the operation', async () => {
    const r = await run(`
- j:
    call: googleapis.run.v2.projects.locations.jobs.run
    args:
      name: projects/p1/locations/r1/jobs/tests
      body: {}`);
    assert.equal(r.state, 'FAILED');
    const e = JSON.parse(r.json);
    assert.deepEqual(e.tags, ['OperationError']);
    assert.equal(e.message, 'Task failed');
    assert.equal(e.operation.error.code, 9);
  });

  test('HTTP 404 raises HttpError with code and body', async () => {
    const r = await run(`
- g:
    call: googleapis.run.v2.projects.locations.services.get
    args:
      name: projects/p1/locations/r1/services/missing`);
    const e = JSON.parse(r.json);
    assert.deepEqual(e.tags, ['HttpError']);
    assert.equal(e.code, 404);
    assert.equal(e.body.error.status, 'NOT_FOUND');
  });

  test('a poll that meets a 503 is retried like any GET (Google: the retry policy applies to polls)', async () => {
    const r = await run(`
- j:
    call: googleapis.run.v2.projects.locations.jobs.run
    args:
      name: projects/p1/locations/r1/jobs/busy
      body: {}
    result: e
- r:
    return: \${e.name}`);
    assert.equal(r.state, 'SUCCEEDED', r.json);
    assert.equal(r.json, '"e1"');
    assert.equal(seen.filter((x) => x.url.endsWith('/operations/op3')).length, 3);
  });

  test('a GET is retried on 503 until it succeeds', async () => {
    const r = await run(`
- g:
    call: googleapis.run.v2.projects.locations.services.get
    args:
      name: projects/p1/locations/r1/services/flaky
    result: s
- r:
    return: \${s.name}`);
    assert.equal(r.json, '"flaky"');
  });

  test('pubsub publish goes to the emulator host', async () => {
    const r = await run(`
- p:
    call: googleapis.pubsub.v1.projects.topics.publish
    args:
      topic: projects/p1/topics/events
      body:
        messages: [{data: "eA=="}]
    result: out
- r:
    return: \${out.messageIds}`);
    assert.equal(r.json, '["1"]');
  });

  test('a body goes out as the workflow wrote it: 64-bit integers exact, doubles doubles', async () => {
    await run(`
- p:
    call: googleapis.pubsub.v1.projects.topics.publish
    args:
      topic: projects/p1/topics/events
      body:
        messages: [{data: "eA==", attributes: {n: "1"}}]
        big: 9007199254740993
        half: 0.5`);
    const sent = seen.findLast((s) => s.url === '/v1/projects/p1/topics/events:publish');
    assert.match(sent?.body ?? '', /"big":9007199254740993/);
    assert.match(sent?.body ?? '', /"half":0\.5/);
  });

  const bad = [
    {
      name: 'unknown connector',
      yaml: '- c:\n    call: googleapis.run.v2.projects.locations.nothing.get',
      tag: 'KeyError',
    },
    {
      name: 'missing path argument',
      yaml: '- c:\n    call: googleapis.run.v2.projects.locations.services.get\n    args: {}',
      tag: 'ValueError',
    },
    {
      name: 'path argument of the wrong shape',
      yaml: '- c:\n    call: googleapis.run.v2.projects.locations.services.get\n    args:\n      name: services/web',
      tag: 'ValueError',
    },
  ];
  for (const c of bad) {
    test(c.name, async () => {
      const r = await run(c.yaml);
      assert.equal(r.state, 'FAILED');
      assert.deepEqual(JSON.parse(r.json).tags, [c.tag]);
    });
  }
});

test('the connector table is generated from the installed protos', () => {
  execFileSync(process.execPath, ['scripts/gen-connectors.mjs', '--check'], { stdio: 'pipe' });
});

test("an additional binding is a connector of its own: a worker pool's revisions", async () => {
  const { connectorResolver } = await import('./index.ts');
  for (const m of ['get', 'list', 'delete'])
    assert.ok(
      connectorResolver(`googleapis.run.v2.projects.locations.workerPools.revisions.${m}`),
      m,
    );
  assert.equal(
    connectorResolver('googleapis.run.v2.projects.locations.services.revisions.get') !== undefined,
    true,
    'the primary binding stays',
  );
});
