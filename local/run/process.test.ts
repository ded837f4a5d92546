// LogFile: lines land in the file; a line written while the stack stops, after the file closed,
// is dropped instead of throwing "write after end" where nothing can catch it.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LogFile } from './process.ts';

test('lines are appended; after close, writes are dropped without an error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'runway-logfile-'));
  const uncaught: unknown[] = [];
  const onError = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onError);
  try {
    const log = new LogFile(join(dir, 'nested', 'app.log'));
    log.write('stdout', 'first', 'rev-1');
    const closing = log.close();
    log.write('stderr', 'while closing');
    await closing;
    log.write('stdout', 'after close');
    await new Promise((r) => setTimeout(r, 20));
    const text = await readFile(join(dir, 'nested', 'app.log'), 'utf8');
    assert.match(text, /rev-1 stdout: first\n$/);
    assert.doesNotMatch(text, /closing|after close/);
    assert.deepEqual(uncaught, []);
  } finally {
    process.off('uncaughtException', onError);
    await rm(dir, { recursive: true, force: true });
  }
});
