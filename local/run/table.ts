// One table of top-level Cloud Run resources (services, jobs): create, get, list, update (with
// an update mask where the API has one), delete, with the Admin API v2's rules for every kind
// alike: the parent must be served here, ids follow the naming rule, an update's body names the
// resource in its URL, a write keeps the REQUIRED template, etags guard writes, validate_only
// persists nothing, and every write answers a google.longrunning operation.
import {
  alreadyExists,
  type FieldViolation,
  invalidArgument,
} from '../../services/shared/errors.ts';
import type { Operation, Operations } from './operations.ts';
import type { JsonObject } from './proto-json.ts';
import {
  applyMask,
  checkEtag,
  checkId,
  checkLocation,
  iso,
  locationOf,
  type Meta,
  missingResource,
  newMeta,
  throwIfViolations,
  touch,
} from './resources.ts';

/** What the table keeps of every resource; a kind adds its own state. */
export interface TableRecord {
  meta: Meta;
  id: string;
  /** The fields the user wrote (the kind's writable fields, defaults applied). */
  spec: JsonObject;
}

/** What makes one kind of resource: its names, its checks, and what a write sets off. */
export interface ResourceKind<R extends TableRecord> {
  /** The message type: `Service`, `Job`, `WorkerPool`. */
  type: 'Service' | 'Job' | 'WorkerPool';
  /** The request body's field and the URL's collection: `service`/`services`, `workerPool`/`workerPools`. */
  field: string;
  collection: string;
  /** Longest id the naming rule allows. */
  maxId: number;
  /** Top-level fields a request may write. */
  writable: Set<string>;
  /** Whether the update request has an update_mask (UpdateServiceRequest does, UpdateJobRequest not). */
  maskable: boolean;
  /** The spec with the defaults Cloud Run fills in (the default service account). */
  withDefaults(spec: JsonObject): JsonObject;
  /** The kind's own checks of a write; may throw for conflicts that are not field violations. */
  check(id: string, spec: JsonObject, existing: R | undefined): FieldViolation[];
  /** A record with no side effects yet: what validate_only renders, or what open() brings up. */
  blank(meta: Meta, id: string, spec: JsonObject): R;
  /** Brings a new record up (a service opens its URL) before the table holds it. */
  open(record: R): Promise<void>;
  /** Acts on a written record (a service makes a revision); answers the write's operation. */
  apply(record: R, created: boolean): Operation;
  /** Stops what a record runs (instances, executions, listeners). */
  remove(record: R): Promise<void>;
  render(record: R): JsonObject;
}

/** A field name as Google's error paths spell it: `worker_pool`. */
const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export interface UpdateOptions {
  mask?: string[];
  allowMissing: boolean;
  validateOnly: boolean;
}

export class ResourceTable<R extends TableRecord> {
  readonly #records = new Map<string, R>();
  /**
   * `projects/P/locations/L` of the configured region. Every well-formed region of the project
   * is served (checkLocation), each with its own resources: a record's own name says its region.
   */
  readonly parent: string;

  constructor(
    readonly kind: ResourceKind<R>,
    readonly where: { project: string; region: string },
    readonly operations: Operations,
  ) {
    this.parent = `projects/${where.project}/locations/${where.region}`;
  }

  checkParent(parent: string): void {
    checkLocation(parent, this.where.project);
  }

  /** The record, or undefined; for the kind's own bookkeeping. */
  find(name: string): R | undefined {
    return this.#records.get(name);
  }

  /** The record, or Cloud Run's NOT_FOUND. */
  record(name: string): R {
    const record = this.#records.get(name);
    if (!record) throw missingResource(this.kind.type, name, this.where);
    return record;
  }

  records(): R[] {
    return [...this.#records.values()];
  }

  get(name: string): JsonObject {
    return this.kind.render(this.record(name));
  }

  /** The records of one location. */
  recordsIn(parent: string): R[] {
    return this.records().filter((r) => locationOf(r.meta.name) === parent);
  }

  list(parent: string): JsonObject[] {
    this.checkParent(parent);
    return this.recordsIn(parent).map((r) => this.kind.render(r));
  }

  /** Creates a resource; ALREADY_EXISTS when the id is taken. */
  async create(
    parent: string,
    id: string | null,
    body: JsonObject,
    validateOnly: boolean,
  ): Promise<Operation> {
    const { kind } = this;
    this.checkParent(parent);
    const field = snake(kind.field);
    throwIfViolations(checkId(`${field.replace('_', ' ')} id`, `${field}_id`, id, kind.maxId));
    const name = `${parent}/${kind.collection}/${id}`;
    if (this.#records.has(name)) throw alreadyExists(`Resource '${id}' already exists.`);
    return this.#write(name, id!, undefined, this.#writable(body), validateOnly);
  }

  /** Updates (or with allowMissing creates) a resource; the etag, when given, must match. */
  async update(name: string, body: JsonObject, options: UpdateOptions): Promise<Operation> {
    const { kind } = this;
    this.#checkName(name, body);
    if (options.mask && !kind.maskable) {
      throw invalidArgument(
        `Invalid JSON payload received. Unknown name "updateMask": Cannot bind query parameter. Field 'updateMask' could not be found in request message.`,
        [{ field: 'update_mask', description: `Update${kind.type}Request has no update_mask` }],
      );
    }
    const id = name.slice(name.lastIndexOf('/') + 1);
    const existing = this.#records.get(name);
    if (!existing) {
      if (!options.allowMissing) this.record(name);
      this.checkParent(name.slice(0, name.lastIndexOf(`/${kind.collection}/`)));
      const field = snake(kind.field);
      throwIfViolations(checkId(`${field.replace('_', ' ')} id`, `${field}.name`, id, kind.maxId));
      return this.#write(name, id, undefined, this.#writable(body), options.validateOnly);
    }
    checkEtag(existing.meta, body.etag);
    const spec = options.mask
      ? applyMask(existing.spec, body, options.mask, kind.writable, snake(kind.field))
      : this.#writable(body);
    return this.#write(name, id, existing, spec, options.validateOnly);
  }

  /** The body's name, when it has one, is the resource in the URL: the URL binds it. */
  #checkName(name: string, body: JsonObject): void {
    const field = snake(this.kind.field);
    if (typeof body.name === 'string' && body.name !== '' && body.name !== name) {
      throw invalidArgument(`${field}.name ${body.name} does not match the URL's ${name}`, [
        { field: `${field}.name`, description: 'must match the resource in the URL' },
      ]);
    }
  }

  #writable(body: JsonObject): JsonObject {
    return Object.fromEntries(Object.entries(body).filter(([k]) => this.kind.writable.has(k)));
  }

  async #write(
    name: string,
    id: string,
    existing: R | undefined,
    written: JsonObject,
    validateOnly: boolean,
  ): Promise<Operation> {
    const { kind } = this;
    const spec = kind.withDefaults(written);
    const required: FieldViolation[] =
      spec.template === undefined
        ? [{ field: `${snake(kind.field)}.template`, description: 'template is required' }]
        : [];
    throwIfViolations([...required, ...kind.check(id, spec, existing)]);
    if (validateOnly)
      return this.done(kind.render(this.#draft(name, id, spec, existing)), kind.type, name);
    if (existing) {
      existing.spec = spec;
      touch(existing.meta, true);
      return kind.apply(existing, false);
    }
    const record = kind.blank(newMeta(name), id, spec);
    await kind.open(record);
    if (this.#records.has(name)) {
      // Another create of the same id won while this one opened.
      await kind.remove(record);
      throw alreadyExists(`Resource '${id}' already exists.`);
    }
    this.#records.set(name, record);
    return kind.apply(record, true);
  }

  /** The record as the write would leave it, for validate_only; nothing of it is kept. */
  #draft(name: string, id: string, spec: JsonObject, existing: R | undefined): R {
    if (!existing) return this.kind.blank(newMeta(name), id, spec);
    const meta = { ...existing.meta };
    touch(meta, true);
    return { ...existing, meta, spec };
  }

  /** Deletes a resource once what it runs has stopped; validate_only deletes nothing. */
  async delete(name: string, etag: string | null, validateOnly = false): Promise<Operation> {
    const record = this.record(name);
    checkEtag(record.meta, etag ?? undefined);
    if (validateOnly) return this.done(this.kind.render(record), this.kind.type, name);
    this.#records.delete(name);
    const rendered = this.kind.render(record);
    const op = this.operations.create(locationOf(name), this.kind.type, () => rendered);
    await this.kind.remove(record);
    this.operations.succeed(op, { ...rendered, deleteTime: iso(Date.now()) });
    return op;
  }

  /**
   * An operation that is done when it is answered (of the kind's type unless told), in the
   * location of `about` (a resource's name or a location; the configured one unless told).
   */
  done(response: JsonObject, type: string = this.kind.type, about = this.parent): Operation {
    const op = this.operations.create(locationOf(about), type, () => response);
    this.operations.succeed(op, response);
    return op;
  }

  /** Forgets every record and stops what each runs. */
  async close(): Promise<void> {
    const all = this.records();
    this.#records.clear();
    await Promise.all(all.map((r) => this.kind.remove(r)));
  }
}
