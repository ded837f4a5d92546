// Deployer cold start: process spawn to the first push acknowledged, for the esbuild bundle as
// production runs it (target <= 400 ms and <= 3x a bare Node HTTP server's spawn-to-first-response
// in the same run). The Executions endpoint is a stub that accepts every create.
// Medians of several runs; the last line is one JSON object of all figures.
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { deployerEnv, deployerNodeArgs } from './deployer-command.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'ignore' });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const stub = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      req.method === 'GET'
        ? '{"executions":[]}'
        : '{"name":"projects/p/locations/l/workflows/w/executions/x","state":"ACTIVE"}',
    );
  });
});
await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
const stubHost = `127.0.0.1:${(stub.address() as AddressInfo).port}`;

const IMG = 'us-central1-docker.pkg.dev/local-project/apps/sample-app';
const body = JSON.stringify({
  message: {
    data: Buffer.from(
      JSON.stringify({ action: 'INSERT', digest: `${IMG}@sha256:${'a'.repeat(64)}` }),
    ).toString('base64'),
    messageId: '1',
  },
  subscription: 'projects/local-project/subscriptions/runway-push',
});

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
const deployerVariables = deployerEnv(stubHost, 'ERROR');
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
