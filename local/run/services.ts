// Services and revisions of the local Cloud Run. A write that changes the template makes a new
// revision, which starts as a real process and must pass its startup probe; traffic moves only to
// ready revisions, so a revision that fails leaves the service serving what it served before, with
// a failed terminal condition and a failed operation, as on Cloud Run.
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import {
  alreadyExists,
  type FieldViolation,
  failedPrecondition,
  notFound,
  RunwayError,
} from '../../services/shared/errors.ts';
import type { ProcessLedger } from '../process-ledger.ts';
import {
  argvFor,
  asList,
  asObject,
  checkContainers,
  containerEnv,
  type ImageSource,
} from './containers.ts';
import { RevisionInstances, StartupError } from './instances.ts';
import type { Operation, Operations } from './operations.ts';
import { LogFile } from './process.ts';
import type { Json, JsonObject } from './proto-json.ts';
import {
  applyMask,
  type Condition,
  canonical,
  checkEtag,
  checkId,
  condition,
  iso,
  missingResource,
  type Meta,
  newMeta,
  randomSuffix,
  renderMeta,
  throwIfViolations,
  touch,
  withDefaultServiceAccount,
} from './resources.ts';
import type { RequestMetrics } from './metrics.ts';
import { type Backend, type Listener, openListener, type Routing } from './router.ts';

export interface RunSettings {
  project: string;
  region: string;
  images: ImageSource;
  /** Where process logs go: `<logDir>/services/<service>/<revision>.log`, `<logDir>/jobs/...`. */
  logDir: string;
  startupTimeoutMs: number;
  idleMs: number;
  graceMs: number;
  /** Request counts for the local Cloud Monitoring. */
  metrics?: RequestMetrics;
  /** Where each process group is recorded while it runs. */
  ledger?: ProcessLedger;
}

type AllocationType =
  | 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST'
  | 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION';
const LATEST: AllocationType = 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST';
const REVISION: AllocationType = 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION';

interface Target {
  type: AllocationType;
  revision: string;
  percent: number;
  tag?: string;
}

interface RevisionRecord {
  meta: Meta;
  id: string;
  template: JsonObject;
  state: 'pending' | 'ready' | 'failed';
  conditions: Condition[];
  message?: string;
  digest?: string;
  instances?: RevisionInstances;
  log: LogFile;
  /** Settles when the revision is ready or has failed. */
  settled: Promise<void>;
}

interface ServiceRecord {
  meta: Meta;
  id: string;
  spec: JsonObject;
  revisions: Map<string, RevisionRecord>;
  counter: number;
  latestCreated?: string;
  latestReady?: string;
  /** The traffic being served: only ready revisions, LATEST resolved. */
  served: Target[];
  observedGeneration: number;
  terminal: Condition;
  conditions: Condition[];
  reconciling: boolean;
  listener: Listener;
  tags: Map<string, Listener>;
  /** The service URL's routing, computed once per traffic change. */
  routing?: Routing | undefined;
}

const RESERVED_ENV = ['PORT', 'K_SERVICE', 'K_REVISION', 'K_CONFIGURATION'];
const SERVICE_FIELDS = new Set([
  'description',
  'labels',
  'annotations',
  'client',
  'clientVersion',
  'ingress',
  'launchStage',
  'binaryAuthorization',
  'template',
  'traffic',
  'scaling',
  'invokerIamDisabled',
  'defaultUriDisabled',
  'customAudiences',
]);

const userFields = (body: JsonObject): JsonObject =>
  Object.fromEntries(Object.entries(body).filter(([k]) => SERVICE_FIELDS.has(k)));

const short = (name: string) => name.split('/').pop() ?? name;

function checkTraffic(
  service: ServiceRecord | undefined,
  id: string,
  spec: JsonObject,
  newRevision?: string,
): FieldViolation[] {
  const traffic = asList(spec.traffic);
  if (traffic.length === 0) return [];
  const out: FieldViolation[] = [];
  let sum = 0;
  const tags = new Set<string>();
  traffic.forEach((raw, i) => {
    const t = asObject(raw);
    const at = `service.traffic[${i}]`;
    const type = t.type ?? (t.revision ? REVISION : LATEST);
    const percent = t.percent ?? 0;
    if (typeof percent !== 'number' || percent < 0 || percent > 100) {
      out.push({ field: `${at}.percent`, description: 'percent must be between 0 and 100' });
    } else sum += percent;
    if (type === REVISION) {
      if (typeof t.revision !== 'string' || !t.revision) {
        out.push({ field: `${at}.revision`, description: 'a REVISION target names a revision' });
      } else if (t.revision !== newRevision && !service?.revisions.has(t.revision)) {
        out.push({
          field: `${at}.revision`,
          description: `Revision '${t.revision}' does not exist in service '${id}'`,
        });
      }
    } else if (type === LATEST && t.revision) {
      out.push({
        field: `${at}.revision`,
        description: 'a LATEST target must not name a revision',
      });
    } else if (type !== LATEST) {
      out.push({ field: `${at}.type`, description: 'type must be LATEST or REVISION' });
    }
    if (t.tag !== undefined && t.tag !== '') {
      const tag = t.tag;
      if (
        typeof tag !== 'string' ||
        !/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(tag) ||
        tag.length + 3 + id.length > 63
      ) {
        out.push({
          field: `${at}.tag`,
          description: `tag ${JSON.stringify(tag)} must be lowercase letters, digits and hyphens, start with a letter, and with '---${id}' fit in 63 characters`,
        });
      } else if (tags.has(tag)) {
        out.push({
          field: `${at}.tag`,
          description: `tag '${tag}' is used by two traffic targets`,
        });
      } else tags.add(tag);
    }
  });
  if (out.length === 0 && sum !== 100) {
    out.push({
      field: 'service.traffic',
      description: `traffic percentages must sum to 100, not ${sum}`,
    });
  }
  return out;
}

function checkTemplate(id: string, spec: JsonObject, creating: boolean): FieldViolation[] {
  const template = spec.template;
  if (template === undefined) {
    return creating ? [{ field: 'service.template', description: 'template is required' }] : [];
  }
  const t = asObject(template);
  const out = checkContainers(t.containers, 'service.template.containers', RESERVED_ENV);
  if (t.revision !== undefined && t.revision !== '') {
    const v = checkId('revision name', 'service.template.revision', t.revision, 63);
    if (v.length) out.push(...v);
    else if (!String(t.revision).startsWith(`${id}-`)) {
      out.push({
        field: 'service.template.revision',
        description: `revision name '${t.revision}' must start with the service name and a hyphen ('${id}-')`,
      });
    }
  }
  const scaling = asObject(t.scaling);
  const min = scaling.minInstanceCount;
  const max = scaling.maxInstanceCount;
  if (typeof min === 'number' && typeof max === 'number' && max > 0 && min > max) {
    out.push({
      field: 'service.template.scaling',
      description: `min_instance_count ${min} is above max_instance_count ${max}`,
    });
  }
  return out;
}

export class Services {
  readonly #services = new Map<string, ServiceRecord>();
  readonly parent: string;

  constructor(
    readonly settings: RunSettings,
    readonly operations: Operations,
  ) {
    this.parent = `projects/${settings.project}/locations/${settings.region}`;
  }

  checkParent(parent: string): void {
    if (parent !== this.parent) {
      throw notFound(
        `Location '${parent}' is not served here: this local Cloud Run serves ${this.parent}`,
      );
    }
  }

  #get(name: string): ServiceRecord {
    const svc = this.#services.get(name);
    if (!svc) throw missingResource('SERVICE', name, this.settings);
    return svc;
  }

  get(name: string): JsonObject {
    return this.render(this.#get(name));
  }

  list(parent: string): JsonObject[] {
    this.checkParent(parent);
    return [...this.#services.values()].map((s) => this.render(s));
  }

  /** Creates a service; ALREADY_EXISTS when the id is taken. */
  async create(
    parent: string,
    id: string | null,
    body: JsonObject,
    validateOnly: boolean,
  ): Promise<Operation> {
    this.checkParent(parent);
    throwIfViolations(checkId('service id', 'service_id', id, 49));
    const name = `${parent}/services/${id}`;
    if (this.#services.has(name)) throw alreadyExists(`Resource '${id}' already exists.`);
    return this.#write(name, id!, undefined, userFields(body), validateOnly);
  }

  /** Updates (or with allowMissing creates) a service; the etag, when given, must match. */
  async update(
    name: string,
    body: JsonObject,
    options: { mask?: string[]; allowMissing: boolean; validateOnly: boolean },
  ): Promise<Operation> {
    const id = short(name);
    const existing = this.#services.get(name);
    if (!existing) {
      if (!options.allowMissing) this.#get(name);
      this.checkParent(name.slice(0, name.lastIndexOf('/services/')));
      throwIfViolations(checkId('service id', 'service.name', id, 49));
      return this.#write(name, id, undefined, userFields(body), options.validateOnly);
    }
    checkEtag(existing.meta, body.etag);
    const spec = options.mask
      ? applyMask(existing.spec, body, options.mask, SERVICE_FIELDS, 'service')
      : userFields(body);
    return this.#write(name, id, existing, spec, options.validateOnly);
  }

  async #write(
    name: string,
    id: string,
    existing: ServiceRecord | undefined,
    spec: JsonObject,
    validateOnly: boolean,
  ): Promise<Operation> {
    if (spec.template !== undefined) {
      spec.template = withDefaultServiceAccount(spec.template, this.settings.project) ?? {};
    }
    const template = asObject(spec.template);
    const newName =
      typeof template.revision === 'string' && template.revision ? template.revision : undefined;
    throwIfViolations([
      ...checkTemplate(id, spec, !existing),
      ...checkTraffic(existing, id, spec, newName),
    ]);
    // A new revision when the template changed; a named revision that exists must be identical.
    let makeRevision = !existing;
    if (existing) {
      const latest = existing.latestCreated
        ? existing.revisions.get(existing.latestCreated)
        : undefined;
      const named = newName ? existing.revisions.get(newName) : undefined;
      const comparable = (t: Json | undefined) => canonical({ ...asObject(t), revision: null });
      if (named) {
        if (comparable(named.template) !== comparable(template)) {
          throw alreadyExists(
            `Revision named '${newName}' with different configuration already exists.`,
          );
        }
      } else if (newName || !latest || comparable(latest.template) !== comparable(template)) {
        makeRevision = spec.template !== undefined;
      }
    }
    if (validateOnly) {
      const op = this.operations.create(this.parent, 'Service', () => ({}));
      this.operations.succeed(op, existing ? this.render(existing) : { name });
      return op;
    }
    const svc = existing ?? (await this.#newService(name, id));
    svc.spec = spec;
    if (existing) touch(svc.meta, true);
    svc.reconciling = true;
    svc.terminal = condition('Ready', 'CONDITION_RECONCILING');
    const generation = svc.meta.generation;
    let revision: RevisionRecord | undefined;
    if (makeRevision) revision = this.#newRevision(svc, newName);
    else if (newName) svc.latestCreated = newName;
    const op = this.operations.create(this.parent, 'Service', () => this.render(svc));
    void this.#reconcile(svc, generation, op, revision);
    return op;
  }

  async #newService(name: string, id: string): Promise<ServiceRecord> {
    const svc: ServiceRecord = {
      meta: newMeta(name),
      id,
      spec: {},
      revisions: new Map(),
      counter: 0,
      served: [],
      observedGeneration: 0,
      terminal: condition('Ready', 'CONDITION_RECONCILING'),
      conditions: [],
      reconciling: true,
      listener: undefined as unknown as Listener,
      tags: new Map(),
    };
    svc.listener = await openListener(() => this.#route(svc));
    this.#services.set(name, svc);
    return svc;
  }

  #newRevision(svc: ServiceRecord, requested: string | undefined): RevisionRecord {
    svc.counter++;
    const id = requested ?? `${svc.id}-${String(svc.counter).padStart(5, '0')}-${randomSuffix(3)}`;
    const template = structuredClone(asObject(svc.spec.template));
    const rev: RevisionRecord = {
      meta: newMeta(`${svc.meta.name}/revisions/${id}`),
      id,
      template,
      state: 'pending',
      conditions: [condition('Ready', 'CONDITION_RECONCILING')],
      log: new LogFile(join(this.settings.logDir, 'services', svc.id, `${id}.log`)),
      settled: Promise.resolve(),
    };
    svc.revisions.set(id, rev);
    svc.latestCreated = id;
    rev.settled = this.#startRevision(svc, rev);
    return rev;
  }

  async #startRevision(svc: ServiceRecord, rev: RevisionRecord): Promise<void> {
    const container = asObject(asList(rev.template.containers)[0]);
    try {
      const image = await this.settings.images.resolve(String(container.image)).catch((err) => {
        throw new RunwayError(
          'NOT_FOUND',
          err instanceof RunwayError && err.code === 'NOT_FOUND'
            ? err.message
            : `Image '${container.image}' not found: ${(err as Error).message}`,
        );
      });
      rev.digest = image.digest;
      const env = {
        ...containerEnv(image, container),
        K_SERVICE: svc.id,
        K_REVISION: rev.id,
        K_CONFIGURATION: svc.id,
      };
      rev.instances = new RevisionInstances(
        {
          argv: argvFor(image, container),
          cwd: image.dir,
          env,
          log: rev.log,
          startupTimeoutMs: this.settings.startupTimeoutMs,
          idleMs: this.settings.idleMs,
          graceMs: this.settings.graceMs,
          ...(this.settings.ledger ? { ledger: this.settings.ledger } : {}),
        },
        // As Knative and Cloud Run do, an instance that dies unasked marks the revision's
        // ContainerHealthy condition, so a canary can see that its candidate crashed.
        (exit) => {
          const message = exit.signal
            ? `Container terminated on signal ${osConstants.signals[exit.signal] ?? exit.signal}.`
            : `Container called exit(${exit.code}).`;
          rev.conditions = rev.conditions.map((c) =>
            c.type === 'ContainerHealthy'
              ? condition('ContainerHealthy', 'CONDITION_FAILED', { message })
              : c,
          );
          touch(rev.meta, false);
        },
      );
      await rev.instances.start();
      rev.state = 'ready';
      rev.conditions = [
        condition('Ready', 'CONDITION_SUCCEEDED'),
        condition('ContainerHealthy', 'CONDITION_SUCCEEDED'),
        condition('ResourcesAvailable', 'CONDITION_SUCCEEDED'),
      ];
      if (
        !svc.latestReady ||
        (svc.revisions.get(svc.latestReady)?.meta.createTime ?? 0) <= rev.meta.createTime
      ) {
        svc.latestReady = rev.id;
      }
    } catch (err) {
      rev.state = 'failed';
      rev.message = `${(err as Error).message}${err instanceof StartupError ? ` Logs: runway logs ${svc.id} --revision ${rev.id}` : ''}`;
      const missing = err instanceof RunwayError && err.code === 'NOT_FOUND';
      rev.conditions = [
        condition('Ready', 'CONDITION_FAILED', {
          message: rev.message,
          ...(missing ? { reason: 'CONTAINER_MISSING' } : {}),
        }),
        condition('ContainerHealthy', 'CONDITION_FAILED', {
          message: rev.message,
          ...(err instanceof StartupError
            ? { revisionReason: 'HEALTH_CHECK_CONTAINER_ERROR' }
            : {}),
        }),
      ];
      rev.log.write('runway', `revision failed: ${rev.message}`);
    }
    touch(rev.meta, false);
  }

  /** Waits for the new revision, then moves traffic if this write is still the newest. */
  async #reconcile(
    svc: ServiceRecord,
    generation: number,
    op: Operation,
    revision?: RevisionRecord,
  ): Promise<void> {
    try {
      if (revision) await revision.settled;
      if (revision?.state === 'failed') {
        throw failedPrecondition(
          `Revision '${revision.id}' is not ready and cannot serve traffic. ${revision.message}`,
        );
      }
      const targets = this.#resolveTraffic(svc);
      for (const t of targets) {
        const rev = svc.revisions.get(t.revision);
        if (rev?.state === 'pending') await rev.settled;
        if (rev?.state === 'failed') {
          throw failedPrecondition(
            `Revision '${t.revision}' is not ready and cannot serve traffic. ${rev.message}`,
          );
        }
      }
      if (svc.meta.generation === generation && this.#services.get(svc.meta.name) === svc) {
        await this.#serve(svc, this.#resolveTraffic(svc));
        svc.observedGeneration = generation;
        svc.reconciling = false;
        svc.terminal = condition('Ready', 'CONDITION_SUCCEEDED');
        svc.conditions = [
          condition('ConfigurationsReady', 'CONDITION_SUCCEEDED'),
          condition('RoutesReady', 'CONDITION_SUCCEEDED'),
        ];
      }
      this.operations.succeed(op, this.render(svc));
    } catch (err) {
      if (svc.meta.generation === generation) {
        svc.observedGeneration = generation;
        svc.reconciling = false;
        const message = (err as Error).message;
        svc.terminal = condition('Ready', 'CONDITION_FAILED', {
          message,
          reason: 'REVISION_FAILED',
        });
        svc.conditions = [
          condition(
            'ConfigurationsReady',
            revision?.state === 'failed' ? 'CONDITION_FAILED' : 'CONDITION_SUCCEEDED',
            revision?.state === 'failed' ? { message } : {},
          ),
          condition('RoutesReady', 'CONDITION_FAILED', { message }),
        ];
      }
      this.operations.fail(op, err);
    }
  }

  /** The spec's traffic with LATEST resolved to the latest ready revision. */
  #resolveTraffic(svc: ServiceRecord): Target[] {
    const traffic = asList(svc.spec.traffic);
    const entries = traffic.length ? traffic.map(asObject) : [{ type: LATEST, percent: 100 }];
    return entries.map((t) => {
      const type = (t.type ?? (t.revision ? REVISION : LATEST)) as AllocationType;
      const revision = type === LATEST ? (svc.latestReady ?? '') : String(t.revision);
      return {
        type,
        revision,
        percent: typeof t.percent === 'number' ? t.percent : 0,
        ...(typeof t.tag === 'string' && t.tag ? { tag: t.tag } : {}),
      };
    });
  }

  async #serve(svc: ServiceRecord, targets: Target[]): Promise<void> {
    svc.served = targets.filter((t) => t.revision);
    svc.routing = undefined;
    for (const t of svc.served) {
      if (t.tag && !svc.tags.has(t.tag)) {
        const tag = t.tag;
        svc.tags.set(tag, await openListener(() => this.#routeTag(svc, tag)));
      }
    }
    const minFor = (rev: RevisionRecord) => {
      const own = asObject(rev.template.scaling).minInstanceCount;
      const service = asObject(svc.spec.scaling).minInstanceCount;
      return Math.max(typeof own === 'number' ? own : 0, typeof service === 'number' ? service : 0);
    };
    for (const rev of svc.revisions.values()) {
      const serving = svc.served.filter((t) => t.revision === rev.id);
      if (serving.some((t) => t.percent > 0)) rev.instances?.setMinInstances(minFor(rev));
      else if (serving.length > 0) rev.instances?.setMinInstances(0);
      else if (rev.instances?.running) void rev.instances.retire();
    }
  }

  #backend(svc: ServiceRecord, rev: RevisionRecord): Backend {
    return {
      revision: rev.id,
      instances: rev.instances!,
      record: (status) => this.settings.metrics?.record(svc.id, rev.id, status),
      timeoutMs:
        typeof rev.template.timeout === 'string'
          ? Number(rev.template.timeout.slice(0, -1)) * 1000
          : 300_000,
    };
  }

  #route(svc: ServiceRecord): Routing {
    svc.routing ??= this.#computeRoute(svc);
    return svc.routing;
  }

  #computeRoute(svc: ServiceRecord): Routing {
    const targets = svc.served
      .filter((t) => t.percent > 0)
      .map((t) => ({ t, rev: svc.revisions.get(t.revision) }))
      .filter((x) => x.rev?.instances)
      .map(({ t, rev }) => ({
        backend: this.#backend(svc, rev!),
        percent: t.percent,
      }));
    if (targets.length === 0) {
      return {
        kind: 'none',
        status: 503,
        message: `Service Unavailable: service ${svc.id} has no ready revision serving traffic`,
      };
    }
    return { kind: 'split', targets };
  }

  #routeTag(svc: ServiceRecord, tag: string): Routing {
    const t = svc.served.find((x) => x.tag === tag);
    const rev = t && svc.revisions.get(t.revision);
    if (!rev?.instances) {
      return {
        kind: 'none',
        status: 404,
        message: `Not Found: tag '${tag}' no longer points at a revision of ${svc.id}`,
      };
    }
    return {
      kind: 'split',
      targets: [{ backend: this.#backend(svc, rev), percent: 100 }],
    };
  }

  async delete(name: string, etag: string | null): Promise<Operation> {
    const svc = this.#get(name);
    checkEtag(svc.meta, etag ?? undefined);
    this.#services.delete(name);
    const rendered = this.render(svc);
    const op = this.operations.create(this.parent, 'Service', () => rendered);
    await this.#shutdown(svc);
    this.operations.succeed(op, { ...rendered, deleteTime: iso(Date.now()) });
    return op;
  }

  async #shutdown(svc: ServiceRecord): Promise<void> {
    await Promise.all([
      svc.listener.close(),
      ...[...svc.tags.values()].map((l) => l.close()),
      ...[...svc.revisions.values()].map(async (r) => {
        await r.instances?.retire();
        await r.log.close();
      }),
    ]);
  }

  /** Every service's processes stopped and listeners closed. */
  async close(): Promise<void> {
    const all = [...this.#services.values()];
    this.#services.clear();
    await Promise.all(all.map((s) => this.#shutdown(s)));
  }

  kill(): void {
    for (const svc of this.#services.values())
      for (const r of svc.revisions.values()) r.instances?.kill();
  }

  // --- revisions ---

  #revision(name: string): { svc: ServiceRecord; rev: RevisionRecord } {
    const m = /^(.*\/services\/[^/]+)\/revisions\/([^/]+)$/.exec(name);
    const svc = m ? this.#services.get(m[1]!) : undefined;
    const rev = svc?.revisions.get(m![2]!);
    if (!svc || !rev) throw notFound(`Revision '${short(name)}' does not exist.`);
    return { svc, rev };
  }

  getRevision(name: string): JsonObject {
    const { svc, rev } = this.#revision(name);
    return this.renderRevision(svc, rev);
  }

  listRevisions(parent: string): JsonObject[] {
    const svc = this.#get(parent);
    return [...svc.revisions.values()].reverse().map((r) => this.renderRevision(svc, r));
  }

  async deleteRevision(name: string, etag: string | null): Promise<Operation> {
    const { svc, rev } = this.#revision(name);
    checkEtag(rev.meta, etag ?? undefined);
    const inSpec = this.#resolveTraffic(svc).some((t) => t.revision === rev.id);
    if (svc.served.some((t) => t.revision === rev.id) || inSpec) {
      throw failedPrecondition(
        `Revision '${rev.id}' is serving traffic or named in the service's traffic; move traffic away before deleting it.`,
      );
    }
    if (rev.state === 'pending')
      throw failedPrecondition(`Revision '${rev.id}' is still starting.`);
    svc.revisions.delete(rev.id);
    if (svc.latestReady === rev.id) svc.latestReady = undefined;
    const rendered = this.renderRevision(svc, rev);
    const op = this.operations.create(this.parent, 'Revision', () => rendered);
    await rev.instances?.retire();
    await rev.log.close();
    this.operations.succeed(op, rendered);
    return op;
  }

  /** Logs of a revision, for `runway logs`. */
  logPath(service: string, revision?: string): string {
    const svc = this.#get(service);
    const id = revision ?? svc.latestCreated;
    if (!id || !svc.revisions.has(id)) throw notFound(`Revision '${id}' does not exist.`);
    return svc.revisions.get(id)!.log.path;
  }

  /** A revision's process id, for tests that kill it. */
  pidOf(service: string, revision: string): number | undefined {
    return this.#get(service).revisions.get(revision)?.instances?.pid;
  }

  // --- rendering ---

  render(svc: ServiceRecord): JsonObject {
    const spec = svc.spec;
    const full = (id?: string) => (id ? `${svc.meta.name}/revisions/${id}` : '');
    const traffic = asList(spec.traffic).length ? spec.traffic! : [{ type: LATEST, percent: 100 }];
    const tagUri = (tag?: string) => (tag ? svc.tags.get(tag)?.url : undefined);
    return {
      ...renderMeta(svc.meta),
      description: spec.description ?? '',
      labels: spec.labels ?? {},
      annotations: spec.annotations ?? {},
      creator: 'runway-local',
      lastModifier: 'runway-local',
      ...(spec.client ? { client: spec.client } : {}),
      ingress: spec.ingress ?? 'INGRESS_TRAFFIC_ALL',
      launchStage: spec.launchStage ?? 'GA',
      template: spec.template ?? {},
      traffic,
      ...(spec.scaling ? { scaling: spec.scaling } : {}),
      observedGeneration: String(svc.observedGeneration),
      terminalCondition: svc.terminal as unknown as JsonObject,
      conditions: svc.conditions as unknown as Json[],
      latestReadyRevision: full(svc.latestReady),
      latestCreatedRevision: full(svc.latestCreated),
      trafficStatuses: svc.served.map((t) => ({
        type: t.type,
        ...(t.type === REVISION ? { revision: t.revision } : {}),
        percent: t.percent,
        ...(t.tag ? { tag: t.tag, uri: tagUri(t.tag) ?? '' } : {}),
      })),
      uri: svc.listener.url,
      urls: [svc.listener.url],
      reconciling: svc.reconciling,
    };
  }

  renderRevision(svc: ServiceRecord, rev: RevisionRecord): JsonObject {
    const t = rev.template;
    const container = asObject(asList(t.containers)[0]);
    return {
      ...renderMeta(rev.meta),
      labels: t.labels ?? {},
      annotations: t.annotations ?? {},
      launchStage: 'GA',
      service: svc.meta.name,
      scaling: t.scaling ?? {},
      containers: t.containers ?? [],
      timeout: t.timeout ?? '300s',
      serviceAccount: t.serviceAccount ?? '',
      maxInstanceRequestConcurrency: t.maxInstanceRequestConcurrency ?? 80,
      executionEnvironment: t.executionEnvironment ?? 'EXECUTION_ENVIRONMENT_GEN2',
      conditions: rev.conditions as unknown as Json[],
      observedGeneration: String(rev.meta.generation),
      reconciling: rev.state === 'pending',
      ...(rev.digest
        ? {
            containerStatuses: [
              {
                name: String(container.name ?? ''),
                imageDigest: `${String(container.image)
                  .split('@')[0]!
                  .replace(/:[^/:]*$/, '')}@${rev.digest}`,
              },
            ],
          }
        : {}),
      scalingStatus: { desiredMinInstanceCount: rev.instances?.running ? 1 : 0 },
    };
  }
}
