// The local cloud's emulators, started together in one process: Pub/Sub (Google's emulator or
// runway's bridge), Artifact Registry announcing pushes on the topic `gcr`, Cloud Run, Cloud
// Monitoring over Cloud Run's request counts, a Workflows Executions API with nothing deployed,
// Cloud Scheduler running HTTP jobs on the same clock, and Cloud Build with the Cloud Storage its
// sources and logs live in; with identity on (the default), a token issuer and a metadata server
// give every process, workflow and push the tokens of its own service account. `deployRunway()`
// (deploy-runway.ts) then deploys runway onto it, as infra/ does on Google.
import { join } from 'node:path';
import { type LocalCloudBuild, startLocalCloudBuild } from './build/api.ts';
import { envVars } from './gcloud-env.ts';
import { type GcloudProxy, startGcloudProxy } from './gcloud-proxy.ts';
import {
  type LocalIdentity,
  LOCAL_USER,
  principalOf,
  startLocalIdentity,
} from './identity/index.ts';
import type { TokenIssuer } from './identity/issuer.ts';
import { policyGate } from './iam/caller.ts';
import { type Binding, defaultBucketBindings, Policy } from './iam/policy.ts';
import { readTerraformGrants, type TerraformOptions } from './iam/terraform.ts';
import { repoRoot, runwayRecipe } from './images.ts';
import type { ProcessLedger } from './process-ledger.ts';
import { type LocalMonitoring, startLocalMonitoring } from './monitoring/server.ts';
import { type LocalPubSub, type PubSubKind, publish, startPubSub } from './pubsub/index.ts';
import { type LocalRegistry, startLocalRegistry } from './registry/server.ts';
import { type LocalRun, startLocalRun } from './run/index.ts';
import type { RunSettings } from './run/resources.ts';
import { LogFile } from './run/process.ts';
import { type LocalScheduler, startLocalScheduler } from './scheduler/server.ts';
import { type LocalStorage, startLocalStorage } from './storage/server.ts';
import { createEndpoints } from './workflows/connectors/index.ts';
import { toJsonText } from './workflows/convert.ts';
import { timeScaledClock } from './workflows/engine.ts';
import type { Clock } from './workflows/stdlib/types.ts';
import { type ExecutionsServer, startExecutionsServer } from './workflows/api/server.ts';

/** Artifact Registry's notification topic: every push is announced there. */
export const TOPIC = 'gcr';

export interface CloudOptions {
  project: string;
  region: string;
  /** Where the registry's blobs and the logs live. */
  home: string;
  timeScale?: number;
  pubsub?: PubSubKind | 'auto';
  /** Revisions that do not listen within this fail (default 30 s). */
  startupTimeoutMs?: number;
  /** Seconds of workflow time before a request shows in Cloud Monitoring (default 0). */
  metricsDelaySeconds?: number;
  /** Records every process started, so a later start can stop what a killed one left. */
  ledger?: ProcessLedger;
  env?: NodeJS.ProcessEnv;
  /** Awaited once Pub/Sub runs: tests hold start-up there to kill it. */
  afterPubSub?: () => Promise<void>;
  /**
   * `on` (the default): real tokens from a local issuer, a metadata server for every process,
   * OIDC-signed pushes. `off`: no identity, every call carries a fake token, as before issue 17.
   */
  identity?: 'on' | 'off';
  /**
   * `on` (the default with identity on): every local API call and every request to a private
   * service checks the caller's permission against the grants of `infra`'s Terraform. `off`: no
   * checks. On needs identity on.
   */
  iam?: 'on' | 'off';
  /** The Terraform environment whose grants apply (default infra/envs/example). */
  infra?: string;
  /** Variables that win over its tfvars (the stack passes its project and pipelines). */
  infraVars?: TerraformOptions['vars'];
  /** The local user granted roles/owner on the project (default user:developer@local); false: none. */
  localUser?: string | false;
  /**
   * Grants only the local cloud makes, beside the Terraform's, each with a `source` saying why
   * (given the project's number, known once the identity runs).
   */
  localBindings?: (projectNumber: string) => Binding[];
  /** What a Cloud Run template naming no account runs as (default: the default compute account). */
  runDefaultServiceAccount?: string;
}

export interface LocalCloud {
  project: string;
  region: string;
  timeScale: number;
  /** One clock for the engine and the request counts (a time-scaled stack's workflow time). */
  clock: Clock;
  pubsub: LocalPubSub;
  registry: LocalRegistry;
  run: LocalRun;
  monitoring: LocalMonitoring;
  workflows: ExecutionsServer;
  scheduler: LocalScheduler;
  /** gcloud's proxy to every endpoint here: `gcloud run`'s region-prefixed hosts resolve through it. */
  gcloudProxy: GcloudProxy;
  /** Cloud Storage: build sources and build logs. */
  storage: LocalStorage;
  /** Cloud Build: its steps run on this machine with gcloud and the clients pointed here. */
  build: LocalCloudBuild;
  /** The issuer and metadata server; absent with identity off. */
  identity?: LocalIdentity;
  /** The allow policy every call is checked against; absent with IAM off. */
  policy?: Policy;
  /**
   * The emulator host variables that point Google's clients and runway at this cloud, and with
   * identity on the issuer's (RUNWAY_TOKEN_ISSUER, RUNWAY_TOKEN_CERTS_URL).
   */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startLocalCloud(options: CloudOptions): Promise<LocalCloud> {
  const { project, region, home } = options;
  const timeScale = options.timeScale ?? 1;
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    let identity: LocalIdentity | undefined;
    const identityOn = (options.identity ?? 'on') === 'on';
    const iamOn = (options.iam ?? (identityOn ? 'on' : 'off')) === 'on';
    if (iamOn && !identityOn)
      throw new Error('IAM on needs identity on: the checks name callers by their tokens');
    if (identityOn) {
      // Tokens expire on the wall clock, never the time-scaled one: the clients that cache them do.
      identity = await startLocalIdentity({ project, region });
      closers.push(() => identity!.close());
    }
    const iam = iamOn && identity ? await startIam(options, identity) : undefined;
    const gate = iam?.gate;
    const pubsub = await startPubSub({
      project,
      prefer: options.pubsub ?? 'auto',
      timeScale,
      ...(options.ledger ? { ledger: options.ledger } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(identity ? { sign: identity.sign } : {}),
      ...(gate ? { gate } : {}),
    });
    closers.push(() => pubsub.close());
    await options.afterPubSub?.();
    // Artifact Registry announces each push as its service agent, as on Google.
    const agent = identity ? registryAgent(identity.projectNumber) : undefined;
    const registry = await startLocalRegistry({
      root: join(home, 'registry'),
      publish: async (event) => {
        const as =
          identity && agent
            ? {
                authorization: `Bearer ${await identity.token('OAuth2', 'https://www.googleapis.com/auth/pubsub', agent)}`,
              }
            : {};
        await publish(pubsub.url, project, TOPIC, event, undefined, as);
      },
      ...(gate ? { gate } : {}),
    });
    closers.push(() => registry.close());
    // One clock for the engine and the request counts, so a time-scaled canary reading Cloud
    // Monitoring over its bake window (sys.now()) finds the requests of that window.
    const clock = timeScaledClock(timeScale);
    const run = await startLocalRun({
      project,
      region,
      now: clock.now,
      images: registry.images,
      logDir: join(home, 'logs'),
      ...(options.ledger ? { ledger: options.ledger } : {}),
      ...(options.startupTimeoutMs ? { startupTimeoutMs: options.startupTimeoutMs } : {}),
      ...(identity ? { identity: (sa: string) => identity.metadata.envFor(sa) } : {}),
      ...(iam ? { gate: iam.gate, invoker: iam.invoker } : {}),
      ...(options.runDefaultServiceAccount
        ? { defaultServiceAccount: options.runDefaultServiceAccount }
        : {}),
    });
    closers.push(() => run.close());
    const monitoring = await startLocalMonitoring({
      metrics: run.metrics,
      project,
      now: clock.now,
      visibilityDelayMs: (options.metricsDelaySeconds ?? 0) * 1000,
      ...(gate ? { gate } : {}),
    });
    closers.push(() => monitoring.close());
    const env: Record<string, string> = {
      RUN_EMULATOR_HOST: run.host,
      PUBSUB_EMULATOR_HOST: pubsub.host,
      ARTIFACT_REGISTRY_EMULATOR_HOST: registry.host,
      MONITORING_EMULATOR_HOST: monitoring.host,
      ...identity?.env,
    };
    const workflowLog = new LogFile(join(home, 'logs', 'workflows.log'));
    closers.push(() => workflowLog.close());
    const workflows = await startExecutionsServer({
      project,
      location: region,
      ...(identity ? { defaultServiceAccount: identity.defaultServiceAccount } : {}),
      ...(gate ? { gate } : {}),
      engineOptions: {
        endpoints: createEndpoints(env, identity?.token),
        clock,
        log: (entry) => workflowLog.write(entry.severity, toJsonText(entry.payload), entry.step),
      },
    });
    closers.push(() => workflows.close());
    env.WORKFLOWS_EMULATOR_HOST = workflows.host;
    // Jobs fire on workflow time: with --time-scale 60 a 15-minute schedule fires every 15 s.
    const schedulerLog = new LogFile(join(home, 'logs', 'scheduler.log'));
    closers.push(() => schedulerLog.close());
    const scheduler = await startLocalScheduler({
      project,
      clock,
      ...(gate ? { gate } : {}),
      // A job's oidcToken / oauthToken account signs its requests, as Cloud Scheduler does.
      ...(identity
        ? {
            tokens: {
              idToken: async (email: string, audience: string) => identity.sign(email, audience),
              accessToken: (email: string) =>
                identity.token('OAuth2', 'https://www.googleapis.com/auth/cloud-platform', email),
            },
          }
        : {}),
      log: (e) =>
        schedulerLog.write(
          e.status && e.status.code !== 0 ? 'ERROR' : 'INFO',
          JSON.stringify(e),
          e.type,
        ),
    });
    closers.push(() => scheduler.close());
    env.SCHEDULER_EMULATOR_HOST = scheduler.host;
    const gcloudProxy = await startGcloudProxy();
    closers.push(() => gcloudProxy.close());
    const storage = await startLocalStorage(
      iam
        ? {
            gate: iam.gate,
            // Google's policy of a new bucket: the project's owners and editors own it.
            onBucket: (bucket, p) => {
              for (const b of defaultBucketBindings(bucket, p)) iam.policy.add(b);
            },
          }
        : {},
    );
    closers.push(() => storage.close());
    env.STORAGE_EMULATOR_HOST = storage.url;
    // Filled once the build server's own URL is known; each build reads it when it starts.
    const cloudEnv: Record<string, string> = {};
    const build = await startLocalCloudBuild({
      project,
      location: 'global',
      root: join(home, 'cloudbuild'),
      logDir: join(home, 'logs', 'builds'),
      storage: storage.store,
      pusher: registry,
      recipe: runwayRecipe(join(home, 'cloudbuild', 'images'), options.ledger),
      cloudEnv,
      ...(gate ? { gate } : {}),
      // No timeScale: steps are real tools at wall speed; a scaled timeout would kill `npm ci`.
      ...(options.ledger ? { ledger: options.ledger } : {}),
    });
    closers.push(() => build.close());
    env.CLOUDBUILD_EMULATOR_HOST = build.host;
    Object.assign(
      cloudEnv,
      buildStepEnv({
        run: run.url,
        workflows: workflows.url,
        pubsub: pubsub.url,
        registry: registry.url,
        monitoring: monitoring.url,
        scheduler: scheduler.url,
        build: build.url,
        storage: storage.url,
        project,
        region,
        home,
        env,
        gcloudProxy: gcloudProxy.url,
      }),
    );
    return {
      project,
      region,
      timeScale,
      clock,
      pubsub,
      registry,
      run,
      monitoring,
      workflows,
      scheduler,
      gcloudProxy,
      storage,
      build,
      ...(identity ? { identity } : {}),
      ...(iam ? { policy: iam.policy } : {}),
      env,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Artifact Registry's service agent: who publishes its notifications on Google. */
export function registryAgent(projectNumber: string): string {
  return `service-${projectNumber}@gcp-sa-artifactregistry.iam.gserviceaccount.com`;
}

/** The policy of `infra`'s grants, the API servers' gate over it and Cloud Run's invoker check. */
async function startIam(options: CloudOptions, identity: LocalIdentity) {
  const dir = options.infra ?? join(repoRoot, 'infra', 'envs', 'example');
  const { project, bindings } = await readTerraformGrants({
    dir,
    base: repoRoot,
    vars: {
      project: options.project,
      project_number: identity.projectNumber,
      region: options.region,
      ...options.infraVars,
    },
    localUser: options.localUser ?? LOCAL_USER,
  });
  if (project !== options.project) {
    throw new Error(
      `${dir} grants on project ${project}, but the local cloud runs ${options.project}`,
    );
  }
  const policy = new Policy(
    [
      ...bindings,
      {
        // Google grants the agent roles/artifactregistry.serviceAgent on the project, whose
        // pubsub.topics.publish is what announcing a push on `gcr` needs: that part of it.
        principal: `serviceAccount:${registryAgent(identity.projectNumber)}`,
        role: 'roles/pubsub.publisher',
        resource: `projects/${project}`,
        source: "Google's grant to Artifact Registry's service agent (its pubsub.topics.publish)",
      },
      ...(options.localBindings?.(identity.projectNumber) ?? []),
    ],
    { project, projectNumber: identity.projectNumber },
  );
  const { issuer } = identity;
  const gate = policyGate({ policy, issuer, localUser: options.localUser || LOCAL_USER });
  return { policy, gate, invoker: invokerCheck(policy, issuer) };
}

/**
 * Cloud Run's invoker check: a service whose policy lets `allUsers` invoke it takes any request;
 * any other wants an ID token of the issuer, for one of the service's audiences, whose account
 * holds `run.routes.invoke` on it. As Google answers: no token or a denied one 403, a token that
 * does not verify 401.
 */
export function invokerCheck(policy: Policy, issuer: TokenIssuer): RunSettings['invoker'] {
  // Clients reuse an ID token for its hour (google-auth-library caches it): each is verified (an
  // RS256 signature, ~40 µs) once, then found here until it expires.
  const verified = new Map<string, { aud: string; email: string; exp: number }>();
  const claimsOf = (token: string) => {
    const known = verified.get(token);
    if (known && known.exp * 1000 > Date.now()) return known;
    const claims = issuer.verifyIdToken(token);
    if (!claims) return undefined;
    if (verified.size >= 1000) verified.clear();
    verified.set(token, claims);
    return claims;
  };
  return ({ service, audiences, authorization }) => {
    if (policy.check(undefined, 'run.routes.invoke', service, RUN_SERVICE).allowed)
      return undefined;
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (token === undefined) return forbidden(service, 'the request has no ID token');
    const claims = claimsOf(token);
    if (!claims || !audiences.includes(claims.aud)) {
      return {
        status: 401,
        message: `Unauthorized: the ID token for ${service} is not valid (signature, expiry or audience; it accepts ${audiences.join(', ')})`,
      };
    }
    const principal = principalOf(claims.email);
    if (policy.check(principal, 'run.routes.invoke', service, RUN_SERVICE).allowed)
      return undefined;
    return forbidden(service, `${principal} lacks run.routes.invoke on it`);
  };
}

const RUN_SERVICE = 'run.googleapis.com';

function forbidden(service: string, why: string) {
  return {
    status: 403,
    message: `Forbidden: Your client does not have permission to get URL from this server: ${service} (${why}; Permission 'run.routes.invoke' denied)`,
  };
}

/**
 * What every build step sees of this cloud: `runway local env`'s variables, without the stack's
 * gcloud configuration (each build has a fresh one) or its home.
 */
function buildStepEnv(endpoints: Parameters<typeof envVars>[0]): Record<string, string> {
  const vars = Object.fromEntries(envVars(endpoints));
  delete vars.CLOUDSDK_CONFIG;
  delete vars.RUNWAY_HOME;
  return { ...vars, CLOUDSDK_CORE_DISABLE_PROMPTS: '1' };
}
