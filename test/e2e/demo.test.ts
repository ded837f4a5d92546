// `npm run demo` as a new user runs it: exit 0, every scenario as expected, a summary table, and
// nothing left running afterwards.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const root = new URL('../../', import.meta.url).pathname;

test('runway demo runs the four releases and ends with a summary and exit 0', async () => {
  const child = spawn(
    process.execPath,
    [join(root, 'bin', 'runway.js'), 'demo', '--time-scale', '20'],
    {
      cwd: root,
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, `${stdout}\n${stderr}`);
  assert.match(stdout, /local cloud up in/);
  for (const scenario of [
    'v1: first release',
    'v2: canary promotion',
    'a build failing its checks',
    'a build listening on 8000',
  ]) {
    assert.match(stdout, new RegExp(`${scenario}.*(PROMOTED|REJECTED)`));
  }
  // One clock (the wall) for every time; each stage's workflow time is labelled beside it.
  assert.match(stdout, /✓ promote +\d+\.\ds \(\d+(\.\d)?s in workflow time, x20\)/);
  assert.doesNotMatch(stdout, /✓ promote +\d+s /);
  assert.match(stdout, /SCENARIO\s+DIGEST\s+OUTCOME\s+EXPECTED\s+LIVE AFTER/);
  assert.match(stdout, /✓ all releases ended as expected/);
});
