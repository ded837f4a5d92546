// Which connection error a failed request raises ("Workflow errors": ConnectionFailedError when no
// connection was made, ConnectionError when one broke mid-exchange), and which the default
// non-idempotent retry predicate retries.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, test } from 'node:test';
import { tagsOf, WorkflowError } from '../errors.ts';
import { fetchOrRaise, nonIdempotentRetryPredicate } from './http.ts';
import { loopbackServer } from '../../../test/helpers/loopback.ts';

// Closes the socket before answering, or after part of the body.
const server = createServer((req, res) => {
  if (req.url === '/close-before-headers') {
    req.socket.destroy();
    return;
  }
  res.writeHead(200, { 'content-length': '100' }).write('part of it');
  setTimeout(() => req.socket.destroy(), 20).unref();
});
const baseUrl = loopbackServer(server);

async function failure(url: () => string) {
  try {
    await fetchOrRaise(url(), {}, 5, new AbortController().signal);
  } catch (err) {
    if (err instanceof WorkflowError) return err.value;
    throw err;
  }
  throw new Error('the request succeeded');
}

describe('connection errors', () => {
  const cases: { name: string; url: () => string; tags: string[]; retried: boolean }[] = [
    {
      name: 'a port fetch refuses to dial is never connected',
      url: () => 'http://127.0.0.1:1/',
      tags: ['ConnectionFailedError', 'ConnectionError'],
      retried: true,
    },
    {
      name: 'a socket closed before the response headers',
      url: () => `${baseUrl()}/close-before-headers`,
      tags: ['ConnectionError'],
      retried: false,
    },
    {
      name: 'a socket closed in the middle of the body',
      url: () => `${baseUrl()}/close-mid-body`,
      tags: ['ConnectionError'],
      retried: false,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const error = await failure(c.url);
      assert.deepEqual(tagsOf(error), c.tags);
      assert.equal(nonIdempotentRetryPredicate(error), c.retried);
    });
  }
});
