// Worker pools of the local Cloud Run, kept in the resource table: always-on, pull-based workers
// with no port. A write that changes the template makes a new revision, whose first instance must
// keep running a short grace to be ready; the pool's instance splits (splits.ts) then share its
// manual instance count among ready revisions, each instance a process (pool-instances.ts). A
// revision that fails leaves the pool running what it ran, with a failed condition and operation.
import { join } from 'node:path';
import {
  failedPrecondition,
  type FieldViolation,
  notFound,
  RunwayError,
} from '../../services/shared/errors.ts';
import { argvFor, asList, asObject, checkContainers, containerEnv } from './containers.ts';
import { StartupError } from './instances.ts';
import type { Operation, Operations } from './operations.ts';
import { PoolInstances } from './pool-instances.ts';
import { type Exit, LogFile } from './process.ts';
import type { Json, JsonObject } from './proto-json.ts';
import {
  type Condition,
  checkEtag,
  checkId,
  condition,
  iso,
  logFolder,
  locationOf,
  type Meta,
  newMeta,
  randomSuffix,
  renderMeta,
  type RunSettings,
  touch,
  fallbackAccount,
  withDefaultServiceAccount,
} from './resources.ts';
import { crashMessage, requestedRevision, resolveImage, revisionPlan } from './revisions.ts';
import { checkSplits, resolveSplits, type Split, splitCounts, writtenSplits } from './splits.ts';
import { type ResourceKind, ResourceTable, type UpdateOptions } from './table.ts';

/** Cloud Run sets these in a worker pool's instances; a template may not. */
const RESERVED_ENV = ['CLOUD_RUN_WORKER_POOL', 'CLOUD_RUN_REVISION'];
/** Without `scaling.manualInstanceCount`, a pool runs one instance, as Cloud Run's default. */
export const DEFAULT_INSTANCES = 1;
/** The local Cloud Run's own ceiling: every instance is a process on this machine. */
const MAX_LOCAL_INSTANCES = 100;

const POOL_FIELDS = new Set([
  'description',
  'labels',
  'annotations',
  'client',
  'clientVersion',
  'launchStage',
  'binaryAuthorization',
  'template',
  'instanceSplits',
  'scaling',
  'customAudiences',
]);

const short = (name: string) => name.split('/').pop() ?? name;

export interface PoolRevisionRecord {
  meta: Meta;
  id: string;
  template: JsonObject;
  state: 'pending' | 'ready' | 'failed';
  conditions: Condition[];
  message?: string;
  digest?: string;
  instances?: PoolInstances;
  log: LogFile;
  /** Settles when the revision is ready or has failed. */
  settled: Promise<void>;
}

export interface WorkerPoolRecord {
  meta: Meta;
  id: string;
  spec: JsonObject;
  revisions: Map<string, PoolRevisionRecord>;
  counter: number;
  latestCreated?: string | undefined;
  latestReady?: string | undefined;
  /** The splits being run: LATEST resolved, only ready revisions. */
  served: Split[];
  observedGeneration: number;
  terminal: Condition;
  conditions: Condition[];
  reconciling: boolean;
}

/** The pool's manual instance count, or the default. */
export function instanceCount(spec: JsonObject): number {
  const n = asObject(spec.scaling).manualInstanceCount;
  return typeof n === 'number' ? n : DEFAULT_INSTANCES;
}

/** The checks of a pool's template, scaling and description (the splits are checked apart). */
export function checkPool(id: string, spec: JsonObject): FieldViolation[] {
  const out: FieldViolation[] = [];
  if (typeof spec.description === 'string' && spec.description.length > 512) {
    out.push({
      field: 'worker_pool.description',
      description: 'description must be at most 512 characters',
    });
  }
  if (spec.template !== undefined) {
    const t = asObject(spec.template);
    out.push(...checkContainers(t.containers, 'worker_pool.template.containers', RESERVED_ENV));
    if (t.revision !== undefined && t.revision !== '') {
      const v = checkId('revision name', 'worker_pool.template.revision', t.revision, 63);
      if (v.length) out.push(...v);
      else if (!String(t.revision).startsWith(`${id}-`)) {
        out.push({
          field: 'worker_pool.template.revision',
          description: `revision name '${t.revision}' must start with the worker pool name and a hyphen ('${id}-')`,
        });
      }
    }
  }
  const count = asObject(spec.scaling).manualInstanceCount;
  if (count !== undefined && (typeof count !== 'number' || count < 0)) {
    out.push({
      field: 'worker_pool.scaling.manual_instance_count',
      description: 'manual_instance_count must be 0 or more',
    });
  } else if (typeof count === 'number' && count > MAX_LOCAL_INSTANCES) {
    out.push({
      field: 'worker_pool.scaling.manual_instance_count',
      description: `the local Cloud Run runs at most ${MAX_LOCAL_INSTANCES} instances per worker pool (each is a process on this machine)`,
    });
  }
  return out;
}

export class WorkerPools implements ResourceKind<WorkerPoolRecord> {
  readonly type = 'WorkerPool';
  readonly field = 'workerPool';
  readonly collection = 'workerPools';
  readonly maxId = 49;
  readonly writable = POOL_FIELDS;
  readonly maskable = true;
  readonly table: ResourceTable<WorkerPoolRecord>;
  /** Set only while an update with force_new_revision runs up to its apply (synchronously). */
  #forceNewRevision = false;

  constructor(
    readonly settings: RunSettings,
    readonly operations: Operations,
  ) {
    this.table = new ResourceTable(this, settings, operations);
  }

  get parent(): string {
    return this.table.parent;
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

  update(
    name: string,
    body: JsonObject,
    options: UpdateOptions & { forceNewRevision?: boolean },
  ): Promise<Operation> {
    // The table reaches apply() before its first await, so the flag covers exactly this write.
    this.#forceNewRevision = options.forceNewRevision === true;
    try {
      return this.table.update(name, body, options);
    } finally {
      this.#forceNewRevision = false;
    }
  }

  delete(name: string, etag: string | null, validateOnly = false): Promise<Operation> {
    return this.table.delete(name, etag, validateOnly);
  }

  // --- the resource kind: what the table asks of a worker pool ---

  withDefaults(spec: JsonObject): JsonObject {
    if (spec.template === undefined) return spec;
    return {
      ...spec,
      template: withDefaultServiceAccount(spec.template, fallbackAccount(this.settings)) ?? {},
    };
  }

  check(id: string, spec: JsonObject, existing: WorkerPoolRecord | undefined): FieldViolation[] {
    const violations = [
      ...checkPool(id, spec),
      ...checkSplits(
        spec.instanceSplits,
        id,
        (r) => existing?.revisions.has(r) ?? false,
        requestedRevision(spec),
      ),
    ];
    // A named revision that exists with another template is a conflict, not a bad field.
    if (violations.length === 0) revisionPlan(existing, spec);
    return violations;
  }

  blank(meta: Meta, id: string, spec: JsonObject): WorkerPoolRecord {
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
    };
  }

  async open(): Promise<void> {}

  /** Makes a revision when the write asks for one, then reconciles in the background. */
  apply(pool: WorkerPoolRecord, created: boolean): Operation {
    const plan = revisionPlan(created ? undefined : pool, pool.spec);
    pool.reconciling = true;
    pool.terminal = condition('Ready', 'CONDITION_RECONCILING');
    const generation = pool.meta.generation;
    let revision: PoolRevisionRecord | undefined;
    if (plan.make || (this.#forceNewRevision && !plan.name)) {
      revision = this.#newRevision(pool, plan.name);
    } else if (plan.name) pool.latestCreated = plan.name;
    const op = this.operations.create(locationOf(pool.meta.name), 'WorkerPool', () =>
      this.render(pool),
    );
    void this.#reconcile(pool, generation, op, revision);
    return op;
  }

  async #reconcile(
    pool: WorkerPoolRecord,
    generation: number,
    op: Operation,
    revision?: PoolRevisionRecord,
  ): Promise<void> {
    try {
      await this.#settle(pool, revision);
      if (pool.meta.generation === generation && this.table.find(pool.meta.name) === pool) {
        pool.served = resolveSplits(pool.spec.instanceSplits, pool.latestReady).filter(
          (s) => s.revision,
        );
        pool.observedGeneration = generation;
        pool.reconciling = false;
        pool.terminal = condition('Ready', 'CONDITION_SUCCEEDED');
        pool.conditions = [condition('ConfigurationsReady', 'CONDITION_SUCCEEDED')];
      }
      this.#scale(pool);
      this.operations.succeed(op, this.render(pool));
    } catch (err) {
      if (pool.meta.generation === generation) this.#failed(pool, generation, err, revision);
      this.#scale(pool);
      this.operations.fail(op, err);
    }
  }

  /** Waits until the new revision and every revision the splits name are ready, or throws. */
  async #settle(pool: WorkerPoolRecord, revision: PoolRevisionRecord | undefined): Promise<void> {
    if (revision) await revision.settled;
    const notReady = (rev: PoolRevisionRecord) =>
      failedPrecondition(
        `Revision '${rev.id}' is not ready and cannot be given instances. ${rev.message}`,
      );
    if (revision?.state === 'failed') throw notReady(revision);
    for (const s of resolveSplits(pool.spec.instanceSplits, pool.latestReady)) {
      const rev = pool.revisions.get(s.revision);
      if (rev?.state === 'pending') await rev.settled;
      if (rev?.state === 'failed') throw notReady(rev);
    }
  }

  /** Gives each revision the instances the served splits give it; the rest run none. */
  #scale(pool: WorkerPoolRecord): void {
    if (this.table.find(pool.meta.name) !== pool) return;
    const counts = splitCounts(instanceCount(pool.spec), pool.served);
    for (const rev of pool.revisions.values()) {
      if (rev.state === 'ready') rev.instances?.scale(counts.get(rev.id) ?? 0);
    }
  }

  #failed(
    pool: WorkerPoolRecord,
    generation: number,
    err: unknown,
    revision?: PoolRevisionRecord,
  ): void {
    pool.observedGeneration = generation;
    pool.reconciling = false;
    const message = (err as Error).message;
    pool.terminal = condition('Ready', 'CONDITION_FAILED', { message, reason: 'REVISION_FAILED' });
    pool.conditions = [
      condition(
        'ConfigurationsReady',
        revision?.state === 'failed' ? 'CONDITION_FAILED' : 'CONDITION_SUCCEEDED',
        revision?.state === 'failed' ? { message } : {},
      ),
    ];
  }

  /** Stops every revision's instances. */
  async remove(pool: WorkerPoolRecord): Promise<void> {
    await Promise.all(
      [...pool.revisions.values()].map(async (r) => {
        await r.settled;
        await r.instances?.retire();
        await r.log.close();
      }),
    );
  }

  close(): Promise<void> {
    return this.table.close();
  }

  kill(): void {
    for (const pool of this.table.records())
      for (const r of pool.revisions.values()) r.instances?.kill();
  }

  // --- revisions ---

  #newRevision(pool: WorkerPoolRecord, requested: string | undefined): PoolRevisionRecord {
    pool.counter++;
    const id =
      requested ?? `${pool.id}-${String(pool.counter).padStart(5, '0')}-${randomSuffix(3)}`;
    const rev: PoolRevisionRecord = {
      meta: newMeta(`${pool.meta.name}/revisions/${id}`),
      id,
      template: structuredClone(asObject(pool.spec.template)),
      state: 'pending',
      conditions: [condition('Ready', 'CONDITION_RECONCILING')],
      log: new LogFile(join(logFolder(this.settings, pool.meta.name, 'workerPools'), `${id}.log`)),
      settled: Promise.resolve(),
    };
    pool.revisions.set(id, rev);
    pool.latestCreated = id;
    rev.settled = this.#start(pool, rev);
    return rev;
  }

  /** Resolves the image and runs the first instance through its start grace. */
  async #start(pool: WorkerPoolRecord, rev: PoolRevisionRecord): Promise<void> {
    const container = asObject(asList(rev.template.containers)[0]);
    try {
      const image = await resolveImage(this.settings, container.image);
      rev.digest = image.digest;
      rev.instances = new PoolInstances(
        {
          argv: argvFor(image, container),
          cwd: image.dir,
          env: {
            ...containerEnv(image, container),
            CLOUD_RUN_WORKER_POOL: pool.id,
            CLOUD_RUN_REVISION: rev.id,
          },
          log: rev.log,
          startMs: this.settings.workerStartMs ?? 1000,
          graceMs: this.settings.graceMs,
          ...(this.settings.ledger ? { ledger: this.settings.ledger } : {}),
        },
        (exit) => crashed(rev, exit),
      );
      await rev.instances.start();
      ready(pool, rev);
    } catch (err) {
      failed(pool, rev, err);
    }
    touch(rev.meta, false);
  }

  #revision(name: string): { pool: WorkerPoolRecord; rev: PoolRevisionRecord } {
    const m = /^(.*\/workerPools\/[^/]+)\/revisions\/([^/]+)$/.exec(name);
    const pool = m ? this.table.find(m[1]!) : undefined;
    const rev = pool?.revisions.get(m![2]!);
    if (!pool || !rev) throw notFound(`Revision '${short(name)}' does not exist.`);
    return { pool, rev };
  }

  getRevision(name: string): JsonObject {
    return renderPoolRevision(this.#revision(name).rev);
  }

  listRevisions(parent: string): JsonObject[] {
    const pool = this.table.record(parent);
    return [...pool.revisions.values()].reverse().map((r) => renderPoolRevision(r));
  }

  async deleteRevision(name: string, etag: string | null): Promise<Operation> {
    const { pool, rev } = this.#revision(name);
    checkEtag(rev.meta, etag ?? undefined);
    const named = resolveSplits(pool.spec.instanceSplits, pool.latestReady).some(
      (s) => s.revision === rev.id,
    );
    if (named || pool.served.some((s) => s.revision === rev.id)) {
      throw failedPrecondition(
        `Revision '${rev.id}' is named in the worker pool's instance splits; move its instances away before deleting it.`,
      );
    }
    if (rev.state === 'pending')
      throw failedPrecondition(`Revision '${rev.id}' is still starting.`);
    pool.revisions.delete(rev.id);
    if (pool.latestReady === rev.id) pool.latestReady = undefined;
    const rendered = renderPoolRevision(rev);
    const op = this.operations.create(locationOf(name), 'Revision', () => rendered);
    await rev.instances?.retire();
    await rev.log.close();
    this.operations.succeed(op, { ...rendered, deleteTime: iso(Date.now()) });
    return op;
  }

  /** A revision's log file, for `runway logs`. */
  logPath(pool: string, revision?: string): string {
    const record = this.table.record(pool);
    const id = revision ?? record.latestCreated;
    if (!id || !record.revisions.has(id)) throw notFound(`Revision '${id}' does not exist.`);
    return record.revisions.get(id)!.log.path;
  }

  /** The process ids of a revision's running instances, for tests. */
  pidsOf(pool: string, revision: string): number[] {
    return this.table.record(pool).revisions.get(revision)?.instances?.pids ?? [];
  }

  // --- rendering ---

  render(pool: WorkerPoolRecord): JsonObject {
    const spec = pool.spec;
    const full = (id?: string) => (id ? `${pool.meta.name}/revisions/${id}` : '');
    return {
      ...renderMeta(pool.meta),
      description: spec.description ?? '',
      labels: spec.labels ?? {},
      annotations: spec.annotations ?? {},
      creator: 'runway-local',
      lastModifier: 'runway-local',
      ...(spec.client ? { client: spec.client } : {}),
      ...(spec.clientVersion ? { clientVersion: spec.clientVersion } : {}),
      launchStage: spec.launchStage ?? 'GA',
      ...(spec.binaryAuthorization ? { binaryAuthorization: spec.binaryAuthorization } : {}),
      template: spec.template ?? {},
      instanceSplits: writtenSplits(spec.instanceSplits),
      scaling: { ...asObject(spec.scaling), manualInstanceCount: instanceCount(spec) },
      observedGeneration: String(pool.observedGeneration),
      terminalCondition: pool.terminal as unknown as JsonObject,
      conditions: pool.conditions as unknown as Json[],
      latestReadyRevision: full(pool.latestReady),
      latestCreatedRevision: full(pool.latestCreated),
      instanceSplitStatuses: pool.served.map((s) => ({
        type: s.type,
        revision: s.revision,
        percent: s.percent,
      })),
      reconciling: pool.reconciling,
    };
  }
}

// As for a service's revision, an instance that dies unasked marks the revision's
// ContainerHealthy condition (its time is the latest crash), so a release can see that the
// candidate's instances crashed or restarted during a bake.
function crashed(rev: PoolRevisionRecord, exit: Exit): void {
  const n = rev.instances?.crashes ?? 1;
  const message = `${crashMessage(exit)} (${n} instance exit${n === 1 ? '' : 's'} since the revision started.)`;
  rev.conditions = rev.conditions.map((c) =>
    c.type === 'ContainerHealthy'
      ? condition('ContainerHealthy', 'CONDITION_FAILED', { message })
      : c,
  );
  touch(rev.meta, false);
}

function ready(pool: WorkerPoolRecord, rev: PoolRevisionRecord): void {
  rev.state = 'ready';
  rev.conditions = [
    condition('Ready', 'CONDITION_SUCCEEDED'),
    condition('ContainerHealthy', 'CONDITION_SUCCEEDED'),
    condition('ResourcesAvailable', 'CONDITION_SUCCEEDED'),
  ];
  const latest = pool.latestReady ? pool.revisions.get(pool.latestReady) : undefined;
  if (!latest || latest.meta.createTime <= rev.meta.createTime) pool.latestReady = rev.id;
}

function failed(pool: WorkerPoolRecord, rev: PoolRevisionRecord, err: unknown): void {
  rev.state = 'failed';
  rev.message = `${(err as Error).message}${err instanceof StartupError ? ` Logs: runway logs ${pool.id} --revision ${rev.id}` : ''}`;
  const missing = err instanceof RunwayError && err.code === 'NOT_FOUND';
  rev.conditions = [
    condition('Ready', 'CONDITION_FAILED', {
      message: rev.message,
      ...(missing ? { reason: 'CONTAINER_MISSING' } : {}),
    }),
    condition('ContainerHealthy', 'CONDITION_FAILED', { message: rev.message }),
  ];
  rev.log.write('runway', `revision failed: ${rev.message}`);
}

export function renderPoolRevision(rev: PoolRevisionRecord): JsonObject {
  const t = rev.template;
  const container = asObject(asList(t.containers)[0]);
  return {
    ...renderMeta(rev.meta),
    labels: t.labels ?? {},
    annotations: t.annotations ?? {},
    launchStage: 'GA',
    containers: t.containers ?? [],
    serviceAccount: t.serviceAccount ?? '',
    ...(t.vpcAccess ? { vpcAccess: t.vpcAccess } : {}),
    ...(t.volumes ? { volumes: t.volumes } : {}),
    conditions: rev.conditions as unknown as Json[],
    observedGeneration: String(rev.meta.generation),
    reconciling: rev.state === 'pending',
    creator: 'runway-local',
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
    scalingStatus: { desiredMinInstanceCount: rev.instances?.desired ?? 0 },
    logUri: `file://${rev.log.path}`,
  };
}
