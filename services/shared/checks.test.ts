import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { acceptanceCheckSchema, acceptanceChecksSchema } from './checks.ts';
import { describeZodError } from './validation.ts';

test('a minimal check gets GET / expecting 200', () => {
  assert.deepEqual(acceptanceCheckSchema.parse({ name: 'home' }), {
    name: 'home',
    request: { method: 'GET', path: '/', timeoutMs: 10_000 },
    expect: { status: 200 },
  });
});

test('a full check parses', () => {
  const c = acceptanceCheckSchema.parse({
    name: 'create',
    request: {
      method: 'POST',
      path: '/items?x=1',
      headers: { 'x-test': '1' },
      body: { a: [1, 2] },
    },
    expect: {
      status: [200, 201],
      headers: { 'content-type': 'application/json' },
      json: { 'data.items[0].id': 7 },
      bodyContains: 'ok',
      maxLatencyMs: 500,
    },
  });
  assert.deepEqual(c.expect.status, [200, 201]);
});

describe('bad checks name the field', () => {
  const cases: { name: string; input: unknown; want: RegExp }[] = [
    { name: 'no name', input: {}, want: /^name/ },
    { name: 'empty name', input: { name: '' }, want: /^name/ },
    {
      name: 'unknown method',
      input: { name: 'x', request: { method: 'BREW', path: '/' } },
      want: /request\.method/,
    },
    {
      name: 'relative path',
      input: { name: 'x', request: { path: 'health' } },
      want: /request\.path: must start with \//,
    },
    {
      name: 'absolute URL as path',
      input: { name: 'x', request: { path: 'http://evil/' } },
      want: /request\.path/,
    },
    {
      name: 'whitespace in path',
      input: { name: 'x', request: { path: '/a b' } },
      want: /request\.path/,
    },
    {
      name: 'bad header name',
      input: { name: 'x', request: { path: '/', headers: { 'bad header': 'v' } } },
      want: /request\.headers/,
    },
    {
      name: 'status out of range',
      input: { name: 'x', expect: { status: 700 } },
      want: /expect\.status/,
    },
    {
      name: 'empty status list',
      input: { name: 'x', expect: { status: [] } },
      want: /expect\.status/,
    },
    {
      name: 'bad json path',
      input: { name: 'x', expect: { json: { 'a..b': 1 } } },
      want: /expect\.json.*must be a path/,
    },
    {
      name: 'negative latency',
      input: { name: 'x', expect: { maxLatencyMs: -1 } },
      want: /expect\.maxLatencyMs/,
    },
    {
      name: 'unknown expectation',
      input: { name: 'x', expect: { statusCode: 200 } },
      want: /statusCode/,
    },
    {
      name: 'timeout too long',
      input: { name: 'x', request: { path: '/', timeoutMs: 10_000_000 } },
      want: /request\.timeoutMs/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = acceptanceCheckSchema.safeParse(c.input);
      assert.equal(r.success, false);
      if (!r.success) assert.match(describeZodError(r.error), c.want);
    });
  }
  test('too many checks', () => {
    const r = acceptanceChecksSchema.safeParse(
      Array.from({ length: 501 }, (_, i) => ({ name: `c${i}` })),
    );
    assert.equal(r.success, false);
  });
});
