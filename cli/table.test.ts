import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Stage } from '../services/shared/workflow-result.ts';
import { seconds, stageLine, stageSeconds, table } from './table.ts';

describe('stageSeconds: one clock (the wall), the scaled workflow time labelled beside it', () => {
  const cases: { name: string; ms: number | undefined; scale: number; want: string }[] = [
    { name: 'real time: the one clock', ms: 72_000, scale: 1, want: '72s' },
    { name: 'real time, under 10 s', ms: 3_250, scale: 1, want: '3.3s' },
    {
      name: 'x20: wall time first, workflow time labelled',
      ms: 72_000,
      scale: 20,
      want: '3.6s (72s in workflow time, x20)',
    },
    {
      name: 'x10, short stage',
      ms: 1_500,
      scale: 10,
      want: '0.1s (1.5s in workflow time, x10)',
    },
    {
      name: 'x1000: a 10-minute bake',
      ms: 600_000,
      scale: 1000,
      want: '0.6s (600s in workflow time, x1000)',
    },
    { name: 'a stage that has not ended', ms: undefined, scale: 20, want: '-' },
    { name: 'an unparsable time', ms: Number.NaN, scale: 1, want: '-' },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(stageSeconds(c.ms, c.scale), c.want));
  }
});

describe('seconds', () => {
  const cases = [
    { name: 'tenths under 10 s', ms: 8_000, want: '8.0s' },
    { name: 'whole seconds from 10 s', ms: 72_400, want: '72s' },
    { name: 'unknown', ms: undefined, want: '-' },
  ];
  for (const c of cases) test(c.name, () => assert.equal(seconds(c.ms), c.want));
});

test('table pads columns to the widest cell and trims the last', () => {
  assert.equal(table(['A', 'BB'], [['xyz', 'q']]), 'A    BB\nxyz  q');
});

describe('stageLine: a finished stage as the demo and `local push --wait` print it', () => {
  const stage = (over: Partial<Stage>): Stage => ({
    name: 'promote',
    start: '2026-01-01T00:00:00Z',
    end: '2026-01-01T00:01:12Z',
    outcome: 'OK',
    detail: 'canary 10% baked 60s',
    by: null,
    reason: null,
    ...over,
  });
  const cases: { name: string; stage: Stage; scale: number; want: string }[] = [
    {
      name: 'real time',
      stage: stage({}),
      scale: 1,
      want: '✓ promote    72s  canary 10% baked 60s',
    },
    {
      name: 'time x20: the wall time, the workflow time labelled',
      stage: stage({}),
      scale: 20,
      want: '✓ promote  3.6s (72s in workflow time, x20)  canary 10% baked 60s',
    },
    {
      name: 'a failed stage with a fractional end',
      stage: stage({
        name: 'test',
        end: '2026-01-01T00:00:02.5Z',
        outcome: 'FAILED',
        detail: 'acceptance tests failed',
      }),
      scale: 1,
      want: '✗ test      2.5s  acceptance tests failed',
    },
    {
      name: "a multi-region release's stage names its region",
      stage: stage({ region: 'europe-west1', detail: 'canary to web-0123456789ab' }),
      scale: 1,
      want: '✓ promote    72s  europe-west1: canary to web-0123456789ab',
    },
    {
      name: 'a skipped stage without end or detail',
      stage: stage({ name: 'rollback', end: null, outcome: 'SKIPPED', detail: null }),
      scale: 20,
      want: '· rollback     -',
    },
  ];
  for (const c of cases) test(c.name, () => assert.equal(stageLine(c.stage, c.scale), c.want));
});
