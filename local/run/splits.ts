// Instance splits of a local Cloud Run worker pool: the checks Cloud Run makes on them (as it
// makes on a service's traffic, traffic.ts), LATEST resolved to the latest ready revision, and how
// many instances each revision runs for a split of the pool's manual instance count.
import type { FieldViolation } from '../../services/shared/errors.ts';
import { asList, asObject } from './containers.ts';
import type { Json, JsonObject } from './proto-json.ts';

type SplitType =
  | 'INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST'
  | 'INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION';
export const LATEST: SplitType = 'INSTANCE_SPLIT_ALLOCATION_TYPE_LATEST';
export const REVISION: SplitType = 'INSTANCE_SPLIT_ALLOCATION_TYPE_REVISION';

/** One resolved split entry: LATEST carries the revision it resolved to ('' when none is ready). */
export interface Split {
  type: SplitType;
  revision: string;
  percent: number;
}

/** Without instance splits, a pool puts every instance on its latest ready revision. */
const DEFAULT_SPLITS: JsonObject[] = [{ type: LATEST, percent: 100 }];

/** The type an entry means: unset (or UNSPECIFIED) is REVISION when it names one, else LATEST. */
function typeOf(entry: JsonObject): Json | undefined {
  const type = entry.type;
  if (type === undefined || type === 'INSTANCE_SPLIT_ALLOCATION_TYPE_UNSPECIFIED') {
    return entry.revision ? REVISION : LATEST;
  }
  return type;
}

function checkEntry(
  entry: JsonObject,
  at: string,
  pool: string,
  exists: (revision: string) => boolean,
): FieldViolation[] {
  const type = typeOf(entry);
  if (type === REVISION) {
    if (typeof entry.revision !== 'string' || entry.revision === '') {
      return [{ field: `${at}.revision`, description: 'a REVISION split names a revision' }];
    }
    if (!exists(entry.revision)) {
      return [
        {
          field: `${at}.revision`,
          description: `Revision '${entry.revision}' does not exist in worker pool '${pool}'`,
        },
      ];
    }
    return [];
  }
  if (type === LATEST) {
    return entry.revision
      ? [{ field: `${at}.revision`, description: 'a LATEST split must not name a revision' }]
      : [];
  }
  return [{ field: `${at}.type`, description: 'type must be LATEST or REVISION' }];
}

/**
 * The checks of a pool's instance splits. `known` are the pool's revisions, `newRevision` the one
 * this write makes when the template names it. Each revision (and LATEST) appears at most once,
 * percents are 0-100 and sum to 100.
 */
export function checkSplits(
  splits: Json | undefined,
  pool: string,
  known: (revision: string) => boolean,
  newRevision?: string,
): FieldViolation[] {
  const entries = asList(splits);
  if (entries.length === 0) return [];
  const out: FieldViolation[] = [];
  const exists = (r: string) => r === newRevision || known(r);
  const seen = new Set<string>();
  let sum = 0;
  entries.forEach((raw, i) => {
    const entry = asObject(raw);
    const at = `worker_pool.instance_splits[${i}]`;
    const percent = entry.percent ?? 0;
    if (typeof percent !== 'number' || !Number.isInteger(percent) || percent < 0 || percent > 100) {
      out.push({ field: `${at}.percent`, description: 'percent must be between 0 and 100' });
    } else sum += percent;
    const violations = checkEntry(entry, at, pool, exists);
    out.push(...violations);
    if (violations.length > 0) return;
    const key = typeOf(entry) === LATEST ? 'LATEST' : String(entry.revision);
    if (seen.has(key)) {
      out.push({
        field: `${at}.revision`,
        description: `${key === 'LATEST' ? 'LATEST' : `revision '${key}'`} appears in more than one instance split`,
      });
    }
    seen.add(key);
  });
  if (out.length === 0 && sum !== 100) {
    out.push({
      field: 'worker_pool.instance_splits',
      description: `instance split percentages must sum to 100, not ${sum}`,
    });
  }
  return out;
}

/** The spec's splits with LATEST resolved to `latestReady`. */
export function resolveSplits(splits: Json | undefined, latestReady: string | undefined): Split[] {
  const entries = asList(splits).length ? asList(splits).map(asObject) : DEFAULT_SPLITS;
  return entries.map((entry) => {
    const type = typeOf(entry) as SplitType;
    return {
      type,
      revision: type === LATEST ? (latestReady ?? '') : String(entry.revision),
      percent: typeof entry.percent === 'number' ? entry.percent : 0,
    };
  });
}

/** The splits a pool shows: what was written, or LATEST at 100 when nothing was. */
export function writtenSplits(splits: Json | undefined): Json {
  return asList(splits).length ? (splits as Json) : DEFAULT_SPLITS;
}

/**
 * How many of `total` instances each revision runs. Google does not document its rounding; the
 * local Cloud Run uses the largest remainder method (each revision gets the floor of its share,
 * the instances left over go to the largest fractions, ties to the entry listed first), then
 * gives every revision with a non-zero percent at least one instance while there are instances
 * to go round, taking each from the revision holding the most (so a 10% canary of 3 instances
 * runs one, not none). The counts always add up to `total`. Entries naming the same revision
 * (LATEST and its revision by name) count together; entries with no revision get none.
 */
export function splitCounts(total: number, splits: Split[]): Map<string, number> {
  const percents = new Map<string, number>();
  for (const s of splits) {
    if (s.revision && s.percent > 0)
      percents.set(s.revision, (percents.get(s.revision) ?? 0) + s.percent);
  }
  const shares = [...percents].map(([revision, percent], order) => {
    const exact = (total * percent) / 100;
    return { revision, order, count: Math.floor(exact), fraction: exact - Math.floor(exact) };
  });
  let left = total - shares.reduce((n, s) => n + s.count, 0);
  for (const s of [...shares].sort((a, b) => b.fraction - a.fraction || a.order - b.order)) {
    if (left <= 0) break;
    s.count++;
    left--;
  }
  const byPercent = [...shares].sort(
    (a, b) => percents.get(b.revision)! - percents.get(a.revision)! || a.order - b.order,
  );
  for (const s of byPercent) {
    if (s.count > 0) continue;
    const donor = shares.reduce((best, x) => (x.count > best.count ? x : best), s);
    if (donor.count < 2) break;
    donor.count--;
    s.count++;
  }
  return new Map(shares.map((s) => [s.revision, s.count]));
}
