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

async function start(dir: string, knobs: Record<string, string> = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, ['server.js'], {
    cwd: fileURLToPath(new URL(dir, import.meta.url)),
    env: { PATH: process.env.PATH, PORT: String(port), K_REVISION: 'sample-00001', ...knobs },
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

  const knobCases: { name: string; knobs: Record<string, string>; statuses: string }[] = [
    { name: 'no knobs: every answer 200', knobs: {}, statuses: '2222' },
    {
      name: 'ERROR_RATE=0.5: every other answer 500',
      knobs: { ERROR_RATE: '0.5' },
      statuses: '2525',
    },
    { name: 'ERROR_RATE=1: every answer 500', knobs: { ERROR_RATE: '1' }, statuses: '5555' },
    {
      name: 'ERROR_RATE with ERRORS_AFTER_SECONDS still ahead: no errors yet',
      knobs: { ERROR_RATE: '1', ERRORS_AFTER_SECONDS: '3600' },
      statuses: '2222',
    },
  ];
  for (const c of knobCases) {
    test(`knobs: ${c.name}`, async () => {
      const app = await start('./', c.knobs);
      try {
        let seen = '';
        for (let i = 0; i < c.statuses.length; i++) {
          seen += String((await fetch(`${app.url}/`)).status)[0];
        }
        assert.equal(seen, c.statuses);
        assert.equal((await fetch(`${app.url}/healthz`)).status, 200, 'health never fails');
      } finally {
        await app.stop();
      }
    });
  }

  test('knobs: LATENCY_MS delays the home page, not the health check', async () => {
    const app = await start('./', { LATENCY_MS: '300' });
    try {
      let t = performance.now();
      await fetch(`${app.url}/`);
      assert.ok(performance.now() - t >= 290, 'the home page waits');
      t = performance.now();
      await fetch(`${app.url}/healthz`);
      assert.ok(performance.now() - t < 290, 'the health check does not');
    } finally {
      await app.stop();
    }
  });

  test('CRASH_AFTER_SECONDS: serves, then exits 1 that long after start', async () => {
    const child = spawn(process.execPath, ['server.js'], {
      cwd: fileURLToPath(new URL('./', import.meta.url)),
      env: { PATH: process.env.PATH, PORT: '0', CRASH_AFTER_SECONDS: '0.3' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const t = performance.now();
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 1);
    assert.ok(performance.now() - t >= 250, 'it ran first');
    assert.match(stderr, /crashing on purpose \(CRASH_AFTER_SECONDS\)/);
  });

  for (const [name, value] of [
    ['ERROR_RATE', '2'],
    ['ERROR_RATE', 'half'],
    ['LATENCY_MS', '-1'],
    ['ERRORS_AFTER_SECONDS', 'Infinity'],
    ['CRASH_AFTER_SECONDS', '-5'],
  ] as const) {
    test(`knobs: ${name}=${value} stops the app with a message naming the knob`, async () => {
      const child = spawn(process.execPath, ['server.js'], {
        cwd: fileURLToPath(new URL('./', import.meta.url)),
        env: { PATH: process.env.PATH, PORT: '0', [name]: value },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (c) => (stderr += c));
      const code = await new Promise((r) => child.once('exit', r));
      assert.notEqual(code, 0);
      assert.match(stderr, new RegExp(`${name}=.*must be a number in`));
    });
  }
});
