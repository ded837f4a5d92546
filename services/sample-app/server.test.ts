// The sample app and its broken builds behave as the demo needs, as real processes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function start(dir: string) {
  const port = await freePort();
  const child = spawn(process.execPath, ['server.js'], {
    cwd: fileURLToPath(new URL(dir, import.meta.url)),
    env: { PATH: process.env.PATH, PORT: String(port), K_REVISION: 'sample-00001' },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`${url}/version`).then(
      () => true,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    url,
    stop: () =>
      new Promise<number | null>((r) => {
        child.once('exit', (code) => r(code));
        child.kill('SIGTERM');
      }),
  };
}

describe('sample app', () => {
  test('serves health, version and home on $PORT and exits 0 on SIGTERM', async () => {
    const app = await start('./');
    try {
      assert.equal((await fetch(`${app.url}/healthz`)).status, 200);
      assert.deepEqual(await (await fetch(`${app.url}/version`)).json(), {
        version: '1.0.0',
        revision: 'sample-00001',
      });
      assert.match(await (await fetch(`${app.url}/`)).text(), /runway sample app/);
      assert.equal((await fetch(`${app.url}/nope`)).status, 404);
    } finally {
      assert.equal(await app.stop(), 0);
    }
  });
  test('the broken-checks build answers but fails its health route', async () => {
    const app = await start('./broken-checks/');
    try {
      assert.equal((await fetch(`${app.url}/healthz`)).status, 500);
    } finally {
      await app.stop();
    }
  });
});
