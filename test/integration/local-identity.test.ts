// Identity across the local cloud (startLocalCloud, identity on): a revision's process reaches the
// metadata server of its template's account (the default compute account when none is named), a
// job task its own, and a workflow's `http.*` auth calls carry its account's tokens. With
// identity off, none of it exists.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JobsClient, ServicesClient } from '@google-cloud/run';
import { localClientOptions } from '../../services/shared/clients.ts';
import { type LocalCloud, startLocalCloud } from '../../local/cloud.ts';
import { projectNumber } from '../../local/run/resources.ts';

const PROJECT = 'demo-project';
const REGION = 'us-central1';
const PARENT = `projects/${PROJECT}/locations/${REGION}`;
const APP = new URL('../fixtures/apps/probe/', import.meta.url).pathname;
const IMAGE = `${REGION}-docker.pkg.dev/${PROJECT}/apps/probe`;
const APP_SA = `runway-app@${PROJECT}.iam.gserviceaccount.com`;
const JOB_SA = `runway-acceptance@${PROJECT}.iam.gserviceaccount.com`;
const WORKFLOW_SA = `runway-workflow@${PROJECT}.iam.gserviceaccount.com`;
const COMPUTE = `${projectNumber(PROJECT)}-compute@developer.gserviceaccount.com`;

async function metadataEmail(host: string): Promise<string> {
  const res = await fetch(
    `http://${host}/computeMetadata/v1/instance/service-accounts/default/email`,
    { headers: { 'metadata-flavor': 'Google' } },
  );
  assert.equal(res.status, 200);
  return res.text();
}

describe('identity on', () => {
  let home: string;
  let cloud: LocalCloud;
  let services: ServicesClient;
  let jobs: JobsClient;
  let image: string;

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'runway-identity-'));
    cloud = await startLocalCloud({
      project: PROJECT,
      region: REGION,
      home,
      // Identity alone: with IAM on, the services this test makes would be private (iam.test.ts).
      iam: 'off',
      pubsub: 'bridge',
      startupTimeoutMs: 5_000,
    });
    image = (await cloud.registry.store.push(APP, `${IMAGE}:v1`)).digestRef;
    services = new ServicesClient(localClientOptions(cloud.run.host));
    jobs = new JobsClient(localClientOptions(cloud.run.host));
  });
  after(async () => {
    await Promise.all([services?.close(), jobs?.close()]);
    await cloud?.close();
    await rm(home, { recursive: true, force: true });
  });

  test('the cloud exposes its issuer in env and on the object', () => {
    assert.ok(cloud.identity);
    assert.equal(cloud.env.RUNWAY_TOKEN_ISSUER, cloud.identity.url);
    assert.equal(cloud.env.RUNWAY_TOKEN_CERTS_URL, `${cloud.identity.url}/oauth2/v1/certs`);
    assert.equal(cloud.identity.defaultServiceAccount, COMPUTE);
  });

  const revisions: { name: string; id: string; serviceAccount?: string; expected: string }[] = [
    { name: 'the template’s account', id: 'named', serviceAccount: APP_SA, expected: APP_SA },
    { name: 'none named: the default compute account', id: 'unnamed', expected: COMPUTE },
  ];
  for (const c of revisions) {
    test(`a revision runs as ${c.name}`, async () => {
      const [op] = await services.createService({
        parent: PARENT,
        serviceId: c.id,
        service: {
          template: {
            ...(c.serviceAccount ? { serviceAccount: c.serviceAccount } : {}),
            containers: [{ image }],
          },
        },
      });
      const [svc] = await op.promise();
      const probe = (await (await fetch(svc.uri!)).json()) as { metadata: string | null };
      assert.ok(probe.metadata, 'GCE_METADATA_HOST is set');
      assert.equal(await metadataEmail(probe.metadata), c.expected);
      assert.equal(
        await metadataEmail(await cloud.identity!.metadata.hostFor(c.expected)),
        c.expected,
      );
    });
  }

  test('a container’s own GCE_METADATA_HOST wins over the platform’s, as on Cloud Run', async () => {
    const [op] = await services.createService({
      parent: PARENT,
      serviceId: 'own-metadata',
      service: {
        template: {
          containers: [{ image, env: [{ name: 'GCE_METADATA_HOST', value: '127.0.0.1:1' }] }],
        },
      },
    });
    const [svc] = await op.promise();
    const probe = (await (await fetch(svc.uri!)).json()) as { metadata: string | null };
    assert.equal(probe.metadata, '127.0.0.1:1');
  });

  test('a job task runs as its task template’s account', async () => {
    const [create] = await jobs.createJob({
      parent: PARENT,
      jobId: 'checks',
      job: {
        template: {
          template: {
            maxRetries: 0,
            serviceAccount: JOB_SA,
            containers: [{ image, command: ['node', 'task.js'] }],
          },
        },
      },
    });
    await create.promise();
    const [run] = await jobs.runJob({ name: `${PARENT}/jobs/checks` });
    await run.promise();
    assert.ok(cloud.identity!.metadata.accounts().includes(JOB_SA));
  });

  describe('a workflow’s http calls with auth', () => {
    const seen = new Map<string, string | undefined>();
    const receiver = createServer((req, res) => {
      seen.set(req.url ?? '', req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    let url = '';
    before(async () => {
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    });
    after(() => {
      receiver.closeAllConnections();
      receiver.close();
    });

    const SOURCE = `
main:
  params: [args]
  steps:
    - oidc:
        call: http.get
        args:
          url: \${args.url + "/oidc"}
          auth:
            type: OIDC
            audience: https://audience.example
    - oauth:
        call: http.get
        args:
          url: \${args.url + "/oauth"}
          auth:
            type: OAuth2
    - done:
        return: \${sys.get_env("GOOGLE_CLOUD_SERVICE_ACCOUNT_NAME")}
`;

    async function execute(workflow: string): Promise<string> {
      const base = `${cloud.workflows.url}/v1/${PARENT}/workflows/${workflow}/executions`;
      const created = (await (
        await fetch(base, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ argument: JSON.stringify({ url: `${url}/${workflow}` }) }),
        })
      ).json()) as { name: string };
      for (;;) {
        const e = (await (await fetch(`${cloud.workflows.url}/v1/${created.name}`)).json()) as {
          state: string;
          result?: string;
          error?: unknown;
        };
        if (e.state === 'SUCCEEDED') return JSON.parse(e.result!);
        if (e.state !== 'ACTIVE') assert.fail(JSON.stringify(e));
        await new Promise((r) => setTimeout(r, 20));
      }
    }

    const cases: { name: string; workflow: string; serviceAccount?: string; expected: string }[] = [
      {
        name: 'deployed with an account',
        workflow: 'named',
        serviceAccount: WORKFLOW_SA,
        expected: WORKFLOW_SA,
      },
      {
        name: 'deployed without: the default compute account',
        workflow: 'unnamed',
        expected: COMPUTE,
      },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        cloud.workflows.deploy(
          c.workflow,
          SOURCE,
          c.serviceAccount ? { serviceAccount: c.serviceAccount } : {},
        );
        assert.equal(await execute(c.workflow), c.expected, 'GOOGLE_CLOUD_SERVICE_ACCOUNT_NAME');
        const oidc = seen.get(`/${c.workflow}/oidc`)?.replace(/^Bearer /, '') ?? '';
        assert.equal(
          cloud.identity!.issuer.verifyIdToken(oidc, 'https://audience.example')?.email,
          c.expected,
        );
        const oauth = seen.get(`/${c.workflow}/oauth`)?.replace(/^Bearer /, '');
        assert.equal(cloud.identity!.issuer.identify(oauth), `serviceAccount:${c.expected}`);
      });
    }
  });
});

describe('identity off', () => {
  test('no issuer, no metadata server, no token variables', async () => {
    const home = await mkdtemp(join(tmpdir(), 'runway-identity-off-'));
    const cloud = await startLocalCloud({
      project: PROJECT,
      region: REGION,
      home,
      pubsub: 'bridge',
      identity: 'off',
    });
    try {
      assert.equal(cloud.identity, undefined);
      assert.equal(cloud.env.RUNWAY_TOKEN_ISSUER, undefined);
      assert.equal(cloud.pubsub.relay, undefined);
    } finally {
      await cloud.close();
      await rm(home, { recursive: true, force: true });
    }
  });
});
