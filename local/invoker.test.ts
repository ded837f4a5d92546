import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { invokerCheck } from './cloud.ts';
import { Policy } from './iam/policy.ts';
import { newKeyPair, TokenIssuer } from './identity/issuer.ts';

const DEPLOYER = 'projects/p/locations/r/services/runway-deployer';
const LIVE = 'projects/p/locations/r/services/sample';
const PUSH = 'runway-push@p.iam.gserviceaccount.com';
const OTHER = 'runway-app@p.iam.gserviceaccount.com';
const AUD = 'https://runway-deployer.p.invalid';

describe("Cloud Run's invoker check", async () => {
  const issuer = new TokenIssuer({ url: 'http://issuer', keys: await newKeyPair() });
  const stranger = new TokenIssuer({ url: 'http://issuer', keys: await newKeyPair() });
  const policy = new Policy(
    [
      { principal: `serviceAccount:${PUSH}`, role: 'roles/run.invoker', resource: DEPLOYER },
      { principal: 'allUsers', role: 'roles/run.invoker', resource: LIVE },
    ],
    { project: 'p' },
  );
  const check = invokerCheck(policy, issuer)!;
  const cases: { name: string; service: string; auth?: string; status?: number }[] = [
    { name: 'a public service takes a request without a token', service: LIVE },
    { name: 'a private one refuses it: 403', service: DEPLOYER, status: 403 },
    {
      name: "the granted account's token for its audience passes",
      service: DEPLOYER,
      auth: `Bearer ${issuer.idToken(PUSH, AUD)}`,
    },
    {
      name: 'the same token again passes (verified once, then cached)',
      service: DEPLOYER,
      auth: `Bearer ${issuer.idToken(PUSH, AUD)}`,
    },
    {
      name: "another account's token: 403",
      service: DEPLOYER,
      auth: `Bearer ${issuer.idToken(OTHER, AUD)}`,
      status: 403,
    },
    {
      name: 'a token for another audience: 401',
      service: DEPLOYER,
      auth: `Bearer ${issuer.idToken(PUSH, 'https://elsewhere')}`,
      status: 401,
    },
    {
      name: 'a token signed by another key: 401',
      service: DEPLOYER,
      auth: `Bearer ${stranger.idToken(PUSH, AUD)}`,
      status: 401,
    },
    { name: 'garbage: 401', service: DEPLOYER, auth: 'Bearer not.a.jwt', status: 401 },
  ];
  for (const c of cases) {
    await test(c.name, () => {
      const refusal = check({ service: c.service, audiences: [AUD], authorization: c.auth });
      assert.equal(refusal?.status, c.status, refusal?.message);
      if (c.status === 403) assert.match(refusal!.message, /run\.routes\.invoke/);
    });
  }
});
