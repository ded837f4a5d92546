// The deployer's token settings: Google's issuer and keys unless both RUNWAY_TOKEN_ISSUER and
// RUNWAY_TOKEN_CERTS_URL are set (the local cloud's issuer); half of them stops start-up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from './config.ts';

const BASE = {
  GOOGLE_CLOUD_PROJECT: 'demo-project',
  RUNWAY_REGION: 'us-central1',
  RUNWAY_CONFIG_YAML: `project: demo-project
region: us-central1
pipelines:
  - name: web
    image: us-central1-docker.pkg.dev/demo-project/apps/web
    staging: { service: web-staging }
    live: { service: web }
    acceptance: { job: web-acceptance }
`,
  RUNWAY_PUSH_AUDIENCE: 'https://runway-deployer.demo-project.invalid',
  RUNWAY_PUSH_SERVICE_ACCOUNT: 'runway-push@demo-project.iam.gserviceaccount.com',
};

const cases: {
  name: string;
  env: Record<string, string>;
  tokens?: { issuers?: string[]; certsUrl?: string };
  error?: RegExp;
}[] = [
  { name: 'neither: Google’s', env: {}, tokens: {} },
  {
    name: 'both: the local issuer',
    env: {
      RUNWAY_TOKEN_ISSUER: 'http://127.0.0.1:4000',
      RUNWAY_TOKEN_CERTS_URL: 'http://127.0.0.1:4000/oauth2/v1/certs',
    },
    tokens: {
      issuers: ['http://127.0.0.1:4000'],
      certsUrl: 'http://127.0.0.1:4000/oauth2/v1/certs',
    },
  },
  {
    name: 'an issuer without keys',
    env: { RUNWAY_TOKEN_ISSUER: 'http://127.0.0.1:4000' },
    error: /RUNWAY_TOKEN_CERTS_URL: set both RUNWAY_TOKEN_ISSUER and RUNWAY_TOKEN_CERTS_URL/,
  },
  {
    name: 'keys without an issuer',
    env: { RUNWAY_TOKEN_CERTS_URL: 'http://127.0.0.1:4000/oauth2/v1/certs' },
    error: /RUNWAY_TOKEN_ISSUER: set both/,
  },
  {
    name: 'an issuer that is not a URL',
    env: { RUNWAY_TOKEN_ISSUER: 'accounts', RUNWAY_TOKEN_CERTS_URL: 'http://127.0.0.1:1/c' },
    error: /RUNWAY_TOKEN_ISSUER/,
  },
];

for (const c of cases) {
  test(`token settings: ${c.name}`, () => {
    const env = { ...BASE, ...c.env };
    if (c.error) {
      assert.throws(() => loadConfig(env), c.error);
      return;
    }
    const config = loadConfig(env);
    assert.deepEqual(config.tokens, c.tokens);
    assert.deepEqual(config.push, {
      audience: BASE.RUNWAY_PUSH_AUDIENCE,
      serviceAccount: BASE.RUNWAY_PUSH_SERVICE_ACCOUNT,
    });
  });
}
