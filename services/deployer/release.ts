// The deployer's domain: turn a registry event into release executions, with no Express in it.
import { type ImageRef, formatImageRef, shortDigest } from '../shared/image-ref.ts';
import type { Logger } from '../shared/logger.ts';
import {
  type Pipeline,
  type PipelineConfig,
  pipelinesFor,
  whyIgnored,
  workflowArgsFor,
} from '../shared/pipeline-config.ts';
import type { RegistryNotification } from '../shared/artifact-registry.ts';
import { RunwayError } from '../shared/errors.ts';
import type { EventMessage } from '../shared/events.ts';
import { canonicalTimestamp } from '../shared/timestamp.ts';
import type { ReleaseSource, WorkflowArgs } from '../shared/workflow-args.ts';

/** The Workflows Executions API as the deployer needs it; the real client and fakes implement it. */
export interface Executions {
  /** Starts the release workflow; returns the execution name. */
  start(args: WorkflowArgs, labels: Record<string, string>): Promise<string>;
  /** Is an execution for this pipeline and digest still running? */
  isActive(labels: Record<string, string>): Promise<boolean>;
}

/** Publishes runway's events on a pipeline's notify topic (`projects/P/topics/T`). */
export interface Notifier {
  publish(topic: string, message: EventMessage): Promise<void>;
}

/** An accepted freeze override: the overrider, checked by authorizeOverride, and why. */
export interface Override {
  freeze: string;
  by: string;
  reason: string;
}

export type ReleaseOutcome =
  | { kind: 'started'; pipeline: string; execution: string }
  | { kind: 'duplicate'; pipeline: string }
  | {
      kind: 'blocked';
      pipeline: string;
      /** The freeze that ends last, and when (canonical RFC 3339); `freezes` lists every one. */
      freeze: string;
      until: string;
      freezes: { name: string; until: string }[];
    }
  | { kind: 'ignored'; reason: string };

export interface ReleaseDeps {
  config: PipelineConfig;
  project: string;
  executions: Executions;
  log: Logger;
  local?: LocalReleases;
  /** The injected clock: freezes are evaluated at its now. */
  now?: () => Date;
  /** Where release.blocked goes; absent: nowhere (logged only). */
  notifier?: Notifier;
}

export interface ReleaseEvent {
  tag?: string;
  publishTime?: string;
  source: ReleaseSource;
  only?: string;
  /** Who asked: an IAM member, "pubsub" or "scheduler". */
  by?: string | null;
  reason?: string | null;
  override?: Override | null;
}

/**
 * What this instance itself started or saw running, for a short while, and the releases it is
 * deciding right now. Pub/Sub redelivers in storms, often while the first request is still open:
 * these answer from memory instead of asking Workflows again. Other instances are not covered;
 * the Workflows lookup and the workflow's claim are.
 */
export class LocalReleases {
  readonly #until = new Map<string, number>();
  readonly #deciding = new Set<string>();
  constructor(
    private readonly ttlMs = 30_000,
    private readonly now: () => number = Date.now,
    private readonly max = 10_000,
  ) {}

  /** Started or seen running lately, or being decided by another request now. */
  busy(key: string): boolean {
    return this.#deciding.has(key) || (this.#until.get(key) ?? 0) > this.now();
  }
  /** Marks `key` as being decided; returns the function that ends it. */
  begin(key: string): () => void {
    this.#deciding.add(key);
    return () => this.#deciding.delete(key);
  }
  remember(key: string): void {
    // Entries expire in insertion order (one TTL), so the oldest are at the front: dropping
    // expired ones, and the oldest when full, costs O(1) per entry, never a scan.
    const t = this.now();
    this.#until.delete(key);
    for (const [k, until] of this.#until) {
      if (until > t && this.#until.size < this.max) break;
      this.#until.delete(k);
    }
    this.#until.set(key, t + this.ttlMs);
  }
}

export function releaseLabels(pipeline: string, digest: string): Record<string, string> {
  return { pipeline, digest: shortDigest(digest), 'managed-by': 'runway' };
}

/**
 * Starts a release of `image` (pinned by digest) for every pipeline that takes it, unless one is
 * running already or a freeze covers the pipeline now (see freezes.ts; an override lifts the one
 * freeze it names).
 */
export async function releaseImage(
  deps: ReleaseDeps,
  image: ImageRef & { digest: string },
  event: ReleaseEvent,
): Promise<ReleaseOutcome[]> {
  const ref = event.tag ? { ...image, tag: event.tag } : image;
  const pipelines = pipelinesFor(deps.config, ref).filter(
    (p) => !event.only || p.name === event.only,
  );
  if (pipelines.length === 0) {
    // With `only`, the reason is about that pipeline, not the others watching the image.
    const asked = event.only
      ? { ...deps.config, pipelines: deps.config.pipelines.filter((p) => p.name === event.only) }
      : deps.config;
    return [{ kind: 'ignored', reason: whyIgnored(asked, ref) }];
  }
  const now = (deps.now ?? (() => new Date()))();
  const out: ReleaseOutcome[] = [];
  for (const pipeline of pipelines) {
    const labels = releaseLabels(pipeline.name, image.digest);
    const log = deps.log.child({ pipeline: pipeline.name, digest: image.digest });
    const key = `${pipeline.name}@${image.digest}`;
    if (deps.local?.busy(key)) {
      log.info('this instance started or is starting this release; not starting another');
      out.push({ kind: 'duplicate', pipeline: pipeline.name });
      continue;
    }
    const end = deps.local?.begin(key);
    try {
      if (await deps.executions.isActive(labels)) {
        deps.local?.remember(key);
        log.info('a release of this digest is already running; not starting another');
        out.push({ kind: 'duplicate', pipeline: pipeline.name });
        continue;
      }
      const freezes = await freezesFor(deps.config, pipeline, now, event.override ?? null);
      if (freezes.blocked) {
        out.push(freezes.blocked);
        await reportBlocked(deps, log, pipeline, image.digest, event, freezes.blocked, now);
        continue;
      }
      const args = workflowArgsFor(deps.config, pipeline, {
        image: formatImageRef({ ...image, tag: undefined } as ImageRef),
        tag: event.tag ?? null,
        publishTime: event.publishTime ?? null,
        source: event.source,
        project: deps.project,
        by: event.by ?? null,
        reason: event.reason ?? null,
        override: event.override ?? null,
        freezes: freezes.windows,
      });
      const execution = await deps.executions.start(args, labels);
      deps.local?.remember(key);
      if (event.override)
        log.notice(`release started overriding freeze ${event.override.freeze}`, {
          execution,
          override: event.override,
        });
      else log.info('release started', { execution });
      out.push({ kind: 'started', pipeline: pipeline.name, execution });
    } finally {
      end?.();
    }
  }
  return out;
}

type Blocked = Extract<ReleaseOutcome, { kind: 'blocked' }>;

/**
 * Whether a freeze blocks releasing `pipeline` at `now`, and else the windows of the next days for
 * the workflow. The evaluator is loaded only by a configuration that has freezes.
 */
async function freezesFor(
  config: PipelineConfig,
  pipeline: Pipeline,
  now: Date,
  override: Override | null,
): Promise<{ blocked?: Blocked; windows: WorkflowArgs['freezes'] }> {
  if (config.freezes.length === 0) return { windows: [] };
  const { activeFreezes, freezeArguments } = await import('../shared/freezes.ts');
  const active = activeFreezes(config.freezes, pipeline.name, 'release', now)
    .filter((f) => f.name !== override?.freeze)
    .map((f) => ({ name: f.name, until: canonicalTimestamp(f.until.toISOString()) }))
    // Canonical timestamps sort as their instants do.
    .sort((a, b) => (a.until < b.until ? 1 : a.until > b.until ? -1 : 0));
  const last = active[0];
  if (last)
    return {
      blocked: {
        kind: 'blocked',
        pipeline: pipeline.name,
        freeze: last.name,
        until: last.until,
        freezes: active,
      },
      windows: [],
    };
  return { windows: freezeArguments(config.freezes, pipeline.name, now) };
}

/**
 * Logs a blocked release and publishes release.blocked on the pipeline's topic. A failed publish
 * is logged, not thrown: the answer must stay 2xx for a push, or Pub/Sub would redeliver a message
 * that is dropped on purpose (the scheduled reconcile releases the newest digest after the freeze).
 */
async function reportBlocked(
  deps: ReleaseDeps,
  log: Logger,
  pipeline: Pipeline,
  digest: string,
  event: ReleaseEvent,
  blocked: Blocked,
  now: Date,
): Promise<void> {
  log.warn(`release blocked by freeze ${blocked.freeze} until ${blocked.until}`, {
    freezes: blocked.freezes,
    source: event.source,
  });
  if (!pipeline.notify || !deps.notifier) return;
  const topic = `projects/${deps.project}/topics/${pipeline.notify.topic}`;
  try {
    const { eventMessage } = await import('../shared/events.ts');
    const message = eventMessage({
      type: 'release.blocked',
      pipeline: pipeline.name,
      digest,
      execution: null,
      at: now.toISOString(),
      by: event.by ?? null,
      reason: event.reason ?? null,
      freeze: blocked.freeze,
      until: blocked.until,
    });
    await deps.notifier.publish(topic, message);
  } catch (err) {
    log.error(`publishing release.blocked failed: ${(err as Error).message}`, { topic });
  }
}

/**
 * Checks an override before anything starts: the freeze exists, a reason is given, and `by` is
 * one of its overriders (NOT_FOUND, INVALID_ARGUMENT, PERMISSION_DENIED otherwise).
 *
 * `by` is taken as the caller says: /releases accepts the push account's token, so the CLI is the
 * trusted caller for now. On Google it will be the identity of the verified token (issue 17).
 * Overriders match by exact member (emails without case), and domain:D matches user:…@D; a group
 * matches only when `by` names that same group, as the deployer cannot read group membership.
 */
export function authorizeOverride(config: PipelineConfig, override: Override): void {
  const freeze = config.freezes.find((f) => f.name === override.freeze);
  if (!freeze) throw new RunwayError('NOT_FOUND', `no freeze named ${override.freeze}`);
  if (!override.reason.trim())
    throw new RunwayError('INVALID_ARGUMENT', 'an override needs a reason', {
      violations: [{ field: 'reason', description: 'is required with overrideFreeze' }],
    });
  if (!isAmong(override.by, freeze.overriders))
    throw new RunwayError(
      'PERMISSION_DENIED',
      `${override.by} may not override freeze ${freeze.name}: not one of its overriders`,
    );
}

function isAmong(member: string, members: readonly string[]): boolean {
  const m = member.toLowerCase();
  const domain = m.startsWith('user:') ? `domain:${m.slice(m.lastIndexOf('@') + 1)}` : undefined;
  return members.some((x) => {
    const y = x.toLowerCase();
    return y === m || y === domain;
  });
}

/** The ignore reasons of a notification that can never start a release. */
export function notReleasable(n: RegistryNotification): string | undefined {
  if (n.action === 'DELETE') return 'a DELETE event releases nothing';
  if (!n.digest) return 'the event names no digest (tag-only event)';
  return undefined;
}
