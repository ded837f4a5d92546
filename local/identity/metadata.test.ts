// The metadata server over real sockets: google-auth-library in a child process (its own
// gcp-metadata cache) gets tokens of the account its GCE_METADATA_HOST stands for, unchanged; raw
// requests show the Metadata-Flavor rules and the directory answers.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from '../images.ts';
import { type LocalIssuer, startIssuer } from './issuer.ts';
import { MetadataServer } from './metadata.ts';

const APP = 'runway-app@demo-project.iam.gserviceaccount.com';
const ACCEPTANCE = 'runway-acceptance@demo-project.iam.gserviceaccount.com';
const AUDIENCE = 'https://web-staging-abc.a.run.app';

let local: LocalIssuer;
let metadata: MetadataServer;
let home: string;

before(async () => {
  local = await startIssuer();
  metadata = new MetadataServer({
    issuer: local.issuer,
    project: 'demo-project',
    projectNumber: '123456789012',
    region: 'us-central1',
  });
  home = await mkdtemp(join(tmpdir(), 'runway-metadata-'));
});
after(async () => {
  await metadata.close();
  await local.close();
  await rm(home, { recursive: true, force: true });
});

// What a revision's code does: Application Default Credentials, nothing told about the local cloud.
const CHILD = `
const { GoogleAuth } = require('google-auth-library');
(async () => {
  const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
  const accessToken = await auth.getAccessToken();
  const projectId = await auth.getProjectId();
  const credentials = await auth.getCredentials();
  const idClient = await auth.getIdTokenClient(process.env.AUDIENCE);
  const headers = await idClient.getRequestHeaders();
  const authorization = headers.get ? headers.get('authorization') : headers.Authorization;
  process.stdout.write(JSON.stringify({ accessToken, projectId, email: credentials.client_email, authorization }));
})().catch((err) => { process.stderr.write(String(err.stack)); process.exit(1); });
`;

async function runAs(email: string): Promise<Record<string, string>> {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    AUDIENCE,
    ...(await metadata.envFor(email)),
  };
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', CHILD], {
    cwd: repoRoot,
    env,
    timeout: 30_000,
  });
  return JSON.parse(stdout);
}

describe('google-auth-library with GCE_METADATA_HOST', () => {
  test('a process gets the access token, ID token, email and project of its own account', async () => {
    const [app, acceptance] = await Promise.all([runAs(APP), runAs(ACCEPTANCE)]);
    for (const [seen, email] of [
      [app, APP],
      [acceptance, ACCEPTANCE],
    ] as const) {
      assert.equal(seen.projectId, 'demo-project');
      assert.equal(seen.email, email);
      assert.equal(local.issuer.identify(seen.accessToken), `serviceAccount:${email}`);
      const idToken = seen.authorization!.replace(/^Bearer /, '');
      const claims = local.issuer.verifyIdToken(idToken, AUDIENCE);
      assert.equal(claims?.email, email);
      assert.equal(claims?.iss, local.url);
    }
  });

  test('one port per account, the same port for the same account', async () => {
    const a = await metadata.hostFor(APP);
    assert.equal(await metadata.hostFor(APP), a);
    assert.notEqual(await metadata.hostFor(ACCEPTANCE), a);
    const env = await metadata.envFor(APP);
    assert.deepEqual(env, { GCE_METADATA_HOST: a, GCE_METADATA_IP: a });
  });
});

describe('the endpoints, raw', () => {
  const get = async (
    path: string,
    headers: Record<string, string> = { 'metadata-flavor': 'Google' },
    method = 'GET',
  ) => {
    const res = await fetch(`http://${await metadata.hostFor(APP)}${path}`, { headers, method });
    return {
      status: res.status,
      flavor: res.headers.get('metadata-flavor'),
      type: res.headers.get('content-type'),
      body: await res.text(),
    };
  };
  const V1 = '/computeMetadata/v1';
  const SA = `${V1}/instance/service-accounts`;

  const cases: {
    name: string;
    path: string;
    headers?: Record<string, string>;
    method?: string;
    status: number;
    body?: string | RegExp;
    json?: unknown;
  }[] = [
    { name: 'email', path: `${SA}/default/email`, status: 200, body: APP },
    { name: 'email by the account’s own name', path: `${SA}/${APP}/email`, status: 200, body: APP },
    { name: 'project id', path: `${V1}/project/project-id`, status: 200, body: 'demo-project' },
    {
      name: 'project number',
      path: `${V1}/project/numeric-project-id`,
      status: 200,
      body: '123456789012',
    },
    {
      name: 'region',
      path: `${V1}/instance/region`,
      status: 200,
      body: 'projects/123456789012/regions/us-central1',
    },
    {
      name: 'universe',
      path: `${V1}/universe/universe-domain`,
      status: 200,
      body: 'googleapis.com',
    },
    {
      name: 'the instance directory (gcp-metadata’s ping)',
      path: `${V1}/instance`,
      status: 200,
      body: /service-accounts\//,
    },
    { name: 'the accounts directory', path: `${SA}/`, status: 200, body: `default/\n${APP}/\n` },
    {
      name: 'the account, recursive',
      path: `${SA}/default/?recursive=true`,
      status: 200,
      json: {
        aliases: ['default'],
        email: APP,
        scopes: ['https://www.googleapis.com/auth/cloud-platform'],
      },
    },
    {
      name: 'the account directory',
      path: `${SA}/default/`,
      status: 200,
      body: /^aliases\nemail\nidentity\nscopes\ntoken\n$/,
    },
    {
      name: 'an ID token',
      path: `${SA}/default/identity?audience=${encodeURIComponent(AUDIENCE)}&format=full`,
      status: 200,
      body: /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/,
    },
    {
      name: 'the legacy header',
      path: `${SA}/default/email`,
      headers: { 'x-google-metadata-request': 'True' },
      status: 200,
      body: APP,
    },
    {
      name: 'no Metadata-Flavor',
      path: `${SA}/default/token`,
      headers: {},
      status: 403,
      body: /Missing Metadata-Flavor:Google header/,
    },
    {
      name: 'a wrong Metadata-Flavor',
      path: `${SA}/default/token`,
      headers: { 'metadata-flavor': 'google' },
      status: 403,
    },
    {
      name: 'a proxied request',
      path: `${SA}/default/token`,
      headers: { 'metadata-flavor': 'Google', 'x-forwarded-for': '10.0.0.1' },
      status: 403,
      body: /X-Forwarded-For/,
    },
    {
      name: 'an ID token without an audience',
      path: `${SA}/default/identity`,
      status: 400,
      body: /audience/,
    },
    { name: 'another account', path: `${SA}/${ACCEPTANCE}/token`, status: 404 },
    {
      name: 'GKE’s cluster name (not GKE)',
      path: `${V1}/instance/attributes/cluster-name`,
      status: 404,
    },
    { name: 'an unknown key', path: `${V1}/project/attributes/ssh-keys`, status: 404 },
    { name: 'another API version', path: '/computeMetadata/v2/project/project-id', status: 404 },
    { name: 'a POST', path: `${SA}/default/token`, method: 'POST', status: 405 },
  ];
  for (const c of cases) {
    test(`${c.status}: ${c.name}`, async () => {
      const r = await get(c.path, c.headers, c.method);
      assert.equal(r.status, c.status, r.body);
      assert.equal(r.flavor, 'Google', 'every answer carries Metadata-Flavor: Google');
      if (c.json !== undefined) {
        assert.equal(r.type, 'application/json');
        assert.deepEqual(JSON.parse(r.body), c.json);
      }
      if (typeof c.body === 'string') assert.equal(r.body, c.body);
      else if (c.body) assert.match(r.body, c.body);
    });
  }

  test('the token endpoint answers Google’s shape, for the account', async () => {
    const r = await get(
      `${SA}/default/token?scopes=https://www.googleapis.com/auth/cloud-platform`,
    );
    const body = JSON.parse(r.body) as {
      access_token: string;
      expires_in: number;
      token_type: string;
    };
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 3599);
    assert.equal(local.issuer.identify(body.access_token), `serviceAccount:${APP}`);
  });

  test('a closed server opens no new port', async () => {
    const other = new MetadataServer(metadata.options);
    await other.hostFor(APP);
    await other.close();
    await assert.rejects(other.hostFor(APP), /closed/);
  });
});
