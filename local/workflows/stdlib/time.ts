// time: seconds since the epoch to RFC 3339 text and back (Google's reference pages
// stdlib/time/format and stdlib/time/parse). Instants are held as bigint microseconds, the
// precision both pages document, so no rounding creeps in between the two directions.
import { raise } from '../errors.ts';
import { fn, num, str } from './args.ts';
import type { WfFunction } from './types.ts';

const MICROS = 1_000_000n;
/** RFC 3339 writes four-digit years: 0001-01-01T00:00:00Z up to 9999-12-31T23:59:59.999999Z. */
const FIRST_MICROS = -62_135_596_800n * MICROS;
const LAST_MICROS = 253_402_300_800n * MICROS - 1n;

/** Seconds since the epoch (an integer or a double) as whole microseconds, rounded to nearest. */
export function secondsToMicros(seconds: bigint | number): bigint {
  let micros: bigint;
  if (typeof seconds === 'bigint') micros = seconds * MICROS;
  else {
    if (!Number.isFinite(seconds)) raise('ValueError', `${seconds} is not a timestamp`);
    // Split first: a double near 1.7e9 holds its fraction exactly, the product would not.
    const whole = Math.floor(seconds);
    micros = BigInt(whole) * MICROS + BigInt(Math.round((seconds - whole) * 1e6));
  }
  if (micros < FIRST_MICROS || micros > LAST_MICROS)
    raise('ValueError', `${seconds} seconds is outside the years 0001 to 9999`);
  return micros;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Seconds since the epoch of a UTC wall-clock time; Date.UTC alone maps years 0-99 to 19xx. */
function utcSeconds(year: number, month: number, day: number, h: number, m: number, s: number) {
  const midnight = new Date(0);
  midnight.setUTCFullYear(year, month - 1, day);
  return midnight.getTime() / 1000 + h * 3600 + m * 60 + s;
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/** A formatter that names the zone's offset ("GMT+02:00"), whatever the calendar of the date. */
function zoneFormat(timeZone: string): Intl.DateTimeFormat {
  let f = zoneFormats.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
    } catch {
      return raise(
        'ValueError',
        `unknown time zone ${JSON.stringify(timeZone)}: use a tz database name such as "Europe/Paris"`,
      );
    }
    zoneFormats.set(timeZone, f);
  }
  return f;
}

/** The zone's offset from UTC at an instant, in whole minutes (all RFC 3339 can write). */
function offsetMinutes(timeZone: string, epochSeconds: number): number {
  const name = zoneFormat(timeZone)
    .formatToParts(new Date(epochSeconds * 1000))
    .find((p) => p.type === 'timeZoneName')?.value;
  const m = /^GMT([+-])(\d{2}):(\d{2})/.exec(name ?? '');
  if (!m) return 0; // plain "GMT"
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

/**
 * An instant as Google prints it: microseconds always written, `Z` in UTC, else the zone's
 * offset (`time.format(1720788633, "Europe/Paris")` is "2024-07-12T14:50:33.000000+02:00").
 */
export function formatMicros(micros: bigint, timeZone = ''): string {
  const fraction = ((micros % MICROS) + MICROS) % MICROS;
  const seconds = Number((micros - fraction) / MICROS);
  const offset = timeZone === '' ? 0 : offsetMinutes(timeZone, seconds);
  const wall = new Date((seconds + offset * 60) * 1000);
  const date = `${pad(wall.getUTCFullYear(), 4)}-${pad(wall.getUTCMonth() + 1)}-${pad(wall.getUTCDate())}`;
  const time = `${pad(wall.getUTCHours())}:${pad(wall.getUTCMinutes())}:${pad(wall.getUTCSeconds())}`;
  const abs = Math.abs(offset);
  const zone =
    offset === 0 ? 'Z' : `${offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  return `${date}T${time}.${pad(Number(fraction), 6)}${zone}`;
}

// RFC 3339 section 5.6 date-time: full-date "T" full-time, the offset required.
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (year: number) => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
const daysIn = (year: number, month: number) =>
  month === 2 && isLeap(year) ? 29 : MONTH_DAYS[month - 1]!;

/** RFC 3339 text as microseconds since the epoch, or undefined when it is not RFC 3339. */
export function parseRfc3339(text: string): bigint | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [oh, om] = [Number(m[9] ?? 0), Number(m[10] ?? 0)];
  // Second 60 is RFC 3339's leap second; it lands on the next minute.
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 60)
    return undefined;
  if (oh > 23 || om > 59) return undefined;
  // Digits past the microsecond are dropped: Google documents microsecond precision.
  const fraction = BigInt((m[7] ?? '').slice(0, 6).padEnd(6, '0'));
  const offset = (m[8] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  const seconds = utcSeconds(y, mo, d, h, mi, s) - offset;
  return BigInt(seconds) * MICROS + fraction;
}

/** Like parseRfc3339, raising Google's ValueError for text that is not a timestamp. */
export function parseTimestamp(text: string, what: string): bigint {
  const micros = parseRfc3339(text);
  if (micros === undefined)
    raise(
      'ValueError',
      `${what} ${JSON.stringify(text)} is not an RFC 3339 timestamp such as "2024-05-08T12:01:00Z"`,
    );
  return micros;
}

/** Microseconds as Workflows seconds: always a double, as time.parse documents. */
export const microsToSeconds = (micros: bigint): number =>
  Number(micros / MICROS) + Number(micros % MICROS) / 1e6;

export const timeFunctions: [string, WfFunction][] = [
  [
    'time.format',
    fn(['seconds', 'timezone?'], ([seconds, timezone]) => {
      const micros = secondsToMicros(num(seconds, 'seconds'));
      // Omitted, null or "" all mean UTC.
      const zone = timezone === undefined || timezone === null ? '' : str(timezone, 'timezone');
      return formatMicros(micros, zone);
    }),
  ],
  [
    'time.parse',
    fn(['value'], ([value]) => microsToSeconds(parseTimestamp(str(value, 'value'), 'value'))),
  ],
];
