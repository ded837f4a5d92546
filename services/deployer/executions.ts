// The release workflow's executions through Google's @google-cloud/workflows client (REST mode),
// against Google or WORKFLOWS_EMULATOR_HOST. 503, 429 and connection errors are retried briefly
// (the client does not retry 503 in REST mode), then surface as UNAVAILABLE so Pub/Sub redelivers;
// a 403 of the deployer's own account surfaces as PERMISSION_DENIED naming the permission.
import type { ExecutionsClient } from '@google-cloud/workflows';
import { RunwayError } from '../shared/errors.ts';
import type { WorkflowArgs } from '../shared/workflow-args.ts';
import type { Executions } from './release.ts';

const TRANSIENT_HTTP = new Set([429, 500, 502, 503, 504]);
const TRANSIENT_GRPC = new Set([4, 8, 13, 14]);

function transient(err: unknown): boolean {
  const e = err as { status?: number; code?: number | string; response?: { status?: number } };
  const status = e.response?.status ?? e.status;
  if (typeof status === 'number') return TRANSIENT_HTTP.has(status);
  if (typeof e.code === 'number') return TRANSIENT_GRPC.has(e.code) || TRANSIENT_HTTP.has(e.code);
  return typeof e.code === 'string' && /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN/.test(e.code);
}

/**
 * Google's refusal of the deployer's own account (403 PERMISSION_DENIED, gRPC 7) as a RunwayError
 * naming the permission, or undefined for any other error. A missing grant is an operator's to
 * fix: the error is logged at ERROR (app.ts) and answered 403, so Pub/Sub redelivers the push
 * with backoff (then dead-letters it) and the release starts once the grant is there, rather
 * than the push being acknowledged and the image never released.
 */
export function denialOf(what: string, err: unknown): RunwayError | undefined {
  const e = err as {
    code?: unknown;
    status?: unknown;
    response?: { status?: unknown };
    message?: unknown;
  };
  const status = e.response?.status ?? e.status;
  if (e.code !== 7 && status !== 403 && e.code !== 403) return undefined;
  const text = String(e.message ?? '');
  // REST mode's message is Google's error body, gRPC's the message after its code.
  let message = text.replace(/^7 PERMISSION_DENIED: /, '');
  try {
    message = (JSON.parse(message) as { error?: { message?: string } }).error?.message ?? message;
  } catch {}
  const named = /Permission '([^']+)' denied on resource '([^']+)'/.exec(message);
  return new RunwayError(
    'PERMISSION_DENIED',
    `${what}: Workflows refused the deployer's account: ${message}${named ? ` (grant its account a role with ${named[1]}, such as roles/workflows.invoker)` : ''}`,
    {
      cause: err,
      info: {
        reason: 'UPSTREAM_PERMISSION_DENIED',
        metadata: named ? { permission: named[1]!, resource: named[2]! } : {},
      },
    },
  );
}

export async function withRetry<T>(
  what: string,
  fn: () => Promise<T>,
  sleep: (ms: number) => Promise<void>,
  attempts = 3,
): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const denied = denialOf(what, err);
      if (denied) throw denied;
      if (!transient(err)) throw err;
      if (i >= attempts)
        throw new RunwayError(
          'UNAVAILABLE',
          `${what}: Workflows is unavailable: ${(err as Error).message}`,
          { cause: err },
        );
      await sleep(100 * 2 ** (i - 1));
    }
  }
}

export function workflowsExecutions(
  client: ExecutionsClient,
  parent: string,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Executions {
  return {
    async start(args: WorkflowArgs, labels) {
      const [execution] = await withRetry(
        'starting the release',
        () =>
          client.createExecution({ parent, execution: { argument: JSON.stringify(args), labels } }),
        sleep,
      );
      return execution.name ?? '';
    },
    async isActive(labels) {
      const filter = [
        'state="ACTIVE"',
        ...Object.entries(labels)
          .filter(([k]) => k !== 'managed-by')
          .map(([k, v]) => `labels.${k}="${v}"`),
      ].join(' AND ');
      const [list] = await withRetry(
        'listing running releases',
        () => client.listExecutions({ parent, filter, pageSize: 1 }, { autoPaginate: false }),
        sleep,
      );
      return list.length > 0;
    },
  };
}
