// `runway logs NAME`: a service's and a worker pool's revision logs, as the local Cloud Run writes
// them under the stack's home, all revisions or one.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { CliIo } from '../io.ts';
import { logsCommand } from './logs.ts';

let home: string;

async function runLogs(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (d) => out.push(String(d)));
  stderr.on('data', (d) => err.push(String(d)));
  const io: CliIo = { stdout, stderr, env: {}, cwd: home, stopSignal: new Promise(() => {}) };
  const code = await logsCommand([...args, '--home', home], io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'runway-logs-'));
  const pool = join(home, 'logs', 'workerPools', 'queue');
  await mkdir(pool, { recursive: true });
  await writeFile(
    join(pool, 'queue-00001-abc.log'),
    '2026-01-01T00:00:01.000Z instance 0 stdout: pulled job 1\n',
  );
  await writeFile(
    join(pool, 'queue-00002-def.log'),
    '2026-01-01T00:00:02.000Z instance 1 stderr: job 2 failed\n',
  );
  const svc = join(home, 'logs', 'services', 'web');
  await mkdir(svc, { recursive: true });
  await writeFile(join(svc, 'web-00001-xyz.log'), '2026-01-01T00:00:03.000Z stdout: GET /\n');
});

after(() => rm(home, { recursive: true, force: true }));

describe('runway logs', () => {
  const cases: { name: string; args: string[]; code: number; has: RegExp[]; not?: RegExp[] }[] = [
    {
      name: "a worker pool's revisions, each line named by its revision",
      args: ['queue'],
      code: 0,
      has: [/queue-00001-abc instance 0 stdout: pulled job 1/, /queue-00002-def instance 1 stderr/],
      not: [/GET \//],
    },
    {
      name: 'one revision of a worker pool',
      args: ['queue', '--revision', 'queue-00002-def'],
      code: 0,
      has: [/instance 1 stderr: job 2 failed/],
      not: [/pulled job 1/],
    },
    { name: 'a service still', args: ['web'], code: 0, has: [/stdout: GET \//] },
    {
      name: 'a name with no logs',
      args: ['nothing'],
      code: 1,
      has: [/no logs for service or worker pool nothing/],
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const r = await runLogs(c.args);
      assert.equal(r.code, c.code, r.stderr);
      for (const re of c.has) assert.match(r.stdout + r.stderr, re);
      for (const re of c.not ?? []) assert.doesNotMatch(r.stdout, re);
    });
  }
});
