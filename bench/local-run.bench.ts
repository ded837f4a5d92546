// The local Cloud Run's costs, against `runway local up` running in its own process:
//  1. making a revision of a small Node app ready vs the app's own spawn-to-listening time
//     (target <= 1.5x, both measured here, medians of several runs);
//  2. router overhead at 2,000 requests/s on loopback, open loop for a bounded time: latency
//     through the service URL minus latency straight to the instance (target p99 <= 1 ms);
//  3. memory of 50 services with 2 revisions each, the stack and every app process included
//     (target <= 2 GB RSS); PSS is printed too, as RSS counts shared pages once per process;
//  4. an IAM check's cost (issue 17): identifying the caller by its access token and checking a
//     method's permissions against the shipped Terraform's grants, and Cloud Run's invoker check
//     of an ID token (target p99 <= 1 ms). The stack runs with --iam off so that 1-3 stay
//     comparable with earlier figures (the bench's own services are private with IAM on).
// The last line is one JSON object of all figures.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage } from 'node:http';
import { invokerCheck } from '../local/cloud.ts';
import { policyGate } from '../local/iam/caller.ts';
import { Policy } from '../local/iam/policy.ts';
import { readTerraformGrants } from '../local/iam/terraform.ts';
import { startIssuer } from '../local/identity/issuer.ts';
import type { StackInfo } from '../local/stack.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

const home = await mkdtemp(join(tmpdir(), 'runway-bench-run-'));
const stack: ChildProcess = spawn(
  process.execPath,
  [
    join(root, 'bin', 'runway.js'),
    'local',
    'up',
    '--json',
    '--pubsub',
    'bridge',
    '--iam',
    'off',
    '--home',
    home,
  ],
  {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const info = JSON.parse(
  await new Promise<string>((resolve) =>
    createInterface({ input: stack.stdout! }).once('line', resolve),
  ),
) as StackInfo;
const parent = `projects/${info.project}/locations/${info.region}`;
const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${info.run}/v2/${path}`, {
    method,
    ...(body
      ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
      : {}),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
};
/** A write's operation, polled until done. */
async function settle(op: Record<string, unknown>): Promise<Record<string, unknown>> {
  let current = op;
  while (!current.done) current = await api('POST', `${current.name}:wait`, { timeout: '60s' });
  if (current.error) throw new Error(JSON.stringify(current.error));
  return current.response as Record<string, unknown>;
}

const push = async (dir: string, image: string) => {
  const res = await fetch(`${info.registry}/local/v1/images:push`, {
    method: 'POST',
    body: JSON.stringify({ dir, image }),
  });
  return ((await res.json()) as { digestRef: string }).digestRef;
};
const repo = `${info.region}-docker.pkg.dev/${info.project}/bench`;
const sampleDir = join(root, 'services', 'sample-app');
const probeDir = join(root, 'test', 'fixtures', 'apps', 'probe');
const sample = await push(sampleDir, `${repo}/sample:v1`);
const probe = await push(probeDir, `${repo}/probe:v1`);

// 1. Ready cost vs the app's own spawn-to-listening.
function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
async function ownStartup(port: number): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['server.js'], {
    cwd: sampleDir,
    env: { PATH: process.env.PATH, PORT: String(port) },
    stdio: 'ignore',
  });
  while (!(await canConnect(port))) await new Promise((r) => setTimeout(r, 1));
  const ms = performance.now() - t0;
  child.kill('SIGKILL');
  return ms;
}
const own: number[] = [];
const ready: number[] = [];
for (let i = 0; i < 7; i++) {
  own.push(await ownStartup(18700 + i));
  const t0 = performance.now();
  await settle(
    await api('POST', `${parent}/services?serviceId=ready-${i}`, {
      template: { containers: [{ image: sample }] },
    }),
  );
  ready.push(performance.now() - t0);
}

// 2. Router overhead at 2,000 requests/s.
const svc = await settle(
  await api('POST', `${parent}/services?serviceId=router`, {
    template: { containers: [{ image: probe }], scaling: { minInstanceCount: 1 } },
  }),
);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
function get(url: string): Promise<{ ms: number; body: string }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    request(url, { agent }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ ms: performance.now() - t0, body }));
    })
      .on('error', reject)
      .end();
  });
}
const { port: instancePort } = JSON.parse((await get(String(svc.uri))).body) as { port: string };
const direct = `http://127.0.0.1:${instancePort}/`;
async function load(url: string, rate: number, seconds: number): Promise<number[]> {
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const start = performance.now();
  let sent = 0;
  while (performance.now() - start < seconds * 1000) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    for (; sent < due; sent++) pending.push(get(url).then((r) => void latencies.push(r.ms)));
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(pending);
  return latencies;
}
await load(String(svc.uri), 500, 1); // warm both paths
await load(direct, 500, 1);
const overheads: { p50: number; p99: number; achieved: number }[] = [];
for (let i = 0; i < 3; i++) {
  const viaRouter = await load(String(svc.uri), 2000, 4);
  const straight = await load(direct, 2000, 4);
  overheads.push({
    p50: pct(viaRouter, 50) - pct(straight, 50),
    p99: pct(viaRouter, 99) - pct(straight, 99),
    achieved: viaRouter.length / 4,
  });
}

// 3. Memory: 50 services with 2 revisions each.
for (let i = 0; i < 7; i++) await api('DELETE', `${parent}/services/ready-${i}`);
await api('DELETE', `${parent}/services/router`);
const many = 50;
const memAvailable = async () =>
  Number(/^MemAvailable:\s+(\d+)/m.exec(await readFile('/proc/meminfo', 'utf8'))?.[1] ?? 0);
const availableBefore = await memAvailable();
await Promise.all(
  Array.from({ length: many }, async (_, i) => {
    await settle(
      await api('POST', `${parent}/services?serviceId=mem-${i}`, {
        template: { containers: [{ image: sample }] },
      }),
    );
    await settle(
      await api('PATCH', `projects/${info.project}/locations/${info.region}/services/mem-${i}`, {
        template: { containers: [{ image: sample, env: [{ name: 'REVISION', value: '2' }] }] },
      }),
    );
  }),
);
async function tree(pid: number): Promise<number[]> {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    for (const t of await readdir(`/proc/${out[i]}/task`).catch(() => [] as string[])) {
      const text = await readFile(`/proc/${out[i]}/task/${t}/children`, 'utf8').catch(() => '');
      out.push(...text.split(/\s+/).filter(Boolean).map(Number));
    }
  }
  return out;
}
async function kb(pid: number, file: string, key: string): Promise<number> {
  const text = await readFile(`/proc/${pid}/${file}`, 'utf8').catch(() => '');
  return Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
}
await new Promise((r) => setTimeout(r, 500));
const availableAfter = await memAvailable();
const pids = await tree(stack.pid!);
let rss = 0;
let pss = 0;
for (const pid of pids) {
  rss += await kb(pid, 'status', 'VmRSS');
  pss += await kb(pid, 'smaps_rollup', 'Pss');
}

stack.kill('SIGTERM');
await new Promise((r) => stack.once('exit', r));
await rm(home, { recursive: true, force: true });

// 4. The IAM checks, in process: the shipped grants, a real issuer's tokens.
const grants = await readTerraformGrants({ dir: join(root, 'infra', 'envs', 'example') });
const policy = new Policy(grants.bindings, { project: grants.project });
const local = await startIssuer();
const workflow = `runway-workflow@${grants.project}.iam.gserviceaccount.com`;
const gate = policyGate({ policy, issuer: local.issuer, localUser: 'user:developer@local' });
const staging = `projects/${grants.project}/locations/us-central1/services/sample-staging`;
const deployerService = `projects/${grants.project}/locations/us-central1/services/runway-deployer`;
const callReq = {
  headers: {
    authorization: `Bearer ${local.issuer.accessToken(`serviceAccount:${workflow}`).token}`,
  },
} as IncomingMessage;
const audience = 'https://runway-deployer.invalid';
const idToken = local.issuer.idToken(
  `runway-push@${grants.project}.iam.gserviceaccount.com`,
  audience,
);
const invoker = invokerCheck(policy, local.issuer)!;
const timeEach = (n: number, f: () => void) => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    f();
    out.push(performance.now() - t);
  }
  return out;
};
const apiChecks = timeEach(20_000, () =>
  gate.authorize(callReq, 'run.googleapis.com', 'google.cloud.run.v2.Services.UpdateService', {
    resource: staging,
    serviceAccount: `projects/-/serviceAccounts/runway-app@${grants.project}.iam.gserviceaccount.com`,
  }),
);
const invokerChecks = timeEach(5_000, () => {
  if (
    invoker({ service: deployerService, audiences: [audience], authorization: `Bearer ${idToken}` })
  )
    throw new Error('the push account was refused');
});
await local.close();

const figures = {
  app_spawn_to_listen_ms_median: round(median(own)),
  revision_ready_ms_median: round(median(ready)),
  revision_ready_ratio: round(median(ready) / median(own)),
  router_rate_achieved_rps_median: round(median(overheads.map((o) => o.achieved)), 0),
  router_overhead_p50_ms_median: round(median(overheads.map((o) => o.p50)), 3),
  router_overhead_p99_ms_median: round(median(overheads.map((o) => o.p99)), 3),
  services: many,
  revisions_per_service: 2,
  processes: pids.length,
  rss_total_mb: round(rss / 1024, 0),
  pss_total_mb: round(pss / 1024, 0),
  // What the 50 services took from the machine: MemAvailable before and after starting them.
  memory_taken_by_services_mb: round((availableBefore - availableAfter) / 1024, 0),
  iam_api_check_p50_ms: round(pct(apiChecks, 50), 4),
  iam_api_check_p99_ms: round(pct(apiChecks, 99), 4),
  iam_invoker_check_p50_ms: round(pct(invokerChecks, 50), 4),
  iam_invoker_check_p99_ms: round(pct(invokerChecks, 99), 4),
};
console.log(
  `revision ready: ${figures.revision_ready_ms_median} ms vs the app's own ${figures.app_spawn_to_listen_ms_median} ms = ${figures.revision_ready_ratio}x (target <= 1.5x)`,
);
console.log(
  `router overhead at ${figures.router_rate_achieved_rps_median} req/s: p50 ${figures.router_overhead_p50_ms_median} ms, p99 ${figures.router_overhead_p99_ms_median} ms (target p99 <= 1 ms)`,
);
console.log(
  `${many} services x 2 revisions: ${pids.length} processes; RSS summed per process ${figures.rss_total_mb} MB (shared pages counted in each), PSS ${figures.pss_total_mb} MB, memory taken from the machine ${figures.memory_taken_by_services_mb} MB (target <= 2048 MB)`,
);
console.log(
  `IAM: an API call's check p50 ${figures.iam_api_check_p50_ms} ms, p99 ${figures.iam_api_check_p99_ms} ms; Cloud Run's invoker check (RS256 verify) p50 ${figures.iam_invoker_check_p50_ms} ms, p99 ${figures.iam_invoker_check_p99_ms} ms (target p99 <= 1 ms)`,
);
console.log(JSON.stringify(figures));
