// Deploys runway onto a cloud, as infra/ does on Google: the topics, the release workflow, the
// deployer (a Cloud Run service built from its Dockerfile's bundle) behind a push subscription on
// `gcr`, each pipeline's acceptance job, and the Cloud Scheduler job that calls /reconcile.
// Everything goes through Google's own clients and APIs, against whatever endpoints `cloud.env`
// names. With the cloud's identity on, each part runs as its account from
// infra/modules/identities, and pushes carry the push account's OIDC token for the deployer's
// audience (infra/modules/deployer, events), which it verifies.
import { join } from 'node:path';
import { JobsClient, ServicesClient } from '@google-cloud/run';
import { CloudSchedulerClient } from '@google-cloud/scheduler';
import { localClientOptions } from '../services/shared/clients.ts';
import type { PipelineConfig } from '../services/shared/pipeline-config.ts';
import { TOPIC, type LocalCloud } from './cloud.ts';
import { deployerAudience, runwayAccount } from './identity/accounts.ts';
import { buildRunwayImage, repoRoot } from './images.ts';
import type { ProcessLedger } from './process-ledger.ts';
import { ensureSubscription, ensureTopic } from './pubsub/index.ts';
import { deployableFile } from './workflows/deployable.ts';

export const WORKFLOW = 'runway-release';
export const DEPLOYER = 'runway-deployer';
export const SUBSCRIPTION = 'runway-deployer-push';
export const RECONCILE_JOB = 'runway-reconcile';

export { deployerAudience, runwayAccount } from './identity/accounts.ts';

export interface Deployment {
  /** The deployer's URL. */
  deployer: string;
}

export interface DeployOptions {
  config: PipelineConfig;
  /** runway.yaml as written: the deployer reads it from its environment. */
  configText: string;
  /** Where the images are built. */
  buildDir: string;
  ledger?: ProcessLedger;
  progress?: (message: string) => void;
  /** Awaited once the image builds run, and once the deployer's instance runs (tests kill there). */
  atPhase?: (phase: 'build' | 'deployer') => Promise<void>;
}

export async function deployRunway(cloud: LocalCloud, options: DeployOptions): Promise<Deployment> {
  const { config } = options;
  const progress = options.progress ?? (() => {});
  const topics = new Set([
    TOPIC,
    ...config.pipelines.flatMap((p) => (p.notify ? [p.notify.topic] : [])),
  ]);
  for (const topic of topics) await ensureTopic(cloud.pubsub.url, cloud.project, topic);
  const identity = cloud.identity !== undefined;
  cloud.workflows.deploy(
    WORKFLOW,
    deployableFile(join(repoRoot, 'workflows', 'release.yaml')),
    identity ? { serviceAccount: runwayAccount(cloud.project, 'workflow') } : {},
  );
  progress('building the deployer and acceptance images');
  const images = await buildImages(cloud, options);
  progress('deploying the deployer to the local Cloud Run');
  const clientOptions = localClientOptions(cloud.run.host);
  const services = new ServicesClient(clientOptions);
  const jobs = new JobsClient(clientOptions);
  try {
    const deployer = await createDeployer(cloud, services, images.deployer, options.configText);
    await options.atPhase?.('deployer');
    const jobIds = [
      ...new Set(config.pipelines.flatMap((p) => (p.acceptance ? [p.acceptance.job] : []))),
    ];
    await Promise.all(jobIds.map((id) => createAcceptanceJob(cloud, jobs, id, images.acceptance)));
    await ensureSubscription(
      cloud.pubsub.url,
      cloud.project,
      SUBSCRIPTION,
      {
        topic: TOPIC,
        pushEndpoint: `${deployer}/pubsub/artifact-registry`,
        ...(identity
          ? {
              oidcToken: {
                serviceAccountEmail: runwayAccount(cloud.project, 'push'),
                audience: deployerAudience(cloud.project),
              },
            }
          : {}),
        ackDeadlineSeconds: 30,
        minimumBackoff: '1s',
        maximumBackoff: '10s',
      },
      cloud.pubsub,
    );
    await createReconcileJob(cloud, deployer);
    return { deployer };
  } finally {
    await Promise.all([services.close(), jobs.close()]);
  }
}

/** Both images built as their Dockerfiles build them, and pushed to the registry. */
async function buildImages(cloud: LocalCloud, options: DeployOptions) {
  let building = 0;
  let bothStarted: () => void = () => {};
  const started = new Promise<void>((r) => (bothStarted = r));
  const onStart = () => {
    if (++building === 2) bothStarted();
  };
  const ledger = options.ledger ? { ledger: options.ledger } : {};
  const builds = Promise.all([
    buildRunwayImage('deployer', options.buildDir, { ...ledger, onStart }),
    buildRunwayImage('acceptance', options.buildDir, { ...ledger, onStart }),
  ]);
  // Held at the build phase, a failed build must not become an unhandled rejection.
  builds.catch(() => {});
  await Promise.race([started, builds]);
  await options.atPhase?.('build');
  const [deployerDir, acceptanceDir] = await builds;
  const repo = `${cloud.region}-docker.pkg.dev/${cloud.project}/runway`;
  const push = async (dir: string, ref: string) =>
    (await cloud.registry.store.push(dir, ref)).digestRef;
  return {
    deployer: await push(deployerDir, `${repo}/deployer:local`),
    acceptance: await push(acceptanceDir, `${repo}/acceptance:local`),
  };
}

/**
 * The deployer service, one warm instance. With identity on it runs in its production auth mode
 * as infra/ configures it (push and scheduler accounts, the fixed audience), verifying tokens
 * against the local issuer (RUNWAY_TOKEN_* in `cloud.env`); off, in its emulator mode.
 */
async function createDeployer(
  cloud: LocalCloud,
  services: ServicesClient,
  image: string,
  configText: string,
): Promise<string> {
  const { project } = cloud;
  const auth = cloud.identity
    ? {
        RUNWAY_PUSH_AUDIENCE: deployerAudience(project),
        RUNWAY_PUSH_SERVICE_ACCOUNT: runwayAccount(project, 'push'),
        RUNWAY_SCHEDULER_AUDIENCE: deployerAudience(project),
        RUNWAY_SCHEDULER_SERVICE_ACCOUNT: runwayAccount(project, 'scheduler'),
      }
    : { RUNWAY_ALLOW_UNAUTHENTICATED_PUSH: 'true' };
  const env = {
    RUNWAY_CONFIG_YAML: configText,
    GOOGLE_CLOUD_PROJECT: project,
    RUNWAY_REGION: cloud.region,
    RUNWAY_WORKFLOW: WORKFLOW,
    ...auth,
    LOG_LEVEL: 'INFO',
    ...cloud.env,
  };
  const [op] = await services.createService({
    parent: `projects/${cloud.project}/locations/${cloud.region}`,
    serviceId: DEPLOYER,
    service: {
      // Pushes and the scheduler name the fixed audience infra/modules/deployer gives it.
      ...(cloud.identity ? { customAudiences: [deployerAudience(project)] } : {}),
      template: {
        ...(cloud.identity ? { serviceAccount: runwayAccount(project, 'deployer') } : {}),
        scaling: { minInstanceCount: 1 },
        containers: [{ image, env: Object.entries(env).map(([name, value]) => ({ name, value })) }],
      },
    },
  });
  const [deployer] = await op.promise();
  return deployer.uri!;
}

async function createAcceptanceJob(
  cloud: LocalCloud,
  jobs: JobsClient,
  jobId: string,
  image: string,
): Promise<void> {
  const [op] = await jobs.createJob({
    parent: `projects/${cloud.project}/locations/${cloud.region}`,
    jobId,
    job: {
      template: {
        // With identity on the job runs as its account and fetches an ID token for staging from
        // the metadata server, as on Google; off, it never asks (RUNWAY_LOCAL=1).
        template: cloud.identity
          ? {
              maxRetries: 0,
              serviceAccount: runwayAccount(cloud.project, 'acceptance'),
              containers: [{ image }],
            }
          : {
              maxRetries: 0,
              containers: [{ image, env: [{ name: 'RUNWAY_LOCAL', value: '1' }] }],
            },
      },
    },
  });
  await op.promise();
}

/**
 * The reconcile job as infra/modules/scheduler declares it: every 15 minutes in Etc/UTC, POST
 * {"verify":false} to the deployer's /reconcile with the scheduler identity's OIDC token (sent
 * once the local cloud issues tokens), 3 retries from 10 s.
 */
async function createReconcileJob(cloud: LocalCloud, deployer: string): Promise<void> {
  const client = new CloudSchedulerClient(localClientOptions(cloud.scheduler.host));
  const parent = `projects/${cloud.project}/locations/${cloud.region}`;
  try {
    await client.createJob({
      parent,
      job: {
        name: `${parent}/jobs/${RECONCILE_JOB}`,
        schedule: '*/15 * * * *',
        timeZone: 'Etc/UTC',
        httpTarget: {
          httpMethod: 'POST',
          uri: `${deployer}/reconcile`,
          headers: { 'Content-Type': 'application/json' },
          body: Buffer.from(JSON.stringify({ verify: false })),
          oidcToken: {
            serviceAccountEmail: `runway-scheduler@${cloud.project}.iam.gserviceaccount.com`,
            audience: `https://runway-deployer.${cloud.project}.invalid`,
          },
        },
        retryConfig: { retryCount: 3, minBackoffDuration: { seconds: 10 } },
      },
    });
  } finally {
    await client.close();
  }
}
