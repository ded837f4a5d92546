// sys: the execution's environment, logging, the clock and sleeping.
import { raise } from '../errors.ts';
import { fn, num, str } from './args.ts';
import type { Severity, WfFunction } from './types.ts';

export const sysFunctions: [string, WfFunction][] = [
  [
    'sys.get_env',
    fn(['name', 'default?'], ([name, d], ctx) => {
      const env: Record<string, string> = {
        GOOGLE_CLOUD_PROJECT_ID: ctx.env.projectId,
        GOOGLE_CLOUD_PROJECT_NUMBER: ctx.env.projectNumber,
        GOOGLE_CLOUD_LOCATION: ctx.env.location,
        GOOGLE_CLOUD_WORKFLOW_ID: ctx.env.workflowId,
        GOOGLE_CLOUD_WORKFLOW_REVISION_ID: ctx.env.revisionId,
        GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID: ctx.env.executionId,
      };
      const v = env[str(name, 'name')];
      return v === undefined || v === '' ? (d ?? null) : v;
    }),
  ],
  ['sys.now', fn([], (_a, ctx) => ctx.clock.now() / 1000)],
  [
    'sys.log',
    fn(
      ['data?', 'severity?', 'text?', 'json?', 'timeout?'],
      ([data, severity, text, json], ctx) => {
        const s = (typeof severity === 'string' ? severity.toUpperCase() : 'DEFAULT') as Severity;
        ctx.log(s, text ?? json ?? data ?? null);
        return null;
      },
    ),
  ],
  [
    'sys.sleep',
    fn(
      ['seconds'],
      async ([s], ctx) => {
        const seconds = Number(num(s, 'seconds'));
        if (seconds < 0) raise('ValueError', 'seconds must not be negative');
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
        const until = Date.parse(str(t, 'time'));
        if (Number.isNaN(until)) raise('ValueError', `time must be an RFC 3339 timestamp: ${t}`);
        await ctx.clock.sleep(Math.max(0, until - ctx.clock.now()), ctx.signal);
        return null;
      },
      { blocking: true },
    ),
  ],
];
