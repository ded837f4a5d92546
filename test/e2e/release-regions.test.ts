// workflows/release.yaml releasing one service to several regions (live.regions) on the local
// engine over the fake Run API: claims all-or-nothing, waves and lockstep canaries, a region's
// failure rolling back the others (rollback-all) or stopping (stop), rollback and abort across
// regions. Asserts every region's service state, not only the result.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { fromPlain, toJsonText } from '../../local/workflows/convert.ts';
import { createEndpoints } from '../../local/workflows/connectors/index.ts';
import { startExecution, timeScaledClock } from '../../local/workflows/engine.ts';
import type { FakeRun } from '../fixtures/fake-run.ts';
import { fakeCloud, releaseWorkflow } from '../helpers/release-engine.ts';

const workflow = releaseWorkflow;
const IMG = 'us-central1-docker.pkg.dev/local-project/apps/web';
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const THREE = ['us-central1', 'europe-west1', 'asia-east1'];
const at = (region: string, service: string) =>
  `projects/local-project/locations/${region}/services/${service}`;

const cloud = fakeCloud();
const callbacks = cloud.callbacks;
let run: FakeRun;
before(async () => {
  run = await cloud.started;
});

let published = 0;
function args(service: string, d: string, extra: Record<string, unknown> = {}) {
  published += 1;
  return {
    pipeline: service,
    project: 'local-project',
    region: 'us-central1',
    image: `${IMG}@${d}`,
    tag: 'main',
    publishTime: new Date(Date.UTC(2026, 10, 22, 10, 0, published)).toISOString(),
    staging: { service: `${service}-staging` },
    live: { service, regions: THREE },
    acceptance: { job: 'web-acceptance', timeoutSeconds: 60, taskCount: 1, checks: null },
    promotion: { strategy: 'direct' },
    notify: null,
    source: 'manual',
    ...extra,
  };
}

interface Region {
  region: string;
  outcome: string;
  revision: string | null;
  previousRevision: string | null;
  reason: string | null;
}
interface Result {
  outcome?: string;
  reason?: string;
  regions?: Record<string, Region>;
  stages?: { name: string; region?: string; outcome: string }[];
  failed?: unknown;
  steps: { internal: number; external: number };
  [k: string]: unknown;
}

/** The sys.log payloads of the last release started, as JSON. */
let logged: unknown[] = [];

async function release(a: unknown, scale = 1000): Promise<Result> {
  logged = [];
  const ex = startExecution(workflow, fromPlain(a), {
    log: (entry) => void logged.push(JSON.parse(toJsonText(entry.payload))),
    clock: timeScaledClock(scale),
    callbacks: callbacks.hub,
    endpoints: createEndpoints({ RUN_EMULATOR_HOST: run.host, MONITORING_EMULATOR_HOST: run.host }),
    env: { projectId: 'local-project', location: 'us-central1', workflowId: 'runway-release' },
  });
  const r = await ex.done;
  if (r.state !== 'SUCCEEDED')
    return { failed: JSON.parse(toJsonText(r.error?.payload ?? null)), steps: r.steps };
  return { ...JSON.parse(toJsonText(r.result ?? null)), steps: r.steps };
}

const digestIn = (region: string, service: string) =>
  run.services.get(at(region, service))?.annotations['runway.dev/digest'];
const servingIn = (region: string, service: string) =>
  run.services
    .get(at(region, service))
    ?.traffic.filter((t) => (t.percent ?? 0) > 0)
    .map((t) => `${t.revision}:${t.percent}`)
    .join(',');
const outcomes = (r: Result) =>
  Object.fromEntries(Object.values(r.regions ?? {}).map((x) => [x.region, x.outcome]));
const billed = (r: Result) => r.steps.internal + r.steps.external;

/** Releases `d` to `service` in one region, then to all three: the baseline of a later test. */
async function promoteEverywhere(service: string, d: string) {
  const r = await release(args(service, d));
  assert.equal(r.outcome, 'PROMOTED', JSON.stringify(r));
  return r;
}

describe('multi-region releases (fake Cloud Run)', () => {
  test('three regions, direct: every region promoted, each with its own annotations and revision', async () => {
    const first = await promoteEverywhere('web', digest('1'));
    const r = await promoteEverywhere('web', digest('2'));
    assert.deepEqual(outcomes(first), {
      'us-central1': 'PROMOTED',
      'europe-west1': 'PROMOTED',
      'asia-east1': 'PROMOTED',
    });
    for (const region of THREE) {
      assert.equal(digestIn(region, 'web'), digest('2'), region);
      assert.equal(servingIn(region, 'web'), 'web-222222222222:100', region);
      const a = run.services.get(at(region, 'web'))!.annotations;
      assert.equal(a['runway.dev/previous'], digest('1'));
      assert.equal(a['runway.dev/claim'], undefined, `${region}'s claim is released`);
    }
    assert.deepEqual(
      THREE.map((region) => [
        region,
        r.regions![region]?.revision,
        r.regions![region]?.previousRevision,
      ]),
      THREE.map((region) => [region, 'web-222222222222', 'web-111111111111']),
    );
    // Staging and its test once, in the pipeline region; a claim and a promote per region.
    assert.equal(run.services.get(at('europe-west1', 'web-staging')), undefined);
    const stages = r.stages!.map((s) => `${s.name}${s.region ? `@${s.region}` : ''}`);
    for (const region of THREE) {
      assert.ok(stages.includes(`claim@${region}`), stages.join(' '));
      assert.ok(stages.includes(`promote@${region}`), stages.join(' '));
    }
    assert.ok(stages.includes('staging@us-central1') && stages.includes('test@us-central1'));
  });

  // Issue 19's budget; bench/release-cost prints the figures.
  test('billed steps: three regions direct within 2.2x one region', async () => {
    const one = await release(args('solo', digest('3'), { live: { service: 'solo' } }));
    assert.equal(one.outcome, 'PROMOTED', JSON.stringify(one));
    const three = await promoteEverywhere('trio', digest('3'));
    assert.ok(
      billed(three) <= 2.2 * billed(one),
      `three regions billed ${billed(three)}, one ${billed(one)}`,
    );
  });

  test('a canary in lockstep: one region crashing mid-canary rolls back all three (rollback-all)', async () => {
    await promoteEverywhere('lock', digest('4'));
    run.crashedRevisions.add(`${at('europe-west1', 'lock')}/revisions/lock-555555555555`);
    try {
      const r = await release(
        args('lock', digest('5'), {
          // Bakes long enough (on the compressed clock) for the siblings to hear the abort.
          promotion: { strategy: 'canary', steps: [10, 50, 100], bakeSeconds: 300, health: null },
        }),
      );
      assert.equal(r.outcome, 'ROLLED_BACK', JSON.stringify(r));
      assert.match(String(r.reason), /^europe-west1: canary at 10% failed: the candidate crashed/);
      for (const region of THREE) {
        assert.equal(digestIn(region, 'lock'), digest('4'), region);
        assert.equal(servingIn(region, 'lock'), 'lock-444444444444:100', region);
        const a = run.services.get(at(region, 'lock'))!.annotations;
        assert.equal(a['runway.dev/claim'], undefined, region);
        assert.ok(JSON.parse(a['runway.dev/refused'] ?? '[]').includes(digest('5')), region);
      }
      const o = outcomes(r);
      assert.equal(o['europe-west1'], 'ROLLED_BACK');
      assert.deepEqual(Object.keys(o).sort(), [...THREE].sort(), 'every region reported');
      // The siblings were aborted mid-canary (never reached 100 %) or rolled back after.
      for (const region of ['us-central1', 'asia-east1']) {
        const moves = (run.trafficLog.get(at(region, 'lock')) ?? []).map((t) =>
          t.filter((x) => x.revision === 'lock-555555555555').map((x) => x.percent),
        );
        assert.ok(
          !moves.some((p) => p.includes(100)),
          `${region} never took all traffic: ${JSON.stringify(moves)}`,
        );
      }
    } finally {
      run.crashedRevisions.clear();
    }
  });

  test('waves of one with onFailure stop: the failing region rolls back, the one before stays, the one after is not started', async () => {
    await promoteEverywhere('wave', digest('6'));
    run.crashedRevisions.add(`${at('europe-west1', 'wave')}/revisions/wave-777777777777`);
    try {
      const r = await release(
        args('wave', digest('7'), {
          promotion: {
            strategy: 'canary',
            steps: [50, 100],
            bakeSeconds: 10,
            health: null,
            regions: { concurrency: 1, onFailure: 'stop' },
          },
        }),
      );
      assert.equal(r.outcome, 'ROLLED_BACK', JSON.stringify(r));
      assert.deepEqual(outcomes(r), {
        'us-central1': 'PROMOTED',
        'europe-west1': 'ROLLED_BACK',
        'asia-east1': 'NOT_STARTED',
      });
      assert.equal(digestIn('us-central1', 'wave'), digest('7'));
      assert.equal(digestIn('europe-west1', 'wave'), digest('6'));
      assert.equal(digestIn('asia-east1', 'wave'), digest('6'));
      assert.equal(servingIn('asia-east1', 'wave'), 'wave-666666666666:100');
      assert.equal(
        run.services.get(at('asia-east1', 'wave'))!.annotations['runway.dev/claim'],
        undefined,
      );
    } finally {
      run.crashedRevisions.clear();
    }
  });

  test('waves of one with rollback-all: the region promoted before the failure goes back too', async () => {
    await promoteEverywhere('back', digest('8'));
    run.crashedRevisions.add(`${at('asia-east1', 'back')}/revisions/back-999999999999`);
    try {
      const r = await release(
        args('back', digest('9'), {
          promotion: {
            strategy: 'canary',
            steps: [50, 100],
            bakeSeconds: 10,
            health: null,
            regions: { concurrency: 1 },
          },
        }),
      );
      assert.equal(r.outcome, 'ROLLED_BACK', JSON.stringify(r));
      assert.deepEqual(outcomes(r), {
        'us-central1': 'ROLLED_BACK',
        'europe-west1': 'ROLLED_BACK',
        'asia-east1': 'ROLLED_BACK',
      });
      for (const region of THREE) {
        assert.equal(digestIn(region, 'back'), digest('8'), region);
        assert.equal(servingIn(region, 'back'), 'back-888888888888:100', region);
      }
      const stages = r.stages!.map((s) => `${s.name}@${s.region}:${s.outcome}`);
      assert.ok(stages.includes('rollback@us-central1:OK'), stages.join(' '));
    } finally {
      run.crashedRevisions.clear();
    }
  });

  test('a region already on the digest is left as it is; every region on it: DUPLICATE', async () => {
    await promoteEverywhere('dup', digest('a'));
    const svc = run.services.get(at('europe-west1', 'dup'))!;
    // europe-west1 alone moves on (as a stopped release would leave it).
    const solo = await release(
      args('dup', digest('b'), { live: { service: 'dup', regions: ['europe-west1'] } }),
    );
    assert.equal(solo.outcome, 'PROMOTED', JSON.stringify(solo));
    assert.equal(svc.annotations['runway.dev/digest'], digest('b'));
    const r = await release(args('dup', digest('b')));
    assert.equal(r.outcome, 'PROMOTED', JSON.stringify(r));
    assert.equal(outcomes(r)['europe-west1'], 'DUPLICATE');
    for (const region of THREE) assert.equal(digestIn(region, 'dup'), digest('b'), region);
    const again = await release(args('dup', digest('b')));
    assert.equal(again.outcome, 'DUPLICATE', JSON.stringify(again));
    assert.equal(again.reason, 'this digest is already live in every region');
  });

  test('rejected by its tests: no region moved, every claim released', async () => {
    await promoteEverywhere('rej', digest('c'));
    run.failJobs.value = true;
    try {
      const r = await release(args('rej', digest('d')));
      assert.equal(r.outcome, 'REJECTED', JSON.stringify(r));
      assert.deepEqual(new Set(Object.values(outcomes(r))), new Set(['REJECTED']));
      for (const region of THREE) {
        assert.equal(digestIn(region, 'rej'), digest('c'), region);
        const a = run.services.get(at(region, 'rej'))!.annotations;
        assert.equal(a['runway.dev/claim'], undefined, region);
      }
    } finally {
      run.failJobs.value = false;
    }
  });

  test('a newer release claimed in one region: the older one is SUPERSEDED and holds no region', async () => {
    await promoteEverywhere('sup', digest('e'));
    const svc = run.services.get(at('asia-east1', 'sup'))!;
    svc.annotations['runway.dev/claim'] = JSON.stringify({
      digest: digest('f'),
      publishTime: '2030-01-01T00:00:00.000Z',
      execution: 'someone-else',
      at: Date.now() / 1000,
    });
    const r = await release(args('sup', digest('0')));
    assert.equal(r.outcome, 'SUPERSEDED', JSON.stringify(r));
    for (const region of ['us-central1', 'europe-west1']) {
      const a = run.services.get(at(region, 'sup'))!.annotations;
      assert.equal(a['runway.dev/claim'], undefined, `${region} was let go`);
      assert.equal(digestIn(region, 'sup'), digest('e'));
    }
    delete svc.annotations['runway.dev/claim'];
  });

  test('two releases racing across regions end with every region on one digest', async () => {
    await promoteEverywhere('race', digest('1'));
    const slow = {
      promotion: { strategy: 'canary', steps: [50, 100], bakeSeconds: 20, health: null },
    };
    const older = args('race', digest('2'), slow);
    const newer = args('race', digest('3'), slow);
    const [a, b] = await Promise.all([release(older, 200), release(newer, 200)]);
    const digests = THREE.map((region) => digestIn(region, 'race'));
    assert.equal(new Set(digests).size, 1, `regions on ${digests.join(', ')}`);
    assert.equal(digests[0], digest('3'), `${a.outcome} / ${b.outcome}`);
    for (const region of THREE)
      assert.equal(
        run.services.get(at(region, 'race'))!.annotations['runway.dev/claim'],
        undefined,
      );
  });

  test('a hand-run release claiming in another order backs off instead of holding a region', async () => {
    await promoteEverywhere('order', digest('4'));
    const slow = {
      promotion: { strategy: 'canary', steps: [50, 100], bakeSeconds: 20, health: null },
    };
    // No publish times: neither supersedes the other, so only the claims' order decides.
    const one = { ...args('order', digest('5'), slow), publishTime: undefined };
    const two = {
      ...args('order', digest('6'), slow),
      publishTime: undefined,
      live: { service: 'order', regions: [...THREE].reverse() },
    };
    const [a, b] = await Promise.all([release(one, 200), release(two, 200)]);
    assert.equal(a.outcome, 'PROMOTED', JSON.stringify(a));
    assert.equal(b.outcome, 'PROMOTED', JSON.stringify(b));
    const digests = THREE.map((region) => digestIn(region, 'order'));
    assert.equal(new Set(digests).size, 1, `regions on ${digests.join(', ')}`);
  });

  test('rollback across regions: every region back to its previous digest', async () => {
    await promoteEverywhere('undo', digest('7'));
    await promoteEverywhere('undo', digest('8'));
    const r = await release({
      ...args('undo', digest('8')),
      image: null,
      action: 'rollback',
      by: 'user:alice@example.com',
      reason: 'bad',
    });
    assert.equal(r.outcome, 'ROLLED_BACK', JSON.stringify(r));
    assert.equal(r.action, 'rollback');
    assert.deepEqual(new Set(Object.values(outcomes(r))), new Set(['ROLLED_BACK']));
    for (const region of THREE) {
      assert.equal(digestIn(region, 'undo'), digest('7'), region);
      assert.equal(servingIn(region, 'undo'), 'undo-777777777777:100', region);
    }
  });

  test('abort across regions: a running canary is aborted in every region', async () => {
    await promoteEverywhere('stop', digest('9'));
    const running = release(
      args('stop', digest('a'), {
        promotion: { strategy: 'canary', steps: [50, 100], bakeSeconds: 600, health: null },
      }),
      100,
    );
    // Wait until every region's claim names its control channel.
    const deadline = Date.now() + 5000;
    while (
      THREE.some(
        (region) =>
          !JSON.parse(run.services.get(at(region, 'stop'))!.annotations['runway.dev/claim'] ?? '{}')
            .control,
      )
    ) {
      if (Date.now() > deadline) assert.fail('the canary never claimed every region');
      await new Promise((r) => setTimeout(r, 10));
    }
    const sent = await release({
      ...args('stop', digest('a')),
      image: null,
      action: 'abort',
      by: 'user:alice@example.com',
      reason: 'stop it',
    });
    assert.equal(sent.delivered, true, JSON.stringify(sent));
    const r = await running;
    assert.equal(r.outcome, 'ROLLED_BACK', JSON.stringify(r));
    for (const region of THREE) assert.equal(digestIn(region, 'stop'), digest('9'), region);
  });

  test('arguments: approval with several regions is refused before any write', async () => {
    const r = await release(
      args('gate', digest('b'), {
        promotion: {
          strategy: 'direct',
          approval: { before: ['live'], approvers: ['user:a@example.com'] },
        },
      }),
    );
    assert.match(
      String(r.failed),
      /promotion\.approval is not supported with several live\.regions/,
    );
    assert.equal(run.services.get(at('us-central1', 'gate')), undefined);
  });

  test('staging in its own regions: deployed and tested in each before live moves', async () => {
    const r = await release(
      args('stg', digest('c'), {
        staging: { service: 'stg-staging', regions: ['europe-west1', 'asia-east1'] },
      }),
    );
    assert.equal(r.outcome, 'PROMOTED', JSON.stringify(r));
    assert.equal(run.services.get(at('us-central1', 'stg-staging')), undefined);
    for (const region of ['europe-west1', 'asia-east1'])
      assert.equal(servingIn(region, 'stg-staging'), 'stg-staging-cccccccccccc:100', region);
  });
});
