// The local cloud's identity as the engine and Pub/Sub ask it: tokens of the named account (the
// default compute account otherwise), reused until they near expiry, and the verifier's settings.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { projectNumber } from '../run/resources.ts';
import { type LocalIdentity, startLocalIdentity } from './index.ts';

const WORKFLOW = 'runway-workflow@demo-project.iam.gserviceaccount.com';
const COMPUTE = `${projectNumber('demo-project')}-compute@developer.gserviceaccount.com`;
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
let identity: LocalIdentity;

before(async () => {
  identity = await startLocalIdentity({ project: 'demo-project', region: 'us-central1' });
});
after(() => identity.close());

test('the project number and default account are Cloud Run’s', () => {
  assert.equal(identity.projectNumber, projectNumber('demo-project'));
  assert.match(identity.projectNumber, /^\d{12}$/);
  assert.equal(identity.defaultServiceAccount, COMPUTE);
  assert.deepEqual(identity.env, {
    RUNWAY_TOKEN_ISSUER: identity.url,
    RUNWAY_TOKEN_CERTS_URL: identity.certsUrl,
  });
});

const accounts: { name: string; serviceAccount?: string; principal: string }[] = [
  { name: 'the named account', serviceAccount: WORKFLOW, principal: `serviceAccount:${WORKFLOW}` },
  { name: 'no account: the default compute account', principal: `serviceAccount:${COMPUTE}` },
];
for (const c of accounts) {
  test(`engine tokens of ${c.name}`, async () => {
    const access = await identity.token('OAuth2', SCOPE, c.serviceAccount);
    assert.equal(identity.issuer.identify(access), c.principal);
    const id = await identity.token('OIDC', 'https://svc.example', c.serviceAccount);
    assert.equal(
      `serviceAccount:${identity.issuer.verifyIdToken(id, 'https://svc.example')?.email}`,
      c.principal,
    );
  });
}

test('engine tokens are reused per account, kind and audience', async () => {
  const a = await identity.token('OAuth2', SCOPE, WORKFLOW);
  assert.equal(await identity.token('OAuth2', [SCOPE], WORKFLOW), a);
  assert.notEqual(await identity.token('OAuth2', SCOPE, COMPUTE), a);
  const id = await identity.token('OIDC', 'https://a.example', WORKFLOW);
  assert.equal(await identity.token('OIDC', 'https://a.example', WORKFLOW), id);
  assert.notEqual(await identity.token('OIDC', 'https://b.example', WORKFLOW), id);
});

test('push tokens are signed for the audience asked', () => {
  const token = identity.sign('runway-push@demo-project.iam.gserviceaccount.com', 'https://aud');
  assert.equal(identity.issuer.verifyIdToken(token, 'https://aud')?.email_verified, true);
});
