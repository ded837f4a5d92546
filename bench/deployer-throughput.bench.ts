// Deployer throughput: the esbuild bundle in its own process, started by the Dockerfile's CMD;
// unauthenticated pushes (emulator mode) on loopback against a stub Executions endpoint, driven
// open-loop at a fixed rate for a fixed time over keep-alive connections. Latency counts from each request's scheduled send time,
// so a stalled deployer cannot hide behind a stalled generator. Two paths:
//   distinct:  every push a new digest: list ACTIVE executions, then create one (2 upstream calls)
//   duplicate: every push the same digest, already running: the list call only, nothing started
// Targets: >= 2,000 pushes/s sustained, p99 <= 25 ms, deployer RSS <= 120 MB. The deployer runs
// under its Cloud Run memory limit (services/deployer/startup/memory-limit.ts; `memoryLimit` says how).
// The last line is one JSON object of all figures.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  DEPLOYER_MEMORY_MIB,
  deployerEnv,
  deployerNodeArgs,
  pushBody,
} from '../services/deployer/startup/command.ts';
import { memoryLimit } from '../services/deployer/startup/memory-limit.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const RATE = Number(process.env.RATE ?? 2000);
const SECONDS = Number(process.env.SECONDS ?? 10);
const WARMUP_SECONDS = 2;
execFileSync(process.execPath, ['scripts/build.mjs', '--only', 'deployer', '--code-cache'], {
  cwd: root,
  stdio: 'ignore',
});

const DUP = 'd'.repeat(12);
let creates = 0;
const stub = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.method === 'GET') {
      const running = decodeURIComponent(req.url ?? '').includes(`labels.digest="${DUP}"`);
      res.end(
        running
          ? '{"executions":[{"name":"projects/p/locations/l/workflows/w/executions/r","state":"ACTIVE"}]}'
          : '{"executions":[]}',
      );
      return;
    }
    creates++;
    res.end(
      `{"name":"projects/p/locations/l/workflows/w/executions/x${creates}","state":"ACTIVE"}`,
    );
  });
});
stub.keepAliveTimeout = 60_000;
await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
const stubHost = `127.0.0.1:${(stub.address() as AddressInfo).port}`;

const port = 19_400 + Math.floor(Math.random() * 500);
// DEPLOYER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the deployer under load.
const nodeArgs = (process.env.DEPLOYER_NODE_ARGS ?? '').split(' ').filter(Boolean);
// Under Cloud Run's memory limit for the deployer, from which Node sizes V8's heap.
const limit = memoryLimit(DEPLOYER_MEMORY_MIB);
const [command, ...args] = limit.wrap([process.execPath, ...nodeArgs, ...deployerNodeArgs(root)]);
const child = spawn(command!, args, {
  cwd: root,
  env: { ...deployerEnv(stubHost, 'INFO'), PATH: process.env.PATH, PORT: String(port) },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const status = () => readFileSync(`/proc/${child.pid}/status`, 'utf8');
const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status())?.[1] ?? 0);

const agent = new Agent({ keepAlive: true, maxSockets: 256 });
function post(payload: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/pubsub/artifact-registry',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(payload);
  });
}

for (;;) {
  if ((await post(pushBody('0'.repeat(64), 0))) === 204) break;
  await new Promise((r) => setTimeout(r, 20));
}

let seq = 1;
/** Open loop: request i is due at t0 + i / rate, whatever happened to the earlier ones. */
async function drive(seconds: number, digest: () => string, rate = RATE) {
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  let failed = 0;
  let sent = 0;
  const t0 = performance.now();
  const rssSamples: number[] = [];
  const sampler = setInterval(() => rssSamples.push(kb('VmRSS')), 100);
  await new Promise<void>((done) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
      for (; sent < due; sent++) {
        const scheduled = t0 + (sent * 1000) / rate;
        const payload = pushBody(digest(), seq++);
        pending.push(
          post(payload).then((s) => {
            if (s !== 204) failed++;
            latencies.push(performance.now() - scheduled);
          }),
        );
      }
      if (sent < total) setTimeout(tick, 1);
      else done();
    };
    tick();
  });
  await Promise.all(pending);
  clearInterval(sampler);
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!;
  return {
    requests: total,
    failed,
    achievedPerSecond: Math.round(total / elapsed),
    p50Ms: Number(pct(0.5).toFixed(2)),
    p99Ms: Number(pct(0.99).toFixed(2)),
    maxMs: Number(latencies.at(-1)!.toFixed(2)),
    peakSampledRssMb: Math.round(Math.max(...rssSamples) / 1024),
  };
}

const distinct = () => seq.toString(16).padStart(64, '0');
const duplicate = () => `${DUP}${'0'.repeat(52)}`;
// Warm-up (JIT, connection pools) below saturation, then the cheap path, then the expensive one.
await drive(WARMUP_SECONDS / 2, distinct, 300);
await drive(WARMUP_SECONDS / 2, duplicate);
const dupCreatesBefore = creates;
const u = await drive(SECONDS, duplicate);
const startedDuplicate = creates - dupCreatesBefore;
const duplicateHwmMb = Math.round(kb('VmHWM') / 1024);
const createsBefore = creates;
const d = await drive(SECONDS, distinct);
const startedDistinct = creates - createsBefore;
const peakRssMb = Math.round(kb('VmHWM') / 1024);
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
stub.close();
agent.destroy();
await limit.close();

console.log(
  `distinct digests: ${d.achievedPerSecond}/s, p50 ${d.p50Ms} ms, p99 ${d.p99Ms} ms, ${startedDistinct} executions started, ${d.failed} failed`,
);
console.log(
  `duplicate digest: ${u.achievedPerSecond}/s, p50 ${u.p50Ms} ms, p99 ${u.p99Ms} ms, ${startedDuplicate} executions started, ${u.failed} failed`,
);
console.log(
  `deployer RSS: peak ${peakRssMb} MB (VmHWM), ${duplicateHwmMb} MB by the end of the duplicate run, ${d.peakSampledRssMb} MB in the distinct run`,
);
console.log(
  JSON.stringify({
    targetRate: RATE,
    seconds: SECONDS,
    memoryLimit: `${limit.mib} MiB by ${limit.how}`,
    distinctRate: d.achievedPerSecond,
    distinctP50Ms: d.p50Ms,
    distinctP99Ms: d.p99Ms,
    distinctMaxMs: d.maxMs,
    distinctFailed: d.failed,
    distinctStarted: startedDistinct,
    duplicateRate: u.achievedPerSecond,
    duplicateP50Ms: u.p50Ms,
    duplicateP99Ms: u.p99Ms,
    duplicateMaxMs: u.maxMs,
    duplicateFailed: u.failed,
    duplicatePeakRssMb: duplicateHwmMb,
    distinctPeakRssMb: d.peakSampledRssMb,
    duplicateStarted: startedDuplicate,
    peakRssMb,
    targetP99Ms: 25,
    targetRssMb: 120,
  }),
);
