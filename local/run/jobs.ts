// Jobs of the local Cloud Run, kept in the resource table. Running a job starts an execution
// (executions.ts) with the run's overrides applied; the run operation completes or fails with it.
import { type FieldViolation, failedPrecondition, notFound } from '../../services/shared/errors.ts';
import { asList, asObject, checkContainers } from './containers.ts';
import {
  DEFAULTS,
  type ExecutionRecord,
  Executions,
  failure,
  type RunPlan,
  renderExecution,
  renderTask,
  seconds,
  type TaskRecord,
} from './executions.ts';
import type { Operation, Operations } from './operations.ts';
import type { Json, JsonObject } from './proto-json.ts';
import {
  type Condition,
  checkEtag,
  condition,
  iso,
  locationOf,
  type Meta,
  renderMeta,
  type RunSettings,
  throwIfViolations,
  fallbackAccount,
  withDefaultServiceAccount,
} from './resources.ts';
import { type ResourceKind, ResourceTable, type UpdateOptions } from './table.ts';

const RESERVED_ENV = [
  'CLOUD_RUN_JOB',
  'CLOUD_RUN_EXECUTION',
  'CLOUD_RUN_TASK_INDEX',
  'CLOUD_RUN_TASK_COUNT',
  'CLOUD_RUN_TASK_ATTEMPT',
];
const JOB_FIELDS = new Set([
  'labels',
  'annotations',
  'client',
  'clientVersion',
  'launchStage',
  'binaryAuthorization',
  'template',
]);

const short = (name: string) => name.split('/').pop() ?? name;

interface JobRecord {
  meta: Meta;
  id: string;
  spec: JsonObject;
  executions: Map<string, ExecutionRecord>;
  executionCount: number;
  latest?: ExecutionRecord;
  terminal: Condition;
}

/** The checks of a job's execution template (that there is one, the table checks). */
function checkJob(spec: JsonObject): FieldViolation[] {
  if (spec.template === undefined) return [];
  const exec = asObject(spec.template);
  const task = asObject(exec.template);
  const out = checkContainers(task.containers, 'job.template.template.containers', RESERVED_ENV);
  const taskCount = exec.taskCount;
  if (
    taskCount !== undefined &&
    (typeof taskCount !== 'number' || taskCount < 1 || taskCount > 10_000)
  ) {
    out.push({ field: 'job.template.task_count', description: 'task_count must be 1-10000' });
  }
  if (
    exec.parallelism !== undefined &&
    (typeof exec.parallelism !== 'number' || exec.parallelism < 0)
  ) {
    out.push({
      field: 'job.template.parallelism',
      description: 'parallelism must be 0 (no limit) or more',
    });
  }
  const retries = task.maxRetries;
  if (retries !== undefined && (typeof retries !== 'number' || retries < 0 || retries > 10)) {
    out.push({
      field: 'job.template.template.max_retries',
      description: 'max_retries must be 0-10',
    });
  }
  if (task.timeout !== undefined && !(seconds(task.timeout, '0s') > 0)) {
    out.push({ field: 'job.template.template.timeout', description: 'timeout must be positive' });
  }
  return out;
}

/** A RunJobRequest checked against its job: the execution it asks for, overrides applied. */
function runPlan(job: JobRecord, overrides: JsonObject): RunPlan {
  const exec = asObject(job.spec.template);
  const template = structuredClone(asObject(exec.template));
  const container = asObject(asList(template.containers)[0]);
  const override = asList(overrides.containerOverrides).map(asObject);
  const violations: FieldViolation[] = [];
  override.forEach((o, i) => {
    if (o.name && o.name !== (container.name ?? '')) {
      violations.push({
        field: `overrides.container_overrides[${i}].name`,
        description: `the job has no container named '${o.name}'`,
      });
    }
  });
  const taskCount =
    typeof overrides.taskCount === 'number'
      ? overrides.taskCount
      : Number(exec.taskCount ?? DEFAULTS.taskCount);
  if (!(taskCount >= 1 && taskCount <= 10_000)) {
    violations.push({ field: 'overrides.task_count', description: 'task_count must be 1-10000' });
  }
  if (overrides.timeout !== undefined) {
    if (!(seconds(overrides.timeout, '0s') > 0))
      violations.push({ field: 'overrides.timeout', description: 'timeout must be positive' });
    else template.timeout = overrides.timeout;
  }
  throwIfViolations(violations);
  const args = override.find((o) => o.clearArgs === true)
    ? []
    : override.map((o) => o.args).find((a) => Array.isArray(a) && a.length > 0);
  return {
    template,
    taskCount,
    parallelism: Number(exec.parallelism ?? DEFAULTS.parallelism),
    env: override.flatMap((o) => asList(o.env)),
    ...(args ? { args: args as Json[] } : {}),
  };
}

export class Jobs implements ResourceKind<JobRecord> {
  readonly type = 'Job';
  readonly field = 'job';
  readonly collection = 'jobs';
  readonly maxId = 63;
  readonly writable = JOB_FIELDS;
  readonly maskable = false;
  readonly table: ResourceTable<JobRecord>;
  readonly executions: Executions;

  constructor(
    readonly settings: RunSettings,
    readonly operations: Operations,
  ) {
    this.table = new ResourceTable(this, settings, operations);
    this.executions = new Executions(settings);
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

  update(name: string, body: JsonObject, options: UpdateOptions): Promise<Operation> {
    return this.table.update(name, body, options);
  }

  delete(name: string, etag: string | null, validateOnly = false): Promise<Operation> {
    return this.table.delete(name, etag, validateOnly);
  }

  // --- the resource kind: what the table asks of a job ---

  /** The task template's service account, the default compute account when none is named. */
  withDefaults(spec: JsonObject): JsonObject {
    const exec = spec.template;
    if (!exec || typeof exec !== 'object' || Array.isArray(exec) || exec.template === undefined)
      return spec;
    return {
      ...spec,
      template: {
        ...exec,
        template: withDefaultServiceAccount(exec.template, fallbackAccount(this.settings)) ?? {},
      },
    };
  }

  check(_id: string, spec: JsonObject): FieldViolation[] {
    return checkJob(spec);
  }

  blank(meta: Meta, id: string, spec: JsonObject): JobRecord {
    return {
      meta,
      id,
      spec,
      executions: new Map(),
      executionCount: 0,
      terminal: condition('Ready', 'CONDITION_SUCCEEDED'),
    };
  }

  async open(): Promise<void> {}

  /** A job is ready once written: its operation is done at once. */
  apply(job: JobRecord): Operation {
    return this.table.done(this.render(job), 'Job', job.meta.name);
  }

  /** Cancels the job's running executions. */
  async remove(job: JobRecord): Promise<void> {
    await Promise.all([...job.executions.values()].map((e) => this.executions.cancel(e)));
  }

  // --- executions and tasks ---

  /** Starts an execution; the operation completes when the execution does. */
  run(name: string, body: JsonObject): Operation {
    const job = this.table.record(name);
    checkEtag(job.meta, body.etag);
    const plan = runPlan(job, asObject(body.overrides));
    if (body.validateOnly === true) return this.table.done({}, 'Execution', name);
    const execution = this.executions.create(job, plan);
    const op = this.operations.create(locationOf(name), 'Execution', () =>
      renderExecution(execution),
    );
    execution.done = this.executions.execute(execution).then(
      () => {
        if (execution.state === 'succeeded')
          this.operations.succeed(op, renderExecution(execution));
        else this.operations.fail(op, failure(execution));
      },
      (err) => this.operations.fail(op, err),
    );
    return op;
  }

  #execution(name: string): ExecutionRecord {
    const m = /^(.*\/jobs\/[^/]+)\/executions\/([^/]+)$/.exec(name);
    const exec = m ? this.table.find(m[1]!)?.executions.get(m[2]!) : undefined;
    if (!exec) throw notFound(`Execution '${short(name)}' does not exist.`);
    return exec;
  }

  getExecution(name: string): JsonObject {
    return renderExecution(this.#execution(name));
  }

  listExecutions(parent: string): JsonObject[] {
    const job = this.table.record(parent);
    return [...job.executions.values()].reverse().map((e) => renderExecution(e));
  }

  async cancelExecution(name: string, etag: string | undefined): Promise<Operation> {
    const exec = this.#execution(name);
    checkEtag(exec.meta, etag);
    if (exec.state !== 'running') {
      throw failedPrecondition(`Execution '${exec.id}' has already finished (${exec.state}).`);
    }
    const op = this.operations.create(locationOf(name), 'Execution', () => renderExecution(exec));
    await this.executions.cancel(exec);
    this.operations.succeed(op, renderExecution(exec));
    return op;
  }

  async deleteExecution(name: string, etag: string | null): Promise<Operation> {
    const exec = this.#execution(name);
    checkEtag(exec.meta, etag ?? undefined);
    await this.executions.cancel(exec);
    exec.job.executions.delete(exec.id);
    return this.table.done(
      { ...renderExecution(exec), deleteTime: iso(Date.now()) },
      'Execution',
      name,
    );
  }

  #task(name: string): { exec: ExecutionRecord; task: TaskRecord } {
    const m = /^(.*\/executions\/[^/]+)\/tasks\/([^/]+)$/.exec(name);
    const exec = m ? this.#execution(m[1]!) : undefined;
    const task = exec?.tasks.find((t) => t.meta.name === name);
    if (!exec || !task) throw notFound(`Task '${short(name)}' does not exist.`);
    return { exec, task };
  }

  getTask(name: string): JsonObject {
    const { exec, task } = this.#task(name);
    return renderTask(exec, task);
  }

  listTasks(parent: string): JsonObject[] {
    const exec = this.#execution(parent);
    return exec.tasks.map((t) => renderTask(exec, t));
  }

  logPath(name: string): string {
    return this.#execution(name).log.path;
  }

  /** Every running task stopped (SIGTERM, then SIGKILL). */
  close(): Promise<void> {
    return this.table.close();
  }

  kill(): void {
    for (const job of this.table.records())
      for (const e of job.executions.values()) this.executions.kill(e);
  }

  // --- rendering ---

  render(job: JobRecord): JsonObject {
    const exec = asObject(job.spec.template);
    const task = asObject(exec.template);
    return {
      ...renderMeta(job.meta),
      labels: job.spec.labels ?? {},
      annotations: job.spec.annotations ?? {},
      creator: 'runway-local',
      lastModifier: 'runway-local',
      launchStage: job.spec.launchStage ?? 'GA',
      template: {
        ...exec,
        taskCount: exec.taskCount ?? DEFAULTS.taskCount,
        template: {
          ...task,
          maxRetries: task.maxRetries ?? DEFAULTS.maxRetries,
          timeout: task.timeout ?? DEFAULTS.timeout,
        },
      },
      observedGeneration: String(job.meta.generation),
      terminalCondition: job.terminal as unknown as JsonObject,
      conditions: [],
      executionCount: job.executionCount,
      ...(job.latest ? { latestCreatedExecution: latestExecution(job.latest) } : {}),
      reconciling: false,
    };
  }
}

function latestExecution(latest: ExecutionRecord): JsonObject {
  return {
    name: latest.meta.name,
    createTime: iso(latest.meta.createTime),
    ...(latest.completionTime ? { completionTime: iso(latest.completionTime) } : {}),
    completionStatus: {
      running: 'EXECUTION_RUNNING',
      succeeded: 'EXECUTION_SUCCEEDED',
      failed: 'EXECUTION_FAILED',
      cancelled: 'EXECUTION_CANCELLED',
    }[latest.state],
  };
}
