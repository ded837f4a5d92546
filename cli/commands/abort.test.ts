// `runway abort`: the command line, the execution it starts (arguments and labels), and what its
// end says: told at once, told at the next traffic change, refused, failed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Pipeline } from '../../services/shared/pipeline-config.ts';
import { type ExecutionView, localCaller } from '../cloud.ts';
import { abortRelease, parseAbort } from './abort.ts';

const pipeline = {
  name: 'web',
  region: 'us-central1',
  image: 'us-central1-docker.pkg.dev/p/apps/web',
  staging: { service: 'web-staging' },
  live: { service: 'web' },
  acceptance: { job: 'web-acceptance', timeoutSeconds: 600, taskCount: 1, checks: null },
  promotion: { strategy: 'direct' },
  notify: null,
} as unknown as Pipeline;

const view = (over: Partial<ExecutionView>): ExecutionView => ({
  name: 'projects/p/locations/r/workflows/runway-release/executions/a-1',
  id: 'a-1',
  state: 'ACTIVE',
  startTime: null,
  endTime: null,
  argument: null,
  result: null,
  error: null,
  labels: {},
  routine: 'send_abort',
  ...over,
});

describe('parseAbort', () => {
  test('a pipeline and a reason', () => {
    const o = parseAbort(['web', '--reason', 'stop'], {});
    assert.deepEqual(
      [o.pipeline, o.reason, o.parsed.member],
      ['web', 'stop', 'user:developer@local'],
    );
  });
  test('no pipeline', () =>
    assert.throws(() => parseAbort([], {}), {
      name: 'UsageError',
      message: /^usage: runway abort/,
    }));
});

describe('abortRelease', () => {
  const D = `sha256:${'a'.repeat(64)}`;
  const cases: { name: string; end: Partial<ExecutionView>; want: RegExp; refused?: boolean }[] = [
    {
      name: 'told at once on its control channel',
      end: { state: 'SUCCEEDED', result: { execution: 'r-1', digest: D, delivered: true } },
      want: /^aborted: release r-1 of web \(aaaaaaaaaaaa\) was told at once, by user:bob@example.com$/,
    },
    {
      name: 'no control channel: at its next traffic change',
      end: { state: 'SUCCEEDED', result: { execution: 'r-1', digest: D, delivered: false } },
      want: /stops at its next traffic change/,
    },
    {
      name: 'nothing running: refused, the workflow’s reason',
      end: { state: 'FAILED', error: 'abort refused: no release of web is running' },
      want: /^no release of web is running$/,
      refused: true,
    },
    {
      name: 'failed otherwise',
      end: { state: 'FAILED', error: 'HTTP server responded with error code 503' },
      want: /^HTTP server responded with error code 503$/,
      refused: true,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const started: { argument: unknown; labels: Record<string, string> }[] = [];
      let polls = 0;
      const executions = {
        start: async (argument: unknown, labels: Record<string, string>) => {
          started.push({ argument, labels });
          return view({});
        },
        // Running on the first look, ended on the second.
        get: async () => (polls++ === 0 ? view({}) : view({ routine: null, ...c.end })),
      };
      const run = abortRelease(
        { executions, caller: localCaller('user:bob@example.com') },
        { freezes: [] },
        pipeline,
        'my-project',
        'stop',
        { sleep: async () => {} },
      );
      if (c.refused) await assert.rejects(run, { name: 'Refused', message: c.want });
      else assert.match(await run, c.want);
      assert.deepEqual(started[0]?.labels, { pipeline: 'web', action: 'abort' });
      assert.deepEqual(
        (({ action, by, reason, image, project, pipeline: p }) => ({
          action,
          by,
          reason,
          image,
          project,
          p,
        }))(started[0]?.argument as Record<string, unknown>),
        {
          action: 'abort',
          by: 'user:bob@example.com',
          reason: 'stop',
          image: null,
          project: 'my-project',
          p: 'web',
        },
      );
      assert.equal(polls, 2);
    });
  }
});
