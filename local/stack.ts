// The whole local cloud in one process: Pub/Sub (Google's emulator or runway's bridge), the local
// Artifact Registry announcing pushes on the topic `gcr`, the local Cloud Run, the Workflows
// Executions API with `workflows/release.yaml` deployed as `runway-release`, and runway's deployer
// running as a local Cloud Run service behind a push subscription, with each pipeline's acceptance
// job. Its endpoints are written to `<home>/stack.json` for the other `runway` commands.
import { mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ServicesClient, JobsClient } from '@google-cloud/run';
import { type PipelineConfig, parsePipelineConfig } from '../services/shared/pipeline-config.ts';
import { localClientOptions } from './clients.ts';
import { buildRunwayImage, repoRoot } from './images.ts';
import { ledgerDir, liveOwner, ProcessLedger, stopLeftovers } from './process-ledger.ts';
import {
  ensureSubscription,
  ensureTopic,
  type LocalPubSub,
  type PubSubKind,
  publish,
  startPubSub,
} from './pubsub/index.ts';
import { type LocalRegistry, startLocalRegistry } from './registry/server.ts';
import { type LocalRun, startLocalRun } from './run/index.ts';
import { LogFile } from './run/process.ts';
import { startLocalMonitoring } from './monitoring/server.ts';
import { startUsers } from './users.ts';
import { createEndpoints } from './workflows/connectors/index.ts';
import { toJsonText } from './workflows/convert.ts';
import { timeScaledClock } from './workflows/engine.ts';
import { type ExecutionsServer, startExecutionsServer } from './workflows/api/server.ts';

export const WORKFLOW = 'runway-release';
export const DEPLOYER = 'runway-deployer';
export const TOPIC = 'gcr';
export const SUBSCRIPTION = 'runway-deployer-push';

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
  deployer: string;
  project: string;
  region: string;
  pipelines: { name: string; image: string }[];
  home: string;
  pid: number;
  /** How many times faster than the wall the workflow's clock runs (absent in older files: 1). */
  timeScale?: number;
}

export interface Stack {
  info: StackInfo;
  config: PipelineConfig;
  run: LocalRun;
  registry: LocalRegistry;
  workflows: ExecutionsServer;
  pubsub: LocalPubSub;
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

  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    await rm(join(home, 'stack.json'), { force: true });
  };
  try {
    progress('starting Pub/Sub');
    const pubsub = await startPubSub({
      project,
      prefer: options.pubsub ?? 'auto',
      timeScale,
      ledger,
      ...(options.env ? { env: options.env } : {}),
    });
    closers.push(() => pubsub.close());
    await atPhase('pubsub');
    const topics = new Set([
      TOPIC,
      ...config.pipelines.flatMap((p) => (p.notify ? [p.notify.topic] : [])),
    ]);
    for (const topic of topics) await ensureTopic(pubsub.url, project, topic);

    const registry = await startLocalRegistry({
      root: join(home, 'registry'),
      publish: async (event) => {
        await publish(pubsub.url, project, TOPIC, event);
      },
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
      ledger,
      ...(options.startupTimeoutMs ? { startupTimeoutMs: options.startupTimeoutMs } : {}),
    });
    closers.push(() => run.close());
    const monitoring = await startLocalMonitoring({
      metrics: run.metrics,
      project,
      location: region,
      now: clock.now,
      visibilityDelayMs: (options.metricsDelaySeconds ?? 0) * 1000,
    });
    closers.push(() => monitoring.close());

    const env: Record<string, string> = {
      RUN_EMULATOR_HOST: run.host,
      PUBSUB_EMULATOR_HOST: pubsub.host,
      ARTIFACT_REGISTRY_EMULATOR_HOST: registry.host,
      MONITORING_EMULATOR_HOST: monitoring.host,
      RUNWAY_HOME: home,
    };
    const workflowLog = new LogFile(join(home, 'logs', 'workflows.log'));
    closers.push(() => workflowLog.close());
    const workflows = await startExecutionsServer({
      dir: join(repoRoot, 'workflows'),
      project,
      location: region,
      engineOptions: {
        endpoints: createEndpoints(env),
        clock,
        log: (entry) => workflowLog.write(entry.severity, toJsonText(entry.payload), entry.step),
      },
    });
    closers.push(() => workflows.close());
    workflows.deploy(WORKFLOW, await readFile(join(repoRoot, 'workflows', 'release.yaml'), 'utf8'));
    env.WORKFLOWS_EMULATOR_HOST = workflows.host;

    progress('building the deployer and acceptance images');
    const build = join(home, 'build');
    let building = 0;
    let bothStarted: () => void = () => {};
    const started = new Promise<void>((r) => (bothStarted = r));
    const onStart = () => {
      if (++building === 2) bothStarted();
    };
    const builds = Promise.all([
      buildRunwayImage('deployer', build, { ledger, onStart }),
      buildRunwayImage('acceptance', build, { ledger, onStart }),
    ]);
    // Held at this phase, a failed build must not become an unhandled rejection.
    builds.catch(() => {});
    await Promise.race([started, builds]);
    await atPhase('build');
    const [deployerDir, acceptanceDir] = await builds;
    const runwayRepo = `${region}-docker.pkg.dev/${project}/runway`;
    const deployerImage = (await registry.store.push(deployerDir, `${runwayRepo}/deployer:local`))
      .digestRef;
    const acceptanceImage = (
      await registry.store.push(acceptanceDir, `${runwayRepo}/acceptance:local`)
    ).digestRef;

    progress('deploying the deployer to the local Cloud Run');
    const options_ = localClientOptions(run.host);
    const services = new ServicesClient(options_);
    const jobs = new JobsClient(options_);
    const parent = `projects/${project}/locations/${region}`;
    const deployerEnv = {
      RUNWAY_CONFIG_YAML: configText,
      GOOGLE_CLOUD_PROJECT: project,
      RUNWAY_REGION: region,
      RUNWAY_WORKFLOW: WORKFLOW,
      RUNWAY_ALLOW_UNAUTHENTICATED_PUSH: 'true',
      LOG_LEVEL: 'INFO',
      ...env,
    };
    const [deployOp] = await services.createService({
      parent,
      serviceId: DEPLOYER,
      service: {
        template: {
          scaling: { minInstanceCount: 1 },
          containers: [
            {
              image: deployerImage,
              env: Object.entries(deployerEnv).map(([name, value]) => ({ name, value })),
            },
          ],
        },
      },
    });
    const [deployer] = await deployOp.promise();
    await atPhase('deployer');
    const jobIds = [...new Set(config.pipelines.map((p) => p.acceptance.job))];
    await Promise.all(
      jobIds.map(async (jobId) => {
        const [op] = await jobs.createJob({
          parent,
          jobId,
          job: {
            template: {
              template: {
                maxRetries: 0,
                // Local services are reachable without an ID token; on Google the job fetches one.
                containers: [
                  { image: acceptanceImage, env: [{ name: 'RUNWAY_LOCAL', value: '1' }] },
                ],
              },
            },
          },
        });
        await op.promise();
      }),
    );
    await Promise.all([services.close(), jobs.close()]);

    await ensureSubscription(pubsub.url, project, SUBSCRIPTION, {
      topic: TOPIC,
      pushEndpoint: `${deployer.uri}/pubsub/artifact-registry`,
      ackDeadlineSeconds: 30,
      minimumBackoff: '1s',
      maximumBackoff: '10s',
    });

    const info: StackInfo = {
      run: run.url,
      workflows: workflows.url,
      pubsub: pubsub.url,
      pubsubKind: pubsub.kind,
      registry: registry.url,
      monitoring: monitoring.url,
      deployer: deployer.uri!,
      project,
      region,
      pipelines: config.pipelines.map((p) => ({ name: p.name, image: p.image })),
      home,
      pid: process.pid,
      timeScale,
    };
    const users = startUsers({
      config,
      run: run.url,
      project,
      region,
      perSecond: (options.users ?? 10) * timeScale,
    });
    closers.push(() => users.stop());
    await writeFile(join(home, 'stack.json'), `${JSON.stringify(info, null, 2)}\n`);
    return { info, config, run, registry, workflows, pubsub, env, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The running stack's endpoints, from `<home>/stack.json`. */
export async function readStackInfo(home: string): Promise<StackInfo | undefined> {
  try {
    return JSON.parse(await readFile(join(home, 'stack.json'), 'utf8')) as StackInfo;
  } catch {
    return undefined;
  }
}
