// The jobs of the local Cloud Scheduler and what runs them: each ENABLED job sleeps on the
// injected clock until its next cron time, runs (one execution at a time, late rather than
// twice), and retries a failed attempt by its RetryConfig until the next scheduled time. State,
// scheduleTime, lastAttemptTime and status are kept as Job reports them.
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
} from '../../services/shared/errors.ts';
import type { JsonObject } from '../run/proto-json.ts';
import type { Clock } from '../workflows/stdlib/types.ts';
import { attemptHttp, backoffMs, type RpcStatus, type TokenSource } from './dispatch.ts';
import {
  applyMask,
  attemptDeadlineMs,
  checkJob,
  jobNotFound,
  NAME_FORMAT,
  parseJobName,
  renderDefaults,
  retryPolicy,
  WRITABLE,
} from './jobs.ts';
import type { Schedule } from './schedule.ts';

export type JobState = 'ENABLED' | 'PAUSED';

/** What the scheduler logs: Cloud Scheduler's AttemptStarted and AttemptFinished entries. */
export interface AttemptLog {
  type: 'AttemptStarted' | 'AttemptFinished';
  jobName: string;
  url: string;
  scheduledTime: string;
  status?: RpcStatus;
}

export interface SchedulerOptions {
  project: string;
  clock: Clock;
  tokens?: TokenSource;
  log?: (entry: AttemptLog) => void;
}

interface JobRecord {
  name: string;
  spec: JsonObject;
  schedule: Schedule;
  state: JobState;
  userUpdateTime: number;
  scheduleTime?: number;
  lastAttemptTime?: number;
  status?: RpcStatus;
  /** Aborted on pause, update and delete: stops the schedule loop and its retries. */
  loop: AbortController;
  /** Aborted on delete and close: stops forced runs too. */
  life: AbortController;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class Scheduler {
  readonly #jobs = new Map<string, JobRecord>();
  readonly #opts: SchedulerOptions;
  #seq = 0;

  constructor(options: SchedulerOptions) {
    this.#opts = options;
  }

  /** The project must be this cloud's; any location in it is served. */
  checkParent(parent: string): void {
    const m = /^projects\/([^/]+)\/locations\/([^/]+)$/.exec(parent);
    if (!m) throw invalidArgument(`parent ${parent.slice(0, 200)} is not projects/P/locations/L`);
    if (m[1] !== this.#opts.project) {
      throw notFound(`Project ${m[1]} is not served here (${this.#opts.project} is).`);
    }
  }

  create(parent: string, body: JsonObject): JsonObject {
    this.checkParent(parent);
    const name =
      typeof body.name === 'string' && body.name !== ''
        ? body.name
        : `${parent}/jobs/${Date.now().toString(36)}${(++this.#seq).toString(36)}`;
    const parsed = parseJobName(name);
    if (parsed.parent !== parent) {
      throw invalidArgument(`${NAME_FORMAT} The job name must be under ${parent}.`, [
        { field: 'job.name', description: `not under ${parent}` },
      ]);
    }
    const { spec, schedule } = checkJob(body);
    if (this.#jobs.has(name)) throw alreadyExists(`Job ${name} already exists.`);
    const record: JobRecord = {
      name,
      spec,
      schedule,
      state: 'ENABLED',
      userUpdateTime: this.#opts.clock.now(),
      loop: new AbortController(),
      life: new AbortController(),
    };
    this.#jobs.set(name, record);
    this.#start(record);
    return this.render(record);
  }

  get(name: string): JsonObject {
    return this.render(this.#find(name));
  }

  list(parent: string): JsonObject[] {
    this.checkParent(parent);
    return [...this.#jobs.values()]
      .filter((r) => r.name.startsWith(`${parent}/jobs/`))
      .map((r) => this.render(r));
  }

  /** UpdateJob: the masked fields (all written fields without a mask), checked whole again. */
  update(name: string, body: JsonObject, mask: string[] | undefined): JsonObject {
    const record = this.#find(name);
    if (typeof body.name === 'string' && body.name !== '' && body.name !== name) {
      throw invalidArgument(`job.name ${body.name} does not match the job in the URL, ${name}`);
    }
    const paths = mask ?? WRITABLE.filter((k) => body[k] !== undefined);
    const merged = applyMask(record.spec, body, paths);
    const { spec, schedule } = checkJob(merged);
    record.spec = spec;
    record.schedule = schedule;
    record.userUpdateTime = this.#opts.clock.now();
    if (record.state === 'ENABLED') this.#restart(record);
    return this.render(record);
  }

  delete(name: string): void {
    const record = this.#find(name);
    record.loop.abort();
    record.life.abort();
    this.#jobs.delete(name);
  }

  /** A job must be ENABLED to be paused (PauseJob's contract). */
  pause(name: string): JsonObject {
    const record = this.#find(name);
    if (record.state !== 'ENABLED') {
      throw failedPrecondition(
        `Job ${name} is ${record.state}; only an ENABLED job can be paused.`,
      );
    }
    record.state = 'PAUSED';
    record.userUpdateTime = this.#opts.clock.now();
    record.loop.abort();
    delete record.scheduleTime;
    return this.render(record);
  }

  /** A job must be PAUSED to be resumed (ResumeJob's contract). */
  resume(name: string): JsonObject {
    const record = this.#find(name);
    if (record.state !== 'PAUSED') {
      throw failedPrecondition(`Job ${name} is ${record.state}; only a PAUSED job can be resumed.`);
    }
    record.state = 'ENABLED';
    record.userUpdateTime = this.#opts.clock.now();
    this.#start(record);
    return this.render(record);
  }

  /**
   * RunJob: dispatches now, even when the job is running or paused, and answers at once; the
   * attempt's outcome shows in lastAttemptTime and status. Retries follow the RetryConfig.
   */
  run(name: string): JsonObject {
    const record = this.#find(name);
    const now = this.#opts.clock.now();
    void this.#execute(record, now, record.life.signal);
    return this.render(record);
  }

  /** Stops every schedule and attempt. */
  close(): void {
    for (const r of this.#jobs.values()) {
      r.loop.abort();
      r.life.abort();
    }
  }

  render(r: JobRecord): JsonObject {
    const { description, ...rest } = r.spec;
    return {
      name: r.name,
      ...(description ? { description } : {}),
      ...rest,
      ...renderDefaults(r.spec),
      userUpdateTime: iso(r.userUpdateTime),
      state: r.state,
      ...(r.status ? { status: r.status.code === 0 ? {} : { ...r.status } } : {}),
      ...(r.scheduleTime !== undefined ? { scheduleTime: iso(r.scheduleTime) } : {}),
      ...(r.lastAttemptTime !== undefined ? { lastAttemptTime: iso(r.lastAttemptTime) } : {}),
    };
  }

  #find(name: string): JobRecord {
    parseJobName(name);
    const record = this.#jobs.get(name);
    if (!record) throw jobNotFound();
    return record;
  }

  #restart(record: JobRecord): void {
    record.loop.abort();
    this.#start(record);
  }

  #start(record: JobRecord): void {
    record.loop = new AbortController();
    const signal = AbortSignal.any([record.loop.signal, record.life.signal]);
    void this.#loop(record, signal);
  }

  /**
   * Sleeps to each cron time and runs it. A run that ends after the next time makes that one run
   * late (never two at once, never a backlog: missed times collapse into one late run).
   */
  async #loop(record: JobRecord, signal: AbortSignal): Promise<void> {
    const { clock } = this.#opts;
    let after = clock.now();
    while (!signal.aborted) {
      const next = record.schedule.nextAfter(after);
      if (next === undefined) return;
      record.scheduleTime = next;
      const wait = next - clock.now();
      if (wait > 0) {
        try {
          await clock.sleep(wait, signal);
        } catch {
          return;
        }
      }
      await this.#execute(record, next, signal);
      after = next;
      // Times that passed while it ran: the newest of them runs now, late, the others not at all.
      let late = record.schedule.nextAfter(next);
      for (let i = 0; late !== undefined && late <= clock.now() && i < 10_000; i++) {
        after = late - 1;
        late = record.schedule.nextAfter(late);
      }
    }
  }

  /** One execution: an attempt, and retries while RetryConfig and the next cron time allow. */
  async #execute(record: JobRecord, scheduledFor: number, signal: AbortSignal): Promise<void> {
    const { clock } = this.#opts;
    const policy = retryPolicy(record.spec);
    const first = clock.now();
    const nextRun = record.schedule.nextAfter(scheduledFor);
    for (let n = 0; !signal.aborted; n++) {
      const status = await this.#attempt(record, scheduledFor, signal);
      if (signal.aborted || status.code === 0) return;
      // retry_count 0: no retries at all. Otherwise retries go on until both retry_count and
      // max_retry_duration (0: none) are reached, as `gcloud scheduler jobs create` describes.
      if (policy.retryCount === 0) return;
      const countLeft = n < policy.retryCount;
      const timeLeft = policy.maxRetryMs > 0 && clock.now() - first < policy.maxRetryMs;
      if (!countLeft && !timeLeft) return;
      const wait = backoffMs(policy, n);
      if (nextRun !== undefined && clock.now() + wait >= nextRun) return;
      record.scheduleTime = clock.now() + wait;
      try {
        await clock.sleep(wait, signal);
      } catch {
        return;
      }
    }
  }

  async #attempt(record: JobRecord, scheduledFor: number, signal: AbortSignal): Promise<RpcStatus> {
    const { clock, tokens, log } = this.#opts;
    const httpTarget = record.spec.httpTarget as JsonObject;
    const entry = {
      jobName: record.name,
      url: String(httpTarget.uri),
      scheduledTime: iso(scheduledFor),
    };
    record.lastAttemptTime = clock.now();
    log?.({ type: 'AttemptStarted', ...entry });
    const status = await attemptHttp({
      jobName: record.name,
      httpTarget,
      scheduleTime: scheduledFor,
      deadlineMs: attemptDeadlineMs(record.spec),
      clock,
      ...(tokens ? { tokens } : {}),
      signal,
    });
    if (!signal.aborted) record.status = status;
    log?.({ type: 'AttemptFinished', ...entry, status });
    return status;
  }
}
