// RFC 3339 timestamps in one canonical spelling: UTC, exactly 9 fractional digits, 'Z'
// (2026-12-02T01:09:47.000000000Z). RFC 3339 text does not sort by time ('...47.078Z' sorts before
// '...47Z'), and Pub/Sub writes whole seconds without a fraction; the canonical form is fixed-width,
// so two canonical timestamps compare as their instants do. Parsed by hand to keep nanoseconds
// (Date keeps milliseconds) and to reject what Date would roll over (Feb 30, 24:00).
import { z } from 'zod';
import { RunwayError } from './errors.ts';

// RFC 3339 section 5.6; 'T' and 'Z' may be lowercase (its note on ABNF case-insensitivity).
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;
const SPELLING = 'YYYY-MM-DDThh:mm:ss[.fraction](Z|+hh:mm|-hh:mm)';
/** google.protobuf.Timestamp's range, which every Google API (and Workflows) holds timestamps in. */
const MIN_SECONDS = -62_135_596_800; // 0001-01-01T00:00:00Z
const MAX_SECONDS = 253_402_300_799; // 9999-12-31T23:59:59Z

export class TimestampError extends RunwayError {
  override name = 'TimestampError';
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/**
 * The canonical spelling of an RFC 3339 timestamp: the same instant in UTC with exactly 9
 * fractional digits and 'Z'. Accepts no fraction or 1 to 9 fractional digits, lowercase 't'/'z'
 * and numeric offsets (-00:00 included). Throws TimestampError, saying why, for anything else:
 * an impossible date or time, a leap second (:60, which Google's timestamps smear away), more
 * than nanosecond precision, or an instant outside years 0001..9999 once in UTC.
 */
export function canonicalTimestamp(text: string): string {
  const m = RFC3339.exec(text);
  if (!m) throw new TimestampError(`expected ${SPELLING}`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fraction = m[7] ?? '';
  if (month < 1 || month > 12) throw new TimestampError(`month ${m[2]} is not 01..12`);
  if (day < 1 || day > daysInMonth(year, month))
    throw new TimestampError(`day ${m[3]} does not exist in ${m[1]}-${m[2]}`);
  if (hour > 23) throw new TimestampError(`hour ${m[4]} is not 00..23`);
  if (minute > 59) throw new TimestampError(`minute ${m[5]} is not 00..59`);
  if (second === 60) throw new TimestampError('leap seconds (second 60) are not supported');
  if (second > 59) throw new TimestampError(`second ${m[6]} is not 00..59`);
  if (fraction.length > 9)
    throw new TimestampError(`${fraction.length} fractional digits: at most 9 (nanoseconds)`);
  let offset = 0;
  if (m[8]) {
    const [oh, om] = [Number(m[9]), Number(m[10])];
    if (oh > 23) throw new TimestampError(`offset hour ${m[9]} is not 00..23`);
    if (om > 59) throw new TimestampError(`offset minute ${m[10]} is not 00..59`);
    offset = (m[8] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  // Whole seconds as integers (well inside 2^53); the fraction is carried as text, untouched.
  const seconds =
    daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS)
    throw new TimestampError('outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999999Z');
  const days = Math.floor(seconds / 86_400);
  const rest = seconds - days * 86_400;
  const [y, mo, d] = civilFromDays(days);
  const time = [Math.floor(rest / 3600), Math.floor(rest / 60) % 60, rest % 60];
  return `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${time.map((n) => pad(n, 2)).join(':')}.${fraction.padEnd(9, '0')}Z`;
}

/** A zod string that is any RFC 3339 spelling and comes out canonical; the issue says why not. */
export const timestampSchema = z
  .string({ error: 'must be an RFC 3339 timestamp' })
  .transform((text, ctx) => {
    try {
      return canonicalTimestamp(text);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: `must be an RFC 3339 timestamp: ${(err as Error).message}`,
      });
      return z.NEVER;
    }
  });

const pad = (n: number, width: number) => String(n).padStart(width, '0');

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

// Days since 1970-01-01 of a proleptic Gregorian date and back (Howard Hinnant's algorithms).
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

function civilFromDays(days: number): [number, number, number] {
  const z0 = days + 719_468;
  const era = Math.floor(z0 / 146_097);
  const doe = z0 - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, day];
}
