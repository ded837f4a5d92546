// The deployer's HTTP surface. Handlers decode, call the domain, and map the outcome to a status:
// Pub/Sub retries anything that is not 2xx, so only transient upstream failures answer 5xx.
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { registryNotificationSchema } from '../shared/artifact-registry.ts';
import type { RegistryNotification } from '../shared/artifact-registry.ts';
import { RunwayError, sendGoogleError, toRunwayError } from '../shared/errors.ts';
import { formatImageRef, parseDigestRef } from '../shared/image-ref.ts';
import { type Logger, parseTraceHeaders, traceFields } from '../shared/logger.ts';
import type { PipelineConfig } from '../shared/pipeline-config.ts';
import { pushEnvelopeSchema } from '../shared/pubsub.ts';
import { freezeName, iamMember, pipelineName } from '../shared/names.ts';
import { describeZodError, parseOrThrow } from '../shared/validation.ts';
import type { TokenVerifier } from './auth.ts';
import type { SchedulerAuth } from './config.ts';
import { type CloudRun, type Registry, reconcile } from './reconcile.ts';
import {
  authorizeOverride,
  type Executions,
  LocalReleases,
  type Notifier,
  notReleasable,
  type Override,
  type ReleaseOutcome,
  releaseImage,
} from './release.ts';

export const MAX_BODY = '1mb';

export interface AppDeps {
  project: string;
  pipelines: PipelineConfig;
  push: { audience: string; serviceAccount: string } | 'unauthenticated';
  /** Who may call /reconcile; absent: disabled. */
  scheduler?: SchedulerAuth;
  verifier: TokenVerifier;
  executions: Executions;
  /** Artifact Registry and Cloud Run, used by /reconcile only. */
  registry?: Registry;
  run?: CloudRun;
  logger: Logger;
  /** This instance's memory of releases it started; a fresh one per app by default. */
  local?: LocalReleases;
  /** The clock freezes are evaluated with; the system's by default. */
  now?: () => Date;
  /** Publishes events (release.blocked) on a pipeline's notify topic; absent: logged only. */
  notifier?: Notifier;
}

const reconcileBody = z.strictObject({ verify: z.boolean().optional() });

/**
 * POST /releases: an image by digest, and the one pipeline to release it (absent: every one);
 * optionally who asks and why, and the freeze they override.
 */
const releaseBody = z.strictObject(
  {
    pipeline: pipelineName.optional(),
    overrideFreeze: freezeName.optional(),
    reason: z.string().max(1024).optional(),
    by: iamMember.optional(),
    image: z
      .string({
        error: (issue) =>
          `${issue.input === undefined ? 'is required' : 'must be a string'}: a reference by digest (IMAGE@sha256:...)`,
      })
      .transform((ref, ctx) => {
        try {
          return parseDigestRef(ref);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      }),
  },
  {
    error: (issue) =>
      issue.code === 'invalid_type'
        ? 'the body must be a JSON object {"pipeline"?: string, "image": string, "by"?: string, "reason"?: string, "overrideFreeze"?: string}'
        : undefined,
  },
);

/** The media type of a content-type header, lowercased and without parameters. */
function mediaType(header: string | undefined): string | undefined {
  return header?.split(';', 1)[0]?.trim().toLowerCase() || undefined;
}

/**
 * Bodies are JSON only. Pub/Sub and Cloud Scheduler send application/json; text/plain, a form or
 * multipart is what any web page can POST cross-origin without a preflight, so it is refused
 * before the body is read or anything starts. The JSON parser after it need not look again.
 */
function requireJson(req: Request, _res: Response, next: NextFunction) {
  const type = mediaType(req.headers['content-type']);
  if (type === 'application/json') return next();
  const sent = type === undefined ? 'none was sent' : `not ${type.slice(0, 100)}`;
  next(
    new RunwayError('INVALID_ARGUMENT', `content-type must be application/json, ${sent}`, {
      httpStatus: 415,
    }),
  );
}

/**
 * The override a release request asks for: a freeze's name needs who overrides and why.
 * `by` comes from the body: /releases takes the push account's token today, so the CLI is the
 * trusted caller; on Google it will be the verified caller's identity (issue 17).
 */
function overrideOf(body: z.output<typeof releaseBody>): Override | null {
  if (body.overrideFreeze === undefined) return null;
  const missing = [
    ...(body.by === undefined
      ? [{ field: 'by', description: 'is required with overrideFreeze' }]
      : []),
    ...(!body.reason?.trim()
      ? [{ field: 'reason', description: 'is required with overrideFreeze' }]
      : []),
  ];
  if (missing.length > 0)
    throw new RunwayError(
      'INVALID_ARGUMENT',
      `invalid release request: overriding freeze ${body.overrideFreeze} needs ${missing.map((m) => m.field).join(' and ')}`,
      { violations: missing },
    );
  return { freeze: body.overrideFreeze, by: body.by!, reason: body.reason!.trim() };
}

/** 409 for a release every pipeline of which is frozen: the freeze ending last, and when. */
function frozen(outcomes: ReleaseOutcome[]): RunwayError {
  const blocked = outcomes.filter((o) => o.kind === 'blocked');
  const last = blocked.reduce((a, b) => (b.until > a.until ? b : a));
  const each = blocked.map(
    (b) => `${b.pipeline} by ${b.freezes.map((f) => `${f.name} until ${f.until}`).join(', ')}`,
  );
  return new RunwayError(
    'FAILED_PRECONDITION',
    `frozen: ${each.join('; ')}; an overrider may release with overrideFreeze, by and reason`,
    {
      httpStatus: 409,
      info: { reason: 'FROZEN', metadata: { freeze: last.freeze, until: last.until } },
    },
  );
}

export function createApp(deps: AppDeps) {
  const app = express();
  const local = deps.local ?? new LocalReleases();
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  // A logger per request, joined to its trace.
  app.use((req: Request, res: Response, next: NextFunction) => {
    res.locals.log = deps.logger.child(traceFields(parseTraceHeaders(req.headers), deps.project));
    next();
  });

  const now = deps.now ?? (() => new Date());
  /** What every domain call shares: the config, Workflows, the clock and the notifier. */
  const domain = (log: Logger) => ({
    config: deps.pipelines,
    project: deps.project,
    executions: deps.executions,
    log,
    now,
    ...(deps.notifier ? { notifier: deps.notifier } : {}),
  });

  const authenticate = async (req: Request) => {
    if (deps.push === 'unauthenticated') return;
    await deps.verifier.verify(req.headers.authorization, deps.push);
  };
  const authenticateScheduler = async (req: Request) => {
    const who = deps.scheduler ?? 'disabled';
    if (who === 'unauthenticated') return;
    if (who === 'disabled')
      throw new RunwayError(
        'PERMISSION_DENIED',
        'reconcile is disabled: set RUNWAY_SCHEDULER_AUDIENCE and RUNWAY_SCHEDULER_SERVICE_ACCOUNT',
      );
    await deps.verifier.verify(req.headers.authorization, who);
  };

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.post(
    '/pubsub/artifact-registry',
    requireJson,
    express.json({ limit: MAX_BODY, type: () => true }),
    async (req, res, next) => {
      const log: Logger = res.locals.log;
      try {
        await authenticate(req);
        const envelope = pushEnvelopeSchema.safeParse(req.body);
        // A message that can never become valid is acknowledged (not retried forever) and logged whole.
        if (!envelope.success) {
          log.error('push ignored: not a valid Pub/Sub push envelope', {
            reason: describeZodError(envelope.error),
            raw: req.body,
          });
          return void res.status(204).end();
        }
        const msg = envelope.data;
        const mlog = log.child({ messageId: msg.messageId });
        let event: RegistryNotification;
        try {
          const parsed = registryNotificationSchema.safeParse(
            JSON.parse(msg.data.toString('utf8')),
          );
          if (!parsed.success) {
            mlog.error('push ignored: not an Artifact Registry notification', {
              reason: describeZodError(parsed.error),
              raw: msg.data.toString('base64'),
            });
            return void res.status(204).end();
          }
          event = parsed.data as RegistryNotification;
        } catch {
          mlog.error('push ignored: message data is not JSON', {
            raw: msg.data.toString('base64'),
          });
          return void res.status(204).end();
        }
        const skip = notReleasable(event);
        if (skip) {
          mlog.info(`push ignored: ${skip}`);
          return void res.status(204).end();
        }
        const outcomes = await releaseImage({ ...domain(mlog), local }, event.digest!, {
          ...(event.tag ? { tag: event.tag.tag } : {}),
          ...(msg.publishTime ? { publishTime: msg.publishTime } : {}),
          source: 'pubsub',
          by: 'pubsub',
        });
        for (const o of outcomes) if (o.kind === 'ignored') mlog.info(`push ignored: ${o.reason}`);
        // A blocked push is answered 204 too: dropped on purpose, never redelivered; the
        // scheduled reconcile releases the newest digest once the freeze is over.
        res.status(204).end();
      } catch (err) {
        next(err);
      }
    },
  );

  app.post(
    '/releases',
    requireJson,
    express.json({ limit: MAX_BODY, type: () => true }),
    async (req, res, next) => {
      try {
        await authenticate(req);
        const body = parseOrThrow(releaseBody, req.body, 'invalid release request');
        const { pipeline, image } = body;
        if (pipeline !== undefined && !deps.pipelines.pipelines.some((p) => p.name === pipeline))
          throw new RunwayError('NOT_FOUND', `no pipeline named ${pipeline}`);
        const override = overrideOf(body);
        if (override) authorizeOverride(deps.pipelines, override);
        const outcomes = await releaseImage(domain(res.locals.log), image, {
          ...(image.tag ? { tag: image.tag } : {}),
          source: 'manual',
          ...(pipeline ? { only: pipeline } : {}),
          by: body.by ?? null,
          reason: body.reason ?? null,
          override,
        });
        // Only ever the sole outcome: no pipeline took the image, so nothing started.
        const ignored = outcomes.find((o) => o.kind === 'ignored');
        if (ignored)
          throw new RunwayError(
            'NOT_FOUND',
            pipeline
              ? `pipeline ${pipeline} does not release ${formatImageRef(image)}: ${ignored.reason}`
              : ignored.reason,
          );
        if (outcomes.every((o) => o.kind === 'blocked')) throw frozen(outcomes);
        res.status(202).json({ releases: outcomes });
      } catch (err) {
        next(err);
      }
    },
  );

  app.post(
    '/reconcile',
    requireJson,
    express.json({ limit: MAX_BODY, type: () => true }),
    async (req, res, next) => {
      try {
        await authenticateScheduler(req);
        // A scheduler job may send no body (with content-type application/json).
        const body = reconcileBody.safeParse(req.body ?? {});
        if (!body.success)
          throw new RunwayError(
            'INVALID_ARGUMENT',
            `reconcile body must be {"verify": boolean}: ${describeZodError(body.error)}`,
          );
        if (!deps.registry || !deps.run)
          throw new RunwayError('UNIMPLEMENTED', 'reconcile has no registry or Cloud Run access');
        const pipelines = await reconcile(
          { ...domain(res.locals.log), registry: deps.registry, run: deps.run },
          { verify: body.data.verify === true },
        );
        res.status(200).json({ pipelines });
      } catch (err) {
        next(err);
      }
    },
  );

  app.use((_req: Request, _res: Response, next: NextFunction) =>
    next(new RunwayError('NOT_FOUND', 'no such route')),
  );
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = toRunwayError(err);
    const log: Logger = res.locals.log ?? deps.logger;
    // A Google API refusing the deployer's own account is a missing grant: an operator must act.
    if (e.httpStatus >= 500 || e.info?.reason === 'UPSTREAM_PERMISSION_DENIED')
      log.error(`request failed: ${e.message}`, {
        code: e.code,
        cause: e.cause,
        ...(e.info?.metadata.permission ? { permission: e.info.metadata.permission } : {}),
      });
    else log.warn(`request refused: ${e.message}`, { code: e.code });
    sendGoogleError(res, e);
  });
  return app;
}
