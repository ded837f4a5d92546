// The operator commands' interfaces (cloud.ts) on Google's own clients: @google-cloud/workflows and
// @google-cloud/run in REST mode, against Google with application default credentials, or against
// the local cloud with localClientOptions; google-auth-library for who is calling and the tokens.
// Google's types stay in this file.
import { RevisionsClient, ServicesClient } from '@google-cloud/run';
import { ExecutionsClient, type protos } from '@google-cloud/workflows';
import { GoogleAuth, OAuth2Client } from 'google-auth-library';
import {
  type Callbacks,
  type Caller,
  type Cloud,
  callbackRefusal,
  type Deployer,
  type ExecutionView,
  type Executions,
  type GateAnswer,
  googleMessage,
  type LiveService,
  type Services,
} from './cloud.ts';
import type { Target } from './target.ts';

type ClientOptions = ConstructorParameters<typeof ExecutionsClient>[0];
type RawExecution = protos.google.cloud.workflows.executions.v1.IExecution;

const SCOPES = ['https://www.googleapis.com/auth/cloud-platform'];
/** The name and token audience of the deployer, as infra/modules/deployer sets them. */
export const DEPLOYER_SERVICE = 'runway-deployer';
export const deployerAudience = (project: string) => `https://runway-deployer.${project}.invalid`;

function isoOf(t: { seconds?: unknown; nanos?: number | null } | null | undefined): string | null {
  if (!t) return null;
  const ms = Number(t.seconds ?? 0) * 1000 + Math.round((t.nanos ?? 0) / 1e6);
  return new Date(ms).toISOString();
}

function json(text: string | null | undefined): unknown {
  if (text === null || text === undefined || text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A raised string is the message; a raised map says it in `message`. */
export function errorText(payload: string | null | undefined): string | null {
  if (payload === null || payload === undefined) return null;
  const v = json(payload);
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string')
    return (v as { message: string }).message;
  return payload;
}

export function executionView(e: RawExecution): ExecutionView {
  const name = e.name ?? '';
  const state = String(e.state ?? '');
  return {
    name,
    id: name.split('/').pop() ?? '',
    state,
    startTime: isoOf(e.startTime),
    endTime: isoOf(e.endTime),
    argument: json(e.argument),
    result: json(e.result),
    error: errorText(e.error?.payload),
    labels: { ...(e.labels ?? {}) },
    routine: state === 'ACTIVE' ? (e.status?.currentSteps?.[0]?.routine ?? 'main') : null,
  };
}

const notFound = (err: unknown) => {
  const code = (err as { code?: unknown }).code;
  return code === 5 || code === 404;
};

/** Executions of one workflow (`parent`), through the Executions API client. */
export function workflowsExecutions(
  options: ClientOptions,
  parent: string,
): Executions & { close(): Promise<void> } {
  const client = new ExecutionsClient(options);
  return {
    async start(argument, labels) {
      try {
        const [e] = await client.createExecution({
          parent,
          execution: { argument: JSON.stringify(argument), labels },
        });
        return executionView(e);
      } catch (err) {
        throw new Error(`starting an execution of ${parent}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    },
    async get(name) {
      const [e] = await client.getExecution({ name, view: 'FULL' });
      return executionView(e);
    },
    async list({ labels, limit }) {
      const filter = Object.entries(labels)
        .map(([k, v]) => `labels.${k}="${v}"`)
        .join(' AND ');
      const out: ExecutionView[] = [];
      let pageToken: string | undefined;
      do {
        const [page, next] = await client.listExecutions(
          {
            parent,
            view: 'FULL',
            pageSize: Math.min(100, Math.max(1, limit - out.length)),
            ...(filter ? { filter } : {}),
            ...(pageToken ? { pageToken } : {}),
          },
          { autoPaginate: false },
        );
        out.push(...page.map(executionView));
        pageToken = next?.pageToken ?? undefined;
      } while (pageToken && out.length < limit);
      return out.slice(0, limit);
    },
    close: () => client.close(),
  };
}

/** Services and revisions of the target's location, through the Cloud Run Admin API client. */
export function runServices(
  options: ClientOptions,
  where: Pick<Target, 'project' | 'region'>,
): Services & { close(): Promise<void> } {
  const services = new ServicesClient(options);
  const revisions = new RevisionsClient(options);
  const name = (id: string) => `projects/${where.project}/locations/${where.region}/services/${id}`;
  return {
    async service(id): Promise<LiveService | null> {
      try {
        const [s] = await services.getService({ name: name(id) });
        return { annotations: { ...(s.annotations ?? {}) }, uri: s.uri ?? '' };
      } catch (err) {
        if (notFound(err)) return null;
        throw new Error(`reading service ${id}: ${(err as Error).message}`, { cause: err });
      }
    },
    async revisionExists(service, revision) {
      try {
        await revisions.getRevision({ name: `${name(service)}/revisions/${revision}` });
        return true;
      } catch (err) {
        if (notFound(err)) return false;
        throw new Error(`reading revision ${revision}: ${(err as Error).message}`, { cause: err });
      }
    },
    close: async () => {
      await Promise.all([services.close(), revisions.close()]);
    },
  };
}

/** What sends an authorized request: google-auth-library's clients (OAuth2Client, GoogleAuth). */
export interface AuthorizedRequester {
  request<T>(options: {
    url: string;
    method: 'POST';
    data: unknown;
    headers: Record<string, string>;
  }): Promise<{ status: number; data: T }>;
}

/**
 * Gate answers on Google: a POST with the caller's OAuth2 token. IAM decides who may send
 * (`workflows.callbacks.send`); a refusal comes back as 403.
 */
export function googleCallbacks(auth: AuthorizedRequester): Callbacks {
  return {
    async send(url: string, answer: GateAnswer) {
      try {
        await auth.request({
          url,
          method: 'POST',
          data: answer,
          headers: { 'content-type': 'application/json' },
        });
      } catch (err) {
        const response = (err as { response?: { status?: number; data?: unknown } }).response;
        if (!response?.status)
          throw new Error(`answering the gate at ${url}: ${(err as Error).message}`, {
            cause: err,
          });
        const data = response.data;
        callbackRefusal(response.status, typeof data === 'string' ? data : JSON.stringify(data));
      }
    },
  };
}

/** What google-auth-library tells about the credentials. */
export interface CredentialSource {
  /** A service account's email (key file, metadata server, impersonation); absent for a user. */
  serviceAccountEmail(): Promise<string | undefined>;
  accessToken(): Promise<string>;
  /** The email the token was issued to (Google's tokeninfo endpoint). */
  tokenEmail(token: string): Promise<string | undefined>;
}

/** `serviceAccount:` for Google's service account emails, `user:` for anyone else. */
export function memberOf(email: string): string {
  return /\.gserviceaccount\.com$/i.test(email) ? `serviceAccount:${email}` : `user:${email}`;
}

/**
 * Who the credentials are: a service account's own email, or for user credentials (gcloud auth
 * application-default login) the email their access token was issued to.
 */
export function credentialsCaller(source: CredentialSource): Caller {
  let member: Promise<string> | undefined;
  return {
    member() {
      member ??= (async () => {
        const email =
          (await source.serviceAccountEmail()) ??
          (await source.tokenEmail(await source.accessToken()));
        if (!email)
          throw new Error(
            'cannot tell who the application default credentials are: no service account email, and the token names no email (log in with `gcloud auth application-default login`)',
          );
        return memberOf(email);
      })();
      return member;
    },
  };
}

export function adcSource(auth: GoogleAuth): CredentialSource {
  return {
    async serviceAccountEmail() {
      const credentials = await auth.getCredentials().catch(() => ({ client_email: undefined }));
      return credentials.client_email || undefined;
    },
    async accessToken() {
      const token = await auth.getAccessToken();
      if (!token) throw new Error('the application default credentials gave no access token');
      return token;
    },
    async tokenEmail(token) {
      return (await new OAuth2Client().getTokenInfo(token)).email;
    },
  };
}

/** The deployer on Google: its URL from Cloud Run, an ID token for its audience. */
export function tokenDeployer(
  url: () => Promise<string>,
  idToken: () => Promise<string>,
): Deployer {
  return {
    async release(request) {
      const [base, token] = await Promise.all([url(), idToken()]);
      const res = await fetch(`${base}/releases`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(request),
      });
      const text = await res.text();
      let body: unknown = googleMessage(text);
      try {
        body = JSON.parse(text);
      } catch {}
      return { status: res.status, body };
    },
  };
}

/** Every interface on Google with application default credentials. */
export function googleCloud(target: Target): Cloud {
  const auth = new GoogleAuth({ scopes: SCOPES });
  const options: ClientOptions = { fallback: true, auth };
  const executions = workflowsExecutions(
    options,
    `projects/${target.project}/locations/${target.region}/workflows/${target.workflow}`,
  );
  const services = runServices(options, target);
  const audience = deployerAudience(target.project);
  return {
    executions,
    services,
    callbacks: googleCallbacks({
      request: async (o) => {
        const client = await auth.getClient();
        return client.request(o);
      },
    }),
    caller: credentialsCaller(adcSource(auth)),
    deployer: tokenDeployer(
      async () => {
        const svc = await services.service(DEPLOYER_SERVICE);
        if (!svc?.uri)
          throw new Error(
            `no Cloud Run service ${DEPLOYER_SERVICE} in ${target.project}/${target.region}`,
          );
        return svc.uri;
      },
      async () => (await auth.getIdTokenClient(audience)).idTokenProvider.fetchIdToken(audience),
    ),
    close: async () => {
      await Promise.all([executions.close(), services.close()]);
    },
  };
}
