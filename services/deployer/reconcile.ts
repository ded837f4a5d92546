// Reconcile (Cloud Scheduler): for each pipeline, compare the digest its watched tag points at
// with the digest live serves (a live service's, or a job pipeline's live job's), start a release
// where they differ and none runs, and optionally re-run the acceptance job against a live
// service. Catches pushes Pub/Sub never delivered.
import { type ImageRef, parseImageRef } from '../shared/image-ref.ts';
import type { Logger } from '../shared/logger.ts';
import type { Pipeline, PipelineConfig } from '../shared/pipeline-config.ts';
import { regionsOf } from '../shared/workflow-args.ts';
import { type Executions, type Notifier, releaseImage } from './release.ts';

/** Artifact Registry as reconcile needs it. */
export interface Registry {
  /** The digest (`sha256:…`) `tag` of `image` points at, or undefined when there is no such tag. */
  tagDigest(image: ImageRef, tag: string): Promise<string | undefined>;
}

export interface LiveService {
  /** The `runway.dev/digest` annotation: what runway last promoted. */
  digest?: string;
  /**
   * `runway.dev/refused`: digests a release ended REJECTED or ROLLED_BACK with, or an operator
   * rolled back or aborted. The reconcile does not release them again by itself.
   */
  refused?: string[];
  uri?: string;
}

/** A job pipeline's live job: its runway.dev/digest and runway.dev/refused, as a service's. */
export type LiveJob = Omit<LiveService, 'uri'>;

export interface AcceptanceRun {
  execution: string;
  /** false when the execution ran and failed (the verdict), not when it could not start. */
  succeeded: boolean;
  detail?: string;
}

/** Cloud Run Admin API v2 as reconcile needs it. */
export interface CloudRun {
  /** The service, or undefined when it does not exist. */
  getService(project: string, region: string, service: string): Promise<LiveService | undefined>;
  /** The job, or undefined when it does not exist (a job pipeline before its first release). */
  getJob(project: string, region: string, job: string): Promise<LiveJob | undefined>;
  /** Runs a job with overrides to completion; rejects only when it could not run. */
  runJob(
    project: string,
    region: string,
    job: string,
    overrides: {
      env: { name: string; value: string }[];
      taskCount: number;
      timeoutSeconds: number;
    },
  ): Promise<AcceptanceRun>;
}

export type ReconcileAction =
  | 'started'
  | 'in-sync'
  | 'running'
  | 'blocked'
  | 'refused'
  | 'no-image'
  | 'skipped'
  | 'error';

export interface VerifyReport {
  outcome: 'passed' | 'failed' | 'skipped' | 'error';
  job: string;
  execution?: string;
  digest?: string;
  detail?: string;
}

export interface PipelineReport {
  pipeline: string;
  watchedTag: string | null;
  newestDigest: string | null;
  liveDigest: string | null;
  action: ReconcileAction;
  execution?: string;
  reason?: string;
  /** With action `blocked`: the freeze ending last, and when; a later reconcile releases. */
  freeze?: { name: string; until: string };
  verify?: VerifyReport;
  error?: string;
}

export interface ReconcileDeps {
  config: PipelineConfig;
  project: string;
  executions: Executions;
  registry: Registry;
  run: CloudRun;
  log: Logger;
  now?: () => Date;
  notifier?: Notifier;
}

/**
 * The tag reconcile follows: the first literal (wildcard-free) entry of `tags`, or `latest` when
 * the pipeline releases every push. A pipeline with only wildcard filters has no single newest tag.
 */
export function watchedTag(p: Pipeline): string | null {
  if (!p.tags) return 'latest';
  return p.tags.find((t) => !/[*?]/.test(t)) ?? null;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Reconciles every pipeline; one pipeline's failure is reported in its entry, never thrown. */
export async function reconcile(
  deps: ReconcileDeps,
  options: { verify: boolean },
): Promise<PipelineReport[]> {
  return Promise.all(deps.config.pipelines.map((p) => reconcileOne(deps, p, options)));
}

async function reconcileOne(
  deps: ReconcileDeps,
  pipeline: Pipeline,
  options: { verify: boolean },
): Promise<PipelineReport> {
  const log = deps.log.child({ pipeline: pipeline.name });
  const tag = watchedTag(pipeline);
  const report: PipelineReport = {
    pipeline: pipeline.name,
    watchedTag: tag,
    newestDigest: null,
    liveDigest: null,
    action: 'no-image',
  };
  // A worker pool's live digest is on the live pool, which the reconcile does not read yet.
  if (pipeline.kind === 'workerPool')
    return { ...report, action: 'skipped', reason: 'worker pool pipelines are not reconciled yet' };
  let live: LiveService | undefined;
  try {
    const image = parseImageRef(pipeline.image);
    const [newest, service] = await Promise.all([
      tag === null
        ? undefined
        : deps.registry.tagDigest(image, tag).catch((err) => {
            throw new Error(`reading tag ${tag} of ${pipeline.image}: ${message(err)}`, {
              cause: err,
            });
          }),
      readLive(deps, pipeline),
    ]);
    live = service;
    report.newestDigest = newest ?? null;
    report.liveDigest = live?.digest || null;
    if (tag === null) {
      report.reason = 'only wildcard tag filters: no single tag to follow';
    } else if (!newest) {
      report.reason = `no tag ${tag} in the registry`;
    } else if (newest === report.liveDigest) {
      report.action = 'in-sync';
    } else if (live?.refused?.includes(newest)) {
      // Rolled back, aborted or rejected: released again only when someone asks (runway release).
      report.action = 'refused';
      report.reason = `${newest} was rolled back, aborted or rejected on live; release it explicitly to try again`;
    } else {
      const [outcome] = await releaseImage(
        {
          config: deps.config,
          project: deps.project,
          executions: deps.executions,
          log,
          ...(deps.now ? { now: deps.now } : {}),
          ...(deps.notifier ? { notifier: deps.notifier } : {}),
        },
        { ...image, digest: newest },
        { tag, source: 'reconcile', only: pipeline.name, by: 'scheduler' },
      );
      if (outcome?.kind === 'started') {
        report.action = 'started';
        report.execution = outcome.execution;
      } else if (outcome?.kind === 'duplicate') {
        report.action = 'running';
      } else if (outcome?.kind === 'blocked') {
        report.action = 'blocked';
        report.freeze = { name: outcome.freeze, until: outcome.until };
        report.reason = `frozen by ${outcome.freezes.map((f) => `${f.name} until ${f.until}`).join(', ')}`;
      } else {
        report.action = 'error';
        report.error = outcome?.kind === 'ignored' ? outcome.reason : 'no release outcome';
      }
    }
    log.info(`reconcile: ${report.action}`, {
      watchedTag: tag,
      newestDigest: report.newestDigest,
      liveDigest: report.liveDigest,
      ...(report.execution ? { execution: report.execution } : {}),
    });
  } catch (err) {
    report.action = 'error';
    report.error = message(err);
    log.error(`reconcile failed: ${report.error}`, { cause: err });
  }
  if (options.verify) report.verify = await verifyLive(deps, pipeline, live, report.liveDigest);
  return report;
}

/**
 * Live's release state: the live service's, or a job pipeline's live job's, annotations. A
 * pipeline naming regions (live.regions) is read there, and with several it is in sync only when every region serves one digest: its digest is
 * that one, or none when they differ (a release then brings the others to it: the regions already
 * on it are left as they are), refused in any region is refused, and its URL is the first
 * region's.
 */
async function readLive(
  deps: ReconcileDeps,
  pipeline: Exclude<Pipeline, { kind: 'workerPool' }>,
): Promise<LiveService | undefined> {
  const named = regionsOf(pipeline.live);
  if (pipeline.kind === 'service' && named.length > 0) {
    const { service } = pipeline.live;
    const regions = await Promise.all(
      named.map((region) =>
        deps.run.getService(deps.project, region, service).catch((err) => {
          throw new Error(`reading live service ${service} in ${region}: ${message(err)}`, {
            cause: err,
          });
        }),
      ),
    );
    const digests = new Set(regions.map((r) => r?.digest));
    const [first] = regions;
    const digest = digests.size === 1 ? first?.digest : undefined;
    const refused = [...new Set(regions.flatMap((r) => r?.refused ?? []))];
    return {
      ...(digest ? { digest } : {}),
      ...(refused.length > 0 ? { refused } : {}),
      ...(first?.uri ? { uri: first.uri } : {}),
    };
  }
  const [what, read] =
    pipeline.kind === 'job'
      ? [
          `live job ${pipeline.live.job}`,
          deps.run.getJob(deps.project, pipeline.region, pipeline.live.job),
        ]
      : [
          `live service ${pipeline.live.service}`,
          deps.run.getService(deps.project, pipeline.region, pipeline.live.service),
        ];
  return read.catch((err) => {
    throw new Error(`reading ${what}: ${message(err)}`, { cause: err });
  });
}

/** Runs the acceptance job against live with the environment the release workflow gives it. */
async function verifyLive(
  deps: ReconcileDeps,
  pipeline: Exclude<Pipeline, { kind: 'workerPool' }>,
  live: LiveService | undefined,
  digest: string | null,
): Promise<VerifyReport> {
  // A live job has no URL to test, and running it to have something to check would do its work
  // (an ETL run, a send) on a schedule nobody asked for: a job pipeline is verified per release.
  if (pipeline.kind === 'job')
    return {
      outcome: 'skipped',
      job: pipeline.acceptance?.job ?? pipeline.live.job,
      detail: 'a job pipeline is verified when released, not re-run to verify live',
    };
  const job = pipeline.acceptance.job;
  if (!live?.uri || !digest) {
    return { outcome: 'skipped', job, detail: 'live has no URL or no runway digest yet' };
  }
  const env = [
    { name: 'TARGET_URL', value: live.uri },
    { name: 'RUNWAY_PIPELINE', value: pipeline.name },
    { name: 'RUNWAY_DIGEST', value: digest },
  ];
  if (pipeline.acceptance.checks)
    env.push({ name: 'RUNWAY_CHECKS', value: JSON.stringify(pipeline.acceptance.checks) });
  const log = deps.log.child({ pipeline: pipeline.name, digest });
  try {
    const run = await deps.run.runJob(deps.project, pipeline.region, job, {
      env,
      taskCount: pipeline.acceptance.taskCount,
      timeoutSeconds: pipeline.acceptance.timeoutSeconds,
    });
    const outcome = run.succeeded ? 'passed' : 'failed';
    (run.succeeded ? log.info : log.warn)(`reconcile verify: live ${outcome}`, {
      execution: run.execution,
      ...(run.detail ? { detail: run.detail } : {}),
    });
    return {
      outcome,
      job,
      execution: run.execution,
      digest,
      ...(run.detail ? { detail: run.detail } : {}),
    };
  } catch (err) {
    log.error(`reconcile verify could not run ${job}: ${message(err)}`, { cause: err });
    return { outcome: 'error', job, digest, detail: `running ${job}: ${message(err)}` };
  }
}
