// Deployer cold start: process spawn to the first push acknowledged, for the bundle and its code
// cache as production runs them (target <= 400 ms and <= 3x a bare Node HTTP server's spawn-to-first-response
// in the same run). The Executions endpoint is a stub that accepts every create.
// Medians of several runs; the last line is one JSON object of all figures.
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  deployerEnv,
  deployerNodeArgs,
  pushBody,
  startStubExecutions,
} from '../scripts/deployer-command.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
// Built as the image is: the bundle and its code cache.
execFileSync(process.execPath, ['scripts/build.mjs', '--only', 'deployer', '--code-cache'], {
  cwd: root,
  stdio: 'ignore',
});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const stub = await startStubExecutions();
const body = pushBody('a'.repeat(64));

let port = 19100;
async function timeToFirst(
  args: string[],
  env: NodeJS.ProcessEnv,
  request: (url: string) => Promise<Response>,
): Promise<number> {
  const p = port++;
  const t0 = performance.now();
  const child = spawn(process.execPath, args, {
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

const bare = `require('node:http').createServer((q, s) => s.end('ok')).listen(process.env.PORT)`;
const deployerArgs = deployerNodeArgs(root);
const deployerVariables = deployerEnv(stub.host, 'ERROR');
const bares: number[] = [];
const deployers: number[] = [];
for (let i = 0; i < 7; i++) {
  bares.push(await timeToFirst(['-e', bare], {}, (u) => fetch(u)));
  deployers.push(
    await timeToFirst(deployerArgs, deployerVariables, (u) =>
      fetch(`${u}/pubsub/artifact-registry`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      }),
    ),
  );
  console.log(
    `run ${i}: bare ${bares[i]!.toFixed(0)} ms, deployer first push acked ${deployers[i]!.toFixed(0)} ms`,
  );
}
stub.close();
const figures = {
  bareNodeMsMedian: Math.round(median(bares)),
  deployerFirstPushMsMedian: Math.round(median(deployers)),
  ratio: Number((median(deployers) / median(bares)).toFixed(2)),
  targetMs: 400,
  targetRatio: 3,
};
console.log(JSON.stringify(figures));
