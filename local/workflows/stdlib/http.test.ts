import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, test } from 'node:test';
import { toJsonText } from '../convert.ts';
import { parseWorkflow, startExecution, timeScaledClock } from '../engine.ts';
import { loopbackServer } from '../../../test/helpers/loopback.ts';

let hits = 0;
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const u = new URL(req.url!, 'http://x');
    if (u.pathname === '/echo') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          method: req.method,
          q: u.searchParams.get('q'),
          h: req.headers['x-h'] ?? null,
          body: body || null,
        }),
      );
    } else if (u.pathname === '/numbers') {
      res
        .writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
        .end('{"big": 9007199254740993, "one": 1, "onePointZero": 1.0, "exp": 1e3}');
    } else if (u.pathname === '/not-json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"cut": ');
    } else if (u.pathname === '/flaky') {
      hits++;
      res.writeHead(hits < 3 ? 503 : 200, { 'content-type': 'text/plain' }).end(`hit ${hits}`);
    } else if (u.pathname === '/slow') {
      setTimeout(() => res.end('late'), 3000).unref();
    } else if (u.pathname === '/slow-body') {
      res.writeHead(200, { 'content-type': 'text/plain' }).write('part of it');
      setTimeout(() => res.end(', the rest late'), 3000).unref();
    } else res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"nope"}');
  });
});
const baseUrl = loopbackServer(server);

async function run(yaml: string) {
  const r = await startExecution(parseWorkflow(yaml), null, { clock: timeScaledClock(1000) }).done;
  return {
    state: r.state,
    out: JSON.parse(
      toJsonText(r.state === 'SUCCEEDED' ? (r.result ?? null) : (r.error?.payload ?? null)),
    ),
    steps: r.steps,
  };
}

describe('http.*', () => {
  test('get with query and headers decodes a JSON body', async () => {
    const r = await run(
      `- g:\n    call: http.get\n    args:\n      url: ${baseUrl()}/echo\n      query: {q: "a b"}\n      headers: {x-h: "1"}\n    result: res\n- r:\n    return: \${res}`,
    );
    assert.equal(r.state, 'SUCCEEDED');
    assert.equal(r.out.code, 200);
    assert.deepEqual(r.out.body, { method: 'GET', q: 'a b', h: '1', body: null });
    assert.equal(r.steps.external, 1);
  });
  test('a JSON body keeps 64-bit integers exact and doubles doubles, as json.decode does', async () => {
    const r = await run(
      `- g:\n    call: http.get\n    args:\n      url: ${baseUrl()}/numbers\n    result: res\n- r:\n    return: \${[string(res.body.big), get_type(res.body.big), get_type(res.body.one), get_type(res.body.onePointZero), get_type(res.body.exp)]}`,
    );
    assert.equal(r.state, 'SUCCEEDED', JSON.stringify(r.out));
    assert.deepEqual(r.out, ['9007199254740993', 'integer', 'integer', 'double', 'double']);
  });
  test('a body labelled JSON that is not JSON stays text', async () => {
    const r = await run(
      `- g:\n    call: http.get\n    args:\n      url: ${baseUrl()}/not-json\n    result: res\n- r:\n    return: \${res.body}`,
    );
    assert.equal(r.out, '{"cut": ');
  });
  test('post sends a map as JSON', async () => {
    const r = await run(
      `- p:\n    call: http.post\n    args:\n      url: ${baseUrl()}/echo\n      body: {a: 1}\n    result: res\n- r:\n    return: \${res.body.body}`,
    );
    assert.equal(r.out, '{"a":1}');
  });
  test('404 raises HttpError with code, headers and body', async () => {
    const r = await run(`- g:\n    call: http.get\n    args:\n      url: ${baseUrl()}/missing`);
    assert.equal(r.state, 'FAILED');
    assert.deepEqual(r.out.tags, ['HttpError']);
    assert.equal(r.out.code, 404);
    assert.deepEqual(r.out.body, { error: 'nope' });
    assert.equal(r.out.headers['content-type'], 'application/json');
  });
  test('http.default_retry retries a 503 until it succeeds', async () => {
    hits = 0;
    const r = await run(
      `- t:\n    try:\n      call: http.get\n      args:\n        url: ${baseUrl()}/flaky\n      result: res\n    retry: \${http.default_retry}\n- r:\n    return: \${res.body}`,
    );
    assert.equal(r.out, 'hit 3');
  });
  test('a timeout raises TimeoutError', async () => {
    const r = await run(
      `- g:\n    call: http.get\n    args:\n      url: ${baseUrl()}/slow\n      timeout: 0.2`,
    );
    assert.deepEqual(r.out.tags, ['TimeoutError']);
  });
  test('a body that stalls after the headers raises TimeoutError', async () => {
    const r = await run(
      `- g:\n    call: http.get\n    args:\n      url: ${baseUrl()}/slow-body\n      timeout: 0.2`,
    );
    assert.deepEqual(r.out.tags, ['TimeoutError']);
  });
  test('a refused connection raises ConnectionFailedError', async () => {
    const r = await run('- g:\n    call: http.get\n    args:\n      url: http://127.0.0.1:1/');
    assert.deepEqual(r.out.tags, ['ConnectionFailedError', 'ConnectionError']);
  });
  test('http calls are refused inside expressions', async () => {
    const r = await run(`- g:\n    return: \${http.get("${baseUrl()}/echo")}`);
    assert.deepEqual(r.out.tags, ['TypeError']);
  });
  test('a bad URL is a ValueError', async () => {
    const r = await run('- g:\n    call: http.get\n    args:\n      url: file:///etc/passwd');
    assert.deepEqual(r.out.tags, ['ValueError']);
  });
});
