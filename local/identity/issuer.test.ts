// The token issuer: claims, expiry on an injected clock, tampered and forged tokens refused, and
// its tokens verified by google-auth-library against the keys it serves over HTTP.
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { OAuth2Client } from 'google-auth-library';
import {
  type IdTokenClaims,
  keyOfJwk,
  type LocalIssuer,
  LOCAL_USER,
  newKeyPair,
  principalOf,
  startIssuer,
  subjectOf,
  TokenIssuer,
} from './issuer.ts';

const SA = 'runway-push@demo-project.iam.gserviceaccount.com';
const AUD = 'https://runway-deployer.demo-project.invalid';
const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);

let clock = T0;
let keys: Awaited<ReturnType<typeof newKeyPair>>;
let otherKeys: Awaited<ReturnType<typeof newKeyPair>>;
let issuer: TokenIssuer;

before(async () => {
  [keys, otherKeys] = await Promise.all([newKeyPair(), newKeyPair()]);
  issuer = new TokenIssuer({ url: 'http://127.0.0.1:1', keys, now: () => clock });
});

const decode = (token: string, i: number) =>
  JSON.parse(Buffer.from(token.split('.')[i]!, 'base64url').toString('utf8'));

/** Re-signs `header.payload` with `key`, as a forger holding another key would. */
function signWith(key: typeof keys.privateKey, header: object, payload: object): string {
  const b = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const signed = `${b(header)}.${b(payload)}`;
  return `${signed}.${sign('sha256', Buffer.from(signed), key).toString('base64url')}`;
}

describe('ID tokens', () => {
  test('carry Google’s claims, signed RS256 with the key’s kid', () => {
    clock = T0;
    const token = issuer.idToken(SA, AUD);
    assert.deepEqual(decode(token, 0), { alg: 'RS256', kid: issuer.kid, typ: 'JWT' });
    const claims = decode(token, 1) as IdTokenClaims;
    assert.deepEqual(claims, {
      iss: 'http://127.0.0.1:1',
      aud: AUD,
      azp: subjectOf(SA),
      email: SA,
      email_verified: true,
      exp: T0 / 1000 + 3600,
      iat: T0 / 1000,
      sub: subjectOf(SA),
    });
    assert.match(claims.sub, /^\d{21}$/);
    assert.deepEqual(issuer.verifyIdToken(token, AUD), claims);
  });

  test('the subject is stable per account and differs between accounts', () => {
    assert.equal(subjectOf(SA), subjectOf(SA));
    assert.notEqual(subjectOf(SA), subjectOf('developer@local'));
  });

  test('an ID token needs an audience', () => {
    assert.throws(() => issuer.idToken(SA, ''), /audience/);
  });

  const cases: { name: string; token: () => string; audience?: string; at?: number }[] = [
    { name: 'another audience', token: () => issuer.idToken(SA, AUD), audience: 'https://x' },
    { name: 'expired (one hour later)', token: () => issuer.idToken(SA, AUD), at: T0 + 3600_000 },
    {
      name: 'a payload edited to another account',
      token: () => {
        const [h, , s] = issuer.idToken(SA, AUD).split('.');
        const p = {
          ...decode(issuer.idToken(SA, AUD), 1),
          email: 'runway-ci@p.iam.gserviceaccount.com',
        };
        return `${h}.${Buffer.from(JSON.stringify(p)).toString('base64url')}.${s}`;
      },
    },
    {
      name: 'a signature with one byte flipped',
      token: () => {
        const [h, p, s] = issuer.idToken(SA, AUD).split('.') as [string, string, string];
        const sig = Buffer.from(s, 'base64url');
        sig[10] = sig[10]! ^ 1;
        return `${h}.${p}.${sig.toString('base64url')}`;
      },
    },
    {
      name: 'forged: signed by another key under our kid',
      token: () => {
        const t = issuer.idToken(SA, AUD);
        return signWith(otherKeys.privateKey, decode(t, 0), decode(t, 1));
      },
    },
    {
      name: 'alg none with no signature',
      token: () => {
        const t = issuer.idToken(SA, AUD);
        const b = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
        return `${b({ alg: 'none', kid: issuer.kid })}.${b(decode(t, 1))}.`;
      },
    },
    {
      name: 'another issuer’s claim',
      token: () =>
        signWith(keys.privateKey, decode(issuer.idToken(SA, AUD), 0), {
          ...decode(issuer.idToken(SA, AUD), 1),
          iss: 'https://accounts.google.com',
        }),
    },
    { name: 'not a JWT', token: () => 'ya29.not-a-jwt' },
    { name: 'garbage segments', token: () => 'eyJ.%%%.###' },
  ];
  for (const c of cases) {
    test(`refused: ${c.name}`, () => {
      clock = T0;
      const token = c.token();
      clock = c.at ?? T0;
      assert.equal(issuer.verifyIdToken(token, c.audience ?? AUD), undefined);
      clock = T0;
    });
  }
});

describe('access tokens and identify', () => {
  test('an access token identifies its principal until it expires', () => {
    clock = T0;
    const { token, expiresIn } = issuer.accessToken(principalOf(SA));
    assert.match(token, /^ya29\.local\.[A-Za-z0-9_-]{43}$/);
    assert.equal(expiresIn, 3599);
    assert.equal(issuer.identify(token), `serviceAccount:${SA}`);
    assert.equal(issuer.identify(`Bearer ${token}`), `serviceAccount:${SA}`);
    clock = T0 + 3599_999;
    assert.equal(issuer.identify(token), `serviceAccount:${SA}`);
    clock = T0 + 3600_000;
    assert.equal(issuer.identify(token), undefined);
    clock = T0;
    assert.equal(issuer.identify(token), undefined, 'an expired token is forgotten');
  });

  test('the local user', () => {
    clock = T0;
    assert.equal(issuer.identify(issuer.accessToken(LOCAL_USER).token), 'user:developer@local');
    assert.equal(principalOf('developer@local'), LOCAL_USER);
  });

  const nobody: { name: string; bearer: () => string | undefined }[] = [
    { name: 'no token', bearer: () => undefined },
    { name: 'an empty header', bearer: () => '' },
    { name: 'a fake token', bearer: () => 'Bearer local-fake-token' },
    { name: 'a token of another issuer', bearer: () => `ya29.local.${'A'.repeat(43)}` },
    // Google's APIs take access tokens; an ID token is for Cloud Run's invoker check.
    { name: 'an ID token', bearer: () => `Bearer ${issuer.idToken(SA, AUD)}` },
  ];
  for (const c of nobody) {
    test(`identifies no one: ${c.name}`, () => {
      assert.equal(issuer.identify(c.bearer()), undefined);
    });
  }

  test('a principal must be a user or a service account', () => {
    assert.throws(() => issuer.accessToken('group:team@example.com'), /principal/);
    assert.throws(() => issuer.accessToken('allUsers'), /principal/);
  });
});

describe('over HTTP, verified by google-auth-library', () => {
  let local: LocalIssuer;
  before(async () => {
    local = await startIssuer();
  });
  after(() => local.close());

  test('the JWKS lists the key; the PEM map is the same key', async () => {
    const jwks = (await (await fetch(local.jwksUrl)).json()) as { keys: Record<string, string>[] };
    assert.equal(jwks.keys.length, 1);
    const jwk = jwks.keys[0]!;
    assert.equal(jwk.kid, local.issuer.kid);
    assert.equal(jwk.alg, 'RS256');
    const certs = (await (await fetch(local.certsUrl)).json()) as Record<string, string>;
    assert.deepEqual(Object.keys(certs), [local.issuer.kid]);
    assert.equal(keyOfJwk(jwk).export({ type: 'spki', format: 'pem' }), certs[local.issuer.kid]);
    const discovery = (await (
      await fetch(`${local.url}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    assert.equal(discovery.issuer, local.url);
    assert.equal(discovery.jwks_uri, local.jwksUrl);
  });

  test('verifySignedJwtWithCertsAsync accepts its token with the served certs', async () => {
    const certs = (await (await fetch(local.certsUrl)).json()) as Record<string, string>;
    const ticket = await new OAuth2Client().verifySignedJwtWithCertsAsync(
      local.issuer.idToken(SA, AUD),
      certs,
      AUD,
      [local.url],
    );
    assert.equal(ticket.getPayload()?.email, SA);
  });

  test('OAuth2Client.verifyIdToken with the certs URL and issuer configured', async () => {
    const client = new OAuth2Client({
      endpoints: { oauth2FederatedSignonPemCertsUrl: local.certsUrl },
      issuers: [local.url],
    });
    const ticket = await client.verifyIdToken({
      idToken: local.issuer.idToken(SA, AUD),
      audience: AUD,
    });
    assert.equal(ticket.getPayload()?.email_verified, true);
    await assert.rejects(
      client.verifyIdToken({ idToken: local.issuer.idToken(SA, AUD), audience: 'https://other' }),
      /Wrong recipient/,
    );
  });

  test('google-auth-library refuses a token forged with another key', async () => {
    const certs = (await (await fetch(local.certsUrl)).json()) as Record<string, string>;
    const t = local.issuer.idToken(SA, AUD);
    const forged = signWith(otherKeys.privateKey, decode(t, 0), decode(t, 1));
    await assert.rejects(
      new OAuth2Client().verifySignedJwtWithCertsAsync(forged, certs, AUD, [local.url]),
      /Invalid token signature/,
    );
  });

  test('IAM Credentials generateIdToken and generateAccessToken mint the account’s tokens', async () => {
    const base = `${local.url}/v1/projects/-/serviceAccounts/${encodeURIComponent(SA)}`;
    const post = (verb: string, body: unknown) =>
      fetch(`${base}:${verb}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const id = (await (
      await post('generateIdToken', { audience: AUD, includeEmail: true })
    ).json()) as {
      token: string;
    };
    assert.equal(local.issuer.verifyIdToken(id.token, AUD)?.email, SA);
    const access = (await (
      await post('generateAccessToken', {
        scope: ['https://www.googleapis.com/auth/cloud-platform'],
      })
    ).json()) as { accessToken: string; expireTime: string };
    assert.equal(local.issuer.identify(access.accessToken), `serviceAccount:${SA}`);
    assert.ok(Date.parse(access.expireTime) > Date.now());
  });

  const refused: { name: string; account: string; verb: string; body: unknown; message: RegExp }[] =
    [
      {
        name: 'an ID token without an audience',
        account: SA,
        verb: 'generateIdToken',
        body: {},
        message: /Audience is required/,
      },
      {
        name: 'an access token without a scope',
        account: SA,
        verb: 'generateAccessToken',
        body: { scope: [] },
        message: /Scope is required/,
      },
      {
        name: 'a user, not a service account',
        account: 'developer@local',
        verb: 'generateIdToken',
        body: { audience: AUD },
        message: /Invalid form of account ID/,
      },
    ];
  for (const c of refused) {
    test(`IAM Credentials refuses ${c.name} with 400`, async () => {
      const res = await fetch(
        `${local.url}/v1/projects/-/serviceAccounts/${encodeURIComponent(c.account)}:${c.verb}`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(c.body),
        },
      );
      assert.equal(res.status, 400);
      const body = (await res.json()) as { error: { status: string; message: string } };
      assert.equal(body.error.status, 'INVALID_ARGUMENT');
      assert.match(body.error.message, c.message);
    });
  }

  // The CLI's `--as user:…`: a user's access token, from the local stand-in for signing in.
  const users: { name: string; email: string; status: number; principal?: string }[] = [
    {
      name: 'a user',
      email: 'nobody@example.com',
      status: 200,
      principal: 'user:nobody@example.com',
    },
    {
      name: 'a service account is IAM Credentials’ to mint',
      email: 'a@p.iam.gserviceaccount.com',
      status: 400,
    },
    { name: 'not an email', email: 'nobody', status: 400 },
  ];
  for (const c of users) {
    test(`a user's access token: ${c.name}`, async () => {
      const res = await fetch(
        `${local.url}/local/v1/users/${encodeURIComponent(c.email)}:generateAccessToken`,
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
      );
      const body = (await res.json()) as { accessToken?: string };
      assert.equal(res.status, c.status, JSON.stringify(body));
      if (c.principal) assert.equal(local.issuer.identify(body.accessToken), c.principal);
    });
  }

  const missing: { name: string; method: string; path: string }[] = [
    { name: 'an unknown path', method: 'GET', path: '/oauth2/v2/certs' },
    { name: 'a POST', method: 'POST', path: '/oauth2/v3/certs' },
  ];
  for (const c of missing) {
    test(`404 for ${c.name}`, async () => {
      const res = await fetch(`${local.url}${c.path}`, { method: c.method });
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as { error: { status: string } }).error.status, 'NOT_FOUND');
    });
  }
});
