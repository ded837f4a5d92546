// A service pipeline released to three regions on the local cloud with real processes: each push
// goes registry -> Pub/Sub -> the deployer -> one execution of the release workflow, which claims
// every region, tests staging once and moves each region's live service in lockstep. A candidate
// crashing in one region only (its live service there runs with CRASH_AFTER_SECONDS, which the
// candidate inherits) rolls back all three; two releases racing end with every region on one
// digest. IAM is on, with infra/'s grants in each region (module pipeline's live_regions). Time
// runs 20 times faster.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sampleVersion } from '../../local/demo-scenarios.ts';
import { type Stack, startStack } from '../../local/stack.ts';
import { waitForRelease } from '../../local/watch.ts';
import { localAuthorization } from '../../services/shared/clients.ts';
import { pauseScheduledReconcile } from '../helpers/reconcile.ts';
import { runwayIn } from '../helpers/runway.ts';

const IMAGE = 'us-central1-docker.pkg.dev/local-project/apps/web';
const REGIONS = ['us-central1', 'europe-west1', 'asia-east1'];
const CONFIG = `project: local-project
region: us-central1
pipelines:
  - name: web
    image: ${IMAGE}
    staging: { service: web-staging }
    live: { service: web, regions: [${REGIONS.join(', ')}] }
    acceptance: { job: web-acceptance }
    promotion: { strategy: canary, steps: [50, 100], bakeSeconds: 60 }
`;

interface Service {
  uri: string;
  etag: string;
  annotations?: Record<string, string>;
  template: {
    revision?: string;
    containers: { image: string; env?: { name: string; value: string }[] }[];
  };
}

describe('a pipeline released to three regions on the local cloud', () => {
  let stack: Stack;
  let home: string;
  const dirs: string[] = [];

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'runway-e2e-regions-'));
    await writeFile(join(home, 'runway.yaml'), CONFIG);
    stack = await startStack({
      config: join(home, 'runway.yaml'),
      home,
      timeScale: 20,
      users: 0,
    });
    await pauseScheduledReconcile(stack.info);
  });

  after(async () => {
    await stack?.close();
    await Promise.all([home, ...dirs].map((d) => rm(d, { recursive: true, force: true })));
  });

  const url = (region: string, id = 'web') =>
    `${stack.run.url}/v2/projects/${stack.info.project}/locations/${region}/services/${id}`;

  async function live(region: string): Promise<Service> {
    const res = await fetch(url(region), { headers: localAuthorization });
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as Service;
  }

  async function version(region: string): Promise<string | null> {
    const answer = await fetch(`${(await live(region)).uri}/version`).catch(() => undefined);
    return answer?.ok ? ((await answer.json()) as { version: string }).version : null;
  }

  async function push(v: string) {
    const dir = await sampleVersion(v);
    dirs.push(dir);
    return stack.registry.push(dir, `${IMAGE}:${v}`);
  }

  async function release(v: string) {
    const pushed = await push(v);
    const run = await waitForRelease(stack.info, pushed.digest, { timeoutMs: 120_000 });
    return { digest: pushed.digest, result: run.result, error: run.error };
  }

  test('the first release creates and promotes the live service in every region', async () => {
    const v1 = await release('1.0.0');
    assert.equal(v1.result?.outcome, 'PROMOTED', JSON.stringify(v1));
    const regions = (v1.result as { regions?: Record<string, { outcome: string }> }).regions;
    assert.deepEqual(
      REGIONS.map((r) => [r, regions?.[r]?.outcome]),
      REGIONS.map((r) => [r, 'PROMOTED']),
    );
    for (const region of REGIONS) {
      const svc = await live(region);
      assert.equal(svc.annotations?.['runway.dev/digest'], v1.digest, region);
      assert.equal(await version(region), '1.0.0', region);
    }
    // Each region serves at its own URL.
    assert.equal(new Set(await Promise.all(REGIONS.map(async (r) => (await live(r)).uri))).size, 3);
  });

  test('runway status reads the live service in every region: a row per region', async () => {
    const r = await runwayIn(() => home)(['status', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const { pipelines, services } = JSON.parse(r.stdout) as {
      pipelines: { name: string; region?: string; digest: string | null }[];
      services: { name: string; region?: string }[];
    };
    const web = pipelines.filter((p) => p.name === 'web');
    assert.deepEqual(
      web.map((p) => p.region),
      REGIONS,
    );
    const digest = (await live('us-central1')).annotations?.['runway.dev/digest'];
    assert.ok(
      web.every((p) => p.digest === digest),
      JSON.stringify(web),
    );
    assert.deepEqual(
      services
        .filter((x) => x.name === 'web')
        .map((x) => x.region)
        .sort(),
      [...REGIONS].sort(),
    );
  });

  test('a candidate crashing in europe-west1 only rolls back all three regions', async () => {
    // europe-west1's live service takes CRASH_AFTER_SECONDS in its template (a new revision with
    // no traffic): the next candidate there inherits it, the other regions' do not.
    const eu = await live('europe-west1');
    const containers = eu.template.containers.map((c, i) =>
      i === 0 ? { ...c, env: [...(c.env ?? []), { name: 'CRASH_AFTER_SECONDS', value: '1' }] } : c,
    );
    const patched = await fetch(`${url('europe-west1')}?updateMask=template`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', ...localAuthorization },
      body: JSON.stringify({ template: { ...eu.template, revision: undefined, containers } }),
    });
    assert.equal(patched.status, 200, await patched.text());
    const before = await Promise.all(REGIONS.map(async (r) => (await live(r)).annotations));
    const v2 = await release('2.0.0');
    assert.equal(v2.result?.outcome, 'ROLLED_BACK', JSON.stringify(v2));
    assert.match(
      v2.result?.reason ?? '',
      /^europe-west1: canary at 50% failed: the candidate crashed/,
    );
    for (const [i, region] of REGIONS.entries()) {
      const svc = await live(region);
      assert.equal(
        svc.annotations?.['runway.dev/digest'],
        before[i]?.['runway.dev/digest'],
        region,
      );
      assert.equal(svc.annotations?.['runway.dev/claim'], undefined, region);
      assert.equal(await version(region), '1.0.0', region);
    }
  });

  test('two releases racing across the regions end with every region on the newer', async () => {
    // europe-west1 without the crash knob again.
    const eu = await live('europe-west1');
    const containers = eu.template.containers.map((c, i) =>
      i === 0 ? { ...c, env: (c.env ?? []).filter((e) => e.name !== 'CRASH_AFTER_SECONDS') } : c,
    );
    const patched = await fetch(`${url('europe-west1')}?updateMask=template`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', ...localAuthorization },
      body: JSON.stringify({ template: { ...eu.template, revision: undefined, containers } }),
    });
    assert.equal(patched.status, 200, await patched.text());
    const a = await push('3.0.0');
    const b = await push('4.0.0');
    const [ra, rb] = await Promise.all([
      waitForRelease(stack.info, a.digest, { timeoutMs: 180_000 }),
      waitForRelease(stack.info, b.digest, { timeoutMs: 180_000 }),
    ]);
    const digests = await Promise.all(
      REGIONS.map(async (r) => (await live(r)).annotations?.['runway.dev/digest']),
    );
    assert.equal(new Set(digests).size, 1, `regions on ${digests.join(', ')}`);
    assert.equal(digests[0], b.digest, `${ra.result?.outcome} / ${rb.result?.outcome}`);
    for (const region of REGIONS) assert.equal(await version(region), '4.0.0', region);
  });
});
