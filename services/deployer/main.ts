// Starts the deployer: config from the environment, Google's clients, listen on $PORT,
// and on SIGTERM stop accepting, let in-flight requests finish (10 s at most), exit 0.
import { ExecutionsClient } from '@google-cloud/workflows';
import { localClientOptions } from '../../local/clients.ts';
import { createLogger } from '../shared/logger.ts';
import { createApp } from './app.ts';
import { createVerifier } from './auth.ts';
import { loadConfig } from './config.ts';
import { workflowsExecutions } from './executions.ts';

export async function start(env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(env);
  const logger = createLogger({ level: config.logLevel, fields: { service: 'runway-deployer' } });
  const client = new ExecutionsClient(
    config.workflowsEmulatorHost
      ? localClientOptions(config.workflowsEmulatorHost)
      : { fallback: true },
  );
  const parent = `projects/${config.project}/locations/${config.workflowLocation}/workflows/${config.workflow}`;
  const app = createApp({
    project: config.project,
    pipelines: config.pipelines,
    push: config.push,
    verifier: createVerifier(),
    executions: workflowsExecutions(client, parent),
    logger,
  });
  const server = app.listen(config.port, () =>
    logger.info(`deployer listening on ${config.port}`, { workflow: parent }),
  );
  process.once('SIGTERM', () => {
    logger.info('SIGTERM: draining');
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 10_000).unref();
  });
  return server;
}

if (import.meta.url === `file://${process.argv[1]}` || process.env.RUNWAY_DEPLOYER_MAIN === '1') {
  start().catch((err) => {
    process.stderr.write(
      `${JSON.stringify({ severity: 'CRITICAL', message: (err as Error).message })}\n`,
    );
    process.exit(1);
  });
}
