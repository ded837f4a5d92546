// `runway local up` in one function: the local cloud's emulators (cloud.ts), runway deployed onto
// them (deploy-runway.ts), users calling live, the home claimed (a second stack refused, what a
// killed one left stopped) and the endpoints written to `<home>/stack.json` for the other
// `runway` commands.
import { mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  isServicePipeline,
  type JobPipeline,
  type PipelineConfig,
  parsePipelineConfig,
} from '../services/shared/pipeline-config.ts';
import { notFound } from '../services/shared/errors.ts';
import { closeServer, sendJson, serveApi } from './api-server.ts';
import { startLocalCloud } from './cloud.ts';
import type { Policy } from './iam/policy.ts';
import { deployRunway } from './deploy-runway.ts';
import { runwayAccount } from './identity/accounts.ts';
import type { LocalIdentity } from './identity/index.ts';
import { ledgerDir, liveOwner, ProcessLedger, stopLeftovers } from './process-ledger.ts';
import type { LocalPubSub, PubSubKind } from './pubsub/index.ts';
import type { LocalRegistry } from './registry/server.ts';
import type { LocalRun } from './run/index.ts';
import { startUsers } from './users.ts';
import type { ExecutionsServer } from './workflows/api/server.ts';

export { TOPIC } from './cloud.ts';
export { DEPLOYER, RECONCILE_JOB, SUBSCRIPTION, WORKFLOW } from './deploy-runway.ts';

export interface StackOptions {
  /** runway.yaml's path. */
  config: string;
  /** Where state, logs and stack.json live (default `.runway`). */
  home: string;
  timeScale?: number;
  pubsub?: PubSubKind | 'auto';
  /** Revisions that do not listen within this fail (default 30 s). */
  startupTimeoutMs?: number;
  /**
   * Requests per second of workflow time the local users send to each live service (default 10;
   * 0 for none), so canary analysis has traffic to judge, as in production.
   */
  users?: number;
  /** Seconds of workflow time before a request shows in Cloud Monitoring (default 0; Google: up to 180). */
  metricsDelaySeconds?: number;
  /** Progress lines while starting. */
  onProgress?: (message: string) => void;
  env?: NodeJS.ProcessEnv;
  /** Real tokens and OIDC-verified pushes (`on`, the default), or none (`off`); see cloud.ts. */
  identity?: 'on' | 'off';
  /** IAM checks against `infra`'s Terraform (`on`, the default with identity on) or none; see cloud.ts. */
  iam?: 'on' | 'off';
  /** The Terraform environment whose grants apply (default infra/envs/example). */
  infra?: string;
  /** The local user granted roles/owner on the project (default user:developer@local); false: none. */
  localUser?: string | false;
  /**
   * Grants beside the Terraform's, each a role on the project for a member (`user:…`): the team a
   * project would grant by hand, such as the approvers `runway approve --as` acts as.
   */
  grants?: { member: string; role: string }[];
  /**
   * Awaited at each start-up phase once its processes run: `pubsub` (Pub/Sub started), `build`
   * (the image builds running), `deployer` (the deployer's instance running). Tests hold start-up
   * there to kill it.
   */
  atPhase?: (phase: StartPhase) => Promise<void>;
}

export const startPhases = ['pubsub', 'build', 'deployer'] as const;
export type StartPhase = (typeof startPhases)[number];

/** What `runway local up --json` prints and stack.json holds. */
export interface StackInfo {
  run: string;
  workflows: string;
  pubsub: string;
  pubsubKind: PubSubKind;
  registry: string;
  monitoring: string;
  /** The local Cloud Scheduler (absent in older files). */
  scheduler?: string;
  /** The local Cloud Build and Cloud Storage (absent in older files). */
  build?: string;
  storage?: string;
  deployer: string;
  project: string;
  region: string;
  pipelines: { name: string; image: string }[];
  home: string;
  /** The runway.yaml the stack runs (absent in older files), for the commands that need a pipeline's settings. */
  config?: string;
  pid: number;
  /** How many times faster than the wall the workflow's clock runs (absent in older files: 1). */
  timeScale?: number;
  /** The `*_EMULATOR_HOST` variables of the cloud's emulators (absent in older files). */
  env?: Record<string, string>;
  /** `http://127.0.0.1:PORT`, the proxy `runway local env` points gcloud at (absent in older files). */
  gcloudProxy?: string;
  /**
   * The token issuer's URL, with identity on: its IAM Credentials methods mint the tokens a
   * command needs (the push account's, to call the deployer).
   */
  issuer?: string;
  /**
   * With IAM on: the URL answering `GET /unused` and `GET /used` with the grants no call used
   * during the stack's life, and those some call did (`runway local iam unused`).
   */
  iam?: string;
}

export interface Stack {
  info: StackInfo;
  config: PipelineConfig;
  run: LocalRun;
  registry: LocalRegistry;
  workflows: ExecutionsServer;
  pubsub: LocalPubSub;
  /** The token issuer and metadata server; absent with identity off. */
  identity?: LocalIdentity;
  /** Env that points Google's clients and runway's commands at this stack. */
  env: Record<string, string>;
  close(): Promise<void>;
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Refuses a second stack in the same home, running or starting; after a stack that died without
 * cleaning up (SIGKILL), stops the process groups its ledger recorded (Pub/Sub's emulator, image
 * builds, instances), and any process still running inside its registry's snapshots.
 */
async function claimHome(home: string, progress: (m: string) => void): Promise<void> {
  const previous = await readStackInfo(home);
  const owner =
    previous && previous.pid !== process.pid && isAlive(previous.pid)
      ? previous.pid
      : liveOwner(ledgerDir(home));
  if (owner !== undefined) {
    throw new Error(
      `a local cloud is already running from ${home} (pid ${owner}); stop it, or pick another --home`,
    );
  }
  const left = await stopLeftovers(ledgerDir(home));
  if (left.length > 0)
    progress(`stopped what a local cloud that died left running: ${left.join(', ')}`);
  // Processes an instance started in a group of its own are in no ledger; its snapshot finds them.
  const blobs = `${join(home, 'registry', 'blobs')}/`;
  const pids = await readdir('/proc').catch(() => [] as string[]);
  let stopped = 0;
  for (const entry of pids.filter((p) => /^\d+$/.test(p))) {
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => '');
    if (!cwd.startsWith(blobs)) continue;
    try {
      process.kill(-Number(entry), 'SIGKILL');
    } catch {
      try {
        process.kill(Number(entry), 'SIGKILL');
      } catch {}
    }
    stopped++;
  }
  if (stopped > 0) progress(`stopped ${stopped} more process(es) left by a local cloud that died`);
}

/**
 * The local cloud with runway deployed on it, its users calling live, and its endpoints in
 * `<home>/stack.json`: what `runway local up`, the demo and the end-to-end tests run.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const progress = options.onProgress ?? (() => {});
  const atPhase = options.atPhase ?? (async () => {});
  const home = resolve(options.home);
  await claimHome(home, progress);
  const ledger = new ProcessLedger(ledgerDir(home));
  const configText = await readFile(options.config, 'utf8');
  const config = parsePipelineConfig(configText, options.config);
  const project = config.project ?? 'local-project';
  const region = config.pipelines[0]?.region ?? 'us-central1';
  const timeScale = options.timeScale ?? 1;
  await mkdir(join(home, 'logs'), { recursive: true });

  progress('starting Pub/Sub');
  const cloud = await startLocalCloud({
    project,
    region,
    home,
    timeScale,
    ledger,
    pubsub: options.pubsub ?? 'auto',
    afterPubSub: () => atPhase('pubsub'),
    ...(options.startupTimeoutMs ? { startupTimeoutMs: options.startupTimeoutMs } : {}),
    ...(options.metricsDelaySeconds ? { metricsDelaySeconds: options.metricsDelaySeconds } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.iam ? { iam: options.iam } : {}),
    ...(options.infra ? { infra: resolve(options.infra) } : {}),
    ...(options.localUser !== undefined ? { localUser: options.localUser } : {}),
    ...(options.grants?.length
      ? {
          localBindings: () =>
            options.grants!.map((g) => ({
              principal: g.member,
              role: g.role,
              resource: `projects/${project}`,
              source: 'StackOptions.grants',
            })),
        }
      : {}),
    infraVars: { pipelines: pipelinesVar(config), job_pipelines: jobPipelinesVar(config) },
    // On Google, Terraform creates each pipeline's services running as runway-app, and the
    // workflow keeps their account. Here the first release creates them, naming none: they run as
    // runway-app all the same, so the workflow needs to act as it, as on Google.
    ...(options.identity !== 'off'
      ? { runDefaultServiceAccount: runwayAccount(project, 'app') }
      : {}),
  });
  const closers: (() => Promise<void>)[] = [() => cloud.close()];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    await rm(join(home, 'stack.json'), { force: true });
  };
  try {
    const { deployer } = await deployRunway(cloud, {
      config,
      configText,
      buildDir: join(home, 'build'),
      ledger,
      progress,
      atPhase,
    });
    const users = startUsers({
      config,
      run: cloud.run.url,
      project,
      region,
      perSecond: (options.users ?? 10) * timeScale,
    });
    closers.push(() => users.stop());
    const iam = cloud.policy ? await serveIamUsage(cloud.policy) : undefined;
    if (iam) closers.push(iam.close);
    const info: StackInfo = {
      run: cloud.run.url,
      workflows: cloud.workflows.url,
      pubsub: cloud.pubsub.url,
      pubsubKind: cloud.pubsub.kind,
      registry: cloud.registry.url,
      monitoring: cloud.monitoring.url,
      scheduler: cloud.scheduler.url,
      build: cloud.build.url,
      storage: cloud.storage.url,
      deployer,
      project,
      region,
      pipelines: config.pipelines.map((p) => ({ name: p.name, image: p.image })),
      home,
      config: resolve(options.config),
      pid: process.pid,
      timeScale,
      env: cloud.env,
      gcloudProxy: cloud.gcloudProxy.url,
      ...(cloud.identity ? { issuer: cloud.identity.url } : {}),
      ...(iam ? { iam: iam.url } : {}),
    };
    await writeFile(join(home, 'stack.json'), `${JSON.stringify(info, null, 2)}\n`);
    const { run, registry, workflows, pubsub, identity } = cloud;
    const env = { ...cloud.env, RUNWAY_HOME: home };
    return {
      info,
      config,
      run,
      registry,
      workflows,
      pubsub,
      ...(identity ? { identity } : {}),
      env,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * runway.yaml's pipelines as the Terraform's `pipelines` variable, so its grants name the services
 * and jobs this stack runs, in each region a pipeline names (live.regions, staging.regions; none:
 * the Terraform's region). Live services are public here: the local users (users.ts) play the
 * public that calls them, without tokens; staging stays private, as infra/ makes it.
 */
export function pipelinesVar(config: PipelineConfig) {
  // infra/'s var.pipelines are the service pipelines; job pipelines are var.job_pipelines.
  return Object.fromEntries(
    config.pipelines.filter(isServicePipeline).map((p) => [
      p.name,
      {
        staging_service: p.staging.service,
        live_service: p.live.service,
        acceptance_job: p.acceptance.job,
        live_public: true,
        ...(p.live.regions ? { live_regions: p.live.regions } : {}),
        ...(p.staging.regions ? { staging_regions: p.staging.regions } : {}),
      },
    ]),
  );
}

/** infra/'s var.job_pipelines for `config`'s job pipelines (module job-pipeline). */
export function jobPipelinesVar(config: PipelineConfig) {
  return Object.fromEntries(
    config.pipelines
      .filter((p): p is JobPipeline => p.kind === 'job')
      .map((p) => [
        p.name,
        {
          staging_job: p.staging.job,
          live_job: p.live.job,
          ...(p.acceptance ? { acceptance_job: p.acceptance.job } : {}),
        },
      ]),
  );
}

/** What the policy's grants were used for so far, on loopback, for `runway local iam`. */
async function serveIamUsage(policy: Policy) {
  const { server, url } = await serveApi(async (req, res) => {
    req.resume();
    const path = new URL(req.url ?? '/', 'http://iam').pathname;
    if (req.method === 'GET' && path === '/unused')
      return sendJson(res, { unused: policy.unused() });
    if (req.method === 'GET' && path === '/used') return sendJson(res, { used: policy.used() });
    throw notFound(`no route for ${req.method} ${path} (GET /unused or /used)`);
  });
  return { url, close: () => closeServer(server) };
}

/** The running stack's endpoints, from `<home>/stack.json`. */
export async function readStackInfo(home: string): Promise<StackInfo | undefined> {
  try {
    return JSON.parse(await readFile(join(home, 'stack.json'), 'utf8')) as StackInfo;
  } catch {
    return undefined;
  }
}
