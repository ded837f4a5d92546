// The `runway local` commands as a user runs them: `local up` in its own process, `local push`,
// `status`, `logs`, then SIGTERM or SIGINT, after which no process of the stack may be left.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { startTimeOf } from '../../local/process-ledger.ts';
import { findEmulator } from '../../local/pubsub/emulator.ts';
import type { StackInfo, StartPhase } from '../../local/stack.ts';
import { alive, commandOf, descendants } from '../helpers/processes.ts';
import { waitForRelease } from '../../local/watch.ts';

const root = new URL('../../', import.meta.url).pathname;
const bin = join(root, 'bin', 'runway.js');

function runway(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `local up --json`, at time x20 unless `env` sets RUNWAY_TIME_SCALE. */
async function up(
  home: string,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; info: StackInfo }> {
  const scale = env.RUNWAY_TIME_SCALE === undefined ? ['--time-scale', '20'] : [];
  const child = spawn(
    process.execPath,
    [bin, 'local', 'up', '--json', ...scale, '--home', home, ...extra],
    {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`runway local up exited with ${code}`)));
  });
  return { child, info: JSON.parse(first) as StackInfo };
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  child.kill(signal);
  return exited;
}

describe('runway local', () => {
  test('up prints its endpoints as one JSON line; push releases; status and logs show it; SIGTERM leaves no process', async () => {
    const home = await mkdtemp(join(tmpdir(), 'runway-cli-'));
    const { child, info } = await up(home);
    try {
      for (const key of [
        'run',
        'workflows',
        'pubsub',
        'deployer',
        'project',
        'region',
        'pipelines',
      ] as const) {
        assert.ok(info[key], `--json has ${key}`);
      }
      // The web console is served with the stack.
      const ui = (info as StackInfo & { console?: string }).console ?? '';
      assert.match(ui, /^http:\/\/127\.0\.0\.1:\d+$/);
      const overview = await fetch(`${ui}/`);
      assert.equal(overview.status, 200);
      assert.match(await overview.text(), /<article class="card" id="pipeline-sample"/);
      assert.deepEqual(info.pipelines, [
        { name: 'sample', image: 'us-central1-docker.pkg.dev/local-project/apps/sample-app' },
        {
          name: 'sample-global',
          image: 'us-central1-docker.pkg.dev/local-project/apps/sample-global',
        },
      ]);
      const env = { RUNWAY_HOME: home };
      const pushed = await runway(
        ['local', 'push', 'services/sample-app', `${info.pipelines[0]!.image}:v1`],
        env,
      );
      assert.equal(pushed.code, 0, pushed.stderr);
      const digestRef = pushed.stdout.trim();
      assert.match(
        digestRef,
        /^us-central1-docker\.pkg\.dev\/local-project\/apps\/sample-app@sha256:[0-9a-f]{64}$/,
      );
      const release = await waitForRelease(info, digestRef.split('@')[1]!);
      assert.equal(release.result?.outcome, 'PROMOTED');

      const status = await runway(['status', '--json'], env);
      assert.equal(status.code, 0, status.stderr);
      const parsed = JSON.parse(status.stdout) as {
        services: { name: string; revisions: { digest: string; percent: number }[] }[];
      };
      const sample = parsed.services.find((s) => s.name === 'sample');
      assert.equal(
        sample?.revisions.find((r) => r.percent === 100)?.digest,
        digestRef.split('@')[1],
      );
      const table = await runway(['status'], env);
      assert.match(table.stdout, /PROMOTED/);

      const logs = await runway(['logs', 'sample'], env);
      assert.equal(logs.code, 0, logs.stderr);
      assert.match(logs.stdout, /listening on \d+/);
      // --follow prints what comes later: the next release's report.
      const follow = spawn(process.execPath, [bin, 'logs', '--workflows', '--follow'], {
        cwd: root,
        env: { ...process.env, ...env },
      });
      let followed = '';
      follow.stdout.on('data', (d) => (followed += d));
      await new Promise((r) => follow.stdout.once('data', r));
      const before = followed.length;
      // --wait follows the release and exits 1 because it is not promoted.
      const v2 = await runway(
        [
          'local',
          'push',
          'services/sample-app/broken-checks',
          `${info.pipelines[0]!.image}:bad`,
          '--wait',
        ],
        env,
      );
      assert.equal(v2.code, 1, v2.stderr);
      // Stage times on the wall clock, like the rest, with the x20 workflow time labelled.
      assert.match(
        v2.stderr,
        /✗ test +\d+\.\ds \(\d+(\.\d)?s in workflow time, x20\) +acceptance tests failed/,
      );
      assert.match(v2.stderr, /^REJECTED: acceptance tests failed/m);
      const bad = v2.stdout.trim().split('@')[1]!;
      const deadline = Date.now() + 10_000;
      while (!followed.slice(before).includes(bad) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(
        followed.slice(before).includes(bad),
        `--follow printed the new report: ${followed.slice(before)}`,
      );
      follow.kill('SIGINT');
      assert.equal(await new Promise((r) => follow.once('exit', r)), 0);

      const missing = await runway(['logs', 'no-such-service'], env);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no logs for service or worker pool no-such-service/);

      const pids = await descendants(child.pid!);
      assert.ok(pids.length >= 3, `the stack runs processes (${pids.length})`);
      assert.equal(await stop(child, 'SIGTERM'), 0);
      for (const pid of pids)
        assert.equal(alive(pid), false, `process ${pid} was left behind: ${commandOf(pid)}`);
      const after = await runway(
        ['local', 'push', 'services/sample-app', `${info.pipelines[0]!.image}:v2`],
        env,
      );
      assert.equal(after.code, 2);
      assert.match(after.stderr, /no local cloud is running/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(home, { recursive: true, force: true });
    }
  });

  test('Ctrl-C (SIGINT) stops everything too; RUNWAY_TIME_SCALE is the default time scale', async () => {
    const home = await mkdtemp(join(tmpdir(), 'runway-cli-'));
    const { child, info } = await up(home, ['--pubsub', 'bridge'], { RUNWAY_TIME_SCALE: '7' });
    try {
      assert.equal(info.timeScale, 7);
      const pids = await descendants(child.pid!);
      assert.equal(await stop(child, 'SIGINT'), 0);
      for (const pid of pids)
        assert.equal(alive(pid), false, `process ${pid} was left behind: ${commandOf(pid)}`);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(home, { recursive: true, force: true });
    }
  });

  test('after a stack killed with SIGKILL, the next up stops what it left; a second up in a running home is refused', async () => {
    const home = await mkdtemp(join(tmpdir(), 'runway-cli-'));
    const first = await up(home, ['--pubsub', 'bridge']);
    const left = await descendants(first.child.pid!);
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    const orphans = left.filter(alive);
    assert.ok(orphans.length > 0, 'a SIGKILLed stack leaves its revision processes running');
    const second = await up(home, ['--pubsub', 'bridge']);
    try {
      for (const pid of orphans)
        assert.equal(alive(pid), false, `orphan ${pid} still runs: ${commandOf(pid)}`);
      const third = await runway(['local', 'up', '--home', home, '--pubsub', 'bridge']);
      assert.equal(third.code, 1);
      assert.match(third.stderr, /a local cloud is already running from/);
      assert.equal(await stop(second.child, 'SIGTERM'), 0);
    } finally {
      if (second.child.exitCode === null) second.child.kill('SIGKILL');
      await rm(home, { recursive: true, force: true });
    }
  });

  // RUNWAY_TEST_PAUSE_AT holds `local up` at a phase, so the SIGKILL lands there every time.
  const noEmulator = findEmulator(process.env)
    ? false
    : "gcloud's Pub/Sub emulator is not installed";
  const killedAt: { phase: StartPhase; pubsub: 'emulator' | 'bridge'; expect?: RegExp }[] = [
    { phase: 'pubsub', pubsub: 'emulator', expect: /java/ },
    { phase: 'build', pubsub: 'emulator', expect: /java/ },
    { phase: 'deployer', pubsub: 'emulator', expect: /java/ },
    { phase: 'deployer', pubsub: 'bridge' },
  ];
  for (const c of killedAt) {
    test(`killed with SIGKILL at ${c.phase} (Pub/Sub ${c.pubsub}), the next up leaves no orphan`, {
      skip: c.pubsub === 'emulator' && noEmulator,
    }, async () => {
      const home = await mkdtemp(join(tmpdir(), 'runway-cli-'));
      const first = spawn(
        process.execPath,
        [bin, 'local', 'up', '--json', '--home', home, '--pubsub', c.pubsub],
        {
          cwd: root,
          env: { ...process.env, RUNWAY_TEST_PAUSE_AT: c.phase },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let second: ChildProcess | undefined;
      try {
        await new Promise<void>((resolve, reject) => {
          let stderr = '';
          first.stderr!.on('data', (d) => {
            stderr += d;
            if (stderr.includes(`paused at ${c.phase}`)) resolve();
          });
          first.once('exit', (code) =>
            reject(new Error(`local up exited with ${code}: ${stderr}`)),
          );
        });
        // Each process with its start time, so a pid the kernel reuses is not taken for it.
        const left = (await descendants(first.pid!)).map((pid) => ({
          pid,
          start: startTimeOf(pid),
          command: commandOf(pid),
        }));
        if (c.expect)
          assert.ok(
            left.some((p) => c.expect!.test(p.command)),
            `running at ${c.phase}: ${left.map((p) => p.command).join('\n')}`,
          );
        first.kill('SIGKILL');
        await new Promise((r) => first.once('exit', r));
        const running = (p: (typeof left)[number]) =>
          alive(p.pid) && startTimeOf(p.pid) === p.start;
        assert.ok(left.some(running), 'a SIGKILLed local up leaves processes running');

        second = (await up(home, ['--pubsub', c.pubsub])).child;
        const orphans = left.filter(running);
        assert.deepEqual(
          orphans.map((p) => `${p.pid} ${p.command}`),
          [],
          'the next up stopped every process the killed one left',
        );
        assert.equal(await stop(second, 'SIGTERM'), 0);
      } finally {
        if (first.exitCode === null) first.kill('SIGKILL');
        // SIGTERM, so a failed check does not leave the second stack's emulator running.
        if (second && second.exitCode === null) {
          const running = second;
          const timer = setTimeout(() => running.kill('SIGKILL'), 20_000);
          await stop(running, 'SIGTERM');
          clearTimeout(timer);
        }
        await rm(home, { recursive: true, force: true });
      }
    });
  }

  const bad: {
    name: string;
    args: string[];
    env?: Record<string, string>;
    code: number;
    stderr: RegExp;
  }[] = [
    {
      name: 'up with a bad time scale',
      args: ['local', 'up', '--time-scale', '0'],
      code: 2,
      stderr: /--time-scale must be a number from 1 to 1000/,
    },
    {
      name: 'up with negative users',
      args: ['local', 'up', '--users', '-1'],
      code: 2,
      stderr: /--users must be a whole number from 0 to 10000/,
    },
    {
      name: 'up with a metrics delay that is no number',
      args: ['local', 'up', '--metrics-delay', '3m'],
      code: 2,
      stderr: /--metrics-delay must be a whole number from 0 to 3600/,
    },
    {
      name: 'up with a bad RUNWAY_TIME_SCALE',
      args: ['local', 'up'],
      env: { RUNWAY_TIME_SCALE: 'fast' },
      code: 2,
      stderr: /RUNWAY_TIME_SCALE must be a number from 1 to 1000/,
    },
    {
      name: 'up with an unknown test pause phase',
      args: ['local', 'up'],
      env: { RUNWAY_TEST_PAUSE_AT: 'never' },
      code: 2,
      stderr: /RUNWAY_TEST_PAUSE_AT must be one of pubsub, build, deployer/,
    },
    {
      name: 'up with an unknown Pub/Sub',
      args: ['local', 'up', '--pubsub', 'kafka'],
      code: 2,
      stderr: /--pubsub must be auto, emulator or bridge/,
    },
    {
      name: 'up with a missing config',
      args: ['local', 'up', '--config', 'nope.yaml', '--home', '/tmp/runway-nope'],
      code: 1,
      stderr: /ENOENT|nope\.yaml/,
    },
    {
      name: 'push --wait with a bad timeout',
      args: ['local', 'push', '.', 'x', '--wait', '--timeout', 'soon'],
      code: 2,
      stderr: /--timeout must be a positive number of seconds/,
    },
    {
      name: 'push without arguments',
      args: ['local', 'push'],
      code: 2,
      stderr: /usage: runway local push DIR IMAGE_REF/,
    },
    {
      name: 'push with no stack running',
      args: [
        'local',
        'push',
        '.',
        'us-central1-docker.pkg.dev/p-123456/r/i:v1',
        '--home',
        '/tmp/runway-none',
      ],
      code: 2,
      stderr: /no local cloud is running/,
    },
    { name: 'logs without a target', args: ['logs'], code: 2, stderr: /usage: runway logs/ },
    {
      name: 'logs with two targets',
      args: ['logs', 'svc', '--workflows'],
      code: 2,
      stderr: /usage: runway logs/,
    },
    {
      name: 'logs with bad --lines',
      args: ['logs', 'svc', '--lines', '-3'],
      code: 2,
      stderr: /--lines must be a positive integer/,
    },
  ];
  for (const c of bad) {
    test(c.name, async () => {
      const r = await runway(c.args, c.env);
      assert.equal(r.code, c.code, r.stderr);
      assert.match(r.stderr, c.stderr);
    });
  }
});
