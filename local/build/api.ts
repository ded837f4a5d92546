// The Cloud Build API v1 of the local cloud: projects.builds and projects.locations.builds
// create|get|list|cancel and their long-running operations, in Google's JSON, so Google's
// `@google-cloud/cloudbuild` client (REST mode) and `gcloud builds` work against it. A build's
// `storageSource` tarball is read from the local Cloud Storage and unpacked into its workspace;
// the log is kept per build and, unless logging is CLOUD_LOGGING_ONLY or NONE, written to
// `${logsBucket}/log-${id}.txt` there too, as Google does.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import {
  invalidArgument,
  notFound,
  RunwayError,
  rpcCodeNumbers,
} from '../../services/shared/errors.ts';
import { closeServer, readJsonBody, sendJson, serveApi } from '../api-server.ts';
import { type Gate, openGate } from '../iam/caller.ts';
import { type RequestResources, serviceAccountResource } from '../iam/policy.ts';
import type { ProcessLedger } from '../process-ledger.ts';
import type { ObjectStore } from '../storage/server.ts';
import { type BuildConfig, checkTags, parseBuild } from './config.ts';
import { type BuildRecipe, type ImagePusher, LocalDocker } from './docker.ts';
import { BuildRunner, type BuildRun, type Status, type TimeSpan } from './runner.ts';
import { builtInValues, substituteBuild } from './substitutions.ts';

const TYPE = 'type.googleapis.com/google.devtools.cloudbuild.v1.';
const MAX_BODY = 2 * 1024 * 1024;

export interface CloudBuildOptions {
  project: string;
  projectNumber?: string;
  /** The default location (the `projects/P/builds` form's). */
  location: string;
  /** Workspaces and builder files go under here. */
  root: string;
  /** Each build's log is also written to `<logDir>/<id>.log` (`runway logs --build ID`). */
  logDir?: string;
  storage: ObjectStore;
  pusher: ImagePusher;
  recipe?: BuildRecipe;
  /** Every step's environment: gcloud's endpoint overrides and token for the local cloud. */
  cloudEnv?: Record<string, string>;
  timeScale?: number;
  now?: () => number;
  ledger?: ProcessLedger;
  port?: number;
  /** Each request's IAM check (local/iam/caller.ts); absent: none. */
  gate?: Gate;
}

interface BuildRecord {
  id: string;
  project: string;
  location: string;
  /** As given (substitutions map and options echoed back). */
  given: BuildConfig;
  /** After substitutions: what runs. */
  build: BuildConfig;
  createMs: number;
  run: BuildRun;
  runner?: BuildRunner;
  log: string[];
  logObject?: { bucket: string; name: string };
  logFile?: WriteStream;
  done: Promise<void>;
  cancelled: boolean;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const span = (t: TimeSpan | undefined) =>
  t
    ? { startTime: iso(t.startMs), ...(t.endMs === undefined ? {} : { endTime: iso(t.endMs) }) }
    : undefined;
const seconds = (ms: number) => `${ms / 1000}s`;

/** `gs://bucket/dir` → bucket and object prefix. */
function gcsDir(url: string): { bucket: string; prefix: string } {
  const rest = url.replace(/^gs:\/\//, '');
  const slash = rest.indexOf('/');
  if (slash < 0) return { bucket: rest, prefix: '' };
  const dir = rest.slice(slash + 1);
  return { bucket: rest.slice(0, slash), prefix: dir ? `${dir.replace(/\/$/, '')}/` : '' };
}

export class CloudBuilds {
  readonly #builds = new Map<string, BuildRecord>();
  readonly #o: CloudBuildOptions;
  readonly #now: () => number;
  url = '';

  constructor(options: CloudBuildOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  #checkProject(project: string): void {
    if (project !== this.#o.project) {
      throw new RunwayError(
        'PERMISSION_DENIED',
        `The caller does not have permission: the local cloud serves project ${this.#o.project}, not ${project}`,
      );
    }
  }

  create(project: string, location: string, body: unknown): BuildRecord {
    this.#checkProject(project);
    const given = parseBuild(body, 'api');
    const id = randomUUID();
    const builtIns = builtInValues({
      projectId: project,
      buildId: id,
      location,
      projectNumber: this.#o.projectNumber ?? '0',
      ...(given.serviceAccount
        ? { serviceAccountEmail: given.serviceAccount.split('/').pop()! }
        : {}),
    });
    const { build, values } = substituteBuild(given, builtIns);
    checkTags(build.tags);
    if (
      !build.logsBucket &&
      !['CLOUD_LOGGING_ONLY', 'STACKDRIVER_ONLY', 'NONE'].includes(build.options.logging)
    ) {
      const safe = project.replace(/[:.]/g, '_').replace(/google/g, 'elgoog');
      build.logsBucket = `gs://${safe}_cloudbuild-logs`;
      given.logsBucket = build.logsBucket;
    }
    const record: BuildRecord = {
      id,
      project,
      location,
      given,
      build,
      createMs: this.#now(),
      run: {
        status: 'QUEUED',
        steps: build.steps.map(() => ({ status: 'QUEUED' })),
        images: [],
        statusDetail: '',
        timing: {},
      },
      log: [],
      done: Promise.resolve(),
      cancelled: false,
    };
    if (
      build.logsBucket &&
      !['CLOUD_LOGGING_ONLY', 'STACKDRIVER_ONLY', 'NONE'].includes(build.options.logging)
    ) {
      const { bucket, prefix } = gcsDir(build.logsBucket);
      if (!this.#o.storage.hasBucket(bucket)) this.#o.storage.createBucket(bucket, project);
      record.logObject = { bucket, name: `${prefix}log-${id}.txt` };
    }
    if (this.#o.logDir) {
      mkdirSync(this.#o.logDir, { recursive: true });
      record.logFile = createWriteStream(join(this.#o.logDir, `${id}.log`), { flags: 'a' });
      record.logFile.on('error', () => {});
    }
    this.#builds.set(id, record);
    record.done = this.#execute(record, values)
      .catch((err) => {
        record.run.status = 'INTERNAL_ERROR';
        record.run.statusDetail = `the local Cloud Build failed: ${(err as Error).message}`;
        record.run.finishMs = this.#now();
      })
      .then(
        () => new Promise<void>((done) => (record.logFile ? record.logFile.end(done) : done())),
      );
    return record;
  }

  #log(record: BuildRecord, line: string): void {
    record.log.push(line);
    record.logFile?.write(`${line}\n`);
    if (record.logObject) {
      this.#o.storage.append(
        record.logObject.bucket,
        record.logObject.name,
        Buffer.from(`${line}\n`),
      );
    }
  }

  async #execute(record: BuildRecord, values: Record<string, string>): Promise<void> {
    const dir = join(this.#o.root, 'builds', record.id);
    const workspace = join(dir, 'workspace');
    await mkdir(workspace, { recursive: true });
    const log = (line: string) => this.#log(record, line);
    log(`starting build "${record.id}"`);
    log('');
    log('FETCHSOURCE');
    const source = record.build.source?.storageSource;
    if (source) {
      const start = this.#now();
      try {
        const obj = this.#o.storage.get(source.bucket, source.object);
        if (
          !/\.(tgz|tar\.gz|gz)$/.test(source.object) &&
          obj.data.subarray(0, 2).toString('hex') !== '1f8b'
        ) {
          throw new Error('the local Cloud Build unpacks gzipped tarballs (.tgz) only');
        }
        log(`Fetching storage object: gs://${source.bucket}/${source.object}#${obj.generation}`);
        await pipeline(Readable.from([obj.data]), tar.x({ cwd: workspace, strict: true }));
        record.run.timing = { ...record.run.timing };
        (record.run as BuildRun & { fetch?: TimeSpan }).fetch = {
          startMs: start,
          endMs: this.#now(),
        };
      } catch (err) {
        const detail = `failed to fetch source gs://${source.bucket}/${source.object}: ${(err as Error).message}`;
        log(`ERROR: ${detail}`);
        Object.assign(record.run, {
          status: 'FAILURE' satisfies Status,
          statusDetail: detail,
          failureInfo: { type: 'FETCH_SOURCE_FAILED', detail },
          startMs: start,
          finishMs: this.#now(),
        });
        return;
      }
    }
    if (record.cancelled) {
      Object.assign(record.run, { status: 'CANCELLED' satisfies Status, finishMs: this.#now() });
      return;
    }
    const docker = new LocalDocker(workspace, this.#o.pusher, this.#o.recipe);
    const runner = new BuildRunner(record.build, {
      workspace,
      builderDir: join(dir, 'builder'),
      docker,
      cloudEnv: { CLOUDSDK_CORE_PROJECT: record.project, ...this.#o.cloudEnv },
      substitutions: values,
      log,
      now: this.#now,
      ...(this.#o.timeScale ? { timeScale: this.#o.timeScale } : {}),
      ...(this.#o.ledger ? { ledger: this.#o.ledger } : {}),
    });
    record.runner = runner;
    record.run = runner.state;
    await runner.run();
  }

  get(project: string, id: string): BuildRecord {
    this.#checkProject(project);
    const r = this.#builds.get(id);
    if (!r || r.project !== project) throw notFound(`Requested entity was not found.`);
    return r;
  }

  list(project: string, location?: string): BuildRecord[] {
    this.#checkProject(project);
    return [...this.#builds.values()]
      .filter((b) => b.project === project && (location === undefined || b.location === location))
      .sort((a, b) => b.createMs - a.createMs);
  }

  cancel(project: string, id: string): BuildRecord {
    const r = this.get(project, id);
    if (['QUEUED', 'WORKING'].includes(r.run.status)) {
      r.cancelled = true;
      if (r.runner) r.runner.cancel();
      else
        Object.assign(r.run, {
          status: 'CANCELLED' satisfies Status,
          statusDetail: 'Build was cancelled',
          finishMs: this.#now(),
        });
    }
    return r;
  }

  /** Resolves when the build has finished (tests and `runway local build`). */
  async wait(id: string): Promise<void> {
    await this.#builds.get(id)?.done;
  }

  logText(id: string): string {
    const r = this.#builds.get(id);
    if (!r) throw notFound(`Requested entity was not found.`);
    return r.log.map((l) => `${l}\n`).join('');
  }

  /**
   * Cloud Logging's entries.list for build logs only (`resource.labels.build_id="ID"`), so
   * `gcloud builds log ID` reads a CLOUD_LOGGING_ONLY build's log from the local cloud
   * (CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING pointed here).
   */
  logEntries(body: Record<string, unknown>): Record<string, unknown> {
    const filter = typeof body.filter === 'string' ? body.filter : '';
    const id = /resource\.labels\.build_id="([^"]+)"/.exec(filter)?.[1];
    if (!id)
      throw invalidArgument(
        'the local Cloud Logging answers build log queries only: resource.labels.build_id="ID"',
      );
    const r = this.#builds.get(id);
    if (!r) return { entries: [] };
    const desc = typeof body.orderBy === 'string' && /desc/i.test(body.orderBy);
    const start = r.run.startMs ?? r.createMs;
    const entries = r.log.map((textPayload, i) => ({
      logName: `projects/${r.project}/logs/cloudbuild`,
      resource: { type: 'build', labels: { build_id: r.id, project_id: r.project } },
      textPayload,
      timestamp: new Date(start + i).toISOString(),
      insertId: String(i).padStart(8, '0'),
    }));
    return { entries: desc ? entries.reverse() : entries };
  }

  render(r: BuildRecord): Record<string, unknown> {
    const { build, given, run } = r;
    const fetch = (run as BuildRun & { fetch?: TimeSpan }).fetch;
    return {
      name: `projects/${r.project}/locations/${r.location}/builds/${r.id}`,
      id: r.id,
      projectId: r.project,
      status: run.status,
      ...(run.statusDetail ? { statusDetail: run.statusDetail } : {}),
      ...(given.source ? { source: given.source } : {}),
      steps: build.steps.map((s, i) => {
        const sr = run.steps[i] ?? { status: 'QUEUED' };
        return {
          name: s.name,
          ...(s.args.length ? { args: s.args } : {}),
          ...(s.env.length ? { env: s.env } : {}),
          ...(s.dir ? { dir: s.dir } : {}),
          ...(s.id ? { id: s.id } : {}),
          ...(s.waitFor.length ? { waitFor: s.waitFor } : {}),
          ...(s.entrypoint ? { entrypoint: s.entrypoint } : {}),
          ...(s.script ? { script: s.script } : {}),
          ...(s.timeoutMs === undefined ? {} : { timeout: seconds(s.timeoutMs) }),
          ...(s.allowFailure ? { allowFailure: true } : {}),
          ...(s.allowExitCodes.length ? { allowExitCodes: s.allowExitCodes } : {}),
          status: sr.status,
          ...(sr.timing ? { timing: span(sr.timing) } : {}),
          ...(sr.exitCode === undefined ? {} : { exitCode: sr.exitCode }),
        };
      }),
      results: {
        images: run.images.map((i) => ({
          name: i.name,
          digest: i.digest,
          pushTiming: span(i.pushTiming),
        })),
        buildStepImages: build.steps.map(() => ''),
      },
      createTime: iso(r.createMs),
      ...(run.startMs === undefined ? {} : { startTime: iso(run.startMs) }),
      ...(run.finishMs === undefined ? {} : { finishTime: iso(run.finishMs) }),
      timeout: seconds(build.timeoutMs),
      ...(build.images.length ? { images: build.images } : {}),
      ...(build.logsBucket ? { logsBucket: build.logsBucket } : {}),
      sourceProvenance: given.source ? { resolvedStorageSource: given.source.storageSource } : {},
      options: {
        ...given.options.ignored,
        substitutionOption: given.options.substitutionOption,
        ...(given.options.dynamicSubstitutions ? { dynamicSubstitutions: true } : {}),
        ...(given.options.automapSubstitutions ? { automapSubstitutions: true } : {}),
        logging: given.options.logging,
        ...(given.options.env.length ? { env: given.options.env } : {}),
      },
      logUrl: `${this.url}/local/v1/builds/${r.id}/log`,
      ...(Object.keys(given.substitutions).length ? { substitutions: given.substitutions } : {}),
      ...(build.tags.length ? { tags: build.tags } : {}),
      ...(build.serviceAccount ? { serviceAccount: build.serviceAccount } : {}),
      timing: {
        ...(fetch ? { FETCHSOURCE: span(fetch) } : {}),
        ...(run.timing.BUILD ? { BUILD: span(run.timing.BUILD) } : {}),
        ...(run.timing.PUSH ? { PUSH: span(run.timing.PUSH) } : {}),
      },
      ...(run.failureInfo ? { failureInfo: run.failureInfo } : {}),
      ...(build.queueTtl ? { queueTtl: build.queueTtl } : {}),
    };
  }

  operationName(r: BuildRecord): string {
    return `projects/${r.project}/locations/${r.location}/operations/${r.id}`;
  }

  operation(r: BuildRecord): Record<string, unknown> {
    const build = this.render(r);
    const metadata = { '@type': `${TYPE}BuildOperationMetadata`, build };
    const name = this.operationName(r);
    const done = !['QUEUED', 'WORKING', 'PENDING'].includes(r.run.status);
    if (!done) return { name, metadata, done: false };
    if (r.run.status === 'SUCCESS')
      return { name, metadata, done: true, response: { '@type': `${TYPE}Build`, ...build } };
    const code = r.run.status === 'CANCELLED' ? rpcCodeNumbers.CANCELLED : rpcCodeNumbers.UNKNOWN;
    return {
      name,
      metadata,
      done: true,
      error: {
        code,
        message: r.run.statusDetail || `Build ${r.run.status}; check build logs for details`,
        details: [],
      },
    };
  }

  operationByName(name: string): Record<string, unknown> {
    const m =
      /^(?:operations\/build\/([^/]+)\/|projects\/([^/]+)\/locations\/[^/]+\/operations\/)([^/]+)$/.exec(
        name,
      );
    if (!m) throw notFound(`Operation ${name.slice(0, 200)} was not found.`);
    return this.operation(this.get((m[1] ?? m[2])!, m[3]!));
  }
}

/** The location of a `parent=projects/P/locations/L` query parameter. */
function locationOf(q: URLSearchParams): string | undefined {
  return /^projects\/[^/]+\/locations\/([^/]+)$/.exec(q.get('parent') ?? '')?.[1];
}

type Handler = (m: RegExpExecArray, q: URLSearchParams, req: IncomingMessage) => Promise<unknown>;

const P = '([^/]+)';

export function cloudBuildHandler(
  builds: CloudBuilds,
  defaultLocation: string,
  gate: Gate = openGate,
) {
  const can = (req: IncomingMessage, method: string, resources: RequestResources) =>
    gate.authorize(
      req,
      'cloudbuild.googleapis.com',
      `google.devtools.cloudbuild.v1.CloudBuild.${method}`,
      resources,
    );
  /** A create's checks: on the project's builds, acting as the build's account if it names one. */
  const create = async (req: IncomingMessage, project: string, location: string) => {
    gate.caller(req);
    const body = await readJsonBody(req, MAX_BODY);
    const sa = typeof body.serviceAccount === 'string' ? body.serviceAccount : '';
    const email = sa.replace(/^projects\/[^/]+\/serviceAccounts\//, '');
    const parent = `projects/${project}/locations/${location}`;
    can(req, 'CreateBuild', {
      resource: `${parent}/builds`,
      parent,
      ...(email ? { serviceAccount: serviceAccountResource(email) } : {}),
    });
    return builds.operation(builds.create(project, location, body));
  };
  const buildName = (project: string, location: string | undefined, id: string) =>
    `projects/${project}/locations/${location ?? defaultLocation}/builds/${id}`;
  const list = (project: string, location: string | undefined, q: URLSearchParams) => {
    const all = builds.list(project, location);
    const size = Math.min(
      Math.max(Number(q.get('pageSize') ?? q.get('page_size') ?? 50) || 50, 1),
      1000,
    );
    const token = q.get('pageToken') ?? q.get('page_token') ?? '';
    const start = token ? Number(Buffer.from(token, 'base64url').toString()) : 0;
    if (!Number.isInteger(start) || start < 0) throw invalidArgument('invalid page token');
    const page = all.slice(start, start + size);
    const next =
      start + size < all.length
        ? Buffer.from(String(start + size)).toString('base64url')
        : undefined;
    return { builds: page.map((b) => builds.render(b)), ...(next ? { nextPageToken: next } : {}) };
  };
  const routes: [string, RegExp, Handler][] = [
    [
      'POST',
      new RegExp(`^/v1/projects/${P}/builds$`),
      // Google's clients may send both forms: project_id in the path, parent in the query.
      async (m, q, req) => create(req, m[1]!, locationOf(q) ?? defaultLocation),
    ],
    [
      'POST',
      new RegExp(`^/v1/projects/${P}/locations/${P}/builds$`),
      async (m, _q, req) => create(req, m[1]!, m[2]!),
    ],
    [
      'GET',
      new RegExp(`^/v1/projects/${P}/builds$`),
      async (m, q, req) => {
        const parent = `projects/${m[1]}/locations/${locationOf(q) ?? defaultLocation}`;
        can(req, 'ListBuilds', { resource: `${parent}/builds`, parent });
        return list(m[1]!, locationOf(q), q);
      },
    ],
    [
      'GET',
      new RegExp(`^/v1/projects/${P}/locations/${P}/builds$`),
      async (m, q, req) => {
        const parent = `projects/${m[1]}/locations/${m[2]}`;
        can(req, 'ListBuilds', { resource: `${parent}/builds`, parent });
        return list(m[1]!, m[2]!, q);
      },
    ],
    [
      'GET',
      new RegExp(`^/v1/projects/${P}/builds/${P}$`),
      async (m, q, req) => {
        can(req, 'GetBuild', { resource: buildName(m[1]!, locationOf(q), m[2]!) });
        return builds.render(builds.get(m[1]!, m[2]!));
      },
    ],
    [
      'GET',
      new RegExp(`^/v1/projects/${P}/locations/${P}/builds/${P}$`),
      async (m, _q, req) => {
        can(req, 'GetBuild', { resource: buildName(m[1]!, m[2]!, m[3]!) });
        return builds.render(builds.get(m[1]!, m[3]!));
      },
    ],
    [
      'POST',
      new RegExp(`^/v1/projects/${P}/builds/${P}:cancel$`),
      async (m, q, req) => {
        can(req, 'CancelBuild', { resource: buildName(m[1]!, locationOf(q), m[2]!) });
        await readJsonBody(req, MAX_BODY);
        return builds.render(builds.cancel(m[1]!, m[2]!));
      },
    ],
    [
      'POST',
      new RegExp(`^/v1/projects/${P}/locations/${P}/builds/${P}:cancel$`),
      async (m, _q, req) => {
        can(req, 'CancelBuild', { resource: buildName(m[1]!, m[2]!, m[3]!) });
        await readJsonBody(req, MAX_BODY);
        return builds.render(builds.cancel(m[1]!, m[3]!));
      },
    ],
    ['GET', /^\/v1\/(operations\/.+)$/, async (m) => builds.operationByName(m[1]!)],
    [
      'GET',
      new RegExp(`^/v1/(projects/${P}/locations/${P}/operations/${P})$`),
      async (m) => builds.operationByName(m[1]!),
    ],
  ];

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      throw invalidArgument(`the path ${url.pathname.slice(0, 200)} is not valid percent-encoding`);
    }
    const log = /^\/local\/v1\/builds\/([^/]+)\/log$/.exec(path);
    if (log && req.method === 'GET') {
      const text = builds.logText(log[1]!);
      res.writeHead(200, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
      return;
    }
    if (path === '/v2/entries:list' && req.method === 'POST') {
      sendJson(res, builds.logEntries(await readJsonBody(req, MAX_BODY)));
      return;
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
      `The requested URL ${path.slice(0, 300)} was not found on this server (the local Cloud Build API v1).`,
    );
  };
}

export interface LocalCloudBuild {
  url: string;
  host: string;
  builds: CloudBuilds;
  close(): Promise<void>;
}

export async function startLocalCloudBuild(options: CloudBuildOptions): Promise<LocalCloudBuild> {
  const builds = new CloudBuilds(options);
  const { server, host, url } = await serveApi(
    cloudBuildHandler(builds, options.location, options.gate),
    options.port === undefined ? {} : { port: options.port },
  );
  builds.url = url;
  return {
    url,
    host,
    builds,
    async close() {
      for (const b of builds.list(options.project)) builds.cancel(options.project, b.id);
      await Promise.allSettled(builds.list(options.project).map((b) => b.done));
      await closeServer(server);
    },
  };
}
