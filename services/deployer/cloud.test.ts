// A job's verdict from its operation: the execution failing is a verdict, polling failing is an error.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type JobOperation, jobVerdict, refusedDigests } from './cloud.ts';

const started = 'projects/p/locations/r/jobs/accept/executions/accept-1';

function op(
  outcome: { resolves: { name?: string; failedCount?: number | string } } | { rejects: Error },
  done?: boolean,
): JobOperation {
  return {
    promise: () =>
      'resolves' in outcome ? Promise.resolve([outcome.resolves]) : Promise.reject(outcome.rejects),
    latestResponse: done === undefined ? null : { done },
  };
}

describe('jobVerdict', () => {
  const cases: {
    name: string;
    op: JobOperation;
    expect: { succeeded: boolean; execution: string; detail?: string } | { throws: RegExp };
  }[] = [
    {
      name: 'every task passed',
      op: op({ resolves: { name: `${started}-x`, failedCount: 0 } }, true),
      expect: { succeeded: true, execution: `${started}-x` },
    },
    {
      name: 'tasks failed, reported as a number string (int64 in JSON)',
      op: op({ resolves: { failedCount: '2' } }, true),
      expect: { succeeded: false, execution: started, detail: '2 task(s) failed' },
    },
    {
      name: 'the operation finished with the execution failed',
      op: op({ rejects: new Error('Task accept-1-0 failed with exit code 1') }, true),
      expect: {
        succeeded: false,
        execution: started,
        detail: 'Task accept-1-0 failed with exit code 1',
      },
    },
    {
      name: 'polling could not reach the API',
      op: op({ rejects: new Error('connect ECONNREFUSED 127.0.0.1:1') }, false),
      expect: { throws: /waiting for .*accept-1: connect ECONNREFUSED/ },
    },
    {
      name: 'no operation state seen at all',
      op: op({ rejects: new Error('socket hang up') }),
      expect: { throws: /waiting for .*: socket hang up/ },
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      if ('throws' in c.expect) await assert.rejects(jobVerdict(c.op, started), c.expect.throws);
      else assert.deepEqual(await jobVerdict(c.op, started), c.expect);
    });
  }
});

describe('runway.dev/refused as the reconcile reads it', () => {
  const d = `sha256:${'a'.repeat(64)}`;
  const cases: { name: string; text: string | undefined; want: string[] }[] = [
    { name: 'absent', text: undefined, want: [] },
    { name: 'empty', text: '', want: [] },
    { name: "the workflow's JSON list", text: JSON.stringify([d]), want: [d] },
    { name: 'not JSON (a hand edit)', text: `${d},`, want: [] },
    { name: 'JSON, not a list', text: JSON.stringify({ d }), want: [] },
    { name: 'a list with other things in it', text: JSON.stringify([d, 7, null]), want: [d] },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(refusedDigests(c.text), c.want));
});
