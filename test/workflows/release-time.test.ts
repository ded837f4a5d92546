// The release workflow's canonical_time, run on the engine, against the deployer's
// canonicalTimestamp: both sides must spell one instant the same way, or a publish time written
// by one would compare wrongly with one written by the other.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromPlain, toJsonText } from '../../local/workflows/convert.ts';
import { deployableFile } from '../../local/workflows/deployable.ts';
import { parseWorkflow, startExecution } from '../../local/workflows/engine.ts';
import { canonicalTimestamp } from '../../services/shared/timestamp.ts';

// release.yaml with its main renamed, and a main that calls one of its subworkflows.
const { main: releaseMain, ...routines } = JSON.parse(
  deployableFile(new URL('../../workflows/release.yaml', import.meta.url)),
);
const harness = parseWorkflow(
  JSON.stringify({
    ...routines,
    release_main: releaseMain,
    main: { params: ['value'], steps: [{ canonical: { return: '${canonical_time(value)}' } }] },
  }),
  { file: 'release-time.json' },
);

async function canonical(value: string | null): Promise<string | null> {
  const r = await startExecution(harness, fromPlain(value)).done;
  if (r.state !== 'SUCCEEDED') throw new Error(toJsonText(r.error?.payload ?? null));
  return JSON.parse(toJsonText(r.result ?? null));
}

const spellings = [
  { name: 'whole second, as Pub/Sub writes it', text: '2026-12-02T01:09:47Z' },
  { name: 'milliseconds', text: '2026-12-02T01:09:47.078Z' },
  { name: 'microseconds', text: '2026-12-02T01:09:47.078123Z' },
  { name: 'nanoseconds', text: '2026-12-02T01:09:47.078123456Z' },
  { name: 'one fractional digit', text: '2026-12-02T01:09:47.5Z' },
  { name: 'trailing zeros', text: '2026-12-02T01:09:47.500000Z' },
  { name: 'already canonical', text: '2026-12-02T01:09:47.000000001Z' },
  { name: 'positive offset', text: '2026-12-02T02:09:47.25+01:00' },
  { name: 'negative offset across midnight', text: '2026-12-01T23:09:47-02:00' },
  { name: 'offset across a year', text: '2027-01-01T00:30:00+01:00' },
  { name: 'leap day', text: '2028-02-29T23:59:59.999999999Z' },
  { name: 'lowercase t and z', text: '2026-12-02t01:09:47.1z' },
  { name: 'minus zero offset', text: '2026-12-02T01:09:47-00:00' },
];

describe('canonical_time spells an instant as the deployer does', () => {
  for (const s of spellings) {
    test(s.name, async () => {
      assert.equal(await canonical(s.text), canonicalTimestamp(s.text));
    });
  }
  test('null and "" are no time', async () => {
    assert.equal(await canonical(null), null);
    assert.equal(await canonical(''), null);
  });
});

test('canonical spellings sort as their instants, where the spellings as written do not', async () => {
  const pairs: [earlier: string, later: string][] = [
    ['2026-12-02T01:09:47Z', '2026-12-02T01:09:47.078Z'],
    ['2026-12-02T01:09:47.9Z', '2026-12-02T01:09:48Z'],
    ['2026-12-02T02:09:47+01:00', '2026-12-02T01:09:47.5Z'],
    ['2026-12-02T01:09:47.000000001Z', '2026-12-02T01:09:47.000000002Z'],
  ];
  for (const [earlier, later] of pairs) {
    const [a, b] = [(await canonical(earlier))!, (await canonical(later))!];
    assert.ok(a < b, `${earlier} -> ${a} should sort before ${later} -> ${b}`);
  }
  // As written, the first pair sorts the wrong way round: '.' sorts before 'Z'.
  assert.ok('2026-12-02T01:09:47.078Z' < '2026-12-02T01:09:47Z');
});
