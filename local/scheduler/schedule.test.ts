import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RunwayError } from '../../services/shared/errors.ts';
import { isTimeZone, parseSchedule, SCHEDULE_INVALID } from './schedule.ts';

/** The next `n` runs after `from`, as ISO instants. */
function runs(schedule: string, zone: string, from: string, n: number): string[] {
  const s = parseSchedule(schedule, zone);
  const out: string[] = [];
  let at = Date.parse(from);
  for (let i = 0; i < n; i++) {
    const next = s.nextAfter(at);
    if (next === undefined) break;
    out.push(new Date(next).toISOString());
    at = next;
  }
  return out;
}

describe('next run times', () => {
  // 2026: the US springs forward on 8 March (02:00 EST -> 03:00 EDT) and falls back on
  // 1 November (02:00 EDT -> 01:00 EST); the EU on 29 March (02:00 CET -> 03:00 CEST) and
  // 25 October (03:00 CEST -> 02:00 CET).
  const cases: { name: string; schedule: string; zone: string; from: string; want: string[] }[] = [
    {
      name: 'every 15 minutes in UTC, from an exact run time, is strictly after it',
      schedule: '*/15 * * * *',
      zone: 'Etc/UTC',
      from: '2026-05-01T10:15:00.000Z',
      want: ['2026-05-01T10:30:00.000Z', '2026-05-01T10:45:00.000Z', '2026-05-01T11:00:00.000Z'],
    },
    {
      name: '"utc" in lower case, as Google allows',
      schedule: '0 9 * * *',
      zone: 'utc',
      from: '2026-05-01T10:00:00Z',
      want: ['2026-05-02T09:00:00.000Z'],
    },
    {
      name: 'New York, spring forward: 02:30 does not exist, so it runs at 03:00 EDT that day',
      schedule: '30 2 * * *',
      zone: 'America/New_York',
      from: '2026-03-07T12:00:00Z',
      want: ['2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z'],
    },
    {
      name: 'New York, spring forward: 09:00 daily moves from 14:00 to 13:00 UTC',
      schedule: '0 9 * * *',
      zone: 'America/New_York',
      from: '2026-03-07T00:00:00Z',
      want: ['2026-03-07T14:00:00.000Z', '2026-03-08T13:00:00.000Z', '2026-03-09T13:00:00.000Z'],
    },
    {
      name: 'New York, spring forward: hourly skips the missing 02:00',
      schedule: '0 * * * *',
      zone: 'America/New_York',
      from: '2026-03-08T05:30:00Z',
      want: ['2026-03-08T06:00:00.000Z', '2026-03-08T07:00:00.000Z', '2026-03-08T08:00:00.000Z'],
    },
    {
      name: 'New York, fall back: 01:30 daily runs once, at the first 01:30 (EDT)',
      schedule: '30 1 * * *',
      zone: 'America/New_York',
      from: '2026-10-31T12:00:00Z',
      want: ['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z'],
    },
    {
      name: 'New York, fall back: every 30 minutes runs through both passes of 01:00-02:00',
      schedule: '*/30 * * * *',
      zone: 'America/New_York',
      from: '2026-11-01T04:50:00Z',
      want: [
        '2026-11-01T05:00:00.000Z',
        '2026-11-01T05:30:00.000Z',
        '2026-11-01T06:00:00.000Z',
        '2026-11-01T06:30:00.000Z',
        '2026-11-01T07:00:00.000Z',
      ],
    },
    {
      name: 'Berlin, spring forward: hourly goes from 01:00 CET to 03:00 CEST',
      schedule: '0 * * * *',
      zone: 'Europe/Berlin',
      from: '2026-03-28T23:30:00Z',
      want: ['2026-03-29T00:00:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z'],
    },
    {
      name: 'Berlin, spring forward: 02:15 does not exist, so it runs at 03:00 CEST that day',
      schedule: '15 2 * * *',
      zone: 'Europe/Berlin',
      from: '2026-03-28T12:00:00Z',
      want: ['2026-03-29T01:00:00.000Z', '2026-03-30T00:15:00.000Z'],
    },
    {
      name: 'Berlin, fall back: 02:30 daily runs once, at the first 02:30 (CEST)',
      schedule: '30 2 * * *',
      zone: 'Europe/Berlin',
      from: '2026-10-24T12:00:00Z',
      want: ['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z'],
    },
    {
      name: 'Berlin, fall back: hourly runs at 02:00 CEST and again at 02:00 CET',
      schedule: '0 * * * *',
      zone: 'Europe/Berlin',
      from: '2026-10-24T23:30:00Z',
      want: [
        '2026-10-25T00:00:00.000Z',
        '2026-10-25T01:00:00.000Z',
        '2026-10-25T02:00:00.000Z',
        '2026-10-25T03:00:00.000Z',
      ],
    },
    {
      name: 'day of month OR day of week when both are set (the 1st, and every Friday)',
      schedule: '0 0 1 * FRI',
      zone: 'Etc/UTC',
      from: '2026-06-20T00:00:00Z',
      want: ['2026-06-26T00:00:00.000Z', '2026-07-01T00:00:00.000Z', '2026-07-03T00:00:00.000Z'],
    },
    {
      name: '7 is Sunday, and month names work',
      schedule: '0 12 * JAN 7',
      zone: 'Etc/UTC',
      from: '2026-12-31T00:00:00Z',
      want: ['2027-01-03T12:00:00.000Z', '2027-01-10T12:00:00.000Z'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(runs(c.schedule, c.zone, c.from, c.want.length), c.want);
    });
  }
});

describe('refused schedules', () => {
  const cases: { name: string; schedule: string; zone?: string; code?: string }[] = [
    { name: 'empty', schedule: '' },
    { name: 'six fields (seconds)', schedule: '0 */5 * * * *' },
    { name: 'four fields', schedule: '* * * *' },
    { name: 'L for the last day, which Google does not support', schedule: '0 0 L * *' },
    { name: 'W', schedule: '0 0 15W * *' },
    { name: '# (nth weekday)', schedule: '0 0 * * MON#2' },
    { name: '?', schedule: '0 0 ? * *' },
    { name: "croner's + modifier", schedule: '0 0 1 * +MON' },
    { name: 'minute 60', schedule: '60 * * * *' },
    { name: 'hour 24', schedule: '0 24 * * *' },
    { name: 'day 0', schedule: '0 0 0 * *' },
    { name: 'month 13', schedule: '0 0 1 13 *' },
    { name: 'weekday 8', schedule: '0 0 * * 8' },
    { name: 'a step of 0', schedule: '*/0 * * * *' },
    { name: 'lower-case names', schedule: '0 0 * jan *' },
    { name: 'a day name in the month field', schedule: '0 0 * MON *' },
    { name: 'junk', schedule: 'rm -rf /' },
    { name: 'an unknown time zone', schedule: '0 0 * * *', zone: 'Mars/Olympus_Mons' },
    { name: 'a time zone that is an offset', schedule: '0 0 * * *', zone: '+02:00' },
    {
      name: 'an English-like schedule, valid on Google, is UNIMPLEMENTED here',
      schedule: 'every 5 minutes',
      code: 'UNIMPLEMENTED',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.throws(
        () => parseSchedule(c.schedule, c.zone ?? 'Etc/UTC'),
        (err: unknown) =>
          err instanceof RunwayError &&
          err.code === (c.code ?? 'INVALID_ARGUMENT') &&
          (c.code !== undefined || err.message === SCHEDULE_INVALID),
      );
    });
  }
});

test('time zones: tz names, Etc/UTC and utc are known; others not', () => {
  assert.equal(isTimeZone('Europe/Berlin'), true);
  assert.equal(isTimeZone('Etc/UTC'), true);
  assert.equal(isTimeZone('utc'), true);
  assert.equal(isTimeZone('Nowhere/Else'), false);
});
