// The Cloud Run Admin API v2 of the local cloud: Google's REST paths and JSON (lowerCamelCase,
// enums as names or numbers, google.longrunning operations, Google-shaped errors), so Google's
// `@google-cloud/run` clients in REST mode and the Workflows connectors work unchanged.
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  invalidArgument,
  notFound,
  RunwayError,
  unavailable,
} from '../../services/shared/errors.ts';
import { readJsonBody, sendJson } from '../api-server.ts';
import type { Jobs } from './jobs.ts';
import type { Operation, Operations } from './operations.ts';
import { KnativeView, knativeRoutes } from './knative.ts';
import { knativeJobRoutes } from './knative-jobs.ts';
import { decodeMessage, type JsonObject } from './proto-json.ts';
import { maskPaths, page } from './resources.ts';
import type { Services } from './services.ts';
import type { UpdateOptions } from './table.ts';
import type { WorkerPools } from './worker-pools.ts';

const MAX_BODY = 4 * 1024 * 1024;
const LOC = 'projects/[^/]+/locations/[^/]+';
const ID = '[^/:]+';

export interface RunApi {
  services: Services;
  jobs: Jobs;
  workerPools: WorkerPools;
  operations: Operations;
  /** How long a write waits for its operation before answering it not yet done. */
  settleMs: number;
  /** Fault injection for resilience tests: every Nth API request answers 503 (0: none). */
  faults: { everyNth: number; count: number };
}

type Handler = (
  m: RegExpExecArray,
  query: URLSearchParams,
  req: IncomingMessage,
) => Promise<JsonObject>;

const bool = (q: URLSearchParams, key: string) =>
  ['true', '1'].includes(
    q.get(key) ?? q.get(key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)) ?? '',
  );

/** An update's query: its update mask, allowMissing and validateOnly. */
function updateOptions(q: URLSearchParams): UpdateOptions {
  const mask = maskPaths(q.get('updateMask') ?? q.get('update_mask') ?? undefined);
  return {
    ...(mask ? { mask } : {}),
    allowMissing: bool(q, 'allowMissing'),
    validateOnly: bool(q, 'validateOnly'),
  };
}

async function body(req: IncomingMessage, type: string, path: string): Promise<JsonObject> {
  return decodeMessage(type, await readJsonBody(req, MAX_BODY), path);
}

export function runApiHandler(api: RunApi) {
  const { services, jobs, workerPools, operations } = api;
  const settled = async (op: Operation): Promise<JsonObject> =>
    operations.render(await operations.wait(op.name, api.settleMs));
  const list = (key: string, items: JsonObject[], q: URLSearchParams): JsonObject => {
    const p = page(items, q);
    return { [key]: p.items, ...(p.nextPageToken ? { nextPageToken: p.nextPageToken } : {}) };
  };

  const routes: [string, RegExp, Handler][] = [
    // services
    [
      'GET',
      new RegExp(`^/v2/(${LOC})/services$`),
      async (m, q) => list('services', services.list(m[1]!), q),
    ],
    [
      'POST',
      new RegExp(`^/v2/(${LOC})/services$`),
      async (m, q, req) =>
        settled(
          await services.create(
            m[1]!,
            q.get('serviceId') ?? q.get('service_id'),
            await body(req, 'google.cloud.run.v2.Service', 'service'),
            bool(q, 'validateOnly'),
          ),
        ),
    ],
    ['GET', new RegExp(`^/v2/(${LOC}/services/${ID})$`), async (m) => services.get(m[1]!)],
    [
      'PATCH',
      new RegExp(`^/v2/(${LOC}/services/${ID})$`),
      async (m, q, req) =>
        settled(
          await services.update(
            m[1]!,
            await body(req, 'google.cloud.run.v2.Service', 'service'),
            updateOptions(q),
          ),
        ),
    ],
    [
      'DELETE',
      new RegExp(`^/v2/(${LOC}/services/${ID})$`),
      async (m, q) => settled(await services.delete(m[1]!, q.get('etag'), bool(q, 'validateOnly'))),
    ],
    // revisions
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/services/${ID})/revisions$`),
      async (m, q) => list('revisions', services.listRevisions(m[1]!), q),
    ],
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/services/${ID}/revisions/${ID})$`),
      async (m) => services.getRevision(m[1]!),
    ],
    [
      'DELETE',
      new RegExp(`^/v2/(${LOC}/services/${ID}/revisions/${ID})$`),
      async (m, q) => settled(await services.deleteRevision(m[1]!, q.get('etag'))),
    ],
    // jobs
    ['GET', new RegExp(`^/v2/(${LOC})/jobs$`), async (m, q) => list('jobs', jobs.list(m[1]!), q)],
    [
      'POST',
      new RegExp(`^/v2/(${LOC})/jobs$`),
      async (m, q, req) =>
        settled(
          await jobs.create(
            m[1]!,
            q.get('jobId') ?? q.get('job_id'),
            await body(req, 'google.cloud.run.v2.Job', 'job'),
            bool(q, 'validateOnly'),
          ),
        ),
    ],
    ['GET', new RegExp(`^/v2/(${LOC}/jobs/${ID})$`), async (m) => jobs.get(m[1]!)],
    [
      'PATCH',
      new RegExp(`^/v2/(${LOC}/jobs/${ID})$`),
      async (m, q, req) =>
        settled(
          await jobs.update(
            m[1]!,
            await body(req, 'google.cloud.run.v2.Job', 'job'),
            updateOptions(q),
          ),
        ),
    ],
    [
      'DELETE',
      new RegExp(`^/v2/(${LOC}/jobs/${ID})$`),
      async (m, q) => settled(await jobs.delete(m[1]!, q.get('etag'), bool(q, 'validateOnly'))),
    ],
    [
      'POST',
      new RegExp(`^/v2/(${LOC}/jobs/${ID}):run$`),
      async (m, _q, req) =>
        settled(jobs.run(m[1]!, await body(req, 'google.cloud.run.v2.RunJobRequest', ''))),
    ],
    // executions and tasks
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/jobs/${ID})/executions$`),
      async (m, q) => list('executions', jobs.listExecutions(m[1]!), q),
    ],
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/jobs/${ID}/executions/${ID})$`),
      async (m) => jobs.getExecution(m[1]!),
    ],
    [
      'DELETE',
      new RegExp(`^/v2/(${LOC}/jobs/${ID}/executions/${ID})$`),
      async (m, q) => settled(await jobs.deleteExecution(m[1]!, q.get('etag'))),
    ],
    [
      'POST',
      new RegExp(`^/v2/(${LOC}/jobs/${ID}/executions/${ID}):cancel$`),
      async (m, _q, req) => {
        const b = await body(req, 'google.cloud.run.v2.CancelExecutionRequest', '');
        return settled(
          await jobs.cancelExecution(m[1]!, typeof b.etag === 'string' ? b.etag : undefined),
        );
      },
    ],
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/jobs/${ID}/executions/${ID})/tasks$`),
      async (m, q) => list('tasks', jobs.listTasks(m[1]!), q),
    ],
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/jobs/${ID}/executions/${ID}/tasks/${ID})$`),
      async (m) => jobs.getTask(m[1]!),
    ],
    // worker pools and their revisions
    [
      'GET',
      new RegExp(`^/v2/(${LOC})/workerPools$`),
      async (m, q) => list('workerPools', workerPools.list(m[1]!), q),
    ],
    [
      'POST',
      new RegExp(`^/v2/(${LOC})/workerPools$`),
      async (m, q, req) =>
        settled(
          await workerPools.create(
            m[1]!,
            q.get('workerPoolId') ?? q.get('worker_pool_id'),
            await body(req, 'google.cloud.run.v2.WorkerPool', 'worker_pool'),
            bool(q, 'validateOnly'),
          ),
        ),
    ],
    ['GET', new RegExp(`^/v2/(${LOC}/workerPools/${ID})$`), async (m) => workerPools.get(m[1]!)],
    [
      'PATCH',
      new RegExp(`^/v2/(${LOC}/workerPools/${ID})$`),
      async (m, q, req) =>
        settled(
          await workerPools.update(
            m[1]!,
            await body(req, 'google.cloud.run.v2.WorkerPool', 'worker_pool'),
            { ...updateOptions(q), forceNewRevision: bool(q, 'forceNewRevision') },
          ),
        ),
    ],
    [
      'DELETE',
      new RegExp(`^/v2/(${LOC}/workerPools/${ID})$`),
      async (m, q) =>
        settled(await workerPools.delete(m[1]!, q.get('etag'), bool(q, 'validateOnly'))),
    ],
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/workerPools/${ID})/revisions$`),
      async (m, q) => list('revisions', workerPools.listRevisions(m[1]!), q),
    ],
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/workerPools/${ID}/revisions/${ID})$`),
      async (m) => workerPools.getRevision(m[1]!),
    ],
    [
      'DELETE',
      new RegExp(`^/v2/(${LOC}/workerPools/${ID}/revisions/${ID})$`),
      async (m, q) => settled(await workerPools.deleteRevision(m[1]!, q.get('etag'))),
    ],
    // operations
    [
      'GET',
      new RegExp(`^/v2/(${LOC})/operations$`),
      async (m, q) => {
        services.checkParent(m[1]!);
        return list(
          'operations',
          operations.list(m[1]!).map((o) => operations.render(o)),
          q,
        );
      },
    ],
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/operations/${ID})$`),
      async (m) => operations.render(operations.get(m[1]!)),
    ],
    [
      'DELETE',
      new RegExp(`^/v2/(${LOC}/operations/${ID})$`),
      async (m) => {
        operations.delete(m[1]!);
        return {};
      },
    ],
    [
      'POST',
      new RegExp(`^/v2/(${LOC}/operations/${ID}):wait$`),
      async (m, _q, req) => {
        const raw = await readJsonBody(req, MAX_BODY);
        const timeout = raw.timeout;
        let ms = 60_000;
        if (timeout !== undefined) {
          if (typeof timeout !== 'string' || !/^\d+(\.\d+)?s$/.test(timeout)) {
            throw invalidArgument('timeout must be a duration such as "30s"', [
              { field: 'timeout', description: 'invalid duration' },
            ]);
          }
          ms = Math.min(Number(timeout.slice(0, -1)) * 1000, 600_000);
        }
        return operations.render(await operations.wait(m[1]!, ms));
      },
    ],
    // the v1 (Knative) API that gcloud run speaks
    ...knativeRoutes(new KnativeView(services, services.settings)),
    ...knativeJobRoutes(jobs, jobs.settings),
  ];

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (api.faults.everyNth > 0 && ++api.faults.count % api.faults.everyNth === 0) {
      req.resume();
      throw unavailable('injected fault: the local Cloud Run answers 503 to every Nth request');
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      throw invalidArgument(`the path ${url.pathname.slice(0, 200)} is not valid percent-encoding`);
    }
    const allowed: string[] = [];
    for (const [method, re, handler] of routes) {
      const m = re.exec(path);
      if (!m) continue;
      if (method !== req.method) {
        allowed.push(method);
        continue;
      }
      sendJson(res, await handler(m, url.searchParams, req));
      return;
    }
    req.resume();
    if (allowed.length) {
      throw new RunwayError(
        'INVALID_ARGUMENT',
        `Method ${req.method} is not allowed on ${path}; use ${allowed.join(' or ')}`,
        { httpStatus: 405 },
      );
    }
    throw notFound(
      `The requested URL ${path} was not found on this server (the local Cloud Run Admin API v2, and v1's serving.knative.dev/v1 namespaces API).`,
    );
  };
}
