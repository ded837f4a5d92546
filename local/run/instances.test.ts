// A revision's instances with a real process (the sample app): retired, a request starts one
// again (a tag URL may still call it); closed, nothing starts, so a request racing a deletion or
// the stack's close cannot leave a process nobody stops.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RevisionInstances, StartupError } from './instances.ts';
import { LogFile } from './process.ts';

const dir = await mkdtemp(join(tmpdir(), 'runway-instances-'));
const log = new LogFile(join(dir, 'app.log'));
after(async () => {
  await log.close();
  await rm(dir, { recursive: true, force: true });
});

const instances = () =>
  new RevisionInstances({
    argv: [process.execPath, 'server.js'],
    cwd: fileURLToPath(new URL('../../services/sample-app/', import.meta.url)),
    env: { PATH: process.env.PATH ?? '' },
    log,
    startupTimeoutMs: 10_000,
    idleMs: 60_000,
    graceMs: 500,
  });

test('retired: the next request starts an instance again', async () => {
  const r = instances();
  await r.start();
  await r.retire();
  assert.equal(r.running, false);
  const lease = await r.acquire();
  assert.equal(r.running, true);
  lease.release();
  await r.close();
});

test('closed: a request after it starts nothing and is refused', async () => {
  const r = instances();
  await r.start();
  await r.close();
  assert.equal(r.running, false);
  await assert.rejects(r.acquire(), (e) => e instanceof StartupError);
  assert.equal(r.running, false, 'no instance started after close');
});
