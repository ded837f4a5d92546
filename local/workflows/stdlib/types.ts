// The seam between the runtime and the standard library: a function is a name, its parameters
// and an implementation that gets positional arguments (the runtime maps `call` step `args` by name).
import type { Value } from '../values.ts';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Waits `ms` of workflow time (divided by the time scale); rejects when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export type Severity =
  | 'DEFAULT'
  | 'DEBUG'
  | 'INFO'
  | 'NOTICE'
  | 'WARNING'
  | 'ERROR'
  | 'CRITICAL'
  | 'ALERT'
  | 'EMERGENCY';

/** What the environment answers for `sys.get_env` and what connectors and `http` need. */
export interface ExecutionEnv {
  projectId: string;
  projectNumber: string;
  location: string;
  workflowId: string;
  revisionId: string;
  executionId: string;
  /** GOOGLE_CLOUD_SERVICE_ACCOUNT_NAME: the service account the workflow runs as; unset when empty. */
  serviceAccountName?: string;
  /**
   * The deployment's user-defined environment variables (`gcloud workflows deploy
   * --set-env-vars`), already validated (see `validateUserEnvVars` in `sys.ts`).
   */
  userEnvVars?: Readonly<Record<string, string>>;
}

/** Where connectors send each Google service's requests, and how they authenticate. */
export interface Endpoints {
  /** Base URL for a service host such as `run.googleapis.com`; Google's own by default. */
  baseUrl(host: string): string;
  /**
   * An access or identity token of `serviceAccount` (the workflow's, `ctx.env.serviceAccountName`)
   * for connectors and `http.*` with `auth`; the local cloud's issuer mints real ones when its
   * identity is on, else a fake.
   */
  token(
    kind: 'OAuth2' | 'OIDC',
    audienceOrScopes: string | string[],
    serviceAccount?: string,
  ): Promise<string>;
}

/**
 * Where `events.create_callback_endpoint` makes its endpoints and `events.await_callback` waits on
 * them: the Executions API server (`runway workflows serve`) or the CLI's loopback listener.
 */
export interface CallbackRegistry {
  /** Creates an endpoint of this execution accepting `method`; resolves to its URL. */
  create(env: ExecutionEnv, method: string): Promise<string>;
  /**
   * The next request received at callback `url` (queued ones first), as `events.await_callback`
   * returns it. Rejects when `signal` aborts; raises ValueError for a URL this execution did not create.
   */
  next(url: string, env: ExecutionEnv, signal: AbortSignal): Promise<Value>;
}

export interface CallContext {
  readonly signal: AbortSignal;
  readonly clock: Clock;
  readonly env: ExecutionEnv;
  readonly endpoints: Endpoints;
  /** Absent when the engine runs without a callback server (a bare `startExecution`). */
  readonly callbacks?: CallbackRegistry;
  log(severity: Severity, value: Value): void;
  /** Bills extra steps, as connector polls are billed. */
  countSteps(n: number, kind: 'internal' | 'external'): void;
}

export interface Param {
  name: string;
  /** Omitted optional parameters are `undefined` in `args`. */
  optional?: boolean;
}

export interface WfFunction {
  params: Param[];
  /** Blocking functions (http, sys.sleep, connectors) may only be called from a `call` step. */
  blocking?: boolean;
  /** Billed as an external step (HTTP and connectors) rather than internal. */
  external?: boolean;
  /** Takes a call step's whole `args` map as its one argument (connectors, whose arguments vary). */
  rawArgs?: boolean;
  /**
   * Returns a new list, its first argument's items then its second argument (list.concat): the
   * runtime may then append in place to a list that one variable alone holds.
   */
  appends?: boolean;
  impl(args: (Value | undefined)[], ctx: CallContext): Value | Promise<Value>;
}

/** Functions by their full name: `text.split`, `len`, `http.get`. */
export type FunctionRegistry = ReadonlyMap<string, WfFunction>;
