// sys: the execution's environment, logging, the clock and sleeping (Google's reference pages
// stdlib/sys/*).
import { toJsonText } from '../convert.ts';
import { raise } from '../errors.ts';
import { isBytes, isMap, typeName, type Value } from '../values.ts';
import { fn, num, str } from './args.ts';
import { parseTimestamp } from './time.ts';
import type { CallContext, Severity, WfFunction } from './types.ts';

/** The built-in variables Google documents that the engine knows; unset ones read as unset. */
function builtinEnv(ctx: CallContext): Record<string, string> {
  return {
    GOOGLE_CLOUD_LOCATION: ctx.env.location,
    GOOGLE_CLOUD_PROJECT_ID: ctx.env.projectId,
    GOOGLE_CLOUD_PROJECT_NUMBER: ctx.env.projectNumber,
    GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID: ctx.env.executionId,
    GOOGLE_CLOUD_WORKFLOW_ID: ctx.env.workflowId,
    GOOGLE_CLOUD_WORKFLOW_REVISION_ID: ctx.env.revisionId,
  };
}

function getEnv([name, dflt]: (Value | undefined)[], ctx: CallContext): Value {
  const key = str(name, 'name');
  // `default` is documented as a string; leaving it out (or null) gives null for an unset name.
  const fallback = dflt === undefined || dflt === null ? null : str(dflt, 'default');
  const v = builtinEnv(ctx)[key];
  return v === undefined || v === '' ? fallback : v;
}

const SEVERITIES: readonly Severity[] = [
  'DEFAULT',
  'DEBUG',
  'INFO',
  'NOTICE',
  'WARNING',
  'ERROR',
  'CRITICAL',
  'ALERT',
  'EMERGENCY',
];

function severityOf(v: Value | undefined): Severity {
  if (v === undefined || v === null) return 'DEFAULT';
  const s = str(v, 'severity').toUpperCase() as Severity;
  if (!SEVERITIES.includes(s))
    raise('ValueError', `severity ${JSON.stringify(v)} is not one of ${SEVERITIES.join(', ')}`);
  return s;
}

/** A text payload: strings as they are, anything else as its JSON text. */
const asText = (v: Value): string => (typeof v === 'string' ? v : toJsonText(v));

/**
 * What sys.log writes: exactly one of data, text or json (null counts as not given). data
 * writes a map as a JSON payload and anything else as text; text is always text; json must be
 * a map. Bytes have no log form.
 */
function logPayload(data: Value, text: Value, json: Value): Value {
  const given = [data, text, json].filter((v) => v !== null).length;
  if (given !== 1) raise('TypeError', 'sys.log needs exactly one of data, text or json');
  if (json !== null) {
    if (!isMap(json)) raise('TypeError', `sys.log: json must be a map, got '${typeName(json)}'`);
    return json;
  }
  const message = data ?? text;
  if (isBytes(message)) raise('TypeError', "sys.log cannot log 'bytes'");
  return data !== null && isMap(data) ? data : asText(message);
}

/** Google caps one sleep at a year, and sleep_until at a year from now. */
const YEAR_SECONDS = 31_536_000;

export const sysFunctions: [string, WfFunction][] = [
  ['sys.get_env', fn(['name', 'default?'], getEnv)],
  // Unix time as a double, whatever the clock's resolution.
  ['sys.now', fn([], (_a, ctx) => ctx.clock.now() / 1000)],
  [
    'sys.log',
    fn(
      ['data?', 'severity?', 'text?', 'json?', 'timeout?'],
      ([data, severity, text, json, timeout], ctx) => {
        const payload = logPayload(data ?? null, text ?? null, json ?? null);
        if (timeout !== undefined && timeout !== null) num(timeout, 'timeout');
        ctx.log(severityOf(severity), payload);
        return null;
      },
      { blocking: true },
    ),
  ],
  [
    'sys.sleep',
    fn(
      ['seconds'],
      async ([s], ctx) => {
        const seconds = Number(num(s, 'seconds'));
        if (seconds < 0 || seconds > YEAR_SECONDS)
          raise('ValueError', `seconds must be from 0 to ${YEAR_SECONDS} (a year), got ${seconds}`);
        await ctx.clock.sleep(seconds * 1000, ctx.signal);
        return null;
      },
      { blocking: true },
    ),
  ],
  [
    'sys.sleep_until',
    fn(
      ['time'],
      async ([t], ctx) => {
        const until = Number(parseTimestamp(str(t, 'time'), 'time')) / 1000;
        const wait = until - ctx.clock.now();
        if (wait > YEAR_SECONDS * 1000)
          raise('ValueError', `time ${JSON.stringify(t)} is more than a year from now`);
        // A time already past returns at once.
        await ctx.clock.sleep(Math.max(0, wait), ctx.signal);
        return null;
      },
      { blocking: true },
    ),
  ],
];
