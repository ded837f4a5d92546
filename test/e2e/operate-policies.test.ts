// Freezes, overrides, the watch after 100 % and the events, on the local cloud with real processes
// (issue 16): a push during a freeze starts nothing and says so on the notify topic; an override
// by someone not listed is refused, by an overrider it releases, recorded; a release whose live
// revision starts failing after promotion is rolled back by the watch; a push blocked by a freeze
// that has since ended is released by the reconcile the scheduler calls. The deployer judges
// freezes by the wall clock, so the short freeze is a real one ending at the next minute. Time in
// the workflow runs 20 times faster.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type SampleKnobs, sampleVersion } from '../../local/demo-scenarios.ts';
import { ensureSubscription } from '../../local/pubsub/index.ts';
import { type Stack, startStack } from '../../local/stack.ts';
import { deployerAudience, runwayAccount } from '../../local/identity/accounts.ts';
import { parseEventMessage } from '../../services/shared/events.ts';
import { operatorGrants } from '../helpers/operators.ts';
import { pauseScheduledReconcile } from '../helpers/reconcile.ts';
import { runwayIn } from '../helpers/runway.ts';
import { localAuthorization } from '../../services/shared/clients.ts';

const REPO = 'us-central1-docker.pkg.dev/local-project/apps';
const ALICE = 'user:alice@example.com';
const OPERATORS = [ALICE, 'user:bob@example.com'];
const TOPIC = 'runway-events';

/** "YYYY-MM-DDTHH:MM" in UTC. */
const minute = (ms: number) => new Date(ms).toISOString().slice(0, 16);
const now = Date.now();
/** The brief freeze ends at the first minute boundary at least 50 s away. */
const briefEnd = Math.ceil((now + 50_000) / 60_000) * 60_000;

const CONFIG = `project: local-project
region: us-central1
pipelines:
  - name: shop
    image: ${REPO}/shop
    staging: { service: shop-staging }
    live: { service: shop }
    acceptance:
      job: shop-acceptance
      timeoutSeconds: 120
      checks:
        - name: health
          request: { path: /healthz }
          expect: { status: 200 }
    promotion:
      strategy: canary
      steps: [50, 100]
      bakeSeconds: 20
      health: { maxErrorRatio: 0.2, minRequests: 5, dataWaitSeconds: 60 }
      watchSeconds: 600
    notify: { topic: ${TOPIC} }
  - name: cart
    image: ${REPO}/cart
    staging: { service: cart-staging }
    live: { service: cart }
    acceptance:
      job: cart-acceptance
      timeoutSeconds: 120
      checks:
        - name: health
          request: { path: /healthz }
          expect: { status: 200 }
    notify: { topic: ${TOPIC} }
freezes:
  - name: launch
    pipelines: [shop]
    timeZone: Etc/UTC
    oneTime: [{ start: "${minute(now - 86_400_000)}", end: "${minute(now + 86_400_000)}" }]
    overriders: [${ALICE}]
  - name: brief
    pipelines: [cart]
    timeZone: Etc/UTC
    oneTime: [{ start: "${minute(now - 60_000)}", end: "${minute(briefEnd)}" }]
`;

interface Event {
  type: string;
  pipeline: string;
  digest: string | null;
  by: string | null;
  reason: string | null;
  freeze?: string;
  outcome?: string;
  stage?: { name: string; outcome: string };
  analysis?: { percent: number; verdict: string; metrics: { name: string }[] } | null;
  override?: { freeze: string; by: string; reason: string } | null;
}

describe('freezes, overrides, the watch and the events on the local cloud', () => {
  let stack: Stack;
  let home: string;
  const dirs: string[] = [];
  /** Every event pulled so far, in the order pulled. */
  const events: Event[] = [];
  /** The digests the freezes blocked. */
  const blocked: Record<'shop' | 'cart', string> = { shop: '', cart: '' };

  /** `runway ARGS` in-process against the stack. */
  const runway = runwayIn(() => home);

  async function build(app: 'shop' | 'cart', v: string, knobs: SampleKnobs = {}) {
    const dir = await sampleVersion(v, knobs);
    dirs.push(dir);
    return { dir, ref: `${REPO}/${app}:latest` };
  }

  /** `runway local push`: the registry announces it, as Artifact Registry does. */
  async function push(app: 'shop' | 'cart', v: string, knobs: SampleKnobs = {}) {
    const { dir, ref } = await build(app, v, knobs);
    const r = await runway(['local', 'push', dir, ref]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split('@')[1]!;
  }

  async function pull(): Promise<void> {
    const sub = `${stack.info.pubsub}/v1/projects/local-project/subscriptions/events-seen`;
    const res = await fetch(`${sub}:pull`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...localAuthorization },
      body: JSON.stringify({ maxMessages: 100 }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const { receivedMessages = [] } = (await res.json()) as {
      receivedMessages?: {
        ackId: string;
        message: { data: string; attributes: Record<string, string> };
      }[];
    };
    for (const m of receivedMessages) {
      // Each one as runway's event schema reads it.
      parseEventMessage({ data: m.message.data, attributes: m.message.attributes });
      const e = JSON.parse(Buffer.from(m.message.data, 'base64').toString()) as Event;
      assert.equal(m.message.attributes.type, e.type, 'the type is an attribute too');
      assert.equal(m.message.attributes.pipeline, e.pipeline);
      events.push(e);
    }
    if (receivedMessages.length > 0) {
      await fetch(`${sub}:acknowledge`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...localAuthorization },
        body: JSON.stringify({ ackIds: receivedMessages.map((m) => m.ackId) }),
      });
    }
  }

  async function until<T>(what: string, check: () => Promise<T | undefined | false>) {
    const deadline = Date.now() + 150_000;
    for (;;) {
      const v = await check();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The first event of `type` for `pipeline`'s `digest` (two pipelines may push one image). */
  const eventOf = (type: string, pipeline: 'shop' | 'cart', digest: string) =>
    until(`${type} of ${pipeline} ${digest}`, async () => {
      await pull();
      return events.find((e) => e.type === type && e.pipeline === pipeline && e.digest === digest);
    });

  async function executionsOf(pipeline: string): Promise<string[]> {
    const url = `${stack.info.workflows}/v1/projects/local-project/locations/us-central1/workflows/runway-release/executions?filter=${encodeURIComponent(`labels.pipeline="${pipeline}"`)}`;
    const res = await fetch(url, { headers: localAuthorization });
    assert.equal(res.status, 200, await res.clone().text());
    return (
      ((await res.json()) as { executions?: { name: string }[] }).executions?.map((e) => e.name) ??
      []
    );
  }

  const liveDigest = async (pipeline: string) => {
    const r = await runway(['status', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { pipelines: { name: string; digest: string | null }[] };
    return s.pipelines.find((p) => p.name === pipeline)?.digest ?? null;
  };

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'runway-policies-'));
    const config = join(home, 'runway.yaml');
    await writeFile(config, CONFIG);
    stack = await startStack({
      config,
      home,
      timeScale: 20,
      users: 2,
      pubsub: 'bridge',
      // The operators `--as` acts as, with their own tokens.
      grants: operatorGrants(OPERATORS),
    });
    await pauseScheduledReconcile(stack.info);
    await ensureSubscription(stack.info.pubsub, 'local-project', 'events-seen', {
      topic: TOPIC,
    });
  });

  after(async () => {
    await stack?.close();
    await Promise.all([...dirs, home].map((d) => rm(d, { recursive: true, force: true })));
  });

  test('a push during a freeze starts nothing; release.blocked says which freeze, until when', async () => {
    blocked.cart = await push('cart', '1.0.0');
    blocked.shop = await push('shop', '1.0.0');
    const shop = await eventOf('release.blocked', 'shop', blocked.shop);
    assert.equal(shop.freeze, 'launch');
    assert.equal(shop.by, 'pubsub');
    assert.equal((await eventOf('release.blocked', 'cart', blocked.cart)).freeze, 'brief');
    assert.deepEqual(await executionsOf('shop'), []);
    assert.deepEqual(await executionsOf('cart'), []);
    const status = await runway(['status', '--json']);
    const pipelines = (
      JSON.parse(status.stdout) as { pipelines: { name: string; freezes: { name: string }[] }[] }
    ).pipelines;
    assert.deepEqual(
      pipelines.map((p) => [p.name, p.freezes.map((f) => f.name)]),
      [
        ['shop', ['launch']],
        ['cart', ['brief']],
      ],
    );
    assert.match((await runway(['status'])).stdout, /shop: frozen by launch until /);
  });

  test('an override: refused for someone not listed, released for an overrider, and recorded', async () => {
    const shop = `${REPO}/shop@${blocked.shop}`;
    const args = ['release', 'shop', shop, '--override-freeze', 'launch', '--reason', 'hotfix'];
    const bob = await runway(args, { RUNWAY_AS: 'user:bob@example.com' });
    assert.equal(bob.code, 1, bob.stdout);
    assert.match(bob.stderr, /user:bob@example.com may not override freeze launch/);
    const noReason = await runway(['release', 'shop', shop, '--override-freeze', 'launch'], {
      RUNWAY_AS: ALICE,
    });
    assert.equal(noReason.code, 2, 'an override needs a reason');
    assert.deepEqual(await executionsOf('shop'), [], 'neither refusal started anything');

    const alice = await runway([...args, '--wait'], { RUNWAY_AS: ALICE });
    assert.equal(alice.code, 0, alice.stderr + alice.stdout);
    assert.match(alice.stdout, /PROMOTED/);
    const digest = shop.split('@')[1]!;
    assert.equal(await liveDigest('shop'), digest);
    const started = await eventOf('release.started', 'shop', digest);
    assert.deepEqual(started.override, { freeze: 'launch', by: ALICE, reason: 'hotfix' });
    assert.equal((await eventOf('release.ended', 'shop', digest)).outcome, 'PROMOTED');
  });

  test('the watch: live failing after 100 % is rolled back, and the events say so', async () => {
    const stable = await liveDigest('shop');
    // Errors start 10 s (wall) after the candidate starts: its canary passes, then the watch
    // (600 s of workflow time, 30 s of wall) sees half its requests fail.
    const { dir, ref } = await build('shop', '2.0.0', {
      ERROR_RATE: 0.5,
      ERRORS_AFTER_SECONDS: 10,
    });
    const pushed = await runway(['local', 'push', dir, ref]);
    assert.equal(pushed.code, 0, pushed.stderr);
    const digest = pushed.stdout.trim().split('@')[1]!;
    assert.equal((await eventOf('release.blocked', 'shop', digest)).freeze, 'launch');
    const r = await runway(
      ['release', 'shop', `${REPO}/shop@${digest}`, '--override-freeze', 'launch'].concat([
        '--reason',
        'fix',
        '--wait',
      ]),
      { RUNWAY_AS: ALICE },
    );
    assert.equal(r.code, 1, 'a rolled-back release exits 1');
    assert.match(r.stdout, /ROLLED_BACK/);
    assert.match(r.stdout + r.stderr, /while watched after promotion: .*5xx/);
    assert.equal(await liveDigest('shop'), stable, 'live is back on the stable digest');
    const ended = await eventOf('release.ended', 'shop', digest);
    assert.equal(ended.outcome, 'ROLLED_BACK');
    const seen = events
      .filter((e) => e.pipeline === 'shop' && e.digest === digest)
      .map((e) => (e.type === 'stage.ended' ? `${e.stage!.name}:${e.stage!.outcome}` : e.type));
    assert.deepEqual(seen, [
      'release.blocked',
      'release.started',
      'claim:OK',
      'staging:OK',
      'test:OK',
      'step.advanced',
      'step.advanced',
      'promote:OK',
      'watch:FAILED',
      'release.ended',
    ]);
    // Each step.advanced carries the analysis that let it go ahead: none before the first step.
    const advanced = events.filter(
      (e) => e.type === 'step.advanced' && e.pipeline === 'shop' && e.digest === digest,
    );
    assert.equal(advanced[0]?.analysis, null);
    assert.equal(advanced[1]?.analysis?.percent, 50);
    assert.equal(advanced[1]?.analysis?.verdict, 'PASSED');
    assert.deepEqual(
      advanced[1]?.analysis?.metrics.map((m) => m.name),
      ['errors'],
    );
  });

  test('after the freeze ends, the reconcile releases the push it blocked', async () => {
    const cart = blocked.cart;
    const wait = briefEnd - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait + 1000));
    // As Cloud Scheduler calls it: with the scheduler account's token for the deployer's audience.
    const token = stack.identity!.sign(
      runwayAccount(stack.info.project, 'scheduler'),
      deployerAudience(stack.info.project),
    );
    const res = await fetch(`${stack.info.deployer}/reconcile`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: '{}',
    });
    assert.equal(res.status, 200, await res.clone().text());
    const report = (await res.json()) as { pipelines: { pipeline: string; action: string }[] };
    assert.deepEqual(
      report.pipelines.map((p) => [p.pipeline, p.action]),
      [
        ['shop', 'refused'],
        ['cart', 'started'],
      ],
      JSON.stringify(report),
    );
    assert.equal((await eventOf('release.ended', 'cart', cart)).outcome, 'PROMOTED');
    assert.equal(await liveDigest('cart'), cart);
  });
});
