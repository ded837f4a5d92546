// The Workflow Executions API v1 on loopback: workflows deployed from a directory (NAME.yaml is
// workflow NAME, re-read when the file changes), in code, or through the Workflows API v1
// (workflows.ts: `gcloud workflows deploy`); executions created, listed, read and cancelled with
// Google's field names, so `gcloud workflows run` and @google-cloud/workflows work.
// It also answers the URLs `events.create_callback_endpoint` makes, and `callbacks.list`.
import { randomUUID } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { invalidArgument, notFound, RunwayError } from '../../../services/shared/errors.ts';
import { closeServer, readJsonBody, readRawBody, sendJson, serveApi } from '../../api-server.ts';
import { type Gate, openGate } from '../../iam/caller.ts';
import { serviceAccountResource } from '../../iam/policy.ts';
import { parseJsonValue, toJsonText } from '../convert.ts';
import { type EngineOptions, type Execution, startExecution } from '../engine.ts';
import { CallbackHub, type Delivery, payloadJson } from '../stdlib/events.ts';
import { type Deployed, type DeployOptions, WorkflowStore } from './workflows.ts';

export type { DeployOptions } from './workflows.ts';

const MAX_BODY_BYTES = 1024 * 1024;
/** Google's limit on an execution argument. */
const MAX_ARGUMENT_BYTES = 32 * 1024;
/** Finished executions kept per workflow; older ones are forgotten, as a local tool may. */
const RETAINED = 1000;

interface ExecutionRecord {
  name: string;
  workflowName: string;
  execution: Execution;
  argument: string;
  labels: Record<string, string>;
  callLogLevel: string;
  revision: string;
  result?: Awaited<Execution['done']>;
}

export interface ExecutionsServerOptions {
  dir?: string;
  host?: string;
  port?: number;
  project: string;
  location: string;
  engineOptions?: EngineOptions;
  /** What a workflow deployed without an account runs as: Google uses the default compute account. */
  defaultServiceAccount?: string;
  /** Each request's IAM check (local/iam/caller.ts); absent: none. */
  gate?: Gate;
}

const EXECUTIONS_SERVICE = 'workflowexecutions.googleapis.com';
const EXECUTIONS_METHOD = 'google.cloud.workflows.executions.v1.Executions';

export interface ExecutionsServer {
  url: string;
  /** `HOST:PORT`, the value of WORKFLOWS_EMULATOR_HOST. */
  host: string;
  deploy(name: string, source: string, options?: DeployOptions): void;
  close(): Promise<void>;
}

/** Google's callbacks.list answers at most 100 callbacks a page. */
const MAX_CALLBACKS_PAGE = 100;
const CALLBACK_ROUTE =
  /^\/v1\/(projects\/[^/]+\/locations\/[^/]+\/workflows\/[^/]+\/executions\/([^/:]+))\/callbacks(?:\/([^/:]+))?$/;

function refused(d: Exclude<Delivery, { ok: true }>): RunwayError {
  switch (d.reason) {
    case 'not-found':
    case 'wrong-method':
      return notFound(d.message);
    case 'queue-full':
      return new RunwayError('RESOURCE_EXHAUSTED', d.message);
    case 'bad-body':
      return invalidArgument(d.message);
  }
}

/**
 * Answers a callback URL (with the method its endpoint expects) or `callbacks.list` (GET without
 * an ID); false for any other path. A callback wants a caller allowed `workflows.callbacks.send`
 * on the execution, as Google does (with IAM off, anyone).
 */
async function routeCallbacks(
  hub: CallbackHub,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  executionKnown: (name: string) => boolean,
  gate: Gate = openGate,
): Promise<boolean> {
  const m = CALLBACK_ROUTE.exec(url.pathname);
  if (!m) return false;
  const [, execution, executionId, callbackId] = m as unknown as [string, string, string, string?];
  if (callbackId) {
    gate.authorize(req, EXECUTIONS_SERVICE, 'http:callback', { resource: execution });
    const body = await readRawBody(req, MAX_BODY_BYTES);
    const d = hub.deliver(url.pathname, {
      method: req.method ?? 'GET',
      target: req.url ?? url.pathname,
      headers: req.headers,
      body,
    });
    if (!d.ok) throw refused(d);
    // sendHttpCallback answers an empty message, queued or handed over alike.
    sendJson(res, {});
    return true;
  }
  if (req.method !== 'GET') throw notFound(`no route for ${req.method} ${url.pathname}`);
  gate.authorize(req, EXECUTIONS_SERVICE, `${EXECUTIONS_METHOD}.ListCallbacks`, {
    resource: `${execution}/callbacks`,
    parent: execution,
  });
  if (!executionKnown(execution)) throw notFound(`Execution not found: ${execution}`);
  const pageSize = Math.min(
    Math.max(
      Number(url.searchParams.get('pageSize') ?? MAX_CALLBACKS_PAGE) || MAX_CALLBACKS_PAGE,
      1,
    ),
    MAX_CALLBACKS_PAGE,
  );
  const start = Number(url.searchParams.get('pageToken') ?? 0) || 0;
  const all = hub.list(decodeURIComponent(executionId));
  const page = all.slice(start, start + pageSize);
  // Proto3 JSON leaves out empty fields, as Google's answers do.
  sendJson(res, {
    ...(page.length
      ? {
          callbacks: page.map((cb) => ({
            // The resource name's documented format says `callback/`, singular, unlike the URL.
            name: `${execution}/callback/${cb.id}`,
            method: cb.method,
            ...(cb.availablePayloads.length
              ? { availablePayloads: cb.availablePayloads.map(payloadJson) }
              : {}),
            ...(cb.waiters ? { waiters: String(cb.waiters) } : {}),
          })),
        }
      : {}),
    ...(start + pageSize < all.length ? { nextPageToken: String(start + pageSize) } : {}),
  });
  return true;
}

/**
 * A loopback listener answering only callback URLs (and callbacks.list): what
 * `runway workflows run` starts at its first `events.create_callback_endpoint`.
 */
export async function serveCallbacks(
  hub: CallbackHub,
  options: { host?: string; port?: number } = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const { server, url } = await serveApi(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://local');
    if (!(await routeCallbacks(hub, req, res, u, () => true)))
      throw notFound(
        `no route for ${req.method} ${u.pathname}: this listener serves only callback URLs; the Executions API is \`runway workflows serve\``,
      );
  }, options);
  return { url, close: () => closeServer(server) };
}

function ts(d: Date | undefined): string | undefined {
  return d?.toISOString();
}

/** `state="ACTIVE" AND labels.pipeline="web"`: the subset of Google's filter syntax runway needs. */
function parseFilter(filter: string): ((r: ExecutionRecord) => boolean) | undefined {
  if (!filter.trim()) return undefined;
  const terms = filter.split(/\s+AND\s+/i).map((term) => {
    const m = /^\s*([A-Za-z_.-]+)\s*=\s*"?([^"]*)"?\s*$/.exec(term);
    if (!m)
      throw invalidArgument(
        `unsupported filter ${JSON.stringify(filter)}: use field="value" terms joined by AND`,
      );
    return { field: m[1]!, value: m[2]! };
  });
  return (r) =>
    terms.every(({ field, value }) => {
      if (field === 'state') return r.execution.state === value;
      if (field.startsWith('labels.')) return r.labels[field.slice(7)] === value;
      throw invalidArgument(`unsupported filter field ${field}`);
    });
}

/** An execution request's fields, checked: the argument (text and value), labels, log level. */
function executionSpec(body: Record<string, unknown>) {
  // The clients wrap the execution in the body directly (REST) or under `execution`.
  const spec = (
    typeof body.execution === 'object' && body.execution !== null ? body.execution : body
  ) as Record<string, unknown>;
  const argText = spec.argument === undefined || spec.argument === null ? 'null' : spec.argument;
  if (typeof argText !== 'string')
    throw invalidArgument('argument must be a JSON-encoded string', [
      { field: 'argument', description: 'not a string' },
    ]);
  if (Buffer.byteLength(argText) > MAX_ARGUMENT_BYTES)
    throw invalidArgument(`argument is larger than ${MAX_ARGUMENT_BYTES} bytes`);
  let argument: ReturnType<typeof parseJsonValue>;
  try {
    argument = argText.trim() === '' ? null : parseJsonValue(argText);
  } catch {
    throw invalidArgument('argument is not valid JSON', [
      { field: 'argument', description: 'invalid JSON' },
    ]);
  }
  const labels = (spec.labels ?? {}) as Record<string, string>;
  if (typeof labels !== 'object' || Object.values(labels).some((v) => typeof v !== 'string'))
    throw invalidArgument('labels must map strings to strings');
  const callLogLevel =
    typeof spec.callLogLevel === 'string' ? spec.callLogLevel : 'CALL_LOG_LEVEL_UNSPECIFIED';
  return { argText, argument, labels, callLogLevel };
}

function toJson(r: ExecutionRecord, full: boolean) {
  const e = r.execution;
  const res = r.result;
  const end = e.endTime;
  const steps = e.steps.internal + e.steps.external;
  const labels =
    e.state === 'ACTIVE' ? r.labels : { ...r.labels, 'runway-billed-steps': String(steps) };
  return {
    name: r.name,
    startTime: ts(e.startTime),
    ...(end
      ? {
          endTime: ts(end),
          duration: `${((end.getTime() - e.startTime.getTime()) / 1000).toFixed(3)}s`,
        }
      : {}),
    state: e.state,
    ...(full ? { argument: r.argument } : {}),
    ...(full && res?.state === 'SUCCEEDED' ? { result: toJsonText(res.result ?? null) } : {}),
    ...(res?.error
      ? { error: { payload: safeJson(res.error.payload), context: res.error.context } }
      : {}),
    workflowRevisionId: r.revision,
    callLogLevel: r.callLogLevel,
    status: e.state === 'ACTIVE' && e.currentStep ? { currentSteps: [e.currentStep] } : {},
    labels,
  };
}

/** Where a request under `.../workflows/W/executions` points. */
interface Target {
  project: string;
  location: string;
  workflowId: string;
  /** `projects/P/locations/L/workflows/W` */
  parent: string;
}

/** The Executions API's state: deployed workflows and their executions. */
class ExecutionsApi {
  readonly store: WorkflowStore;
  readonly #executions = new Map<string, ExecutionRecord>();
  readonly #byWorkflow = new Map<string, string[]>();
  /** The server's URL, once it listens; callback URLs start with it. */
  publicUrl = '';
  readonly callbacks: CallbackHub;

  constructor(readonly options: ExecutionsServerOptions) {
    const clock = options.engineOptions?.clock ?? { now: Date.now };
    this.store = new WorkflowStore(options.project, options.location, () => clock.now());
    this.callbacks = new CallbackHub({
      baseUrl: () => this.publicUrl,
      now: () => (options.engineOptions?.clock ?? { now: Date.now }).now(),
    });
  }

  deploy(name: string, source: string, options: DeployOptions = {}): void {
    this.store.deploy(name, source, options);
  }

  /** The workflow deployed as `name`: from the directory (re-read when its file changed) or code. */
  async workflowNamed(name: string): Promise<Deployed> {
    const dir = this.options.dir;
    if (dir) {
      for (const ext of ['.yaml', '.yml', '.json']) {
        const file = join(dir, name + ext);
        const st = await stat(file).catch(() => undefined);
        if (!st) continue;
        const have = this.store.get(name);
        // What the Workflows API deployed stays until the API changes it.
        if (have && (have.pinned || have.mtimeMs === st.mtimeMs)) return have;
        try {
          return this.store.deploy(name, await readFile(file, 'utf8'), {
            file: name + ext,
            mtimeMs: st.mtimeMs,
          });
        } catch (err) {
          throw new RunwayError(
            'FAILED_PRECONDITION',
            `workflow ${name} does not deploy: ${(err as Error).message}`,
          );
        }
      }
    }
    const d = this.store.get(name);
    if (!d) throw notFound(`Workflow not found: ${name}`);
    return d;
  }

  /** Deploys every workflow file in the directory, so deploy errors show at startup. */
  async deployDir(): Promise<void> {
    if (!this.options.dir) return;
    for (const f of await readdir(this.options.dir).catch(() => [] as string[])) {
      const m = /^(.+)\.(ya?ml|json)$/.exec(f);
      if (m) await this.workflowNamed(m[1]!).catch(() => undefined);
    }
  }

  has(name: string): boolean {
    return this.#executions.has(name);
  }

  execution(name: string): ExecutionRecord | undefined {
    return this.#executions.get(name);
  }

  #account(d: Deployed): { serviceAccountName?: string } {
    const sa = d.serviceAccount ?? this.options.defaultServiceAccount;
    return sa ? { serviceAccountName: sa } : {};
  }

  /** Starts an execution of the target's workflow, deployed as `d`. */
  create(t: Target, d: Deployed, body: Record<string, unknown>): ExecutionRecord {
    const spec = executionSpec(body);
    const executionId = randomUUID();
    const execution = startExecution(d.workflow, spec.argument, {
      ...this.options.engineOptions,
      callbacks: this.callbacks,
      executionId,
      env: {
        projectId: t.project,
        location: t.location,
        workflowId: t.workflowId,
        revisionId: d.revision,
        ...this.#account(d),
        ...(d.userEnvVars ? { userEnvVars: d.userEnvVars } : {}),
        ...this.options.engineOptions?.env,
      },
    });
    const record: ExecutionRecord = {
      name: `${t.parent}/executions/${executionId}`,
      workflowName: t.parent,
      execution,
      argument: spec.argText,
      labels: spec.labels,
      callLogLevel: spec.callLogLevel,
      revision: d.revision,
    };
    this.#remember(record, executionId);
    return record;
  }

  #remember(record: ExecutionRecord, executionId: string): void {
    this.#executions.set(record.name, record);
    const list = this.#byWorkflow.get(record.workflowName) ?? [];
    list.push(record.name);
    this.#byWorkflow.set(record.workflowName, list);
    void record.execution.done.then((r) => {
      record.result = r;
      this.callbacks.closeExecution(executionId);
      // Forget the oldest finished executions beyond the retention bound.
      while (list.length > RETAINED) {
        const old = this.#executions.get(list[0]!);
        if (old && old.execution.state === 'ACTIVE') break;
        this.#executions.delete(list.shift()!);
      }
    });
  }

  /** A page of the workflow's executions, newest first, filtered. */
  list(parent: string, query: URLSearchParams) {
    const filter = parseFilter(query.get('filter') ?? '');
    const pageSize = Math.min(Math.max(Number(query.get('pageSize') ?? 100) || 100, 1), 1000);
    const start = Number(query.get('pageToken') ?? 0) || 0;
    const all = (this.#byWorkflow.get(parent) ?? [])
      .map((n) => this.#executions.get(n))
      .filter((r): r is ExecutionRecord => r !== undefined)
      .reverse()
      .filter((r) => !filter || filter(r));
    const page = all.slice(start, start + pageSize);
    const full = query.get('view') === 'FULL' || query.get('view') === '2';
    return {
      executions: page.map((r) => toJson(r, full)),
      ...(start + pageSize < all.length ? { nextPageToken: String(start + pageSize) } : {}),
    };
  }

  /** Cancels an active execution and waits briefly for it to end. */
  async cancel(record: ExecutionRecord): Promise<void> {
    if (record.execution.state !== 'ACTIVE')
      throw new RunwayError(
        'FAILED_PRECONDITION',
        `execution is already ${record.execution.state}`,
      );
    record.execution.cancel();
    record.result = await Promise.race([
      record.execution.done,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 100)),
    ]);
  }

  close(): void {
    for (const r of this.#executions.values()) r.execution.cancel();
  }
}

const EXECUTIONS_ROUTE =
  /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/workflows\/([^/]+)\/executions(?:\/([^/:]+))?(?::(cancel))?$/;

type CollectionHandler = (
  api: ExecutionsApi,
  t: Target,
  req: IncomingMessage,
  url: URL,
) => Promise<unknown>;
type ExecutionHandler = (api: ExecutionsApi, record: ExecutionRecord) => Promise<unknown>;

// The collection's routes by method (a `:cancel` on the collection is ignored, as before the
// table); an execution's by METHOD or METHOD:verb, once the execution is found.
const COLLECTION_ROUTES: Record<string, CollectionHandler> = {
  POST: async (api, t, req) => {
    const d = await api.workflowNamed(t.workflowId);
    return toJson(api.create(t, d, await readJsonBody(req, MAX_BODY_BYTES)), true);
  },
  GET: async (api, t, _req, url) => api.list(t.parent, url.searchParams),
};
const EXECUTION_ROUTES: Record<string, ExecutionHandler> = {
  GET: async (_api, record) => toJson(record, true),
  'POST:cancel': async (api, record) => {
    await api.cancel(record);
    return toJson(record, true);
  },
};

const WORKFLOWS_ROUTE = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/workflows(?:\/([^/:]+))?$/;
const OPERATIONS_ROUTE = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/operations(?:\/([^/:]+))?$/;

/** The Workflows API (workflows and operations): true when it answered. */
async function routeWorkflows(
  api: ExecutionsApi,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<boolean> {
  const store = api.store;
  const method = req.method ?? '';
  const w = WORKFLOWS_ROUTE.exec(url.pathname);
  const o = w ? undefined : OPERATIONS_ROUTE.exec(url.pathname);
  const m = w ?? o;
  if (!m) return false;
  const [, project, location, id] = m as unknown as [string, string, string, string | undefined];
  const gate = api.options.gate ?? openGate;
  const parent = `projects/${project}/locations/${location}`;
  /** The Workflows API's IAM check; deploying as an account needs act-as on it too. */
  const authorize = (method: string, resource: string, account?: unknown) =>
    gate.authorize(
      req,
      'workflows.googleapis.com',
      `google.cloud.workflows.v1.Workflows.${method}`,
      {
        resource,
        parent,
        ...(typeof account === 'string' && account
          ? { serviceAccount: serviceAccountResource(account) }
          : {}),
      },
    );
  const wrongMethod = () =>
    new RunwayError('INVALID_ARGUMENT', `Method ${method} is not allowed on ${url.pathname}`, {
      httpStatus: 405,
    });
  store.served(project, location);
  if (o) {
    if (!id) {
      if (method !== 'GET') throw wrongMethod();
      sendJson(res, store.listOperations());
    } else if (method === 'GET') sendJson(res, store.operation(`${store.parent}/operations/${id}`));
    else if (method === 'DELETE')
      sendJson(res, store.deleteOperation(`${store.parent}/operations/${id}`));
    else throw wrongMethod();
    return true;
  }
  if (!id) {
    if (method === 'GET') {
      authorize('ListWorkflows', parent);
      await api.deployDir();
      sendJson(res, store.list(url.searchParams));
    } else if (method === 'POST') {
      const body = await readJsonBody(req, MAX_BODY_BYTES);
      authorize(
        'CreateWorkflow',
        `${parent}/workflows/${url.searchParams.get('workflowId') ?? ''}`,
        body.serviceAccount,
      );
      sendJson(res, store.create(url.searchParams.get('workflowId'), body));
    } else throw wrongMethod();
    return true;
  }
  const name = `${parent}/workflows/${id}`;
  if (method === 'GET') {
    authorize('GetWorkflow', name);
    const d = await api.workflowNamed(id).catch((err: unknown) => {
      if (err instanceof RunwayError && err.code === 'NOT_FOUND')
        throw notFound(`Resource '${store.parent}/workflows/${id}' was not found`);
      throw err;
    });
    sendJson(res, store.render(id, d));
  } else if (method === 'PATCH') {
    const body = await readJsonBody(req, MAX_BODY_BYTES);
    authorize('UpdateWorkflow', name, body.serviceAccount);
    // A workflow read from the directory exists for the API as soon as it is asked for.
    await api.workflowNamed(id).catch(() => undefined);
    sendJson(res, store.update(id, body, url.searchParams.get('updateMask')));
  } else if (method === 'DELETE') {
    req.resume();
    authorize('DeleteWorkflow', name);
    sendJson(res, store.delete(id));
  } else throw wrongMethod();
  return true;
}

/** The IAM method of each execution route. */
const EXECUTION_METHODS: Record<string, string> = {
  GET: 'GetExecution',
  'POST:cancel': 'CancelExecution',
};

async function route(api: ExecutionsApi, req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? '/', 'http://local');
  const gate = api.options.gate ?? openGate;
  if (await routeCallbacks(api.callbacks, req, res, url, (name) => api.has(name), gate)) return;
  if (await routeWorkflows(api, req, res, url)) return;
  const noRoute = () => notFound(`no route for ${req.method} ${url.pathname}`);
  const m = EXECUTIONS_ROUTE.exec(url.pathname);
  if (!m) throw noRoute();
  const [, project, location, workflowId, id, verb] = m as unknown as [
    string,
    string,
    string,
    string,
    string | undefined,
    string | undefined,
  ];
  const t = {
    project,
    location,
    workflowId,
    parent: `projects/${project}/locations/${location}/workflows/${workflowId}`,
  };
  const method = req.method ?? '';
  const collection = id ? undefined : COLLECTION_ROUTES[method];
  if (collection) {
    gate.authorize(
      req,
      EXECUTIONS_SERVICE,
      `${EXECUTIONS_METHOD}.${method === 'POST' ? 'CreateExecution' : 'ListExecutions'}`,
      { resource: `${t.parent}/executions`, parent: t.parent },
    );
    return sendJson(res, await collection(api, t, req, url));
  }
  const key = verb ? `${method}:${verb}` : method;
  const iamMethod = EXECUTION_METHODS[key];
  if (iamMethod) {
    gate.authorize(req, EXECUTIONS_SERVICE, `${EXECUTIONS_METHOD}.${iamMethod}`, {
      resource: `${t.parent}/executions/${id}`,
    });
  }
  const record = id ? api.execution(`${t.parent}/executions/${id}`) : undefined;
  if (!record) throw notFound(`Execution not found: ${t.parent}/executions/${id}`);
  const handler = EXECUTION_ROUTES[key];
  if (!handler) throw noRoute();
  sendJson(res, await handler(api, record));
}

export async function startExecutionsServer(
  options: ExecutionsServerOptions,
): Promise<ExecutionsServer> {
  const api = new ExecutionsApi(options);
  const { server, host, url } = await serveApi((req, res) => route(api, req, res), options);
  api.publicUrl = url;
  await api.deployDir();
  return {
    url,
    host,
    deploy: (name, source, deployOptions) => api.deploy(name, source, deployOptions),
    async close() {
      api.close();
      await closeServer(server);
    },
  };
}

function safeJson(v: Parameters<typeof toJsonText>[0]): string {
  try {
    return toJsonText(v);
  } catch {
    return JSON.stringify(String(v));
  }
}
