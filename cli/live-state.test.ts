import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeAnalysis, describeBefore, liveState } from './live-state.ts';

const analysis = {
  percent: 10,
  verdict: 'FAILED',
  requests: 240,
  stableRequests: 2160,
  dryRun: false,
  metrics: [
    {
      name: 'errors',
      builtin: 'error-ratio',
      compareTo: null,
      value: 0.004,
      threshold: 0.02,
      verdict: 'PASSED',
    },
    {
      name: 'p99',
      builtin: 'latency-p99',
      compareTo: null,
      value: 1210.4,
      threshold: 800,
      verdict: 'FAILED',
    },
    {
      name: 'vs-stable',
      builtin: 'error-ratio',
      compareTo: 'stable',
      value: null,
      threshold: 1.5,
      verdict: 'INCONCLUSIVE',
    },
  ],
} as const;

describe('live state', () => {
  test('the analysis annotation, read and told in a line', () => {
    const state = liveState({ 'runway.dev/analysis': JSON.stringify(analysis) });
    assert.ok(state.analysis);
    assert.equal(
      describeAnalysis(state.analysis),
      'FAILED at 10% over 240 requests: errors 0.004 <= 0.02, p99 1210 ms > 800 ms, vs-stable no data vs 1.5x stable',
    );
    assert.match(
      describeAnalysis({ ...state.analysis, dryRun: true }),
      /^FAILED \(dry run\) at 10%/,
    );
  });

  const unreadable = [
    { name: 'not JSON', text: '{nope' },
    { name: 'a verdict not known', text: JSON.stringify({ ...analysis, verdict: 'MAYBE' }) },
    { name: 'metrics missing', text: JSON.stringify({ ...analysis, metrics: undefined }) },
    { name: 'oversized and wrong', text: JSON.stringify({ percent: 'x'.repeat(100_000) }) },
  ];
  for (const c of unreadable) {
    test(`an analysis annotation that does not parse reads as absent: ${c.name}`, () => {
      assert.equal(liveState({ 'runway.dev/analysis': c.text }).analysis, null);
    });
  }

  const points = [
    { before: 'live', want: 'before live traffic moves' },
    { before: '100', want: 'before 100%' },
    { before: 'analysis', want: 'after an inconclusive analysis' },
  ];
  for (const c of points) {
    test(`a gate ${c.before}: ${c.want}`, () => assert.equal(describeBefore(c.before), c.want));
  }
});
