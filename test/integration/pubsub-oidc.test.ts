// Pushes carry the subscription's OIDC token on both Pub/Sub paths: the bridge signs them itself,
// and Google's emulator (which sends none) pushes through the relay that adds one. The endpoint's
// answer decides the ack either way.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type LocalIssuer, startIssuer } from '../../local/identity/issuer.ts';
import { findEmulator } from '../../local/pubsub/emulator.ts';
import {
  ensureSubscription,
  ensureTopic,
  type LocalPubSub,
  type PubSubKind,
  publish,
  startPubSub,
} from '../../local/pubsub/index.ts';

const PROJECT = 'local-project';
const PUSHER = 'runway-push@local-project.iam.gserviceaccount.com';
const AUDIENCE = 'https://runway-deployer.local-project.invalid';

/** A push endpoint recording each push's Authorization header; answers the given statuses, then 204. */
async function receiver(statuses: number[] = []) {
  const got: { authorization: string | undefined; path: string }[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      got.push({ authorization: req.headers.authorization, path: req.url ?? '' });
      res.statusCode = statuses.shift() ?? 204;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    got,
    async waitFor(n: number, path: string, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      while (got.filter((g) => g.path === path).length < n) {
        if (Date.now() > until)
          throw new Error(`expected ${n} pushes to ${path}, got ${got.length}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return got.filter((g) => g.path === path);
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const emulatorInstalled = findEmulator(process.env) !== undefined;
const kinds: { kind: PubSubKind; skip: string | false }[] = [
  { kind: 'bridge', skip: false },
  {
    kind: 'emulator',
    skip: emulatorInstalled ? false : "Google's Pub/Sub emulator is not installed here",
  },
];

let local: LocalIssuer;
before(async () => {
  local = await startIssuer();
});
after(() => local.close());

for (const { kind, skip } of kinds) {
  describe(`OIDC pushes through the ${kind}`, { skip }, () => {
    let pubsub: LocalPubSub;
    let rx: Awaited<ReturnType<typeof receiver>>;
    before(async () => {
      pubsub = await startPubSub({
        project: PROJECT,
        prefer: kind,
        sign: (email, audience) => local.issuer.idToken(email, audience),
      });
      assert.equal(pubsub.kind, kind);
      assert.equal(
        pubsub.relay !== undefined,
        kind === 'emulator',
        'a relay only for the emulator',
      );
      rx = await receiver();
      await ensureTopic(pubsub.url, PROJECT, 'gcr');
    });
    after(async () => {
      await rx?.close();
      await pubsub?.close();
    });

    const cases: {
      name: string;
      oidc?: { serviceAccountEmail: string; audience?: string };
      audience?: (endpoint: string) => string;
    }[] = [
      {
        name: 'the configured account and audience',
        oidc: { serviceAccountEmail: PUSHER, audience: AUDIENCE },
        audience: () => AUDIENCE,
      },
      {
        name: 'no audience: the push endpoint, as Google defaults',
        oidc: { serviceAccountEmail: PUSHER },
        audience: (endpoint) => endpoint,
      },
      { name: 'no oidcToken: no Authorization header' },
    ];
    cases.forEach((c, i) => {
      test(c.name, async () => {
        const path = `/push-${i}`;
        await ensureSubscription(
          pubsub.url,
          PROJECT,
          `oidc-${i}`,
          {
            topic: 'gcr',
            pushEndpoint: `${rx.base}${path}`,
            ...(c.oidc ? { oidcToken: c.oidc } : {}),
          },
          pubsub,
        );
        await publish(pubsub.url, PROJECT, 'gcr', { action: 'INSERT', digest: `d${i}` });
        const [push] = await rx.waitFor(1, path);
        if (!c.audience) {
          assert.equal(push?.authorization, undefined);
          return;
        }
        const token = push?.authorization?.replace(/^Bearer /, '') ?? '';
        const claims = local.issuer.verifyIdToken(token, c.audience(`${rx.base}${path}`));
        assert.ok(claims, `a valid token for the audience: ${push?.authorization}`);
        assert.equal(claims.email, PUSHER);
        assert.equal(claims.email_verified, true);
      });
    });

    test('a refused push (401) is redelivered, with a fresh token', async () => {
      const refusing = await receiver([401]);
      try {
        await ensureSubscription(
          pubsub.url,
          PROJECT,
          'oidc-refused',
          {
            topic: 'gcr',
            pushEndpoint: `${refusing.base}/push`,
            oidcToken: { serviceAccountEmail: PUSHER, audience: AUDIENCE },
            minimumBackoff: '1s',
            maximumBackoff: '1s',
          },
          pubsub,
        );
        await publish(pubsub.url, PROJECT, 'gcr', { action: 'INSERT', digest: 'again' });
        const pushes = await refusing.waitFor(2, '/push', 30_000);
        for (const p of pushes.slice(0, 2))
          assert.ok(local.issuer.verifyIdToken(p.authorization!.slice(7), AUDIENCE));
      } finally {
        await refusing.close();
      }
    });
  });
}

describe('the bridge checks pushConfig.oidcToken', () => {
  let pubsub: LocalPubSub;
  before(async () => {
    pubsub = await startPubSub({ project: PROJECT, prefer: 'bridge' });
    await ensureTopic(pubsub.url, PROJECT, 'gcr');
  });
  after(() => pubsub.close());

  const put = (id: string, pushConfig: unknown) =>
    fetch(`${pubsub.url}/v1/projects/${PROJECT}/subscriptions/${id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: `projects/${PROJECT}/topics/gcr`, pushConfig }),
    });

  test('stores it and answers it on GET', async () => {
    const oidcToken = { serviceAccountEmail: PUSHER, audience: AUDIENCE };
    assert.equal(
      (await put('kept', { pushEndpoint: 'http://127.0.0.1:9/x', oidcToken })).status,
      200,
    );
    const got = (await (
      await fetch(`${pubsub.url}/v1/projects/${PROJECT}/subscriptions/kept`)
    ).json()) as { pushConfig: unknown };
    assert.deepEqual(got.pushConfig, { pushEndpoint: 'http://127.0.0.1:9/x', oidcToken });
  });

  const bad: { name: string; pushConfig: unknown }[] = [
    {
      name: 'no account',
      pushConfig: { pushEndpoint: 'http://127.0.0.1:9/x', oidcToken: { audience: AUDIENCE } },
    },
    {
      name: 'not an email',
      pushConfig: {
        pushEndpoint: 'http://127.0.0.1:9/x',
        oidcToken: { serviceAccountEmail: 'runway-push' },
      },
    },
    {
      name: 'an audience that is not a string',
      pushConfig: {
        pushEndpoint: 'http://127.0.0.1:9/x',
        oidcToken: { serviceAccountEmail: PUSHER, audience: 7 },
      },
    },
    { name: 'no push endpoint', pushConfig: { oidcToken: { serviceAccountEmail: PUSHER } } },
  ];
  bad.forEach((c, i) => {
    test(`400: ${c.name}`, async () => {
      const res = await put(`bad-${i}`, c.pushConfig);
      assert.equal(res.status, 400);
      const body = (await res.json()) as { error: { status: string; message: string } };
      assert.equal(body.error.status, 'INVALID_ARGUMENT');
      assert.match(body.error.message, /oidcToken/);
    });
  });
});
