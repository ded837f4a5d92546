// `runway history`: executions of the release workflow turned into rows (kind, digest, outcome,
// who, when, why), and the command line.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ExecutionView } from '../cloud.ts';
import { checkExit, type HistoryRow, historyRow, parseHistory, renderHistory } from './history.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const IMAGE = 'us-central1-docker.pkg.dev/p/apps/web';
const AT = '2026-12-02T10:00:00.000Z';

function execution(over: Partial<ExecutionView>): ExecutionView {
  return {
    name: 'projects/p/locations/r/workflows/runway-release/executions/e-1',
    id: 'e-1',
    state: 'SUCCEEDED',
    startTime: AT,
    endTime: null,
    argument: { pipeline: 'web', image: `${IMAGE}@${D1}` },
    result: null,
    error: null,
    labels: { pipeline: 'web', digest: '111111111111' },
    routine: null,
    ...over,
  };
}

const stage = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  start: AT,
  end: AT,
  outcome: 'OK',
  detail: null,
  ...extra,
});

describe('historyRow: one execution, one row', () => {
  const cases: { name: string; execution: ExecutionView; want: Partial<HistoryRow> | null }[] = [
    {
      name: 'a pushed release, promoted: no one decided',
      execution: execution({
        result: { outcome: 'PROMOTED', digest: D1, reason: null, stages: [stage('claim')] },
      }),
      want: { kind: 'release', digest: D1, outcome: 'PROMOTED', by: null, reason: null, at: AT },
    },
    {
      name: 'approved at the gate: the approver and their reason',
      execution: execution({
        result: {
          outcome: 'PROMOTED',
          digest: D1,
          stages: [stage('gate', { by: 'user:alice@example.com', reason: 'looks good' })],
        },
      }),
      want: { outcome: 'PROMOTED', by: 'user:alice@example.com', reason: 'looks good' },
    },
    {
      name: 'rejected at the gate',
      execution: execution({
        result: {
          outcome: 'REJECTED',
          digest: D1,
          reason: 'reject at the gate before live by user:alice@example.com: not today',
          stages: [
            stage('gate', { outcome: 'FAILED', by: 'user:alice@example.com', reason: 'not today' }),
          ],
        },
      }),
      want: { outcome: 'REJECTED', by: 'user:alice@example.com', reason: 'not today' },
    },
    {
      name: 'aborted mid-canary: who aborted it, and why',
      execution: execution({
        result: {
          outcome: 'ROLLED_BACK',
          digest: D1,
          reason: 'canary at 10% failed: aborted by user:bob@example.com: stop',
          stages: [stage('claim'), stage('abort', { by: 'user:bob@example.com', reason: 'stop' })],
        },
      }),
      want: { outcome: 'ROLLED_BACK', by: 'user:bob@example.com', reason: 'stop' },
    },
    {
      name: 'a failed canary: the result says why',
      execution: execution({
        result: {
          outcome: 'ROLLED_BACK',
          digest: D1,
          reason: 'canary at 10% failed: 5xx ratio 9/10 is above 0.1',
          stages: [stage('rollback', { by: null, reason: null })],
        },
      }),
      want: { by: null, reason: 'canary at 10% failed: 5xx ratio 9/10 is above 0.1' },
    },
    {
      name: 'a release still running: its digest from the image',
      execution: execution({ state: 'ACTIVE', result: null }),
      want: { kind: 'release', digest: D1, outcome: 'RUNNING', by: null, reason: null },
    },
    {
      name: 'a release that failed',
      execution: execution({ state: 'FAILED', error: 'HTTP server responded with error code 500' }),
      want: { outcome: 'FAILED', reason: 'HTTP server responded with error code 500' },
    },
    {
      name: 'a release started with an override: who and why from the arguments',
      execution: execution({
        argument: {
          image: `${IMAGE}@${D1}`,
          by: 'user:oncall@example.com',
          reason: 'hotfix',
          override: { freeze: 'year-end' },
        },
        state: 'ACTIVE',
      }),
      want: { by: 'user:oncall@example.com', reason: 'hotfix' },
    },
    {
      name: 'a rollback: its target, who and why',
      execution: execution({
        labels: { pipeline: 'web', action: 'rollback' },
        argument: { action: 'rollback', to: D2, by: 'user:alice@example.com', reason: 'bad' },
        result: {
          outcome: 'ROLLED_BACK',
          action: 'rollback',
          digest: D2,
          reason: `rolled back from ${D1} by user:alice@example.com: bad`,
          stages: [stage('rollback', { by: 'user:alice@example.com', reason: 'bad' })],
        },
      }),
      want: {
        kind: 'rollback',
        digest: D2,
        outcome: 'ROLLED_BACK',
        by: 'user:alice@example.com',
        reason: 'bad',
      },
    },
    {
      name: 'a rollback without a reason: none, though the result explains itself',
      execution: execution({
        labels: { pipeline: 'web', action: 'rollback' },
        argument: { action: 'rollback', to: D2, by: 'user:alice@example.com', reason: null },
        result: {
          outcome: 'ROLLED_BACK',
          digest: D2,
          reason: `rolled back from ${D1} by user:alice@example.com: no reason given`,
          stages: [stage('rollback', { by: 'user:alice@example.com', reason: null })],
        },
      }),
      want: { by: 'user:alice@example.com', reason: null },
    },
    {
      name: 'a refused rollback',
      execution: execution({
        labels: { pipeline: 'web', action: 'rollback' },
        argument: { action: 'rollback', to: null, by: 'user:alice@example.com', reason: null },
        state: 'FAILED',
        error: 'rollback refused: live has no previous promoted digest (runway.dev/previous)',
      }),
      want: {
        kind: 'rollback',
        digest: null,
        outcome: 'REFUSED',
        by: 'user:alice@example.com',
        reason: 'live has no previous promoted digest (runway.dev/previous)',
      },
    },
    {
      name: 'a rollback started by hand (no labels): the argument says so',
      execution: execution({ labels: {}, argument: { action: 'rollback', to: D2 } }),
      want: { kind: 'rollback', digest: D2 },
    },
    {
      name: 'an abort is not listed',
      execution: execution({ labels: { pipeline: 'web', action: 'abort' } }),
      want: null,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const row = historyRow(c.execution);
      if (c.want === null) return assert.equal(row, null);
      assert.ok(row);
      for (const [k, v] of Object.entries(c.want))
        assert.deepEqual(row[k as keyof HistoryRow], v, k);
    });
  }
});

test('renderHistory: one line each, short digests, no milliseconds', () => {
  const text = renderHistory([
    {
      kind: 'rollback',
      execution: 'abcdef0123456789',
      digest: D2,
      outcome: 'ROLLED_BACK',
      by: 'user:alice@example.com',
      at: AT,
      reason: 'bad',
    },
    {
      kind: 'release',
      execution: 'e-2',
      digest: null,
      outcome: 'RUNNING',
      by: null,
      at: null,
      reason: null,
    },
  ]);
  assert.deepEqual(text.split('\n'), [
    'WHEN                  KIND      OUTCOME      DIGEST        BY                      EXECUTION  REASON',
    '2026-12-02T10:00:00Z  rollback  ROLLED_BACK  222222222222  user:alice@example.com  abcdef01   bad',
    '-                     release   RUNNING      -             -                       e-2',
  ]);
  assert.equal(renderHistory([]), 'no releases or rollbacks');
});

describe('parseHistory', () => {
  const cases: { name: string; argv: string[]; want: { json: boolean; limit: number } | RegExp }[] =
    [
      { name: 'defaults', argv: ['web'], want: { json: false, limit: 20 } },
      {
        name: '--json --limit',
        argv: ['web', '--json', '--limit', '5'],
        want: { json: true, limit: 5 },
      },
      { name: 'no pipeline', argv: ['--json'], want: /^usage: runway history PIPELINE/ },
      {
        name: 'a zero limit',
        argv: ['web', '--limit', '0'],
        want: /--limit must be a whole number/,
      },
      { name: 'a fraction', argv: ['web', '--limit', '2.5'], want: /--limit must be/ },
      { name: 'too many', argv: ['web', '--limit', '5000'], want: /from 1 to 1000/ },
      { name: '--json takes no value', argv: ['web', '--json=yes'], want: /takes no value/ },
      { name: '--check takes no value', argv: ['web', '--check=1'], want: /takes no value/ },
    ];
  for (const c of cases) {
    test(c.name, () => {
      if (c.want instanceof RegExp)
        assert.throws(() => parseHistory(c.argv, {}), { name: 'UsageError', message: c.want });
      else {
        const o = parseHistory(c.argv, {});
        assert.deepEqual({ json: o.json, limit: o.limit }, c.want);
      }
    });
  }
});

describe('checkExit: --check exits 0 only when the newest release or rollback ended well', () => {
  const row = (kind: HistoryRow['kind'], outcome: string): HistoryRow => ({
    kind,
    execution: 'e',
    digest: null,
    outcome,
    by: null,
    at: null,
    reason: null,
  });
  const cases: { name: string; rows: HistoryRow[]; want: number }[] = [
    { name: 'a promoted release', rows: [row('release', 'PROMOTED')], want: 0 },
    { name: 'a duplicate: already live', rows: [row('release', 'DUPLICATE')], want: 0 },
    { name: 'a rollback that rolled back', rows: [row('rollback', 'ROLLED_BACK')], want: 0 },
    { name: 'a rejected release', rows: [row('release', 'REJECTED')], want: 1 },
    { name: 'a release rolled back', rows: [row('release', 'ROLLED_BACK')], want: 1 },
    { name: 'a failed execution', rows: [row('release', 'FAILED')], want: 1 },
    { name: 'a cancelled execution', rows: [row('release', 'CANCELLED')], want: 1 },
    { name: 'a superseded release', rows: [row('release', 'SUPERSEDED')], want: 1 },
    { name: 'a release still running', rows: [row('release', 'RUNNING')], want: 1 },
    { name: 'a refused rollback', rows: [row('rollback', 'REFUSED')], want: 1 },
    { name: 'nothing released', rows: [], want: 1 },
    {
      name: 'only the newest counts',
      rows: [row('release', 'REJECTED'), row('release', 'PROMOTED')],
      want: 1,
    },
  ];
  for (const c of cases) test(c.name, () => assert.equal(checkExit(c.rows), c.want));
});
