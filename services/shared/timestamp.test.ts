import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TimestampError, canonicalTimestamp, timestampSchema } from './timestamp.ts';
import { describeZodError } from './validation.ts';

describe('canonicalTimestamp: every RFC 3339 spelling of an instant becomes one', () => {
  const cases: { name: string; text: string; want: string }[] = [
    // What Pub/Sub and proto3 JSON write: no fraction for a whole second.
    { name: 'no fraction', text: '2026-12-02T01:09:47Z', want: '2026-12-02T01:09:47.000000000Z' },
    { name: '1 digit', text: '2026-12-02T01:09:47.1Z', want: '2026-12-02T01:09:47.100000000Z' },
    { name: '2 digits', text: '2026-12-02T01:09:47.07Z', want: '2026-12-02T01:09:47.070000000Z' },
    { name: '3 digits', text: '2026-12-02T01:09:47.078Z', want: '2026-12-02T01:09:47.078000000Z' },
    { name: '4 digits', text: '2026-12-02T01:09:47.0781Z', want: '2026-12-02T01:09:47.078100000Z' },
    {
      name: '5 digits',
      text: '2026-12-02T01:09:47.07812Z',
      want: '2026-12-02T01:09:47.078120000Z',
    },
    {
      name: '6 digits',
      text: '2026-12-02T01:09:47.078123Z',
      want: '2026-12-02T01:09:47.078123000Z',
    },
    {
      name: '7 digits',
      text: '2026-12-02T01:09:47.0781234Z',
      want: '2026-12-02T01:09:47.078123400Z',
    },
    {
      name: '8 digits',
      text: '2026-12-02T01:09:47.07812345Z',
      want: '2026-12-02T01:09:47.078123450Z',
    },
    {
      name: '9 digits, nanoseconds kept (Date would round to milliseconds)',
      text: '2026-12-02T01:09:47.078123456Z',
      want: '2026-12-02T01:09:47.078123456Z',
    },
    {
      name: 'all nines stay in their second',
      text: '2026-12-31T23:59:59.999999999Z',
      want: '2026-12-31T23:59:59.999999999Z',
    },
    {
      name: 'zero fraction',
      text: '2026-12-02T01:09:47.0Z',
      want: '2026-12-02T01:09:47.000000000Z',
    },
    { name: 'lowercase t', text: '2026-12-02t01:09:47Z', want: '2026-12-02T01:09:47.000000000Z' },
    { name: 'lowercase z', text: '2026-12-02T01:09:47.5z', want: '2026-12-02T01:09:47.500000000Z' },
    {
      name: 'lowercase t and z',
      text: '2026-12-02t01:09:47z',
      want: '2026-12-02T01:09:47.000000000Z',
    },
    {
      name: 'offset +02:00',
      text: '2026-12-02T03:09:47+02:00',
      want: '2026-12-02T01:09:47.000000000Z',
    },
    {
      name: 'offset -05:30 with fraction',
      text: '2026-12-01T19:39:47.078-05:30',
      want: '2026-12-02T01:09:47.078000000Z',
    },
    {
      name: '+00:00 is Z',
      text: '2026-12-02T01:09:47+00:00',
      want: '2026-12-02T01:09:47.000000000Z',
    },
    {
      name: '-00:00 (offset unknown) is Z',
      text: '2026-12-02T01:09:47-00:00',
      want: '2026-12-02T01:09:47.000000000Z',
    },
    {
      name: 'positive offset crosses midnight backwards',
      text: '2026-12-02T00:30:00.25+01:00',
      want: '2026-12-01T23:30:00.250000000Z',
    },
    {
      name: 'negative offset crosses midnight forwards',
      text: '2026-12-01T23:30:00-01:00',
      want: '2026-12-02T00:30:00.000000000Z',
    },
    {
      name: 'positive offset crosses the year backwards',
      text: '2027-01-01T00:15:00.123456789+01:00',
      want: '2026-12-31T23:15:00.123456789Z',
    },
    {
      name: 'negative offset crosses the year forwards',
      text: '2026-12-31T23:00:00-23:59',
      want: '2027-01-01T22:59:00.000000000Z',
    },
    {
      name: 'offset crosses into Feb 29 of a leap year',
      text: '2028-03-01T00:00:00+00:01',
      want: '2028-02-29T23:59:00.000000000Z',
    },
    {
      name: 'offset crosses out of Feb 28 of a common year',
      text: '2026-02-28T23:00:00-02:00',
      want: '2026-03-01T01:00:00.000000000Z',
    },
    {
      name: 'Feb 29 of a leap year',
      text: '2028-02-29T12:00:00Z',
      want: '2028-02-29T12:00:00.000000000Z',
    },
    {
      name: 'Feb 29 of 2000 (divisible by 400)',
      text: '2000-02-29T00:00:00Z',
      want: '2000-02-29T00:00:00.000000000Z',
    },
    {
      name: 'the Unix epoch',
      text: '1970-01-01T00:00:00Z',
      want: '1970-01-01T00:00:00.000000000Z',
    },
    {
      name: 'before the epoch, across it by offset',
      text: '1969-12-31T23:00:00-01:00',
      want: '1970-01-01T00:00:00.000000000Z',
    },
    {
      name: 'the first instant Google can hold',
      text: '0001-01-01T00:00:00Z',
      want: '0001-01-01T00:00:00.000000000Z',
    },
    {
      name: 'the last instant Google can hold',
      text: '9999-12-31T23:59:59.999999999Z',
      want: '9999-12-31T23:59:59.999999999Z',
    },
    {
      name: 'year 99 stays year 99 (Date.UTC would make it 1999)',
      text: '0099-06-15T08:00:00Z',
      want: '0099-06-15T08:00:00.000000000Z',
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(canonicalTimestamp(c.text), c.want));
  }
  test('the canonical form is idempotent', () => {
    for (const c of cases) assert.equal(canonicalTimestamp(c.want), c.want, c.name);
  });
});

describe('canonicalTimestamp rejects what is not a timestamp, saying why', () => {
  const cases: { name: string; text: string; want: RegExp }[] = [
    { name: 'empty', text: '', want: /expected YYYY-MM-DD/ },
    { name: 'a word', text: 'Tuesday', want: /expected YYYY-MM-DD/ },
    { name: 'missing offset', text: '2026-12-02T01:09:47', want: /expected/ },
    { name: 'date only', text: '2026-12-02', want: /expected/ },
    { name: 'space for T', text: '2026-12-02 01:09:47Z', want: /expected/ },
    { name: 'no seconds', text: '2026-12-02T01:09Z', want: /expected/ },
    { name: 'dot without digits', text: '2026-12-02T01:09:47.Z', want: /expected/ },
    { name: 'comma fraction', text: '2026-12-02T01:09:47,5Z', want: /expected/ },
    { name: 'offset without colon', text: '2026-12-02T01:09:47+0200', want: /expected/ },
    { name: 'offset hours only', text: '2026-12-02T01:09:47+02', want: /expected/ },
    { name: 'named zone', text: '2026-12-02T01:09:47 UTC', want: /expected/ },
    { name: 'Z and offset', text: '2026-12-02T01:09:47Z+01:00', want: /expected/ },
    { name: 'five-digit year', text: '12026-12-02T01:09:47Z', want: /expected/ },
    { name: 'signed year', text: '+2026-12-02T01:09:47Z', want: /expected/ },
    { name: 'one-digit month', text: '2026-1-02T01:09:47Z', want: /expected/ },
    { name: 'non-ASCII digit', text: '2026-12-0٢T01:09:47Z', want: /expected/ },
    { name: 'trailing newline', text: '2026-12-02T01:09:47Z\n', want: /expected/ },
    { name: 'leading space', text: ' 2026-12-02T01:09:47Z', want: /expected/ },
    { name: 'month 00', text: '2026-00-02T01:09:47Z', want: /month 00 is not 01\.\.12/ },
    { name: 'month 13', text: '2026-13-02T01:09:47Z', want: /month 13 is not 01\.\.12/ },
    { name: 'day 00', text: '2026-12-00T01:09:47Z', want: /day 00 does not exist in 2026-12/ },
    { name: 'day 32', text: '2026-01-32T01:09:47Z', want: /day 32 does not exist/ },
    { name: 'April 31', text: '2026-04-31T01:09:47Z', want: /day 31 does not exist in 2026-04/ },
    { name: 'Feb 29 of a common year', text: '2026-02-29T00:00:00Z', want: /day 29/ },
    { name: 'Feb 29 of 1900 (divisible by 100)', text: '1900-02-29T00:00:00Z', want: /day 29/ },
    { name: 'Feb 30 of a leap year', text: '2028-02-30T00:00:00Z', want: /day 30/ },
    { name: 'hour 24', text: '2026-12-02T24:00:00Z', want: /hour 24 is not 00\.\.23/ },
    { name: 'hour 25', text: '2026-12-02T25:00:00Z', want: /hour 25 is not 00\.\.23/ },
    { name: 'minute 60', text: '2026-12-02T01:60:47Z', want: /minute 60 is not 00\.\.59/ },
    { name: 'second 61', text: '2026-12-02T01:09:61Z', want: /second 61 is not 00\.\.59/ },
    { name: 'leap second', text: '2016-12-31T23:59:60Z', want: /leap seconds/ },
    {
      name: '10 fractional digits',
      text: '2026-12-02T01:09:47.0781234567Z',
      want: /10 fractional digits: at most 9/,
    },
    { name: 'offset hour 24', text: '2026-12-02T01:09:47+24:00', want: /offset hour 24/ },
    { name: 'offset minute 60', text: '2026-12-02T01:09:47+01:60', want: /offset minute 60/ },
    { name: 'year 0000', text: '0000-12-31T23:00:00Z', want: /outside 0001-01-01/ },
    { name: 'before year 1 by offset', text: '0001-01-01T00:30:00+01:00', want: /outside/ },
    { name: 'after year 9999 by offset', text: '9999-12-31T23:30:00-01:00', want: /outside/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.throws(
        () => canonicalTimestamp(c.text),
        (err) => err instanceof TimestampError && err.code === 'INVALID_ARGUMENT',
      );
      assert.throws(() => canonicalTimestamp(c.text), { message: c.want });
    });
  }
});

describe('canonicalTimestamp agrees with Date to the millisecond', () => {
  test('any instant in any offset, against toISOString', async () => {
    const fc = await import('fast-check');
    const instant = fc.date({
      min: new Date('0100-01-01T00:00:00Z'),
      max: new Date('9998-12-31T00:00:00Z'),
      noInvalidDate: true,
    });
    const offsetMinutes = fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 });
    fc.assert(
      fc.property(instant, offsetMinutes, (d, off) => {
        // The same instant written as local time in the offset.
        const local = new Date(d.getTime() + off * 60_000).toISOString().slice(0, -1);
        const abs = Math.abs(off);
        const sign = off < 0 ? '-' : '+';
        const text = `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
        assert.equal(canonicalTimestamp(text), d.toISOString().replace('Z', '000000Z'));
      }),
      { numRuns: 2000 },
    );
  });
  test('canonical spellings sort as their instants do', () => {
    const texts = [
      '2026-12-02T01:09:47.078Z',
      '2026-12-02T01:09:47Z',
      '2026-12-02T03:09:47.5+02:00',
      '2026-12-02T01:09:46.999999999Z',
      '2026-12-01T20:09:47.000000001-05:00',
    ];
    const canonical = texts.map(canonicalTimestamp).sort();
    assert.deepEqual(canonical, [
      '2026-12-02T01:09:46.999999999Z',
      '2026-12-02T01:09:47.000000000Z',
      '2026-12-02T01:09:47.000000001Z',
      '2026-12-02T01:09:47.078000000Z',
      '2026-12-02T01:09:47.500000000Z',
    ]);
  });
});

describe('timestampSchema', () => {
  test('outputs the canonical spelling', () => {
    assert.equal(
      timestampSchema.parse('2026-12-02T03:09:47+02:00'),
      '2026-12-02T01:09:47.000000000Z',
    );
  });
  const bad = [
    { name: 'not a string', input: 1_700_000_000, want: /^must be an RFC 3339 timestamp/ },
    { name: 'bad month', input: '2026-13-02T01:09:47Z', want: /RFC 3339 timestamp: month 13/ },
  ];
  for (const c of bad) {
    test(`refuses ${c.name}`, () => {
      const r = timestampSchema.safeParse(c.input);
      assert.equal(r.success, false);
      if (!r.success) assert.match(describeZodError(r.error), c.want);
    });
  }
});
