// Operating releases on the local cloud, with real processes, through the commands as a user runs
// them (issue 16): `runway release` through the deployer; a gate answered by `approve` and
// `reject`, a non-approver refused; `abort` at a gate and mid-bake; `rollback` to the previous
// digest, to a named one, and while a release runs; the refusals (exit 1); `status` showing the
// gate; `history` listing it all with who and why; a gate nobody answers decided by its deadline.
// Releases with different gates in one stack are started here through the Executions API, with
// `promotion.approval` in their arguments and the deployer's labels. Time runs 20 times faster.
// (Freezes, overrides, the watch and events: operate-policies.test.ts.)
import assert from 'node:assert/strict';
import { operatorGrants } from '../helpers/operators.ts';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sampleVersion } from '../../local/demo-scenarios.ts';
import { type Stack, startStack, WORKFLOW } from '../../local/stack.ts';
import { shortDigest } from '../../services/shared/image-ref.ts';
import { workflowArgsFor } from '../../services/shared/pipeline-config.ts';
import { runwayIn } from '../helpers/runway.ts';
import { localAuthorization } from '../../services/shared/clients.ts';

const bin = new URL('../../bin/runway.js', import.meta.url).pathname;
const IMAGE = 'us-central1-docker.pkg.dev/local-project/apps/shop';
const ALICE = 'user:alice@example.com';
const OPERATORS = [ALICE, 'user:mallory@example.com'];
const CONFIG = `project: local-project
region: us-central1
pipelines:
  - name: shop
    image: ${IMAGE}
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
`;

interface Execution {
  name: string;
  state: string;
  result?: string;
  error?: { payload: string };
}

describe('operating releases on the local cloud', () => {
  let stack: Stack;
  let home: string;
  const dirs: string[] = [];
  const digests: Record<string, { digest: string; digestRef: string }> = {};

  /** `runway ARGS` in-process against the stack. */
  const runway = runwayIn(() => home);

  async function version(v: string) {
    const dir = await sampleVersion(v);
    dirs.push(dir);
    const pushed = await stack.registry.store.push(dir, `${IMAGE}:v${v}`);
    digests[v] = pushed;
    return pushed;
  }

  const executionsUrl = () =>
    `${stack.info.workflows}/v1/projects/${stack.info.project}/locations/${stack.info.region}/workflows/${WORKFLOW}/executions`;

  /** A release started as the deployer starts one (its labels), with extra promotion settings. */
  async function startRelease(digestRef: string, promotion: Record<string, unknown>) {
    const pipeline = stack.config.pipelines[0]!;
    const args = workflowArgsFor(stack.config, pipeline, { image: digestRef, source: 'manual' });
    const argument = { ...args, promotion: { ...args.promotion, ...promotion } };
    const res = await fetch(executionsUrl(), {
      method: 'POST',
      headers: localAuthorization,
      body: JSON.stringify({
        argument: JSON.stringify(argument),
        labels: { pipeline: 'shop', digest: shortDigest(digestRef.split('@')[1]!) },
      }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    return ((await res.json()) as { name: string }).name;
  }

  async function ended(name: string): Promise<Execution> {
    for (;;) {
      const e = (await (
        await fetch(`${stack.info.workflows}/v1/${name}`, { headers: localAuthorization })
      ).json()) as Execution;
      if (e.state !== 'ACTIVE') return e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function outcome(name: string) {
    const e = await ended(name);
    assert.equal(e.state, 'SUCCEEDED', JSON.stringify(e.error));
    return JSON.parse(e.result!) as {
      outcome: string;
      reason: string | null;
      stages: { name: string; by?: string | null; reason?: string | null }[];
    };
  }

  interface StatusJson {
    services: { name: string; revisions: { digest: string | null; percent: number }[] }[];
    releases: { execution: string; gate: Record<string, unknown> | null }[];
    pipelines: {
      name: string;
      digest: string | null;
      gate: { execution: string } | null;
      freezes: unknown[];
    }[];
  }

  async function status(): Promise<StatusJson> {
    const r = await runway(['status', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as StatusJson;
  }

  async function until<T>(what: string, check: () => Promise<T | undefined | false>) {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const v = await check();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const gateOpen = (name: string) =>
    until('the gate', async () => {
      const s = await status();
      return s.pipelines[0]?.gate?.execution === name.split('/').pop() && s;
    });

  /** While `digest` takes 50 % of live traffic: the canary bakes. */
  const baking = (digest: string) =>
    until('the canary bake', async () => {
      const live = (await status()).services.find((s) => s.name === 'shop');
      return live?.revisions.some((r) => r.digest === digest && r.percent === 50);
    });

  const liveDigest = async () => (await status()).pipelines[0]?.digest;
  const gated = { approval: { before: ['live'], timeoutSeconds: 3600, approvers: [ALICE] } };

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'runway-operate-'));
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
  });

  after(async () => {
    await stack.close();
    await Promise.all([...dirs, home].map((d) => rm(d, { recursive: true, force: true })));
  });

  test('release: through the deployer, followed to PROMOTED', async () => {
    const v1 = await version('1.0.0');
    const r = await runway(['release', 'shop', v1.digestRef, '--wait']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^release [0-9a-f-]+ of shop \([0-9a-f]{12}\) started\nPROMOTED/);
    assert.match(r.stderr, /✓ promote/);
    assert.equal(await liveDigest(), v1.digest);
    const unknown = await runway(['release', 'nope', v1.digestRef]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no pipeline named nope/);
  });

  test('a gate: status shows it; a non-approver is refused; an approver rejects', async () => {
    const v2 = await version('2.0.0');
    const name = await startRelease(v2.digestRef, gated);
    const s = await gateOpen(name);
    const release = s.releases.find((r) => r.execution === name.split('/').pop());
    assert.deepEqual(Object.keys(release?.gate ?? {}).sort(), [
      'approvers',
      'before',
      'deadline',
      'stage',
      'url',
    ]);
    assert.equal(release?.gate?.before, 'live');
    assert.deepEqual(s.pipelines[0]?.freezes, []);
    assert.equal(release?.gate?.stage, 'promote');
    const text = await runway(['status']);
    assert.match(text.stdout, /shop: release .* awaits approval before live traffic moves/);
    assert.match(text.stdout, /awaiting approval/);

    const mallory = await runway(['approve', 'shop', '--as', 'user:mallory@example.com']);
    assert.equal(mallory.code, 1);
    assert.match(mallory.stderr, /user:mallory@example.com is not an approver/);
    const asDeveloper = await runway(['reject', 'shop']);
    assert.equal(asDeveloper.code, 1, 'the local user is no approver here either');

    const rejected = await runway(['reject', 'shop', '--reason', 'not today'], {
      RUNWAY_AS: ALICE,
    });
    assert.equal(rejected.code, 0, rejected.stderr);
    assert.match(rejected.stdout, /^rejected: release .* by user:alice@example.com: not today/);
    const r = await outcome(name);
    assert.equal(r.outcome, 'REJECTED');
    assert.deepEqual(
      r.stages.filter((x) => x.by).map((x) => [x.name, x.by, x.reason]),
      [['gate', ALICE, 'not today']],
    );
    assert.equal(await liveDigest(), digests['1.0.0']!.digest, 'live untouched');

    const late = await runway(['approve', 'shop', '--as', ALICE]);
    assert.equal(late.code, 1);
    assert.match(late.stderr, /no open gate for shop: no release is running/);
  });

  test('a gate: an approver approves, the release goes on to PROMOTED', async () => {
    const v3 = await version('3.0.0');
    const name = await startRelease(v3.digestRef, gated);
    await gateOpen(name);
    const approved = await runway(['approve', 'shop', '--as', ALICE, '--reason', 'looks good']);
    assert.equal(approved.code, 0, approved.stderr);
    assert.equal((await outcome(name)).outcome, 'PROMOTED');
    assert.equal(await liveDigest(), v3.digest);
  });

  test('abort at a gate: REJECTED, live untouched', async () => {
    const v4 = await version('4.0.0');
    const name = await startRelease(v4.digestRef, gated);
    await gateOpen(name);
    const aborted = await runway(['abort', 'shop', '--reason', 'wrong build']);
    assert.equal(aborted.code, 0, aborted.stderr);
    assert.match(
      aborted.stdout,
      /^aborted: release [0-9a-f-]+ of shop \([0-9a-f]{12}\) was told at once, by user:developer@local$/m,
    );
    const r = await outcome(name);
    assert.equal(r.outcome, 'REJECTED', JSON.stringify(r));
    assert.equal(await liveDigest(), digests['3.0.0']!.digest);
  });

  test('abort mid-bake: ROLLED_BACK, live back on stable', async () => {
    const v5 = await version('5.0.0');
    const name = await startRelease(v5.digestRef, { bakeSeconds: 3600 });
    await baking(v5.digest);
    const aborted = await runway(['abort', 'shop', '--reason', '5xx spike']);
    assert.equal(aborted.code, 0, aborted.stderr);
    const r = await outcome(name);
    assert.equal(r.outcome, 'ROLLED_BACK', JSON.stringify(r));
    assert.deepEqual(
      r.stages.filter((x) => x.by).map((x) => [x.name, x.by, x.reason]),
      [['abort', 'user:developer@local', '5xx spike']],
    );
    const live = (await status()).services.find((s) => s.name === 'shop');
    assert.deepEqual(
      live?.revisions.filter((x) => x.percent > 0).map((x) => [x.digest, x.percent]),
      [[digests['3.0.0']!.digest, 100]],
    );
    // As a process: the exit code a script sees. (Not spawnSync: the stack runs in this process.)
    const child = spawn(process.execPath, [bin, 'abort', 'shop', '--home', home]);
    const nothing = { status: -1 as number | null, stdout: '', stderr: '' };
    child.stdout.on('data', (d) => (nothing.stdout += d));
    child.stderr.on('data', (d) => (nothing.stderr += d));
    nothing.status = await new Promise((r) => child.on('close', r));
    assert.equal(nothing.status, 1, nothing.stdout);
    assert.match(nothing.stderr, /^runway abort: no release of shop is running\n$/);
  });

  test('rollback: to the previous digest, then to a named one; refusals exit 1', async () => {
    const back = await runway(['rollback', 'shop', '--reason', 'bad deploy', '--wait']);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /ROLLED_BACK: shop live on shop-[0-9a-f]{12}/);
    assert.equal(await liveDigest(), digests['1.0.0']!.digest);

    const named = await runway(
      ['rollback', 'shop', '--to', digests['3.0.0']!.digestRef, '--wait'],
      { RUNWAY_AS: ALICE },
    );
    assert.equal(named.code, 0, named.stderr);
    assert.equal(await liveDigest(), digests['3.0.0']!.digest);

    const refusals = [
      { args: ['--to', digests['3.0.0']!.digest], want: /is already live/ },
      { args: ['--to', `sha256:${'0'.repeat(64)}`], want: /unknown digest: shop has no revision/ },
    ];
    for (const c of refusals) {
      const r = await runway(['rollback', 'shop', ...c.args]);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, c.want);
    }
  });

  test('rollback while a release runs: the release is aborted first, then live rolls back', async () => {
    const v6 = await version('6.0.0');
    const name = await startRelease(v6.digestRef, { bakeSeconds: 3600 });
    await baking(v6.digest);
    const r = await runway([
      'rollback',
      'shop',
      '--to',
      digests['1.0.0']!.digest,
      '--reason',
      'incident',
      '--wait',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await outcome(name)).outcome, 'ROLLED_BACK');
    assert.equal(await liveDigest(), digests['1.0.0']!.digest);
  });

  test('history: releases and rollbacks, newest first, with who and why', async () => {
    const r = await runway(['history', 'shop', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as {
      kind: string;
      digest: string;
      outcome: string;
      by: string | null;
      reason: string | null;
      at: string;
    }[];
    const d = (v: string) => digests[v]!.digest;
    assert.deepEqual(
      rows.map((x) => [x.kind, x.digest, x.outcome, x.by, x.reason]),
      [
        ['rollback', d('1.0.0'), 'ROLLED_BACK', 'user:developer@local', 'incident'],
        [
          'release',
          d('6.0.0'),
          'ROLLED_BACK',
          'user:developer@local',
          `rolled back to ${d('1.0.0')}`,
        ],
        ['rollback', d('3.0.0'), 'ROLLED_BACK', ALICE, null],
        ['rollback', d('1.0.0'), 'ROLLED_BACK', 'user:developer@local', 'bad deploy'],
        ['release', d('5.0.0'), 'ROLLED_BACK', 'user:developer@local', '5xx spike'],
        ['release', d('4.0.0'), 'REJECTED', 'user:developer@local', 'wrong build'],
        ['release', d('3.0.0'), 'PROMOTED', ALICE, 'looks good'],
        ['release', d('2.0.0'), 'REJECTED', ALICE, 'not today'],
        ['release', d('1.0.0'), 'PROMOTED', 'user:developer@local', null],
      ],
    );
    assert.ok(rows.every((x) => !Number.isNaN(Date.parse(x.at))));
    const table = await runway(['history', 'shop', '--limit', '2']);
    assert.equal(table.code, 0, table.stderr);
    assert.equal(table.stdout.trim().split('\n').length, 3);
    assert.match(table.stdout, /^WHEN +KIND +OUTCOME +DIGEST +BY +EXECUTION +REASON/);
  });

  test('a gate before the last canary step: rejected there, the canary is undone (ROLLED_BACK)', async () => {
    const v7 = await version('7.0.0');
    const name = await startRelease(v7.digestRef, {
      approval: { before: ['100'], timeoutSeconds: 3600, approvers: [ALICE] },
    });
    await gateOpen(name);
    const text = await runway(['status']);
    assert.match(text.stdout, /shop: release .* awaits approval before 100% \(stage promote\)/);
    const rejected = await runway(['reject', 'shop', '--as', ALICE, '--reason', 'latency']);
    assert.equal(rejected.code, 0, rejected.stderr);
    assert.match(rejected.stdout, /before 100%, by user:alice@example.com: latency$/m);
    assert.equal((await outcome(name)).outcome, 'ROLLED_BACK');
    assert.equal(await liveDigest(), digests['1.0.0']!.digest);
  });

  // A minute of workflow time is 3 s of wall time here: nobody answers, the deadline decides.
  const timeouts = [
    { onTimeout: 'reject', outcome: 'REJECTED', live: () => digests['1.0.0']!.digest },
    { onTimeout: 'promote', outcome: 'PROMOTED', live: () => digests['9.0.0']!.digest },
  ] as const;
  for (const c of timeouts) {
    test(`a gate nobody answers: onTimeout ${c.onTimeout} → ${c.outcome}, the gate removed`, async () => {
      const v = await version(c.onTimeout === 'reject' ? '8.0.0' : '9.0.0');
      const name = await startRelease(v.digestRef, {
        approval: {
          before: ['live'],
          timeoutSeconds: 60,
          onTimeout: c.onTimeout,
          approvers: [ALICE],
        },
      });
      await gateOpen(name);
      const r = await outcome(name);
      assert.equal(r.outcome, c.outcome, JSON.stringify(r));
      assert.match(r.stages.find((x) => x.name === 'gate')?.reason ?? '', /timed out|no answer/);
      assert.equal(await liveDigest(), c.live());
      assert.equal((await status()).pipelines[0]?.gate, null, 'runway.dev/gate is removed');
    });
  }
});
