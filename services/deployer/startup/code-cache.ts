// Makes the deployer's V8 code cache (see boot.ts): starts the built bundle with
// its Dockerfile's node flags (V8 refuses a cache made under other flags), serves one push against a
// stub Executions endpoint, stops it with SIGTERM, and the bundle writes what V8 compiled.
//   node --import tsx services/deployer/startup/code-cache.ts DIR   (DIR holds index.cjs and deployer.cjs)
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deployerEnv, deployerNodeArgsFor, pushBody, startStubExecutions } from './command.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const dir = resolve(process.argv[2] ?? 'dist/deployer');
const stub = await startStubExecutions();
const port = 20_000 + Math.floor(Math.random() * 10_000);
const child = spawn(process.execPath, deployerNodeArgsFor(root, dir), {
  cwd: root,
  env: {
    ...deployerEnv(stub.host, 'ERROR'),
    PATH: process.env.PATH,
    PORT: String(port),
    RUNWAY_CODE_CACHE: 'write',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const exited = new Promise<number | null>((r) => child.once('exit', r));

/** Pushes once the deployer listens; the status it answered. */
async function pushWhenListening(deadline: number): Promise<number> {
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/pubsub/artifact-registry`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: pushBody('c'.repeat(64)),
      });
      return res.status;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error('the deployer did not listen within 30 s', { cause: err });
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

try {
  const status = await pushWhenListening(Date.now() + 30_000);
  if (status !== 204) throw new Error(`the push was answered ${status}, not 204`);
  child.kill('SIGTERM');
  const code = await exited;
  const cache = `${dir}/deployer.cjs.cache`;
  if (code !== 0 || !existsSync(cache))
    throw new Error(`the deployer exited ${code} without writing ${cache}`);
  console.log(`code cache: ${cache} (${Math.round(statSync(cache).size / 1024)} KB)`);
} finally {
  child.kill('SIGKILL');
  stub.close();
}
