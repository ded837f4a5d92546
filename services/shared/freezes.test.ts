import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  activeFreezes,
  freezeWindows,
  localToInstant,
  MAX_CHAIN_MS,
  policyWindows,
} from './freezes.ts';
import { type Freeze, freezeSchema } from './pipeline-config.ts';

const policy = (p: Record<string, unknown>): Freeze =>
  freezeSchema.parse({ pipelines: ['*'], ...p });

// 2026: Europe/Paris springs forward on Sun 29 Mar (02:00 CET -> 03:00 CEST) and falls back on
// Sun 25 Oct (03:00 CEST -> 02:00 CET); America/New_York on Sun 8 Mar (02:00 EST -> 03:00 EDT)
// and Sun 1 Nov (02:00 EDT -> 01:00 EST); Australia/Lord_Howe, whose DST is 30 minutes, on
// Sun 4 Oct (02:00 -> 02:30, +10:30 -> +11) and Sun 5 Apr (02:00 -> 01:30). Kolkata is +05:30.
const freezes: Freeze[] = [
  policy({
    name: 'paris-weekend',
    pipelines: ['api', 'web'],
    timeZone: 'Europe/Paris',
    weekly: [{ days: ['SAT', 'SUN'], start: '00:00', end: '24:00' }],
    overriders: ['user:oncall@example.com'],
  }),
  policy({
    name: 'paris-friday',
    pipelines: ['web'],
    timeZone: 'Europe/Paris',
    weekly: [{ days: ['FRI'], start: '18:00', end: '24:00' }],
  }),
  policy({
    name: 'ny-gap',
    pipelines: ['ny'],
    timeZone: 'America/New_York',
    weekly: [
      { days: ['SUN'], start: '02:30', end: '03:30' },
      { days: ['SUN'], start: '01:30', end: '02:00' },
    ],
  }),
  policy({
    name: 'ny-empty',
    pipelines: ['ga?'],
    timeZone: 'America/New_York',
    weekly: [{ days: ['SUN'], start: '02:10', end: '02:20' }],
  }),
  policy({
    name: 'kolkata-monday',
    pipelines: ['in-*'],
    timeZone: 'Asia/Kolkata',
    weekly: [
      { days: ['MON'], start: '09:00', end: '12:00' },
      { days: ['MON'], start: '11:00', end: '17:30' },
    ],
  }),
  policy({
    name: 'kolkata-lunch',
    pipelines: ['in-api'],
    timeZone: 'Asia/Kolkata',
    weekly: [{ days: ['MON'], start: '16:00', end: '18:00' }],
    actions: ['release', 'rollback'],
  }),
  policy({
    name: 'lord-howe',
    pipelines: ['lh'],
    timeZone: 'Australia/Lord_Howe',
    weekly: [
      { days: ['SUN'], start: '02:00', end: '03:00' },
      { days: ['SAT'], start: '23:00', end: '24:00' },
    ],
  }),
  policy({
    name: 'new-year',
    pipelines: ['*'],
    timeZone: 'Europe/Paris',
    oneTime: [{ start: '2026-12-31T22:00', end: '2027-01-01T02:00' }],
  }),
  policy({
    name: 'year-end',
    pipelines: ['shop'],
    timeZone: 'Europe/Paris',
    oneTime: [{ start: '2026-12-24T00:00', end: '2026-12-26T00:00' }],
    weekly: [{ days: ['SAT', 'SUN'], start: '00:00', end: '24:00' }],
  }),
  policy({
    name: 'db-migration',
    pipelines: ['db'],
    timeZone: 'UTC',
    oneTime: [{ start: '2026-05-04T10:00', end: '2026-05-04T12:00' }],
    actions: ['rollback'],
  }),
  policy({
    name: 'always',
    pipelines: ['frozen'],
    timeZone: 'UTC',
    weekly: [
      { days: ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'], start: '00:00', end: '24:00' },
    ],
  }),
];

describe('local wall time to instant: DST rules', () => {
  const cases: { name: string; zone: string; local: string; want: string }[] = [
    {
      name: 'Paris winter',
      zone: 'Europe/Paris',
      local: '2026-01-09T18:00',
      want: '2026-01-09T17:00:00Z',
    },
    {
      name: 'Paris summer',
      zone: 'Europe/Paris',
      local: '2026-07-10T18:00',
      want: '2026-07-10T16:00:00Z',
    },
    {
      name: 'Paris: last minute before the gap',
      zone: 'Europe/Paris',
      local: '2026-03-29T01:59',
      want: '2026-03-29T00:59:00Z',
    },
    {
      name: 'Paris: the gap begins (02:00 does not exist): 03:00 CEST',
      zone: 'Europe/Paris',
      local: '2026-03-29T02:00',
      want: '2026-03-29T01:00:00Z',
    },
    {
      name: 'Paris: inside the gap: the first instant after it',
      zone: 'Europe/Paris',
      local: '2026-03-29T02:30',
      want: '2026-03-29T01:00:00Z',
    },
    {
      name: 'Paris: the end of the gap',
      zone: 'Europe/Paris',
      local: '2026-03-29T03:00',
      want: '2026-03-29T01:00:00Z',
    },
    {
      name: 'Paris: the overlap (02:30 twice): the first, CEST',
      zone: 'Europe/Paris',
      local: '2026-10-25T02:30',
      want: '2026-10-25T00:30:00Z',
    },
    {
      name: 'Paris: the overlap begins: the first 02:00',
      zone: 'Europe/Paris',
      local: '2026-10-25T02:00',
      want: '2026-10-25T00:00:00Z',
    },
    {
      name: 'Paris: after the overlap',
      zone: 'Europe/Paris',
      local: '2026-10-25T03:00',
      want: '2026-10-25T02:00:00Z',
    },
    {
      name: 'Paris: 24:00 is the next midnight',
      zone: 'Europe/Paris',
      local: '2026-03-28T24:00',
      want: '2026-03-28T23:00:00Z',
    },
    {
      name: 'New York: inside the gap',
      zone: 'America/New_York',
      local: '2026-03-08T02:30',
      want: '2026-03-08T07:00:00Z',
    },
    {
      name: 'New York: the overlap (01:30 twice): EDT',
      zone: 'America/New_York',
      local: '2026-11-01T01:30',
      want: '2026-11-01T05:30:00Z',
    },
    {
      name: 'New York: after the overlap',
      zone: 'America/New_York',
      local: '2026-11-01T02:00',
      want: '2026-11-01T07:00:00Z',
    },
    {
      name: 'Kolkata: half-hour offset',
      zone: 'Asia/Kolkata',
      local: '2026-06-01T09:00',
      want: '2026-06-01T03:30:00Z',
    },
    {
      name: 'Kolkata: across the UTC date',
      zone: 'Asia/Kolkata',
      local: '2026-06-01T02:00',
      want: '2026-05-31T20:30:00Z',
    },
    {
      name: 'Lord Howe: in the 30-minute gap',
      zone: 'Australia/Lord_Howe',
      local: '2026-10-04T02:15',
      want: '2026-10-03T15:30:00Z',
    },
    {
      name: 'Lord Howe: in the 30-minute overlap: the first',
      zone: 'Australia/Lord_Howe',
      local: '2026-04-05T01:45',
      want: '2026-04-04T14:45:00Z',
    },
    {
      name: 'Samoa skipped a whole day (2011-12-30)',
      zone: 'Pacific/Apia',
      local: '2011-12-30T12:00',
      want: '2011-12-30T10:00:00Z',
    },
    { name: 'UTC', zone: 'UTC', local: '2026-05-04T10:00', want: '2026-05-04T10:00:00Z' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(localToInstant(c.zone, c.local).toISOString(), new Date(c.want).toISOString());
    });
  }
});

describe('activeFreezes: who is frozen at an instant, and until when', () => {
  const cases: {
    name: string;
    pipeline: string;
    action?: 'release' | 'rollback';
    at: string;
    want: Record<string, string>;
  }[] = [
    // Europe/Paris, east of UTC, both DST changes.
    {
      name: 'Paris Friday before the weekend',
      pipeline: 'api',
      at: '2026-03-27T22:59:59.999Z',
      want: {},
    },
    {
      name: 'Paris Saturday 00:00 exactly: frozen; Sat and Sun join, across the spring-forward',
      pipeline: 'api',
      at: '2026-03-27T23:00:00Z',
      want: { 'paris-weekend': '2026-03-29T22:00:00Z' },
    },
    {
      name: 'Paris Sunday in the gap hour',
      pipeline: 'api',
      at: '2026-03-29T01:00:00Z',
      want: { 'paris-weekend': '2026-03-29T22:00:00Z' },
    },
    {
      name: 'Paris Monday 00:00 CEST exactly: free (the end is not frozen)',
      pipeline: 'api',
      at: '2026-03-29T22:00:00Z',
      want: {},
    },
    {
      name: 'Paris weekend across the fall-back',
      pipeline: 'api',
      at: '2026-10-23T22:00:00Z',
      want: { 'paris-weekend': '2026-10-25T23:00:00Z' },
    },
    {
      name: 'Paris Friday 22:00 CEST: still Friday locally',
      pipeline: 'api',
      at: '2026-10-23T21:59:59Z',
      want: {},
    },
    {
      name: 'Paris: the repeated hour is frozen twice',
      pipeline: 'api',
      at: '2026-10-25T01:30:00Z',
      want: { 'paris-weekend': '2026-10-25T23:00:00Z' },
    },
    // A 24:00 end, and two policies meeting: they are not chained.
    {
      name: 'Friday 18:00-24:00 then the weekend: two policies, each its own until',
      pipeline: 'web',
      at: '2026-01-09T22:59:59Z',
      want: { 'paris-friday': '2026-01-09T23:00:00Z' },
    },
    {
      name: 'at 24:00 the Friday window ends and the weekend begins',
      pipeline: 'web',
      at: '2026-01-09T23:00:00Z',
      want: { 'paris-weekend': '2026-01-11T23:00:00Z' },
    },
    {
      name: 'Friday 18:00 Paris winter is 17:00Z',
      pipeline: 'web',
      at: '2026-01-09T17:00:00Z',
      want: { 'paris-friday': '2026-01-09T23:00:00Z' },
    },
    { name: 'Friday 17:59 Paris', pipeline: 'web', at: '2026-01-09T16:59:59Z', want: {} },
    { name: 'Friday policy names web only', pipeline: 'api', at: '2026-01-09T17:00:00Z', want: {} },
    // America/New_York, west of UTC, both DST changes.
    {
      name: 'New York: before 01:30 EST on the spring-forward Sunday',
      pipeline: 'ny',
      at: '2026-03-08T06:29:59Z',
      want: {},
    },
    {
      name: 'New York: a window ending in the gap (02:00) meets one starting in it (02:30)',
      pipeline: 'ny',
      at: '2026-03-08T06:59:59Z',
      want: { 'ny-gap': '2026-03-08T07:30:00Z' },
    },
    {
      name: 'New York: a window starting in the gap starts after it (03:00 EDT)',
      pipeline: 'ny',
      at: '2026-03-08T07:00:00Z',
      want: { 'ny-gap': '2026-03-08T07:30:00Z' },
    },
    {
      name: 'New York: an ordinary Sunday 02:30 EDT',
      pipeline: 'ny',
      at: '2026-03-15T06:30:00Z',
      want: { 'ny-gap': '2026-03-15T07:30:00Z' },
    },
    {
      name: 'New York: the Sunday before, 02:30 EST',
      pipeline: 'ny',
      at: '2026-03-01T07:30:00Z',
      want: { 'ny-gap': '2026-03-01T08:30:00Z' },
    },
    {
      name: 'New York fall-back: 01:30 first occurrence (EDT) starts the window',
      pipeline: 'ny',
      at: '2026-11-01T05:30:00Z',
      want: { 'ny-gap': '2026-11-01T07:00:00Z' },
    },
    {
      name: 'New York fall-back: the second 01:45 (EST) is frozen too',
      pipeline: 'ny',
      at: '2026-11-01T06:45:00Z',
      want: { 'ny-gap': '2026-11-01T07:00:00Z' },
    },
    {
      name: 'New York fall-back: 01:29 EDT is free',
      pipeline: 'ny',
      at: '2026-11-01T05:29:59Z',
      want: {},
    },
    // Asia/Kolkata: a :30 offset; overlapping windows of one policy merge; two policies overlap.
    {
      name: 'Kolkata Monday 09:00 IST is 03:30Z',
      pipeline: 'in-web',
      at: '2026-06-01T03:30:00Z',
      want: { 'kolkata-monday': '2026-06-01T12:00:00Z' },
    },
    { name: 'Kolkata 08:59 IST', pipeline: 'in-web', at: '2026-06-01T03:29:59Z', want: {} },
    {
      name: 'Kolkata overlapping windows of one policy merge (09:00-17:30)',
      pipeline: 'in-web',
      at: '2026-06-01T05:45:00Z',
      want: { 'kolkata-monday': '2026-06-01T12:00:00Z' },
    },
    {
      name: 'Kolkata: two policies overlap, each reported with its own until',
      pipeline: 'in-api',
      at: '2026-06-01T11:00:00Z',
      want: { 'kolkata-monday': '2026-06-01T12:00:00Z', 'kolkata-lunch': '2026-06-01T12:30:00Z' },
    },
    {
      name: 'Kolkata: after the first policy, the second alone',
      pipeline: 'in-api',
      at: '2026-06-01T12:00:00Z',
      want: { 'kolkata-lunch': '2026-06-01T12:30:00Z' },
    },
    // Australia/Lord_Howe: a 30-minute DST; Saturday 23:00-24:00 joins Sunday 02:00 only when adjacent.
    {
      name: 'Lord Howe: a window starting in the 30-minute gap',
      pipeline: 'lh',
      at: '2026-10-03T15:30:00Z',
      want: { 'lord-howe': '2026-10-03T16:00:00Z' },
    },
    {
      name: 'Lord Howe: Saturday 23:00-24:00 +10:30',
      pipeline: 'lh',
      at: '2026-10-03T12:30:00Z',
      want: { 'lord-howe': '2026-10-03T13:30:00Z' },
    },
    {
      name: 'Lord Howe: between the two, free',
      pipeline: 'lh',
      at: '2026-10-03T14:00:00Z',
      want: {},
    },
    // One-time windows across midnight; a one-time window joining weekly ones.
    {
      name: 'New Year across midnight, before it',
      pipeline: 'nyc',
      at: '2026-12-31T20:59:59Z',
      want: {},
    },
    {
      name: 'New Year across midnight, at its start',
      pipeline: 'nyc',
      at: '2026-12-31T21:00:00Z',
      want: { 'new-year': '2027-01-01T01:00:00Z' },
    },
    {
      name: 'New Year across midnight, after midnight',
      pipeline: 'nyc',
      at: '2026-12-31T23:30:00Z',
      want: { 'new-year': '2027-01-01T01:00:00Z' },
    },
    {
      name: 'New Year across midnight, at its end',
      pipeline: 'nyc',
      at: '2027-01-01T01:00:00Z',
      want: {},
    },
    {
      name: 'a one-time window followed into the weekend of the same policy',
      pipeline: 'shop',
      at: '2026-12-24T10:00:00Z',
      want: { 'year-end': '2026-12-27T23:00:00Z' },
    },
    // Wildcards: * and ? match whole names only.
    {
      name: '* matches every pipeline',
      pipeline: 'anything',
      at: '2026-12-31T23:30:00Z',
      want: { 'new-year': '2027-01-01T01:00:00Z' },
    },
    {
      name: '? matches one character',
      pipeline: 'gap',
      at: '2026-03-15T06:10:00Z',
      want: { 'ny-empty': '2026-03-15T06:20:00Z' },
    },
    { name: '? does not match two', pipeline: 'gapp', at: '2026-03-15T06:10:00Z', want: {} },
    {
      name: 'a window wholly in the gap freezes nothing',
      pipeline: 'gap',
      at: '2026-03-08T07:00:00Z',
      want: {},
    },
    {
      name: 'in-* matches in-web',
      pipeline: 'in-web',
      at: '2026-06-01T04:00:00Z',
      want: { 'kolkata-monday': '2026-06-01T12:00:00Z' },
    },
    { name: 'in-* does not match india', pipeline: 'india', at: '2026-06-01T04:00:00Z', want: {} },
    // Actions: a rollback is frozen only when the policy names it.
    {
      name: 'a rollback during a release-only freeze is free',
      pipeline: 'api',
      action: 'rollback',
      at: '2026-03-28T12:00:00Z',
      want: {},
    },
    {
      name: 'a rollback during a policy naming rollback is frozen',
      pipeline: 'in-api',
      action: 'rollback',
      at: '2026-06-01T11:00:00Z',
      want: { 'kolkata-lunch': '2026-06-01T12:30:00Z' },
    },
    {
      name: 'a rollback-only policy freezes rollbacks',
      pipeline: 'db',
      action: 'rollback',
      at: '2026-05-04T10:00:00Z',
      want: { 'db-migration': '2026-05-04T12:00:00Z' },
    },
    {
      name: 'a rollback-only policy does not freeze releases',
      pipeline: 'db',
      at: '2026-05-04T10:00:00Z',
      want: {},
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = activeFreezes(freezes, c.pipeline, c.action ?? 'release', new Date(c.at));
      assert.deepEqual(
        Object.fromEntries(got.map((f) => [f.name, f.until.toISOString()])),
        Object.fromEntries(Object.entries(c.want).map(([k, v]) => [k, new Date(v).toISOString()])),
      );
    });
  }

  test('each entry carries its policy overriders', () => {
    const [f] = activeFreezes(freezes, 'api', 'release', new Date('2026-03-28T12:00:00Z'));
    assert.deepEqual(f?.overriders, ['user:oncall@example.com']);
  });

  test('a policy frozen around the clock ends about a year away, not never', () => {
    const at = new Date('2026-06-01T00:00:00Z');
    const [f] = activeFreezes(freezes, 'frozen', 'release', at);
    assert.ok(f, 'frozen');
    const ahead = f.until.getTime() - at.getTime();
    assert.ok(ahead >= MAX_CHAIN_MS && ahead <= MAX_CHAIN_MS + 9 * 86_400_000, `${ahead}`);
  });

  test('an invalid instant is refused', () => {
    assert.throws(() => activeFreezes(freezes, 'api', 'release', new Date('nope')), RangeError);
  });

  test('no policies: nothing frozen', () => {
    assert.deepEqual(activeFreezes([], 'api', 'release', new Date()), []);
  });
});

describe('freezeWindows: the windows in a range, merged per policy', () => {
  const cases: {
    name: string;
    pipeline: string;
    action?: 'release' | 'rollback';
    from: string;
    to: string;
    want: [string, string, string][];
  }[] = [
    {
      name: 'two weekends in Paris, across the spring-forward',
      pipeline: 'api',
      from: '2026-03-23T00:00:00Z',
      to: '2026-04-06T00:00:00Z',
      want: [
        ['paris-weekend', '2026-03-27T23:00:00Z', '2026-03-29T22:00:00Z'],
        ['paris-weekend', '2026-04-03T22:00:00Z', '2026-04-05T22:00:00Z'],
      ],
    },
    {
      name: 'a window begun before the range keeps its real start',
      pipeline: 'api',
      from: '2026-03-28T12:00:00Z',
      to: '2026-03-28T13:00:00Z',
      want: [['paris-weekend', '2026-03-27T23:00:00Z', '2026-03-29T22:00:00Z']],
    },
    {
      name: 'a chain is followed past the range',
      pipeline: 'api',
      from: '2026-03-27T00:00:00Z',
      to: '2026-03-28T00:00:00Z',
      want: [['paris-weekend', '2026-03-27T23:00:00Z', '2026-03-29T22:00:00Z']],
    },
    {
      name: 'a range ending at a window start excludes it',
      pipeline: 'api',
      from: '2026-03-23T00:00:00Z',
      to: '2026-03-27T23:00:00Z',
      want: [],
    },
    {
      name: 'two policies, sorted by start; adjacent but not merged across policies',
      pipeline: 'web',
      from: '2026-01-05T00:00:00Z',
      to: '2026-01-12T00:00:00Z',
      want: [
        ['paris-friday', '2026-01-09T17:00:00Z', '2026-01-09T23:00:00Z'],
        ['paris-weekend', '2026-01-09T23:00:00Z', '2026-01-11T23:00:00Z'],
      ],
    },
    {
      name: 'overlapping windows of one policy merge; another policy stays apart',
      pipeline: 'in-api',
      from: '2026-06-01T00:00:00Z',
      to: '2026-06-02T00:00:00Z',
      want: [
        ['kolkata-monday', '2026-06-01T03:30:00Z', '2026-06-01T12:00:00Z'],
        ['kolkata-lunch', '2026-06-01T10:30:00Z', '2026-06-01T12:30:00Z'],
      ],
    },
    {
      name: 'New York around the fall-back: the window covers both 01:30s',
      pipeline: 'ny',
      from: '2026-10-31T00:00:00Z',
      to: '2026-11-02T00:00:00Z',
      want: [
        ['ny-gap', '2026-11-01T05:30:00Z', '2026-11-01T07:00:00Z'],
        ['ny-gap', '2026-11-01T07:30:00Z', '2026-11-01T08:30:00Z'],
      ],
    },
    {
      name: 'New York around the spring-forward: windows meeting across the gap merge',
      pipeline: 'ny',
      from: '2026-03-07T00:00:00Z',
      to: '2026-03-09T00:00:00Z',
      want: [['ny-gap', '2026-03-08T06:30:00Z', '2026-03-08T07:30:00Z']],
    },
    {
      name: 'a window wholly in the spring-forward gap is empty; the next Sunday has it',
      pipeline: 'gap',
      from: '2026-03-07T00:00:00Z',
      to: '2026-03-16T00:00:00Z',
      want: [['ny-empty', '2026-03-15T06:10:00Z', '2026-03-15T06:20:00Z']],
    },
    {
      name: 'the fall-back Sunday: 02:10 comes once, after the repeated hour (EST)',
      pipeline: 'gap',
      from: '2026-10-31T00:00:00Z',
      to: '2026-11-02T00:00:00Z',
      want: [['ny-empty', '2026-11-01T07:10:00Z', '2026-11-01T07:20:00Z']],
    },
    {
      name: 'a one-time window across midnight',
      pipeline: 'nyc',
      from: '2026-12-01T00:00:00Z',
      to: '2027-02-01T00:00:00Z',
      want: [['new-year', '2026-12-31T21:00:00Z', '2027-01-01T01:00:00Z']],
    },
    {
      name: 'a one-time window joined to the weekend after it',
      pipeline: 'shop',
      from: '2026-12-21T00:00:00Z',
      to: '2026-12-28T00:00:00Z',
      want: [['year-end', '2026-12-23T23:00:00Z', '2026-12-27T23:00:00Z']],
    },
    {
      name: 'rollbacks: release-only policies give none',
      pipeline: 'api',
      action: 'rollback',
      from: '2026-03-23T00:00:00Z',
      to: '2026-04-06T00:00:00Z',
      want: [],
    },
    {
      name: 'rollbacks: a rollback-only policy',
      pipeline: 'db',
      action: 'rollback',
      from: '2026-05-01T00:00:00Z',
      to: '2026-05-15T00:00:00Z',
      want: [['db-migration', '2026-05-04T10:00:00Z', '2026-05-04T12:00:00Z']],
    },
    {
      name: 'a pipeline no policy names',
      pipeline: 'india',
      from: '2026-06-01T00:00:00Z',
      to: '2026-06-15T00:00:00Z',
      want: [],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = freezeWindows(
        freezes,
        c.pipeline,
        c.action ?? 'release',
        new Date(c.from),
        new Date(c.to),
      );
      assert.deepEqual(
        got.map((w) => [w.name, w.start.toISOString(), w.end.toISOString()]),
        c.want.map(([n, s, e]) => [n, new Date(s).toISOString(), new Date(e).toISOString()]),
      );
    });
  }
});

describe('policyWindows: what the workflow is handed', () => {
  test('every policy naming the pipeline, for any action, with its actions and overriders', () => {
    const got = policyWindows(
      freezes,
      'in-api',
      new Date('2026-06-01T00:00:00Z'),
      new Date('2026-06-02T00:00:00Z'),
    );
    assert.deepEqual(
      got.map((p) => ({
        ...p,
        windows: p.windows.map((w) => [w.start.toISOString(), w.end.toISOString()]),
      })),
      [
        {
          name: 'kolkata-monday',
          actions: ['release'],
          overriders: [],
          windows: [['2026-06-01T03:30:00.000Z', '2026-06-01T12:00:00.000Z']],
        },
        {
          name: 'kolkata-lunch',
          actions: ['release', 'rollback'],
          overriders: [],
          windows: [['2026-06-01T10:30:00.000Z', '2026-06-01T12:30:00.000Z']],
        },
      ],
    );
  });
  test('a rollback-only policy is handed too; policies without a window in range are not', () => {
    assert.deepEqual(
      policyWindows(
        freezes,
        'db',
        new Date('2026-05-01T00:00:00Z'),
        new Date('2026-05-15T00:00:00Z'),
      ).map((p) => p.name),
      ['db-migration'],
    );
    assert.deepEqual(
      policyWindows(
        freezes,
        'db',
        new Date('2026-06-01T00:00:00Z'),
        new Date('2026-06-15T00:00:00Z'),
      ),
      [],
    );
  });
});

describe('activeFreezes and freezeWindows agree', () => {
  test('an instant is frozen exactly when it lies in a window of a year-long listing', async () => {
    const fc = await import('fast-check');
    const from = Date.parse('2026-01-01T00:00:00Z');
    const to = Date.parse('2027-01-10T00:00:00Z');
    const names = ['api', 'web', 'ny', 'gap', 'in-api', 'lh', 'nyc', 'shop', 'db'];
    // One listing per pipeline, over more than the sampled range: built by other passes than
    // the short look-ups activeFreezes makes, so the two check each other.
    const listing = new Map(
      names.map((p) => [
        p,
        freezeWindows(
          freezes,
          p,
          'release',
          new Date(from - 86_400_000),
          new Date(to + 86_400_000),
        ),
      ]),
    );
    fc.assert(
      fc.property(fc.integer({ min: from, max: to }), fc.constantFrom(...names), (t, pipeline) => {
        const at = new Date(t);
        const active = activeFreezes(freezes, pipeline, 'release', at);
        const windows = listing.get(pipeline)!.filter((w) => w.start <= at && at < w.end);
        assert.deepEqual(
          active.map((f) => `${f.name} ${f.until.toISOString()}`).sort(),
          windows.map((w) => `${w.name} ${w.end.toISOString()}`).sort(),
        );
      }),
      { numRuns: 500 },
    );
  });
});
