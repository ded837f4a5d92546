// The release workflow's executions through Google's @google-cloud/workflows client (REST mode),
// against Google or WORKFLOWS_EMULATOR_HOST. 503, 429 and connection errors are retried briefly
// (the client does not retry 503 in REST mode), then surface as UNAVAILABLE so Pub/Sub redelivers.
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
