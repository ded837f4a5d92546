// Behaviours of the local Workflows engine, each a definition with its expected output, run
// through the `runway workflows run` command exactly as a user runs it.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { runCommand } from '../../local/workflows/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'runway-wf-'));

async function run(yaml: string, data?: string, env: NodeJS.ProcessEnv = {}) {
  const file = join(dir, `wf-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c) => (stdout += c));
  err.on('data', (c) => (stderr += c));
  const code = await runCommand([file, ...(data ? ['--data', data] : [])], {
    stdout: out,
    stderr: err,
    env,
    cwd: dir,
    stopSignal: new Promise(() => {}),
  });
  return { code, stdout: stdout.trim(), stderr };
}

interface Case {
  name: string;
  yaml: string;
  data?: string;
  env?: NodeJS.ProcessEnv;
  /** Expected stdout as JSON (result or error map). */
  want: unknown;
  code?: number;
}

const cases: Case[] = [
  { name: 'return a constant', yaml: '- r:\n    return: 42', want: 42 },
  {
    name: 'main with runtime argument',
    yaml: 'main:\n  params: [args]\n  steps:\n    - r:\n        return: ${args.name + "!"}',
    data: '{"name":"hi"}',
    want: 'hi!',
  },
  { name: 'no return gives null', yaml: '- a:\n    assign:\n      - x: 1', want: null },
  {
    name: 'operator precedence',
    yaml: '- r:\n    return: ["${1 + 2 * 3}", "${(1 + 2) * 3}", "${-2 * 3}", "${not true or true}", "${1 < 2 and 2 < 3}", "${7 // 2}", "${-7 // 2}", "${7 % -3}"]',
    want: [7, 9, -6, true, true, 3, -4, -2],
  },
  { name: 'division is floating point', yaml: '- r:\n    return: ${7 / 2}', want: 3.5 },
  { name: 'int and double compare equal', yaml: '- r:\n    return: ${1 == 1.0}', want: true },
  { name: 'string concatenation', yaml: '- r:\n    return: ${"a" + "b"}', want: 'ab' },
  {
    name: 'in on lists, maps and strings',
    yaml: '- r:\n    return: ["${2 in [1,2]}", \'${"k" in {"k": 1}}\', \'${"x" in "xyz"}\']',
    want: [true, true, true],
  },
  { name: 'len counts characters', yaml: '- r:\n    return: ${len("héllo€")}', want: 6 },
  {
    name: 'assign into nested maps and lists',
    yaml: '- a:\n    assign:\n      - m: {}\n      - m.a.b: 1\n      - l: [1, 2]\n      - l[1]: 5\n      - m["c"]: ${l}\n- r:\n    return: ${m}',
    want: { a: { b: 1 }, c: [1, 5] },
  },
  {
    name: 'switch with next',
    yaml: '- s:\n    switch:\n      - condition: ${false}\n        next: a\n      - condition: ${true}\n        next: b\n- a:\n    return: "a"\n- b:\n    return: "b"',
    want: 'b',
  },
  {
    name: 'switch fallthrough to step next',
    yaml: '- s:\n    switch:\n      - condition: ${false}\n        return: 1\n    next: z\n- y:\n    return: "y"\n- z:\n    return: "z"',
    want: 'z',
  },
  {
    name: 'switch case with return',
    yaml: '- s:\n    switch:\n      - condition: ${1 > 0}\n        return: "yes"\n- n:\n    return: "no"',
    want: 'yes',
  },
  {
    name: 'for over a list with index',
    yaml: '- i:\n    assign:\n      - out: []\n- f:\n    for:\n      value: v\n      index: i\n      in: ["a", "b"]\n      steps:\n        - add:\n            assign:\n              - out: ${list.concat(out, string(i) + v)}\n- r:\n    return: ${out}',
    want: ['0a', '1b'],
  },
  {
    name: 'for over a range with break and continue',
    yaml: '- i:\n    assign:\n      - sum: 0\n- f:\n    for:\n      value: i\n      range: [1, 10]\n      steps:\n        - skip:\n            switch:\n              - condition: ${i % 2 == 0}\n                next: continue\n              - condition: ${i > 7}\n                next: break\n        - add:\n            assign:\n              - sum: ${sum + i}\n- r:\n    return: ${sum}',
    want: 16,
  },
  {
    name: 'loop variables do not leak',
    yaml: '- f:\n    for:\n      value: v\n      in: [1]\n      steps:\n        - a:\n            assign:\n              - inner: 1\n- r:\n    return: ${inner}',
    want: { message: 'variable not found: inner', tags: ['KeyError'] },
    code: 1,
  },
  {
    name: 'subworkflow with default param',
    yaml: 'main:\n  steps:\n    - c:\n        call: greet\n        args:\n          name: "x"\n        result: r\n    - r:\n        return: ${r}\ngreet:\n  params: [name, greeting: "hello"]\n  steps:\n    - r:\n        return: ${greeting + " " + name}',
    want: 'hello x',
  },
  {
    name: 'recursion',
    yaml: "main:\n  steps:\n    - c:\n        call: fact\n        args: {n: 10}\n        result: r\n    - r:\n        return: ${r}\nfact:\n  params: [n]\n  steps:\n    - base:\n        switch:\n          - condition: ${n <= 1}\n            return: 1\n    - rec:\n        call: fact\n        args: {n: '${n - 1}'}\n        result: sub\n    - r:\n        return: ${n * sub}",
    want: 3628800,
  },
  {
    name: 'recursion depth limit',
    yaml: 'main:\n  steps:\n    - c:\n        call: loop\nloop:\n  steps:\n    - again:\n        call: loop',
    want: { message: 'maximum call depth of 20 exceeded', tags: ['RecursionError'] },
    code: 1,
  },
  { name: 'raise a string', yaml: '- r:\n    raise: "bad thing"', want: 'bad thing', code: 1 },
  {
    name: 'raise a map and catch it',
    yaml: '- t:\n    try:\n      steps:\n        - r:\n            raise:\n              code: 7\n    except:\n      as: e\n      steps:\n        - r:\n            return: ${e.code}',
    want: 7,
  },
  {
    name: 'KeyError shape',
    yaml: '- r:\n    return: \'${{"a": 1}.b}\'',
    want: { message: 'key not found: b', tags: ['KeyError'] },
    code: 1,
  },
  {
    name: 'IndexError shape',
    yaml: '- r:\n    return: ${[1][3]}',
    want: { message: 'list index out of range: 3', tags: ['IndexError'] },
    code: 1,
  },
  {
    name: 'ZeroDivisionError',
    yaml: '- r:\n    return: ${1 / 0}',
    want: { message: 'division by zero', tags: ['ZeroDivisionError'] },
    code: 1,
  },
  {
    name: 'TypeError on mixed addition',
    yaml: '- r:\n    return: ${1 + "a"}',
    want: {
      message: "unsupported operand type(s) for +: 'integer' and 'string'",
      tags: ['TypeError'],
    },
    code: 1,
  },
  {
    name: 'integer overflow',
    yaml: '- r:\n    return: ${9223372036854775807 + 1}',
    want: { message: 'integer overflow', tags: ['ValueError'] },
    code: 1,
  },
  {
    name: 'retry with a custom predicate then except',
    yaml: 'main:\n  steps:\n    - i:\n        assign:\n          - n: 0\n    - t:\n        try:\n          steps:\n            - inc:\n                assign:\n                  - n: ${n + 1}\n            - fail:\n                raise: "x"\n        retry:\n          predicate: ${always}\n          max_retries: 3\n          backoff:\n            initial_delay: 0\n            max_delay: 0\n            multiplier: 1\n        except:\n          as: e\n          steps:\n            - r:\n                return: ${n}\nalways:\n  params: [e]\n  steps:\n    - r:\n        return: true',
    want: 4,
  },
  {
    name: 'parallel branches with a shared variable',
    yaml: '- i:\n    assign:\n      - total: 0\n- p:\n    parallel:\n      shared: [total]\n      branches:\n        - b1:\n            steps:\n              - a:\n                  assign:\n                    - total: ${total + 1}\n        - b2:\n            steps:\n              - a:\n                  assign:\n                    - total: ${total + 2}\n- r:\n    return: ${total}',
    want: 3,
  },
  {
    name: 'sys.get_env reads the environment',
    yaml: '- r:\n    return: ${sys.get_env("GOOGLE_CLOUD_PROJECT_ID")}',
    env: { GOOGLE_CLOUD_PROJECT_ID: 'my-proj' },
    want: 'my-proj',
  },
  {
    name: 'json round trip keeps ints and doubles',
    yaml: '- r:\n    return: \'${json.decode(json.encode_to_string({"a": 1, "b": 1.5}))}\'',
    want: { a: 1, b: 1.5 },
  },
  {
    name: 'next end stops the workflow',
    yaml: '- a:\n    next: end\n- b:\n    return: 1',
    want: null,
  },
];

describe('workflow behaviours through `runway workflows run`', () => {
  for (const c of cases) {
    test(c.name, async () => {
      const r = await run(c.yaml, c.data, c.env);
      assert.equal(r.code, c.code ?? 0, `exit code; stderr: ${r.stderr}`);
      assert.deepEqual(JSON.parse(r.stdout), c.want);
      assert.match(r.stderr, /steps: \d+ internal, \d+ external, \d+ billed/);
    });
  }
});

describe('deploy-time validation names the step and line', () => {
  const bad = [
    {
      name: 'unknown next target',
      yaml: '- a:\n    next: nowhere',
      want: /step "a", line 1: next: nowhere names no step/,
    },
    {
      name: 'unknown step field',
      yaml: '- a:\n    asign:\n      - x: 1',
      want: /step "a", line 2: unknown step field "asign"/,
    },
    {
      name: 'too many assignments',
      yaml: `- a:\n    assign:\n${Array.from({ length: 51 }, (_, i) => `      - v${i}: ${i}`).join('\n')}`,
      want: /at most 50 assignments/,
    },
    {
      name: 'duplicate step names',
      yaml: '- a:\n    return: 1\n- a:\n    return: 2',
      want: /duplicate step name "a"/,
    },
    {
      name: 'two kinds in one step',
      yaml: '- a:\n    return: 1\n    raise: "x"',
      want: /a step has one kind/,
    },
    { name: 'bad expression', yaml: '- a:\n    return: ${1 +}', want: /invalid expression/ },
    { name: 'not YAML', yaml: '- a: [', want: /line/ },
    { name: 'not a workflow', yaml: '42', want: /a workflow is a list of steps/ },
    { name: 'map without main', yaml: 'other:\n  steps: []', want: /main subworkflow/ },
    {
      name: 'args without call',
      yaml: '- a:\n    args: {x: 1}',
      want: /args and result need a call/,
    },
  ];
  for (const c of bad) {
    test(c.name, async () => {
      const r = await run(c.yaml);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, c.want);
    });
  }
});

describe('command line', () => {
  test('bad usage exits 2 with a message', async () => {
    const out = new PassThrough();
    const err = new PassThrough();
    let stderr = '';
    err.on('data', (c) => (stderr += c));
    const code = await runCommand(['--data'], {
      stdout: out,
      stderr: err,
      env: {},
      cwd: dir,
      stopSignal: new Promise(() => {}),
    });
    assert.equal(code, 2);
    assert.match(stderr, /--data needs a value/);
  });
  test('bad --data JSON exits 2', async () => {
    const r = await run('- r:\n    return: 1', '{not json');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid JSON/);
  });
});
