// What runway's operator commands ask of the cloud, as small interfaces; each command takes the
// ones it needs. Workflows and Cloud Run are read through Google's clients against Google or the
// local stack alike (google.ts); who is calling, how a gate is answered and how the deployer is
// asked differ: locally, the local user and plain HTTP; on Google, the credentials and their tokens.
import { deployerAudience, runwayAccount } from '../local/identity/accounts.ts';
import { bearer, localClientOptions } from '../services/shared/clients.ts';
import { UsageError } from './args.ts';
import { Refused } from './exit.ts';
import type { Target } from './target.ts';

export type ExecutionState = 'ACTIVE' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'QUEUED' | string;

/** An execution of the release workflow, decoded: argument and result as JSON, error as text. */
export interface ExecutionView {
  /** Full resource name. */
  name: string;
  /** The last part of the name, as the workflow sees it (GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID). */
  id: string;
  state: ExecutionState;
  startTime: string | null;
  endTime: string | null;
  argument: unknown;
  result: unknown;
  /** The error's message: a raised string, or the `message` of a raised map. */
  error: string | null;
  labels: Record<string, string>;
  /** While ACTIVE: the routine running now (status.currentSteps). */
  routine: string | null;
}

export interface Executions {
  start(argument: unknown, labels: Record<string, string>): Promise<ExecutionView>;
  get(name: string): Promise<ExecutionView>;
  /** Newest first, FULL view, at most `limit`, every label matching. */
  list(query: { labels: Record<string, string>; limit: number }): Promise<ExecutionView[]>;
}

export interface LiveService {
  annotations: Record<string, string>;
  uri: string;
}

export interface Services {
  /** A service of the target's location by id, or null when there is none. */
  service(id: string): Promise<LiveService | null>;
  /** Does this revision of the service exist? */
  revisionExists(service: string, revision: string): Promise<boolean>;
}

export interface GateAnswer {
  decision: 'approve' | 'reject';
  by: string;
  reason: string | null;
}

export interface Callbacks {
  /** POSTs the answer to a gate's callback URL; refuses when the callback is gone or forbidden. */
  send(url: string, answer: GateAnswer): Promise<void>;
}

export interface Caller {
  /** The IAM member of whoever runs the command: `user:…` or `serviceAccount:…`. */
  member(): Promise<string>;
}

export interface ReleaseRequest {
  pipeline: string;
  image: string;
  overrideFreeze?: string;
  reason?: string;
  by?: string;
}

export interface DeployerAnswer {
  status: number;
  body: unknown;
}

export interface Deployer {
  /** POST /releases; the deployer's answer, whatever its status. */
  release(request: ReleaseRequest): Promise<DeployerAnswer>;
}

export interface Cloud {
  executions: Executions;
  services: Services;
  callbacks: Callbacks;
  caller: Caller;
  deployer: Deployer;
  close(): Promise<void>;
}

export const LOCAL_USER = 'user:developer@local';
const MEMBER = /^(?:(?:user|group|serviceAccount):[^@\s:]+@[^@\s]+|domain:[^@\s:]+)$/;

/** `--as`, else RUNWAY_AS, else the local user: who the local cloud takes you for. */
export function localMember(flags: Map<string, string | true>, env: NodeJS.ProcessEnv): string {
  const flag = flags.get('as');
  const [name, value] =
    typeof flag === 'string'
      ? ['--as', flag]
      : env.RUNWAY_AS
        ? ['RUNWAY_AS', env.RUNWAY_AS]
        : ['', LOCAL_USER];
  if (!MEMBER.test(value))
    throw new UsageError(
      `${name} must be an IAM member: user:EMAIL, serviceAccount:EMAIL, group:EMAIL or domain:DOMAIN (got ${JSON.stringify(value)})`,
    );
  return value;
}

export function localCaller(member: string): Caller {
  return { member: async () => member };
}

/**
 * Gate answers on the local cloud: a plain POST, as the local Workflows takes any token or none.
 * Who may answer is runway's check there (the command compares the caller with the approvers).
 */
export function plainCallbacks(token?: string): Callbacks {
  return {
    async send(url, answer) {
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...bearer(token) },
          body: JSON.stringify(answer),
        });
      } catch (err) {
        throw new Error(`answering the gate at ${url}: ${(err as Error).message}`, { cause: err });
      }
      const text = await res.text();
      callbackRefusal(res.status, text);
    },
  };
}

/** Throws for a callback's refusal: 404 (the release no longer waits), 403, or any other error. */
export function callbackRefusal(status: number, text: string): void {
  if (status < 300) return;
  const message = googleMessage(text);
  if (status === 404)
    throw new Refused(`the gate is closed: the release no longer waits there (${message})`);
  if (status === 403 || status === 401)
    throw new Refused(
      `not allowed to answer the gate (${status}): the caller needs workflows.callbacks.send on the workflow (${message})`,
    );
  throw new Error(`answering the gate failed: ${status} ${message}`);
}

/** The message of a Google error body `{error: {message}}`, else the text. */
export function googleMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: string } };
    return body.error?.message ?? text;
  } catch {
    return text;
  }
}

/**
 * The local stack's deployer. With the stack's identity on it verifies tokens as on Google: the
 * push account's ID token for its audience, minted by the stack's issuer (IAM Credentials'
 * generateIdToken); off, it takes calls without one.
 */
export function localDeployer(
  url: string,
  identity?: { issuer: string; project: string },
): Deployer {
  return {
    async release(request) {
      const token = identity ? await pushToken(identity.issuer, identity.project) : undefined;
      const res = await fetch(`${url}/releases`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(request),
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {}
      return { status: res.status, body };
    },
  };
}

async function pushToken(issuer: string, project: string): Promise<string> {
  const account = encodeURIComponent(runwayAccount(project, 'push'));
  const res = await fetch(`${issuer}/v1/projects/-/serviceAccounts/${account}:generateIdToken`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ audience: deployerAudience(project), includeEmail: true }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`the local issuer refused a push token: ${googleMessage(text)}`);
  return (JSON.parse(text) as { token: string }).token;
}

/**
 * The cloud of a target. Local: the stack's endpoints through Google's clients, the caller from
 * `member`. Google: application default credentials for the clients, the caller and the tokens.
 */
export async function openCloud(target: Target, member: string | null): Promise<Cloud> {
  const google = await import('./google.ts');
  if (target.kind === 'local') {
    const { info, token } = target;
    // The caller's own token (identity on): the stack's IAM checks them, not the local user.
    const as = token ? { credentials: { token } } : {};
    const executions = google.workflowsExecutions(
      localClientOptions(info.workflows, as),
      `projects/${target.project}/locations/${target.region}/workflows/${target.workflow}`,
    );
    const services = google.runServices(localClientOptions(info.run, as), target);
    return {
      executions,
      services,
      callbacks: plainCallbacks(token),
      caller: localCaller(member ?? LOCAL_USER),
      deployer: localDeployer(
        info.deployer,
        info.issuer ? { issuer: info.issuer, project: info.project } : undefined,
      ),
      close: async () => {
        await Promise.all([executions.close(), services.close()]);
      },
    };
  }
  return google.googleCloud(target);
}
