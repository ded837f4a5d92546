// The deployer's verifier pointed at the local issuer (RUNWAY_TOKEN_ISSUER, RUNWAY_TOKEN_CERTS_URL):
// it fetches the keys over HTTP and accepts the push account's token for the audience, nothing else.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createVerifier, type TokenVerifier } from '../../services/deployer/auth.ts';
import { RunwayError } from '../../services/shared/errors.ts';
import {
  type LocalIssuer,
  newKeyPair,
  startIssuer,
  TokenIssuer,
} from '../../local/identity/issuer.ts';

const PUSHER = 'runway-push@demo-project.iam.gserviceaccount.com';
const AUDIENCE = 'https://runway-deployer.demo-project.invalid';
const expected = { audience: AUDIENCE, serviceAccount: PUSHER };

let local: LocalIssuer;
let verifier: TokenVerifier;
let forger: TokenIssuer;
before(async () => {
  local = await startIssuer();
  verifier = createVerifier({ issuers: [local.url], certsUrl: local.certsUrl });
  forger = new TokenIssuer({ url: local.url, keys: await newKeyPair() });
});
after(() => local.close());

test('the push account’s token for the audience is accepted', async () => {
  const payload = await verifier.verify(
    `Bearer ${local.issuer.idToken(PUSHER, AUDIENCE)}`,
    expected,
  );
  assert.equal(payload.email, PUSHER);
});

const refused: { name: string; header: () => string | undefined; code: string }[] = [
  { name: 'no header', header: () => undefined, code: 'UNAUTHENTICATED' },
  {
    name: 'forged with another key',
    header: () => `Bearer ${forger.idToken(PUSHER, AUDIENCE)}`,
    code: 'UNAUTHENTICATED',
  },
  {
    name: 'another audience',
    header: () => `Bearer ${local.issuer.idToken(PUSHER, 'https://x')}`,
    code: 'UNAUTHENTICATED',
  },
  {
    name: 'another account',
    header: () =>
      `Bearer ${local.issuer.idToken('runway-ci@demo-project.iam.gserviceaccount.com', AUDIENCE)}`,
    code: 'PERMISSION_DENIED',
  },
];
for (const c of refused) {
  test(`refused: ${c.name}`, async () => {
    await assert.rejects(verifier.verify(c.header(), expected), (err) => {
      assert.ok(err instanceof RunwayError);
      assert.equal(err.code, c.code, err.message);
      return true;
    });
  });
}
