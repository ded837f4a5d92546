import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import {
  googleErrorBody,
  invalidArgument,
  notFound,
  RunwayError,
  sendGoogleError,
  toRunwayError,
} from './errors.ts';

const cases = [
  {
    name: 'invalid argument with fields',
    err: invalidArgument('bad', [{ field: 'a.b', description: 'must be set' }]),
    status: 400,
    code: 'INVALID_ARGUMENT',
    details: 1,
  },
  {
    name: 'not found',
    err: notFound('no such service'),
    status: 404,
    code: 'NOT_FOUND',
    details: 0,
  },
  {
    name: 'unavailable',
    err: new RunwayError('UNAVAILABLE', 'try later'),
    status: 503,
    code: 'UNAVAILABLE',
    details: 0,
  },
  {
    name: 'plain error becomes INTERNAL',
    err: new Error('oops'),
    status: 500,
    code: 'INTERNAL',
    details: 0,
  },
  {
    name: 'thrown string becomes INTERNAL',
    err: 'oops',
    status: 500,
    code: 'INTERNAL',
    details: 0,
  },
  {
    name: 'body parser too large becomes 413',
    err: Object.assign(new Error('request entity too large'), {
      type: 'entity.too.large',
      status: 413,
      limit: 1024,
    }),
    status: 413,
    code: 'INVALID_ARGUMENT',
    details: 0,
  },
  {
    name: 'body parser syntax error becomes 400',
    err: Object.assign(new SyntaxError('Unexpected token'), {
      type: 'entity.parse.failed',
      status: 400,
    }),
    status: 400,
    code: 'INVALID_ARGUMENT',
    details: 0,
  },
];

for (const c of cases) {
  test(c.name, () => {
    const body = googleErrorBody(c.err);
    assert.equal(body.error.code, c.status);
    assert.equal(body.error.status, c.code);
    assert.equal(body.error.details.length, c.details);
    assert.equal(typeof body.error.message, 'string');
  });
}

test('an ErrorInfo detail says why for programs', () => {
  const body = googleErrorBody(
    new RunwayError('FAILED_PRECONDITION', 'frozen', {
      httpStatus: 409,
      info: { reason: 'FROZEN', metadata: { freeze: 'year-end' } },
    }),
  );
  assert.deepEqual(body, {
    error: {
      code: 409,
      message: 'frozen',
      status: 'FAILED_PRECONDITION',
      details: [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'FROZEN',
          domain: 'runway.dev',
          metadata: { freeze: 'year-end' },
        },
      ],
    },
  });
});

test("an ErrorInfo may name Google's domain, as an IAM denial does", () => {
  const body = googleErrorBody(
    new RunwayError('PERMISSION_DENIED', 'no', {
      info: { reason: 'IAM_PERMISSION_DENIED', domain: 'iam.googleapis.com', metadata: {} },
    }),
  );
  assert.equal(body.error.details[0]?.domain, 'iam.googleapis.com');
});

test('toRunwayError keeps the original as cause', () => {
  const original = new Error('boom');
  const e = toRunwayError(original);
  assert.equal(e.cause, original);
  assert.equal(e.name, 'RunwayError');
});

test('sendGoogleError writes status, JSON and length over a real socket', async () => {
  const server = createServer((_req, res) =>
    sendGoogleError(res, notFound('service web not found')),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    assert.equal(res.status, 404);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(await res.json(), {
      error: { code: 404, message: 'service web not found', status: 'NOT_FOUND', details: [] },
    });
  } finally {
    server.close();
  }
});
