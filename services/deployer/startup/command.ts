// The deployer as its image starts it: the node arguments of its Dockerfile's CMD. The benchmarks
// measure that command line, flags included; the code cache is made under the same flags, or V8
// would refuse it. Also the emulator-mode environment both use.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseDockerfile } from '../../shared/dockerfile.ts';

/** The deployer's memory limit on Cloud Run (infra/modules/deployer sets it; the benchmarks run
 * the deployer under it, startup/memory-limit.ts). */
export const DEPLOYER_MEMORY_MIB = 512;

export function deployerNodeArgs(root: string): string[] {
  const file = `${root}/services/deployer/Dockerfile`;
  const [program, ...args] = parseDockerfile(readFileSync(file, 'utf8'), file).cmd;
  if (program !== 'node') throw new Error(`${file}: CMD should start with node, not ${program}`);
  return args;
}

/** The CMD's node arguments with its entry point swapped for the build in `dir`. */
export function deployerNodeArgsFor(root: string, dir: string): string[] {
  const flags = deployerNodeArgs(root).filter((a) => a.startsWith('-'));
  return [...flags, `${dir}/index.cjs`];
}

/** The deployer's environment in the benchmarks and the code-cache run: emulator mode (no
 * tokens), the repository's runway.yaml, Workflows at `workflowsHost`. */
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

export const SAMPLE_IMAGE = 'us-central1-docker.pkg.dev/local-project/apps/sample-app';

/** A Pub/Sub push of an Artifact Registry INSERT of the sample app at `sha256:<digestHex>`. */
export function pushBody(digestHex: string, id = 1): string {
  return JSON.stringify({
    message: {
      data: Buffer.from(
        JSON.stringify({ action: 'INSERT', digest: `${SAMPLE_IMAGE}@sha256:${digestHex}` }),
      ).toString('base64'),
      messageId: String(id),
      publishTime: '2026-11-22T10:00:00.000Z',
    },
    subscription: 'projects/local-project/subscriptions/runway-push',
  });
}

/** An Executions endpoint that runs nothing: lists no execution, accepts every create. */
export async function startStubExecutions(): Promise<{ host: string; close(): void }> {
  const stub = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        req.method === 'GET'
          ? '{"executions":[]}'
          : '{"name":"projects/p/locations/l/workflows/w/executions/x","state":"ACTIVE"}',
      );
    });
  });
  await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(stub.address() as AddressInfo).port}`,
    close: () => stub.close(),
  };
}
