// Freezes (deploy policies) as instants: pure functions of (policies, instant), with no clock of
// their own. The deployer asks `activeFreezes` before it starts a release; the workflow is handed
// `freezeWindows` of the next days as instants, because it cannot do time-zone math cheaply.
//
// Local wall-clock times become instants in the policy's zone with Node's Intl only, and two rules
// where the wall clock is not one-to-one:
// - a boundary in a spring-forward gap (02:30 on a night that jumps from 02:00 to 03:00) moves to
//   the first instant after the gap (03:00 new time): a window never starts early, and one that
//   lies wholly in the gap is empty;
// - a boundary in a fall-back overlap (01:30 on a night that repeats 01:00-02:00) is its first
//   occurrence (01:30 old time), so a window covering the repeated hour covers both of them.
// "24:00" is the next local midnight. A weekly window belongs to the local date it starts on.
import { type Freeze, matchesTag, weekdays } from './pipeline-config.ts';
import { canonicalTimestamp } from './timestamp.ts';
import type { FreezeAction } from './workflow-args.ts';

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Windows are generated this far at a time when a chain of them is followed. */
const CHUNK = 8 * DAY;
/**
 * A chain of adjacent windows is followed at most this far past the range asked for. A policy
 * frozen around the clock (every day 00:00-24:00) would never end; its `until` is then about a
 * year away, which reads as what it is.
 */
export const MAX_CHAIN_MS = 366 * DAY;

export interface ActiveFreeze {
  name: string;
  /** The end of the covering window, following adjacent and overlapping windows of the policy. */
  until: Date;
  overriders: string[];
}

export interface FreezeWindow {
  name: string;
  start: Date;
  end: Date;
}

/** A policy's windows as the workflow receives them (see workflow-args.ts `freezes`). */
export interface PolicyWindows {
  name: string;
  actions: FreezeAction[];
  overriders: string[];
  windows: { start: Date; end: Date }[];
}

interface Span {
  start: number;
  end: number;
}

/** Does the policy cover this pipeline (by name or wildcard) and this action? */
export function covers(freeze: Freeze, pipeline: string, action: FreezeAction): boolean {
  return freeze.actions.includes(action) && freeze.pipelines.some((p) => matchesTag(p, pipeline));
}

/**
 * The policies freezing `action` of `pipeline` at `instant`: a window covers [start, end), so the
 * instant of its start is frozen and that of its end is not. Each policy is its own entry, with its
 * own `until`: windows of one policy are followed into each other, windows of different policies
 * are not, because each has its own overriders and an override names one policy. The release is
 * blocked while any entry is; it is free again at the latest `until` only if no other policy's
 * window begins by then, which the caller learns by asking again at that instant.
 */
export function activeFreezes(
  freezes: readonly Freeze[],
  pipeline: string,
  action: FreezeAction,
  instant: Date,
): ActiveFreeze[] {
  const t = millis(instant, 'instant');
  const out: ActiveFreeze[] = [];
  for (const f of freezes) {
    if (!covers(f, pipeline, action)) continue;
    const w = mergedSpans(f, t, t + 1)[0];
    if (w && w.start <= t && t < w.end)
      out.push({ name: f.name, until: new Date(w.end), overriders: [...f.overriders] });
  }
  return out;
}

/**
 * Every window, merged per policy, that freezes `action` of `pipeline` during [from, to): each with
 * its real start (possibly before `from`) and its end after following adjacent windows of the same
 * policy (possibly after `to`). Sorted by start, then name.
 */
export function freezeWindows(
  freezes: readonly Freeze[],
  pipeline: string,
  action: FreezeAction,
  from: Date,
  to: Date,
): FreezeWindow[] {
  const [a, b] = [millis(from, 'from'), millis(to, 'to')];
  const out: FreezeWindow[] = [];
  for (const f of freezes) {
    if (!covers(f, pipeline, action)) continue;
    for (const w of mergedSpans(f, a, b))
      out.push({ name: f.name, start: new Date(w.start), end: new Date(w.end) });
  }
  return out.sort((x, y) => x.start.getTime() - y.start.getTime() || x.name.localeCompare(y.name));
}

/**
 * For the workflow's arguments: each policy covering `pipeline` (for any action) that has a window
 * in [from, to), with its actions and overriders, so the workflow can check "now in a window"
 * before every traffic change of a release or a rollback without any time-zone math.
 */
export function policyWindows(
  freezes: readonly Freeze[],
  pipeline: string,
  from: Date,
  to: Date,
): PolicyWindows[] {
  const [a, b] = [millis(from, 'from'), millis(to, 'to')];
  const out: PolicyWindows[] = [];
  for (const f of freezes) {
    if (!f.pipelines.some((p) => matchesTag(p, pipeline))) continue;
    const windows = mergedSpans(f, a, b).map((w) => ({
      start: new Date(w.start),
      end: new Date(w.end),
    }));
    if (windows.length > 0)
      out.push({ name: f.name, actions: [...f.actions], overriders: [...f.overriders], windows });
  }
  return out;
}

/**
 * The instant a local wall time "YYYY-MM-DDTHH:MM" (or "…T24:00") names in `timeZone`, by the two
 * rules at the top of this file.
 */
export function localToInstant(timeZone: string, local: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(local);
  if (!m) throw new RangeError(`not a local time YYYY-MM-DDTHH:MM: ${local}`);
  const [y, mo, d, h, mi] = m.slice(1).map(Number) as [number, number, number, number, number];
  return new Date(instantOf(timeZone, Date.UTC(y, mo - 1, d) + (h * 60 + mi) * MINUTE));
}

function millis(d: Date, what: string): number {
  const t = d.getTime();
  if (Number.isNaN(t)) throw new RangeError(`${what} is not a valid date`);
  return t;
}

/** The policy's windows overlapping [from, to), merged, the last chain followed past `to`. */
function mergedSpans(f: Freeze, from: number, to: number): Span[] {
  const cap = to + MAX_CHAIN_MS;
  let horizon = to;
  for (;;) {
    const merged = merge(rawSpans(f, from, horizon)).filter((w) => w.start < to);
    const last = merged.at(-1);
    // Done unless the last window reaches the horizon: a window starting there would join it.
    if (!last || last.end < horizon || horizon >= cap) return merged;
    // Doubling the range keeps a long chain to a few passes.
    horizon = Math.min(Math.max(last.end + CHUNK, from + 2 * (horizon - from)), cap);
  }
}

function merge(spans: Span[]): Span[] {
  spans.sort((a, b) => a.start - b.start);
  const out: Span[] = [];
  for (const s of spans) {
    const last = out.at(-1);
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else out.push({ ...s });
  }
  return out;
}

/** Every non-empty window of the policy overlapping [from, to), unmerged. */
function rawSpans(f: Freeze, from: number, to: number): Span[] {
  const zone = f.timeZone;
  const out: Span[] = [];
  const add = (start: number, end: number) => {
    if (end > start && end > from && start < to) out.push({ start, end });
  };
  for (const w of f.oneTime ?? [])
    add(localToInstant(zone, w.start).getTime(), localToInstant(zone, w.end).getTime());
  if (f.weekly) {
    // A weekly window lies within its local date and the next midnight: the local dates of
    // `from` and `to`, one either side for safety, hold every window that can overlap.
    const first = Math.floor(wallClock(zone, from) / DAY) - 1;
    const last = Math.floor(wallClock(zone, to) / DAY) + 1;
    for (let day = first; day <= last; day++) {
      const weekday = weekdays[((((day % 7) + 7) % 7) + 3) % 7]!; // day 0, 1970-01-01, was a Thursday
      for (const w of f.weekly) {
        if (!w.days.includes(weekday)) continue;
        const midnight = day * DAY;
        add(
          instantOf(zone, midnight + minutes(w.start) * MINUTE),
          instantOf(zone, midnight + minutes(w.end) * MINUTE),
        );
      }
    }
  }
  return out;
}

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

// Building a DateTimeFormat costs far more than using one: one per zone, kept.
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The local wall time at instant `t`, as milliseconds of the same reading in UTC (whole seconds). */
function wallClock(zone: string, t: number): number {
  const p: Record<string, number> = {};
  for (const part of formatter(zone).formatToParts(t)) p[part.type] = Number(part.value);
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
}

/** The zone's offset from UTC at instant `t`, in milliseconds. */
function offsetAt(zone: string, t: number): number {
  return wallClock(zone, t) - Math.floor(t / 1000) * 1000;
}

/**
 * The instant of local wall time `local` (milliseconds of the same reading in UTC). The offsets a
 * day either side are the only candidates (no zone changes its offset twice within two days);
 * a candidate is right when the zone has that offset at that instant.
 */
function instantOf(zone: string, local: number): number {
  const before = offsetAt(zone, local - DAY);
  const after = offsetAt(zone, local + DAY);
  const fits = [before, after]
    .map((o) => local - o)
    .filter((t) => offsetAt(zone, t) === local - t)
    .sort((a, b) => a - b);
  // Both fit in a fall-back overlap: the first occurrence.
  if (fits.length > 0) return fits[0]!;
  // In a spring-forward gap: the transition itself, the first instant after the gap. It lies
  // between reading `local` with the later offset and with the earlier one; offsets change on
  // whole seconds, so a binary search over seconds finds it.
  let lo = local - after;
  let hi = local - before;
  if (lo > hi) [lo, hi] = [hi, lo];
  const end = offsetAt(zone, hi);
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (offsetAt(zone, mid) === end) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** How far ahead the workflow is handed freeze windows: longer than any release may run. */
export const FREEZE_WINDOW_DAYS = 14;

/**
 * The `freezes` argument of the release workflow: each policy covering the pipeline, its windows
 * for [now, now + FREEZE_WINDOW_DAYS] as canonical instants (the workflow only compares instants:
 * time-zone arithmetic in Workflows would cost steps at every traffic change).
 */
export function freezeArguments(
  freezes: readonly Freeze[],
  pipeline: string,
  now: Date,
): {
  name: string;
  actions: FreezeAction[];
  overriders: string[];
  windows: { start: string; end: string }[];
}[] {
  const to = new Date(now.getTime() + FREEZE_WINDOW_DAYS * 86_400_000);
  return policyWindows(freezes, pipeline, now, to).map((p) => ({
    ...p,
    windows: p.windows.map((w) => ({
      start: canonicalTimestamp(w.start.toISOString()),
      end: canonicalTimestamp(w.end.toISOString()),
    })),
  }));
}
