// The deployer as the benchmarks start it: the node arguments of its Dockerfile's CMD, so they
// measure the production command line, flags included, and the same emulator-mode environment.
import { readFileSync } from 'node:fs';
import { parseDockerfile } from '../local/registry/dockerfile.ts';

export function deployerNodeArgs(root: string): string[] {
  const file = `${root}/services/deployer/Dockerfile`;
  const [program, ...args] = parseDockerfile(readFileSync(file, 'utf8'), file).cmd;
  if (program !== 'node') throw new Error(`${file}: CMD should start with node, not ${program}`);
  return args;
}

/** The deployer's environment in the benchmarks: emulator mode (no tokens), the repository's
 * runway.yaml, Workflows at `workflowsHost`. */
export function deployerEnv(workflowsHost: string, logLevel: 'INFO' | 'ERROR') {
  return {
    GOOGLE_CLOUD_PROJECT: 'local-project',
    RUNWAY_REGION: 'us-central1',
    RUNWAY_CONFIG: 'runway.yaml',
    RUNWAY_ALLOW_UNAUTHENTICATED_PUSH: 'true',
    PUBSUB_EMULATOR_HOST: '127.0.0.1:1',
    WORKFLOWS_EMULATOR_HOST: workflowsHost,
    LOG_LEVEL: logLevel,
  };
}
