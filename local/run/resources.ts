// Pieces every local Cloud Run resource shares: names, conditions, etags, field masks, paging, and
// the checks of Cloud Run's naming rules.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  aborted,
  type FieldViolation,
  invalidArgument,
  notFound,
} from '../../services/shared/errors.ts';
import type { ProcessLedger } from '../process-ledger.ts';
import type { ImageSource } from './containers.ts';
import type { RequestMetrics } from './metrics.ts';
import type { Json, JsonObject } from './proto-json.ts';

/** How the local Cloud Run runs what it serves; one for services, jobs and worker pools alike. */
export interface RunSettings {
  project: string;
  region: string;
  images: ImageSource;
  /** Where process logs go: `<logDir>/services/<service>/<revision>.log`, `<logDir>/jobs/...`, `<logDir>/workerPools/<pool>/<revision>.log`. */
  logDir: string;
  startupTimeoutMs: number;
  idleMs: number;
  graceMs: number;
  /** How long a worker pool revision's first instance must keep running to be ready (default 1 s). */
  workerStartMs?: number;
  /** Request counts for the local Cloud Monitoring. */
  metrics?: RequestMetrics;
  /** Where each process group is recorded while it runs. */
  ledger?: ProcessLedger;
  /**
   * The variables that give a process running as `serviceAccount` its identity (the local
   * metadata server's address); absent, processes have none, as before issue 17.
   */
  identity?: (serviceAccount: string) => Promise<Record<string, string>>;
  /**
   * Cloud Run's invoker check on a service's URLs: a request to `service` (its full name) with
   * this `authorization`, whose ID token must name one of `audiences`. Undefined lets it through;
   * absent, every request goes through, as before issue 17.
   */
  invoker?: (call: {
    service: string;
    audiences: readonly string[];
    authorization: string | undefined;
  }) => { status: number; message: string } | undefined;
  /**
   * What a template naming no account runs as, instead of the project's default compute account:
   * the stack names the account Terraform gives the pipelines' services (see local/stack.ts).
   */
  defaultServiceAccount?: string;
}

export const iso = (ms: number) => new Date(ms).toISOString();

export interface Condition {
  type: string;
  state: 'CONDITION_PENDING' | 'CONDITION_RECONCILING' | 'CONDITION_FAILED' | 'CONDITION_SUCCEEDED';
  message?: string;
  lastTransitionTime: string;
  severity?: 'ERROR' | 'WARNING' | 'INFO';
  reason?: string;
  revisionReason?: string;
  executionReason?: string;
}

export function condition(
  type: string,
  state: Condition['state'],
  extra: Partial<Omit<Condition, 'type' | 'state'>> = {},
): Condition {
  return {
    type,
    state,
    lastTransitionTime: iso(Date.now()),
    ...(state === 'CONDITION_FAILED' ? { severity: 'ERROR' } : {}),
    ...extra,
  };
}

/** What every resource carries: identity, times, generation and a fresh etag on each write. */
export interface Meta {
  name: string;
  uid: string;
  generation: number;
  createTime: number;
  updateTime: number;
  etag: string;
}

export function newMeta(name: string): Meta {
  const now = Date.now();
  return {
    name,
    uid: randomUUID(),
    generation: 1,
    createTime: now,
    updateTime: now,
    etag: newEtag(),
  };
}

export function newEtag(): string {
  return `"${randomBytes(9).toString('base64url')}"`;
}

export function touch(meta: Meta, bumpGeneration: boolean): void {
  if (bumpGeneration) meta.generation++;
  meta.updateTime = Date.now();
  meta.etag = newEtag();
}

/** An `etag` in a request must match the resource's, or the write is ABORTED as Cloud Run does. */
export function checkEtag(meta: Meta, etag: Json | undefined): void {
  if (typeof etag === 'string' && etag !== '' && etag !== meta.etag) {
    throw aborted(
      `Resource '${meta.name}' has changed: the request's etag ${etag} does not match the current etag ${meta.etag}. Read it again and retry.`,
    );
  }
}

export function renderMeta(meta: Meta): JsonObject {
  return {
    name: meta.name,
    uid: meta.uid,
    generation: String(meta.generation),
    createTime: iso(meta.createTime),
    updateTime: iso(meta.updateTime),
    etag: meta.etag,
  };
}

// Cloud Run's naming rule for services, jobs, revisions: RFC 1035 labels.
const LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export function checkId(kind: string, field: string, id: unknown, max: number): FieldViolation[] {
  if (typeof id !== 'string' || id === '') {
    return [{ field, description: `${kind} is required` }];
  }
  if (id.length > max || !LABEL.test(id)) {
    return [
      {
        field,
        description: `${kind} ${JSON.stringify(id.slice(0, 80))} must be 1-${max} characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen`,
      },
    ];
  }
  return [];
}

/** Cloud Run's NOT_FOUND for a missing service, job or worker pool; the region is the name's own. */
export function missingResource(
  kind: 'Service' | 'Job' | 'WorkerPool',
  name: string,
  where: { project: string; region: string },
) {
  const KIND = kind.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
  const region = /^projects\/[^/]+\/locations\/([^/]+)\//.exec(name)?.[1] ?? where.region;
  return notFound(
    `Resource '${name.split('/').pop()}' of kind '${KIND}' in region '${region}' in project '${where.project}' does not exist.`,
  );
}

// A Cloud Run region's name: `us-central1`, `europe-west10`, `northamerica-northeast1`.
export const REGION = /^[a-z]+-[a-z]+[0-9]{1,2}$/;

/** `projects/P/locations/L` of a resource's full name (or of the location itself). */
export function locationOf(name: string): string {
  return name.split('/').slice(0, 4).join('/');
}

/**
 * The folder of a resource's process logs: `<logDir>/<collection>/<id>` in the configured region,
 * `<logDir>/regions/<region>/<collection>/<id>` in any other, so a service `web` in two regions
 * keeps two logs.
 */
export function logFolder(settings: RunSettings, name: string, collection: string): string {
  const region = regionOf(name);
  const id = name.split('/')[5] ?? '';
  return region === settings.region
    ? join(settings.logDir, collection, id)
    : join(settings.logDir, 'regions', region, collection, id);
}

/** The region of a resource's full name. */
export function regionOf(name: string): string {
  return name.split('/')[3] ?? '';
}

/**
 * A location this local Cloud Run serves: the configured project (by id) in any well-formed
 * region, each with its own resources. A region name Google could never have is refused, as
 * Google refuses a location that is not one of its own.
 */
export function checkLocation(parent: string, project: string): void {
  const m = /^projects\/([^/]+)\/locations\/([^/]+)$/.exec(parent);
  if (!m || m[1] !== project) {
    throw notFound(
      `Location '${parent.slice(0, 200)}' is not served here: this local Cloud Run serves project ${project}`,
    );
  }
  if (!REGION.test(m[2]!)) {
    throw invalidArgument(
      `Location '${m[2]!.slice(0, 80)}' is not a valid location. A Cloud Run region is named like us-central1 or europe-west1.`,
      [{ field: 'parent', description: 'not a valid location' }],
    );
  }
}

export function throwIfViolations(violations: FieldViolation[]): void {
  if (violations.length === 0) return;
  const shown = violations.slice(0, 5).map((v) => `${v.field}: ${v.description}`);
  if (violations.length > 5) shown.push(`and ${violations.length - 5} more`);
  throw invalidArgument(shown.join('; '), violations);
}

/** A FieldMask's paths, `"a,b.c"` or a list. */
export function maskPaths(mask: Json | undefined): string[] | undefined {
  if (mask === undefined || mask === null || mask === '') return undefined;
  const text = Array.isArray(mask) ? mask.join(',') : String(mask);
  return text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => p.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()));
}

/** Copies the masked paths of `from` into a copy of `to`. */
export function applyMask(
  to: JsonObject,
  from: JsonObject,
  paths: string[],
  allowed: Set<string>,
  what: string,
): JsonObject {
  const out = structuredClone(to);
  for (const path of paths) {
    const top = path.split('.')[0]!;
    if (!allowed.has(top)) {
      throw invalidArgument(`update_mask: ${what} field "${path}" cannot be updated`, [
        { field: 'update_mask', description: `"${path}" is not an updatable field` },
      ]);
    }
    const keys = path.split('.');
    let src: Json | undefined = from;
    let dst: JsonObject = out;
    for (let i = 0; i < keys.length - 1; i++) {
      src = src && typeof src === 'object' && !Array.isArray(src) ? src[keys[i]!] : undefined;
      const next = dst[keys[i]!];
      const child: JsonObject =
        next && typeof next === 'object' && !Array.isArray(next) ? next : {};
      dst[keys[i]!] = child;
      dst = child;
    }
    const last = keys.at(-1)!;
    const value = src && typeof src === 'object' && !Array.isArray(src) ? src[last] : undefined;
    if (value === undefined) delete dst[last];
    else dst[last] = structuredClone(value);
  }
  return out;
}

/** One page of a list, with an opaque token for the next. */
export function page<T>(
  items: T[],
  query: URLSearchParams,
): { items: T[]; nextPageToken?: string } {
  const size = Number(query.get('pageSize') ?? query.get('page_size') ?? 0);
  const token = query.get('pageToken') ?? query.get('page_token') ?? '';
  let start = 0;
  if (token) {
    const text = /^[A-Za-z0-9_-]{1,16}$/.test(token)
      ? Buffer.from(token, 'base64url').toString()
      : '';
    start = /^\d{1,9}$/.test(text) ? Number(text) : -1;
    if (start < 0) {
      throw invalidArgument('page_token is not a token this API gave', [
        { field: 'page_token', description: 'invalid page token' },
      ]);
    }
  }
  const limit = size > 0 ? Math.min(size, 1000) : 1000;
  const slice = items.slice(start, start + limit);
  return start + limit < items.length
    ? { items: slice, nextPageToken: Buffer.from(String(start + limit)).toString('base64url') }
    : { items: slice };
}

/** Stable JSON for comparing templates: object keys sorted. */
export function canonical(value: Json | undefined): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  return `{${Object.keys(value)
    .sort()
    .filter((k) => value[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
    .join(',')}}`;
}

export function randomSuffix(length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length);
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
}

/** A project's number: twelve digits, the same for the same project id every time. */
export function projectNumber(project: string): string {
  const n = BigInt(`0x${createHash('sha256').update(project).digest('hex').slice(0, 15)}`);
  return String(100_000_000_000n + (n % 900_000_000_000n));
}

/** The project's default compute account: what a revision or task runs as when none is named. */
export function defaultServiceAccount(project: string): string {
  return `${projectNumber(project)}-compute@developer.gserviceaccount.com`;
}

/** What a template naming no account runs as here: the settings' stand-in, else the default compute account. */
export function fallbackAccount(
  settings: Pick<RunSettings, 'project' | 'defaultServiceAccount'>,
): string {
  return settings.defaultServiceAccount ?? defaultServiceAccount(settings.project);
}

/** The account a revision or task template runs as (`fallback` when it names none). */
export function serviceAccountOf(template: JsonObject, fallback: string): string {
  const sa = template.serviceAccount;
  return typeof sa === 'string' && sa !== '' ? sa : fallback;
}

/** The identity variables of a process running a template (none without identity). */
export async function identityEnv(
  settings: RunSettings,
  template: JsonObject,
): Promise<Record<string, string>> {
  return settings.identity
    ? settings.identity(serviceAccountOf(template, fallbackAccount(settings)))
    : {};
}

/**
 * A revision or task template as Cloud Run stores it: with no service account named, it runs as
 * the project's default compute account, and reads say so. A patch that replaces the template
 * without one therefore resets it, as on Google.
 */
export function withDefaultServiceAccount(
  template: Json | undefined,
  fallback: string,
): Json | undefined {
  if (!template || typeof template !== 'object' || Array.isArray(template)) return template;
  if (typeof template.serviceAccount === 'string' && template.serviceAccount !== '')
    return template;
  return { ...template, serviceAccount: fallback };
}
