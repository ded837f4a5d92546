// sys: the execution's environment, logging, the clock and sleeping (Google's reference pages
// stdlib/sys/*).
import { toJsonText } from '../convert.ts';
import { raise } from '../errors.ts';
import { isBytes, isMap, typeName, type Value } from '../values.ts';
import { fn, num, str } from './args.ts';
import { parseTimestamp } from './time.ts';
import type { CallContext, Severity, WfFunction } from './types.ts';

/** The built-in variables Google documents; an empty one (not configured here) reads as unset. */
function builtinEnv(ctx: CallContext): Record<string, string | undefined> {
  return {
    GOOGLE_CLOUD_LOCATION: ctx.env.location,
    GOOGLE_CLOUD_PROJECT_ID: ctx.env.projectId,
    GOOGLE_CLOUD_PROJECT_NUMBER: ctx.env.projectNumber,
    GOOGLE_CLOUD_SERVICE_ACCOUNT_NAME: ctx.env.serviceAccountName,
    GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID: ctx.env.executionId,
    GOOGLE_CLOUD_WORKFLOW_ID: ctx.env.workflowId,
    GOOGLE_CLOUD_WORKFLOW_REVISION_ID: ctx.env.revisionId,
  };
}

/**
 * A built-in variable, else a user-defined one, else `default` (null when left out). Reserved
 * prefixes keep the two sets apart; a user variable set to "" is set, and reads as "".
 */
function getEnv([name, dflt]: (Value | undefined)[], ctx: CallContext): Value {
  const key = str(name, 'name');
  // `default` is documented as a string; leaving it out (or null) gives null for an unset name.
  const fallback = dflt === undefined || dflt === null ? null : str(dflt, 'default');
  const builtins = builtinEnv(ctx);
  const builtin = Object.hasOwn(builtins, key) ? builtins[key] : undefined;
  if (builtin) return builtin;
  const user = ctx.env.userEnvVars;
  return user && Object.hasOwn(user, key) ? user[key]! : fallback;
}

/** Google's limits on user-defined environment variables (Workflows API, `userEnvVars`). */
export const USER_ENV_VARS_LIMITS = { count: 20, bytes: 4096 } as const;
/** Prefixes reserved for built-in variables ("Use environment variables", Reserved names). */
const RESERVED_PREFIXES = ['GOOGLE_', 'WORKFLOWS_'] as const;

/**
 * Why a set of user-defined environment variables would not deploy, or undefined when it would:
 * at most 20 variables, no empty key, no key starting with GOOGLE_ or WORKFLOWS_, and each key
 * and value at most 4 KiB (UTF-8).
 */
export function userEnvVarsProblem(vars: Readonly<Record<string, string>>): string | undefined {
  const keys = Object.keys(vars);
  const { count, bytes } = USER_ENV_VARS_LIMITS;
  if (keys.length > count)
    return `at most ${count} environment variables can be set, found ${keys.length}`;
  for (const key of keys) {
    if (key === '') return 'an environment variable name cannot be empty';
    const prefix = RESERVED_PREFIXES.find((p) => key.startsWith(p));
    if (prefix)
      return `environment variable ${key} is reserved: names cannot start with ${RESERVED_PREFIXES.join(' or ')}`;
    if (Buffer.byteLength(key) > bytes)
      return `environment variable name ${key.slice(0, 40)}… is longer than ${bytes} bytes`;
    if (Buffer.byteLength(vars[key]!) > bytes)
      return `the value of environment variable ${key} is longer than ${bytes} bytes`;
  }
  return undefined;
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
