// The deployer when the Workflows API refuses its account (IAM on, no roles/workflows.invoker):
// the push and /releases are answered 403 PERMISSION_DENIED naming the permission, logged at
// ERROR, and nothing starts. 403, not 2xx: Pub/Sub redelivers the push (with backoff, then to the
// dead-letter topic), so the release starts once the grant is there.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ExecutionsClient } from '@google-cloud/workflows';
import { policyGate } from '../../local/iam/caller.ts';
import { Policy } from '../../local/iam/policy.ts';
import { type ExecutionsServer, startExecutionsServer } from '../../local/workflows/api/server.ts';
import { createApp } from '../../services/deployer/app.ts';
import { createVerifier } from '../../services/deployer/auth.ts';
import { workflowsExecutions } from '../../services/deployer/executions.ts';
import { localClientOptions } from '../../services/shared/clients.ts';
import { createLogger } from '../../services/shared/logger.ts';
import { parsePipelineConfig } from '../../services/shared/pipeline-config.ts';

const PROJECT = 'local-project';
const REGION = 'us-central1';
const IMG = 'us-central1-docker.pkg.dev/local-project/apps/web';
const D1 = `sha256:${'1'.repeat(64)}`;
const WORKFLOW = `projects/${PROJECT}/locations/${REGION}/workflows/runway-release`;

describe('the deployer refused by Workflows', () => {
  const logs: Record<string, unknown>[] = [];
  let wf: ExecutionsServer;
  let client: ExecutionsClient;
  let server: Server;
  let url = '';

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runway-deployer-iam-'));
    writeFileSync(
      join(dir, 'runway-release.yaml'),
      'main:\n  params: [args]\n  steps:\n    - r:\n        return: ${args}\n',
    );
    // The deployer calls as the local user (the clients' fake token), who may only read.
    const policy = new Policy(
      [
        {
          principal: 'user:developer@local',
          role: 'roles/workflows.viewer',
          resource: `projects/${PROJECT}`,
        },
      ],
      { project: PROJECT },
    );
    wf = await startExecutionsServer({
      dir,
      project: PROJECT,
      location: REGION,
      gate: policyGate({ policy, localUser: 'user:developer@local' }),
    });
    client = new ExecutionsClient(localClientOptions(wf.host));
    const app = createApp({
      project: PROJECT,
      pipelines: parsePipelineConfig(`
project: ${PROJECT}
region: ${REGION}
pipelines:
  - name: web
    image: ${IMG}
    tags: [main]
    staging: { service: web-staging }
    live: { service: web }
    acceptance: { job: web-acceptance }
`),
      push: 'unauthenticated',
      verifier: createVerifier({ certs: {} }),
      executions: workflowsExecutions(client, WORKFLOW),
      logger: createLogger({
        stream: { write: (l: string) => logs.push(JSON.parse(l)) },
        level: 'DEBUG',
      }),
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.close();
    await client.close();
    await wf.close();
  });

  const envelope = {
    message: {
      data: Buffer.from(
        JSON.stringify({ action: 'INSERT', digest: `${IMG}@${D1}`, tag: `${IMG}:main` }),
      ).toString('base64'),
      messageId: '1',
      publishTime: '2026-11-22T10:00:00.000Z',
    },
    subscription: `projects/${PROJECT}/subscriptions/runway-push`,
  };
  const cases: { name: string; path: string; body: unknown }[] = [
    { name: 'a push', path: '/pubsub/artifact-registry', body: envelope },
    { name: 'a release request', path: '/releases', body: { image: `${IMG}:main@${D1}` } },
  ];
  for (const c of cases) {
    test(`${c.name}: 403 naming the permission, logged at ERROR, nothing started`, async () => {
      logs.length = 0;
      const res = await fetch(`${url}${c.path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(c.body),
      });
      const body = (await res.json()) as {
        error: {
          status: string;
          message: string;
          details: { metadata?: Record<string, string> }[];
        };
      };
      assert.equal(res.status, 403, JSON.stringify(body));
      assert.equal(body.error.status, 'PERMISSION_DENIED');
      assert.match(
        body.error.message,
        /Workflows refused the deployer's account: Permission 'workflows\.executions\.create' denied on resource 'projects\/local-project\/locations\/us-central1\/workflows\/runway-release'/,
      );
      assert.equal(body.error.details[0]?.metadata?.permission, 'workflows.executions.create');
      const logged = logs.find((l) => l.severity === 'ERROR');
      assert.ok(logged, JSON.stringify(logs));
      assert.match(String(logged.message), /workflows\.executions\.create/);
      assert.equal(logged.permission, 'workflows.executions.create');
      const [list] = await client.listExecutions({ parent: WORKFLOW });
      assert.equal(list.length, 0);
    });
  }
});
