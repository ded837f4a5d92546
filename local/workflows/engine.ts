// The engine's public face: parse a definition once, start executions of it, watch or cancel them.
import { whenAborted } from './abort.ts';
import { randomUUID } from './node-crypto.ts';
import { stdlib } from './stdlib/index.ts';
import { connectorResolver } from './connectors/index.ts';
import { raise, WorkflowError } from './errors.ts';
import { parseWorkflow as parse } from './parser.ts';
import { Cancelled } from './flow.ts';
import { defaultLimits, type Limits, Runtime, type RuntimeHost } from './runtime.ts';
import type {
  CallbackRegistry,
  CallContext,
  Clock,
  Endpoints,
  ExecutionEnv,
  Severity,
  WfFunction,
} from './stdlib/types.ts';
import type { Workflow } from './syntax.ts';
import { isBytes, isList, isMap, type Value, wfMap } from './values.ts';

export { DeployError } from './errors.ts';
export type { Limits } from './runtime.ts';
export type { Workflow } from './syntax.ts';

export type FunctionResolver = (name: string) => WfFunction | undefined;

export interface EngineOptions {
  functions?: FunctionResolver;
  clock?: Clock;
  endpoints?: Endpoints;
  env?: Partial<ExecutionEnv>;
  log?: (entry: { severity: Severity; payload: Value; step?: string }) => void;
  limits?: Partial<Limits>;
  callLogLevel?: 'LOG_ALL_CALLS' | 'LOG_ERRORS_ONLY' | 'LOG_NONE';
  /** Serves `events.*` callbacks; without it they raise an error naming `runway workflows serve`. */
  callbacks?: CallbackRegistry;
}

export type ExecutionState = 'ACTIVE' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

export interface ExecutionResult {
  state: Exclude<ExecutionState, 'ACTIVE'>;
  result?: Value;
  error?: { payload: Value; context: string };
  steps: { internal: number; external: number };
}

export interface Execution {
  readonly id: string;
  readonly startTime: Date;
  readonly endTime: Date | undefined;
  readonly state: ExecutionState;
  readonly steps: { internal: number; external: number };
  readonly currentStep: { routine: string; step: string } | undefined;
  readonly done: Promise<ExecutionResult>;
  cancel(): void;
}

/**
 * Real time, or time running `scale` times faster (bakes and polls finish sooner locally). Both
 * sleeps and `now` are scaled, so a loop that sleeps until `sys.now()` passes a deadline still
 * takes the number of turns it would take on Google.
 */
export function timeScaledClock(scale = 1, realNow: () => number = Date.now): Clock {
  const origin = realNow();
  return {
    now: () => (scale === 1 ? realNow() : origin + (realNow() - origin) * scale),
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal.aborted) return reject(new Cancelled());
        const timer = setTimeout(() => {
          forget();
          resolve();
        }, ms / scale);
        const forget = whenAborted(signal, () => {
          clearTimeout(timer);
          reject(new Cancelled());
        });
      }),
  };
}

const localEndpoints: Endpoints = {
  baseUrl: (host) => `https://${host}`,
  token: async () => 'local-fake-token',
};

export const defaultFunctions: FunctionResolver = (name) =>
  stdlib.get(name) ?? connectorResolver(name);

export function parseWorkflow(source: string, options?: { file?: string }): Workflow {
  return parse(source, options);
}

export function startExecution(
  workflow: Workflow,
  argument: Value | undefined,
  options: EngineOptions & { executionId?: string } = {},
): Execution {
  // Made at first use: most executions never ask for their id, and a UUID loads node:crypto.
  let id = options.executionId;
  const idOf = () => {
    id ??= randomUUID();
    return id;
  };
  const abort = new AbortController();
  const host = runtimeHost(options, idOf, abort.signal);
  let state: ExecutionState = 'ACTIVE';
  let endTime: Date | undefined;
  const startTime = new Date();
  const runtime = new Runtime(workflow, host);
  const done = (async (): Promise<ExecutionResult> => {
    // Start on the next tick so the caller holds the handle before anything runs.
    await Promise.resolve();
    const r = await outcome(runtime, host, argument);
    state = r.state;
    endTime = new Date();
    return { ...r, steps: { ...host.steps } };
  })();

  return {
    get id() {
      return idOf();
    },
    startTime,
    get endTime() {
      return endTime;
    },
    get state() {
      return state;
    },
    get steps() {
      return host.steps;
    },
    get currentStep() {
      return host.currentStepName
        ? { routine: host.currentRoutine ?? '', step: host.currentStepName }
        : undefined;
    },
    done,
    cancel() {
      if (state !== 'ACTIVE') return;
      host.cancelled = true;
      abort.abort();
    },
  };
}

/** What the runtime of one execution works with: functions, call context, limits, counters. */
function runtimeHost(options: EngineOptions, id: () => string, signal: AbortSignal): RuntimeHost {
  const env: ExecutionEnv = {
    projectId: '',
    projectNumber: '',
    location: '',
    workflowId: '',
    revisionId: '',
    ...options.env,
    get executionId() {
      return id();
    },
  };
  const ctx: CallContext = {
    signal,
    clock: options.clock ?? timeScaledClock(1),
    env,
    endpoints: options.endpoints ?? localEndpoints,
    ...(options.callbacks ? { callbacks: options.callbacks } : {}),
    log: (severity, payload) =>
      options.log?.({
        severity,
        payload,
        ...(host.currentStepName ? { step: host.currentStepName } : {}),
      }),
    countSteps: (n, kind) => {
      host.steps[kind] += n;
      // Polls bill steps too, so an operation polled forever still ends at the step limit.
      if (host.steps.internal + host.steps.external > host.limits.maxSteps)
        raise(
          'ResourceLimitError',
          `exceeded the limit of ${host.limits.maxSteps} steps in one execution`,
        );
    },
  };
  const host: RuntimeHost = {
    functions: options.functions ?? defaultFunctions,
    ctx,
    limits: { ...defaultLimits, ...options.limits },
    steps: { internal: 0, external: 0 },
    cancelled: false,
    ...(options.callLogLevel === 'LOG_ALL_CALLS'
      ? { callLog: 'all' as const }
      : options.callLogLevel === 'LOG_ERRORS_ONLY'
        ? { callLog: 'errors' as const }
        : {}),
  };
  return host;
}

/** Runs main to its end: the result, or the error with the step it happened in, or cancelled. */
async function outcome(
  runtime: Runtime,
  host: RuntimeHost,
  argument: Value | undefined,
): Promise<Omit<ExecutionResult, 'steps'>> {
  try {
    const result = await runtime.runMain(argument);
    // The result leaves as JSON; bytes have no JSON form, so such a result fails the execution.
    if (containsBytes(result))
      raise(
        'TypeError',
        'the workflow result contains bytes, which JSON cannot hold; use base64.encode',
      );
    return { state: 'SUCCEEDED', result };
  } catch (err) {
    if (err instanceof Cancelled || host.cancelled) return { state: 'CANCELLED' };
    const context = host.currentStepName
      ? `in step "${host.currentStepName}", routine "${host.currentRoutine}", line: ${host.currentLine}`
      : '';
    if (err instanceof WorkflowError)
      return { state: 'FAILED', error: { payload: err.value, context } };
    // A bug in the engine or a function: the execution fails with a SystemError, the engine lives on.
    const message = err instanceof Error ? err.message : String(err);
    return {
      state: 'FAILED',
      error: { payload: wfMap({ message, tags: ['SystemError'] }), context },
    };
  }
}

function containsBytes(v: Value): boolean {
  if (isBytes(v)) return true;
  if (isList(v)) return v.some(containsBytes);
  if (isMap(v)) for (const x of v.values()) if (containsBytes(x)) return true;
  return false;
}
