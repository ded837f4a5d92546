import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { main } from './main.ts';

async function cli(argv: string[]) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stderr = '';
  err.on('data', (c) => (stderr += c));
  const code = await main(argv, {
    stdout: out,
    stderr: err,
    env: {},
    cwd: process.cwd(),
    stopSignal: new Promise(() => {}),
  });
  return { code, stderr };
}

const cases = [
  { name: 'no arguments prints usage', argv: [], code: 0, want: /usage:/ },
  { name: '--help prints usage', argv: ['--help'], code: 0, want: /runway workflows run/ },
  { name: 'unknown command', argv: ['deploy'], code: 2, want: /unknown command 'deploy'/ },
  { name: 'unknown subcommand', argv: ['workflows', 'explode'], code: 2, want: /unknown command/ },
  {
    name: 'a bad flag of a command',
    argv: ['demo', '--fast'],
    code: 2,
    want: /unknown flag --fast/,
  },
  {
    name: 'workflows run without a file',
    argv: ['workflows', 'run'],
    code: 2,
    want: /usage: runway workflows run FILE/,
  },
  { name: 'approve without a pipeline', argv: ['approve'], code: 2, want: /usage: runway approve/ },
  {
    name: 'rollback to a short digest',
    argv: ['rollback', 'web', '--to', 'abc123'],
    code: 2,
    want: /--to must be a digest/,
  },
  {
    name: 'release by tag',
    argv: ['release', 'web', 'us-central1-docker.pkg.dev/my-project/apps/web:v1'],
    code: 2,
    want: /must name the image by digest/,
  },
  {
    name: 'history, a bad limit',
    argv: ['history', 'web', '--limit', 'x'],
    code: 2,
    want: /--limit/,
  },
  {
    name: 'local env with no local stack running',
    argv: ['local', 'env', '--home', '/nonexistent-runway-home'],
    code: 2,
    want: /runway local env: no local stack is running/,
  },
  {
    name: 'abort with no local stack running',
    argv: ['abort', 'web', '--home', '/nonexistent-runway-home'],
    code: 2,
    want: /runway abort: no local stack is running/,
  },
];
for (const c of cases) {
  test(c.name, async () => {
    const r = await cli(c.argv);
    assert.equal(r.code, c.code);
    assert.match(r.stderr, c.want);
  });
}
