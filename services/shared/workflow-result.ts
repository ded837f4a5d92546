// What an execution of the release workflow returns, and how the deployer and `runway status` read it.
import { z } from 'zod';

export const outcomes = ['PROMOTED', 'ROLLED_BACK', 'REJECTED', 'DUPLICATE', 'SUPERSEDED'] as const;
export const stageNames = [
  'validate',
  'claim',
  'staging',
  'test',
  'gate',
  'promote',
  'watch',
  'abort',
  'rollback',
  'report',
] as const;

export const stageSchema = z.object({
  name: z.enum(stageNames),
  start: z.iso.datetime({ offset: true }),
  end: z.iso.datetime({ offset: true }).nullable(),
  outcome: z.enum(['OK', 'FAILED', 'SKIPPED']),
  detail: z.string().nullable().default(null),
  /** The region it happened in (a multi-region release's claims, promotions and rollbacks). */
  region: z.string().optional(),
  /** Who decided (a gate's answer, an abort, a rollback): an IAM member. */
  by: z.string().nullable().default(null),
  /** Why, as they said. */
  reason: z.string().nullable().default(null),
});

export const verdicts = ['PASSED', 'FAILED', 'INCONCLUSIVE'] as const;

/** One canary step's analysis: each metric's value against its threshold, and the verdict. */
export const analysisReportSchema = z.object({
  percent: z.number().int().min(1).max(100),
  verdict: z.enum(verdicts),
  /** The candidate's requests in the window, and stable's. */
  requests: z.number().int().min(0),
  stableRequests: z.number().int().min(0),
  dryRun: z.boolean(),
  metrics: z.array(
    z.object({
      name: z.string(),
      builtin: z.string(),
      compareTo: z.literal('stable').nullable().default(null),
      /** The measure (a ratio, milliseconds, or candidate / stable); null without enough data. */
      value: z.number().nullable(),
      threshold: z.number(),
      verdict: z.enum(verdicts),
    }),
  ),
});
export type AnalysisReport = z.output<typeof analysisReportSchema>;

/** One region's outcome in a multi-region release. */
export const regionResultSchema = z.object({
  region: z.string(),
  service: z.string(),
  /** A release's outcomes, or: NOT_STARTED (a failure elsewhere came first), FAILED (an
   * unexpected error), UNCHANGED (a rollback with nothing to go back to there). */
  outcome: z.enum([...outcomes, 'NOT_STARTED', 'FAILED', 'UNCHANGED']),
  revision: z.string().nullable(),
  previousRevision: z.string().nullable(),
  reason: z.string().nullable(),
  analysis: z.array(analysisReportSchema).default([]),
});

/**
 * `withKey` for an object that has `key`, else `without`: a union whose errors keep their paths
 * (zod's union reports only "Invalid input" when every branch fails).
 */
function byKey<A extends z.ZodType, B extends z.ZodType>(key: string, withKey: A, without: B) {
  return z.unknown().transform((value, ctx): z.output<A> | z.output<B> => {
    const has = typeof value === 'object' && value !== null && key in value;
    const parsed = (has ? withKey : without).safeParse(value);
    if (parsed.success) return parsed.data as z.output<A> | z.output<B>;
    for (const issue of parsed.error.issues)
      ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    return z.NEVER;
  });
}

export const workflowResultSchema = z.object({
  outcome: z.enum(outcomes),
  /** What the execution did: a release (the default), or an operator's rollback. */
  action: z.enum(['release', 'rollback']).default('release'),
  pipeline: z.string(),
  digest: z.string(),
  reason: z.string().nullable().default(null),
  staging: byKey(
    'job',
    /** A job pipeline: the staging job and the execution that tested the digest. */
    z.object({ job: z.string(), execution: z.string().nullable() }),
    byKey(
      'workerPool',
      /** A worker pool pipeline: the staging pool and its revision on the digest. */
      z.object({ workerPool: z.string(), revision: z.string().nullable() }),
      z.object({ service: z.string(), revision: z.string().nullable() }),
    ),
  ),
  live: byKey(
    'job',
    /** A job pipeline: the live job and the digest its template ran before. */
    z.object({ job: z.string(), previousDigest: z.string().nullable().default(null) }),
    byKey(
      'workerPool',
      /** A worker pool pipeline: the live pool, the revision its instances run, and the one before. */
      z.object({
        workerPool: z.string(),
        revision: z.string().nullable(),
        previousRevision: z.string().nullable().default(null),
      }),
      z.object({
        service: z.string(),
        revision: z.string().nullable(),
        previousRevision: z.string().nullable().default(null),
      }),
    ),
  ),
  stages: z.array(stageSchema),
  /** Each canary step's analysis, in order (with promotion.analysis). */
  analysis: z.array(analysisReportSchema).default([]),
  /** A multi-region release (live.regions): each region's outcome, by region. */
  regions: z.record(z.string(), regionResultSchema).optional(),
});

export type Outcome = (typeof outcomes)[number];
export type Stage = z.output<typeof stageSchema>;
export type WorkflowResult = z.output<typeof workflowResultSchema>;
