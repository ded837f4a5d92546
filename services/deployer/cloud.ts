// Reconcile's Google APIs through Google's clients (REST mode): Artifact Registry tags and the
// Cloud Run Admin API v2, against Google or the *_EMULATOR_HOST endpoints. SDK types stay here.
import type { ArtifactRegistryClient } from '@google-cloud/artifact-registry';
import type { JobsClient, ServicesClient } from '@google-cloud/run';
import type { ImageRef } from '../shared/image-ref.ts';
import type { AcceptanceRun, CloudRun, Registry } from './reconcile.ts';

const NOT_FOUND = 5;
const isNotFound = (err: unknown) => {
  const code = (err as { code?: unknown }).code;
  return code === NOT_FOUND || code === 404;
};

/** Artifact Registry's repository location of an image: the host's prefix, or gcr.io's multi-region. */
function locationOf(image: ImageRef): string {
  if (image.location) return image.location;
  return /^(us|eu|asia)\./.exec(image.host)?.[1] ?? 'us';
}

/** The tag's resource name; the package is the image path with `/` encoded as %2F. */
export function tagName(image: ImageRef, tag: string): string {
  const pkg = image.image.replaceAll('/', '%2F');
  return `projects/${image.project}/locations/${locationOf(image)}/repositories/${image.repository}/packages/${pkg}/tags/${tag}`;
}

export function artifactRegistry(client: ArtifactRegistryClient, timeoutMs = 10_000): Registry {
  return {
    async tagDigest(image, tag) {
      try {
        const [t] = await client.getTag({ name: tagName(image, tag) }, { timeout: timeoutMs });
        const digest = /\/versions\/(sha256:[0-9a-f]{64})$/.exec(t.version ?? '')?.[1];
        if (!digest) throw new Error(`tag ${tag} names no sha256 version: ${t.version ?? 'none'}`);
        return digest;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
  };
}

/**
 * runway.dev/refused as the workflow writes it: a JSON list of digests. Anything else (a hand
 * edit) reads as no list: the reconcile then releases as before, never less safely than a push.
 */
export function refusedDigests(text: string | null | undefined): string[] {
  if (!text) return [];
  try {
    const list: unknown = JSON.parse(text);
    return Array.isArray(list) ? list.filter((d): d is string => typeof d === 'string') : [];
  } catch {
    return [];
  }
}

export function cloudRun(services: ServicesClient, jobs: JobsClient, timeoutMs = 30_000): CloudRun {
  return {
    async getService(project, region, service) {
      try {
        const [svc] = await services.getService(
          { name: `projects/${project}/locations/${region}/services/${service}` },
          { timeout: timeoutMs },
        );
        const refused = refusedDigests(svc.annotations?.['runway.dev/refused']);
        return {
          ...(svc.annotations?.['runway.dev/digest']
            ? { digest: svc.annotations['runway.dev/digest'] }
            : {}),
          ...(svc.uri ? { uri: svc.uri } : {}),
          ...(refused.length > 0 ? { refused } : {}),
        };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async getJob(project, region, job) {
      try {
        const [j] = await jobs.getJob(
          { name: `projects/${project}/locations/${region}/jobs/${job}` },
          { timeout: timeoutMs },
        );
        const refused = refusedDigests(j.annotations?.['runway.dev/refused']);
        return {
          ...(j.annotations?.['runway.dev/digest']
            ? { digest: j.annotations['runway.dev/digest'] }
            : {}),
          ...(refused.length > 0 ? { refused } : {}),
        };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async runJob(project, region, job, o) {
      const [op] = await jobs.runJob(
        {
          name: `projects/${project}/locations/${region}/jobs/${job}`,
          overrides: {
            containerOverrides: [{ env: o.env }],
            taskCount: o.taskCount,
            timeout: { seconds: o.timeoutSeconds },
          },
        },
        { timeout: timeoutMs },
      );
      const started = (op.metadata as { name?: string } | null)?.name ?? op.name ?? '';
      return jobVerdict(op, started);
    },
  };
}

/** The part of a job's long-running operation a verdict needs; gax's Operation has it. */
export interface JobOperation {
  promise(): Promise<
    [{ name?: string | null; failedCount?: number | string | null }, ...unknown[]]
  >;
  /** The last state polled: `done` with `error` is the execution's own failure. */
  latestResponse?: { done?: boolean | null } | null;
}

/**
 * Waits for the job's execution. Its failing (the operation done with an error) is a verdict, not
 * an error; failing to learn the outcome (polling could not reach the API) is an error, so a
 * verify report reads `error`, not a `failed` live that may be fine.
 */
export async function jobVerdict(op: JobOperation, started: string): Promise<AcceptanceRun> {
  try {
    const [execution] = await op.promise();
    const failed = Number(execution.failedCount ?? 0);
    return {
      execution: execution.name ?? started,
      succeeded: failed === 0,
      ...(failed ? { detail: `${failed} task(s) failed` } : {}),
    };
  } catch (err) {
    if (op.latestResponse?.done)
      return { execution: started, succeeded: false, detail: (err as Error).message };
    throw new Error(`waiting for ${started || 'the job execution'}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
