// Freezes at the deployer, over real sockets with an injected clock: a push during a freeze is
// dropped (204), nothing starts and release.blocked is published; POST /releases answers 409 unless
// a listed overrider overrides it with a reason; the first reconcile after the window releases the
// newest digest; a rollback-only freeze blocks no release. Then the same publish through the REST
// publisher against the local Pub/Sub (PUBSUB_EMULATOR_HOST).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createApp } from '../../services/deployer/app.ts';
import { createVerifier } from '../../services/deployer/auth.ts';
import { pubsubPublisher } from '../../services/deployer/notify.ts';
import type { Notifier } from '../../services/deployer/release.ts';
import { type EventMessage, parseEventMessage } from '../../services/shared/events.ts';
import { createLogger } from '../../services/shared/logger.ts';
import { parsePipelineConfig } from '../../services/shared/pipeline-config.ts';
import type { WorkflowArgs } from '../../services/shared/workflow-args.ts';
import { ensureSubscription, ensureTopic, startPubSub } from '../../local/pubsub/index.ts';
import { loopbackServer } from '../helpers/loopback.ts';

const PROJECT = 'local-project';
const REPO = `us-central1-docker.pkg.dev/${PROJECT}/apps`;
const D = (c: string) => `sha256:${c.repeat(64)}`;
const TOPIC = `projects/${PROJECT}/topics/runway-events`;

const config = parsePipelineConfig(`
project: ${PROJECT}
region: us-central1
pipelines:
  - name: web
    image: ${REPO}/web
    tags: [main]
    staging: { service: web-staging }
    live: { service: web }
    acceptance: { job: web-acceptance }
    notify: { topic: runway-events }
  - name: api
    image: ${REPO}/api
    staging: { service: api-staging }
    live: { service: api }
    acceptance: { job: api-acceptance }
  - name: api-eu
    image: ${REPO}/api
    staging: { service: api-eu-staging }
    live: { service: api-eu }
    acceptance: { job: api-eu-acceptance }
  - name: db
    image: ${REPO}/db
    staging: { service: db-staging }
    live: { service: db }
    acceptance: { job: db-acceptance }
    notify: { topic: db-events }
freezes:
  - name: weekend
    pipelines: [web, api]
    timeZone: Europe/Paris
    weekly: [{ days: [SAT, SUN], start: "00:00", end: "24:00" }]
    overriders: [user:oncall@example.com, domain:sre.example.com]
  - name: db-migration
    pipelines: [db]
    timeZone: UTC
    oneTime: [{ start: "2026-01-01T00:00", end: "2026-02-01T00:00" }]
    actions: [rollback]
    overriders: [user:oncall@example.com]
`);

// 2026-01-10 is a Saturday: the weekend freeze runs to Monday 00:00 in Paris (23:00Z Sunday).
const SATURDAY = new Date('2026-01-10T12:00:00Z');
const WEEKEND_ENDS = '2026-01-11T23:00:00.000000000Z';
const FRIDAY = new Date('2026-01-09T12:00:00Z');

let clock = SATURDAY;
const started: { args: WorkflowArgs; labels: Record<string, string> }[] = [];
const published: { topic: string; message: EventMessage }[] = [];
const lines: Record<string, unknown>[] = [];
let failPublish = false;
const tags = new Map<string, string>();
const live = new Map<string, string>();

const notifier: Notifier = {
  async publish(topic, message) {
    if (failPublish) throw new Error('Pub/Sub is unavailable');
    published.push({ topic, message });
  },
};

const base = loopbackServer(
  createServer(
    createApp({
      project: PROJECT,
      pipelines: config,
      push: 'unauthenticated',
      scheduler: 'unauthenticated',
      verifier: createVerifier({ certs: {} }),
      executions: {
        async start(args, labels) {
          started.push({ args, labels });
          return `projects/${PROJECT}/locations/us-central1/workflows/runway-release/executions/e${started.length}`;
        },
        isActive: async () => false,
      },
      registry: {
        tagDigest: async (image, tag) => tags.get(`${image.image}:${tag}`),
      },
      run: {
        getService: async (_p, _r, service) =>
          live.has(service) ? { digest: live.get(service)! } : undefined,
        getJob: async () => assert.fail('no job pipeline here'),
        runJob: async () => assert.fail('no verify here'),
      },
      now: () => clock,
      notifier,
      logger: createLogger({ stream: { write: (l: string) => lines.push(JSON.parse(l)) } }),
    }),
  ),
);

beforeEach(() => {
  clock = SATURDAY;
  started.length = 0;
  published.length = 0;
  failPublish = false;
  tags.clear();
  live.clear();
});

const post = (path: string, body: unknown) =>
  fetch(`${base()}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

function push(image: string, digest: string, tag?: string) {
  const event = {
    action: 'INSERT',
    digest: `${REPO}/${image}@${digest}`,
    ...(tag ? { tag: `${REPO}/${image}:${tag}` } : {}),
  };
  return post('/pubsub/artifact-registry', {
    message: {
      data: Buffer.from(JSON.stringify(event)).toString('base64'),
      messageId: String(Math.random()),
      publishTime: '2026-01-10T11:59:00Z',
    },
    subscription: `projects/${PROJECT}/subscriptions/runway-push`,
  });
}

const logged = (re: RegExp, from = 0) => lines.slice(from).some((l) => re.test(String(l.message)));

describe('a push during a freeze', () => {
  test('is answered 204, starts nothing, is logged and published as release.blocked', async () => {
    const mark = lines.length;
    const res = await push('web', D('1'), 'main');
    assert.equal(res.status, 204);
    assert.deepEqual(started, [], 'nothing started');
    assert.ok(logged(/release blocked by freeze weekend until 2026-01-11T23:00:00/, mark));
    assert.equal(published.length, 1);
    assert.equal(published[0]!.topic, TOPIC);
    assert.deepEqual(published[0]!.message.attributes, {
      type: 'release.blocked',
      pipeline: 'web',
    });
    assert.deepEqual(parseEventMessage(published[0]!.message), {
      type: 'release.blocked',
      pipeline: 'web',
      digest: D('1'),
      execution: null,
      at: '2026-01-10T12:00:00.000000000Z',
      by: 'pubsub',
      reason: null,
      freeze: 'weekend',
      until: WEEKEND_ENDS,
    });
  });

  test('a pipeline without a topic: blocked and logged, nothing published; the unfrozen one starts', async () => {
    const mark = lines.length;
    assert.equal((await push('api', D('2'))).status, 204);
    assert.deepEqual(
      started.map((s) => s.args.pipeline),
      ['api-eu'],
      'api is frozen, api-eu is not',
    );
    assert.deepEqual(published, []);
    assert.ok(logged(/release blocked by freeze weekend/, mark));
  });

  test('a failed publish is logged and the push still answered 204 (never redelivered)', async () => {
    failPublish = true;
    const mark = lines.length;
    assert.equal((await push('web', D('3'), 'main')).status, 204);
    assert.deepEqual(started, []);
    assert.ok(logged(/publishing release\.blocked failed: Pub\/Sub is unavailable/, mark));
  });

  test('at the instant the window ends, the push starts a release', async () => {
    clock = new Date(WEEKEND_ENDS);
    assert.equal((await push('web', D('4'), 'main')).status, 204);
    assert.equal(started.length, 1);
    assert.deepEqual(published, []);
  });
});

describe('a push outside the freeze', () => {
  test('starts a release whose arguments carry the windows of the next 14 days', async () => {
    clock = FRIDAY;
    assert.equal((await push('web', D('5'), 'main')).status, 204);
    assert.equal(started.length, 1);
    const args = started[0]!.args;
    assert.equal(args.action, 'release');
    assert.equal(args.by, 'pubsub');
    assert.equal(args.override, null);
    assert.deepEqual(args.freezes, [
      {
        name: 'weekend',
        actions: ['release'],
        overriders: ['user:oncall@example.com', 'domain:sre.example.com'],
        windows: [
          { start: '2026-01-09T23:00:00.000000000Z', end: '2026-01-11T23:00:00.000000000Z' },
          { start: '2026-01-16T23:00:00.000000000Z', end: '2026-01-18T23:00:00.000000000Z' },
        ],
      },
    ]);
  });

  test('a rollback-only freeze blocks no release, and is handed to the workflow', async () => {
    assert.equal((await push('db', D('6'))).status, 204);
    assert.equal(started.length, 1);
    assert.deepEqual(started[0]!.args.freezes, [
      {
        name: 'db-migration',
        actions: ['rollback'],
        overriders: ['user:oncall@example.com'],
        windows: [
          { start: '2026-01-01T00:00:00.000000000Z', end: '2026-02-01T00:00:00.000000000Z' },
        ],
      },
    ]);
    assert.deepEqual(published, []);
  });
});

describe('POST /releases during a freeze, and overrides', () => {
  const image = (c: string) => `${REPO}/web:main@${D(c)}`;
  type Answer = {
    releases?: { kind: string; pipeline: string }[];
    error?: { code: number; status: string; message: string; details: Record<string, unknown>[] };
  };
  const cases: {
    name: string;
    body: Record<string, unknown>;
    status: number;
    message?: RegExp;
    override?: WorkflowArgs['override'];
    events?: number;
  }[] = [
    {
      name: 'no override: 409 naming the freeze and its end',
      body: { pipeline: 'web', image: image('a'), by: 'user:dev@example.com' },
      status: 409,
      message: /^frozen: web by weekend until 2026-01-11T23:00:00\.000000000Z; an overrider may/,
      events: 1,
    },
    {
      name: 'an override by a listed overrider: 202, the override in the arguments',
      body: {
        pipeline: 'web',
        image: image('b'),
        overrideFreeze: 'weekend',
        by: 'user:oncall@example.com',
        reason: 'checkout hotfix',
      },
      status: 202,
      override: { freeze: 'weekend', by: 'user:oncall@example.com', reason: 'checkout hotfix' },
    },
    {
      name: 'an override by a member of a listed domain',
      body: {
        pipeline: 'web',
        image: image('c'),
        overrideFreeze: 'weekend',
        by: 'user:Ana@SRE.example.com',
        reason: 'incident 42',
      },
      status: 202,
      override: { freeze: 'weekend', by: 'user:Ana@SRE.example.com', reason: 'incident 42' },
    },
    {
      name: 'an override by someone else: 403, nothing started',
      body: {
        pipeline: 'web',
        image: image('d'),
        overrideFreeze: 'weekend',
        by: 'user:dev@example.com',
        reason: 'please',
      },
      status: 403,
      message: /user:dev@example\.com may not override freeze weekend: not one of its overriders/,
    },
    {
      name: 'a service account of the listed domain is not a domain member',
      body: {
        pipeline: 'web',
        image: image('e'),
        overrideFreeze: 'weekend',
        by: 'serviceAccount:ci@sre.example.com',
        reason: 'ci',
      },
      status: 403,
    },
    {
      name: 'an override without a reason: 400',
      body: {
        pipeline: 'web',
        image: image('f'),
        overrideFreeze: 'weekend',
        by: 'user:oncall@example.com',
      },
      status: 400,
      message: /overriding freeze weekend needs reason/,
    },
    {
      name: 'an override with a blank reason: 400',
      body: {
        pipeline: 'web',
        image: image('f'),
        overrideFreeze: 'weekend',
        by: 'user:oncall@example.com',
        reason: '   ',
      },
      status: 400,
      message: /needs reason/,
    },
    {
      name: 'an override without by: 400',
      body: { pipeline: 'web', image: image('f'), overrideFreeze: 'weekend', reason: 'x' },
      status: 400,
      message: /needs by/,
    },
    {
      name: 'by that is not an IAM member: 400',
      body: {
        pipeline: 'web',
        image: image('f'),
        overrideFreeze: 'weekend',
        by: 'oncall',
        reason: 'x',
      },
      status: 400,
      message: /by: an IAM member is/,
    },
    {
      name: 'an override of an unknown freeze: 404',
      body: {
        pipeline: 'web',
        image: image('f'),
        overrideFreeze: 'holidays',
        by: 'user:oncall@example.com',
        reason: 'x',
      },
      status: 404,
      message: /no freeze named holidays/,
    },
    {
      name: 'overriding another freeze does not lift this one: 409',
      body: {
        pipeline: 'web',
        image: image('f'),
        overrideFreeze: 'db-migration',
        by: 'user:oncall@example.com',
        reason: 'x',
      },
      status: 409,
      message: /^frozen: web by weekend/,
      events: 1,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const res = await post('/releases', c.body);
      const answer = (await res.json()) as Answer;
      assert.equal(res.status, c.status, JSON.stringify(answer));
      assert.equal(published.length, c.events ?? 0, 'events published');
      if (c.status !== 202) {
        assert.deepEqual(started, [], 'nothing started');
        assert.equal(answer.error?.code, c.status);
        if (c.message) assert.match(answer.error!.message, c.message);
        return;
      }
      assert.equal(started.length, 1);
      const args = started[0]!.args;
      assert.deepEqual(args.override, c.override);
      assert.equal(args.by, c.body.by);
      assert.equal(args.reason, c.body.reason);
      assert.equal(args.source, 'manual');
      assert.deepEqual(
        args.freezes.map((f) => f.name),
        ['weekend'],
        'the overridden freeze is still handed over: the workflow skips it by the override',
      );
      assert.ok(logged(/release started overriding freeze weekend/));
    });
  }

  test('the 409 is Google-shaped with an ErrorInfo naming the freeze and its end', async () => {
    const res = await post('/releases', { pipeline: 'web', image: image('9') });
    assert.equal(res.status, 409);
    const body = (await res.json()) as Answer;
    assert.equal(body.error?.status, 'FAILED_PRECONDITION');
    assert.deepEqual(body.error?.details, [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'FROZEN',
        domain: 'runway.dev',
        metadata: { freeze: 'weekend', until: WEEKEND_ENDS },
      },
    ]);
    const event = parseEventMessage(published[0]!.message);
    assert.equal(event.type === 'release.blocked' && event.by, null, 'no by was given');
  });

  test('one pipeline frozen, another not: 202 listing the blocked one', async () => {
    const res = await post('/releases', { image: `${REPO}/api@${D('8')}` });
    assert.equal(res.status, 202);
    const body = (await res.json()) as Answer;
    assert.deepEqual(body.releases?.map((r) => `${r.kind} ${r.pipeline}`).sort(), [
      'blocked api',
      'started api-eu',
    ]);
  });
});

describe('reconcile and freezes', () => {
  test('a push blocked by a freeze is released by the first reconcile after the window', async () => {
    tags.set('web:main', D('7'));
    live.set('web', D('0'));
    assert.equal((await push('web', D('7'), 'main')).status, 204);
    assert.equal(started.length, 0, 'the push was blocked');

    const during = await post('/reconcile', {});
    assert.equal(during.status, 200);
    const report = ((await during.json()) as { pipelines: Record<string, unknown>[] }).pipelines;
    assert.deepEqual(
      report.find((p) => p.pipeline === 'web'),
      {
        pipeline: 'web',
        watchedTag: 'main',
        newestDigest: D('7'),
        liveDigest: D('0'),
        action: 'blocked',
        freeze: { name: 'weekend', until: WEEKEND_ENDS },
        reason: `frozen by weekend until ${WEEKEND_ENDS}`,
      },
    );
    assert.equal(started.length, 0, 'nothing started during the freeze');
    assert.equal(
      parseEventMessage(published.at(-1)!.message).by,
      'scheduler',
      'reconcile publishes release.blocked too',
    );

    clock = new Date(Date.parse(WEEKEND_ENDS) + 60_000);
    const afterwards = await post('/reconcile', {});
    const again = ((await afterwards.json()) as { pipelines: Record<string, unknown>[] }).pipelines;
    assert.equal(again.find((p) => p.pipeline === 'web')?.action, 'started');
    assert.equal(started.length, 1);
    assert.equal(started[0]!.args.image, `${REPO}/web@${D('7')}`, 'the blocked digest');
    assert.equal(started[0]!.args.source, 'reconcile');
    assert.equal(started[0]!.args.by, 'scheduler');
  });
});

describe('release.blocked through the local Pub/Sub (PUBSUB_EMULATOR_HOST)', () => {
  let pubsub: Awaited<ReturnType<typeof startPubSub>>;
  const server = createServer();
  let url = '';
  before(async () => {
    pubsub = await startPubSub({ project: PROJECT, prefer: 'bridge' });
    await ensureTopic(pubsub.url, PROJECT, 'runway-events');
    await ensureSubscription(pubsub.url, PROJECT, 'events', { topic: 'runway-events' });
    server.on(
      'request',
      createApp({
        project: PROJECT,
        pipelines: config,
        push: 'unauthenticated',
        verifier: createVerifier({ certs: {} }),
        executions: { start: async () => assert.fail('frozen'), isActive: async () => false },
        now: () => SATURDAY,
        notifier: pubsubPublisher({ emulatorHost: pubsub.host }),
        logger: createLogger({ stream: { write: () => {} } }),
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(async () => {
    server.close();
    await pubsub.close();
  });

  test('a subscription receives the event and filters can use its attributes', async () => {
    const res = await fetch(`${url}/releases`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pipeline: 'web', image: `${REPO}/web:main@${D('c')}` }),
    });
    assert.equal(res.status, 409);
    const pulled = await fetch(`${pubsub.url}/v1/projects/${PROJECT}/subscriptions/events:pull`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ maxMessages: 10 }),
    });
    const { receivedMessages } = (await pulled.json()) as {
      receivedMessages: { message: { data: string; attributes: Record<string, string> } }[];
    };
    assert.equal(receivedMessages.length, 1);
    const message = receivedMessages[0]!.message;
    assert.deepEqual(message.attributes, { type: 'release.blocked', pipeline: 'web' });
    const event = parseEventMessage(message);
    assert.equal(event.type, 'release.blocked');
    assert.equal(event.type === 'release.blocked' && event.until, WEEKEND_ENDS);
  });

  test('a publisher pointed at nothing fails saying where it published', async () => {
    const dead = pubsubPublisher({ emulatorHost: '127.0.0.1:1', timeoutMs: 2_000 });
    await assert.rejects(
      dead.publish(TOPIC, { data: 'e30=', attributes: {} }),
      /publishing to projects\/local-project\/topics\/runway-events/,
    );
  });
});
