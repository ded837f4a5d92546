// Services of the local Cloud Run, kept in the resource table. A write that changes the template
// makes a new revision (revisions.ts), which must start and pass its startup probe; traffic
// (traffic.ts) moves only to ready revisions, so a revision that fails leaves the service serving
// what it served before, with a failed terminal condition and a failed operation, as on Cloud Run.
import { failedPrecondition, type FieldViolation, notFound } from '../../services/shared/errors.ts';
import type { Operation, Operations } from './operations.ts';
import type { Json, JsonObject } from './proto-json.ts';
import {
  type Condition,
  checkEtag,
  condition,
  locationOf,
  type Meta,
  renderMeta,
  type RunSettings,
  fallbackAccount,
  withDefaultServiceAccount,
} from './resources.ts';
import {
  checkTemplate,
  newRevision,
  type RevisionRecord,
  renderRevision,
  requestedRevision,
  revisionPlan,
} from './revisions.ts';
import { type Listener, openListener, type RequestGate, type Routing } from './router.ts';
import { type ResourceKind, ResourceTable, type UpdateOptions } from './table.ts';
import { checkTraffic, renderTraffic, resolveTraffic, type Target, Traffic } from './traffic.ts';

export interface ServiceRecord {
  meta: Meta;
  id: string;
  spec: JsonObject;
  revisions: Map<string, RevisionRecord>;
  counter: number;
  latestCreated?: string | undefined;
  latestReady?: string | undefined;
  /** The traffic being served: only ready revisions, LATEST resolved. */
  served: Target[];
  observedGeneration: number;
  terminal: Condition;
  conditions: Condition[];
  reconciling: boolean;
  /** The service URL; a service that validate_only drafts has none. */
  listener?: Listener;
  tags: Map<string, Listener>;
  /** The service URL's routing, computed once per traffic change. */
  routing?: Routing | undefined;
  /** The invoker check of its URLs (RunSettings.invoker), if any. */
  gate?: RequestGate | undefined;
}

/**
 * The audiences Cloud Run accepts in a token for a service: its URL, its tags' URLs (each a URL of
 * its own here) and its `customAudiences`.
 */
export function audiencesOf(svc: ServiceRecord): string[] {
  const out: string[] = [];
  if (svc.listener) out.push(svc.listener.url);
  for (const l of svc.tags.values()) out.push(l.url);
  const custom = svc.spec.customAudiences;
  if (Array.isArray(custom)) for (const a of custom) if (typeof a === 'string') out.push(a);
  return out;
}

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

const short = (name: string) => name.split('/').pop() ?? name;

export class Services implements ResourceKind<ServiceRecord> {
  readonly type = 'Service';
  readonly field = 'service';
  readonly collection = 'services';
  readonly maxId = 49;
  readonly writable = SERVICE_FIELDS;
  readonly maskable = true;
  readonly table: ResourceTable<ServiceRecord>;
  readonly traffic: Traffic;

  constructor(
    readonly settings: RunSettings,
    readonly operations: Operations,
  ) {
    this.table = new ResourceTable(this, settings, operations);
    this.traffic = new Traffic(settings.metrics);
  }

  get parent(): string {
    return this.table.parent;
  }

  checkParent(parent: string): void {
    this.table.checkParent(parent);
  }

  get(name: string): JsonObject {
    return this.table.get(name);
  }

  list(parent: string): JsonObject[] {
    return this.table.list(parent);
  }

  create(parent: string, id: string | null, body: JsonObject, validateOnly: boolean) {
    return this.table.create(parent, id, body, validateOnly);
  }

  update(name: string, body: JsonObject, options: UpdateOptions): Promise<Operation> {
    return this.table.update(name, body, options);
  }

  delete(name: string, etag: string | null, validateOnly = false): Promise<Operation> {
    return this.table.delete(name, etag, validateOnly);
  }

  // --- the resource kind: what the table asks of a service ---

  withDefaults(spec: JsonObject): JsonObject {
    if (spec.template === undefined) return spec;
    return {
      ...spec,
      template: withDefaultServiceAccount(spec.template, fallbackAccount(this.settings)) ?? {},
    };
  }

  check(id: string, spec: JsonObject, existing: ServiceRecord | undefined): FieldViolation[] {
    const violations = [
      ...checkTemplate(id, spec),
      ...checkTraffic(existing, id, spec, requestedRevision(spec)),
    ];
    // A named revision that exists with another template is a conflict, not a bad field.
    if (violations.length === 0) revisionPlan(existing, spec);
    return violations;
  }

  blank(meta: Meta, id: string, spec: JsonObject): ServiceRecord {
    return {
      meta,
      id,
      spec,
      revisions: new Map(),
      counter: 0,
      served: [],
      observedGeneration: 0,
      terminal: condition('Ready', 'CONDITION_RECONCILING'),
      conditions: [],
      reconciling: true,
      tags: new Map(),
    };
  }

  async open(svc: ServiceRecord): Promise<void> {
    const { invoker } = this.settings;
    if (invoker) {
      svc.gate = (req) =>
        invoker({
          service: svc.meta.name,
          audiences: audiencesOf(svc),
          authorization: req.headers.authorization,
        });
    }
    svc.listener = await openListener(() => this.traffic.route(svc), svc.gate);
  }

  /** Makes a revision when the write asks for one, then reconciles in the background. */
  apply(svc: ServiceRecord, created: boolean): Operation {
    const plan = revisionPlan(created ? undefined : svc, svc.spec);
    svc.reconciling = true;
    svc.terminal = condition('Ready', 'CONDITION_RECONCILING');
    const generation = svc.meta.generation;
    let revision: RevisionRecord | undefined;
    if (plan.make) revision = newRevision(this.settings, svc, plan.name);
    else if (plan.name) svc.latestCreated = plan.name;
    const op = this.operations.create(locationOf(svc.meta.name), 'Service', () => this.render(svc));
    void this.#reconcile(svc, generation, op, revision);
    return op;
  }

  /** Waits for the new revision, then moves traffic if this write is still the newest. */
  async #reconcile(
    svc: ServiceRecord,
    generation: number,
    op: Operation,
    revision?: RevisionRecord,
  ): Promise<void> {
    try {
      await this.#settle(svc, revision);
      if (svc.meta.generation === generation && this.table.find(svc.meta.name) === svc) {
        await this.traffic.serve(svc, resolveTraffic(svc));
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
      if (svc.meta.generation === generation) this.#failed(svc, generation, err, revision);
      this.operations.fail(op, err);
    }
  }

  /** Waits until the new revision and every revision the traffic names are ready, or throws. */
  async #settle(svc: ServiceRecord, revision: RevisionRecord | undefined): Promise<void> {
    if (revision) await revision.settled;
    const notReady = (rev: RevisionRecord) =>
      failedPrecondition(
        `Revision '${rev.id}' is not ready and cannot serve traffic. ${rev.message}`,
      );
    if (revision?.state === 'failed') throw notReady(revision);
    for (const t of resolveTraffic(svc)) {
      const rev = svc.revisions.get(t.revision);
      if (rev?.state === 'pending') await rev.settled;
      if (rev?.state === 'failed') throw notReady(rev);
    }
  }

  #failed(svc: ServiceRecord, generation: number, err: unknown, revision?: RevisionRecord): void {
    svc.observedGeneration = generation;
    svc.reconciling = false;
    const message = (err as Error).message;
    svc.terminal = condition('Ready', 'CONDITION_FAILED', { message, reason: 'REVISION_FAILED' });
    const revisionFailed = revision?.state === 'failed';
    svc.conditions = [
      condition(
        'ConfigurationsReady',
        revisionFailed ? 'CONDITION_FAILED' : 'CONDITION_SUCCEEDED',
        revisionFailed ? { message } : {},
      ),
      condition('RoutesReady', 'CONDITION_FAILED', { message }),
    ];
  }

  /** Closes the service's URLs and stops every revision's instances. */
  async remove(svc: ServiceRecord): Promise<void> {
    await Promise.all([
      svc.listener?.close(),
      ...[...svc.tags.values()].map((l) => l.close()),
      ...[...svc.revisions.values()].map(async (r) => {
        await r.instances?.close();
        await r.log.close();
      }),
    ]);
  }

  /** Every service's processes stopped and listeners closed. */
  close(): Promise<void> {
    return this.table.close();
  }

  kill(): void {
    for (const svc of this.table.records())
      for (const r of svc.revisions.values()) r.instances?.kill();
  }

  // --- revisions ---

  #revision(name: string): { svc: ServiceRecord; rev: RevisionRecord } {
    const m = /^(.*\/services\/[^/]+)\/revisions\/([^/]+)$/.exec(name);
    const svc = m ? this.table.find(m[1]!) : undefined;
    const rev = svc?.revisions.get(m![2]!);
    if (!svc || !rev) throw notFound(`Revision '${short(name)}' does not exist.`);
    return { svc, rev };
  }

  getRevision(name: string): JsonObject {
    const { svc, rev } = this.#revision(name);
    return renderRevision(svc.meta.name, rev);
  }

  listRevisions(parent: string): JsonObject[] {
    const svc = this.table.record(parent);
    return [...svc.revisions.values()].reverse().map((r) => renderRevision(svc.meta.name, r));
  }

  async deleteRevision(name: string, etag: string | null): Promise<Operation> {
    const { svc, rev } = this.#revision(name);
    checkEtag(rev.meta, etag ?? undefined);
    const inSpec = resolveTraffic(svc).some((t) => t.revision === rev.id);
    if (svc.served.some((t) => t.revision === rev.id) || inSpec) {
      throw failedPrecondition(
        `Revision '${rev.id}' is serving traffic or named in the service's traffic; move traffic away before deleting it.`,
      );
    }
    if (rev.state === 'pending')
      throw failedPrecondition(`Revision '${rev.id}' is still starting.`);
    svc.revisions.delete(rev.id);
    if (svc.latestReady === rev.id) svc.latestReady = undefined;
    const rendered = renderRevision(svc.meta.name, rev);
    const op = this.operations.create(locationOf(name), 'Revision', () => rendered);
    await rev.instances?.close();
    await rev.log.close();
    this.operations.succeed(op, rendered);
    return op;
  }

  /** Logs of a revision, for `runway logs`. */
  logPath(service: string, revision?: string): string {
    const svc = this.table.record(service);
    const id = revision ?? svc.latestCreated;
    if (!id || !svc.revisions.has(id)) throw notFound(`Revision '${id}' does not exist.`);
    return svc.revisions.get(id)!.log.path;
  }

  /** A revision's process id, for tests that kill it. */
  pidOf(service: string, revision: string): number | undefined {
    return this.table.record(service).revisions.get(revision)?.instances?.pid;
  }

  // --- rendering ---

  render(svc: ServiceRecord): JsonObject {
    const spec = svc.spec;
    const full = (id?: string) => (id ? `${svc.meta.name}/revisions/${id}` : '');
    const { traffic, trafficStatuses } = renderTraffic(svc);
    const uri = svc.listener?.url ?? '';
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
      traffic: traffic!,
      ...(spec.scaling ? { scaling: spec.scaling } : {}),
      observedGeneration: String(svc.observedGeneration),
      terminalCondition: svc.terminal as unknown as JsonObject,
      conditions: svc.conditions as unknown as Json[],
      latestReadyRevision: full(svc.latestReady),
      latestCreatedRevision: full(svc.latestCreated),
      trafficStatuses: trafficStatuses!,
      uri,
      urls: uri ? [uri] : [],
      reconciling: svc.reconciling,
    };
  }
}
