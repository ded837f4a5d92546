// The deployer's domain: turn a registry event into release executions, with no Express in it.
import { type ImageRef, formatImageRef, shortDigest } from '../shared/image-ref.ts';
import type { Logger } from '../shared/logger.ts';
import {
  type PipelineConfig,
  pipelinesFor,
  whyIgnored,
  workflowArgsFor,
} from '../shared/pipeline-config.ts';
import type { RegistryNotification } from '../shared/artifact-registry.ts';
import type { ReleaseSource, WorkflowArgs } from '../shared/workflow-args.ts';

/** The Workflows Executions API as the deployer needs it; the real client and fakes implement it. */
export interface Executions {
  /** Starts the release workflow; returns the execution name. */
  start(args: WorkflowArgs, labels: Record<string, string>): Promise<string>;
  /** Is an execution for this pipeline and digest still running? */
  isActive(labels: Record<string, string>): Promise<boolean>;
}

export type ReleaseOutcome =
  | { kind: 'started'; pipeline: string; execution: string }
  | { kind: 'duplicate'; pipeline: string }
  | { kind: 'ignored'; reason: string };

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

/** Starts a release of `image` (pinned by digest) for every pipeline that takes it. */
export async function releaseImage(
  deps: {
    config: PipelineConfig;
    project: string;
    executions: Executions;
    log: Logger;
    local?: LocalReleases;
  },
  image: ImageRef & { digest: string },
  event: { tag?: string; publishTime?: string; source: ReleaseSource; only?: string },
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
      const args = workflowArgsFor(deps.config, pipeline, {
        image: formatImageRef({ ...image, tag: undefined } as ImageRef),
        tag: event.tag ?? null,
        publishTime: event.publishTime ?? null,
        source: event.source,
        project: deps.project,
      });
      const execution = await deps.executions.start(args, labels);
      deps.local?.remember(key);
      log.info('release started', { execution });
      out.push({ kind: 'started', pipeline: pipeline.name, execution });
    } finally {
      end?.();
    }
  }
  return out;
}

/** The ignore reasons of a notification that can never start a release. */
export function notReleasable(n: RegistryNotification): string | undefined {
  if (n.action === 'DELETE') return 'a DELETE event releases nothing';
  if (!n.digest) return 'the event names no digest (tag-only event)';
  return undefined;
}
