// `runway release`: the command line, and the deployer's answers turned into what started or why
// nothing did.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ExecutionView } from '../cloud.ts';
import { parseRelease, release, releaseAnswer } from './release.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const REF = `us-central1-docker.pkg.dev/my-project/apps/web@${D1}`;

describe('parseRelease', () => {
  const cases: {
    name: string;
    argv: string[];
    want:
      | { digest: string; overrideFreeze: string | null; reason: string | null; wait: boolean }
      | RegExp;
  }[] = [
    {
      name: 'an image by digest',
      argv: ['web', REF],
      want: { digest: D1, overrideFreeze: null, reason: null, wait: false },
    },
    {
      name: 'an override with its reason, waiting',
      argv: ['web', REF, '--override-freeze', 'year-end', '--reason', 'hotfix', '--wait'],
      want: { digest: D1, overrideFreeze: 'year-end', reason: 'hotfix', wait: true },
    },
    {
      name: 'a tag only',
      argv: ['web', 'us-central1-docker.pkg.dev/my-project/apps/web:v1'],
      want: /must name the image by digest/,
    },
    {
      name: 'an override without a reason',
      argv: ['web', REF, '--override-freeze', 'year-end'],
      want: /--override-freeze needs --reason/,
    },
    {
      name: 'an override with a blank reason',
      argv: ['web', REF, '--override-freeze', 'year-end', '--reason', ' '],
      want: /--override-freeze needs --reason/,
    },
    {
      name: 'a reason without an override',
      argv: ['web', REF, '--reason', 'x'],
      want: /--reason goes with --override-freeze/,
    },
    { name: 'no image', argv: ['web'], want: /^usage: runway release PIPELINE IMAGE@DIGEST/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      if (c.want instanceof RegExp)
        assert.throws(() => parseRelease(c.argv, {}), { name: 'UsageError', message: c.want });
      else {
        const o = parseRelease(c.argv, {});
        assert.deepEqual(
          { digest: o.digest, overrideFreeze: o.overrideFreeze, reason: o.reason, wait: o.wait },
          c.want,
        );
      }
    });
  }
});

describe("releaseAnswer: the deployer's status and body", () => {
  const error = (code: number, message: string) => ({ error: { code, message } });
  const cases: {
    name: string;
    status: number;
    body: unknown;
    want: unknown;
    refused?: RegExp;
    error?: RegExp;
  }[] = [
    {
      name: 'started',
      status: 202,
      body: { releases: [{ kind: 'started', pipeline: 'web', execution: 'projects/p/e-1' }] },
      want: { kind: 'started', pipeline: 'web', execution: 'projects/p/e-1' },
    },
    {
      name: 'already running',
      status: 202,
      body: { releases: [{ kind: 'duplicate', pipeline: 'web' }] },
      want: { kind: 'duplicate', pipeline: 'web' },
    },
    {
      name: 'frozen',
      status: 409,
      body: error(409, 'the freeze year-end blocks releases of web until 2026-12-27T00:00:00Z'),
      want: null,
      refused: /^frozen: the freeze year-end blocks/,
    },
    {
      name: 'an override from a non-overrider',
      status: 403,
      body: error(403, 'user:bob@example.com may not override year-end'),
      want: null,
      refused: /^not allowed: user:bob@example.com may not override/,
    },
    {
      name: 'an unknown pipeline',
      status: 404,
      body: error(404, 'no pipeline named api'),
      want: null,
      refused: /^no pipeline named api$/,
    },
    {
      name: 'a release the deployer refuses for a pipeline',
      status: 400,
      body: error(400, 'pipeline web-global: its image is not in the registry'),
      want: null,
      refused:
        /^the deployer refused the request: pipeline web-global: its image is not in the registry/,
    },
    {
      name: 'the deployer is down',
      status: 503,
      body: 'upstream connect error',
      want: null,
      error: /the deployer answered 503: upstream connect error/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const answer = { status: c.status, body: c.body };
      if (c.refused)
        assert.throws(() => releaseAnswer(answer), { name: 'Refused', message: c.refused });
      else if (c.error)
        assert.throws(() => releaseAnswer(answer), { name: 'Error', message: c.error });
      else assert.deepEqual(releaseAnswer(answer), c.want);
    });
  }
});

describe('release --wait: the exit code says whether the release was promoted', () => {
  const NAME = 'projects/p/locations/r/workflows/runway-release/executions/e1';
  const result = (outcome: string) => ({
    outcome,
    pipeline: 'web',
    digest: D1,
    staging: { service: 'web-staging', revision: null },
    live: { service: 'web', revision: null },
    stages: [],
  });
  const view = (state: string, extra: Partial<ExecutionView> = {}): ExecutionView => ({
    name: NAME,
    id: 'e1',
    state,
    startTime: null,
    endTime: null,
    argument: {},
    result: null,
    error: null,
    labels: {},
    routine: null,
    ...extra,
  });
  const cases: { name: string; done: ExecutionView; wait?: boolean; code: number; out: RegExp }[] =
    [
      {
        name: 'PROMOTED',
        done: view('SUCCEEDED', { result: result('PROMOTED') }),
        code: 0,
        out: /^PROMOTED$/m,
      },
      {
        name: 'REJECTED by the tests',
        done: view('SUCCEEDED', { result: result('REJECTED') }),
        code: 1,
        out: /^REJECTED$/m,
      },
      {
        name: 'ROLLED_BACK in the canary',
        done: view('SUCCEEDED', { result: result('ROLLED_BACK') }),
        code: 1,
        out: /^ROLLED_BACK$/m,
      },
      {
        name: 'DUPLICATE',
        done: view('SUCCEEDED', { result: result('DUPLICATE') }),
        code: 1,
        out: /^DUPLICATE$/m,
      },
      {
        name: 'the execution FAILED',
        done: view('FAILED', { error: 'boom' }),
        code: 1,
        out: /^FAILED: boom$/m,
      },
      {
        name: 'the execution was CANCELLED',
        done: view('CANCELLED'),
        code: 1,
        out: /^CANCELLED: no result$/m,
      },
      {
        name: 'without --wait: 0 once started',
        done: view('FAILED'),
        wait: false,
        code: 0,
        out: /started$/m,
      },
    ];
  for (const c of cases) {
    test(c.name, async () => {
      const states = [view('ACTIVE', { routine: 'test' }), c.done];
      const out: string[] = [];
      const code = await release(
        {
          deployer: {
            release: async () => ({
              status: 202,
              body: { releases: [{ kind: 'started', pipeline: 'web', execution: NAME }] },
            }),
          },
          executions: { get: async () => states.shift() ?? c.done, list: async () => [] },
          caller: { member: async () => 'user:alice@example.com' },
        },
        {
          pipeline: 'web',
          image: REF,
          digest: D1,
          overrideFreeze: null,
          reason: null,
          wait: c.wait ?? true,
        },
        { out: (l) => out.push(l), err: () => {}, timeScale: 1 },
        { sleep: async () => {} },
      );
      assert.equal(code, c.code);
      assert.match(out.join('\n'), c.out);
    });
  }
});
