// Instance splits: each rule Cloud Run refuses a split by, and the instances per revision a split
// of the manual instance count gives.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Json } from './proto-json.ts';
import { checkSplits, LATEST, REVISION, resolveSplits, type Split, splitCounts } from './splits.ts';

const known = new Set(['pool-00001-abc', 'pool-00002-def']);
const exists = (r: string) => known.has(r);
const rev = (revision: string, percent: Json) => ({ type: REVISION, revision, percent });

describe('checkSplits', () => {
  const cases: { name: string; splits: Json; newRevision?: string; refused?: RegExp }[] = [
    { name: 'no splits: LATEST at 100 by default', splits: [] },
    { name: 'LATEST at 100', splits: [{ type: LATEST, percent: 100 }] },
    {
      name: 'two revisions 50/50',
      splits: [rev('pool-00001-abc', 50), rev('pool-00002-def', 50)],
    },
    {
      name: 'LATEST and a named revision',
      splits: [{ type: LATEST, percent: 90 }, rev('pool-00001-abc', 10)],
    },
    {
      name: 'a revision this write names',
      splits: [rev('pool-v3', 100)],
      newRevision: 'pool-v3',
    },
    {
      name: 'no type, a revision: REVISION',
      splits: [{ revision: 'pool-00001-abc', percent: 100 }],
    },
    {
      name: 'UNSPECIFIED type, no revision: LATEST',
      splits: [{ type: 'INSTANCE_SPLIT_ALLOCATION_TYPE_UNSPECIFIED', percent: 100 }],
    },
    {
      name: 'a zero-percent entry is allowed',
      splits: [rev('pool-00001-abc', 100), rev('pool-00002-def', 0)],
    },
    {
      name: 'percentages summing to 90',
      splits: [rev('pool-00001-abc', 40), rev('pool-00002-def', 50)],
      refused: /must sum to 100, not 90/,
    },
    {
      name: 'percentages summing to 110',
      splits: [rev('pool-00001-abc', 60), rev('pool-00002-def', 50)],
      refused: /must sum to 100, not 110/,
    },
    {
      name: 'an unknown revision',
      splits: [rev('pool-99999-zzz', 100)],
      refused: /Revision 'pool-99999-zzz' does not exist in worker pool 'pool'/,
    },
    {
      name: 'the same revision twice',
      splits: [rev('pool-00001-abc', 50), rev('pool-00001-abc', 50)],
      refused: /instance_splits\[1\]\.revision: revision 'pool-00001-abc' appears in more than one/,
    },
    {
      name: 'LATEST twice',
      splits: [
        { type: LATEST, percent: 50 },
        { type: LATEST, percent: 50 },
      ],
      refused: /LATEST appears in more than one/,
    },
    {
      name: 'a negative percent',
      splits: [rev('pool-00001-abc', -10), rev('pool-00002-def', 110)],
      refused: /instance_splits\[0\]\.percent: percent must be between 0 and 100/,
    },
    {
      name: 'a percent over 100',
      splits: [rev('pool-00001-abc', 101)],
      refused: /percent must be between 0 and 100/,
    },
    {
      name: 'a REVISION split without a revision',
      splits: [{ type: REVISION, percent: 100 }],
      refused: /a REVISION split names a revision/,
    },
    {
      name: 'a LATEST split naming a revision',
      splits: [{ type: LATEST, revision: 'pool-00001-abc', percent: 100 }],
      refused: /a LATEST split must not name a revision/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const violations = checkSplits(c.splits, 'pool', exists, c.newRevision);
      const text = violations.map((v) => `${v.field}: ${v.description}`).join('; ');
      if (c.refused) assert.match(text, c.refused);
      else assert.deepEqual(violations, []);
    });
  }
});

describe('resolveSplits', () => {
  test('LATEST resolves to the latest ready revision; none written means LATEST at 100', () => {
    assert.deepEqual(resolveSplits(undefined, 'pool-00002-def'), [
      { type: LATEST, revision: 'pool-00002-def', percent: 100 },
    ]);
    assert.deepEqual(resolveSplits([{ type: LATEST, percent: 100 }], undefined), [
      { type: LATEST, revision: '', percent: 100 },
    ]);
  });
});

describe('splitCounts', () => {
  const split = (...entries: [string, number][]): Split[] =>
    entries.map(([revision, percent]) => ({ type: REVISION, revision, percent }));
  const cases: { name: string; total: number; splits: Split[]; counts: Record<string, number> }[] =
    [
      { name: 'all on one revision', total: 3, splits: split(['a', 100]), counts: { a: 3 } },
      {
        name: '50/50 of 4',
        total: 4,
        splits: split(['a', 50], ['b', 50]),
        counts: { a: 2, b: 2 },
      },
      {
        name: '50/50 of 3: the tie goes to the entry listed first',
        total: 3,
        splits: split(['a', 50], ['b', 50]),
        counts: { a: 2, b: 1 },
      },
      {
        name: '67/33 of 3: largest remainder',
        total: 3,
        splits: split(['a', 67], ['b', 33]),
        counts: { a: 2, b: 1 },
      },
      {
        name: '10/90 of 3: the canary still gets one instance',
        total: 3,
        splits: split(['canary', 10], ['stable', 90]),
        counts: { canary: 1, stable: 2 },
      },
      {
        name: '10/90 of 10: exact shares',
        total: 10,
        splits: split(['canary', 10], ['stable', 90]),
        counts: { canary: 1, stable: 9 },
      },
      {
        name: '10/90 of 1: too few instances to go round, the larger share keeps it',
        total: 1,
        splits: split(['canary', 10], ['stable', 90]),
        counts: { canary: 0, stable: 1 },
      },
      {
        name: '34/33/33 of 2',
        total: 2,
        splits: split(['a', 34], ['b', 33], ['c', 33]),
        counts: { a: 1, b: 1, c: 0 },
      },
      {
        name: 'zero instances',
        total: 0,
        splits: split(['a', 50], ['b', 50]),
        counts: { a: 0, b: 0 },
      },
      {
        name: 'a 0% entry gets none',
        total: 5,
        splits: split(['a', 100], ['b', 0]),
        counts: { a: 5 },
      },
      {
        name: 'LATEST and the same revision by name count together',
        total: 4,
        splits: [
          { type: LATEST, revision: 'a', percent: 50 },
          { type: REVISION, revision: 'a', percent: 25 },
          { type: REVISION, revision: 'b', percent: 25 },
        ],
        counts: { a: 3, b: 1 },
      },
      {
        name: 'LATEST with no ready revision gets none',
        total: 2,
        splits: [{ type: LATEST, revision: '', percent: 100 }],
        counts: {},
      },
    ];
  for (const c of cases) {
    test(c.name, () => {
      const counts = splitCounts(c.total, c.splits);
      assert.deepEqual(Object.fromEntries(counts), c.counts);
      if (Object.keys(c.counts).length > 0) {
        assert.equal(
          [...counts.values()].reduce((a, b) => a + b, 0),
          c.total,
          'the counts add up to the manual instance count',
        );
      }
    });
  }
});
