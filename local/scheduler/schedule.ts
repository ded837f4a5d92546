// A Cloud Scheduler job's schedule: five-field unix-cron in an IANA time zone, checked as Google
// checks it and computed by croner (a well-kept cron library; runway writes no cron parser).
// Across DST changes croner follows Vixie cron: a fixed-time job in a skipped hour runs at the
// first valid time after the gap and once in a repeated hour; an interval job (`*/15`) skips the
// gap and runs through both passes of a repeated hour.
import { Cron } from 'croner';
import { invalidArgument, RunwayError } from '../../services/shared/errors.ts';

/** Google's answer to any schedule or time zone it cannot read. */
export const SCHEDULE_INVALID = 'Schedule or time zone is invalid.';

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
/** Minute, hour, day of month, month, day of week: their ranges and names. */
const FIELDS: { min: number; max: number; names: string[] }[] = [
  { min: 0, max: 59, names: [] },
  { min: 0, max: 23, names: [] },
  { min: 1, max: 31, names: [] },
  { min: 1, max: 12, names: MONTHS },
  { min: 0, max: 7, names: DAYS },
];

const invalid = (why: string) =>
  invalidArgument(SCHEDULE_INVALID, [{ field: 'schedule', description: why }]);

/**
 * Refuses what Google's unix-cron refuses and croner would take: other than five fields, `L`,
 * `W`, `#`, `?`, croner's `+` modifier, and values out of range. Names are JAN-DEC and SUN-SAT,
 * upper case, as Google's reference writes them.
 */
function checkFields(schedule: string): void {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 5) throw invalid(`a schedule has 5 fields, not ${fields.length}`);
  fields.forEach((field, i) => {
    const spec = FIELDS[i]!;
    for (const item of field.split(',')) {
      const m = /^(\*|[A-Z0-9]+(?:-[A-Z0-9]+)?)(?:\/(\d+))?$/.exec(item);
      if (!m) throw invalid(`${JSON.stringify(item)} is not a cron value, range or step`);
      if (m[2] !== undefined && Number(m[2]) < 1) throw invalid(`a step must be at least 1`);
      if (m[1] === '*') continue;
      for (const value of m[1]!.split('-')) {
        const named = spec.names.indexOf(value);
        const n =
          named >= 0 ? named + (spec.min === 1 ? 1 : 0) : /^\d+$/.test(value) ? Number(value) : NaN;
        if (!(n >= spec.min && n <= spec.max)) {
          throw invalid(`${JSON.stringify(value)} is out of range ${spec.min}-${spec.max}`);
        }
      }
    }
  });
}

/** Whether `zone` is a time zone name the tz database knows (`utc` included, as Google allows). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export interface Schedule {
  /** The first run strictly after `ms` (epoch milliseconds), or undefined when there is none. */
  nextAfter(ms: number): number | undefined;
}

/**
 * A checked schedule. English-like schedules (`every 5 minutes`) are valid on Google but not
 * served here: they are refused as UNIMPLEMENTED, naming the cron form to use.
 */
export function parseSchedule(schedule: string, timeZone: string): Schedule {
  if (schedule.trim() === '') throw invalid('schedule is required');
  if (/^every\b/i.test(schedule.trim())) {
    throw new RunwayError(
      'UNIMPLEMENTED',
      `the local Cloud Scheduler runs unix-cron schedules only; write ${JSON.stringify(schedule)} as five cron fields (e.g. "*/5 * * * *")`,
    );
  }
  checkFields(schedule);
  if (!isTimeZone(timeZone)) {
    throw invalidArgument(SCHEDULE_INVALID, [
      { field: 'time_zone', description: `${JSON.stringify(timeZone)} is not a tz database name` },
    ]);
  }
  let cron: Cron;
  try {
    cron = new Cron(schedule.trim(), { timezone: timeZone, mode: '5-part' });
  } catch (err) {
    throw invalid(err instanceof Error ? err.message : String(err));
  }
  return {
    nextAfter: (ms) => cron.nextRun(new Date(ms))?.getTime(),
  };
}
