// The arguments of the release workflow: what the deployer, `gcloud workflows run` and Cloud
// Scheduler pass. workflows/release.yaml checks the same rules, so a hand-written run fails early too.
import { z } from 'zod';
import { acceptanceChecksSchema } from './checks.ts';
import { parseDigestRef } from './image-ref.ts';
import {
  actor,
  freezeName,
  iamMember,
  jobName,
  pipelineName,
  projectId,
  region,
  serviceName,
  topicName,
  workerPoolName,
} from './names.ts';
import { timestampSchema } from './timestamp.ts';

const digestReference = z.string().superRefine((s, ctx) => {
  try {
    parseDigestRef(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

const percent = z
  .number({ error: 'must be a number' })
  .int({ error: 'must be a whole number' })
  .min(1, { error: 'must be 1..100' })
  .max(100, { error: 'must be 1..100' });

export const healthSchema = z.strictObject({
  /** Highest 5xx share of the candidate's requests during a bake, 0..1. */
  maxErrorRatio: z.number().min(0, { error: 'must be 0..1' }).max(1, { error: 'must be 0..1' }),
  /**
   * Requests the candidate must have served during a bake for its ratio to count (at least 1:
   * no data never passes a candidate). Fewer, even after waiting for late data, is inconclusive.
   */
  minRequests: z.number().int().min(0).default(0),
  /**
   * How long to keep asking Cloud Monitoring when it has too few requests yet: Cloud Run's metrics
   * can take up to 180 s to become visible after they are sampled.
   */
  dataWaitSeconds: z
    .number()
    .int({ error: 'must be a whole number of seconds' })
    .min(0)
    .max(3_600, { error: 'must be at most an hour' })
    .default(180),
  /** What an inconclusive bake means: roll back (the default) or pass the candidate. */
  onInconclusive: z
    .enum(['rollback', 'promote'], { error: 'must be "rollback" or "promote"' })
    .default('rollback'),
});

/**
 * What a canary's analysis can measure, from Cloud Run's metrics in Cloud Monitoring: the 5xx
 * share of requests (`run.googleapis.com/request_count` by response_code_class) and a latency
 * percentile (`run.googleapis.com/request_latencies`).
 */
export const analysisBuiltins = [
  'error-ratio',
  'latency-p99',
  'latency-p95',
  'latency-p50',
] as const;
export type AnalysisBuiltin = (typeof analysisBuiltins)[number];

/** What an inconclusive analysis (too few requests) does. */
export const inconclusiveActions = ['rollback', 'gate', 'continue'] as const;

const analysisMetricSchema = z
  .strictObject({
    name: z.string({ error: 'must be a name' }).regex(/^[a-z][a-z0-9-]{0,62}$/, {
      error: 'must be lowercase letters, digits and -, starting with a letter (at most 63)',
    }),
    builtin: z.enum(analysisBuiltins, { error: `must be one of ${analysisBuiltins.join(', ')}` }),
    /** error-ratio: the highest 5xx share of the candidate's requests, 0..1. */
    max: z.number().min(0, { error: 'must be 0..1' }).max(1, { error: 'must be 0..1' }).optional(),
    /** latency-*: the highest percentile latency, in milliseconds. */
    maxMs: z
      .number()
      .gt(0, { error: 'must be above 0' })
      .max(3_600_000, { error: 'must be at most an hour' })
      .optional(),
    /** Judged against the stable revision over the same window instead of a fixed threshold. */
    compareTo: z.literal('stable', { error: 'must be "stable"' }).optional(),
    /** With compareTo: the highest candidate / stable ratio of the metric. */
    maxRatio: z
      .number()
      .min(1, { error: 'must be at least 1 (the candidate as good as stable)' })
      .max(1000)
      .optional(),
  })
  .superRefine((m, ctx) => {
    const need = (field: 'max' | 'maxMs' | 'maxRatio', why: string) => {
      if (m[field] === undefined) ctx.addIssue({ code: 'custom', path: [field], message: why });
    };
    const refuse = (field: 'max' | 'maxMs' | 'maxRatio', why: string) => {
      if (m[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: why });
    };
    const latency = m.builtin !== 'error-ratio';
    if (m.compareTo) {
      need('maxRatio', 'is required with compareTo: stable (the highest candidate / stable ratio)');
      refuse('max', 'is a fixed threshold; with compareTo give maxRatio only');
      refuse('maxMs', 'is a fixed threshold; with compareTo give maxRatio only');
      return;
    }
    refuse('maxRatio', 'goes with compareTo: stable');
    if (latency) {
      need('maxMs', `is required for ${m.builtin} (milliseconds), or compare with compareTo`);
      refuse('max', `is error-ratio's threshold; ${m.builtin} takes maxMs`);
    } else {
      need('max', 'is required for error-ratio (0..1), or compare with compareTo');
      refuse('maxMs', "is a latency's threshold; error-ratio takes max");
    }
  });

export const analysisSchema = z.strictObject({
  metrics: z
    .array(analysisMetricSchema, { error: 'must be a list of metrics' })
    .min(1, { error: 'name at least one metric' })
    .max(10, { error: 'has at most 10 metrics' })
    .superRefine((metrics, ctx) =>
      metrics.forEach((m, i) => {
        if (metrics.findIndex((x) => x.name === m.name) !== i)
          ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `${m.name} is used twice` });
      }),
    ),
  /**
   * Requests the candidate (and, to compare, stable) must have served in the window for the
   * analysis to count (at least 1: no data never passes). Fewer, even after waiting for late
   * data, is inconclusive.
   */
  minRequests: z.number().int().min(0).max(1_000_000_000).default(0),
  /** How long to keep asking Cloud Monitoring while it has too few requests (its data is late). */
  dataWaitSeconds: z
    .number()
    .int({ error: 'must be a whole number of seconds' })
    .min(0)
    .max(3_600, { error: 'must be at most an hour' })
    .default(180),
  inconclusive: z
    .enum(inconclusiveActions, { error: 'must be "rollback", "gate" or "continue"' })
    .default('rollback'),
  /** Evaluate and report every step, but never roll back for it. */
  dryRun: z.boolean({ error: 'must be true or false' }).default(false),
});
export type Analysis = z.output<typeof analysisSchema>;

/** The older `health` form as an analysis: one error-ratio metric. */
export function analysisOfHealth(h: z.output<typeof healthSchema>): Analysis {
  return {
    metrics: [{ name: 'errors', builtin: 'error-ratio', max: h.maxErrorRatio }],
    minRequests: h.minRequests,
    dataWaitSeconds: h.dataWaitSeconds,
    inconclusive: h.onInconclusive === 'promote' ? 'continue' : 'rollback',
    dryRun: false,
  };
}

export const canarySteps = z
  .array(percent, { error: 'must be a list of traffic percentages' })
  .min(1, { error: 'needs at least one step' })
  .max(10, { error: 'has at most 10 steps' })
  .superRefine((steps, ctx) => {
    for (let i = 1; i < steps.length; i++) {
      if (steps[i]! <= steps[i - 1]!) {
        ctx.addIssue({ code: 'custom', path: [i], message: 'steps must increase' });
      }
    }
    if (steps.at(-1) !== 100)
      ctx.addIssue({ code: 'custom', message: 'the last step must be 100' });
  });

/** Where a human gate can stand: before live traffic first moves, or before a canary's last step. */
export const gatePoints = ['live', '100'] as const;

export const approvalSchema = z.strictObject({
  before: z
    .array(z.enum(gatePoints, { error: 'must be "live" or "100"' }), {
      error: 'must be a list of "live" and/or "100"',
    })
    .min(1, { error: 'name at least one gate: "live" and/or "100"' })
    .superRefine((points, ctx) => {
      points.forEach((p, i) => {
        if (points.indexOf(p) !== i)
          ctx.addIssue({ code: 'custom', path: [i], message: `"${p}" is listed twice` });
      });
    }),
  /** Workflow time: --time-scale shortens it like any bake. Nothing waits forever. */
  timeoutSeconds: z
    .number({ error: 'must be a number of seconds' })
    .int({ error: 'must be a whole number of seconds' })
    .min(60, { error: 'must be 60..31536000 seconds (a minute to a year)' })
    .max(31_536_000, { error: 'must be 60..31536000 seconds (a minute to a year)' })
    .default(86_400),
  onTimeout: z
    .enum(['reject', 'promote'], { error: 'must be "reject" or "promote"' })
    .default('reject'),
  approvers: z
    .array(iamMember, { error: 'must be a list of IAM members' })
    .min(1, { error: 'name at least one approver' }),
});

/**
 * Where a service is released: several regions, each with its own service of the target's name.
 * Absent, the pipeline's `region`. Each region at most once.
 */
export const targetRegions = z
  .array(region, { error: 'must be a list of regions such as [us-central1, europe-west1]' })
  .min(1, { error: 'name at least one region, or omit regions for the pipeline region' })
  .max(20, { error: 'has at most 20 regions' })
  .superRefine((regions, ctx) =>
    regions.forEach((r, i) => {
      if (regions.indexOf(r) !== i)
        ctx.addIssue({ code: 'custom', path: [i], message: `${r} is listed twice` });
    }),
  );

/** What a region's failure does to the others in a multi-region release. */
export const regionFailureActions = ['rollback-all', 'stop'] as const;

/**
 * How a multi-region release moves through its regions: how many at once (default: all, in
 * lockstep; 1: one wave after another), and whether one region's failure rolls back every region
 * this release moved (the default) or stops without touching the others.
 */
export const promotionRegionsSchema = z.strictObject({
  concurrency: z
    .number({ error: 'must be a number of regions' })
    .int({ error: 'must be a whole number of regions' })
    .min(1, { error: 'must be at least 1' })
    .optional(),
  onFailure: z
    .enum(regionFailureActions, { error: 'must be "rollback-all" or "stop"' })
    .default('rollback-all'),
});

/** After 100 %, how long health keeps being checked; a failure rolls back. */
const watchSeconds = z
  .number({ error: 'must be a number of seconds' })
  .int({ error: 'must be a whole number of seconds' })
  .min(60, { error: 'must be 60..86400 seconds' })
  .max(86_400, { error: 'must be 60..86400 seconds' });

export const promotionSchema = z.discriminatedUnion(
  'strategy',
  [
    z
      .strictObject({
        strategy: z.literal('direct'),
        approval: approvalSchema.optional(),
        watchSeconds: watchSeconds.optional(),
        regions: promotionRegionsSchema.optional(),
      })
      .superRefine((p, ctx) => {
        const i = p.approval?.before.indexOf('100') ?? -1;
        if (i >= 0)
          ctx.addIssue({
            code: 'custom',
            path: ['approval', 'before', i],
            message:
              '"100" is a gate before a canary\'s last step; a direct promotion has only "live"',
          });
      }),
    z
      .strictObject({
        strategy: z.literal('canary'),
        steps: canarySteps.default([10, 50, 100]),
        bakeSeconds: z.number().min(0).max(86_400, { error: 'must be at most a day' }).default(60),
        /** The older form of analysis (one 5xx ratio): still accepted, and translated. */
        health: healthSchema.nullable().default(null),
        analysis: analysisSchema.nullable().default(null),
        approval: approvalSchema.optional(),
        watchSeconds: watchSeconds.optional(),
        regions: promotionRegionsSchema.optional(),
      })
      .superRefine((p, ctx) => {
        if (p.health && p.analysis)
          ctx.addIssue({
            code: 'custom',
            path: ['health'],
            message: 'give analysis or health (its older form), not both',
          });
        if (p.analysis?.inconclusive === 'gate' && !p.approval)
          ctx.addIssue({
            code: 'custom',
            path: ['analysis', 'inconclusive'],
            message: '"gate" asks the approvers: it needs promotion.approval',
          });
      })
      .transform(({ health, ...p }) => ({
        ...p,
        analysis: p.analysis ?? (health ? analysisOfHealth(health) : null),
      })),
  ],
  { error: 'strategy must be "direct" or "canary"' },
);

export const acceptanceArgsSchema = z.strictObject({
  job: jobName,
  timeoutSeconds: z.number().int().min(1).max(86_400).default(600),
  taskCount: z.number().int().min(1).max(100).default(1),
  /** Declarative checks passed to the job as RUNWAY_CHECKS; null: the job's own configuration. */
  checks: acceptanceChecksSchema.nullable().default(null),
});

/** What a pipeline releases: a Cloud Run service (the default), job, or worker pool. */
export const pipelineKinds = ['service', 'job', 'workerPool'] as const;
export type PipelineKind = (typeof pipelineKinds)[number];

export const serviceTargetSchema = z.strictObject({
  service: serviceName,
  regions: targetRegions.optional(),
});
export const jobTargetSchema = z.strictObject({ job: jobName });
export const workerPoolTargetSchema = z.strictObject({ workerPool: workerPoolName });
export type ReleaseTarget =
  | z.output<typeof serviceTargetSchema>
  | z.output<typeof jobTargetSchema>
  | z.output<typeof workerPoolTargetSchema>;
/**
 * Where a release goes: a service (in one region or several), (kind job) a job, or (kind
 * workerPool) a worker pool; errors name the key.
 */
const targetSchema = z
  .strictObject({
    service: serviceName.optional(),
    job: jobName.optional(),
    workerPool: workerPoolName.optional(),
    regions: targetRegions.optional(),
  })
  .superRefine((t, ctx) => {
    const named = (['service', 'job', 'workerPool'] as const).filter((k) => t[k] !== undefined);
    if (named.length !== 1)
      ctx.addIssue({
        code: 'custom',
        path: [named[1] ?? 'service'],
        message: 'name one service, or (kind job) one job, or (kind workerPool) one worker pool',
      });
  })
  .transform((t): ReleaseTarget => {
    const regions = t.regions ? { regions: t.regions } : {};
    if (t.job !== undefined) return { job: t.job, ...regions };
    if (t.workerPool !== undefined) return { workerPool: t.workerPool, ...regions };
    return { service: t.service!, ...regions };
  });

/** How messages name a pipeline of each kind. */
export const kindLabel: Record<PipelineKind, string> = {
  service: 'service pipeline',
  job: 'job pipeline (kind: job)',
  workerPool: 'worker pool pipeline (kind: workerPool)',
};

/** The key a target of each kind names its resource with. */
export const targetKey = { service: 'service', job: 'job', workerPool: 'workerPool' } as const;

/** The regions a target names; empty: the pipeline's region. */
export const regionsOf = (t: ReleaseTarget): string[] => ('regions' in t && t.regions) || [];

/**
 * The rules of multi-region releases, as issues at their paths (shared by runway.yaml's parser,
 * which puts them under `pipelines[i]`): only services name regions, promotion.regions needs
 * live.regions, and its concurrency is 1..the number of live regions.
 */
export function regionIssues(a: {
  kind: PipelineKind;
  staging: ReleaseTarget | { regions?: unknown };
  live: ReleaseTarget | { regions?: unknown };
  promotion?: {
    regions?: { concurrency?: number | undefined } | undefined;
    approval?: unknown;
  };
}): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  if (a.kind !== 'service') {
    for (const where of ['staging', 'live'] as const)
      if ('regions' in a[where] && a[where].regions !== undefined)
        issues.push({
          path: [where, 'regions'],
          message: `a ${kindLabel[a.kind]} releases in the pipeline region only; regions are for service pipelines`,
        });
    return issues;
  }
  const live = 'regions' in a.live && Array.isArray(a.live.regions) ? a.live.regions : undefined;
  const rollout = a.promotion?.regions;
  if (rollout && !live)
    issues.push({
      path: ['promotion', 'regions'],
      message: 'says how to move through several regions: name them in live.regions',
    });
  // A gate answers one release in one place; across regions it would be asked once per region.
  if (live && live.length > 1 && a.promotion?.approval !== undefined)
    issues.push({
      path: ['promotion', 'approval'],
      message: 'is not supported with several live.regions (a gate is asked in one region)',
    });
  if (rollout?.concurrency !== undefined && live && rollout.concurrency > live.length)
    issues.push({
      path: ['promotion', 'regions', 'concurrency'],
      message: `must be 1..${live.length} (the number of live.regions)`,
    });
  return issues;
}

/**
 * promotion.regions with its defaults, once live names regions: every region at once, and a
 * failure rolls back every region this release moved.
 */
export function withRegionDefaults<
  T extends { live: ReleaseTarget; promotion?: { regions?: PromotionRegions | undefined } },
>(a: T): T {
  const live = regionsOf(a.live);
  if (live.length === 0 || !a.promotion) return a;
  const given = a.promotion.regions;
  return {
    ...a,
    promotion: {
      ...a.promotion,
      regions: {
        concurrency: given?.concurrency ?? live.length,
        onFailure: given?.onFailure ?? 'rollback-all',
      },
    },
  };
}

export type PromotionRegions = z.output<typeof promotionRegionsSchema>;

/** How many tasks a job pipeline's staging run starts (the job's own parallelism applies). */
export const jobTaskCount = z
  .number({ error: 'must be a number' })
  .int({ error: 'must be a whole number' })
  .min(1, { error: 'must be 1..10000' })
  .max(10_000, { error: 'must be 1..10000' });

export const releaseSources = ['pubsub', 'manual', 'reconcile'] as const;

/** What an execution does: a release, a rollback of live, or the abort of a running release. */
export const workflowActions = ['release', 'rollback', 'abort'] as const;
export type WorkflowAction = (typeof workflowActions)[number];

/** What a freeze can stop: releases (and their traffic moves), rollbacks. */
export const freezeActions = ['release', 'rollback'] as const;
export type FreezeAction = (typeof freezeActions)[number];

/**
 * An accepted freeze override, recorded on the release and published with release.started. `by`
 * is the overrider the deployer checked against the freeze's overriders.
 */
export const overrideSchema = z.strictObject({
  freeze: freezeName,
  by: iamMember,
  reason: z.string().trim().min(1, { error: 'must say why' }).max(1024),
});

/**
 * A freeze as the workflow checks it before every traffic change: its windows as instants for the
 * next days (the deployer computes them with services/shared/freezes.ts; the workflow does no
 * time-zone math), in canonical RFC 3339, so comparing text compares instants.
 */
export const freezeArgSchema = z.strictObject({
  name: freezeName,
  actions: z.array(z.enum(freezeActions, { error: 'must be "release" or "rollback"' })).min(1),
  overriders: z.array(iamMember).default([]),
  windows: z
    .array(
      z
        .strictObject({ start: timestampSchema, end: timestampSchema })
        .refine((w) => w.end > w.start, { error: 'end must be after start', path: ['end'] }),
    )
    .max(1000),
});

export type ReleaseSource = (typeof releaseSources)[number];

/** The arguments' fields, for pick and omit; workflowArgsSchema adds the rules across fields. */
export const workflowArgsObject = z.strictObject({
  pipeline: pipelineName,
  project: projectId,
  region,
  image: digestReference,
  tag: z.string().max(128).nullable().default(null),
  /**
   * When the registry event was published: a newer claim on the live service wins. Any RFC 3339
   * spelling in, the canonical one out (UTC, 9 fractional digits), so the workflow sees one form.
   */
  publishTime: timestampSchema.nullable().default(null),
  kind: z
    .enum(pipelineKinds, { error: 'must be "service", "job" or "workerPool"' })
    .default('service'),
  staging: targetSchema,
  live: targetSchema,
  /**
   * A job pipeline may have none (its staging run's exit codes are the verdict), nor a worker pool
   * pipeline (its instances' crashes and restarts are).
   */
  acceptance: acceptanceArgsSchema.nullable().default(null),
  /** kind job: the staging run's task count. */
  taskCount: jobTaskCount.default(1),
  promotion: promotionSchema.default({ strategy: 'direct' }),
  notify: z.strictObject({ topic: topicName }).nullable().default(null),
  source: z.enum(releaseSources).default('manual'),
  action: z
    .enum(workflowActions, { error: 'must be "release", "rollback" or "abort"' })
    .default('release'),
  /** Who asked (an IAM member, or "pubsub" / "scheduler"); null when not known. */
  by: actor.nullable().default(null),
  reason: z.string().max(1024).nullable().default(null),
  /** A rollback's target digest (sha256:…); null: the previous promoted revision. */
  to: z
    .string()
    .regex(/^sha256:[0-9a-f]{64}$/, {
      error: 'must be a digest sha256: and 64 lowercase hex digits',
    })
    .nullable()
    .default(null),
  override: overrideSchema.nullable().default(null),
  freezes: z.array(freezeArgSchema).max(100).default([]),
});

/** The rules across fields, shared with whoever validates the arguments in parts. */
export function checkWorkflowArgs(
  a: { action: WorkflowAction; to: string | null },
  ctx: z.RefinementCtx,
) {
  if (a.to !== null && a.action !== 'rollback')
    ctx.addIssue({ code: 'custom', path: ['to'], message: 'is for action "rollback" only' });
}

/**
 * A service pipeline releases services and needs acceptance tests; a job pipeline releases jobs,
 * directly (its staging run is its test); a worker pool pipeline releases worker pools, directly or
 * by a canary of instance splits judged by its instances' health (no analysis, gates or watch).
 */
export function checkTargets(
  a: {
    kind: PipelineKind;
    staging: ReleaseTarget;
    live: ReleaseTarget;
    acceptance: unknown;
    promotion: {
      strategy: string;
      analysis?: unknown;
      approval?: unknown;
      watchSeconds?: unknown;
      regions?: { concurrency?: number | undefined } | undefined;
    };
  },
  ctx: z.RefinementCtx,
) {
  const want = targetKey[a.kind];
  for (const where of ['staging', 'live'] as const)
    if (!(want in a[where]))
      ctx.addIssue({
        code: 'custom',
        path: [where, Object.keys(a[where])[0] ?? want],
        message: `a ${a.kind} pipeline releases ${want}s: name ${where}.${want}`,
      });
  if (a.kind === 'service' && a.acceptance === null)
    ctx.addIssue({
      code: 'custom',
      path: ['acceptance'],
      message: 'a service pipeline needs acceptance tests (a job)',
    });
  for (const i of regionIssues(a)) ctx.addIssue({ code: 'custom', ...i });
  const p = a.promotion;
  if (a.kind === 'job') {
    if (
      p.strategy !== 'direct' ||
      p.approval !== undefined ||
      p.watchSeconds !== undefined ||
      p.regions !== undefined
    )
      ctx.addIssue({
        code: 'custom',
        path: ['promotion'],
        message: 'a job pipeline promotes directly: no canary, approval, watch or regions',
      });
  }
  if (a.kind === 'workerPool')
    for (const issue of workerPoolPromotionIssues(p)) ctx.addIssue({ code: 'custom', ...issue });
}

/**
 * What a worker pool pipeline's promotion may not have: a pool serves no requests, so a canary's
 * step is judged by its instances' crashes and restarts, never by request analysis; gates, a watch
 * and regions are for service pipelines.
 */
export function workerPoolPromotionIssues(p: {
  analysis?: unknown;
  health?: unknown;
  approval?: unknown;
  watchSeconds?: unknown;
  regions?: unknown;
}): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  for (const key of ['analysis', 'health'] as const)
    if (p[key] !== undefined && p[key] !== null)
      issues.push({
        path: ['promotion', key],
        message:
          "a worker pool serves no requests: a canary step is judged by its instances' crashes and restarts, with no analysis",
      });
  for (const key of ['approval', 'watchSeconds', 'regions'] as const)
    if (p[key] !== undefined)
      issues.push({
        path: ['promotion', key],
        message: `is for service pipelines; a worker pool pipeline (kind: workerPool) promotes directly or by a canary of steps and bakes`,
      });
  return issues;
}

export const workflowArgsSchema = workflowArgsObject
  .superRefine((a, ctx) => {
    checkWorkflowArgs(a, ctx);
    checkTargets(a, ctx);
  })
  .transform(withRegionDefaults);

export type WorkflowArgs = z.output<typeof workflowArgsSchema>;
export type WorkflowArgsInput = z.input<typeof workflowArgsSchema>;
export type Promotion = z.output<typeof promotionSchema>;
