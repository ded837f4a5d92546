// Both Pub/Sub paths of the local cloud (Google's emulator where installed, runway's bridge always)
// deliver Google's push envelope and redeliver what was not acknowledged.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { pushEnvelopeSchema } from '../../services/shared/pubsub.ts';
import { findEmulator } from '../../local/pubsub/emulator.ts';
import {
  ensureSubscription,
  ensureTopic,
  type PubSubKind,
  publish,
  startPubSub,
} from '../../local/pubsub/index.ts';

const PROJECT = 'local-project';

/** A push endpoint that answers with the statuses it is given, in order, then 204. */
async function receiver(statuses: number[] = []) {
  const got: { body: unknown; at: number }[] = [];
  const waiters: (() => void)[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      got.push({ body: JSON.parse(raw), at: Date.now() });
      for (const w of waiters.splice(0)) w();
      res.statusCode = statuses.shift() ?? 204;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`,
    got,
    async waitFor(n: number, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      while (got.length < n) {
        if (Date.now() > until) throw new Error(`expected ${n} pushes, got ${got.length}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
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

for (const { kind, skip } of kinds) {
  describe(`Pub/Sub through the ${kind}`, { skip }, () => {
    let pubsub: Awaited<ReturnType<typeof startPubSub>> | undefined;
    after(async () => {
      await pubsub?.close();
      // The emulator runs in its own process group (a shell and a JVM): none of it may outlive close.
      const pid = (pubsub as { pid?: number } | undefined)?.pid;
      if (pid) assert.throws(() => process.kill(-pid, 0), /ESRCH/);
    });

    test('pushes the Google envelope and redelivers after a non-2xx answer', async () => {
      pubsub = await startPubSub({ project: PROJECT, prefer: kind });
      assert.equal(pubsub.kind, kind);
      const rx = await receiver([500]);
      try {
        await ensureTopic(pubsub.url, PROJECT, 'gcr');
        await ensureTopic(pubsub.url, PROJECT, 'gcr'); // a second create is not an error
        await ensureSubscription(pubsub.url, PROJECT, 'runway-push', {
          topic: 'gcr',
          pushEndpoint: rx.url,
        });
        const event = { action: 'INSERT', digest: 'x' };
        const id = await publish(pubsub.url, PROJECT, 'gcr', event, { source: 'test' });
        await rx.waitFor(2);
        const [first, second] = rx.got.map((g) => pushEnvelopeSchema.parse(g.body));
        assert.equal(first?.messageId, id);
        assert.equal(second?.messageId, id, 'the same message is pushed again');
        assert.deepEqual(JSON.parse(first!.data.toString()), event);
        assert.equal(first?.attributes.source, 'test');
        assert.equal(first?.subscription, `projects/${PROJECT}/subscriptions/runway-push`);
        assert.ok(first?.publishTime, 'publish time is set');
      } finally {
        await rx.close();
      }
    });

    test('answers Google-shaped errors to bad requests and keeps serving', async () => {
      pubsub ??= await startPubSub({ project: PROJECT, prefer: kind });
      const bad = [
        {
          name: 'publish to a missing topic',
          path: '/topics/missing:publish',
          method: 'POST',
          body: '{"messages":[{"data":"eA=="}]}',
          status: 404,
        },
        {
          name: 'subscription to a missing topic',
          path: '/subscriptions/sub-one',
          method: 'PUT',
          body: `{"topic":"projects/${PROJECT}/topics/none"}`,
          status: 404,
        },
      ];
      for (const c of bad) {
        const res = await fetch(`${pubsub.url}/v1/projects/${PROJECT}${c.path}`, {
          method: c.method,
          body: c.body,
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(res.status, c.status, c.name);
        const body = (await res.json()) as { error?: { code?: number } };
        assert.equal(body.error?.code, c.status, c.name);
      }
    });
  });
}

describe('push bridge specifics', () => {
  test('redelivers after the ack deadline while the first push is still open', async () => {
    // timeScale 100: the 10 s ack deadline passes in 100 ms.
    const pubsub = await startPubSub({ project: PROJECT, prefer: 'bridge', timeScale: 100 });
    let release: () => void = () => {};
    const hold = new Promise<void>((r) => (release = r));
    let pushes = 0;
    const server = createServer(async (_req, res) => {
      pushes++;
      if (pushes === 1) await hold;
      res.statusCode = 204;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      await ensureTopic(pubsub.url, PROJECT, 'gcr');
      await ensureSubscription(pubsub.url, PROJECT, 'slow', {
        topic: 'gcr',
        pushEndpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
      });
      await publish(pubsub.url, PROJECT, 'gcr', { n: 1 });
      const until = Date.now() + 10_000;
      while (pushes < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      assert.equal(pushes, 2, 'a second push arrived while the first was open');
    } finally {
      release();
      server.closeAllConnections();
      server.close();
      await pubsub.close();
    }
  });

  test('pull subscriptions keep messages until pulled', async () => {
    const pubsub = await startPubSub({ project: PROJECT, prefer: 'bridge' });
    try {
      await ensureTopic(pubsub.url, PROJECT, 'runway-events');
      await ensureSubscription(pubsub.url, PROJECT, 'events-pull', { topic: 'runway-events' });
      await publish(pubsub.url, PROJECT, 'runway-events', { outcome: 'PROMOTED' });
      const res = await fetch(
        `${pubsub.url}/v1/projects/${PROJECT}/subscriptions/events-pull:pull`,
        { method: 'POST', body: '{"maxMessages":10}' },
      );
      const body = (await res.json()) as { receivedMessages: { message: { data: string } }[] };
      assert.equal(body.receivedMessages.length, 1);
      assert.deepEqual(
        JSON.parse(Buffer.from(body.receivedMessages[0]!.message.data, 'base64').toString()),
        { outcome: 'PROMOTED' },
      );
    } finally {
      await pubsub.close();
    }
  });

  const badRequests = [
    { name: 'not JSON', method: 'PUT', path: '/topics/topic-one', body: '{', want: 400 },
    { name: 'JSON array', method: 'PUT', path: '/topics/topic-one', body: '[]', want: 400 },
    { name: 'bad topic id', method: 'PUT', path: '/topics/1bad', body: '{}', want: 400 },
    { name: 'goog-free but too short', method: 'PUT', path: '/topics/ab', body: '{}', want: 400 },
    {
      name: 'publish without messages',
      method: 'POST',
      path: '/topics/gcr:publish',
      body: '{}',
      want: 400,
    },
    {
      name: 'publish data not a string',
      method: 'POST',
      path: '/topics/gcr:publish',
      body: '{"messages":[{"data":5}]}',
      want: 400,
    },
    {
      name: 'push endpoint not a URL',
      method: 'PUT',
      path: '/subscriptions/sub-two',
      body: `{"topic":"projects/${PROJECT}/topics/gcr","pushConfig":{"pushEndpoint":"file:///etc/passwd"}}`,
      want: 400,
    },
    {
      name: 'ack deadline too small',
      method: 'PUT',
      path: '/subscriptions/sub-three',
      body: `{"topic":"projects/${PROJECT}/topics/gcr","ackDeadlineSeconds":1}`,
      want: 400,
    },
    {
      name: 'bad backoff',
      method: 'PUT',
      path: '/subscriptions/sub-four',
      body: `{"topic":"projects/${PROJECT}/topics/gcr","retryPolicy":{"minimumBackoff":"soon"}}`,
      want: 400,
    },
    { name: 'unknown route', method: 'GET', path: '/snapshots/x', body: undefined, want: 404 },
    {
      name: 'oversized body',
      method: 'POST',
      path: '/topics/gcr:publish',
      body: `{"messages":[{"data":"${'A'.repeat(11 * 1024 * 1024)}"}]}`,
      want: 413,
    },
  ];
  test('bad requests get Google-shaped errors and change nothing', async () => {
    const pubsub = await startPubSub({ project: PROJECT, prefer: 'bridge' });
    try {
      await ensureTopic(pubsub.url, PROJECT, 'gcr');
      for (const c of badRequests) {
        const res = await fetch(`${pubsub.url}/v1/projects/${PROJECT}${c.path}`, {
          method: c.method,
          ...(c.body === undefined ? {} : { body: c.body }),
        });
        assert.equal(res.status, c.want, c.name);
        const body = (await res.json()) as { error: { status: string; message: string } };
        assert.ok(body.error.message.length > 0, c.name);
      }
      for (const id of ['topic-one', 'sub-two', 'sub-three', 'sub-four']) {
        const kind = id.startsWith('t') ? 'topics' : 'subscriptions';
        const res = await fetch(`${pubsub.url}/v1/projects/${PROJECT}/${kind}/${id}`);
        assert.equal(res.status, 404, `${id} was not created`);
      }
    } finally {
      await pubsub.close();
    }
  });
});
