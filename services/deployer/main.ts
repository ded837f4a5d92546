// Starts the deployer: config from the environment, listen on $PORT, Google's clients loaded after
// listening (Workflows warmed at once; Artifact Registry and Cloud Run on the first reconcile), and
// on SIGTERM stop accepting, let in-flight requests finish (10 s at most), exit 0.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WorkflowArgs } from '../shared/workflow-args.ts';
import { createLogger, type Logger } from '../shared/logger.ts';
import { createApp } from './app.ts';
import { createVerifier } from './auth.ts';
import { commonJs } from './startup/common-js.ts';
import { type DeployerConfig, loadConfig } from './config.ts';
import type { CloudRun, Registry } from './reconcile.ts';
import type { Executions, Notifier } from './release.ts';

/** Cloud Run sends SIGKILL 10 s after SIGTERM; leave before that. */
export const DRAIN_MS = 9_500;

/** Loads once, on first use: Google's clients cost 100-150 ms each to load. */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= load();
    // A failed load (a bad endpoint, say) is retried by the next caller.
    p.catch(() => {
      p = undefined;
    });
    return p;
  };
}

async function clientOptions(host: string | undefined, metadataHost: string | undefined) {
  if (!host) return { fallback: true as const };
  const { localClientOptions } = await import('../shared/clients.ts');
  return localClientOptions(host, metadataHost ? { credentials: 'metadata' } : {});
}

export function googleAccess(config: DeployerConfig) {
  const parent = `projects/${config.project}/locations/${config.workflowLocation}/workflows/${config.workflow}`;
  const executions = once(async () => {
    const [clientModule, { workflowsExecutions }, options] = await Promise.all([
      // The client's own file, not the package index: the index also evaluates every API's
      // generated protobuf classes (protos.js, 1.4 MB here, 4 MB for Run and Artifact Registry),
      // which REST mode never uses.
      import('@google-cloud/workflows/build/src/v1/executions_client.js'),
      import('./executions.ts'),
      clientOptions(config.workflowsEmulatorHost, config.metadataHost),
    ]);
    const { ExecutionsClient } = commonJs(clientModule);
    return workflowsExecutions(new ExecutionsClient(options), parent);
  });
  const registry = once(async () => {
    const [clientModule, { artifactRegistry }, options] = await Promise.all([
      import('@google-cloud/artifact-registry/build/src/v1/artifact_registry_client.js'),
      import('./cloud.ts'),
      clientOptions(config.artifactRegistryEmulatorHost, config.metadataHost),
    ]);
    const { ArtifactRegistryClient } = commonJs(clientModule);
    return artifactRegistry(new ArtifactRegistryClient(options));
  });
  const run = once(async () => {
    const [servicesModule, jobsModule, { cloudRun }, options] = await Promise.all([
      import('@google-cloud/run/build/src/v2/services_client.js'),
      import('@google-cloud/run/build/src/v2/jobs_client.js'),
      import('./cloud.ts'),
      clientOptions(config.runEmulatorHost, config.metadataHost),
    ]);
    const { ServicesClient } = commonJs(servicesModule);
    const { JobsClient } = commonJs(jobsModule);
    return cloudRun(new ServicesClient(options), new JobsClient(options));
  });
  // Events are published rarely (a blocked release): the publisher loads on the first one.
  const publisher = once(async () => {
    const { pubsubPublisher } = await import('./notify.ts');
    return pubsubPublisher(
      config.pubsubEmulatorHost
        ? {
            emulatorHost: config.pubsubEmulatorHost,
            ...(config.metadataHost ? { metadataCredentials: true } : {}),
          }
        : {},
    );
  });
  return {
    parent,
    warm: () => executions(),
    executions: {
      start: async (args: WorkflowArgs, labels: Record<string, string>) =>
        (await executions()).start(args, labels),
      isActive: async (labels: Record<string, string>) => (await executions()).isActive(labels),
    } satisfies Executions,
    registry: {
      tagDigest: async (image, tag) => (await registry()).tagDigest(image, tag),
    } satisfies Registry,
    run: {
      getService: async (...a) => (await run()).getService(...a),
      getJob: async (...a) => (await run()).getJob(...a),
      runJob: async (...a) => (await run()).runJob(...a),
    } satisfies CloudRun,
    notifier: {
      publish: async (...a) => (await publisher()).publish(...a),
    } satisfies Notifier,
  };
}

/**
 * Stops accepting, lets in-flight requests finish, then exits 0; after `graceMs` the remaining
 * connections are cut and it exits 0 all the same (Cloud Run is about to kill the instance).
 */
export function drainOnSigterm(
  server: Server,
  logger: Logger,
  exit: (code: number) => void = (code) => process.exit(code),
  graceMs = DRAIN_MS,
) {
  process.once('SIGTERM', () => {
    server.close(() => {
      logger.info('drained: exiting');
      exit(0);
    });
    // Logged once the listening socket is closed: from here on, connections are refused.
    logger.info('SIGTERM: draining');
    // Kept-alive connections would hold close() open: cut each as soon as it has no request.
    server.closeIdleConnections();
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    idle.unref();
    setTimeout(() => {
      logger.warn(`SIGTERM: requests still open after ${graceMs} ms; exiting`);
      server.closeAllConnections();
      exit(0);
    }, graceMs).unref();
  });
}

/** What the process's entry point knows of its own start, logged with the listening line. */
export interface Startup {
  /** boot.ts: whether V8's code cache was used, refused, or absent. */
  codeCache?: 'used' | 'rejected' | 'other-build' | 'none';
}

export async function start(env: NodeJS.ProcessEnv = process.env, startup: Startup = {}) {
  const config = loadConfig(env);
  const logger = createLogger({ level: config.logLevel, fields: { service: 'runway-deployer' } });
  const google = googleAccess(config);
  if (config.scheduler === 'disabled')
    logger.warn(
      'reconcile is disabled: RUNWAY_SCHEDULER_AUDIENCE and RUNWAY_SCHEDULER_SERVICE_ACCOUNT are not set',
    );
  const app = createApp({
    project: config.project,
    pipelines: config.pipelines,
    push: config.push,
    scheduler: config.scheduler,
    verifier: createVerifier(config.tokens),
    executions: google.executions,
    registry: google.registry,
    run: google.run,
    notifier: google.notifier,
    logger,
  });
  const server = app.listen(config.port, () => {
    const { port } = server.address() as AddressInfo;
    logger.info(`deployer listening on ${port}`, { port, workflow: google.parent, ...startup });
    // The first push of a cold instance should not pay for loading the Workflows client.
    google
      .warm()
      .catch((err) =>
        logger.error(`loading the Workflows client failed: ${(err as Error).message}`),
      );
  });
  drainOnSigterm(server, logger);
  return server;
}

/** Starts the deployer as the process's job: a startup failure is one CRITICAL line and exit 1. */
export function main(env: NodeJS.ProcessEnv = process.env, startup: Startup = {}): void {
  start(env, startup).catch((err) => {
    process.stderr.write(
      `${JSON.stringify({ severity: 'CRITICAL', message: (err as Error).message })}\n`,
    );
    process.exit(1);
  });
}

// Run directly (tsx services/deployer/main.ts); the production bundle is started by boot.ts.
if (import.meta.url === `file://${process.argv[1]}` || process.env.RUNWAY_DEPLOYER_MAIN === '1') {
  main();
}
