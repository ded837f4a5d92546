// events: callbacks, after Google's "Wait using callbacks" page and the stdlib `events` reference.
// `create_callback_endpoint` makes a URL belonging to this execution; `await_callback` waits for
// the next HTTP request to it. A CallbackHub keeps the endpoints for whichever server answers
// their URLs (the Executions API server, or the CLI's loopback listener).
import { randomUUID } from '../node-crypto.ts';
import { whenAborted } from '../abort.ts';
import { parseJsonValue, toJsonText } from '../convert.ts';
import { raise, WorkflowError } from '../errors.ts';
import { isBytes, isList, isMap, typeName, type Value, wfMap } from '../values.ts';
import { fn, num, str } from './args.ts';
import type { CallbackRegistry, CallContext, ExecutionEnv, WfFunction } from './types.ts';

/** The methods a callback endpoint may expect, per Google's page; POST is the default. */
export const CALLBACK_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];
/** `await_callback`'s documented default timeout: 12 hours. */
const DEFAULT_TIMEOUT_SECONDS = 43_200;
/** Requests kept for a callback nobody awaits yet; beyond this they are refused (429). */
export const MAX_PENDING_REQUESTS = 100;

function registry(ctx: CallContext): CallbackRegistry {
  return (
    ctx.callbacks ??
    raise(
      'SystemError',
      'callbacks need a server to receive their requests: run the workflow with ' +
        '`runway workflows run` or `runway workflows serve` (or pass EngineOptions.callbacks)',
    )
  );
}

function callbackMethod(v: Value | undefined): string {
  if (v === undefined || v === null) return 'POST';
  const method = str(v, 'http_callback_method').toUpperCase();
  if (!CALLBACK_METHODS.includes(method))
    raise(
      'ValueError',
      `http_callback_method must be one of ${CALLBACK_METHODS.join(', ')}, got ${JSON.stringify(v)}`,
    );
  return method;
}

function callbackUrl(v: Value | undefined): string {
  if (v === undefined || !isMap(v))
    raise(
      'TypeError',
      `callback must be the map events.create_callback_endpoint returned, got '${typeName(v ?? null)}'`,
    );
  const url = v.get('url');
  if (typeof url !== 'string')
    raise('TypeError', `callback.url must be a string, got '${typeName(url ?? null)}'`);
  return url;
}

function timeoutSeconds(v: Value | undefined): number {
  if (v === undefined || v === null) return DEFAULT_TIMEOUT_SECONDS;
  const seconds = Number(num(v, 'timeout'));
  if (!(seconds >= 0)) raise('ValueError', `timeout must be 0 or more seconds, got ${seconds}`);
  return seconds;
}

const TIMED_OUT = Symbol('timed out');

async function awaitCallback(
  [callback, timeout]: (Value | undefined)[],
  ctx: CallContext,
): Promise<Value> {
  const url = callbackUrl(callback);
  const seconds = timeoutSeconds(timeout);
  // One signal ends both the wait and the timer (whichever loses) and follows a cancel.
  const stop = new AbortController();
  const forget = whenAborted(ctx.signal, () => stop.abort());
  try {
    const request = registry(ctx).next(url, ctx.env, stop.signal);
    const timer = ctx.clock
      .sleep(seconds * 1000, stop.signal)
      .then((): typeof TIMED_OUT => TIMED_OUT);
    const got = await Promise.race([request, timer]);
    if (got === TIMED_OUT)
      raise('TimeoutError', `no request reached callback ${url} within ${seconds} seconds`);
    return got;
  } finally {
    stop.abort();
    forget();
  }
}

export const eventsFunctions: [string, WfFunction][] = [
  [
    'events.create_callback_endpoint',
    fn(
      ['http_callback_method?'],
      async ([method], ctx) =>
        wfMap({ url: await registry(ctx).create(ctx.env, callbackMethod(method)) }),
      { blocking: true },
    ),
  ],
  ['events.await_callback', fn(['callback', 'timeout?'], awaitCallback, { blocking: true })],
];

// ---- The endpoints and the requests they receive ----

/** One request as the HTTP server received it. */
export interface IncomingCallback {
  method: string;
  /** The request target as received: path and query. */
  target: string;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
}

/** What became of a request to a callback URL; the server turns a refusal into an HTTP error. */
export type Delivery =
  | { ok: true; queued: boolean }
  | {
      ok: false;
      reason: 'not-found' | 'wrong-method' | 'queue-full' | 'bad-body';
      message: string;
    };

/** One endpoint as `callbacks.list` reports it. */
export interface CallbackInfo {
  id: string;
  method: string;
  /** Requests received that no `await_callback` has taken yet, oldest first. */
  availablePayloads: Value[];
  /** `await_callback` calls waiting on it now (parallel branches may share one). */
  waiters: number;
}

interface Endpoint {
  id: string;
  executionId: string;
  /** The URL's path: `/v1/projects/P/locations/L/workflows/W/executions/E/callbacks/ID`. */
  path: string;
  url: string;
  method: string;
  pending: Value[];
  waiters: ((request: Value) => void)[];
}

export interface CallbackHubOptions {
  /** The base URL the endpoints' paths hang off (the server's); may start the server. */
  baseUrl: () => string | Promise<string>;
  /** Stamps `received_time`: the execution clock, so time-scaled runs agree with sys.now. */
  now?: () => number;
  /** Told of each endpoint made (the CLI prints its URL). */
  onCreate?: (url: string) => void;
}

/** An empty segment (the CLI without GOOGLE_CLOUD_* variables) becomes `-`, Google's wildcard. */
const segment = (s: string) => encodeURIComponent(s || '-');

/** `projects/P/locations/L/workflows/W/executions/E`, the execution's resource name. */
export function executionName(env: ExecutionEnv): string {
  return `projects/${segment(env.projectId)}/locations/${segment(env.location)}/workflows/${segment(env.workflowId)}/executions/${segment(env.executionId)}`;
}

/** The endpoints of running executions. Those of an ended execution are dropped (their URLs 404). */
export class CallbackHub implements CallbackRegistry {
  private readonly endpoints = new Map<string, Endpoint>();

  constructor(private readonly options: CallbackHubOptions) {}

  async create(env: ExecutionEnv, method: string): Promise<string> {
    const base = (await this.options.baseUrl()).replace(/\/+$/, '');
    const id = randomUUID();
    const path = `/v1/${executionName(env)}/callbacks/${id}`;
    const url = base + path;
    this.endpoints.set(id, {
      id,
      executionId: env.executionId,
      path,
      url,
      method,
      pending: [],
      waiters: [],
    });
    this.options.onCreate?.(url);
    return url;
  }

  next(url: string, env: ExecutionEnv, signal: AbortSignal): Promise<Value> {
    const ep = this.endpoints.get(url.slice(url.lastIndexOf('/') + 1));
    if (!ep || ep.url !== url || ep.executionId !== env.executionId)
      raise(
        'ValueError',
        `${url} is not a callback endpoint of this execution; pass the map events.create_callback_endpoint returned`,
      );
    // Requests that arrived before anyone awaited are queued, and the oldest is taken first.
    if (ep.pending.length > 0) return Promise.resolve(ep.pending.shift()!);
    return new Promise<Value>((resolve, reject) => {
      const waiter = (request: Value) => {
        signal.removeEventListener('abort', abandon);
        resolve(request);
      };
      const abandon = () => {
        const i = ep.waiters.indexOf(waiter);
        if (i >= 0) ep.waiters.splice(i, 1);
        reject(new Error(`stopped waiting for callback ${url}`));
      };
      if (signal.aborted) return abandon();
      ep.waiters.push(waiter);
      signal.addEventListener('abort', abandon, { once: true });
    });
  }

  /** Hands a request to the first waiting `await_callback`, or queues it for the next one. */
  deliver(path: string, request: IncomingCallback): Delivery {
    const ep = this.endpoints.get(path.slice(path.lastIndexOf('/') + 1));
    if (!ep || ep.path !== path)
      return {
        ok: false,
        reason: 'not-found',
        message: `no callback at ${path}: it was never created, or its execution has ended`,
      };
    const method = request.method.toUpperCase();
    if (method !== ep.method)
      return {
        ok: false,
        reason: 'wrong-method',
        message: `callback ${ep.id} expects ${ep.method} requests, not ${method}`,
      };
    let value: Value;
    try {
      value = callbackRequestValue(request, (this.options.now ?? Date.now)());
    } catch (err) {
      return { ok: false, reason: 'bad-body', message: (err as Error).message };
    }
    const waiter = ep.waiters.shift();
    if (waiter) {
      waiter(value);
      return { ok: true, queued: false };
    }
    if (ep.pending.length >= MAX_PENDING_REQUESTS)
      return {
        ok: false,
        reason: 'queue-full',
        message: `callback ${ep.id} already holds ${MAX_PENDING_REQUESTS} requests nobody awaited`,
      };
    ep.pending.push(value);
    return { ok: true, queued: true };
  }

  /** The active endpoints of an execution, ordered by callback ID as Google's list is. */
  list(executionId: string): CallbackInfo[] {
    return [...this.endpoints.values()]
      .filter((ep) => ep.executionId === executionId)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((ep) => ({
        id: ep.id,
        method: ep.method,
        availablePayloads: [...ep.pending],
        waiters: ep.waiters.length,
      }));
  }

  /** An execution ended: its endpoints go, so later requests to them get 404. */
  closeExecution(executionId: string): void {
    for (const [id, ep] of this.endpoints)
      if (ep.executionId === executionId) this.endpoints.delete(id);
  }
}

/**
 * The map `await_callback` returns: `http_request` (body, headers, method, query, url),
 * `received_time` and `type`, keys in the sorted order Google's JSON shows them.
 */
export function callbackRequestValue(request: IncomingCallback, receivedMs: number): Value {
  const target = new URL(request.target, 'http://callback.invalid');
  return wfMap({
    http_request: wfMap({
      body: decodeBody(request.body, headerText(request.headers['content-type'])),
      headers: headerMap(request.headers),
      method: request.method.toUpperCase(),
      query: queryMap(target.searchParams),
      url: request.target,
    }),
    received_time: goTimeString(receivedMs),
    type: 'HTTP',
  });
}

const headerText = (v: string | string[] | undefined) =>
  Array.isArray(v) ? v.join(', ') : (v ?? '');

/** `content-type` as Go (Google's front end) names it: `Content-Type`. */
const canonicalHeader = (name: string) =>
  name
    .toLowerCase()
    .replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());

function headerMap(headers: IncomingCallback['headers']): Value {
  const entries = Object.entries(headers)
    .filter((e): e is [string, string | string[]] => e[1] !== undefined)
    .map(([k, v]) => [canonicalHeader(k), headerText(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return new Map<string, Value>(entries);
}

/** Each query parameter as a list of its values (`?a=1&a=2` gives `{"a": ["1", "2"]}`). */
function queryMap(params: URLSearchParams): Value {
  const keys = [...new Set(params.keys())].sort();
  return new Map<string, Value>(keys.map((k) => [k, params.getAll(k)]));
}

/** JSON bodies decoded (malformed JSON refused), text as a string, anything else as bytes. */
function decodeBody(body: Uint8Array, contentType: string): Value {
  if (body.length === 0) return null;
  const text = () => Buffer.from(body).toString('utf8');
  if (/json/i.test(contentType)) {
    try {
      return parseJsonValue(text());
    } catch (err) {
      if (err instanceof WorkflowError)
        throw new Error(`the body is not valid JSON although its Content-Type says so`);
      throw err;
    }
  }
  if (contentType === '' || /^text\/|xml|javascript|x-www-form-urlencoded/i.test(contentType))
    return text();
  return new Uint8Array(body);
}

/** `received_time` in Go's time format, as Google's page shows it: `2024-05-01 12:00:00.5 +0000 UTC`. */
export function goTimeString(ms: number): string {
  const iso = new Date(ms).toISOString();
  const fraction = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction ? `.${fraction}` : ''} +0000 UTC`;
}

/** A queued request as `callbacks.list` shows it: JSON text, a bytes body as base64. */
export function payloadJson(v: Value): string {
  const plain = (x: Value): Value => {
    if (isBytes(x)) return Buffer.from(x).toString('base64');
    if (isList(x)) return x.map(plain);
    if (isMap(x)) return new Map([...x].map(([k, e]) => [k, plain(e)] as const));
    return x;
  };
  return toJsonText(plain(v));
}
