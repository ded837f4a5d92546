// `runway local build`'s arguments: gcloud's --substitutions syntax, the defaults, the request it
// makes of a config file, and the usage errors (exit 2).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { UsageError } from '../args.ts';
import {
  buildCommand,
  buildRequest,
  parseBuildArgs,
  parseSubstitutions,
  sourceBucket,
} from './build.ts';

describe('--substitutions, as gcloud reads a dictionary flag', () => {
  const cases: { name: string; text: string; want?: Record<string, string>; error?: RegExp }[] = [
    { name: 'pairs', text: '_A=1,COMMIT_SHA=abc', want: { _A: '1', COMMIT_SHA: 'abc' } },
    { name: 'an empty value', text: '_A=', want: { _A: '' } },
    { name: 'an = inside a value', text: '_Q=a=b', want: { _Q: 'a=b' } },
    {
      name: 'another delimiter for values with commas',
      text: '^;^_LIST=a,b;_X=1',
      want: { _LIST: 'a,b', _X: '1' },
    },
    { name: 'the later of two equal keys wins', text: '_A=1,_A=2', want: { _A: '2' } },
    { name: 'nothing', text: '', want: {} },
    { name: 'an item without =', text: '_A=1,oops', error: /"oops" is not KEY=VALUE/ },
    { name: 'an empty key', text: '=1', error: /"=1" is not KEY=VALUE/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      if (c.error) assert.throws(() => parseSubstitutions(c.text), c.error);
      else assert.deepEqual(parseSubstitutions(c.text), c.want);
    });
  }
});

describe('parseBuildArgs', () => {
  const cases: {
    name: string;
    argv: string[];
    want?: Partial<ReturnType<typeof parseBuildArgs>>;
    error?: RegExp;
  }[] = [
    {
      name: 'defaults: the current directory and its cloudbuild.yaml, waiting',
      argv: [],
      want: { dir: '/src', config: '/src/cloudbuild.yaml', substitutions: {}, async: false },
    },
    {
      name: 'a directory, a config relative to the current directory, substitutions, --async',
      argv: ['app', '--config', 'ci/build.yaml', '--substitutions=_X=1', '--async'],
      want: {
        dir: '/src/app',
        config: '/src/ci/build.yaml',
        substitutions: { _X: '1' },
        async: true,
      },
    },
    { name: 'two directories', argv: ['a', 'b'], error: /unexpected argument b/ },
    { name: 'an unknown flag', argv: ['--tag', 'x'], error: /unknown flag --tag/ },
    { name: 'a flag without its value', argv: ['--config'], error: /--config needs a value/ },
    { name: '--async with a value', argv: ['--async=yes'], error: /--async takes no value/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      if (c.error) {
        assert.throws(
          () => parseBuildArgs(c.argv, '/src'),
          (err: Error) => {
            assert.ok(err instanceof UsageError);
            assert.match(err.message, c.error!);
            return true;
          },
        );
      } else {
        const got = parseBuildArgs(c.argv, '/src');
        for (const [k, v] of Object.entries(c.want!))
          assert.deepEqual(got[k as keyof typeof got], v, k);
      }
    });
  }
});

describe('the Build the command sends', () => {
  test('snake_case keys camelCased, durations as the client takes them, substitutions merged', () => {
    const yaml = [
      'steps:',
      '- name: bash',
      '  args: [-c, "echo $_A"]',
      '  wait_for: ["-"]',
      '  timeout: 90.5s',
      'timeout: 600s',
      'substitutions: { _A: file, _B: file }',
      'options: { substitution_option: ALLOW_LOOSE }',
    ].join('\n');
    const got = buildRequest(
      yaml,
      { _A: 'flag' },
      { bucket: 'p_cloudbuild', object: 'source/x.tgz' },
    );
    assert.deepEqual(got, {
      steps: [
        {
          name: 'bash',
          args: ['-c', 'echo $_A'],
          waitFor: ['-'],
          timeout: { seconds: 90, nanos: 500_000_000 },
        },
      ],
      timeout: { seconds: 600, nanos: 0 },
      substitutions: { _A: 'flag', _B: 'file' },
      options: { substitutionOption: 'ALLOW_LOOSE' },
      source: { storageSource: { bucket: 'p_cloudbuild', object: 'source/x.tgz' } },
    });
  });

  test("the source bucket is gcloud's PROJECT_cloudbuild, domain-scoped projects escaped", () => {
    assert.equal(sourceBucket('my-project'), 'my-project_cloudbuild');
    assert.equal(sourceBucket('example.com:proj'), 'example_com_proj_cloudbuild');
  });
});

describe('usage errors exit 2', () => {
  const run = async (argv: string[], home: string) => {
    const err = new PassThrough();
    let text = '';
    err.on('data', (d) => (text += d));
    const code = await buildCommand(argv, {
      stdout: new PassThrough(),
      stderr: err,
      env: {},
      cwd: home,
      stopSignal: new Promise(() => {}),
    });
    return { code, text };
  };
  test('no running local cloud', async () => {
    const home = await mkdtemp(join(tmpdir(), 'runway-build-usage-'));
    try {
      const r = await run(['--home', home], home);
      assert.equal(r.code, 2);
      assert.match(r.text, /no local cloud is running .*runway local up/);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
  test('a bad --substitutions', async () => {
    const r = await run(['--substitutions', 'nope'], tmpdir());
    assert.equal(r.code, 2);
    assert.match(r.text, /runway local build: --substitutions: "nope" is not KEY=VALUE/);
  });
});
