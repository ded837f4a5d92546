// Executions and tasks of a local Cloud Run job: an execution runs `taskCount` tasks, each a real
// process with Cloud Run's job variables, retried up to `maxRetries` times, killed at its
// `timeout`, at most `parallelism` at once. It succeeds when every task succeeds.
import { join } from 'node:path';
import { failedPrecondition, RunwayError } from '../../services/shared/errors.ts';
import { argvFor, asList, asObject, containerEnv, type ResolvedImage } from './containers.ts';
import { ContainerProcess, LogFile } from './process.ts';
import type { Json, JsonObject } from './proto-json.ts';
import {
  type Condition,
  condition,
  identityEnv,
  iso,
  logFolder,
  type Meta,
  newMeta,
  randomSuffix,
  renderMeta,
  type RunSettings,
  touch,
} from './resources.ts';

export const DEFAULTS = { taskCount: 1, parallelism: 0, maxRetries: 3, timeout: '600s' };

export function seconds(duration: Json | undefined, fallback: string): number {
  const text = typeof duration === 'string' ? duration : fallback;
  return Number(text.replace(/s$/, ''));
}

export interface TaskRecord {
  meta: Meta;
  index: number;
  state: 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  attempts: number;
  retried: number;
  startTime?: number;
  completionTime?: number;
  lastAttempt?: { exitCode: number; signal?: string; message: string };
  proc?: ContainerProcess | undefined;
}

/** What an execution reads and writes of its job. */
export interface ExecutionOwner {
  id: string;
  meta: Meta;
  executions: Map<string, ExecutionRecord>;
  executionCount: number;
  latest?: ExecutionRecord;
}

/** A run's request, checked: the task template with the overrides applied, and its numbers. */
export interface RunPlan {
  template: JsonObject;
  taskCount: number;
  parallelism: number;
  env: Json[];
  args?: Json[] | undefined;
}

export interface ExecutionRecord extends RunPlan {
  meta: Meta;
  id: string;
  job: ExecutionOwner;
  tasks: TaskRecord[];
  startTime?: number;
  completionTime?: number;
  state: 'running' | 'succeeded' | 'failed' | 'cancelled';
  conditions: Condition[];
  cancelled: boolean;
  log: LogFile;
  done: Promise<void>;
}

/** Why an execution did not succeed, as its run operation fails. */
export function failure(execution: ExecutionRecord): RunwayError {
  if (execution.state === 'cancelled')
    return new RunwayError('CANCELLED', `Execution '${execution.id}' was cancelled.`);
  const failed = execution.tasks.filter((t) => t.state === 'failed');
  const first = failed[0];
  const why = first?.lastAttempt ? ` Task ${first.index}: ${first.lastAttempt.message}` : '';
  return failedPrecondition(
    `Execution '${execution.id}' failed: ${failed.length} of ${execution.taskCount} task(s) failed.${why} Logs: runway logs --execution ${execution.id}`,
  );
}

export class Executions {
  constructor(readonly settings: RunSettings) {}

  /** A new execution of the job, with its tasks pending; `execute` runs it. */
  create(job: ExecutionOwner, plan: RunPlan): ExecutionRecord {
    job.executionCount++;
    const id = `${job.id}-${randomSuffix(5)}`;
    const name = `${job.meta.name}/executions/${id}`;
    const execution: ExecutionRecord = {
      ...plan,
      meta: newMeta(name),
      id,
      job,
      tasks: Array.from({ length: plan.taskCount }, (_, index) => ({
        meta: newMeta(`${name}/tasks/${id}-task${index}`),
        index,
        state: 'pending' as const,
        attempts: 0,
        retried: 0,
      })),
      state: 'running',
      conditions: [condition('Completed', 'CONDITION_RECONCILING')],
      cancelled: false,
      log: new LogFile(join(logFolder(this.settings, job.meta.name, 'jobs'), `${id}.log`)),
      done: Promise.resolve(),
    };
    job.executions.set(id, execution);
    job.latest = execution;
    return execution;
  }

  /** Runs the tasks, `parallelism` at a time, and settles the execution's state. */
  async execute(execution: ExecutionRecord): Promise<void> {
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
    else this.#complete(execution, 'failed', failure(execution).message);
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
      const { succeeded, result } = await this.#attempt(
        execution,
        task,
        attempt,
        image,
        container,
        timeoutMs,
      );
      task.lastAttempt = result;
      if (succeeded) {
        task.state = 'succeeded';
        task.completionTime = Date.now();
        return;
      }
    }
    task.state = execution.cancelled ? 'cancelled' : 'failed';
    task.completionTime = Date.now();
  }

  /** One attempt of a task: a process with Cloud Run's job variables, stopped at the timeout. */
  async #attempt(
    execution: ExecutionRecord,
    task: TaskRecord,
    attempt: number,
    image: ResolvedImage,
    container: JsonObject,
    timeoutMs: number,
  ): Promise<{ succeeded: boolean; result: NonNullable<TaskRecord['lastAttempt']> }> {
    const identity = await identityEnv(this.settings, execution.template);
    const proc = new ContainerProcess({
      argv: argvFor(image, container, execution.args),
      cwd: image.dir,
      env: {
        ...identity,
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
      return {
        succeeded: true,
        result: { exitCode: 0, message: 'The container exited successfully.' },
      };
    }
    const message = timedOut
      ? `The task attempt was stopped at its timeout of ${timeoutMs / 1000} s.`
      : `The container exited with code ${code}${exit.signal ? ` (${exit.signal})` : ''}.`;
    return {
      succeeded: false,
      result: { exitCode: code, ...(exit.signal ? { signal: exit.signal } : {}), message },
    };
  }

  /** Stops a running execution's tasks and waits for it to settle. */
  async cancel(execution: ExecutionRecord): Promise<void> {
    if (execution.state !== 'running') return;
    execution.cancelled = true;
    await Promise.all(execution.tasks.map((t) => t.proc?.stop(this.settings.graceMs)));
    await execution.done;
  }

  kill(execution: ExecutionRecord): void {
    for (const t of execution.tasks) t.proc?.kill();
  }
}

export function renderExecution(e: ExecutionRecord): JsonObject {
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

const TASK_STATES: Record<TaskRecord['state'], Condition['state']> = {
  pending: 'CONDITION_PENDING',
  running: 'CONDITION_RECONCILING',
  succeeded: 'CONDITION_SUCCEEDED',
  failed: 'CONDITION_FAILED',
  cancelled: 'CONDITION_FAILED',
};

export function renderTask(e: ExecutionRecord, t: TaskRecord): JsonObject {
  const state = TASK_STATES[t.state];
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
