// `runway local env`: the variables a stack's endpoints make, and each shell's quoting, checked by
// the shells themselves (bash and dash here; fish and PowerShell where installed) with values
// built to break naive quoting.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { StackInfo } from '../../local/stack.ts';
import type { CliIo } from '../io.ts';
import { envCommand, envVars, LOCAL_TOKEN, quote, renderEnv, type Shell } from './env.ts';

const exec = promisify(execFile);
const has = async (cmd: string) =>
  exec(cmd, ['--version']).then(
    () => true,
    () => false,
  );
const [fish, pwsh] = await Promise.all([has('fish'), has('pwsh')]);

const INFO: StackInfo = {
  run: 'http://127.0.0.1:4001',
  workflows: 'http://127.0.0.1:4002',
  pubsub: 'http://127.0.0.1:4003',
  pubsubKind: 'bridge',
  registry: 'http://127.0.0.1:4004',
  monitoring: 'http://127.0.0.1:4005',
  deployer: 'http://127.0.0.1:4006',
  project: 'local-project',
  region: 'us-central1',
  pipelines: [],
  home: '/tmp/stack home',
  pid: 1,
  gcloudProxy: 'http://127.0.0.1:4007',
};

const HOSTILE = [
  "it's",
  'a "quoted" word',
  '$HOME and ${HOME} and $(echo no) and `echo no`',
  'back\\slash\\',
  "\\'",
  'two\nlines',
  'tab\there',
  '; rm -rf / #',
  '*',
  '',
  ' leading and trailing ',
  '‘smart’ ‚quotes‛',
  '$env:PATH',
  'ünïcødé ✓',
  '!!',
  '%PATH%',
];

describe('envVars: what a stack points gcloud and the clients at', () => {
  const cases: {
    name: string;
    info: StackInfo;
    want: Record<string, string>;
    absent?: string[];
  }[] = [
    {
      name: 'the core endpoints, gcloud settings and the proxy',
      info: INFO,
      want: {
        CLOUDSDK_CONFIG: '/tmp/stack home/gcloud',
        CLOUDSDK_CORE_PROJECT: 'local-project',
        CLOUDSDK_AUTH_ACCESS_TOKEN: LOCAL_TOKEN,
        CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
        CLOUDSDK_RUN_REGION: 'us-central1',
        CLOUDSDK_WORKFLOWS_LOCATION: 'us-central1',
        CLOUDSDK_API_ENDPOINT_OVERRIDES_WORKFLOWEXECUTIONS: 'http://127.0.0.1:4002/',
        CLOUDSDK_API_ENDPOINT_OVERRIDES_WORKFLOWS: 'http://127.0.0.1:4002/',
        CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN: 'http://127.0.0.1:4001/',
        CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB: 'http://127.0.0.1:4003/',
        CLOUDSDK_API_ENDPOINT_OVERRIDES_ARTIFACTREGISTRY: 'http://127.0.0.1:4004/',
        CLOUDSDK_API_ENDPOINT_OVERRIDES_MONITORING: 'http://127.0.0.1:4005/',
        CLOUDSDK_PROXY_TYPE: 'http',
        CLOUDSDK_PROXY_ADDRESS: '127.0.0.1',
        CLOUDSDK_PROXY_PORT: '4007',
        RUN_EMULATOR_HOST: '127.0.0.1:4001',
        WORKFLOWS_EMULATOR_HOST: '127.0.0.1:4002',
        PUBSUB_EMULATOR_HOST: '127.0.0.1:4003',
        ARTIFACT_REGISTRY_EMULATOR_HOST: '127.0.0.1:4004',
        MONITORING_EMULATOR_HOST: '127.0.0.1:4005',
        GOOGLE_CLOUD_PROJECT: 'local-project',
        RUNWAY_HOME: '/tmp/stack home',
      },
      absent: [
        'CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDBUILD',
        'CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING',
        'CLOUDBUILD_EMULATOR_HOST',
        'CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDSCHEDULER',
        'CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE',
        'STORAGE_EMULATOR_HOST',
      ],
    },
    {
      name: 'Cloud Build, Cloud Scheduler and Cloud Storage when the stack runs them',
      info: {
        ...INFO,
        build: 'http://127.0.0.1:4008',
        scheduler: 'http://127.0.0.1:4009/',
        storage: 'http://127.0.0.1:4010',
      },
      want: {
        CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDBUILD: 'http://127.0.0.1:4008/',
        // gcloud builds log reads a CLOUD_LOGGING_ONLY build's log from the build server.
        CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING: 'http://127.0.0.1:4008/',
        CLOUDBUILD_EMULATOR_HOST: '127.0.0.1:4008',
        CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDSCHEDULER: 'http://127.0.0.1:4009/',
        CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE: 'http://127.0.0.1:4010/storage/v1/',
        STORAGE_EMULATOR_HOST: 'http://127.0.0.1:4010',
      },
    },
    {
      name: 'the emulator variables the stack recorded win over the ones derived from its URLs',
      info: {
        ...INFO,
        env: { PUBSUB_EMULATOR_HOST: '127.0.0.1:9999', SCHEDULER_EMULATOR_HOST: '127.0.0.1:4011' },
      },
      want: { PUBSUB_EMULATOR_HOST: '127.0.0.1:9999', SCHEDULER_EMULATOR_HOST: '127.0.0.1:4011' },
    },
    {
      name: 'an older stack.json without a proxy: no proxy settings',
      info: { ...INFO, gcloudProxy: undefined },
      want: { CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN: 'http://127.0.0.1:4001/' },
      absent: ['CLOUDSDK_PROXY_TYPE', 'CLOUDSDK_PROXY_ADDRESS', 'CLOUDSDK_PROXY_PORT'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const vars = envVars(c.info);
      const map = Object.fromEntries(vars);
      assert.equal(Object.keys(map).length, vars.length, 'each variable once');
      for (const [k, v] of Object.entries(c.want)) assert.equal(map[k], v, k);
      for (const k of c.absent ?? []) assert.equal(map[k], undefined, k);
    });
  }
});

describe('renderEnv: one line per variable in each shell', () => {
  const vars: [string, string][] = [
    ['A', 'plain'],
    ['B', "it's"],
  ];
  const cases: { shell: Shell; want: string }[] = [
    { shell: 'bash', want: "export A='plain'\nexport B='it'\\''s'" },
    { shell: 'fish', want: "set -gx A 'plain'\nset -gx B 'it\\'s'" },
    { shell: 'powershell', want: "$env:A = 'plain'\n$env:B = 'it''s'" },
  ];
  for (const c of cases) test(c.shell, () => assert.equal(renderEnv(vars, c.shell), c.want));

  test('a name that is no variable name, or a NUL in a value, is refused', () => {
    assert.throws(() => renderEnv([['A;B', 'x']], 'bash'), /not a variable name/);
    assert.throws(() => renderEnv([['1A', 'x']], 'bash'), /not a variable name/);
    assert.throws(() => quote('bash', 'a\0b'), /NUL/);
  });
});

/** The values each shell reads back from `script`, which prints them NUL-separated. */
async function readBack(cmd: string, args: string[], count: number): Promise<string[]> {
  const { stdout } = await exec(cmd, args, {
    env: { PATH: process.env.PATH, HOME: '/nonexistent' },
  });
  const values = stdout.split('\0');
  assert.equal(values.pop(), '', 'output ends with a NUL');
  assert.equal(values.length, count);
  return values;
}

describe('hostile values come back unchanged from the shell', () => {
  const vars = HOSTILE.map((v, i): [string, string] => [`V${i}`, v]);
  const names = vars.map(([n]) => n);
  const shellCases: { name: string; skip: string | false; run: () => Promise<string[]> }[] = [
    {
      name: 'bash',
      skip: false,
      run: () =>
        readBack(
          'bash',
          [
            '-c',
            `eval "$1"; printf '%s\\0' ${names.map((n) => `"$${n}"`).join(' ')}`,
            '_',
            renderEnv(vars, 'bash'),
          ],
          vars.length,
        ),
    },
    {
      name: 'dash (POSIX sh, for zsh and sh users)',
      skip: false,
      run: () =>
        readBack(
          'dash',
          [
            '-c',
            `eval "$1"; printf '%s\\0' ${names.map((n) => `"$${n}"`).join(' ')}`,
            '_',
            renderEnv(vars, 'bash'),
          ],
          vars.length,
        ),
    },
    {
      name: 'fish',
      skip: fish ? false : 'fish is not installed here',
      run: () =>
        readBack(
          'fish',
          [
            '-c',
            `${renderEnv(vars, 'fish')}\nprintf '%s\\0' ${names.map((n) => `"$${n}"`).join(' ')}`,
          ],
          vars.length,
        ),
    },
    {
      name: 'PowerShell',
      skip: pwsh ? false : 'pwsh (PowerShell) is not installed here',
      run: () =>
        readBack(
          'pwsh',
          [
            '-NoProfile',
            '-Command',
            `${renderEnv(vars, 'powershell')}\n${names.map((n) => `[Console]::Out.Write([string]$env:${n} + [char]0)`).join('\n')}`,
          ],
          vars.length,
        ),
    },
  ];
  for (const c of shellCases) {
    test(c.name, { skip: c.skip }, async () => {
      const got = await c.run();
      // An empty variable reads back empty (PowerShell cannot hold an empty one at all).
      assert.deepEqual(got, HOSTILE);
    });
  }
});

function fakeIo(env: NodeJS.ProcessEnv, cwd: string) {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: '', err: '' };
  out.on('data', (d) => (chunks.out += d));
  err.on('data', (d) => (chunks.err += d));
  const io: CliIo = { stdout: out, stderr: err, env, cwd, stopSignal: new Promise(() => {}) };
  return { io, chunks };
}

describe('runway local env', () => {
  test('prints the stack lines for bash, fish and PowerShell, and makes gcloud its own config dir', async () => {
    const home = await mkdtemp(join(tmpdir(), 'runway env-'));
    try {
      await writeFile(join(home, 'stack.json'), JSON.stringify({ ...INFO, home }));
      for (const shell of ['bash', 'fish', 'powershell'] as const) {
        const { io, chunks } = fakeIo({ RUNWAY_HOME: home }, '/');
        assert.equal(await envCommand(['--shell', shell], io), 0, chunks.err);
        const lines = chunks.out.trimEnd().split('\n');
        assert.match(lines[0]!, /^# gcloud and Google's clients pointed at the local cloud/);
        assert.equal(lines.slice(1).join('\n'), renderEnv(envVars({ ...INFO, home }), shell));
      }
      assert.equal(await readFile(join(home, 'gcloud', 'gce'), 'utf8'), 'False');
      assert.ok((await stat(join(home, 'gcloud'))).isDirectory());
      const { io, chunks } = fakeIo({}, '/');
      assert.equal(await envCommand(['--home', home, '--json'], io), 0, chunks.err);
      assert.equal(JSON.parse(chunks.out).CLOUDSDK_CONFIG, join(home, 'gcloud'));
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  const refusals: { name: string; argv: string[]; code: number; stderr: RegExp }[] = [
    {
      name: 'no stack running',
      argv: ['--home', '/nonexistent/runway'],
      code: 2,
      stderr: /no local stack is running \(no \/nonexistent\/runway\/stack\.json\)/,
    },
    {
      name: 'an unknown shell',
      argv: ['--shell', 'tcsh'],
      code: 2,
      stderr: /--shell must be one of bash, fish, powershell \(got tcsh\)/,
    },
    { name: 'an unknown flag', argv: ['--zsh'], code: 2, stderr: /unknown flag --zsh/ },
    { name: 'an argument', argv: ['extra'], code: 2, stderr: /unexpected argument extra/ },
  ];
  for (const c of refusals) {
    test(c.name, async () => {
      const { io, chunks } = fakeIo({}, '/nonexistent');
      assert.equal(await envCommand(c.argv, io), c.code);
      assert.match(chunks.err, c.stderr);
      assert.equal(chunks.out, '');
    });
  }
});
