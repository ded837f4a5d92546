// The deployer as its image runs it: the bundle built with its code cache (scripts/build.mjs
// --code-cache, as the Dockerfile's build stage does), started by the Dockerfile's CMD. Each cache
// state must serve the same push; only the listening line says whether V8's cache was used.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  deployerEnv,
  deployerNodeArgsFor,
  pushBody,
  startStubExecutions,
} from '../../services/deployer/startup/command.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'runway-image-'));
const dir = join(out, 'deployer');
const cacheFile = join(dir, 'deployer.cjs.cache');
let stub: Awaited<ReturnType<typeof startStubExecutions>>;
let made: Buffer;

before(async () => {
  execFileSync(
    process.execPath,
    ['scripts/build.mjs', '--only', 'deployer', '--outdir', out, '--no-sourcemap', '--code-cache'],
    { cwd: root, stdio: 'pipe' },
  );
  made = readFileSync(cacheFile);
  stub = await startStubExecutions();
});
after(() => stub.close());

/** Starts the image's command, acks one push, returns the listening line's codeCache. */
async function serveOnePush(): Promise<unknown> {
  const port = 21_000 + Math.floor(Math.random() * 9_000);
  const child = spawn(process.execPath, deployerNodeArgsFor(root, dir), {
    cwd: root,
    env: { ...deployerEnv(stub.host, 'INFO'), PATH: process.env.PATH, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (c) => (stdout += c));
  try {
    const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stdout}`)));
      child.stdout.on('data', () => {
        const line = stdout.split('\n').find((l) => l.includes('deployer listening'));
        if (line) resolve(JSON.parse(line));
      });
    });
    const res = await fetch(`http://127.0.0.1:${port}/pubsub/artifact-registry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: pushBody('e'.repeat(64)),
    });
    assert.equal(res.status, 204, stdout);
    return listening.codeCache;
  } finally {
    child.kill('SIGKILL');
  }
}

describe('the deployer image entry point and its code cache', () => {
  const cases: { name: string; cache: () => Buffer | null; expect: string }[] = [
    { name: 'the cache this build made is used', cache: () => made, expect: 'used' },
    {
      name: "another build's cache is not used",
      cache: () => Buffer.concat([Buffer.from(`${'0'.repeat(36)}\n`), made.subarray(37)]),
      expect: 'other-build',
    },
    {
      name: 'a corrupt cache is refused by V8 and the bundle compiles',
      cache: () => Buffer.concat([made.subarray(0, 37), Buffer.from('not V8 data'.repeat(50))]),
      expect: 'rejected',
    },
    { name: 'no cache at all', cache: () => null, expect: 'none' },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const data = c.cache();
      if (data) writeFileSync(cacheFile, data);
      else rmSync(cacheFile, { force: true });
      assert.equal(await serveOnePush(), c.expect);
    });
  }
});

describe('the bundle leaves out what the deployer loads but never uses (scripts/build.mjs)', () => {
  // Each a name only the real package's code contains (identifiers survive the minifier).
  const cases = [
    { name: 'gRPC (the clients speak REST)', marker: 'Http2SubchannelConnector' },
    { name: "debug's terminal probing", marker: 'inspectOpts' },
    { name: "mime-db's 2,500 types", marker: 'application/vnd.' },
  ];
  let bundle: Buffer;
  before(() => {
    bundle = readFileSync(join(dir, 'deployer.cjs'));
  });
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(bundle.includes(c.marker), false, `${c.marker} is in the bundle`);
    });
  }
  test('the bundle is one ASCII function expression, as boot.ts reads it', () => {
    assert.equal(
      bundle.findIndex((byte) => byte > 0x7f),
      -1,
    );
    assert.match(
      bundle.toString('latin1'),
      /^\(function \(exports, require, module, __filename, __dirname\) \{\n/,
    );
    assert.match(bundle.toString('latin1'), /\n\}\)$/);
  });
});
