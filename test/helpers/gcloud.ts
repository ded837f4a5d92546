// gcloud pointed at a local stack's Executions API, for the tests that drive the release workflow
// the way people do: `gcloud workflows run`. The machine may lack gcloud: `gcloudInstalled` says.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { StackInfo } from '../../local/stack.ts';

const exec = promisify(execFile);

export const gcloudInstalled = await exec('gcloud', ['--version']).then(
  () => true,
  () => false,
);

export interface GcloudExecution {
  state: string;
  result?: string;
  error?: { payload?: string; context?: string };
}

/**
 * `gcloud workflows run WORKFLOW --data=ARGUMENT` against the stack, with a fresh gcloud config and
 * a fake token. gcloud exits 0 even when the execution failed: the returned state says.
 */
export async function gcloudWorkflowsRun(
  info: Pick<StackInfo, 'workflows' | 'project' | 'region'>,
  workflow: string,
  argument: unknown,
): Promise<GcloudExecution> {
  const config = await mkdtemp(join(tmpdir(), 'gcloud-config-'));
  try {
    await writeFile(join(config, 'gce'), 'False');
    const { stdout } = await exec(
      'gcloud',
      [
        'workflows',
        'run',
        workflow,
        `--location=${info.region}`,
        `--data=${JSON.stringify(argument)}`,
        '--format=json',
      ],
      {
        timeout: 120_000,
        env: {
          ...process.env,
          CLOUDSDK_CONFIG: config,
          CLOUDSDK_API_ENDPOINT_OVERRIDES_WORKFLOWEXECUTIONS: `${info.workflows}/`,
          CLOUDSDK_AUTH_ACCESS_TOKEN: 'fake',
          CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
          CLOUDSDK_CORE_PROJECT: info.project,
          CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
        },
      },
    );
    return JSON.parse(stdout) as GcloudExecution;
  } finally {
    await rm(config, { recursive: true, force: true });
  }
}
