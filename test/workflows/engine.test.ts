// Behaviours of the local Workflows engine: one definition per behaviour under fixtures/, its
// expected output in its header, run through `runway workflows run` exactly as a user runs it.
// Header lines: `# expect:`, `# error-tags:`, `# exit:`, `# data:`, `# env:` (the process
// environment), `# args:` (a JSON list of extra command-line arguments, such as `--set-env-vars`)
// and `# deploy-error:`; see loadFixtures.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseJsonValue } from '../../local/workflows/convert.ts';
import { startCli } from '../helpers/workflows-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'runway-wf-'));

const fixtureDir = fileURLToPath(new URL('./fixtures/', import.meta.url));

async function run(yaml: string, data?: string, env: NodeJS.ProcessEnv = {}) {
  const file = join(dir, `wf-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return runFile(file, data, env);
}

async function runFile(
  file: string,
  data?: string,
  env: NodeJS.ProcessEnv = {},
  args: string[] = [],
) {
  const run = startCli([file, ...(data ? ['--data', data] : []), ...args], { env, cwd: dir });
  const code = await run.code;
  const stdout = run.stdout();
  const stderr = run.stderr();
  return { code, stdout: stdout.trim(), stderr };
}

interface Fixture {
  name: string;
  file: string;
  /** Expected stdout as JSON: the result, or the error map of a failed execution. */
  expect?: unknown;
  /**
   * The tags of a failed execution's error map whose message Google does not document: stdout is
   * then `{"message": <any non-empty string>, "tags": <these>}` (exit 1).
   */
  errorTags?: unknown;
  /** A pattern the deploy error on stderr must match (exit 2, nothing on stdout). */
  deployError?: RegExp;
  exit: number;
  data?: string;
  env: NodeJS.ProcessEnv;
  /** Extra command-line arguments after FILE (and --data). */
  args: string[];
}

// Each fixture states what it expects in its leading comments:
//   # expect: JSON   # exit: N   # data: JSON   # env: JSON   # deploy-error: REGEX
//   # error-tags: JSON list: the execution fails (exit 1) with a built-in error of these tags, its
//           message (our wording where Google documents none) only checked to be a string; or
//           `any` where Google documents that the execution fails but not with which tag
//   # args: JSON list of extra arguments to `runway workflows run FILE`, such as
//           ["--set-env-vars", "MONTH=January"]; an argument starting with ./ names a file
//           beside the fixture (a data file, named so that it does not end in .yaml).
// A deploy-error also covers a usage error: both exit 2 with the message on stderr.
function fixtureArgs(header: string | undefined): string[] {
  if (header === undefined) return [];
  const list: unknown = JSON.parse(header);
  if (!Array.isArray(list) || !list.every((a) => typeof a === 'string'))
    throw new Error(`"# args:" must be a JSON list of strings, got ${header}`);
  return list.map((a: string) => (a.startsWith('./') ? join(fixtureDir, a) : a));
}

function loadFixtures(): Fixture[] {
  return readdirSync(fixtureDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => {
      const file = join(fixtureDir, f);
      const header = new Map<string, string>();
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const m = /^# ([a-z-]+): (.*)$/.exec(line);
        if (m) header.set(m[1]!, m[2]!);
        else if (!line.startsWith('#')) break;
      }
      const deploy = header.get('deploy-error');
      const tags = header.get('error-tags');
      const fixture: Fixture = {
        name: f.replace(/\.yaml$/, ''),
        file,
        exit: deploy ? 2 : tags ? 1 : Number(header.get('exit') ?? 0),
        env: JSON.parse(header.get('env') ?? '{}'),
        args: fixtureArgs(header.get('args')),
      };
      if (deploy) fixture.deployError = new RegExp(deploy);
      else if (tags) fixture.errorTags = tags === 'any' ? 'any' : JSON.parse(tags);
      else if (header.has('expect')) fixture.expect = parseJsonValue(header.get('expect')!);
      else throw new Error(`${f}: no "# expect:", "# error-tags:" or "# deploy-error:" header`);
      if (header.has('data')) fixture.data = header.get('data')!;
      return fixture;
    });
}

describe('workflow fixtures through `runway workflows run`', () => {
  for (const c of loadFixtures()) {
    test(c.name, async () => {
      const r = await runFile(c.file, c.data, c.env, c.args);
      assert.equal(r.code, c.exit, `exit code; stdout: ${r.stdout} stderr: ${r.stderr}`);
      if (c.deployError) {
        assert.equal(r.stdout, '');
        assert.match(r.stderr, c.deployError);
        return;
      }
      if (c.errorTags !== undefined) {
        const error = JSON.parse(r.stdout);
        assert.deepEqual(Object.keys(error).sort(), ['message', 'tags'], r.stdout);
        assert.ok(typeof error.message === 'string' && error.message !== '', r.stdout);
        if (c.errorTags !== 'any') assert.deepEqual(error.tags, c.errorTags);
        else assert.ok(Array.isArray(error.tags) && error.tags.length > 0, r.stdout);
      } else {
        // Compared as workflow values, so 64-bit integers are compared exactly.
        assert.deepEqual(parseJsonValue(r.stdout), c.expect);
      }
      assert.match(r.stderr, /steps: \d+ internal, \d+ external, \d+ billed/);
    });
  }
});

describe('hostile and malformed input to the command line', () => {
  const deep = `- a:\n    assign:\n      - x: ${'['.repeat(5000)}${']'.repeat(5000)}`;
  const cases: {
    name: string;
    args: (file: string) => string[];
    yaml?: string;
    code: number;
    stderr: RegExp;
  }[] = [
    {
      name: 'empty file',
      yaml: '',
      args: (f) => [f],
      code: 2,
      stderr: /a workflow is a list of steps/,
    },
    {
      name: 'binary garbage',
      yaml: '\u0000\u0001\u00ff: [',
      args: (f) => [f],
      code: 2,
      stderr: /line 1/,
    },
    {
      name: 'missing file',
      args: () => [join(dir, 'no-such.yaml')],
      code: 2,
      stderr: /cannot read .*no-such.yaml/,
    },
    { name: 'a directory', args: () => [dir], code: 2, stderr: /cannot read/ },
    {
      name: 'nesting too deep to parse',
      yaml: deep,
      args: (f) => [f],
      code: 2,
      stderr: /nested too deeply/,
    },
    {
      name: 'definition over 128 KB',
      yaml: `- a:\n    return: "${'x'.repeat(140_000)}"`,
      args: (f) => [f],
      code: 2,
      stderr: /larger than 131072 bytes/,
    },
    {
      name: 'two files',
      yaml: '- r:\n    return: 1',
      args: (f) => [f, f],
      code: 2,
      stderr: /usage: runway workflows run FILE/,
    },
    {
      name: 'unknown flag',
      yaml: '- r:\n    return: 1',
      args: (f) => [f, '--bogus'],
      code: 2,
      stderr: /unknown flag --bogus/,
    },
    {
      name: '--data and --data-file together',
      yaml: '- r:\n    return: 1',
      args: (f) => [f, '--data', '1', '--data-file', f],
      code: 2,
      stderr: /not both/,
    },
    {
      name: 'JSON nested too deeply in --data',
      yaml: '- r:\n    return: 1',
      args: (f) => [f, '--data', '['.repeat(100_000)],
      code: 2,
      stderr: /nested too deeply/,
    },
    {
      name: 'argument larger than the variable limit',
      yaml: 'main:\n  params: [args]\n  steps:\n    - r:\n        return: 1',
      args: (f) => [f, '--data', JSON.stringify('x'.repeat(600_000))],
      code: 1,
      stderr: /steps: 0 internal/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const file = join(dir, `hostile-${Math.random().toString(36).slice(2)}.yaml`);
      if (c.yaml !== undefined) writeFileSync(file, c.yaml);
      const run = startCli(c.args(file), { cwd: dir });
      const code = await run.code;
      const stdout = run.stdout();
      const stderr = run.stderr();
      assert.equal(code, c.code, stderr);
      assert.match(stderr, c.stderr);
      if (c.code === 2) assert.equal(stdout, '');
    });
  }
});

describe('command line', () => {
  test('bad usage exits 2 with a message', async () => {
    const run = startCli(['--data'], { cwd: dir });
    const code = await run.code;
    const stderr = run.stderr();
    assert.equal(code, 2);
    assert.match(stderr, /--data needs a value/);
  });
  test('bad --data JSON exits 2', async () => {
    const r = await run('- r:\n    return: 1', '{not json');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid JSON/);
  });
});
