// http.* for workflows: real HTTP requests with headers, query, JSON bodies, timeout and auth,
// answering {code, headers, body}; HttpError for >= 400; and Google's default retry predicates.
import { fromPlain, parseJsonValue, toJsonText } from '../convert.ts';
import { builtinError, raise, tagsOf, type WorkflowError } from '../errors.ts';
import type { CallContext, WfFunction } from './types.ts';
import { isBytes, isMap, type Value } from '../values.ts';

const DEFAULT_TIMEOUT_S = 300;
const MAX_RESPONSE_BYTES = 2 * 1024 * 1024;
const PARAMS = ['url', 'headers?', 'query?', 'body?', 'timeout?', 'auth?', 'private_service_name?'];

function stringMap(v: Value | undefined, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isMap(v)) raise('TypeError', `${what} must be a map`);
  return Object.fromEntries([...v].map(([k, x]) => [k, typeof x === 'string' ? x : toJsonText(x)]));
}

async function send(method: string, args: (Value | undefined)[], ctx: CallContext): Promise<Value> {
  const [url, headers, query, body, timeout, auth] = args;
  if (typeof url !== 'string' || !/^https?:\/\//.test(url))
    raise('ValueError', `url must be an http(s) URL, got ${JSON.stringify(url)}`);
  const target = new URL(url);
  for (const [k, v] of Object.entries(stringMap(query, 'query'))) target.searchParams.append(k, v);
  const h = stringMap(headers, 'headers');
  if (auth !== undefined && auth !== null) {
    if (!isMap(auth)) raise('TypeError', 'auth must be a map with type OIDC or OAuth2');
    const type = auth.get('type');
    if (type !== 'OIDC' && type !== 'OAuth2')
      raise('ValueError', 'auth.type must be OIDC or OAuth2');
    const audience = auth.get('audience');
    const scopes = auth.get('scopes') ?? auth.get('scope');
    const token = await ctx.endpoints.token(
      type,
      type === 'OIDC'
        ? typeof audience === 'string'
          ? audience
          : `${target.origin}`
        : ((scopes as string | string[] | undefined) ??
            'https://www.googleapis.com/auth/cloud-platform'),
      ctx.env.serviceAccountName || undefined,
    );
    h.authorization = `Bearer ${token}`;
  }
  let payload: string | Uint8Array | undefined;
  if (body !== undefined && body !== null) {
    if (isBytes(body)) payload = body;
    else if (
      typeof body === 'string' &&
      !/json/i.test(h['content-type'] ?? h['Content-Type'] ?? '')
    )
      payload = body;
    else {
      payload = toJsonText(body);
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type'))
        h['content-type'] = 'application/json';
    }
  }
  const seconds = timeout === undefined || timeout === null ? DEFAULT_TIMEOUT_S : Number(timeout);
  const { response: res, body: buf } = await fetchOrRaise(
    target,
    { method, headers: h, ...(payload === undefined ? {} : { body: payload }) },
    seconds,
    ctx.signal,
  );
  if (buf.length > MAX_RESPONSE_BYTES)
    raise('ResourceLimitError', `response larger than ${MAX_RESPONSE_BYTES} bytes`);
  const type = res.headers.get('content-type') ?? '';
  let decoded: Value = new Uint8Array(buf);
  if (/json/i.test(type)) {
    try {
      // As json.decode: 64-bit integers exact, `1.0` a double (JSON.parse keeps neither).
      decoded = parseJsonValue(buf.toString('utf8'));
    } catch {
      decoded = buf.toString('utf8');
    }
  } else if (/^text\/|xml|javascript/i.test(type) || type === '') decoded = buf.toString('utf8');
  const response = new Map<string, Value>([
    ['code', BigInt(res.status)],
    ['headers', fromPlain(Object.fromEntries(res.headers))],
    ['body', decoded],
  ]);
  if (res.status >= 400) throw httpError(res.status, response.get('headers')!, decoded);
  return response;
}

/**
 * Socket errors that end a connection already made: the request may have reached the server, so
 * Google's "Workflow errors" page calls it a ConnectionError, which a non-idempotent policy must not
 * retry. Any other failure before a response means no connection was made (refused, unknown host,
 * TLS handshake): a ConnectionFailedError.
 */
const BROKEN_CONNECTION = new Set(['UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNRESET', 'EPIPE']);

/** fetch() wraps the socket's error in `cause`: its code, and the innermost message. */
function socketError(err: unknown): { code?: string; message: string } {
  let code: string | undefined;
  let message = String(err);
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const c = (e as { code?: unknown }).code;
    if (code === undefined && typeof c === 'string') code = c;
    message = e.message;
  }
  return code === undefined ? { message } : { code, message };
}

/**
 * A request and its whole body within `seconds`, its failures raised as the workflow errors Google
 * documents: a timeout while waiting for the headers or the body is a TimeoutError, a connection
 * never made a ConnectionFailedError (also tagged ConnectionError), one broken during the exchange
 * a ConnectionError.
 */
export async function fetchOrRaise(
  url: string | URL,
  init: RequestInit,
  seconds: number,
  signal: AbortSignal,
): Promise<{ response: Response; body: Buffer }> {
  // A timer of our own, not AbortSignal.timeout(): Node 20 may garbage-collect a timeout signal
  // held only by AbortSignal.any(), and then the request never times out.
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), seconds * 1000);
  let answered = false;
  try {
    const response = await fetch(url, {
      ...init,
      signal: AbortSignal.any([signal, timeout.signal]),
    });
    answered = true;
    return { response, body: Buffer.from(await response.arrayBuffer()) };
  } catch (err) {
    if (signal.aborted) throw err;
    const host = new URL(url).host;
    if (timeout.signal.aborted)
      raise('TimeoutError', `request to ${host} timed out after ${seconds}s`);
    const { code, message } = socketError(err);
    if (answered || BROKEN_CONNECTION.has(code ?? ''))
      raise('ConnectionError', `connection to ${host} broke before a full response: ${message}`);
    return raise(
      ['ConnectionFailedError', 'ConnectionError'],
      `connection to ${host} failed: ${message}`,
    );
  } finally {
    clearTimeout(timer);
  }
}

/** The HttpError of a response with status >= 400. */
export function httpError(code: number, headers: Value, body: Value): WorkflowError {
  return builtinError('HttpError', `HTTP server responded with error code ${code}`, {
    code: BigInt(code),
    headers,
    body,
  });
}

const verb = (method: string): WfFunction => ({
  params: PARAMS.map((p) =>
    p.endsWith('?') ? { name: p.slice(0, -1), optional: true } : { name: p },
  ),
  blocking: true,
  external: true,
  impl: (args, ctx) => send(method, args, ctx),
});

function code(e: Value): number | undefined {
  if (!isMap(e)) return undefined;
  const c = e.get('code');
  return typeof c === 'bigint' ? Number(c) : typeof c === 'number' ? c : undefined;
}

/** Retry GETs and other idempotent calls on 429, 502, 503, 504 and connection or timeout errors. */
export function defaultRetryPredicate(e: Value): boolean {
  const tags = tagsOf(e);
  if (
    tags.includes('ConnectionError') ||
    tags.includes('ConnectionFailedError') ||
    tags.includes('TimeoutError')
  )
    return true;
  return tags.includes('HttpError') && [429, 502, 503, 504].includes(code(e) ?? 0);
}

/** Retry non-idempotent calls only where the request surely did not happen: 429 and 503. */
export function nonIdempotentRetryPredicate(e: Value): boolean {
  const tags = tagsOf(e);
  if (tags.includes('ConnectionFailedError')) return true;
  return tags.includes('HttpError') && [429, 503].includes(code(e) ?? 0);
}

export const httpFunctions: [string, WfFunction][] = [
  ['http.get', verb('GET')],
  ['http.post', verb('POST')],
  ['http.put', verb('PUT')],
  ['http.patch', verb('PATCH')],
  ['http.delete', verb('DELETE')],
  [
    'http.request',
    {
      params: [{ name: 'method' }, ...verb('GET').params],
      blocking: true,
      external: true,
      impl: ([method, ...rest], ctx) => {
        if (typeof method !== 'string') raise('TypeError', 'method must be a string');
        return send(method.toUpperCase(), rest, ctx);
      },
    },
  ],
  [
    'http.default_retry_predicate',
    { params: [{ name: 'exception' }], impl: ([e]) => defaultRetryPredicate(e ?? null) },
  ],
  [
    'http.default_retry_predicate_non_idempotent',
    { params: [{ name: 'exception' }], impl: ([e]) => nonIdempotentRetryPredicate(e ?? null) },
  ],
  [
    'retry.default_retry_predicate',
    { params: [{ name: 'exception' }], impl: ([e]) => defaultRetryPredicate(e ?? null) },
  ],
  [
    'retry.default_retry_predicate_non_idempotent',
    { params: [{ name: 'exception' }], impl: ([e]) => nonIdempotentRetryPredicate(e ?? null) },
  ],
];
