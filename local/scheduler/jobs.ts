// The Cloud Scheduler Job resource: request bodies decoded against Google's own protos (from
// `@google-cloud/scheduler`), checked by the rules of the v1 reference (job.proto, target.proto),
// and the writable part of a job kept as proto3 JSON with names for enums.
//
// Only HTTP targets run locally. A job with a pubsubTarget or an appEngineHttpTarget is refused
// as UNIMPLEMENTED when it is written (not stored and then never run): what the local cloud
// accepts, it runs.
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';
import {
  type FieldViolation,
  invalidArgument,
  notFound,
  RunwayError,
} from '../../services/shared/errors.ts';
import { decodeMessage, type Json, type JsonObject } from '../run/proto-json.ts';
import { parseSchedule, type Schedule } from './schedule.ts';

const require = createRequire(import.meta.url);
let root: protobuf.Root | undefined;
function protos(): protobuf.Root {
  if (!root) {
    root = protobuf.Root.fromJSON(require('@google-cloud/scheduler/build/protos/protos.json'));
    root.resolveAll();
  }
  return root;
}

const PKG = 'google.cloud.scheduler.v1';

/** A request body (or part of one) as the proto3 JSON of `type`, e.g. `Job` or `PauseJobRequest`. */
export function decode(type: string, value: unknown, path: string): JsonObject {
  return decodeMessage(`${PKG}.${type}`, value, path, protos());
}

export const NAME_FORMAT =
  'Job name must be formatted: "projects/<PROJECT_ID>/locations/<LOCATION_ID>/jobs/<JOB_ID>".';
/** Google's answer for a job that is not there. */
export const jobNotFound = () => notFound('Job not found.');

/** `projects/P/locations/L/jobs/ID` split; Google's rule for each part. */
export function parseJobName(name: string): { parent: string; id: string } {
  const m =
    /^(projects\/[A-Za-z0-9:.-]+\/locations\/[A-Za-z0-9-]+)\/jobs\/([A-Za-z0-9_-]{1,500})$/.exec(
      name,
    );
  if (!m) throw invalidArgument(NAME_FORMAT, [{ field: 'job.name', description: NAME_FORMAT }]);
  return { parent: m[1]!, id: m[2]! };
}

/** The fields a request writes; the rest of a Job is output only (and ignored when sent). */
export const WRITABLE = [
  'description',
  'schedule',
  'timeZone',
  'httpTarget',
  'pubsubTarget',
  'appEngineHttpTarget',
  'retryConfig',
  'attemptDeadline',
] as const;

export const HTTP_METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);
/** Headers Cloud Scheduler computes or replaces (target.proto); a job's own values are dropped. */
const IGNORED_HEADER =
  /^(host|content-length|user-agent|x-google-.*|x-appengine-.*|x-cloudscheduler.*)$/i;
const DEFAULT_USER_AGENT = 'Google-Cloud-Scheduler';

/** Durations of retryConfig and attemptDeadline, in ms. */
export function durationMs(text: Json | undefined, fallbackMs: number): number {
  if (typeof text !== 'string') return fallbackMs;
  return Math.round(Number(text.slice(0, -1)) * 1000);
}

export interface RetryPolicy {
  retryCount: number;
  maxRetryMs: number;
  minBackoffMs: number;
  maxBackoffMs: number;
  maxDoublings: number;
}

/** A job's retryConfig with the reference's defaults filled in. */
export function retryPolicy(spec: JsonObject): RetryPolicy {
  const rc = (spec.retryConfig ?? {}) as JsonObject;
  return {
    retryCount: typeof rc.retryCount === 'number' ? rc.retryCount : 0,
    maxRetryMs: durationMs(rc.maxRetryDuration, 0),
    minBackoffMs: durationMs(rc.minBackoffDuration, 5_000),
    maxBackoffMs: durationMs(rc.maxBackoffDuration, 3_600_000),
    maxDoublings: typeof rc.maxDoublings === 'number' ? rc.maxDoublings : 5,
  };
}

/** An HTTP target's attempt deadline in ms: 3 minutes unless set. */
export const attemptDeadlineMs = (spec: JsonObject) => durationMs(spec.attemptDeadline, 180_000);

const seconds = (ms: number) => `${ms / 1000}s`;

/** What a job renders for retryConfig and attemptDeadline: the defaults Google shows. */
export function renderDefaults(spec: JsonObject): JsonObject {
  const p = retryPolicy(spec);
  return {
    retryConfig: {
      ...(p.retryCount ? { retryCount: p.retryCount } : {}),
      maxRetryDuration: seconds(p.maxRetryMs),
      minBackoffDuration: seconds(p.minBackoffMs),
      maxBackoffDuration: seconds(p.maxBackoffMs),
      maxDoublings: p.maxDoublings,
    },
    attemptDeadline: seconds(attemptDeadlineMs(spec)),
  };
}

const isEmail = (s: string) => /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(s);

function checkHttpTarget(t: JsonObject, v: FieldViolation[]): void {
  const uri = typeof t.uri === 'string' ? t.uri : '';
  if (uri === '') v.push({ field: 'http_target.uri', description: 'uri is required' });
  else if (!/^https?:\/\//.test(uri) || !URL.canParse(uri)) {
    v.push({ field: 'http_target.uri', description: 'uri must begin with http:// or https://' });
  } else if (encodeURI(decodeURI(uri)).length > 2083) {
    v.push({ field: 'http_target.uri', description: 'uri is longer than 2083 characters' });
  }
  const method = typeof t.httpMethod === 'string' ? t.httpMethod : 'POST';
  if (t.body && !HTTP_METHODS_WITH_BODY.has(method)) {
    v.push({
      field: 'http_target.body',
      description: `a body is allowed only with POST, PUT or PATCH, not ${method}`,
    });
  }
  const headers = (t.headers ?? {}) as Record<string, string>;
  let size = 0;
  for (const [name, value] of Object.entries(headers)) {
    size += name.length + value.length;
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      v.push({
        field: `http_target.headers[${name.slice(0, 100)}]`,
        description: 'invalid header name',
      });
    } else if (/[\r\n\0]/.test(value)) {
      v.push({ field: `http_target.headers[${name}]`, description: 'invalid header value' });
    }
  }
  if (size >= 80 * 1024) {
    v.push({ field: 'http_target.headers', description: 'headers must total less than 80KB' });
  }
  for (const kind of ['oidcToken', 'oauthToken'] as const) {
    const token = t[kind] as JsonObject | undefined;
    if (!token) continue;
    const email = typeof token.serviceAccountEmail === 'string' ? token.serviceAccountEmail : '';
    if (!isEmail(email)) {
      const field = `http_target.${kind === 'oidcToken' ? 'oidc_token' : 'oauth_token'}.service_account_email`;
      v.push({ field, description: 'a service account email is required' });
    }
  }
}

function checkRetry(spec: JsonObject, v: FieldViolation[]): void {
  const rc = (spec.retryConfig ?? {}) as JsonObject;
  if (typeof rc.retryCount === 'number' && (rc.retryCount < 0 || rc.retryCount > 5)) {
    v.push({
      field: 'retry_config.retry_count',
      description: 'values greater than 5 and negative values are not allowed',
    });
  }
  if (typeof rc.maxDoublings === 'number' && rc.maxDoublings < 0) {
    v.push({ field: 'retry_config.max_doublings', description: 'must not be negative' });
  }
  for (const [key, field] of [
    ['maxRetryDuration', 'max_retry_duration'],
    ['minBackoffDuration', 'min_backoff_duration'],
    ['maxBackoffDuration', 'max_backoff_duration'],
  ] as const) {
    if (durationMs(rc[key], 0) < 0) {
      v.push({ field: `retry_config.${field}`, description: 'must not be negative' });
    }
  }
  const p = retryPolicy(spec);
  if (p.minBackoffMs > p.maxBackoffMs) {
    v.push({
      field: 'retry_config.min_backoff_duration',
      description: 'min_backoff_duration must not exceed max_backoff_duration',
    });
  }
  const deadline = attemptDeadlineMs(spec);
  if (deadline < 15_000 || deadline > 1_800_000) {
    v.push({
      field: 'attempt_deadline',
      description: 'for HTTP targets the deadline must be in the interval [15 seconds, 30 minutes]',
    });
  }
}

/**
 * A job's writable fields, checked whole: its target (exactly one, HTTP here), schedule and time
 * zone, retry settings and deadline. Returns the spec with Google's defaults written in (POST,
 * the User-Agent header, the UTC time zone) and its parsed schedule.
 */
export function checkJob(input: JsonObject): { spec: JsonObject; schedule: Schedule } {
  const spec: JsonObject = {};
  for (const key of WRITABLE) if (input[key] !== undefined) spec[key] = input[key]!;
  const targets = (['pubsubTarget', 'appEngineHttpTarget', 'httpTarget'] as const).filter(
    (k) => spec[k] !== undefined,
  );
  if (targets.length > 1) {
    throw invalidArgument(
      `Invalid JSON payload received. Oneof field 'target' is already set. Cannot set '${targets[1]}'`,
      [{ field: 'job', description: `only one of ${targets.join(', ')} may be set` }],
    );
  }
  if (targets.length === 0) {
    throw invalidArgument('Job must have a target: set http_target.', [
      { field: 'job.http_target', description: 'a target is required' },
    ]);
  }
  if (targets[0] !== 'httpTarget') {
    throw new RunwayError(
      'UNIMPLEMENTED',
      `${targets[0]} jobs are valid on Google, but the local Cloud Scheduler runs HTTP targets only`,
    );
  }
  const v: FieldViolation[] = [];
  if (typeof spec.description === 'string' && spec.description.length > 500) {
    v.push({ field: 'description', description: 'must not be longer than 500 characters' });
  }
  const http = { ...(spec.httpTarget as JsonObject) };
  if (http.oidcToken && http.oauthToken) {
    throw invalidArgument(
      "Invalid JSON payload received. Oneof field 'authorization_header' is already set. Cannot set 'oidcToken'",
      [{ field: 'http_target', description: 'only one of oauth_token, oidc_token may be set' }],
    );
  }
  checkHttpTarget(http, v);
  checkRetry(spec, v);
  if (v.length > 0)
    throw invalidArgument(v.map((x) => `${x.field}: ${x.description}`).join('; '), v);
  if (JSON.stringify(spec).length > 100 * 1024) {
    throw invalidArgument('The maximum allowed size for a job is 100KB.', [
      { field: 'job', description: 'larger than 100KB' },
    ]);
  }
  const headers = Object.fromEntries(
    Object.entries((http.headers ?? {}) as Record<string, string>).filter(
      ([name]) => !IGNORED_HEADER.test(name),
    ),
  );
  spec.httpTarget = {
    ...http,
    httpMethod:
      typeof http.httpMethod === 'string' && http.httpMethod !== 'HTTP_METHOD_UNSPECIFIED'
        ? http.httpMethod
        : 'POST',
    headers: { ...headers, 'User-Agent': DEFAULT_USER_AGENT },
  };
  if (typeof spec.timeZone !== 'string' || spec.timeZone === '') spec.timeZone = 'Etc/UTC';
  const schedule = parseSchedule(
    typeof spec.schedule === 'string' ? spec.schedule : '',
    spec.timeZone as string,
  );
  return { spec, schedule };
}

/** Copies the masked paths (`schedule`, `http_target.uri`) of `from` into a copy of `to`. */
export function applyMask(to: JsonObject, from: JsonObject, paths: string[]): JsonObject {
  const out = structuredClone(to);
  const camel = (p: string) => p.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  const tops = new Set(paths.map((p) => camel(p.split('.')[0]!)));
  for (const path of paths) {
    const parts = path.split('.').map(camel);
    if (!(WRITABLE as readonly string[]).includes(parts[0]!)) {
      // Output-only fields in a mask are ignored, as UpdateJobRequest says; unknown ones are not.
      if (
        ['name', 'state', 'status', 'userUpdateTime', 'scheduleTime', 'lastAttemptTime'].includes(
          parts[0]!,
        )
      )
        continue;
      throw invalidArgument(`update_mask path ${JSON.stringify(path)} is not a field of Job`, [
        { field: 'update_mask', description: `unknown path ${path}` },
      ]);
    }
    let src: Json | undefined = from;
    let dst: JsonObject = out;
    for (const [i, key] of parts.entries()) {
      const last = i === parts.length - 1;
      src = src && typeof src === 'object' && !Array.isArray(src) ? src[key] : undefined;
      if (last) {
        if (src === undefined) delete dst[key];
        else dst[key] = structuredClone(src);
      } else {
        const next = dst[key];
        const child: JsonObject =
          next && typeof next === 'object' && !Array.isArray(next) ? next : {};
        dst[key] = child;
        dst = child;
      }
    }
  }
  // Setting one target in a mask replaces the others (they are a oneof).
  for (const target of ['httpTarget', 'pubsubTarget', 'appEngineHttpTarget']) {
    if (tops.has(target) && out[target] !== undefined) {
      for (const other of ['httpTarget', 'pubsubTarget', 'appEngineHttpTarget']) {
        if (other !== target) delete out[other];
      }
    }
  }
  return out;
}
