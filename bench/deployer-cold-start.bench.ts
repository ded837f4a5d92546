// Deployer cold start: process spawn to the first push acknowledged, for the bundle and its code
// cache as production runs them (target <= 400 ms and <= 3x a bare Node HTTP server's spawn-to-first-response
// in the same run). The Executions endpoint is a stub that accepts every create. Both processes run
// under Cloud Run's memory limit for the deployer, in a memory cgroup where this machine allows one
// (services/deployer/startup/memory-limit.ts; `memoryLimit` in the figures says how).
// Medians of several runs; the last line is one JSON object of all figures.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEPLOYER_MEMORY_MIB,
  deployerEnv,
  deployerNodeArgs,
  deployerNodeArgsFor,
  pushBody,
  startStubExecutions,
} from '../services/deployer/startup/command.ts';
import { memoryLimit } from '../services/deployer/startup/memory-limit.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
// Built as the image is: the bundle and its code cache. The floor (bench/fixtures/deployer-floor.ts:
// Express and the Workflows client alone, answering a push with the same two calls) the same way.
const build = (...extra: string[]) =>
  execFileSync(
    process.execPath,
    ['scripts/build.mjs', '--only', 'deployer', '--code-cache', '--no-sourcemap', ...extra],
    { cwd: root, stdio: 'ignore' },
  );
build();
const floorDir = mkdtempSync(join(tmpdir(), 'runway-floor-'));
build('--outdir', floorDir, '--deployer-entry', 'bench/fixtures/deployer-floor.ts');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const limit = memoryLimit(DEPLOYER_MEMORY_MIB);
const stub = await startStubExecutions();
const body = pushBody('a'.repeat(64));

let port = 19100;
async function timeToFirst(
  command: string[],
  env: NodeJS.ProcessEnv,
  request: (url: string) => Promise<Response>,
): Promise<number> {
  const p = port++;
  const t0 = performance.now();
  const child = spawn(command[0]!, command.slice(1), {
    cwd: root,
    env: { ...env, PORT: String(p), PATH: process.env.PATH },
    stdio: 'ignore',
  });
  try {
    for (;;) {
      try {
        const res = await request(`http://127.0.0.1:${p}`);
        if (res.status < 500) return performance.now() - t0;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    child.kill('SIGKILL');
  }
}

const bare = [
  process.execPath,
  '-e',
  `require('node:http').createServer((q, s) => s.end('ok')).listen(process.env.PORT)`,
];
const deployer = limit.wrap([process.execPath, ...deployerNodeArgs(root)]);
const floor = limit.wrap([
  process.execPath,
  ...deployerNodeArgsFor(root, join(floorDir, 'deployer')),
]);
const deployerVariables = deployerEnv(stub.host, 'ERROR');
const push = (u: string) =>
  fetch(`${u}/pubsub/artifact-registry`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
// The bare server both ways: under the limit as the deployer is (the ratio's baseline; joining a
// memory cgroup costs a new process some milliseconds here), and as a plain child process.
const series = {
  bare: [] as number[],
  bareUnlimited: [] as number[],
  floor: [] as number[],
  deployer: [] as number[],
};
for (let i = 0; i < 9; i++) {
  series.bare.push(await timeToFirst(limit.wrap(bare), {}, (u) => fetch(u)));
  series.bareUnlimited.push(await timeToFirst(bare, {}, (u) => fetch(u)));
  series.floor.push(await timeToFirst(floor, deployerVariables, push));
  series.deployer.push(await timeToFirst(deployer, deployerVariables, push));
  console.log(
    `run ${i}: bare ${series.bare[i]!.toFixed(0)} ms (${series.bareUnlimited[i]!.toFixed(0)} ms unlimited), floor ${series.floor[i]!.toFixed(0)} ms, deployer first push acked ${series.deployer[i]!.toFixed(0)} ms`,
  );
}
stub.close();
await limit.close();
rmSync(floorDir, { recursive: true, force: true });
const figures = {
  memoryLimit: `${limit.mib} MiB by ${limit.how}`,
  bareNodeMsMedian: Math.round(median(series.bare)),
  bareNodeUnlimitedMsMedian: Math.round(median(series.bareUnlimited)),
  floorFirstPushMsMedian: Math.round(median(series.floor)),
  deployerFirstPushMsMedian: Math.round(median(series.deployer)),
  ratio: Number((median(series.deployer) / median(series.bare)).toFixed(2)),
  floorRatio: Number((median(series.floor) / median(series.bare)).toFixed(2)),
  ratioToUnlimitedBare: Number((median(series.deployer) / median(series.bareUnlimited)).toFixed(2)),
  targetMs: 400,
  targetRatio: 3,
};
console.log(JSON.stringify(figures));
