// Pub/Sub with IAM on, both paths: runway's bridge checks its own routes, Google's emulator is
// reached through the gate proxy. The same table runs on each: who may publish, pull, create and
// attach, Google's 403 naming the permission, and nothing done before the check.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { policyGate } from '../../local/iam/caller.ts';
import { Policy } from '../../local/iam/policy.ts';
import { type LocalIssuer, startIssuer } from '../../local/identity/issuer.ts';
import { findEmulator } from '../../local/pubsub/emulator.ts';
import {
  ensureSubscription,
  ensureTopic,
  type LocalPubSub,
  type PubSubKind,
  startPubSub,
} from '../../local/pubsub/index.ts';

const PROJECT = 'local-project';
const DEV = 'user:developer@local';
const WORKFLOW = `runway-workflow@${PROJECT}.iam.gserviceaccount.com`;
const READER = `runway-reader@${PROJECT}.iam.gserviceaccount.com`;
const PUSH = `runway-push@${PROJECT}.iam.gserviceaccount.com`;
const EDITOR = 'user:editor@example.com';
const P = `projects/${PROJECT}`;

const emulatorInstalled = findEmulator(process.env) !== undefined;
const kinds: { kind: PubSubKind; skip: string | false }[] = [
  { kind: 'bridge', skip: false },
  {
    kind: 'emulator',
    skip: emulatorInstalled ? false : "Google's Pub/Sub emulator is not installed here",
  },
];

for (const { kind, skip } of kinds) {
  describe(`Pub/Sub through the ${kind} with IAM on`, { skip }, () => {
    let issuer: LocalIssuer;
    let pubsub: LocalPubSub;
    const tokens: Record<string, string> = {};
    const policy = new Policy(
      [
        { principal: DEV, role: 'roles/owner', resource: P },
        {
          principal: `serviceAccount:${WORKFLOW}`,
          role: 'roles/pubsub.publisher',
          resource: `${P}/topics/runway-events`,
        },
        {
          principal: `serviceAccount:${READER}`,
          role: 'roles/pubsub.subscriber',
          resource: `${P}/subscriptions/events-pull`,
        },
        // May create subscriptions anywhere, but act as no account.
        { principal: EDITOR, role: 'roles/pubsub.editor', resource: P },
      ],
      { project: PROJECT },
    );

    before(async () => {
      issuer = await startIssuer();
      for (const [who, principal] of [
        ['workflow', `serviceAccount:${WORKFLOW}`],
        ['reader', `serviceAccount:${READER}`],
        ['editor', EDITOR],
      ] as const)
        tokens[who] = `Bearer ${issuer.issuer.accessToken(principal).token}`;
      tokens.dev = 'Bearer local-fake-token';
      tokens.forged = 'Bearer ya29.local.never-issued';
      pubsub = await startPubSub({
        project: PROJECT,
        prefer: kind,
        gate: policyGate({ policy, issuer: issuer.issuer, localUser: DEV }),
      });
      assert.equal(pubsub.kind, kind);
      // Set up as the local user, the owner (the helpers' default caller).
      for (const t of ['gcr', 'runway-events']) await ensureTopic(pubsub.url, PROJECT, t);
      await ensureSubscription(pubsub.url, PROJECT, 'events-pull', { topic: 'runway-events' });
    });
    after(async () => {
      await pubsub?.close();
      await issuer?.close();
    });

    const message = { messages: [{ data: Buffer.from('{}').toString('base64') }] };
    const pushSubscription = {
      topic: `${P}/topics/gcr`,
      pushConfig: {
        pushEndpoint: 'http://127.0.0.1:9/push',
        oidcToken: { serviceAccountEmail: PUSH, audience: 'runway' },
      },
    };
    const cases: {
      name: string;
      method: string;
      path: string;
      as?: string;
      body?: unknown;
      status: number;
      permission?: string;
    }[] = [
      {
        name: 'no token is 401',
        method: 'POST',
        path: `/v1/${P}/topics/runway-events:publish`,
        body: message,
        status: 401,
      },
      {
        name: "a token shaped as the issuer's that it never issued is 401",
        method: 'POST',
        path: `/v1/${P}/topics/runway-events:publish`,
        as: 'forged',
        body: message,
        status: 401,
      },
      {
        name: 'the workflow publishes the release result on the events topic',
        method: 'POST',
        path: `/v1/${P}/topics/runway-events:publish`,
        as: 'workflow',
        body: message,
        status: 200,
      },
      {
        name: 'the workflow may not publish on gcr',
        method: 'POST',
        path: `/v1/${P}/topics/gcr:publish`,
        as: 'workflow',
        body: message,
        status: 403,
        permission: 'pubsub.topics.publish',
      },
      {
        name: 'the workflow may not create a topic',
        method: 'PUT',
        path: `/v1/${P}/topics/new-topic`,
        as: 'workflow',
        body: {},
        status: 403,
        permission: 'pubsub.topics.create',
      },
      {
        name: 'the workflow may not read a subscription',
        method: 'GET',
        path: `/v1/${P}/subscriptions/events-pull`,
        as: 'workflow',
        status: 403,
        permission: 'pubsub.subscriptions.get',
      },
      {
        name: 'the workflow may not pull',
        method: 'POST',
        path: `/v1/${P}/subscriptions/events-pull:pull`,
        as: 'workflow',
        body: { maxMessages: 1 },
        status: 403,
        permission: 'pubsub.subscriptions.consume',
      },
      {
        name: 'the subscriber pulls',
        method: 'POST',
        path: `/v1/${P}/subscriptions/events-pull:pull`,
        as: 'reader',
        body: { maxMessages: 1 },
        status: 200,
      },
      {
        name: 'the workflow may not acknowledge',
        method: 'POST',
        path: `/v1/${P}/subscriptions/events-pull:acknowledge`,
        as: 'workflow',
        body: { ackIds: ['none'] },
        status: 403,
        permission: 'pubsub.subscriptions.consume',
      },
      {
        name: 'the local user (owner) reads a topic',
        method: 'GET',
        path: `/v1/${P}/topics/gcr`,
        as: 'dev',
        status: 200,
      },
      {
        name: 'an editor without act-as may not create a push subscription signing as an account',
        method: 'PUT',
        path: `/v1/${P}/subscriptions/push-as`,
        as: 'editor',
        body: pushSubscription,
        status: 403,
        permission: 'iam.serviceAccounts.actAs',
      },
      {
        name: 'the owner creates it',
        method: 'PUT',
        path: `/v1/${P}/subscriptions/push-as`,
        as: 'dev',
        body: pushSubscription,
        status: 200,
      },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const res = await fetch(`${pubsub.url}${c.path}`, {
          method: c.method,
          headers: {
            'content-type': 'application/json',
            ...(c.as ? { authorization: tokens[c.as]! } : {}),
          },
          ...(c.body === undefined ? {} : { body: JSON.stringify(c.body) }),
        });
        const text = await res.text();
        assert.equal(res.status, c.status, text);
        if (!c.permission) return;
        const error = (JSON.parse(text) as { error: Record<string, unknown> }).error;
        assert.equal(error.status, 'PERMISSION_DENIED');
        assert.match(String(error.message), new RegExp(`^Permission '${c.permission}' denied`));
        const info = (
          error.details as { reason?: string; metadata?: { permission?: string } }[]
        )[0];
        assert.equal(info?.reason, 'IAM_PERMISSION_DENIED');
        assert.equal(info?.metadata?.permission, c.permission);
      });
    }

    test('a refused create made nothing', async () => {
      const res = await fetch(`${pubsub.url}/v1/${P}/topics/new-topic`, {
        headers: { authorization: tokens.dev! },
      });
      assert.equal(res.status, 404, await res.text());
    });
  });
}

describe("the emulator's gate proxy", { skip: kinds[1]!.skip }, () => {
  test('refuses what it cannot check (snapshots) rather than pass it unchecked', async () => {
    const pubsub = await startPubSub({
      project: PROJECT,
      prefer: 'emulator',
      gate: policyGate({
        policy: new Policy([{ principal: DEV, role: 'roles/owner', resource: P }], {
          project: PROJECT,
        }),
        localUser: DEV,
      }),
    });
    try {
      const res = await fetch(`${pubsub.url}/v1/${P}/snapshots`, {
        headers: { authorization: 'Bearer local-fake-token' },
      });
      assert.equal(res.status, 501, await res.text());
    } finally {
      await pubsub.close();
    }
  });
});
