// The Workflows API v1 resource (projects.locations.workflows create|get|list|patch|delete and
// their long-running operations) over the workflows the Executions API runs: `gcloud workflows
// deploy` and @google-cloud/workflows deploy here, and the next execution runs the new revision.
// A deploy is checked by the local parser; a workflow that does not deploy is INVALID_ARGUMENT, as
// Google answers it. Operations end at once: the local deploy is synchronous.
import { randomUUID } from 'node:crypto';
import {
  alreadyExists,
  invalidArgument,
  notFound,
  RunwayError,
} from '../../../services/shared/errors.ts';
import { parseWorkflow, type Workflow } from '../engine.ts';

/** Google's limit on a workflow's source. */
export const MAX_SOURCE_BYTES = 128 * 1024;
/** Google's limit on user-defined environment variables. */
const MAX_ENV_VARS = 20;
/** Operations kept for operations.get; older ones are forgotten. */
const RETAINED_OPERATIONS = 1000;
const WORKFLOW_ID = /^[A-Za-z](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;
const CALL_LOG_LEVELS = new Set([
  'CALL_LOG_LEVEL_UNSPECIFIED',
  'LOG_ALL_CALLS',
  'LOG_ERRORS_ONLY',
  'LOG_NONE',
]);
/** The fields an update mask may name; the ones marked true make a new revision. */
const FIELDS: Record<string, boolean> = {
  description: false,
  labels: false,
  sourceContents: true,
  serviceAccount: true,
  callLogLevel: true,
  userEnvVars: true,
};

export interface Deployed {
  workflow: Workflow;
  revision: string;
  mtimeMs?: number;
  /** The account its executions run as, an email (`gcloud workflows deploy --service-account`). */
  serviceAccount?: string;
  source: string;
  description?: string;
  labels?: Record<string, string>;
  userEnvVars?: Record<string, string>;
  callLogLevel?: string;
  createTime: Date;
  updateTime: Date;
  revisionCreateTime: Date;
  /** Deployed through the API: a file of the same name in the directory does not replace it. */
  pinned?: boolean;
}

export interface DeployOptions {
  /** Without one, executions run as `ExecutionsServerOptions.defaultServiceAccount`, as on Google. */
  serviceAccount?: string;
  userEnvVars?: Record<string, string>;
}

interface OperationRecord {
  name: string;
  target: string;
  verb: 'create' | 'update' | 'delete';
  createTime: Date;
  response: Record<string, unknown>;
}

const fieldName = (path: string) =>
  path.trim().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function stringMap(value: unknown, field: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw invalidArgument(`${field} must map strings to strings`, [
      { field, description: 'not a map' },
    ]);
  for (const [k, v] of Object.entries(value))
    if (typeof v !== 'string')
      throw invalidArgument(`${field}.${k} must be a string`, [
        { field: `${field}.${k}`, description: 'not a string' },
      ]);
  return value as Record<string, string>;
}

function checkLabels(labels: Record<string, string>): void {
  if (Object.keys(labels).length > 64) throw invalidArgument('labels: at most 64 labels');
  for (const [k, v] of Object.entries(labels))
    if (!LABEL_KEY.test(k) || !LABEL_VALUE.test(v))
      throw invalidArgument(
        `labels: ${JSON.stringify(k)}=${JSON.stringify(v)} is not a valid label (lowercase letters, digits, _ and -; keys start with a letter; 63 characters at most)`,
        [{ field: `labels.${k}`, description: 'invalid label' }],
      );
}

function checkEnvVars(vars: Record<string, string>): void {
  const keys = Object.keys(vars);
  if (keys.length > MAX_ENV_VARS)
    throw invalidArgument(`userEnvVars: at most ${MAX_ENV_VARS} environment variables`);
  for (const k of keys)
    if (!ENV_NAME.test(k) || k.startsWith('GOOGLE'))
      throw invalidArgument(
        `userEnvVars: ${JSON.stringify(k)} is not a valid name (letters, digits and _, not starting with a digit or GOOGLE)`,
        [{ field: `userEnvVars.${k}`, description: 'invalid name' }],
      );
}

/** The deployed workflows of one project and location, and the operations their writes made. */
export class WorkflowStore {
  readonly #deployed = new Map<string, Deployed>();
  readonly #revisions = new Map<string, number>();
  readonly #operations = new Map<string, OperationRecord>();

  constructor(
    readonly project: string,
    readonly location: string,
    readonly now: () => number = Date.now,
  ) {}

  get parent(): string {
    return `projects/${this.project}/locations/${this.location}`;
  }

  #revisionId(name: string): string {
    const n = (this.#revisions.get(name) ?? 0) + 1;
    this.#revisions.set(name, n);
    return `${String(n).padStart(6, '0')}-${randomUUID().slice(0, 3)}`;
  }

  get(name: string): Deployed | undefined {
    return this.#deployed.get(name);
  }

  names(): string[] {
    return [...this.#deployed.keys()].sort();
  }

  set(name: string, d: Deployed): void {
    this.#deployed.set(name, d);
  }

  /** A new deployment of `name` from source: a new revision; what it replaces keeps its createTime. */
  deploy(
    name: string,
    source: string,
    options: DeployOptions & {
      file?: string;
      mtimeMs?: number;
      description?: string;
      labels?: Record<string, string>;
      callLogLevel?: string;
      pinned?: boolean;
    } = {},
  ): Deployed {
    const workflow = parseWorkflow(source, { file: options.file ?? name });
    const now = new Date(this.now());
    const before = this.#deployed.get(name);
    const d: Deployed = {
      workflow,
      source,
      revision: this.#revisionId(name),
      createTime: before?.createTime ?? now,
      updateTime: now,
      revisionCreateTime: now,
      ...(options.mtimeMs !== undefined ? { mtimeMs: options.mtimeMs } : {}),
      ...(options.serviceAccount ? { serviceAccount: options.serviceAccount } : {}),
      ...(options.userEnvVars && Object.keys(options.userEnvVars).length
        ? { userEnvVars: options.userEnvVars }
        : {}),
      ...(options.description ? { description: options.description } : {}),
      ...(options.labels && Object.keys(options.labels).length ? { labels: options.labels } : {}),
      ...(options.callLogLevel ? { callLogLevel: options.callLogLevel } : {}),
      ...(options.pinned ? { pinned: true } : {}),
    };
    this.#deployed.set(name, d);
    return d;
  }

  // --- the REST resource ---

  /** Throws NOT_FOUND unless `project`/`location` are the ones served (the number is not known here). */
  served(project: string, location: string): void {
    if (project !== this.project || location !== this.location)
      throw notFound(
        `Location projects/${project}/locations/${location} is not served here: this local Workflows serves ${this.parent}`,
      );
  }

  render(id: string, d: Deployed): Record<string, unknown> {
    return {
      name: `${this.parent}/workflows/${id}`,
      ...(d.description ? { description: d.description } : {}),
      state: 'ACTIVE',
      revisionId: d.revision,
      createTime: d.createTime.toISOString(),
      updateTime: d.updateTime.toISOString(),
      revisionCreateTime: d.revisionCreateTime.toISOString(),
      ...(d.labels ? { labels: d.labels } : {}),
      ...(d.serviceAccount
        ? { serviceAccount: `projects/${this.project}/serviceAccounts/${d.serviceAccount}` }
        : {}),
      sourceContents: d.source,
      ...(d.callLogLevel ? { callLogLevel: d.callLogLevel } : {}),
      ...(d.userEnvVars ? { userEnvVars: d.userEnvVars } : {}),
    };
  }

  /** The account's email from `EMAIL` or `projects/{project|-}/serviceAccounts/EMAIL`. */
  #account(value: unknown): string | undefined {
    if (value === undefined || value === null || value === '') return undefined;
    const m =
      typeof value === 'string'
        ? /^(?:projects\/([^/]+)\/serviceAccounts\/)?([^/@\s]+@[^/@\s]+)$/.exec(value)
        : null;
    if (!m)
      throw invalidArgument(
        'serviceAccount must be projects/{project}/serviceAccounts/{account} or an account email',
        [{ field: 'serviceAccount', description: 'invalid service account' }],
      );
    if (m[1] && m[1] !== '-' && m[1] !== this.project)
      throw invalidArgument(
        `serviceAccount ${value} names the project ${m[1]}; this local Workflows serves ${this.project}`,
        [{ field: 'serviceAccount', description: 'another project' }],
      );
    return m[2];
  }

  /** The body's fields, checked; only `fields` are read. */
  #fields(body: Record<string, unknown>, fields: string[]) {
    const out: Partial<Record<keyof typeof FIELDS, unknown>> = {};
    for (const f of fields) {
      const v = body[f];
      switch (f) {
        case 'sourceContents':
          if (typeof v !== 'string' || v.trim() === '')
            throw invalidArgument('sourceContents is required: the workflow definition', [
              { field: 'sourceContents', description: 'required' },
            ]);
          if (Buffer.byteLength(v) > MAX_SOURCE_BYTES)
            throw invalidArgument(
              `sourceContents is ${Buffer.byteLength(v)} bytes; a workflow's source is at most ${MAX_SOURCE_BYTES} bytes`,
              [{ field: 'sourceContents', description: 'too large' }],
            );
          out.sourceContents = v;
          break;
        case 'description':
          if (v !== undefined && v !== null && (typeof v !== 'string' || v.length > 1000))
            throw invalidArgument('description must be a string of at most 1000 characters');
          out.description = v ?? '';
          break;
        case 'labels': {
          const labels = stringMap(v, 'labels');
          checkLabels(labels);
          out.labels = labels;
          break;
        }
        case 'userEnvVars': {
          const vars = stringMap(v, 'userEnvVars');
          checkEnvVars(vars);
          out.userEnvVars = vars;
          break;
        }
        case 'serviceAccount':
          out.serviceAccount = this.#account(v);
          break;
        case 'callLogLevel':
          if (v !== undefined && v !== null && !CALL_LOG_LEVELS.has(String(v)))
            throw invalidArgument(
              `callLogLevel must be one of ${[...CALL_LOG_LEVELS].join(', ')}`,
              [{ field: 'callLogLevel', description: 'unknown value' }],
            );
          out.callLogLevel = v === 'CALL_LOG_LEVEL_UNSPECIFIED' ? undefined : (v ?? undefined);
          break;
        default:
          throw invalidArgument(
            `the update mask names ${JSON.stringify(f)}; the local Workflows updates ${Object.keys(FIELDS).join(', ')}`,
            [{ field: 'updateMask', description: `unsupported path ${f}` }],
          );
      }
    }
    return out;
  }

  /** Parses a source or answers INVALID_ARGUMENT with the parser's message, as Google's deploy. */
  #deployChecked(id: string, source: string, options: Parameters<WorkflowStore['deploy']>[2]) {
    try {
      return this.deploy(id, source, { ...options, pinned: true });
    } catch (err) {
      if (err instanceof RunwayError) throw err;
      throw invalidArgument(`workflow ${id} does not deploy: ${(err as Error).message}`, [
        { field: 'sourceContents', description: (err as Error).message },
      ]);
    }
  }

  create(id: string | null, body: Record<string, unknown>): Record<string, unknown> {
    if (!id)
      throw invalidArgument('workflowId is required', [
        { field: 'workflowId', description: 'required' },
      ]);
    if (!WORKFLOW_ID.test(id))
      throw invalidArgument(
        `workflowId ${JSON.stringify(id.slice(0, 100))} is not valid: a letter first, then up to 63 letters, digits, _ or -, ending with a letter or digit`,
        [{ field: 'workflowId', description: 'invalid' }],
      );
    if (this.#deployed.has(id))
      throw alreadyExists(`Resource '${this.parent}/workflows/${id}' already exists`);
    const f = this.#fields(body, Object.keys(FIELDS));
    this.#deployChecked(id, f.sourceContents as string, {
      ...(f.serviceAccount ? { serviceAccount: f.serviceAccount as string } : {}),
      ...(f.description ? { description: f.description as string } : {}),
      labels: f.labels as Record<string, string>,
      userEnvVars: f.userEnvVars as Record<string, string>,
      ...(f.callLogLevel ? { callLogLevel: f.callLogLevel as string } : {}),
    });
    return this.#operation(id, 'create');
  }

  update(id: string, body: Record<string, unknown>, mask: string | null): Record<string, unknown> {
    const before = this.#deployed.get(id);
    if (!before) throw notFound(`Resource '${this.parent}/workflows/${id}' was not found`);
    const paths = mask
      ? [...new Set(mask.split(',').map(fieldName).filter(Boolean))]
      : Object.keys(FIELDS);
    const f = this.#fields(body, paths);
    const merged = {
      source: 'sourceContents' in f ? (f.sourceContents as string) : before.source,
      serviceAccount:
        'serviceAccount' in f ? (f.serviceAccount as string | undefined) : before.serviceAccount,
      description: 'description' in f ? (f.description as string) : before.description,
      labels: 'labels' in f ? (f.labels as Record<string, string>) : before.labels,
      userEnvVars:
        'userEnvVars' in f ? (f.userEnvVars as Record<string, string>) : before.userEnvVars,
      callLogLevel:
        'callLogLevel' in f ? (f.callLogLevel as string | undefined) : before.callLogLevel,
    };
    const newRevision =
      merged.source !== before.source ||
      merged.serviceAccount !== before.serviceAccount ||
      merged.callLogLevel !== before.callLogLevel ||
      JSON.stringify(merged.userEnvVars ?? {}) !== JSON.stringify(before.userEnvVars ?? {});
    if (newRevision) {
      this.#deployChecked(id, merged.source, {
        ...(merged.serviceAccount ? { serviceAccount: merged.serviceAccount } : {}),
        ...(merged.description ? { description: merged.description } : {}),
        ...(merged.labels ? { labels: merged.labels } : {}),
        ...(merged.userEnvVars ? { userEnvVars: merged.userEnvVars } : {}),
        ...(merged.callLogLevel ? { callLogLevel: merged.callLogLevel } : {}),
      });
    } else {
      // Description and labels change the workflow, not its revision.
      const { description: _d, labels: _l, ...rest } = before;
      this.#deployed.set(id, {
        ...rest,
        ...(merged.description ? { description: merged.description } : {}),
        ...(merged.labels && Object.keys(merged.labels).length ? { labels: merged.labels } : {}),
        updateTime: new Date(this.now()),
        pinned: true,
      });
    }
    return this.#operation(id, 'update');
  }

  delete(id: string): Record<string, unknown> {
    if (!this.#deployed.delete(id))
      throw notFound(`Resource '${this.parent}/workflows/${id}' was not found`);
    return this.#operation(id, 'delete');
  }

  list(query: URLSearchParams): Record<string, unknown> {
    const pageSize = Math.min(Math.max(Number(query.get('pageSize') ?? 500) || 500, 1), 1000);
    const token = query.get('pageToken');
    const start = token ? Number(token) : 0;
    if (!Number.isInteger(start) || start < 0)
      throw invalidArgument('pageToken is not a token this API gave');
    const all = this.names();
    const page = all.slice(start, start + pageSize);
    return {
      ...(page.length
        ? { workflows: page.map((id) => this.render(id, this.#deployed.get(id)!)) }
        : {}),
      ...(start + pageSize < all.length ? { nextPageToken: String(start + pageSize) } : {}),
    };
  }

  #operation(id: string, verb: OperationRecord['verb']): Record<string, unknown> {
    const d = this.#deployed.get(id);
    const op: OperationRecord = {
      name: `${this.parent}/operations/operation-${this.now()}-${randomUUID().slice(0, 13)}`,
      target: `${this.parent}/workflows/${id}`,
      verb,
      createTime: new Date(this.now()),
      response: d
        ? {
            '@type': 'type.googleapis.com/google.cloud.workflows.v1.Workflow',
            ...this.render(id, d),
          }
        : { '@type': 'type.googleapis.com/google.protobuf.Empty' },
    };
    this.#operations.set(op.name, op);
    for (const old of this.#operations.keys()) {
      if (this.#operations.size <= RETAINED_OPERATIONS) break;
      this.#operations.delete(old);
    }
    return this.renderOperation(op);
  }

  renderOperation(op: OperationRecord): Record<string, unknown> {
    return {
      name: op.name,
      metadata: {
        '@type': 'type.googleapis.com/google.cloud.workflows.v1.OperationMetadata',
        createTime: op.createTime.toISOString(),
        endTime: op.createTime.toISOString(),
        target: op.target,
        verb: op.verb,
        apiVersion: 'v1',
      },
      done: true,
      response: op.response,
    };
  }

  operation(name: string): Record<string, unknown> {
    const op = this.#operations.get(name);
    if (!op) throw notFound(`Operation '${name}' was not found`);
    return this.renderOperation(op);
  }

  listOperations(): Record<string, unknown> {
    const ops = [...this.#operations.values()].reverse().map((o) => this.renderOperation(o));
    return ops.length ? { operations: ops } : {};
  }

  deleteOperation(name: string): Record<string, unknown> {
    if (!this.#operations.delete(name)) throw notFound(`Operation '${name}' was not found`);
    return {};
  }
}
