// `npm run demo` as a new user runs it: exit 0, every scenario as expected, a summary table, and
// nothing left running afterwards: no process of the stack, no port it listened on.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startTimeOf } from '../../local/process-ledger.ts';
import { listeningPorts } from '../../local/run/process.ts';
import type { StackInfo } from '../../local/stack.ts';
import {
  alive,
  commandOf,
  descendants,
  listenersAmong,
  processesUnder,
} from '../helpers/processes.ts';

const root = new URL('../../', import.meta.url).pathname;

/** The demo's stack.json, once written: the demo makes its home in TMPDIR, which is ours. */
async function stackInfoIn(tmp: string): Promise<StackInfo | undefined> {
  for (const dir of await readdir(tmp).catch(() => [] as string[])) {
    if (!dir.startsWith('runway-demo-home-')) continue;
    try {
      return JSON.parse(await readFile(join(tmp, dir, 'stack.json'), 'utf8')) as StackInfo;
    } catch {}
  }
  return undefined;
}

test('runway demo runs the five releases and ends with a summary and exit 0, leaving nothing running', async () => {
  // Everything the demo makes (its home, the registry's snapshots, the sample copies) goes under
  // this TMPDIR, and every process it starts runs in it or inherits it: /proc finds leftovers.
  const tmp = await mkdtemp(join(tmpdir(), 'runway-demo-test-'));
  const child = spawn(
    process.execPath,
    [join(root, 'bin', 'runway.js'), 'demo', '--time-scale', '20'],
    { cwd: root, env: { ...process.env, TMPDIR: tmp } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));

  // While it runs: every process of the stack (with its start time, so a reused pid is not
  // taken for it), the ports in stack.json, and every port the process tree listens on.
  const seen = new Map<number, { start: number | undefined; command: string }>();
  const ports = new Set<number>();
  let info: StackInfo | undefined;
  let done = false;
  void exited.then(() => (done = true));
  // A child it failed to stop keeps the demo's event loop alive: past its last line, it must exit.
  let lastLineAt: number | undefined;
  let hung = false;
  while (!done) {
    for (const pid of await descendants(child.pid!))
      if (!seen.has(pid)) seen.set(pid, { start: startTimeOf(pid), command: commandOf(pid) });
    info ??= await stackInfoIn(tmp);
    if (info) for (const port of await listeningPorts(child.pid!)) ports.add(port);
    if (lastLineAt === undefined && /releases (ended|did not end) as expected/.test(stdout))
      lastLineAt = Date.now();
    if (lastLineAt !== undefined && Date.now() - lastLineAt > 20_000 && !hung) {
      hung = true;
      child.kill('SIGKILL');
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const code = await exited;
  if (info)
    for (const url of [
      info.run,
      info.workflows,
      info.pubsub,
      info.registry,
      info.monitoring,
      info.deployer,
      ...(info.scheduler ? [info.scheduler] : []),
    ])
      ports.add(Number(new URL(url).port));
  const left = [...seen]
    .filter(([pid, p]) => alive(pid) && startTimeOf(pid) === p.start)
    .map(([pid, p]) => ({ pid, command: p.command }));
  const under = await processesUnder(tmp);
  // A port still listening is a leftover unless another process, not the demo's, holds it (the
  // broken build's fixed port 8000 may be another test's at the same moment).
  const ours = new Set([...seen.keys(), ...under.map((u) => u.pid)]);
  const listening = (await listenersAmong(ports))
    .filter((l) => l.pid === undefined || ours.has(l.pid))
    .map((l) => l.port);
  try {
    assert.deepEqual(left, [], 'no process of the stack is left');
    assert.deepEqual(under, [], 'no process runs in or for the demo home');
    assert.deepEqual(listening, [], `none of ${[...ports].join(', ')} listens`);
    assert.equal(hung, false, 'the demo exited after its last line');
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /local cloud up in/);
    for (const scenario of [
      'v1: first release',
      'v2: canary promotion',
      'a build failing its checks',
      'a build listening on 8000',
      'v2.1 to two regions',
    ]) {
      assert.match(stdout, new RegExp(`${scenario}.*(PROMOTED|REJECTED)`));
    }
    // The two-region release's stages name their regions.
    assert.match(stdout, /✓ promote .*europe-west1: canary to sample-global-/);
    // One clock (the wall) for every time; each stage's workflow time is labelled beside it.
    assert.match(stdout, /✓ promote +\d+(\.\d)?s \(\d+(\.\d)?s in workflow time, x20\)/);
    // Wall time first (13s or 3.6s); workflow time only in its labelled bracket.
    assert.doesNotMatch(stdout, /✓ promote +\d+(\.\d)?s(?! \(\d)/);
    assert.match(stdout, /SCENARIO\s+DIGEST\s+OUTCOME\s+EXPECTED\s+LIVE AFTER/);
    assert.match(stdout, /✓ all releases ended as expected/);
    // The checks above saw something: the stack's processes, and its ports.
    assert.ok(info, 'the demo wrote stack.json while it ran');
    assert.ok(seen.size >= 3, `the demo ran its stack's processes (${seen.size})`);
    assert.ok(ports.size >= 7, `the stack listened on its ports (${[...ports].join(', ')})`);
  } finally {
    // A failed run must not leave its leftovers to the next: stop the groups found above.
    for (const { pid } of [...left, ...under]) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    }
    await rm(tmp, { recursive: true, force: true });
  }
});
