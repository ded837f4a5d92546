// `runway rollback`: the command line, the refusals answered before any execution starts, and
// what a finished rollback execution prints.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ExecutionView } from '../cloud.ts';
import { Refused } from '../exit.ts';
import { digestOf, parseRollback, rollbackOutcome, rollbackTarget } from './rollback.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const D3 = `sha256:${'3'.repeat(64)}`;

describe('parseRollback', () => {
  const cases: {
    name: string;
    argv: string[];
    want: { to: string | null; reason: string | null; wait: boolean } | RegExp;
  }[] = [
    { name: 'the previous digest', argv: ['web'], want: { to: null, reason: null, wait: false } },
    {
      name: 'a digest, a reason, --wait',
      argv: ['web', '--to', D1, '--reason', '5xx', '--wait'],
      want: { to: D1, reason: '5xx', wait: true },
    },
    {
      name: 'an image reference by digest: its digest',
      argv: ['web', '--to', `us-central1-docker.pkg.dev/p/apps/web@${D2}`],
      want: { to: D2, reason: null, wait: false },
    },
    {
      name: 'a short digest',
      argv: ['web', '--to', '111111111111'],
      want: /--to must be a digest/,
    },
    { name: 'a tag', argv: ['web', '--to', 'web:v1'], want: /--to must be a digest/ },
    { name: 'no pipeline', argv: ['--wait'], want: /^usage: runway rollback PIPELINE/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      if (c.want instanceof RegExp)
        assert.throws(() => parseRollback(c.argv, {}), { name: 'UsageError', message: c.want });
      else {
        const o = parseRollback(c.argv, {});
        assert.deepEqual({ to: o.to, reason: o.reason, wait: o.wait }, c.want);
      }
    });
  }
  test('digestOf keeps a bare digest', () => assert.equal(digestOf(D3, '--to'), D3));
});

describe('rollbackTarget: what the workflow would refuse, refused at once', () => {
  const pipeline = { name: 'web', live: { service: 'web' } };
  const revisions = new Set(['web-111111111111', 'web-222222222222']);
  const cases: {
    name: string;
    annotations: Record<string, string> | null;
    to: string | null;
    want: { target: string; from: string | null } | RegExp;
  }[] = [
    {
      name: 'the previous digest',
      annotations: { 'runway.dev/digest': D2, 'runway.dev/previous': D1 },
      to: null,
      want: { target: D1, from: D2 },
    },
    {
      name: 'a named digest whose revision exists',
      annotations: { 'runway.dev/digest': D1, 'runway.dev/previous': '' },
      to: D2,
      want: { target: D2, from: D1 },
    },
    { name: 'no live service', annotations: null, to: null, want: /web has no live service/ },
    {
      name: 'no previous digest (the first release)',
      annotations: { 'runway.dev/digest': D1, 'runway.dev/previous': '' },
      to: null,
      want: /records no previous digest \(runway\.dev\/previous\); name one with --to/,
    },
    {
      name: 'already live',
      annotations: { 'runway.dev/digest': D1, 'runway.dev/previous': D2 },
      to: D1,
      want: /sha256:1{64} is already live/,
    },
    {
      name: 'an unknown digest: no revision',
      annotations: { 'runway.dev/digest': D1 },
      to: D3,
      want: /unknown digest: web has no revision web-333333333333/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const services = {
        service: async () => (c.annotations ? { annotations: c.annotations, uri: '' } : null),
        revisionExists: async (_s: string, r: string) => revisions.has(r),
      };
      const run = rollbackTarget(services, pipeline, c.to);
      if (c.want instanceof RegExp)
        await assert.rejects(
          run,
          (e: Error) => e instanceof Refused && c.want instanceof RegExp && c.want.test(e.message),
        );
      else assert.deepEqual(await run, c.want);
    });
  }
});

describe('rollbackOutcome', () => {
  const base: ExecutionView = {
    name: 'n',
    id: 'e-9',
    state: 'SUCCEEDED',
    startTime: null,
    endTime: null,
    argument: null,
    result: {
      outcome: 'ROLLED_BACK',
      action: 'rollback',
      digest: D1,
      live: { revision: 'web-111111111111', previousRevision: 'web-222222222222' },
    },
    error: null,
    labels: {},
    routine: null,
  };
  test('rolled back', () =>
    assert.equal(
      rollbackOutcome(base, 'web'),
      'ROLLED_BACK: web live on web-111111111111 (111111111111), from web-222222222222',
    ));
  test('a worker pool rolled back: the pool and its revisions', () =>
    assert.equal(
      rollbackOutcome(
        {
          ...base,
          result: {
            outcome: 'ROLLED_BACK',
            digest: D1,
            live: {
              workerPool: 'queue',
              revision: 'queue-111111111111',
              previousRevision: 'queue-222222222222',
            },
          },
        },
        'queue',
      ),
      'ROLLED_BACK: queue worker pool queue on queue-111111111111 (111111111111), from queue-222222222222',
    ));
  const refusals = [
    {
      name: 'refused by the workflow: its reason',
      error: 'rollback refused: the freeze year-end covers rollbacks until 2026-12-27T00:00:00Z',
      want: /^the freeze year-end covers rollbacks/,
    },
    { name: 'failed otherwise', error: 'HTTP 500', want: /^HTTP 500$/ },
  ];
  for (const c of refusals)
    test(c.name, () =>
      assert.throws(() => rollbackOutcome({ ...base, state: 'FAILED', error: c.error }, 'web'), {
        name: 'Refused',
        message: c.want,
      }),
    );
});
