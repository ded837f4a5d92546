// runway.yaml: which image repositories map to which pipeline, and how each pipeline releases.
// Errors name the path of the bad key: `pipelines[1].promotion.steps[2]: must be 1..100`.
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { type ImageRef, imageName, parseImageRef } from './image-ref.ts';
import {
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
import { describeZodError, violations } from './validation.ts';
import {
  acceptanceArgsSchema,
  freezeActions,
  promotionSchema,
  checkTargets,
  type ReleaseTarget,
  regionIssues,
  regionsOf,
  targetRegions,
  withRegionDefaults,
  checkWorkflowArgs,
  jobTaskCount,
  kindLabel,
  workerPoolPromotionIssues,
  type ReleaseSource,
  type WorkflowArgs,
  type WorkflowArgsInput,
  workflowArgsObject,
} from './workflow-args.ts';

/** A config file larger than this is a mistake, not a pipeline list. */
export const MAX_CONFIG_BYTES = 256 * 1024;

const watchedImage = z.string().superRefine((s, ctx) => {
  try {
    const ref = parseImageRef(s);
    if (ref.tag || ref.digest) {
      ctx.addIssue({
        code: 'custom',
        message: 'name the image without a tag or digest; filter tags with `tags`',
      });
    }
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

const tagPattern = z.string().regex(/^[A-Za-z0-9_.*?-]{1,128}$/, {
  error: 'a tag pattern is letters, digits, _ . - and the wildcards * ?',
});

const common = {
  name: pipelineName,
  /** The watched image, HOST/PROJECT/REPOSITORY/IMAGE. */
  image: watchedImage,
  /** Only pushes with a tag matching one of these start a release; absent: every push does. */
  tags: z.array(tagPattern).min(1, { error: 'omit tags to accept every push' }).optional(),
  region: region.optional(),
  notify: z.strictObject({ topic: topicName }).nullable().default(null),
};

type TargetKind = 'service' | 'job' | 'workerPool';
type TargetOf<K extends TargetKind> = K extends 'service'
  ? { service: string; regions?: string[] }
  : K extends 'job'
    ? { job: string }
    : { workerPool: string };

/** How a target naming a resource of another kind is told which pipeline releases it. */
const releasedBy: Record<TargetKind, string> = {
  service: 'a service is released by a service pipeline: remove kind, or name a',
  job: 'a job is released by a job pipeline: add kind: job, or name a',
  workerPool:
    'a worker pool is released by a worker pool pipeline: add kind: workerPool, or name a',
};

/** A target naming the wrong kind of resource is refused at that key, saying which kind. */
const target = <K extends TargetKind>(kind: K, name: z.ZodType<string>) =>
  z
    .object({
      service: z.unknown(),
      job: z.unknown(),
      workerPool: z.unknown(),
      regions: z.unknown(),
    })
    .partial()
    .passthrough()
    .superRefine((t, ctx) => {
      if (kind !== 'service' && t.regions !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['regions'],
          message: `a ${kindLabel[kind]} releases in the pipeline region only; regions are for service pipelines`,
        });
      for (const other of ['service', 'job', 'workerPool'] as const) {
        if (other === kind || t[other] === undefined) continue;
        ctx.addIssue({
          code: 'custom',
          path: [other],
          message:
            kind === 'job'
              ? 'a job pipeline (kind: job) releases jobs: name a job, { job: NAME }'
              : kind === 'workerPool'
                ? 'a worker pool pipeline (kind: workerPool) releases worker pools: name one, { workerPool: NAME }'
                : `${releasedBy[other]} service`,
        });
      }
    })
    .pipe(
      kind === 'service'
        ? z.strictObject({ service: name, regions: targetRegions.optional() })
        : kind === 'job'
          ? z.strictObject({ job: name })
          : z.strictObject({ workerPool: name }),
    ) as unknown as z.ZodType<TargetOf<K>>;

const servicePipeline = z.strictObject({
  ...common,
  kind: z.literal('service'),
  staging: target('service', serviceName),
  live: target('service', serviceName),
  acceptance: acceptanceArgsSchema,
  promotion: promotionSchema.default({ strategy: 'direct' }),
});

/**
 * A job pipeline: the staging job runs the digest with `taskCount` tasks, its exit codes the
 * verdict (and the acceptance job, when there is one); then the live job's template takes it.
 */
const jobPipeline = z.strictObject({
  ...common,
  kind: z.literal('job'),
  staging: target('job', jobName),
  live: target('job', jobName),
  /** Tasks of the staging run (default 1). */
  taskCount: jobTaskCount.default(1),
  acceptance: acceptanceArgsSchema.nullable().default(null),
});

/**
 * A worker pool pipeline: the staging pool runs the digest (and the acceptance job checks it, when
 * there is one, with RUNWAY_WORKER_POOL and RUNWAY_REVISION); then the live pool's instance splits
 * move to it, at once or in canary steps, each step failing when the candidate's instances crash.
 */
const workerPoolPipeline = z.strictObject({
  ...common,
  kind: z.literal('workerPool'),
  staging: target('workerPool', workerPoolName),
  live: target('workerPool', workerPoolName),
  acceptance: acceptanceArgsSchema.nullable().default(null),
  promotion: z
    .unknown()
    .superRefine((p, ctx) => {
      if (p && typeof p === 'object')
        for (const issue of workerPoolPromotionIssues(p))
          ctx.addIssue({ code: 'custom', path: issue.path.slice(1), message: issue.message });
    })
    .pipe(promotionSchema)
    .default({ strategy: 'direct' }),
});

export const pipelineSchema = z.preprocess(
  // kind defaults to service: a pipeline written before jobs is still a service pipeline.
  (p) =>
    p && typeof p === 'object' && !Array.isArray(p) && !('kind' in p)
      ? { ...p, kind: 'service' }
      : p,
  z.discriminatedUnion('kind', [servicePipeline, jobPipeline, workerPoolPipeline], {
    error: (issue) =>
      issue.code === 'invalid_union' ? 'kind must be "service", "job" or "workerPool"' : undefined,
  }),
);

export const weekdays = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;

const HH_MM = /^([01]\d|2[0-3]):[0-5]\d$/;
const clock = (what: 'start' | 'end') =>
  z.string({ error: 'must be a time "HH:MM"' }).superRefine((t, ctx) => {
    if (t === '24:00' && what === 'end') return;
    if (t === '24:00')
      ctx.addIssue({ code: 'custom', message: '"24:00" is allowed as an end only' });
    else if (!HH_MM.test(t))
      ctx.addIssue({
        code: 'custom',
        message: `must be a time "HH:MM" (00:00..23:59${what === 'end' ? ', or 24:00' : ''})`,
      });
  });

/** A list with no repeats, each repeat reported at its index. */
const unique = <T>(items: T[], ctx: z.RefinementCtx) =>
  items.forEach((x, i) => {
    if (items.indexOf(x) !== i)
      ctx.addIssue({ code: 'custom', path: [i], message: `${String(x)} is listed twice` });
  });

/** Weekly, in the policy's local wall-clock time; a window belongs to the day it starts on. */
const weeklyWindowSchema = z
  .strictObject({
    days: z
      .array(z.enum(weekdays, { error: `must be one of ${weekdays.join(', ')}` }), {
        error: 'must be a list of days (MON..SUN)',
      })
      .min(1, { error: 'name at least one day' })
      .superRefine(unique),
    start: clock('start'),
    end: clock('end'),
  })
  .superRefine((w, ctx) => {
    if (!HH_MM.test(w.start) || !(HH_MM.test(w.end) || w.end === '24:00')) return;
    if (w.end === w.start)
      ctx.addIssue({ code: 'custom', path: ['end'], message: 'must be after start' });
    else if (w.end < w.start)
      ctx.addIssue({
        code: 'custom',
        path: ['end'],
        message: `${w.end} is before start ${w.start}: a window may not cross midnight; use two windows, ${w.start}-24:00 and 00:00-${w.end} on the next days`,
      });
  });

const LOCAL_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/;
/** A local wall time "YYYY-MM-DDTHH:MM" that exists on the calendar (its zone is the policy's). */
const localTime = z
  .string({ error: 'must be a local time "YYYY-MM-DDTHH:MM"' })
  .superRefine((t, ctx) => {
    const m = LOCAL_TIME.exec(t);
    const [y, mo, d, h, mi] = (m?.slice(1) ?? []).map(Number) as number[];
    const date = m ? new Date(Date.UTC(y!, mo! - 1, d!)) : undefined;
    const real =
      date !== undefined &&
      y! >= 1 &&
      date.getUTCMonth() === mo! - 1 &&
      date.getUTCDate() === d &&
      h! <= 23 &&
      mi! <= 59;
    if (!real)
      ctx.addIssue({
        code: 'custom',
        message:
          'must be a local time "YYYY-MM-DDTHH:MM" (no seconds, no offset: the zone is timeZone)',
      });
  });

const oneTimeWindowSchema = z
  .strictObject({ start: localTime, end: localTime })
  .superRefine((w, ctx) => {
    // Fixed-width local times sort as text in time order (within one zone).
    if (LOCAL_TIME.test(w.start) && LOCAL_TIME.test(w.end) && w.end <= w.start)
      ctx.addIssue({ code: 'custom', path: ['end'], message: 'must be after start' });
  });

const timeZone = z
  .string({ error: 'must be an IANA time zone such as Europe/Paris' })
  .superRefine((zone, ctx) => {
    try {
      if (!/^[A-Za-z][A-Za-z0-9_+/-]*$/.test(zone)) throw new RangeError(zone);
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
    } catch {
      ctx.addIssue({
        code: 'custom',
        message: `${JSON.stringify(zone.slice(0, 64))} is not an IANA time zone (such as Europe/Paris or America/New_York)`,
      });
    }
  });

const pipelinePattern = z
  .string({ error: 'must be a pipeline name or a pattern with * and ?' })
  .regex(/^[a-z0-9*?-]{1,63}$/, {
    error: 'a pipeline pattern is lowercase letters, digits, - and the wildcards * ?',
  });

/** A deploy policy: when the pipelines it names may not release (or roll back). */
export const freezeSchema = z
  .strictObject({
    name: freezeName,
    pipelines: z
      .array(pipelinePattern, { error: 'must be a list of pipeline names or patterns' })
      .min(1, { error: 'name at least one pipeline, or "*"' }),
    timeZone,
    weekly: z
      .array(weeklyWindowSchema)
      .min(1, { error: 'omit weekly, or give a window' })
      .optional(),
    oneTime: z
      .array(oneTimeWindowSchema)
      .min(1, { error: 'omit oneTime, or give a window' })
      .optional(),
    actions: z
      .array(z.enum(freezeActions, { error: 'must be "release" or "rollback"' }))
      .min(1, { error: 'name at least one action' })
      .superRefine(unique)
      .default(['release']),
    /** Who may override: their releases pass with a reason, recorded and published. */
    overriders: z.array(iamMember).default([]),
  })
  .superRefine((f, ctx) => {
    if (!f.weekly && !f.oneTime)
      ctx.addIssue({ code: 'custom', message: 'give at least one weekly or oneTime window' });
  });

export type Freeze = z.output<typeof freezeSchema>;

/** What each kind of pipeline releases, in messages. */
const noun = { service: 'service', job: 'job', workerPool: 'worker pool' } as const;

export const pipelineConfigSchema = z
  .strictObject({
    project: projectId.optional(),
    region: region.optional(),
    pipelines: z.array(pipelineSchema).min(1, { error: 'define at least one pipeline' }).max(100),
    freezes: z.array(freezeSchema).max(100).default([]),
  })
  .superRefine((config, ctx) => {
    const seen = new Map<string, string>();
    config.pipelines.forEach((p, i) => {
      const where = (k: string) => [`pipelines`, i, k];
      const staging = targetOf(p.staging);
      const live = targetOf(p.live);
      if (staging === live) {
        ctx.addIssue({
          code: 'custom',
          path: [...where('staging'), p.kind],
          message: `staging and live must be different ${noun[p.kind]}s`,
        });
      }
      if (!p.region && !config.region) {
        ctx.addIssue({
          code: 'custom',
          path: where('region'),
          message: 'set region here or at the top level',
        });
      }
      for (const issue of regionIssues(p))
        ctx.addIssue({
          code: 'custom',
          path: [`pipelines`, i, ...issue.path],
          message: issue.message,
        });
      const r = p.region ?? config.region;
      const regions = (t: ReleaseTarget) => {
        const named = regionsOf(t);
        return named.length ? named : [r];
      };
      for (const [key, id] of [
        ['name', `pipeline ${p.name}`],
        ...regions(p.live).map((rg) => ['live', `${noun[p.kind]} ${rg}/${live}`] as const),
        ...regions(p.staging).map((rg) => ['staging', `${noun[p.kind]} ${rg}/${staging}`] as const),
      ] as const) {
        const other = seen.get(id);
        if (other !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: where(key),
            message: `${id} is already used by ${other}`,
          });
        } else {
          seen.set(id, `pipelines[${i}]`);
        }
      }
    });
    checkFreezes(config, ctx);
  });

/** The service, job or worker pool a target names. */
export function targetOf(
  t: { service: string } | { job: string } | { workerPool: string },
): string {
  return 'service' in t ? t.service : 'job' in t ? t.job : t.workerPool;
}

/** Freeze names are unique, and every pattern covers a configured pipeline (a typo covers none). */
function checkFreezes(
  config: { pipelines: { name: string }[]; freezes: Freeze[] },
  ctx: z.RefinementCtx,
) {
  const names = new Map<string, number>();
  config.freezes.forEach((f, i) => {
    const other = names.get(f.name);
    if (other !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['freezes', i, 'name'],
        message: `freeze ${f.name} is already used by freezes[${other}]`,
      });
    else names.set(f.name, i);
    f.pipelines.forEach((pattern, j) => {
      if (!config.pipelines.some((p) => matchesTag(pattern, p.name)))
        ctx.addIssue({
          code: 'custom',
          path: ['freezes', i, 'pipelines', j],
          message: `${pattern} matches no pipeline`,
        });
    });
  });
}

export type Pipeline = z.output<typeof pipelineSchema> & { region: string };
export type ServicePipeline = Extract<Pipeline, { kind: 'service' }>;
export type JobPipeline = Extract<Pipeline, { kind: 'job' }>;
export type WorkerPoolPipeline = Extract<Pipeline, { kind: 'workerPool' }>;
export const isServicePipeline = (p: Pipeline): p is ServicePipeline => p.kind === 'service';
export interface PipelineConfig {
  project?: string;
  pipelines: Pipeline[];
  /** Deploy policies (freezes), evaluated by services/shared/freezes.ts. */
  freezes: Freeze[];
}

/** Parses runway.yaml text; `source` names the file in messages. Throws ConfigError. */
export function parsePipelineConfig(text: string, source = 'runway.yaml'): PipelineConfig {
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) {
    throw new ConfigError(`${source}: larger than ${MAX_CONFIG_BYTES} bytes`);
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0];
    throw new ConfigError(
      `${source}${line ? `:${line.line}:${line.col}` : ''}: ${e.message.split('\n')[0]}`,
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 50 });
  } catch (err) {
    // The yaml package refuses alias bombs (and other resource abuse) with a ReferenceError.
    throw new ConfigError(`${source}: ${(err as Error).message}`, { cause: err });
  }
  const result = pipelineConfigSchema.safeParse(data);
  if (!result.success) {
    throw new ConfigError(`${source}: ${describeZodError(result.error)}`, {
      violations: violations(result.error),
    });
  }
  const top = result.data;
  return {
    ...(top.project ? { project: top.project } : {}),
    pipelines: top.pipelines.map((p) => ({ ...p, region: (p.region ?? top.region)! })),
    freezes: top.freezes,
  };
}

/** Does `tag` match a pattern with `*` (any run) and `?` (one character)? */
export function matchesTag(pattern: string, tag: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\-]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(tag);
}

/** The pipelines that release a pushed image, or why none does. */
export function pipelinesFor(config: PipelineConfig, ref: ImageRef): Pipeline[] {
  const name = imageName(ref);
  return config.pipelines.filter(
    (p) =>
      p.image === name &&
      (!p.tags || (ref.tag !== undefined && p.tags.some((t) => matchesTag(t, ref.tag!)))),
  );
}

/** Why no pipeline takes a pushed image, for the log line of an ignored event. */
export function whyIgnored(config: PipelineConfig, ref: ImageRef): string {
  const name = imageName(ref);
  const watching = config.pipelines.filter((p) => p.image === name);
  if (watching.length === 0) return `no pipeline watches ${name}`;
  if (ref.tag === undefined)
    return `pipelines ${watching.map((p) => p.name).join(', ')} only release tagged pushes`;
  return `tag ${ref.tag} matches no tag filter of ${watching.map((p) => p.name).join(', ')}`;
}

// A release's arguments are one pipeline's part, the same for every release of it, and the
// release's own fields. The pipeline part is validated once per pipeline, not on every push.
const releaseFields = {
  project: true,
  image: true,
  tag: true,
  publishTime: true,
  source: true,
  action: true,
  by: true,
  reason: true,
  to: true,
  override: true,
  freezes: true,
} as const;
const releaseFieldsSchema = workflowArgsObject.pick(releaseFields).superRefine(checkWorkflowArgs);
const pipelineFieldsSchema = workflowArgsObject
  .omit(releaseFields)
  .superRefine(checkTargets)
  .transform(withRegionDefaults);
type PipelineFields = z.output<typeof pipelineFieldsSchema>;
const pipelineFieldsCache = new WeakMap<Pipeline, PipelineFields>();

function pipelineFields(pipeline: Pipeline): PipelineFields {
  let fields = pipelineFieldsCache.get(pipeline);
  if (!fields) {
    fields = deepFreeze(
      pipelineFieldsSchema.parse({
        pipeline: pipeline.name,
        region: pipeline.region,
        kind: pipeline.kind,
        staging: pipeline.staging,
        live: pipeline.live,
        acceptance: pipeline.acceptance,
        ...(pipeline.kind === 'job' ? { taskCount: pipeline.taskCount } : {}),
        ...(pipeline.kind !== 'job' ? { promotion: pipeline.promotion } : {}),
        notify: pipeline.notify,
      }),
    );
    pipelineFieldsCache.set(pipeline, fields);
  }
  return fields;
}

/** Shared between releases, so nobody may change it. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * What a release adds to its pipeline's part: the image and how it came, who asked and why, an
 * accepted freeze override, and the freezes' windows of the next days (services/shared/freezes.ts).
 */
export type ReleaseRequest = Pick<
  WorkflowArgsInput,
  'tag' | 'publishTime' | 'action' | 'by' | 'reason' | 'to' | 'override' | 'freezes'
> & { image: string; source: ReleaseSource; project?: string };

/** The release workflow's arguments for a pipeline and an image pinned by digest. */
export function workflowArgsFor(
  config: PipelineConfig,
  pipeline: Pipeline,
  release: ReleaseRequest,
): WorkflowArgs {
  const own = releaseFieldsSchema.parse({
    project: config.project ?? release.project,
    image: release.image,
    tag: release.tag ?? null,
    publishTime: release.publishTime ?? null,
    source: release.source,
    action: release.action,
    by: release.by,
    reason: release.reason,
    to: release.to,
    override: release.override,
    freezes: release.freezes,
  });
  const p = pipelineFields(pipeline);
  return {
    pipeline: p.pipeline,
    project: own.project,
    region: p.region,
    image: own.image,
    tag: own.tag,
    publishTime: own.publishTime,
    kind: p.kind,
    staging: p.staging,
    live: p.live,
    acceptance: p.acceptance,
    taskCount: p.taskCount,
    promotion: p.promotion,
    notify: p.notify,
    source: own.source,
    action: own.action,
    by: own.by,
    reason: own.reason,
    to: own.to,
    override: own.override,
    freezes: own.freezes,
  };
}
