import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffMs, statusForHttp } from './dispatch.ts';

test("backoff follows RetryConfig's worked example: 10, 20, 40, 80, 160, 240, 300, 300 s", () => {
  const policy = {
    retryCount: 5,
    maxRetryMs: 0,
    minBackoffMs: 10_000,
    maxBackoffMs: 300_000,
    maxDoublings: 3,
  };
  assert.deepEqual(
    Array.from({ length: 8 }, (_, n) => backoffMs(policy, n) / 1000),
    [10, 20, 40, 80, 160, 240, 300, 300],
  );
});

test('backoff with no doublings grows linearly from the minimum', () => {
  const policy = {
    retryCount: 5,
    maxRetryMs: 0,
    minBackoffMs: 5_000,
    maxBackoffMs: 12_000,
    maxDoublings: 0,
  };
  assert.deepEqual(
    Array.from({ length: 4 }, (_, n) => backoffMs(policy, n) / 1000),
    [5, 10, 12, 12],
  );
});

test('HTTP answers map to canonical codes', () => {
  const cases: [number, string][] = [
    [200, 'OK'],
    [204, 'OK'],
    [302, 'UNKNOWN'],
    [400, 'INVALID_ARGUMENT'],
    [401, 'UNAUTHENTICATED'],
    [403, 'PERMISSION_DENIED'],
    [404, 'NOT_FOUND'],
    [409, 'ABORTED'],
    [418, 'FAILED_PRECONDITION'],
    [429, 'RESOURCE_EXHAUSTED'],
    [500, 'UNKNOWN'],
    [503, 'UNAVAILABLE'],
    [504, 'DEADLINE_EXCEEDED'],
  ];
  for (const [http, code] of cases) assert.equal(statusForHttp(http), code, String(http));
});
