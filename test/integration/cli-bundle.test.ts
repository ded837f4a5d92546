// bin/runway.js and its bundle (scripts/build-cli.mjs), in a copy of the repository so that
// sources can be edited: a fresh bundle runs as it is; a changed source is rebuilt before it runs
// or, when it cannot be rebuilt, runs from the TypeScript sources, never from the stale bundle; and
// every command works from the bundle, files found from import.meta.url included.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';

const root = new URL('../../', import.meta.url).pathname;
const copied = [
  'bin',
  'cli',
  'console',
  'infra',
  'local',
  'services',
  'scripts',
  'workflows',
  'package.json',
  'tsconfig.json',
  'runway.yaml',
];

let repo: string;
let home: string;
let workflow: string;

/** The copy's node_modules: a link to each package here, so one can be taken away. */
async function linkPackages(dir: string) {
  const real = realpathSync(join(root, 'node_modules'));
  await mkdir(join(dir, 'node_modules'));
  for (const name of await readdir(real))
    await symlink(join(real, name), join(dir, 'node_modules', name));
}

async function esbuild(on: boolean) {
  const [from, to] = on ? ['esbuild-off', 'esbuild'] : ['esbuild', 'esbuild-off'];
  await rename(join(repo, 'node_modules', from), join(repo, 'node_modules', to));
}

function runway(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [join(repo, 'bin', 'runway.js'), ...args], {
      cwd: repo,
      env: { ...process.env, RUNWAY_DEV: '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function buildId(): Promise<string | undefined> {
  try {
    return JSON.parse(await readFile(join(repo, 'dist', 'cli', 'manifest.json'), 'utf8')).id;
  } catch {
    return undefined;
  }
}

/** Marks the current bundle's usage text, so a test can tell the bundle ran and not the sources. */
async function markBundle(): Promise<string> {
  const id = (await buildId())!;
  const main = join(repo, 'dist', 'cli', id, 'main.js');
  await writeFile(main, (await readFile(main, 'utf8')).replace('`usage', '`(bundle) usage'));
  return id;
}

async function build() {
  const r = await new Promise<number | null>((resolve) =>
    spawn(process.execPath, ['scripts/build-cli.mjs'], { cwd: repo, stdio: 'ignore' }).on(
      'exit',
      resolve,
    ),
  );
  assert.equal(r, 0, 'scripts/build-cli.mjs');
}

before(async () => {
  repo = await mkdtemp(join(tmpdir(), 'runway-cli-bundle-'));
  for (const path of copied)
    await cp(join(root, path), join(repo, path), { recursive: true, preserveTimestamps: true });
  await rm(join(repo, 'dist'), { recursive: true, force: true });
  await linkPackages(repo);
  home = join(repo, '.runway');
  workflow = join(repo, 'one-step.yaml');
  await writeFile(workflow, '- r:\n    return: 42\n');
});
after(async () => {
  await rm(repo, { recursive: true, force: true });
});

describe('bin/runway.js and its bundle', () => {
  test('without a bundle or esbuild, the sources run through tsx, and nothing is said', async () => {
    await esbuild(false);
    try {
      const help = await runway(['--help']);
      assert.equal(help.code, 0);
      assert.match(help.stderr, /^usage:\n {2}runway workflows run/);
      const run = await runway(['workflows', 'run', workflow]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, '42\n');
      assert.equal(await buildId(), undefined);
    } finally {
      await esbuild(true);
    }
  });

  test('without a bundle, the first command builds it', async () => {
    const help = await runway(['--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stderr, /^usage:/);
    assert.ok(await buildId());
  });

  test('a fresh bundle runs as it is: no rebuild', async () => {
    await build();
    const id = await markBundle();
    const help = await runway(['--help']);
    assert.match(help.stderr, /^\(bundle\) usage/);
    const run = await runway(['workflows', 'run', workflow]);
    assert.equal(run.stdout, '42\n', run.stderr);
    assert.equal(await buildId(), id);
  });

  test('RUNWAY_DEV=1 runs the sources beside a fresh bundle', async () => {
    const help = await runway(['--help'], { RUNWAY_DEV: '1' });
    assert.match(help.stderr, /^usage:/);
  });

  const changes: { name: string; change: () => Promise<unknown>; usage: RegExp }[] = [
    {
      name: 'a source edited in place',
      change: async () => {
        const file = join(repo, 'cli', 'main.ts');
        await writeFile(file, (await readFile(file, 'utf8')).replace('usage:', 'usage (edited):'));
      },
      usage: /^usage \(edited\):/,
    },
    {
      name: 'a source touched (a checkout)',
      change: () => utimes(join(repo, 'cli', 'io.ts'), new Date(), new Date()),
      usage: /^usage \(edited\):/,
    },
    {
      name: 'a source given an older mtime (an archive unpacked)',
      change: () => utimes(join(repo, 'local', 'workflows', 'engine.ts'), 1e9, 1e9),
      usage: /^usage \(edited\):/,
    },
    {
      name: 'the build script changed',
      change: async () => {
        const file = join(repo, 'scripts', 'build-cli.mjs');
        const s = await stat(file);
        await utimes(file, s.atime, new Date(s.mtimeMs + 1000));
      },
      usage: /^usage \(edited\):/,
    },
  ];
  for (const { name, change, usage } of changes)
    test(`${name}: rebuilt before it runs`, async () => {
      const stale = await markBundle();
      await change();
      const help = await runway(['--help']);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stderr, usage);
      const id = await buildId();
      assert.notEqual(id, stale);
      // The next command finds the new build fresh.
      await markBundle();
      assert.match((await runway(['--help'])).stderr, /^\(bundle\) usage/);
      assert.equal(await buildId(), id);
    });

  test('a source changed while the bundle was built is rebuilt by the next command', async () => {
    // As a write during the build leaves it: stamped after the build started.
    const file = join(repo, 'cli', 'args.ts');
    const later = new Date(Date.now() + 60_000);
    await utimes(file, later, later);
    await build();
    const first = await markBundle();
    assert.match((await runway(['--help'])).stderr, /^usage \(edited\):/);
    assert.notEqual(await buildId(), first);
    const earlier = new Date(Date.now() - 60_000);
    await utimes(file, earlier, earlier);
  });

  test('a changed source that cannot be rebuilt runs from the sources, not the stale bundle', async () => {
    const stale = await markBundle();
    const file = join(repo, 'cli', 'main.ts');
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace('usage (edited):', 'usage (no esbuild):'),
    );
    await esbuild(false);
    try {
      const help = await runway(['--help']);
      assert.equal(help.code, 0);
      assert.match(help.stderr, /^usage \(no esbuild\):/);
      assert.equal(await buildId(), stale);
    } finally {
      await esbuild(true);
    }
  });

  test('a build that fails says so, and the sources run', async () => {
    const file = join(repo, 'cli', 'main.ts');
    const good = await readFile(file, 'utf8');
    // tsx compiles each file alone, so an import esbuild cannot resolve fails only the bundle.
    await writeFile(file, `${good}\nexport const lazy = () => import('./gone.ts');\n`);
    try {
      const help = await runway(['--help']);
      assert.equal(help.code, 0);
      assert.match(help.stderr, /^runway: bundling failed, running the sources \((.|\n)*gone\.ts/);
      assert.match(help.stderr, /\nusage \(no esbuild\):/);
    } finally {
      await writeFile(file, good);
    }
  });

  test('every command from the bundle: local up --json, status --json, SIGTERM', async () => {
    await build();
    const id = await markBundle();
    const up = spawn(
      process.execPath,
      [
        join(repo, 'bin', 'runway.js'),
        ...['local', 'up', '--json', '--home', home, '--pubsub', 'bridge', '--users', '0'],
      ],
      { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RUNWAY_DEV: '' } },
    );
    const exited = new Promise<number | null>((resolve) => up.once('exit', resolve));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: up.stdout! }).once('line', resolve);
        up.once('exit', (code) => reject(new Error(`runway local up exited with ${code}`)));
      });
      const info = JSON.parse(line) as { run: string; deployer: string };
      assert.match(info.run, /^http:\/\/127\.0\.0\.1:\d+$/);
      const status = await runway(['status', '--json'], { RUNWAY_HOME: home });
      assert.equal(status.code, 0, status.stderr);
      const parsed = JSON.parse(status.stdout) as { services: { name: string }[] };
      assert.ok(
        parsed.services.some((s) => s.name === 'runway-deployer'),
        status.stdout,
      );
    } finally {
      up.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
    assert.equal(await buildId(), id, 'no rebuild: the bundle was fresh');
  });
});
