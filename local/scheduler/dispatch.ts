// One attempt of an HTTP job, as Cloud Scheduler sends it: the job's method, headers and body,
// Scheduler's own headers, an OIDC or OAuth token for the job's service account when a token
// source is given (none until the local cloud issues tokens), the attempt deadline; the answer
// becomes the google.rpc.Status that Job.status reports. Also the retry backoff of RetryConfig.
import { rpcCodeNumbers, type CanonicalCode } from '../../services/shared/errors.ts';
import type { JsonObject } from '../run/proto-json.ts';
import type { Clock } from '../workflows/stdlib/types.ts';
import type { RetryPolicy } from './jobs.ts';

/** Mints tokens for service accounts: the local token issuer, when the local cloud has one. */
export interface TokenSource {
  idToken(email: string, audience: string): Promise<string>;
  accessToken(email: string): Promise<string>;
}

/** google.rpc.Status as Job.status carries it; code 0 (OK) renders as `{}`. */
export interface RpcStatus {
  code: number;
  message?: string;
}

/**
 * An HTTP answer as a canonical code, by the HTTP mapping of google.rpc.Code; statuses it does
 * not name fall to FAILED_PRECONDITION (other 4xx) and UNKNOWN (other 5xx and 3xx).
 */
export function statusForHttp(status: number): CanonicalCode | 'OK' {
  if (status >= 200 && status < 300) return 'OK';
  const named: Record<number, CanonicalCode> = {
    400: 'INVALID_ARGUMENT',
    401: 'UNAUTHENTICATED',
    403: 'PERMISSION_DENIED',
    404: 'NOT_FOUND',
    409: 'ABORTED',
    429: 'RESOURCE_EXHAUSTED',
    499: 'CANCELLED',
    501: 'UNIMPLEMENTED',
    503: 'UNAVAILABLE',
    504: 'DEADLINE_EXCEEDED',
  };
  return named[status] ?? (status >= 400 && status < 500 ? 'FAILED_PRECONDITION' : 'UNKNOWN');
}

const rpc = (code: CanonicalCode | 'OK', message?: string): RpcStatus =>
  code === 'OK' ? { code: 0 } : { code: rpcCodeNumbers[code], ...(message ? { message } : {}) };

/**
 * The wait before retry `n` (0 for the first retry): min_backoff doubled max_doublings times,
 * then growing linearly by the last doubled interval, capped at max_backoff. With 10s, 300s and
 * 3 doublings: 10, 20, 40, 80, 160, 240, 300, 300 s, as RetryConfig's reference counts them.
 */
export function backoffMs(policy: RetryPolicy, n: number): number {
  const { minBackoffMs: min, maxBackoffMs: max, maxDoublings: d } = policy;
  const wait = n <= d ? min * 2 ** n : min * 2 ** d * (n - d + 1);
  return Math.min(wait, max);
}

export interface Attempt {
  /** The job's full name; its id goes in X-CloudScheduler-JobName. */
  jobName: string;
  httpTarget: JsonObject;
  /** The instant this run was scheduled for (X-CloudScheduler-ScheduleTime). */
  scheduleTime: number;
  deadlineMs: number;
  clock: Clock;
  tokens?: TokenSource;
  /** Aborts the attempt (the job deleted, the scheduler closed). */
  signal: AbortSignal;
}

async function authorization(a: Attempt): Promise<string | undefined> {
  const t = a.httpTarget;
  if (!a.tokens) return undefined;
  const oidc = t.oidcToken as JsonObject | undefined;
  const oauth = t.oauthToken as JsonObject | undefined;
  if (oidc) {
    const audience =
      typeof oidc.audience === 'string' && oidc.audience ? oidc.audience : String(t.uri);
    return `Bearer ${await a.tokens.idToken(String(oidc.serviceAccountEmail), audience)}`;
  }
  if (oauth) return `Bearer ${await a.tokens.accessToken(String(oauth.serviceAccountEmail))}`;
  return undefined;
}

/** The request's headers: the job's, Scheduler's own, a default Content-Type, the token. */
async function headersFor(a: Attempt, hasBody: boolean): Promise<Record<string, string>> {
  const own = (a.httpTarget.headers ?? {}) as Record<string, string>;
  const tokenMode = a.httpTarget.oidcToken !== undefined || a.httpTarget.oauthToken !== undefined;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(own)) {
    // With a token mode set, the job's own Authorization headers are overridden (target.proto).
    if (tokenMode && name.toLowerCase() === 'authorization') continue;
    headers[name.toLowerCase()] = value;
  }
  headers['user-agent'] = 'Google-Cloud-Scheduler';
  headers['x-cloudscheduler'] = 'true';
  headers['x-cloudscheduler-jobname'] = a.jobName.split('/').pop()!;
  headers['x-cloudscheduler-scheduletime'] = new Date(a.scheduleTime).toISOString();
  if (hasBody && !headers['content-type']) headers['content-type'] = 'application/octet-stream';
  const auth = await authorization(a);
  if (auth) headers.authorization = auth;
  return headers;
}

/** Sends one attempt and answers its status; it never throws. */
export async function attemptHttp(a: Attempt): Promise<RpcStatus> {
  const t = a.httpTarget;
  const method = String(t.httpMethod ?? 'POST');
  const body = typeof t.body === 'string' && t.body ? Buffer.from(t.body, 'base64') : undefined;
  let headers: Record<string, string>;
  try {
    headers = await headersFor(a, body !== undefined);
  } catch (err) {
    return rpc('PERMISSION_DENIED', `could not mint a token for the job: ${errorText(err)}`);
  }
  const abort = new AbortController();
  const stop = () => abort.abort();
  a.signal.addEventListener('abort', stop, { once: true });
  let timedOut = false;
  const deadline = new AbortController();
  a.clock.sleep(a.deadlineMs, deadline.signal).then(
    () => {
      timedOut = true;
      abort.abort();
    },
    () => {},
  );
  try {
    const res = await fetch(String(t.uri), {
      method,
      headers,
      ...(body ? { body } : {}),
      redirect: 'manual',
      signal: abort.signal,
    });
    await res.body?.cancel().catch(() => {});
    const code = statusForHttp(res.status);
    return rpc(code, code === 'OK' ? undefined : `HTTP ${res.status} from ${t.uri}`);
  } catch (err) {
    if (timedOut) return rpc('DEADLINE_EXCEEDED', `no answer within ${a.deadlineMs / 1000}s`);
    if (a.signal.aborted) return rpc('CANCELLED', 'the attempt was cancelled');
    return rpc('UNAVAILABLE', `could not reach ${t.uri}: ${errorText(err)}`);
  } finally {
    deadline.abort();
    a.signal.removeEventListener('abort', stop);
  }
}

function errorText(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}
