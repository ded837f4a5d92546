// gcloud pointed at the local cloud in one line: `eval "$(runway local env)"` in bash, then
// `gcloud workflows run|executions list` against the local Executions API and `gcloud run
// services list|describe|update-traffic` against the local Cloud Run (its v1 API, through the
// local cloud's proxy, which resolves gcloud's region-prefixed host). Skipped, naming what is
// missing, where gcloud is not installed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { RevisionsClient, ServicesClient } from '@google-cloud/run';
import { envCommand } from '../../cli/commands/env.ts';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type LocalCloudBuild, startLocalCloudBuild } from '../../local/build/api.ts';
import { type GcloudProxy, startGcloudProxy } from '../../local/gcloud-proxy.ts';
import { type LocalScheduler, startLocalScheduler } from '../../local/scheduler/server.ts';
import { type LocalStorage, startLocalStorage } from '../../local/storage/server.ts';
import { type LocalRegistry, startLocalRegistry } from '../../local/registry/server.ts';
import { type LocalRun, startLocalRun } from '../../local/run/index.ts';
import type { StackInfo } from '../../local/stack.ts';
import { type ExecutionsServer, startExecutionsServer } from '../../local/workflows/api/server.ts';
import { timeScaledClock } from '../../local/workflows/engine.ts';
import { localClientOptions } from '../../services/shared/clients.ts';
import { gcloudInstalled } from '../helpers/gcloud.ts';

const exec = promisify(execFile);
const PROJECT = 'local-project';
const REGION = 'us-central1';
const PARENT = `projects/${PROJECT}/locations/${REGION}`;
const APP = new URL('../fixtures/apps/probe/', import.meta.url).pathname;

// A stand-in for the release workflow: it fails when asked to, as a rejected release does.
const WORKFLOW = `main:
  params: [args]
  steps:
    - check:
        switch:
          - condition: \${default(map.get(args, "fail"), false)}
            raise:
              message: rejected
    - done:
        return: \${"released " + args.image}
`;

let root: string;
let home: string;
let userHome: string;
let registry: LocalRegistry;
let run: LocalRun;
let workflows: ExecutionsServer;
let proxy: GcloudProxy;
let scheduler: LocalScheduler;
let storage: LocalStorage;
let build: LocalCloudBuild;
/** Where the reconcile job posts: each request's path, as the deployer would see it. */
let deployer: Server;
const reconciles: string[] = [];
let envText: string;
let services: ServicesClient;
let revisions: RevisionsClient;

/** Runs `script` in bash after `eval "$(runway local env)"`, with nothing else of this environment. */
async function shell(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec('bash', ['-c', `eval "$1"\n${script}`, '_', envText], {
      env: { PATH: process.env.PATH, HOME: userHome },
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: Number(e.code ?? 1), stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function ok(script: string): Promise<string> {
  const r = await shell(script);
  assert.equal(r.code, 0, `${script}\n${r.stderr}`);
  return r.stdout;
}

describe('gcloud after eval "$(runway local env)"', {
  skip: gcloudInstalled ? false : 'gcloud is not installed here (the Google Cloud SDK)',
}, () => {
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'runway-gcloud-env-'));
    home = join(root, 'stack home');
    userHome = join(root, 'user');
    await mkdir(join(root, 'workflows'), { recursive: true });
    await mkdir(userHome);
    await writeFile(join(root, 'workflows', 'runway-release.yaml'), WORKFLOW);
    registry = await startLocalRegistry({ root: join(root, 'registry') });
    run = await startLocalRun({
      project: PROJECT,
      region: REGION,
      images: registry.images,
      logDir: join(root, 'logs'),
      graceMs: 300,
      settleMs: 300,
    });
    workflows = await startExecutionsServer({
      dir: join(root, 'workflows'),
      project: PROJECT,
      location: REGION,
      engineOptions: { clock: timeScaledClock(1) },
    });
    proxy = await startGcloudProxy();
    scheduler = await startLocalScheduler({ project: PROJECT });
    storage = await startLocalStorage();
    build = await startLocalCloudBuild({
      project: PROJECT,
      location: 'global',
      root: join(root, 'cb'),
      storage: storage.store,
      pusher: { push: async () => Promise.reject(new Error('no pushes in this test')) },
    });
    deployer = createServer((req, res) => {
      reconciles.push(`${req.method} ${req.url}`);
      req.resume();
      res.end('{}');
    });
    await new Promise<void>((r) => deployer.listen(0, '127.0.0.1', r));
    // The reconcile job as `runway local up` creates it (deploy-runway.ts), at a stand-in deployer.
    const made = await fetch(`${scheduler.url}/v1/${PARENT}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: `${PARENT}/jobs/runway-reconcile`,
        schedule: '*/15 * * * *',
        timeZone: 'Etc/UTC',
        httpTarget: {
          uri: `http://127.0.0.1:${(deployer.address() as AddressInfo).port}/reconcile`,
          httpMethod: 'POST',
          body: Buffer.from('{"verify":false}').toString('base64'),
        },
      }),
    });
    assert.equal(made.status, 200, await made.clone().text());
    const info: StackInfo = {
      run: run.url,
      workflows: workflows.url,
      pubsub: 'http://127.0.0.1:9',
      pubsubKind: 'bridge',
      registry: registry.url,
      monitoring: 'http://127.0.0.1:9',
      deployer: 'http://127.0.0.1:9',
      project: PROJECT,
      region: REGION,
      pipelines: [],
      home,
      pid: process.pid,
      gcloudProxy: proxy.url,
      scheduler: scheduler.url,
      storage: storage.url,
      build: build.url,
    };
    await mkdir(home, { recursive: true });
    await writeFile(join(home, 'stack.json'), JSON.stringify(info));
    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += d));
    const code = await envCommand(['--home', home], {
      stdout: out,
      stderr: process.stderr,
      env: {},
      cwd: root,
      stopSignal: new Promise(() => {}),
    });
    assert.equal(code, 0);
    envText = text;
    const options = localClientOptions(run.host);
    services = new ServicesClient(options);
    revisions = new RevisionsClient(options);
  });

  after(async () => {
    await Promise.all([services?.close(), revisions?.close()]);
    await proxy?.close();
    await build?.close();
    await storage?.close();
    await scheduler?.close();
    deployer?.close();
    await workflows?.close();
    await run?.close();
    await registry?.close();
    await rm(root, { recursive: true, force: true });
  });

  test('gcloud workflows run: a release that succeeds, and one that fails with exit 0 but state FAILED', async () => {
    const good = await ok(
      `gcloud workflows run runway-release --data='{"image":"web@sha256:1"}' --format='value(state,result)'`,
    );
    assert.match(good, /^SUCCEEDED\s+"released web@sha256:1"$/m);
    // gcloud exits 0 for a FAILED execution: scripts check the state it prints.
    const failed = await shell(
      `gcloud workflows run runway-release --data='{"image":"web@sha256:2","fail":true}' --format='value(state)'`,
    );
    assert.equal(failed.code, 0, failed.stderr);
    assert.equal(failed.stdout.trim(), 'FAILED');
    const checked = await shell(
      `state=$(gcloud workflows run runway-release --data='{"image":"web@sha256:3","fail":true}' --format='value(state)')\n[ "$state" = SUCCEEDED ]`,
    );
    assert.equal(checked.code, 1, 'the documented state check fails the script');
  });

  test('gcloud workflows executions list runway-release lists them, newest first', async () => {
    const states = (
      await ok(`gcloud workflows executions list runway-release --format='value(state)'`)
    )
      .trim()
      .split('\n');
    assert.deepEqual(states, ['FAILED', 'FAILED', 'SUCCEEDED']);
  });

  test('gcloud run services list, describe and update-traffic on the local Cloud Run', async () => {
    const image = (await registry.push(APP, `${REGION}-docker.pkg.dev/${PROJECT}/apps/probe:v1`))
      .digestRef;
    const deploy = async (greeting: string) => {
      const [op] = await services.updateService({
        service: {
          name: `${PARENT}/services/web`,
          template: { containers: [{ image, env: [{ name: 'GREETING', value: greeting }] }] },
        },
        allowMissing: true,
      });
      await op.promise();
    };
    await deploy('one');
    await deploy('two');
    const [revs] = await revisions.listRevisions({ parent: `${PARENT}/services/web` });
    const [newest, oldest] = revs.map((r) => r.name!.split('/').pop()!);

    const list = await ok(`gcloud run services list --format='value(metadata.name,status.url)'`);
    const [svc] = await services.getService({ name: `${PARENT}/services/web` });
    assert.equal(list.trim(), `web\t${svc.uri}`);
    const described = JSON.parse(await ok('gcloud run services describe web --format=json'));
    assert.equal(described.status.latestReadyRevisionName, newest);
    assert.deepEqual(described.spec.traffic, [{ latestRevision: true, percent: 100 }]);

    await ok(`gcloud run services update-traffic web --to-revisions=${oldest}=30,LATEST=70`);
    const [split] = await services.getService({ name: `${PARENT}/services/web` });
    assert.deepEqual(
      split.trafficStatuses?.map((t) => [t.revision || 'LATEST', t.percent]),
      [
        [oldest, 30],
        ['LATEST', 70],
      ],
    );
    // Requests follow the split gcloud set: both revisions answer.
    const seen = new Set<string>();
    for (let i = 0; i < 60 && seen.size < 2; i++) {
      const res = await fetch(split.uri!);
      seen.add(((await res.json()) as { revision: string }).revision);
    }
    assert.deepEqual([...seen].sort(), [newest, oldest].sort());

    await ok('gcloud run services update-traffic web --to-latest');
    const [latest] = await services.getService({ name: `${PARENT}/services/web` });
    assert.deepEqual(
      latest.trafficStatuses?.filter((t) => (t.percent ?? 0) > 0).map((t) => t.percent),
      [100],
    );
    const revisionsListed = await ok(
      `gcloud run revisions list --service web --format='value(metadata.name)'`,
    );
    assert.deepEqual(revisionsListed.trim().split('\n').sort(), [newest, oldest].sort());
  });

  test('gcloud scheduler jobs run runway-reconcile: the job posts to the deployer at once', async () => {
    await ok(`gcloud scheduler jobs run runway-reconcile --location ${REGION}`);
    for (let i = 0; i < 100 && reconciles.length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(reconciles, ['POST /reconcile']);
    const listed = await ok(
      `gcloud scheduler jobs list --location ${REGION} --format='value(name)'`,
    );
    assert.match(listed, /runway-reconcile/);
  });

  test('gcloud builds submit: the directory uploaded, the build run, its log read back', async () => {
    const src = join(root, 'build src');
    await mkdir(src, { recursive: true });
    await writeFile(join(src, 'a.txt'), 'from the directory\n');
    await writeFile(
      join(src, 'cloudbuild.yaml'),
      "steps:\n- name: bash\n  args: ['-c', 'cat a.txt']\noptions:\n  logging: CLOUD_LOGGING_ONLY\n",
    );
    const out = await ok(
      `gcloud builds submit --config '${join(src, 'cloudbuild.yaml')}' --format='value(id,status)' '${src}'`,
    );
    const [id, status] = out.trim().split(/\s+/);
    assert.equal(status, 'SUCCESS', out);
    assert.match(await ok(`gcloud builds log ${id}`), /from the directory/);
  });

  test("the user's own gcloud configuration is never touched", () => {
    assert.equal(existsSync(join(userHome, '.config', 'gcloud')), false);
    assert.ok(existsSync(join(home, 'gcloud')));
  });
});
