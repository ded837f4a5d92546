// Jobs, executions and tasks of the local Cloud Run. Running a job makes an execution of
// `taskCount` tasks; each task is a real process with Cloud Run's job variables, retried up to
// `maxRetries` times, killed at its `timeout`, at most `parallelism` at once. The execution
// succeeds when every task succeeds, and the run operation completes or fails with it.
import { join } from 'node:path';
import {
  alreadyExists,
  type FieldViolation,
  failedPrecondition,
  notFound,
  RunwayError,
} from '../../services/shared/errors.ts';
import {
  argvFor,
  asList,
  asObject,
  checkContainers,
  containerEnv,
  type ResolvedImage,
} from './containers.ts';
import type { Operation, Operations } from './operations.ts';
import { ContainerProcess, LogFile } from './process.ts';
import type { Json, JsonObject } from './proto-json.ts';
import {
  applyMask,
  type Condition,
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
import type { RunSettings } from './services.ts';

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
const DEFAULTS = { taskCount: 1, parallelism: 0, maxRetries: 3, timeout: '600s' };

const short = (name: string) => name.split('/').pop() ?? name;

function seconds(duration: Json | undefined, fallback: string): number {
  const text = typeof duration === 'string' ? duration : fallback;
  return Number(text.replace(/s$/, ''));
}

interface TaskRecord {
  meta: Meta;
  index: number;
  state: 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  attempts: number;
  retried: number;
  startTime?: number;
  completionTime?: number;
  lastAttempt?: { exitCode: number; signal?: string; message: string };
  proc?: ContainerProcess;
}

interface ExecutionRecord {
  meta: Meta;
  id: string;
  job: JobRecord;
  template: JsonObject; // TaskTemplate with overrides applied
  taskCount: number;
  parallelism: number;
  env: Json[];
  args?: Json[];
  tasks: TaskRecord[];
  startTime?: number;
  completionTime?: number;
  state: 'running' | 'succeeded' | 'failed' | 'cancelled';
  conditions: Condition[];
  cancelled: boolean;
  log: LogFile;
  done: Promise<void>;
}

interface JobRecord {
  meta: Meta;
  id: string;
  spec: JsonObject;
  executions: Map<string, ExecutionRecord>;
  executionCount: number;
  latest?: ExecutionRecord;
  terminal: Condition;
}

function checkJob(spec: JsonObject, creating: boolean): FieldViolation[] {
  if (spec.template === undefined) {
    return creating ? [{ field: 'job.template', description: 'template is required' }] : [];
  }
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

export class Jobs {
  readonly #jobs = new Map<string, JobRecord>();
  readonly parent: string;

  constructor(
    readonly settings: RunSettings,
    readonly operations: Operations,
    readonly checkParent: (parent: string) => void,
  ) {
    this.parent = `projects/${settings.project}/locations/${settings.region}`;
  }

  #get(name: string): JobRecord {
    const job = this.#jobs.get(name);
    if (!job) throw missingResource('JOB', name, this.settings);
    return job;
  }

  get(name: string): JsonObject {
    return this.render(this.#get(name));
  }

  /** The task template's service account, the default compute account when none is named. */
  #withDefaults(spec: JsonObject): JsonObject {
    const exec = spec.template;
    if (!exec || typeof exec !== 'object' || Array.isArray(exec) || exec.template === undefined)
      return spec;
    return {
      ...spec,
      template: {
        ...exec,
        template: withDefaultServiceAccount(exec.template, this.settings.project) ?? {},
      },
    };
  }

  list(parent: string): JsonObject[] {
    this.checkParent(parent);
    return [...this.#jobs.values()].map((j) => this.render(j));
  }

  create(parent: string, id: string | null, body: JsonObject, validateOnly: boolean): Operation {
    this.checkParent(parent);
    throwIfViolations(checkId('job id', 'job_id', id, 63));
    const name = `${parent}/jobs/${id}`;
    if (this.#jobs.has(name)) throw alreadyExists(`Resource '${id}' already exists.`);
    const spec = this.#withDefaults(
      Object.fromEntries(Object.entries(body).filter(([k]) => JOB_FIELDS.has(k))),
    );
    throwIfViolations(checkJob(spec, true));
    const job: JobRecord = {
      meta: newMeta(name),
      id: id!,
      spec,
      executions: new Map(),
      executionCount: 0,
      terminal: condition('Ready', 'CONDITION_SUCCEEDED'),
    };
    if (!validateOnly) this.#jobs.set(name, job);
    return this.#done('Job', this.render(job));
  }

  update(
    name: string,
    body: JsonObject,
    options: { mask?: string[]; allowMissing: boolean; validateOnly: boolean },
  ): Operation {
    const job = this.#jobs.get(name);
    if (!job) {
      if (!options.allowMissing) this.#get(name);
      const parent = name.slice(0, name.lastIndexOf('/jobs/'));
      return this.create(parent, short(name), body, options.validateOnly);
    }
    checkEtag(job.meta, body.etag);
    const spec = this.#withDefaults(
      options.mask
        ? applyMask(job.spec, body, options.mask, JOB_FIELDS, 'job')
        : Object.fromEntries(Object.entries(body).filter(([k]) => JOB_FIELDS.has(k))),
    );
    throwIfViolations(checkJob(spec, true));
    if (!options.validateOnly) {
      job.spec = spec;
      touch(job.meta, true);
    }
    return this.#done('Job', this.render(job));
  }

  async delete(name: string, etag: string | null): Promise<Operation> {
    const job = this.#get(name);
    checkEtag(job.meta, etag ?? undefined);
    this.#jobs.delete(name);
    await Promise.all([...job.executions.values()].map((e) => this.#cancel(e)));
    return this.#done('Job', { ...this.render(job), deleteTime: iso(Date.now()) });
  }

  #done(kind: string, response: JsonObject): Operation {
    const op = this.operations.create(this.parent, kind, () => response);
    this.operations.succeed(op, response);
    return op;
  }

  /** Starts an execution; the operation completes when the execution does. */
  run(name: string, body: JsonObject): Operation {
    const job = this.#get(name);
    checkEtag(job.meta, body.etag);
    const overrides = asObject(body.overrides);
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
    const env = override.flatMap((o) => asList(o.env));
    const args = override.find((o) => o.clearArgs === true)
      ? []
      : override.map((o) => o.args).find((a) => Array.isArray(a) && a.length > 0);
    if (body.validateOnly === true) return this.#done('Execution', {});

    job.executionCount++;
    const id = `${job.id}-${randomSuffix(5)}`;
    const execution: ExecutionRecord = {
      meta: newMeta(`${job.meta.name}/executions/${id}`),
      id,
      job,
      template,
      taskCount,
      parallelism: Number(exec.parallelism ?? DEFAULTS.parallelism),
      env,
      ...(args ? { args: args as Json[] } : {}),
      tasks: [],
      state: 'running',
      conditions: [condition('Completed', 'CONDITION_RECONCILING')],
      cancelled: false,
      log: new LogFile(join(this.settings.logDir, 'jobs', job.id, `${id}.log`)),
      done: Promise.resolve(),
    };
    for (let index = 0; index < taskCount; index++) {
      execution.tasks.push({
        meta: newMeta(`${execution.meta.name}/tasks/${id}-task${index}`),
        index,
        state: 'pending',
        attempts: 0,
        retried: 0,
      });
    }
    job.executions.set(id, execution);
    job.latest = execution;
    const op = this.operations.create(this.parent, 'Execution', () =>
      this.renderExecution(execution),
    );
    execution.done = this.#execute(execution).then(
      () => {
        if (execution.state === 'succeeded')
          this.operations.succeed(op, this.renderExecution(execution));
        else this.operations.fail(op, this.#failure(execution));
      },
      (err) => this.operations.fail(op, err),
    );
    return op;
  }

  #failure(execution: ExecutionRecord): RunwayError {
    if (execution.state === 'cancelled')
      return new RunwayError('CANCELLED', `Execution '${execution.id}' was cancelled.`);
    const failed = execution.tasks.filter((t) => t.state === 'failed');
    const first = failed[0];
    const why = first?.lastAttempt ? ` Task ${first.index}: ${first.lastAttempt.message}` : '';
    return failedPrecondition(
      `Execution '${execution.id}' failed: ${failed.length} of ${execution.taskCount} task(s) failed.${why} Logs: runway logs --execution ${execution.id}`,
    );
  }

  async #execute(execution: ExecutionRecord): Promise<void> {
    execution.startTime = Date.now();
    const container = asObject(asList(execution.template.containers)[0]);
    let image: ResolvedImage;
    try {
      image = await this.settings.images.resolve(String(container.image));
    } catch (err) {
      const message =
        err instanceof RunwayError ? err.message : `Image '${container.image}' not found.`;
      for (const task of execution.tasks) {
        task.state = 'failed';
        task.lastAttempt = { exitCode: -1, message };
      }
      this.#complete(execution, 'failed', message);
      return;
    }
    const limit = execution.parallelism > 0 ? execution.parallelism : execution.taskCount;
    let next = 0;
    const worker = async () => {
      while (next < execution.tasks.length && !execution.cancelled) {
        const task = execution.tasks[next++]!;
        await this.#runTask(execution, task, image, container);
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, execution.taskCount) }, worker));
    for (const task of execution.tasks) if (task.state === 'pending') task.state = 'cancelled';
    if (execution.cancelled) this.#complete(execution, 'cancelled', 'The execution was cancelled.');
    else if (execution.tasks.every((t) => t.state === 'succeeded'))
      this.#complete(execution, 'succeeded', 'The execution completed successfully.');
    else this.#complete(execution, 'failed', this.#failure(execution).message);
  }

  #complete(execution: ExecutionRecord, state: ExecutionRecord['state'], message: string): void {
    execution.state = state;
    execution.completionTime = Date.now();
    execution.conditions = [
      condition('Completed', state === 'succeeded' ? 'CONDITION_SUCCEEDED' : 'CONDITION_FAILED', {
        message,
        ...(state === 'cancelled'
          ? { executionReason: 'CANCELLED' }
          : state === 'failed'
            ? { executionReason: 'NON_ZERO_EXIT_CODE' }
            : {}),
      }),
    ];
    touch(execution.meta, false);
    execution.log.write('runway', `execution ${state}: ${message}`);
    void execution.log.close();
  }

  async #runTask(
    execution: ExecutionRecord,
    task: TaskRecord,
    image: ResolvedImage,
    container: JsonObject,
  ): Promise<void> {
    const maxRetries = Number(execution.template.maxRetries ?? DEFAULTS.maxRetries);
    const timeoutMs = seconds(execution.template.timeout, DEFAULTS.timeout) * 1000;
    task.state = 'running';
    task.startTime = Date.now();
    for (let attempt = 0; attempt <= maxRetries && !execution.cancelled; attempt++) {
      task.attempts = attempt + 1;
      task.retried = attempt;
      const proc = new ContainerProcess({
        argv: argvFor(image, container, execution.args),
        cwd: image.dir,
        env: {
          ...containerEnv(image, container, execution.env),
          CLOUD_RUN_JOB: execution.job.id,
          CLOUD_RUN_EXECUTION: execution.id,
          CLOUD_RUN_TASK_INDEX: String(task.index),
          CLOUD_RUN_TASK_COUNT: String(execution.taskCount),
          CLOUD_RUN_TASK_ATTEMPT: String(attempt),
        },
        log: execution.log,
        label: `task ${task.index} attempt ${attempt}`,
        ...(this.settings.ledger ? { ledger: this.settings.ledger } : {}),
      });
      task.proc = proc;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        void proc.stop(this.settings.graceMs);
      }, timeoutMs);
      const exit = await proc.exited;
      clearTimeout(timer);
      task.proc = undefined;
      const code = exit.code ?? (exit.signal === 'SIGKILL' ? 137 : 143);
      if (code === 0 && !timedOut) {
        task.state = 'succeeded';
        task.lastAttempt = { exitCode: 0, message: 'The container exited successfully.' };
        task.completionTime = Date.now();
        return;
      }
      task.lastAttempt = {
        exitCode: code,
        ...(exit.signal ? { signal: exit.signal } : {}),
        message: timedOut
          ? `The task attempt was stopped at its timeout of ${timeoutMs / 1000} s.`
          : `The container exited with code ${code}${exit.signal ? ` (${exit.signal})` : ''}.`,
      };
    }
    task.state = execution.cancelled ? 'cancelled' : 'failed';
    task.completionTime = Date.now();
  }

  async #cancel(execution: ExecutionRecord): Promise<void> {
    if (execution.state !== 'running') return;
    execution.cancelled = true;
    await Promise.all(execution.tasks.map((t) => t.proc?.stop(this.settings.graceMs)));
    await execution.done;
  }

  // --- executions and tasks ---

  #execution(name: string): ExecutionRecord {
    const m = /^(.*\/jobs\/[^/]+)\/executions\/([^/]+)$/.exec(name);
    const exec = m ? this.#jobs.get(m[1]!)?.executions.get(m[2]!) : undefined;
    if (!exec) throw notFound(`Execution '${short(name)}' does not exist.`);
    return exec;
  }

  getExecution(name: string): JsonObject {
    return this.renderExecution(this.#execution(name));
  }

  listExecutions(parent: string): JsonObject[] {
    const job = this.#get(parent);
    return [...job.executions.values()].reverse().map((e) => this.renderExecution(e));
  }

  async cancelExecution(name: string, etag: string | undefined): Promise<Operation> {
    const exec = this.#execution(name);
    checkEtag(exec.meta, etag);
    if (exec.state !== 'running') {
      throw failedPrecondition(`Execution '${exec.id}' has already finished (${exec.state}).`);
    }
    const op = this.operations.create(this.parent, 'Execution', () => this.renderExecution(exec));
    await this.#cancel(exec);
    this.operations.succeed(op, this.renderExecution(exec));
    return op;
  }

  async deleteExecution(name: string, etag: string | null): Promise<Operation> {
    const exec = this.#execution(name);
    checkEtag(exec.meta, etag ?? undefined);
    await this.#cancel(exec);
    exec.job.executions.delete(exec.id);
    return this.#done('Execution', { ...this.renderExecution(exec), deleteTime: iso(Date.now()) });
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
    return this.renderTask(exec, task);
  }

  listTasks(parent: string): JsonObject[] {
    const exec = this.#execution(parent);
    return exec.tasks.map((t) => this.renderTask(exec, t));
  }

  logPath(name: string): string {
    return this.#execution(name).log.path;
  }

  /** Every running task stopped (SIGTERM, then SIGKILL). */
  async close(): Promise<void> {
    const all = [...this.#jobs.values()].flatMap((j) => [...j.executions.values()]);
    await Promise.all(all.map((e) => this.#cancel(e)));
  }

  kill(): void {
    for (const job of this.#jobs.values())
      for (const e of job.executions.values()) for (const t of e.tasks) t.proc?.kill();
  }

  // --- rendering ---

  render(job: JobRecord): JsonObject {
    const exec = asObject(job.spec.template);
    const task = asObject(exec.template);
    const latest = job.latest;
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
      ...(latest
        ? {
            latestCreatedExecution: {
              name: latest.meta.name,
              createTime: iso(latest.meta.createTime),
              ...(latest.completionTime ? { completionTime: iso(latest.completionTime) } : {}),
              completionStatus: {
                running: 'EXECUTION_RUNNING',
                succeeded: 'EXECUTION_SUCCEEDED',
                failed: 'EXECUTION_FAILED',
                cancelled: 'EXECUTION_CANCELLED',
              }[latest.state],
            },
          }
        : {}),
      reconciling: false,
    };
  }

  renderExecution(e: ExecutionRecord): JsonObject {
    const count = (s: TaskRecord['state']) => e.tasks.filter((t) => t.state === s).length;
    return {
      ...renderMeta(e.meta),
      creator: 'runway-local',
      labels: {},
      annotations: {},
      launchStage: 'GA',
      job: e.job.id,
      parallelism: e.parallelism,
      taskCount: e.taskCount,
      template: e.template,
      reconciling: e.state === 'running',
      conditions: e.conditions as unknown as Json[],
      observedGeneration: String(e.meta.generation),
      ...(e.startTime ? { startTime: iso(e.startTime) } : {}),
      ...(e.completionTime ? { completionTime: iso(e.completionTime) } : {}),
      runningCount: count('running'),
      succeededCount: count('succeeded'),
      failedCount: count('failed'),
      cancelledCount: count('cancelled'),
      retriedCount: e.tasks.reduce((n, t) => n + t.retried, 0),
      logUri: `file://${e.log.path}`,
    };
  }

  renderTask(e: ExecutionRecord, t: TaskRecord): JsonObject {
    const state = {
      pending: 'CONDITION_PENDING',
      running: 'CONDITION_RECONCILING',
      succeeded: 'CONDITION_SUCCEEDED',
      failed: 'CONDITION_FAILED',
      cancelled: 'CONDITION_FAILED',
    }[t.state] as Condition['state'];
    return {
      ...renderMeta(t.meta),
      job: e.job.id,
      execution: e.id,
      index: t.index,
      retried: t.retried,
      containers: e.template.containers ?? [],
      maxRetries: Number(e.template.maxRetries ?? DEFAULTS.maxRetries),
      timeout: e.template.timeout ?? DEFAULTS.timeout,
      reconciling: t.state === 'running' || t.state === 'pending',
      conditions: [
        condition('Completed', state, t.lastAttempt ? { message: t.lastAttempt.message } : {}),
      ] as unknown as Json[],
      observedGeneration: '1',
      ...(t.startTime ? { startTime: iso(t.startTime) } : {}),
      ...(t.completionTime ? { completionTime: iso(t.completionTime) } : {}),
      ...(t.lastAttempt
        ? {
            lastAttemptResult: {
              status: {
                code: t.lastAttempt.exitCode === 0 ? 0 : 2,
                message: t.lastAttempt.message,
                details: [],
              },
              exitCode: t.lastAttempt.exitCode,
            },
          }
        : {}),
      logUri: `file://${e.log.path}`,
    };
  }
}
