import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { RunwayError } from '../../services/shared/errors.ts';
import { newKeyPair, TokenIssuer } from '../identity/issuer.ts';
import { identifyCaller, openGate, policyGate } from './caller.ts';
import { Policy } from './policy.ts';

const LOCAL_USER = 'user:developer@local';
const SA = 'runway-deployer@p.iam.gserviceaccount.com';

async function issuerAt(clock: { t: number }) {
  return new TokenIssuer({ url: 'http://issuer', keys: await newKeyPair(), now: () => clock.t });
}

describe('identifyCaller', async () => {
  const clock = { t: 1_700_000_000_000 };
  const issuer = await issuerAt(clock);
  const live = issuer.accessToken(`serviceAccount:${SA}`).token;
  const expiring = issuer.accessToken('user:someone@example.com').token;
  const other = await issuerAt(clock);
  const foreign = other.accessToken(`serviceAccount:${SA}`).token;
  const idToken = issuer.idToken(SA, 'https://aud');

  const cases: {
    name: string;
    header: string | undefined;
    advance?: number;
    principal?: string;
    error?: { status: number; message: RegExp };
  }[] = [
    {
      name: 'no Authorization header: 401, as Google answers',
      header: undefined,
      error: { status: 401, message: /missing required authentication credential/ },
    },
    {
      name: 'a header that is not a bearer token: 401',
      header: 'Basic dXNlcjpwYXNz',
      error: { status: 401, message: /missing required authentication credential/ },
    },
    {
      name: "the issuer's access token: its principal",
      header: `Bearer ${live}`,
      principal: `serviceAccount:${SA}`,
    },
    {
      name: 'the scheme is case-insensitive',
      header: `bearer ${live}`,
      principal: `serviceAccount:${SA}`,
    },
    {
      name: "Google's clients' fake token: the local user",
      header: 'Bearer local-fake-token',
      principal: LOCAL_USER,
    },
    {
      name: 'an ID token is no access token: the local user, as any other token',
      header: `Bearer ${idToken}`,
      principal: LOCAL_USER,
    },
    {
      name: 'an expired token of the issuer: 401, not the local user',
      header: `Bearer ${expiring}`,
      advance: 3601_000,
      error: { status: 401, message: /invalid authentication credentials/ },
    },
    {
      name: "a forged token in the issuer's form: 401",
      header: 'Bearer ya29.local.forgedforgedforgedforgedforgedforged',
      error: { status: 401, message: /invalid authentication credentials/ },
    },
    {
      name: "another issuer's token: 401",
      header: `Bearer ${foreign}`,
      error: { status: 401, message: /invalid authentication credentials/ },
    },
  ];
  for (const c of cases) {
    await test(c.name, () => {
      const before = clock.t;
      clock.t += c.advance ?? 0;
      try {
        if (c.error) {
          assert.throws(
            () => identifyCaller(c.header, issuer, LOCAL_USER),
            (err: unknown) =>
              err instanceof RunwayError &&
              err.code === 'UNAUTHENTICATED' &&
              err.httpStatus === c.error!.status &&
              c.error!.message.test(err.message),
          );
        } else {
          assert.equal(identifyCaller(c.header, issuer, LOCAL_USER), c.principal);
        }
      } finally {
        clock.t = before;
      }
    });
  }
});

describe('gates', () => {
  const req = (authorization?: string) =>
    ({ headers: authorization ? { authorization } : {} }) as IncomingMessage;
  const SERVICE = 'projects/p/locations/r/services/s';
  const policy = new Policy(
    [
      { principal: LOCAL_USER, role: 'roles/run.viewer', resource: 'projects/p' },
      { principal: `serviceAccount:${SA}`, role: 'roles/run.developer', resource: SERVICE },
    ],
    { project: 'p' },
  );

  test('IAM off lets anything through, without a token', () => {
    openGate.authorize(req(), 'run.googleapis.com', 'google.cloud.run.v2.Services.DeleteService', {
      resource: SERVICE,
    });
  });

  test("IAM on: the local user's grant allows a get and refuses an update, Google-shaped", () => {
    const gate = policyGate({ policy, localUser: LOCAL_USER });
    gate.authorize(
      req('Bearer x'),
      'run.googleapis.com',
      'google.cloud.run.v2.Services.GetService',
      {
        resource: SERVICE,
      },
    );
    assert.throws(
      () =>
        gate.authorize(
          req('Bearer x'),
          'run.googleapis.com',
          'google.cloud.run.v2.Services.UpdateService',
          { resource: SERVICE },
        ),
      (err: unknown) =>
        err instanceof RunwayError &&
        err.httpStatus === 403 &&
        err.message ===
          `Permission 'run.services.update' denied on resource '${SERVICE}' (or it may not exist).` &&
        err.info?.reason === 'IAM_PERMISSION_DENIED',
    );
  });

  test('IAM on: no token is 401 before any permission is looked at', () => {
    const gate = policyGate({ policy, localUser: LOCAL_USER });
    assert.throws(
      () =>
        gate.authorize(req(), 'run.googleapis.com', 'google.cloud.run.v2.Services.GetService', {
          resource: SERVICE,
        }),
      (err: unknown) => err instanceof RunwayError && err.httpStatus === 401,
    );
  });

  test('a check costs well under a millisecond', async () => {
    const clock = { t: Date.now() };
    const issuer = await issuerAt(clock);
    const token = issuer.accessToken(`serviceAccount:${SA}`).token;
    const gate = policyGate({ policy, issuer, localUser: LOCAL_USER });
    const r = req(`Bearer ${token}`);
    const n = 20_000;
    const start = performance.now();
    for (let i = 0; i < n; i++)
      gate.authorize(r, 'run.googleapis.com', 'google.cloud.run.v2.Services.UpdateService', {
        resource: SERVICE,
      });
    const perCall = (performance.now() - start) / n;
    assert.ok(perCall < 0.1, `a check took ${perCall.toFixed(4)} ms`);
  });
});
