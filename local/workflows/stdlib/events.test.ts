// The pure parts of callbacks: how a received request becomes await_callback's map, and the
// hub's queue and waiters without any HTTP server (the sockets are in test/integration).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toJsonText } from '../convert.ts';
import type { Value } from '../values.ts';
import {
  CallbackHub,
  callbackRequestValue,
  goTimeString,
  type IncomingCallback,
} from './events.ts';
import type { ExecutionEnv } from './types.ts';

const request = (over: Partial<IncomingCallback>): IncomingCallback => ({
  method: 'POST',
  target: '/v1/x/callbacks/1',
  headers: {},
  body: new Uint8Array(),
  ...over,
});
const body = (r: IncomingCallback) =>
  (callbackRequestValue(r, 0) as Map<string, Value>).get('http_request') as Map<string, Value>;

describe('received_time in Go time format', () => {
  const cases = [
    { name: 'whole seconds have no fraction', ms: 0, want: '1970-01-01 00:00:00 +0000 UTC' },
    { name: 'trailing zeros are dropped', ms: 1_500, want: '1970-01-01 00:00:01.5 +0000 UTC' },
    { name: 'milliseconds', ms: 1_719_835_200_123, want: '2024-07-01 12:00:00.123 +0000 UTC' },
  ];
  for (const c of cases) test(c.name, () => assert.equal(goTimeString(c.ms), c.want));
});

describe('request bodies', () => {
  const text = (s: string) => new TextEncoder().encode(s);
  const cases: { name: string; type?: string; body: string; want: string }[] = [
    { name: 'no body is null', body: '', want: 'null' },
    {
      name: 'JSON keeps 64-bit integers exact',
      type: 'application/json; charset=utf-8',
      body: '{"n": 9007199254740993, "d": 1.5}',
      want: '{"n":9007199254740993,"d":1.5}',
    },
    { name: 'text is a string', type: 'text/plain', body: 'hi', want: '"hi"' },
    { name: 'no content type is text', body: 'hi', want: '"hi"' },
    {
      name: 'a form is text',
      type: 'application/x-www-form-urlencoded',
      body: 'a=1',
      want: '"a=1"',
    },
  ];
  for (const c of cases)
    test(c.name, () => {
      const headers = c.type ? { 'content-type': c.type } : {};
      const got = body(request({ headers, body: text(c.body) })).get('body')!;
      assert.equal(toJsonText(got), c.want);
    });
  test('other types are bytes', () => {
    const got = body(
      request({ headers: { 'content-type': 'image/png' }, body: new Uint8Array([1, 2]) }),
    );
    assert.deepEqual(got.get('body'), new Uint8Array([1, 2]));
  });
  test('malformed JSON is refused', () => {
    assert.throws(
      () => body(request({ headers: { 'content-type': 'application/json' }, body: text('{') })),
      /not valid JSON/,
    );
  });
  test('headers are Title-Cased and sorted; query values are lists', () => {
    const got = body(
      request({
        target: '/p?b=2&a=1&a=3',
        headers: { 'x-b': 'v', accept: ['a', 'b'], 'content-type': 'text/plain' },
      }),
    );
    assert.equal(
      toJsonText(got.get('headers')!),
      '{"Accept":"a, b","Content-Type":"text/plain","X-B":"v"}',
    );
    assert.equal(toJsonText(got.get('query')!), '{"a":["1","3"],"b":["2"]}');
  });
});

describe('the hub', () => {
  const env = (executionId: string): ExecutionEnv => ({
    projectId: 'p',
    projectNumber: '',
    location: 'l',
    workflowId: 'w',
    revisionId: '',
    executionId,
  });
  const hub = () => new CallbackHub({ baseUrl: () => 'http://h/', now: () => 0 });
  const path = (url: string) => new URL(url).pathname;

  test('queued requests go to later awaits, oldest first', async () => {
    const h = hub();
    const url = await h.create(env('e'), 'POST');
    assert.match(
      url,
      /^http:\/\/h\/v1\/projects\/p\/locations\/l\/workflows\/w\/executions\/e\/callbacks\//,
    );
    for (const b of ['1', '2'])
      assert.deepEqual(h.deliver(path(url), request({ body: new TextEncoder().encode(b) })), {
        ok: true,
        queued: true,
      });
    const signal = new AbortController().signal;
    const first = (await h.next(url, env('e'), signal)) as Map<string, Value>;
    assert.equal((first.get('http_request') as Map<string, Value>).get('body'), '1');
    assert.equal(h.list('e')[0]!.availablePayloads.length, 1);
  });

  test('an aborted await leaves no waiter behind', async () => {
    const h = hub();
    const url = await h.create(env('e'), 'GET');
    const stop = new AbortController();
    const waiting = h.next(url, env('e'), stop.signal);
    assert.equal(h.list('e')[0]!.waiters, 1);
    stop.abort();
    await assert.rejects(waiting);
    assert.equal(h.list('e')[0]!.waiters, 0);
    assert.deepEqual(h.deliver(path(url), request({ method: 'GET' })), { ok: true, queued: true });
  });

  test('refusals', async () => {
    const h = hub();
    const url = await h.create(env('e'), 'PUT');
    const refused = (r: ReturnType<CallbackHub['deliver']>) => (r.ok ? 'ok' : r.reason);
    assert.equal(refused(h.deliver(path(url), request({ method: 'POST' }))), 'wrong-method');
    assert.equal(refused(h.deliver(`${path(url)}x`, request({ method: 'PUT' }))), 'not-found');
    assert.throws(
      () => h.next(url, env('other'), new AbortController().signal),
      /ValueError|not a callback/,
    );
    h.closeExecution('e');
    assert.equal(refused(h.deliver(path(url), request({ method: 'PUT' }))), 'not-found');
  });
});
