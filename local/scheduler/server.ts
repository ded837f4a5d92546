// The local Cloud Scheduler: the Cloud Scheduler API v1 over HTTP/JSON on Google's REST paths
// (projects.locations.jobs create, get, list, patch, delete, pause, resume, run), for
// `@google-cloud/scheduler` in REST mode and `gcloud scheduler jobs`. Jobs with HTTP targets run
// on the injected clock (a time-scaled cloud's workflow time).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidArgument, notFound, RunwayError } from '../../services/shared/errors.ts';
import { closeServer, readJsonBody, sendJson, serveApi } from '../api-server.ts';
import { type Gate, openGate } from '../iam/caller.ts';
import { type RequestResources, serviceAccountResource } from '../iam/policy.ts';
import type { JsonObject } from '../run/proto-json.ts';
import { maskPaths, page } from '../run/resources.ts';
import { timeScaledClock } from '../workflows/engine.ts';
import type { Clock } from '../workflows/stdlib/types.ts';
import type { TokenSource } from './dispatch.ts';
import { decode } from './jobs.ts';
import { type AttemptLog, Scheduler } from './scheduler.ts';

const MAX_BODY = 1024 * 1024;
const LOC = 'projects/[^/]+/locations/[^/]+';
const ID = '[^/:]+';
/** ListJobsRequest: "The maximum page size is 500. If unspecified, the page size will be the maximum." */
const MAX_PAGE = 500;

type Handler = (
  m: RegExpExecArray,
  query: URLSearchParams,
  req: IncomingMessage,
) => Promise<JsonObject>;

function listPage(jobs: JsonObject[], q: URLSearchParams): JsonObject {
  const raw = q.get('pageSize') ?? q.get('page_size');
  const size = raw === null || raw === '' ? 0 : Number(raw);
  if (!Number.isInteger(size) || size < 0) {
    throw invalidArgument(`Invalid value at 'page_size' (TYPE_INT32), ${JSON.stringify(raw)}`, [
      { field: 'page_size', description: 'must be a non-negative integer' },
    ]);
  }
  const query = new URLSearchParams(q);
  query.set('pageSize', String(size === 0 ? MAX_PAGE : Math.min(size, MAX_PAGE)));
  query.delete('page_size');
  const p = page(jobs, query);
  return { jobs: p.items, ...(p.nextPageToken ? { nextPageToken: p.nextPageToken } : {}) };
}

/** The account a job's requests sign as (its OIDC or OAuth token's), if any. */
function signer(job: JsonObject): string | undefined {
  const target = job.httpTarget;
  if (!target || typeof target !== 'object' || Array.isArray(target)) return undefined;
  for (const key of ['oidcToken', 'oauthToken']) {
    const t = (target as JsonObject)[key];
    if (t && typeof t === 'object' && !Array.isArray(t)) {
      const email = (t as JsonObject).serviceAccountEmail;
      if (typeof email === 'string' && email !== '') return serviceAccountResource(email);
    }
  }
  return undefined;
}

export function schedulerHandler(scheduler: Scheduler, gate: Gate = openGate) {
  const body = async (req: IncomingMessage, type: string, path: string) =>
    decode(type, await readJsonBody(req, MAX_BODY), path);
  const can = (req: IncomingMessage, method: string, resources: RequestResources) =>
    gate.authorize(
      req,
      'cloudscheduler.googleapis.com',
      `google.cloud.scheduler.v1.CloudScheduler.${method}`,
      resources,
    );
  const routes: [string, RegExp, Handler][] = [
    [
      'GET',
      new RegExp(`^/v1/(${LOC})/jobs$`),
      async (m, q, req) => {
        can(req, 'ListJobs', { resource: `${m[1]}/jobs`, parent: m[1]! });
        return listPage(scheduler.list(m[1]!), q);
      },
    ],
    [
      'POST',
      new RegExp(`^/v1/(${LOC})/jobs$`),
      async (m, _q, req) => {
        gate.caller(req);
        const job = await body(req, 'Job', 'job');
        const sa = signer(job);
        can(req, 'CreateJob', {
          resource: typeof job.name === 'string' ? job.name : `${m[1]}/jobs`,
          parent: m[1]!,
          ...(sa ? { serviceAccount: sa } : {}),
        });
        return scheduler.create(m[1]!, job);
      },
    ],
    [
      'GET',
      new RegExp(`^/v1/(${LOC}/jobs/${ID})$`),
      async (m, _q, req) => {
        can(req, 'GetJob', { resource: m[1]! });
        return scheduler.get(m[1]!);
      },
    ],
    [
      'PATCH',
      new RegExp(`^/v1/(${LOC}/jobs/${ID})$`),
      async (m, q, req) => {
        gate.caller(req);
        const job = await body(req, 'Job', 'job');
        const sa = signer(job);
        can(req, 'UpdateJob', { resource: m[1]!, ...(sa ? { serviceAccount: sa } : {}) });
        return scheduler.update(
          m[1]!,
          job,
          maskPaths(q.get('updateMask') ?? q.get('update_mask') ?? undefined),
        );
      },
    ],
    [
      'DELETE',
      new RegExp(`^/v1/(${LOC}/jobs/${ID})$`),
      async (m, _q, req) => {
        can(req, 'DeleteJob', { resource: m[1]! });
        scheduler.delete(m[1]!);
        return {};
      },
    ],
    ...(['pause', 'resume', 'run'] as const).map((verb): [string, RegExp, Handler] => [
      'POST',
      new RegExp(`^/v1/(${LOC}/jobs/${ID}):${verb}$`),
      async (m, _q, req) => {
        const type = `${verb[0]!.toUpperCase()}${verb.slice(1)}JobRequest`;
        can(req, type.replace(/Request$/, ''), { resource: m[1]! });
        const b = await body(req, type, '');
        if (typeof b.name === 'string' && b.name !== '' && b.name !== m[1]) {
          throw invalidArgument(`name ${b.name} does not match the job in the URL, ${m[1]}`);
        }
        return scheduler[verb](m[1]!);
      },
    ]),
  ];

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      req.resume();
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
        `Method ${req.method} is not allowed on ${path.slice(0, 200)}; use ${allowed.join(' or ')}`,
        { httpStatus: 405 },
      );
    }
    throw notFound(
      `The requested URL ${path.slice(0, 200)} was not found on this server (the local Cloud Scheduler API v1).`,
    );
  };
}

export interface LocalScheduler {
  url: string;
  host: string;
  scheduler: Scheduler;
  close(): Promise<void>;
}

export async function startLocalScheduler(options: {
  project: string;
  /** The cloud's clock (workflow time); default: the wall. */
  clock?: Clock;
  tokens?: TokenSource;
  log?: (entry: AttemptLog) => void;
  port?: number;
  /** Each request's IAM check (local/iam/caller.ts); absent: none. */
  gate?: Gate;
}): Promise<LocalScheduler> {
  const scheduler = new Scheduler({
    project: options.project,
    clock: options.clock ?? timeScaledClock(1),
    ...(options.tokens ? { tokens: options.tokens } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  const { server, host, url } = await serveApi(
    schedulerHandler(scheduler, options.gate),
    options.port === undefined ? {} : { port: options.port },
  );
  return {
    url,
    host,
    scheduler,
    close: async () => {
      scheduler.close();
      await closeServer(server);
    },
  };
}
