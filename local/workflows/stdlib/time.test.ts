// RFC 3339 formatting and parsing behind time.format, time.parse and sys.sleep_until.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkflowError } from '../errors.ts';
import { formatMicros, microsToSeconds, parseRfc3339, secondsToMicros } from './time.ts';

const format = (seconds: bigint | number, zone?: string) =>
  formatMicros(secondsToMicros(seconds), zone);

describe('formatting seconds since the epoch', () => {
  const cases: { name: string; seconds: bigint | number; zone?: string; want: string }[] = [
    // The three examples of Google's time.format page.
    { name: 'UTC by default', seconds: 1720788633n, want: '2024-07-12T12:50:33.000000Z' },
    { name: 'GMT is UTC', seconds: 1720788633n, zone: 'GMT', want: '2024-07-12T12:50:33.000000Z' },
    {
      name: 'a zone east of UTC',
      seconds: 1720788633n,
      zone: 'Europe/Paris',
      want: '2024-07-12T14:50:33.000000+02:00',
    },
    { name: 'an empty zone is UTC', seconds: 0n, zone: '', want: '1970-01-01T00:00:00.000000Z' },
    {
      name: 'a zone west of UTC, in winter',
      seconds: 0n,
      zone: 'America/New_York',
      want: '1969-12-31T19:00:00.000000-05:00',
    },
    {
      name: 'a half-hour zone',
      seconds: 0n,
      zone: 'Asia/Kolkata',
      want: '1970-01-01T05:30:00.000000+05:30',
    },
    { name: 'microseconds of a double', seconds: 1.5, want: '1970-01-01T00:00:01.500000Z' },
    {
      name: 'a double that is not exact in binary rounds to the microsecond',
      seconds: 1720788633.1,
      want: '2024-07-12T12:50:33.100000Z',
    },
    { name: 'before the epoch', seconds: -1.25, want: '1969-12-31T23:59:58.750000Z' },
    { name: 'the first year', seconds: -62135596800n, want: '0001-01-01T00:00:00.000000Z' },
    {
      name: 'a local mean time offset keeps whole minutes',
      seconds: -2208988800n,
      zone: 'Europe/Paris',
      want: '1900-01-01T00:09:00.000000+00:09',
    },
  ];
  for (const c of cases) test(c.name, () => assert.equal(format(c.seconds, c.zone), c.want));

  test('an unknown zone is a ValueError', () =>
    assert.throws(() => format(0n, 'Mars/Olympus'), isError('ValueError')));
  test('a year past 9999 is a ValueError', () =>
    assert.throws(() => format(253402300800n), isError('ValueError')));
});

describe('parsing RFC 3339 timestamps', () => {
  const cases: { name: string; text: string; want: number | undefined }[] = [
    // Google's time.parse example.
    { name: 'microseconds and Z', text: '2024-05-08T12:01:00.000000Z', want: 1715169660 },
    { name: 'no fraction', text: '1970-01-01T00:00:10Z', want: 10 },
    { name: 'a positive offset', text: '1970-01-01T02:00:00+02:00', want: 0 },
    { name: 'a negative offset', text: '1969-12-31T19:00:00-05:00', want: 0 },
    { name: 'lowercase t and z', text: '1970-01-01t00:00:01.5z', want: 1.5 },
    {
      name: 'digits past microseconds are dropped',
      text: '1970-01-01T00:00:00.1234567Z',
      want: 0.123456,
    },
    { name: 'a leap day', text: '2024-02-29T00:00:00Z', want: 1709164800 },
    { name: 'a leap second', text: '1998-12-31T23:59:60Z', want: 915148800 },
    { name: 'a date alone', text: '2024-05-08', want: undefined },
    { name: 'no offset', text: '2024-05-08T12:01:00', want: undefined },
    { name: 'a space for T', text: '2024-05-08 12:01:00Z', want: undefined },
    { name: 'February 29 of a common year', text: '2023-02-29T00:00:00Z', want: undefined },
    { name: 'hour 24', text: '2024-05-08T24:00:00Z', want: undefined },
    { name: 'words', text: 'yesterday', want: undefined },
  ];
  for (const c of cases)
    test(c.name, () => {
      const micros = parseRfc3339(c.text);
      assert.equal(micros === undefined ? undefined : microsToSeconds(micros), c.want);
    });

  test('format then parse gives the instant back', () => {
    const micros = secondsToMicros(1715172805.281847);
    assert.equal(parseRfc3339(formatMicros(micros, 'Australia/Adelaide')), micros);
  });
});

function isError(tag: string) {
  return (err: unknown) =>
    err instanceof WorkflowError &&
    JSON.stringify((err.value as Map<string, unknown>).get('tags')) === JSON.stringify([tag]);
}
