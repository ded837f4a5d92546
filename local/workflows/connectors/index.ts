// `call: googleapis.SERVICE.VERSION.RESOURCE.METHOD`: Google API connectors mapped to REST from the
// table derived from Google's protos (apis.generated.json). Semantics as Google documents them:
// path parameters by name, `body` as the request body, other arguments as the query; long-running
// operations polled (1 s, ×1.25, up to 60 s, each poll a billed step) unless `skip_polling`;
// HttpError for statuses >= 400; OperationError for a failed operation; retries by idempotency.
import { createRequire } from 'node:module';
import { fromPlain, toJsonText } from '../convert.ts';
import { fetchOrRaise, httpError } from '../stdlib/http.ts';
import { builtinError, raise, WorkflowError } from '../errors.ts';
import type { CallContext, Endpoints, WfFunction } from '../stdlib/types.ts';
import { isMap, type Value, type WfMap } from '../values.ts';

interface ApiMethod {
  host: string;
  verb: string;
  path: string;
  body?: string;
  lro?: boolean;
}

// Read at the first connector call: 57 KB of JSON most executions never need.
let loaded: Record<string, ApiMethod> | undefined;
function table(): Record<string, ApiMethod> {
  loaded ??= createRequire(import.meta.url)('./apis.generated.json') as Record<string, ApiMethod>;
  return loaded;
}

const DEFAULT_TIMEOUT_S = 1800;
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const RETRYABLE_IDEMPOTENT = new Set([429, 502, 503, 504]);
const RETRYABLE_OTHER = new Set([429, 503]);
const MAX_RETRIES = 5;

/** `/v2/{service.name=projects/*\/locations/*\/services/*}` with args → `/v2/projects/p/…`. */
function expandPath(
  template: string,
  args: Map<string, Value>,
  used: Set<string>,
  name: string,
): string {
  return template.replace(/\{([^}=]+)(?:=([^}]*))?\}/g, (_m, field: string, pattern?: string) => {
    const arg = field.split('.').pop()!;
    const v = args.get(arg);
    if (typeof v !== 'string' || v === '')
      raise('ValueError', `${name}: argument ${arg} is required and must be a string`);
    used.add(arg);
    if (pattern) {
      const re = new RegExp(`^${pattern.replace(/\*\*/g, '.+').replace(/\*/g, '[^/]+')}$`);
      if (!re.test(v)) raise('ValueError', `${name}: ${arg} must look like ${pattern}, got ${v}`);
      return v.split('/').map(encodeURIComponent).join('/');
    }
    return encodeURIComponent(v);
  });
}

function sleepSeconds(ctx: CallContext, s: number) {
  return ctx.clock.sleep(s * 1000, ctx.signal);
}

async function request(
  ctx: CallContext,
  method: string,
  url: string,
  /** JSON text, as the workflow value encodes (64-bit integers exact). */
  body: string | undefined,
  timeoutS: number,
): Promise<{ code: number; headers: Record<string, string>; body: unknown }> {
  const { response: res, body: raw } = await fetchOrRaise(
    url,
    {
      method,
      headers: {
        authorization: `Bearer ${await ctx.endpoints.token('OAuth2', CLOUD_PLATFORM, ctx.env.serviceAccountName || undefined)}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body }),
    },
    timeoutS,
    ctx.signal,
  );
  const text = raw.toString('utf8');
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: the body stays text.
  }
  return { code: res.status, headers: Object.fromEntries(res.headers), body: parsed };
}

function responseError(r: {
  code: number;
  headers: Record<string, string>;
  body: unknown;
}): WorkflowError {
  return httpError(r.code, fromPlain(r.headers), fromPlain(r.body));
}

function connector(name: string, m: ApiMethod): WfFunction {
  return {
    params: [{ name: 'args', optional: true }],
    blocking: true,
    external: true,
    rawArgs: true,
    async impl([raw], ctx) {
      // A connector's arguments arrive as one map (the runtime passes call-step args through).
      const args: WfMap = raw !== undefined && isMap(raw) ? raw : new Map();
      const used = new Set<string>(['body', 'connector_params']);
      const params = args.get('connector_params');
      const cp = params !== undefined && isMap(params) ? params : new Map<string, Value>();
      const timeoutS = Number(cp.get('timeout') ?? DEFAULT_TIMEOUT_S);
      const path = expandPath(m.path, args, used, name);
      const query = new URLSearchParams();
      for (const [k, v] of args) {
        if (used.has(k)) continue;
        query.set(k, typeof v === 'string' ? v : toJsonText(v));
      }
      const body = args.has('body') ? toJsonText(args.get('body')!) : m.body ? '{}' : undefined;
      const base = ctx.endpoints.baseUrl(m.host).replace(/\/$/, '');
      const url = `${base}${path}${query.size ? `?${query}` : ''}`;
      const r = await requestWithRetries(ctx, m.verb, url, body, timeoutS);
      if (r.code >= 400) throw responseError(r);
      if (!m.lro || cp.get('skip_polling') === true) return fromPlain(r.body);
      return poll(ctx, base, m, r.body as { name?: string; done?: boolean }, cp, timeoutS);
    },
  };
}

/**
 * One request under the connectors' retry policy: the idempotent one for GET (429, 502, 503, 504
 * and connection errors), the non-idempotent one otherwise (429, 503), up to MAX_RETRIES times
 * with a backoff from 1 s by 1.25. Google applies it to every request of a connector call,
 * a long-running operation's polls included.
 */
async function requestWithRetries(
  ctx: CallContext,
  verb: string,
  url: string,
  body: string | undefined,
  timeoutS: number,
) {
  const retryable = verb === 'GET' ? RETRYABLE_IDEMPOTENT : RETRYABLE_OTHER;
  let delay = 1;
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await request(ctx, verb, url, body, timeoutS);
      if (!retryable.has(r.code) || attempt >= MAX_RETRIES) return r;
    } catch (err) {
      if (!(err instanceof WorkflowError) || verb !== 'GET' || attempt >= MAX_RETRIES) throw err;
    }
    await sleepSeconds(ctx, delay);
    delay = Math.min(delay * 1.25, 60);
  }
}

async function poll(
  ctx: CallContext,
  base: string,
  m: ApiMethod,
  first: { name?: string; done?: boolean; response?: unknown; error?: unknown },
  cp: WfMap,
  timeoutS: number,
): Promise<Value> {
  const policy = cp.get('polling_policy');
  const pp = policy !== undefined && isMap(policy) ? policy : new Map<string, Value>();
  let delay = Number(pp.get('initial_delay') ?? 1);
  const multiplier = Number(pp.get('multiplier') ?? 1.25);
  const maxDelay = Number(pp.get('max_delay') ?? 60);
  const version = /^\/(v\d[a-z0-9]*)\//.exec(m.path)?.[1] ?? 'v1';
  const deadline = ctx.clock.now() + timeoutS * 1000;
  let op = first;
  while (!op.done) {
    if (!op.name) raise('OperationError', 'the long-running operation has no name');
    if (ctx.clock.now() > deadline)
      raise('TimeoutError', `operation ${op.name} did not finish within ${timeoutS}s`);
    await sleepSeconds(ctx, delay);
    delay = Math.min(delay * multiplier, maxDelay);
    ctx.countSteps(1, 'external');
    const r = await requestWithRetries(
      ctx,
      'GET',
      `${base}/${version}/${op.name}`,
      undefined,
      timeoutS,
    );
    if (r.code >= 400) throw responseError(r);
    op = r.body as typeof op;
  }
  if (op.error) {
    const e = op.error as { message?: string };
    throw builtinError('OperationError', e.message ?? 'the long-running operation failed', {
      operation: fromPlain(op),
    });
  }
  const response = (op.response ?? {}) as Record<string, unknown>;
  const { '@type': _type, ...rest } = response;
  return fromPlain(rest);
}

const cache = new Map<string, WfFunction>();

/** Resolves every `googleapis.*` name the table knows; undefined for anything else. */
export function connectorResolver(name: string): WfFunction | undefined {
  if (!name.startsWith('googleapis.')) return undefined;
  const have = cache.get(name);
  if (have) return have;
  const key = name.slice('googleapis.'.length);
  const m = Object.hasOwn(table(), key) ? table()[key] : undefined;
  if (!m) return undefined;
  const fn = connector(name, m);
  cache.set(name, fn);
  return fn;
}

/**
 * Maps Google hosts to the local cloud when the emulator variables are set; `tokens` mints the
 * workflow account's tokens (the local cloud's issuer), else every call carries a fake one.
 */
export function createEndpoints(env: NodeJS.ProcessEnv, tokens?: Endpoints['token']): Endpoints {
  const overrides: Record<string, string | undefined> = {
    'run.googleapis.com': env.RUN_EMULATOR_HOST,
    'pubsub.googleapis.com': env.PUBSUB_EMULATOR_HOST,
    'workflowexecutions.googleapis.com': env.WORKFLOWS_EMULATOR_HOST,
    'artifactregistry.googleapis.com': env.ARTIFACT_REGISTRY_EMULATOR_HOST,
    'monitoring.googleapis.com': env.MONITORING_EMULATOR_HOST,
  };
  return {
    baseUrl(host: string) {
      const local = overrides[host];
      if (!local) return `https://${host}`;
      return local.includes('://') ? local : `http://${local}`;
    },
    async token(kind, audienceOrScopes, serviceAccount) {
      // Without an issuer only the local cloud is reachable: it takes any token (identity off).
      return tokens ? tokens(kind, audienceOrScopes, serviceAccount) : 'local-fake-token';
    },
  };
}
