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
import { type Gate, openGate } from '../iam/caller.ts';
import type { RequestFlags } from '../iam/methods.ts';
import { type RequestResources, serviceAccountResource } from '../iam/policy.ts';
import type { Jobs } from './jobs.ts';
import type { Operation, Operations } from './operations.ts';
import { KnativeView, knativeRoutes, type V1Iam } from './knative.ts';
import { knativeJobRoutes } from './knative-jobs.ts';
import { decodeMessage, type JsonObject } from './proto-json.ts';
import { asObject } from './containers.ts';
import { fallbackAccount, maskPaths, page, serviceAccountOf } from './resources.ts';
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
  /** Each request's IAM check (local/iam); absent: none. */
  gate?: Gate;
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
  const gate = api.gate ?? openGate;
  const fallback = fallbackAccount(services.settings);
  /** The IAM check of `method` (google.cloud.run.v2.X, or longrunning's Operations.X). */
  const can = (
    req: IncomingMessage,
    method: string,
    resources: RequestResources,
    flags?: RequestFlags,
  ) =>
    gate.authorize(
      req,
      'run.googleapis.com',
      method.startsWith('Operations.')
        ? `google.longrunning.${method}`
        : `google.cloud.run.v2.${method}`,
      resources,
      flags,
    );
  /**
   * Where an operation's get, wait or delete is checked: on the resource it is about (its
   * metadata's name), so a caller granted a role on one service can follow its own deploys, as
   * the release workflow (run.developer on its services only) does. Google's documentation does
   * not say; an unknown operation is checked on its own name (its project's grants).
   */
  const operationTarget = (name: string): string => {
    try {
      const target = operations.get(name).metadata().name;
      return typeof target === 'string' ? target : name;
    } catch {
      return name;
    }
  };
  /** The account a revision or task template runs as: what deploying it acts as. */
  const actingAs = (template: JsonObject[string] | undefined) =>
    serviceAccountResource(serviceAccountOf(asObject(template), fallback));
  const v1Iam: V1Iam = {
    can: (req, method, resources) =>
      gate.authorize(req, 'run.googleapis.com', `google.cloud.run.v1.${method}`, resources),
    actingAs: (template) => actingAs(template),
  };
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
      async (m, q, req) => {
        can(req, 'Services.ListServices', { resource: `${m[1]}/services`, parent: m[1]! });
        return list('services', services.list(m[1]!), q);
      },
    ],
    [
      'POST',
      new RegExp(`^/v2/(${LOC})/services$`),
      async (m, q, req) => {
        const id = q.get('serviceId') ?? q.get('service_id');
        gate.caller(req);
        const service = await body(req, 'google.cloud.run.v2.Service', 'service');
        can(req, 'Services.CreateService', {
          resource: `${m[1]}/services/${id ?? ''}`,
          parent: m[1]!,
          serviceAccount: actingAs(service.template),
        });
        return settled(await services.create(m[1]!, id, service, bool(q, 'validateOnly')));
      },
    ],
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/services/${ID})$`),
      async (m, _q, req) => {
        can(req, 'Services.GetService', { resource: m[1]! });
        return services.get(m[1]!);
      },
    ],
    [
      'PATCH',
      new RegExp(`^/v2/(${LOC}/services/${ID})$`),
      async (m, q, req) => {
        gate.caller(req);
        const service = await body(req, 'google.cloud.run.v2.Service', 'service');
        can(req, 'Services.UpdateService', {
          resource: m[1]!,
          serviceAccount: actingAs(service.template),
        });
        return settled(await services.update(m[1]!, service, updateOptions(q)));
      },
    ],
    [
      'DELETE',
      new RegExp(`^/v2/(${LOC}/services/${ID})$`),
      async (m, q, req) => {
        can(req, 'Services.DeleteService', { resource: m[1]! });
        return settled(await services.delete(m[1]!, q.get('etag'), bool(q, 'validateOnly')));
      },
    ],
    // revisions
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/services/${ID})/revisions$`),
      async (m, q, req) => {
        can(req, 'Revisions.ListRevisions', { resource: `${m[1]}/revisions`, parent: m[1]! });
        return list('revisions', services.listRevisions(m[1]!), q);
      },
    ],
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/services/${ID}/revisions/${ID})$`),
      async (m, _q, req) => {
        can(req, 'Revisions.GetRevision', { resource: m[1]! });
        return services.getRevision(m[1]!);
      },
    ],
    [
      'DELETE',
      new RegExp(`^/v2/(${LOC}/services/${ID}/revisions/${ID})$`),
      async (m, q, req) => {
        can(req, 'Revisions.DeleteRevision', { resource: m[1]! });
        return settled(await services.deleteRevision(m[1]!, q.get('etag')));
      },
    ],
    // jobs
    [
      'GET',
      new RegExp(`^/v2/(${LOC})/jobs$`),
      async (m, q, req) => {
        can(req, 'Jobs.ListJobs', { resource: `${m[1]}/jobs`, parent: m[1]! });
        return list('jobs', jobs.list(m[1]!), q);
      },
    ],
    [
      'POST',
      new RegExp(`^/v2/(${LOC})/jobs$`),
      async (m, q, req) => {
        const id = q.get('jobId') ?? q.get('job_id');
        gate.caller(req);
        const job = await body(req, 'google.cloud.run.v2.Job', 'job');
        can(req, 'Jobs.CreateJob', {
          resource: `${m[1]}/jobs/${id ?? ''}`,
          parent: m[1]!,
          serviceAccount: actingAs(asObject(job.template).template),
        });
        return settled(await jobs.create(m[1]!, id, job, bool(q, 'validateOnly')));
      },
    ],
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/jobs/${ID})$`),
      async (m, _q, req) => {
        can(req, 'Jobs.GetJob', { resource: m[1]! });
        return jobs.get(m[1]!);
      },
    ],
    [
      'PATCH',
      new RegExp(`^/v2/(${LOC}/jobs/${ID})$`),
      async (m, q, req) => {
        gate.caller(req);
        const job = await body(req, 'google.cloud.run.v2.Job', 'job');
        can(req, 'Jobs.UpdateJob', {
          resource: m[1]!,
          serviceAccount: actingAs(asObject(job.template).template),
        });
        return settled(await jobs.update(m[1]!, job, updateOptions(q)));
      },
    ],
    [
      'DELETE',
      new RegExp(`^/v2/(${LOC}/jobs/${ID})$`),
      async (m, q, req) => {
        can(req, 'Jobs.DeleteJob', { resource: m[1]! });
        return settled(await jobs.delete(m[1]!, q.get('etag'), bool(q, 'validateOnly')));
      },
    ],
    [
      'POST',
      new RegExp(`^/v2/(${LOC}/jobs/${ID}):run$`),
      async (m, _q, req) => {
        gate.caller(req);
        const run = await body(req, 'google.cloud.run.v2.RunJobRequest', '');
        const overrides = asObject(run.overrides);
        can(
          req,
          'Jobs.RunJob',
          { resource: m[1]! },
          { overrides: Object.keys(overrides).length > 0 },
        );
        return settled(jobs.run(m[1]!, run));
      },
    ],
    // executions and tasks
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/jobs/${ID})/executions$`),
      async (m, q, req) => {
        can(req, 'Executions.ListExecutions', { resource: `${m[1]}/executions`, parent: m[1]! });
        return list('executions', jobs.listExecutions(m[1]!), q);
      },
    ],
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/jobs/${ID}/executions/${ID})$`),
      async (m, _q, req) => {
        can(req, 'Executions.GetExecution', { resource: m[1]! });
        return jobs.getExecution(m[1]!);
      },
    ],
    [
      'DELETE',
      new RegExp(`^/v2/(${LOC}/jobs/${ID}/executions/${ID})$`),
      async (m, q, req) => {
        can(req, 'Executions.DeleteExecution', { resource: m[1]! });
        return settled(await jobs.deleteExecution(m[1]!, q.get('etag')));
      },
    ],
    [
      'POST',
      new RegExp(`^/v2/(${LOC}/jobs/${ID}/executions/${ID}):cancel$`),
      async (m, _q, req) => {
        can(req, 'Executions.CancelExecution', { resource: m[1]! });
        const b = await body(req, 'google.cloud.run.v2.CancelExecutionRequest', '');
        return settled(
          await jobs.cancelExecution(m[1]!, typeof b.etag === 'string' ? b.etag : undefined),
        );
      },
    ],
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/jobs/${ID}/executions/${ID})/tasks$`),
      async (m, q, req) => {
        can(req, 'Tasks.ListTasks', { resource: `${m[1]}/tasks`, parent: m[1]! });
        return list('tasks', jobs.listTasks(m[1]!), q);
      },
    ],
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/jobs/${ID}/executions/${ID}/tasks/${ID})$`),
      async (m, _q, req) => {
        can(req, 'Tasks.GetTask', { resource: m[1]! });
        return jobs.getTask(m[1]!);
      },
    ],
    // worker pools and their revisions
    [
      'GET',
      new RegExp(`^/v2/(${LOC})/workerPools$`),
      async (m, q, req) => {
        can(req, 'WorkerPools.ListWorkerPools', { resource: `${m[1]}/workerPools`, parent: m[1]! });
        return list('workerPools', workerPools.list(m[1]!), q);
      },
    ],
    [
      'POST',
      new RegExp(`^/v2/(${LOC})/workerPools$`),
      async (m, q, req) => {
        const id = q.get('workerPoolId') ?? q.get('worker_pool_id');
        gate.caller(req);
        const pool = await body(req, 'google.cloud.run.v2.WorkerPool', 'worker_pool');
        can(req, 'WorkerPools.CreateWorkerPool', {
          resource: `${m[1]}/workerPools/${id ?? ''}`,
          parent: m[1]!,
          serviceAccount: actingAs(pool.template),
        });
        return settled(await workerPools.create(m[1]!, id, pool, bool(q, 'validateOnly')));
      },
    ],
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/workerPools/${ID})$`),
      async (m, _q, req) => {
        can(req, 'WorkerPools.GetWorkerPool', { resource: m[1]! });
        return workerPools.get(m[1]!);
      },
    ],
    [
      'PATCH',
      new RegExp(`^/v2/(${LOC}/workerPools/${ID})$`),
      async (m, q, req) => {
        gate.caller(req);
        const pool = await body(req, 'google.cloud.run.v2.WorkerPool', 'worker_pool');
        can(req, 'WorkerPools.UpdateWorkerPool', {
          resource: m[1]!,
          serviceAccount: actingAs(pool.template),
        });
        return settled(
          await workerPools.update(m[1]!, pool, {
            ...updateOptions(q),
            forceNewRevision: bool(q, 'forceNewRevision'),
          }),
        );
      },
    ],
    [
      'DELETE',
      new RegExp(`^/v2/(${LOC}/workerPools/${ID})$`),
      async (m, q, req) => {
        can(req, 'WorkerPools.DeleteWorkerPool', { resource: m[1]! });
        return settled(await workerPools.delete(m[1]!, q.get('etag'), bool(q, 'validateOnly')));
      },
    ],
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/workerPools/${ID})/revisions$`),
      async (m, q, req) => {
        can(req, 'Revisions.ListRevisions', { resource: `${m[1]}/revisions`, parent: m[1]! });
        return list('revisions', workerPools.listRevisions(m[1]!), q);
      },
    ],
    [
      'GET',
      new RegExp(`^/v2/(${LOC}/workerPools/${ID}/revisions/${ID})$`),
      async (m, _q, req) => {
        can(req, 'Revisions.GetRevision', { resource: m[1]! });
        return workerPools.getRevision(m[1]!);
      },
    ],
    [
      'DELETE',
      new RegExp(`^/v2/(${LOC}/workerPools/${ID}/revisions/${ID})$`),
      async (m, q, req) => {
        can(req, 'Revisions.DeleteRevision', { resource: m[1]! });
        return settled(await workerPools.deleteRevision(m[1]!, q.get('etag')));
      },
    ],
    // operations
    [
      'GET',
      new RegExp(`^/v2/(${LOC})/operations$`),
      async (m, q, req) => {
        can(req, 'Operations.ListOperations', { resource: `${m[1]}/operations`, parent: m[1]! });
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
      async (m, _q, req) => {
        can(req, 'Operations.GetOperation', { resource: operationTarget(m[1]!) });
        return operations.render(operations.get(m[1]!));
      },
    ],
    [
      'DELETE',
      new RegExp(`^/v2/(${LOC}/operations/${ID})$`),
      async (m, _q, req) => {
        can(req, 'Operations.DeleteOperation', { resource: operationTarget(m[1]!) });
        operations.delete(m[1]!);
        return {};
      },
    ],
    [
      'POST',
      new RegExp(`^/v2/(${LOC}/operations/${ID}):wait$`),
      async (m, _q, req) => {
        can(req, 'Operations.WaitOperation', { resource: operationTarget(m[1]!) });
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
    // the v1 (Knative) API that gcloud run speaks, through the same gate
    ...knativeRoutes(new KnativeView(services, services.settings), v1Iam),
    ...knativeJobRoutes(jobs, jobs.settings, v1Iam),
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
