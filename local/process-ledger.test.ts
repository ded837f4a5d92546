import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { alive } from '../test/helpers/processes.ts';
import {
  liveOwner,
  ProcessLedger,
  type ProcessRecord,
  startTimeOf,
  stopLeftovers,
} from './process-ledger.ts';

const started: ChildProcess[] = [];
after(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** `sh -c script` in a process group of its own; resolves with its first line of output. */
async function group(script: string): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn('sh', ['-c', script], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  started.push(child);
  const line = await new Promise<string>((resolve) =>
    child.stdout!.once('data', (d) => resolve(String(d).trim())),
  );
  return { child, line };
}

async function ledgerIn(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'runway-ledger-')), 'processes');
}

/** A record as a stack that has since died (its owner's start time no longer matches) wrote it. */
function orphanRecord(dir: string, pid: number, start: number | undefined): void {
  const record: ProcessRecord = {
    pid,
    start: start ?? 0,
    what: 'test',
    owner: process.pid,
    ownerStart: -1,
  };
  writeFileSync(join(dir, `${pid}.json`), JSON.stringify(record));
}

describe('process ledger', () => {
  test('add writes a record with the start time at once; remove deletes it', async () => {
    const dir = await ledgerIn();
    const ledger = new ProcessLedger(dir);
    const { child } = await group('echo up; sleep 60');
    ledger.add(child.pid, 'sleeper');
    const record = JSON.parse(
      readFileSync(join(dir, `${child.pid}.json`), 'utf8'),
    ) as ProcessRecord;
    assert.equal(record.pid, child.pid);
    assert.equal(record.start, startTimeOf(child.pid!));
    assert.equal(record.owner, process.pid);
    assert.equal(record.ownerStart, startTimeOf(process.pid));
    ledger.remove(child.pid);
    assert.equal(existsSync(join(dir, `${child.pid}.json`)), false);
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  test('a dead owner: its group is stopped, children included, and forgotten', async () => {
    const dir = await ledgerIn();
    new ProcessLedger(dir);
    const { child, line } = await group('sleep 60 & echo $!; wait');
    const grandchild = Number(line);
    orphanRecord(dir, child.pid!, startTimeOf(child.pid!));
    assert.deepEqual(await stopLeftovers(dir), [`test (pid ${child.pid})`]);
    assert.equal(alive(child.pid!), false);
    assert.equal(alive(grandchild), false);
    assert.equal(existsSync(join(dir, `${child.pid}.json`)), false);
    await rm(dir, { recursive: true, force: true });
  });

  test('the leader gone, the members of its group are still stopped', async () => {
    const dir = await ledgerIn();
    new ProcessLedger(dir);
    // The shell leads the group, starts a sleep in it, and exits.
    const { child, line } = await group('sleep 60 & echo $!');
    const member = Number(line);
    const start = startTimeOf(child.pid!);
    await new Promise((r) => child.once('exit', r));
    orphanRecord(dir, child.pid!, start);
    assert.ok(alive(member));
    assert.equal((await stopLeftovers(dir)).length, 1);
    assert.equal(alive(member), false);
    await rm(dir, { recursive: true, force: true });
  });

  test('a pid now another process (start time differs) is never signalled', async () => {
    const dir = await ledgerIn();
    new ProcessLedger(dir);
    const { child } = await group('echo up; sleep 60');
    orphanRecord(dir, child.pid!, startTimeOf(child.pid!)! - 1);
    assert.deepEqual(await stopLeftovers(dir), []);
    assert.ok(alive(child.pid!), 'the process that reused the pid still runs');
    assert.equal(existsSync(join(dir, `${child.pid}.json`)), false, 'the stale record is gone');
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  test('a live owner keeps its children, and liveOwner names it', async () => {
    const dir = await ledgerIn();
    new ProcessLedger(dir);
    const owner = await group('echo up; sleep 60');
    const { child } = await group('echo up; sleep 60');
    const record: ProcessRecord = {
      pid: child.pid!,
      start: startTimeOf(child.pid!)!,
      what: 'test',
      owner: owner.child.pid!,
      ownerStart: startTimeOf(owner.child.pid!)!,
    };
    writeFileSync(join(dir, `${child.pid}.json`), JSON.stringify(record));
    assert.equal(liveOwner(dir), owner.child.pid);
    assert.deepEqual(await stopLeftovers(dir), []);
    assert.ok(alive(child.pid!));
    owner.child.kill('SIGKILL');
    await new Promise((r) => owner.child.once('exit', r));
    assert.equal(liveOwner(dir), undefined);
    assert.equal((await stopLeftovers(dir)).length, 1);
    assert.equal(alive(child.pid!), false);
    await rm(dir, { recursive: true, force: true });
  });

  test('a record cut short by a kill is forgotten', async () => {
    const dir = await ledgerIn();
    new ProcessLedger(dir);
    writeFileSync(join(dir, '123.json'), '{"pid":12');
    assert.deepEqual(await stopLeftovers(dir), []);
    assert.equal(existsSync(join(dir, '123.json')), false);
    await rm(dir, { recursive: true, force: true });
  });
});
