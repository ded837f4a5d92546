// The engine's programmatic interface: cancel, live counters, the injected clock and backoff,
// function resolution and argument mapping, billing of internal and external steps, limits.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DeployError,
  type EngineOptions,
  parseWorkflow,
  startExecution,
  timeScaledClock,
} from './engine.ts';
import type { Clock, WfFunction } from './stdlib/types.ts';
import { WorkflowError } from './errors.ts';
import { expressionNames } from './expression.ts';
import type { Value } from './values.ts';

/** A clock whose sleeps return at once and are recorded, in workflow milliseconds. */
function fakeClock(): Clock & { slept: number[] } {
  const slept: number[] = [];
  let now = Date.UTC(2026, 0, 1);
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

async function run(yaml: string, options: EngineOptions = {}, argument?: Value) {
  return startExecution(parseWorkflow(yaml), argument, options).done;
}

describe('cancel', () => {
  test('stops a busy loop and reports CANCELLED', async () => {
    const wf = parseWorkflow(
      '- a:\n    assign:\n      - n: 0\n- b:\n    assign:\n      - n: ${n + 1}\n    next: b',
    );
    const ex = startExecution(wf, undefined, { limits: { maxSteps: 10_000_000 } });
    // Let it run until it has done real work, then cancel.
    while (ex.steps.internal < 20_000) await new Promise((r) => setImmediate(r));
    const before = performance.now();
    ex.cancel();
    const r = await ex.done;
    const latency = performance.now() - before;
    assert.equal(r.state, 'CANCELLED');
    assert.equal(ex.state, 'CANCELLED');
    // Generous bound so a loaded CI machine does not flake; the benchmark reports the real figure.
    assert.ok(latency < 1000, `cancel took ${latency} ms`);
    assert.ok(ex.endTime instanceof Date);
  });

  test('stops a sleep at once', async () => {
    const ex = startExecution(
      parseWorkflow('- s:\n    call: sys.sleep\n    args:\n      seconds: 3600'),
      undefined,
      { clock: timeScaledClock(1) },
    );
    await new Promise((r) => setImmediate(r));
    ex.cancel();
    assert.equal((await ex.done).state, 'CANCELLED');
  });

  test('cancel after the end changes nothing', async () => {
    const ex = startExecution(parseWorkflow('- r:\n    return: 1'), undefined);
    const r = await ex.done;
    ex.cancel();
    assert.equal(r.state, 'SUCCEEDED');
    assert.equal(ex.state, 'SUCCEEDED');
  });
});

describe('handle', () => {
  test('is returned before anything runs, with live counters and the current step', async () => {
    const ex = startExecution(
      parseWorkflow('- a:\n    assign:\n      - x: 1\n- b:\n    return: ${x}'),
      undefined,
      { executionId: 'fixed-id' },
    );
    assert.equal(ex.id, 'fixed-id');
    assert.equal(ex.state, 'ACTIVE');
    assert.equal(ex.steps.internal, 0);
    const r = await ex.done;
    assert.deepEqual(r, { state: 'SUCCEEDED', result: 1n, steps: { internal: 2, external: 0 } });
    assert.deepEqual(ex.currentStep, { routine: 'main', step: 'b' });
  });

  test('a failure names the step and routine in its context', async () => {
    const r = await run(
      'main:\n  steps:\n    - c:\n        call: f\nf:\n  steps:\n    - boom:\n        raise: "x"',
    );
    assert.equal(r.state, 'FAILED');
    assert.deepEqual(r.error, { payload: 'x', context: 'in step "boom", routine "f", line: 7' });
  });

  test('a function that throws a plain Error fails the execution with SystemError', async () => {
    const broken: WfFunction = {
      params: [],
      impl: () => {
        throw new Error('kaput');
      },
    };
    const r = await run('- c:\n    call: t.broken', {
      functions: (n) => (n === 't.broken' ? broken : undefined),
    });
    assert.equal(r.state, 'FAILED');
    assert.deepEqual(
      r.error?.payload,
      new Map<string, Value>([
        ['message', 'kaput'],
        ['tags', ['SystemError']],
      ]),
    );
  });
});

describe('retry backoff runs on the injected clock', () => {
  const cases = [
    {
      name: 'predefined policy: 1 s then x1.25, five retries',
      retry: '${http.default_retry}',
      want: [1000, 1250, 1562.5, 1953.125, 2441.40625],
    },
    {
      name: 'custom policy capped by max_delay',
      retry:
        '\n      predicate: ${retry.always}\n      max_retries: 4\n      backoff:\n        initial_delay: 2\n        max_delay: 5\n        multiplier: 3',
      want: [2000, 5000, 5000, 5000],
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const clock = fakeClock();
      const r = await run(
        `- t:\n    try:\n      steps:\n        - f:\n            raise:\n              code: 503\n              tags: ["HttpError"]\n    retry: ${c.retry}`,
        { clock },
      );
      assert.equal(r.state, 'FAILED');
      assert.deepEqual(clock.slept, c.want);
      // Each attempt re-runs (and re-bills) the raise step: 1 + retries, plus the try step itself.
      assert.equal(r.steps.internal, 1 + 1 + c.want.length);
    });
  }
});

describe('calls', () => {
  const echo: WfFunction = {
    params: [{ name: 'a' }, { name: 'b', optional: true }],
    impl: ([a, b]) => [a ?? null, b === undefined ? 'missing' : b],
  };
  const remote: WfFunction = {
    params: [{ name: 'url' }],
    blocking: true,
    external: true,
    impl: async ([u]) => `got ${String(u)}`,
  };
  const functions = (n: string) => ({ echo, remote, 't.echo': echo, 't.remote': remote })[n];
  const cases: { name: string; yaml: string; want?: Value; error?: RegExp; steps?: object }[] = [
    {
      name: 'call-step args map to params by name; omitted optional is undefined',
      yaml: '- c:\n    call: t.echo\n    args:\n      a: 1\n    result: r\n- d:\n    return: ${r}',
      want: [1n, 'missing'],
    },
    {
      name: 'expression calls are positional',
      yaml: '- d:\n    return: ${t.echo(1, 2)}',
      want: [1n, 2n],
    },
    {
      name: 'missing required argument',
      yaml: '- c:\n    call: t.echo\n    args:\n      b: 1',
      error: /t.echo: missing required argument a/,
    },
    {
      name: 'unknown argument',
      yaml: '- c:\n    call: t.echo\n    args:\n      a: 1\n      z: 2',
      error: /t.echo: unexpected argument z/,
    },
    {
      name: 'blocking function refused in an expression',
      yaml: '- d:\n    return: ${t.remote("x")}',
      error: /t.remote is a blocking call/,
    },
    {
      name: 'external function billed as an external step',
      yaml: '- c:\n    call: t.remote\n    args:\n      url: u\n    result: r\n- d:\n    return: ${r}',
      want: 'got u',
      steps: { internal: 1, external: 1 },
    },
    {
      name: 'a subworkflow wins over a function of the same name',
      yaml: 'main:\n  steps:\n    - d:\n        return: ${echo(5)}\necho:\n  params: [a]\n  steps:\n    - r:\n        return: "mine"',
      want: 'mine',
    },
    {
      name: 'a subworkflow that waits cannot run inside an expression',
      yaml: 'main:\n  steps:\n    - d:\n        return: ${w()}\nw:\n  steps:\n    - c:\n        call: t.remote\n        args:\n          url: u',
      error: /cannot wait \(a call to t.remote\)/,
    },
    {
      name: 'unknown function',
      yaml: '- c:\n    call: nope.nothing',
      error: /unknown function or subworkflow: nope.nothing/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const r = await run(c.yaml, { functions });
      if (c.error) {
        assert.equal(r.state, 'FAILED');
        const payload = r.error?.payload;
        assert.ok(payload instanceof Map);
        assert.match(String(payload.get('message')), c.error);
      } else {
        assert.equal(r.state, 'SUCCEEDED', JSON.stringify(r.error));
        assert.deepEqual(r.result, c.want);
      }
      if (c.steps) assert.deepEqual(r.steps, c.steps);
    });
  }
});

describe('billing: every executed step is one step', () => {
  const cases = [
    { name: 'one assign', yaml: '- a:\n    assign:\n      - x: 1', internal: 1 },
    {
      name: 'for over three items with one step inside: the for step plus three',
      yaml: '- f:\n    for:\n      value: v\n      in: [1, 2, 3]\n      steps:\n        - a:\n            assign:\n              - x: ${v}',
      internal: 4,
    },
    {
      name: 'switch with nested steps: the switch plus the nested step',
      yaml: '- s:\n    switch:\n      - condition: true\n        steps:\n          - a:\n              assign:\n                - x: 1',
      internal: 2,
    },
    {
      name: 'subworkflow call: the call step plus the steps inside',
      yaml: 'main:\n  steps:\n    - c:\n        call: f\nf:\n  steps:\n    - a:\n        assign:\n          - x: 1\n    - r:\n        return: 1',
      internal: 3,
    },
    {
      name: 'parallel with two branches of one step: parallel, two branches, two steps',
      yaml: '- p:\n    parallel:\n      branches:\n        - b1:\n            steps:\n              - a:\n                  assign:\n                    - x: 1\n        - b2:\n            steps:\n              - b:\n                  assign:\n                    - y: 1',
      internal: 5,
    },
    {
      name: 'a failing step is billed too',
      yaml: '- a:\n    assign:\n      - x: ${1 / 0}',
      internal: 1,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const r = await run(c.yaml);
      assert.deepEqual(r.steps, { internal: c.internal, external: 0 });
    });
  }
});

describe('limits end with their documented error', () => {
  const cases = [
    {
      name: 'steps per execution',
      yaml: '- a:\n    next: a',
      limits: { maxSteps: 1000 },
      tag: 'ResourceLimitError',
    },
    {
      name: 'call depth',
      yaml: 'main:\n  steps:\n    - c:\n        call: main',
      limits: {},
      tag: 'RecursionError',
    },
    {
      name: 'variable size',
      yaml: '- a:\n    assign:\n      - s: ${text.repeat("x", 100)}',
      limits: { maxVariableBytes: 50 },
      tag: 'ResourceLimitError',
    },
    {
      name: 'a range longer than the step limit is refused before it is built',
      yaml: '- f:\n    for:\n      value: i\n      range: [0, 1000000000000]\n      steps:\n        - a:\n            assign:\n              - x: 1',
      limits: {},
      tag: 'ResourceLimitError',
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const r = await run(c.yaml, {
        limits: c.limits,
        functions: (n) =>
          n === 'text.repeat'
            ? {
                params: [{ name: 's' }, { name: 'n' }],
                impl: ([s, k]) => String(s).repeat(Number(k)),
              }
            : undefined,
      });
      assert.equal(r.state, 'FAILED');
      const payload = r.error?.payload;
      assert.ok(payload instanceof Map);
      assert.deepEqual(payload.get('tags'), [c.tag]);
    });
  }

  test('an expression longer than 400 characters is refused at deploy', () => {
    const long = Array.from({ length: 120 }, () => '1').join(' + ');
    assert.throws(() => parseWorkflow(`- r:\n    return: \${${long}}`), DeployError);
  });
});

describe('logs carry the step', () => {
  test('sys.log entries name the step that logged', async () => {
    const entries: unknown[] = [];
    const log: WfFunction = {
      params: [{ name: 'text' }],
      impl: ([t], ctx) => {
        ctx.log('INFO', t ?? null);
        return null;
      },
    };
    await run('- hello:\n    call: t.say\n    args:\n      text: hi', {
      functions: (n) => (n === 't.say' ? log : undefined),
      log: (e) => entries.push(e),
    });
    assert.deepEqual(entries, [{ severity: 'INFO', payload: 'hi', step: 'hello' }]);
  });
});

describe('timeScaledClock', () => {
  test('scales now and sleeps together', async () => {
    let real = 1_000_000;
    const clock = timeScaledClock(100, () => real);
    assert.equal(clock.now(), 1_000_000);
    real += 10; // 10 real ms are 1 s of workflow time at scale 100
    assert.equal(clock.now(), 1_001_000);
    const t0 = performance.now();
    await clock.sleep(1000, new AbortController().signal);
    // 1 s of workflow time is about 10 real ms; allow for a slow machine, never a full second.
    assert.ok(performance.now() - t0 < 500);
  });

  test('scale 1 is the real clock', () => {
    const clock = timeScaledClock(1, () => 42);
    assert.equal(clock.now(), 42);
  });

  test('a sleep rejects at once when the signal is already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(timeScaledClock(1).sleep(60_000, ac.signal));
  });
});

describe('call logging', () => {
  const yaml =
    '- ok:\n    call: t.echo\n    args:\n      a: 1\n    result: r\n- t:\n    try:\n      steps:\n        - bad:\n            call: t.fail\n    except:\n      steps:\n        - done:\n            return: ${r}';
  const functions = (n: string): WfFunction | undefined =>
    n === 't.echo'
      ? { params: [{ name: 'a' }], impl: ([a]) => a ?? null }
      : n === 't.fail'
        ? {
            params: [],
            impl: () => {
              throw new WorkflowError('nope');
            },
          }
        : undefined;
  const cases = [
    {
      level: 'LOG_ALL_CALLS' as const,
      want: [
        ['INFO', 'ok', { callStarted: { function: 't.echo', args: { a: 1n } } }],
        ['INFO', 'ok', { callSucceeded: { function: 't.echo', response: 1n } }],
        ['INFO', 'bad', { callStarted: { function: 't.fail', args: {} } }],
        ['ERROR', 'bad', { callFailed: { function: 't.fail', exception: 'nope' } }],
      ],
    },
    {
      level: 'LOG_ERRORS_ONLY' as const,
      want: [['ERROR', 'bad', { callFailed: { function: 't.fail', exception: 'nope' } }]],
    },
    { level: 'LOG_NONE' as const, want: [] },
  ];
  const plain = (v: Value): unknown =>
    v instanceof Map ? Object.fromEntries([...v].map(([k, x]) => [k, plain(x)])) : v;
  for (const c of cases) {
    test(c.level, async () => {
      const got: unknown[] = [];
      const r = await run(yaml, {
        functions,
        callLogLevel: c.level,
        log: (e) => got.push([e.severity, e.step, plain(e.payload)]),
      });
      assert.equal(r.state, 'SUCCEEDED');
      assert.deepEqual(got, c.want);
    });
  }
});

describe('many parallel branches waiting at once', () => {
  // Every branch waits on its execution's one abort signal; Node warns past 10 listeners on it.
  const cases = [
    {
      name: '20 branches in retry backoff',
      steps:
        '\n          - t:\n              try:\n                steps:\n                  - f:\n                      raise:\n                        code: 503\n                        tags: ["HttpError"]\n              retry:\n                predicate: ${retry.always}\n                max_retries: 2\n                backoff:\n                  initial_delay: 1\n                  max_delay: 2\n                  multiplier: 2\n              except:\n                as: e\n                steps:\n                  - done:\n                      assign:\n                        - x: 1',
    },
    {
      name: '20 branches in sys.sleep',
      steps:
        '\n          - s:\n              call: sys.sleep\n              args:\n                seconds: 1',
    },
  ];
  for (const c of cases) {
    test(`${c.name} add no listener per branch (no MaxListenersExceededWarning)`, async () => {
      const warnings: Error[] = [];
      const onWarning = (w: Error) => warnings.push(w);
      process.on('warning', onWarning);
      try {
        // 1000 times faster: a second of backoff is a millisecond here.
        const r = await run(
          `- p:\n    parallel:\n      for:\n        value: v\n        range: [1, 20]\n        steps:${c.steps}`,
          { clock: timeScaledClock(1000) },
        );
        assert.equal(r.state, 'SUCCEEDED', JSON.stringify(r.error));
        // process.emitWarning delivers on the next tick.
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        process.off('warning', onWarning);
      }
      assert.deepEqual(
        warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
        [],
      );
    });
  }
});

describe('parallel concurrency', () => {
  const cases = [
    {
      name: 'concurrency_limit caps the branches in flight',
      limit: '\n      concurrency_limit: 3',
      items: 10,
      want: 3,
    },
    { name: 'without a limit every iteration runs at once', limit: '', items: 10, want: 10 },
    { name: 'never more than 20 at once', limit: '', items: 30, want: 20 },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      let inFlight = 0;
      let most = 0;
      const wait: WfFunction = {
        params: [],
        blocking: true,
        impl: async () => {
          most = Math.max(most, ++inFlight);
          await new Promise((r) => setImmediate(r));
          inFlight--;
          return null;
        },
      };
      const r = await run(
        `- p:\n    parallel:${c.limit}\n      for:\n        value: v\n        range: [1, ${c.items}]\n        steps:\n          - w:\n              call: t.wait`,
        { functions: (n) => (n === 't.wait' ? wait : undefined) },
      );
      assert.equal(r.state, 'SUCCEEDED', JSON.stringify(r.error));
      assert.equal(most, c.want);
    });
  }
});

describe('steps billed by functions', () => {
  test('count toward the step limit', async () => {
    const poll: WfFunction = {
      params: [],
      external: true,
      blocking: true,
      impl: async (_a, ctx) => {
        for (;;) {
          ctx.countSteps(1, 'internal');
          await new Promise((r) => setImmediate(r));
        }
      },
    };
    const r = await run('- p:\n    call: t.poll', {
      functions: (n) => (n === 't.poll' ? poll : undefined),
      limits: { maxSteps: 50 },
    });
    assert.equal(r.state, 'FAILED');
    const payload = r.error?.payload;
    assert.ok(payload instanceof Map);
    assert.deepEqual(payload.get('tags'), ['ResourceLimitError']);
    assert.deepEqual(r.steps, { internal: 50, external: 1 });
  });
});

describe('variables an expression reads (the deploy-time scope check)', () => {
  const cases: { name: string; src: string; want: string[] }[] = [
    { name: 'a plain name', src: 'x', want: ['x'] },
    { name: 'keys after a dot are not variables', src: 'a.b.c + d', want: ['a', 'd'] },
    { name: 'a function is not a variable', src: 'len(items)', want: ['items'] },
    { name: 'a dotted function is not either', src: 'text.split(s, ",")', want: ['s'] },
    { name: 'strings are skipped', src: '"x" + \'y\' + z', want: ['z'] },
    { name: 'an escaped quote stays in the string', src: '"a\\"b" + c', want: ['c'] },
    { name: 'keywords are skipped', src: 'not a and b or true in null', want: ['a', 'b'] },
    { name: 'index expressions are read', src: 'm[key].v[i + 1]', want: ['m', 'key', 'i'] },
    { name: 'numbers are skipped', src: '1.5e3 + n2', want: ['n2'] },
    { name: 'map literal keys are strings', src: '{"k": v}', want: ['v'] },
    { name: 'keywords in upper case too', src: 'NOT a AND TRUE OR b IN NULL', want: ['a', 'b'] },
    { name: 'capitalised booleans too', src: 'True or False or x', want: ['x'] },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(expressionNames(c.src).variables, c.want));
  }
});

describe('functions an expression calls (the deploy-time check of plain names)', () => {
  const cases: { name: string; src: string; want: string[] }[] = [
    { name: 'a helper', src: 'len(x)', want: ['len'] },
    { name: 'a dotted name whole', src: 'text.split(s, ",") + y', want: ['text.split'] },
    { name: 'nested calls', src: 'string(int(v)) + sub(1)', want: ['string', 'int', 'sub'] },
    { name: 'a name inside a string is no call', src: '"f(x)" + g', want: [] },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(expressionNames(c.src).functions, c.want));
  }
});

describe('deploy-time checks of jumps, step names and scopes', () => {
  const cases: { name: string; yaml: string; error: RegExp | null }[] = [
    {
      name: 'a jump between nested steps blocks of one scope is allowed',
      yaml: '- a:\n    steps:\n      - b:\n          next: d\n- c:\n    steps:\n      - d:\n          return: 1',
      error: null,
    },
    {
      name: 'a jump out of a parallel branch is refused',
      yaml: '- p:\n    parallel:\n      branches:\n        - b1:\n            steps:\n              - s:\n                  next: out\n- out:\n    return: 1',
      error: /next: out names a step in the top level of main.*parallel branch "b1"/,
    },
    {
      name: 'break and continue may name steps outside loops',
      yaml: '- break:\n    assign:\n      - x: 1\n- continue:\n    return: ${x}',
      error: null,
    },
    {
      name: 'a parallel branch may not reuse a step name of the routine',
      yaml: '- a:\n    assign:\n      - x: 1\n- p:\n    parallel:\n      branches:\n        - a:\n            steps:\n              - s:\n                  assign:\n                    - y: 1',
      error: /duplicate step name "a"/,
    },
    {
      name: 'a variable the routine also assigns is visible after the loop',
      yaml: '- f:\n    for:\n      value: v\n      in: [1]\n      steps:\n        - a:\n            assign:\n              - x: ${v}\n- b:\n    assign:\n      - x: 0\n- r:\n    return: ${x}',
      error: null,
    },
    {
      name: 'a loop local read in a nested loop is visible',
      yaml: '- f:\n    for:\n      value: v\n      in: [1]\n      steps:\n        - a:\n            assign:\n              - x: ${v}\n        - g:\n            for:\n              value: w\n              in: [2]\n              steps:\n                - b:\n                    assign:\n                      - y: ${x + w}',
      error: null,
    },
    {
      // Google's "Troubleshoot issues" page: an undefined variable is a deployment error.
      name: "a variable no step assigns is refused with Google's message",
      yaml: '- r:\n    return: ${nowhere}',
      error: /symbol 'nowhere' is neither a variable nor a sub-workflow name/,
    },
    {
      name: 'a subworkflow name is a symbol too',
      yaml: 'main:\n  steps:\n    - r:\n        return: ${helper(1)}\nhelper:\n  params: [n]\n  steps:\n    - r:\n        return: ${n}',
      error: null,
    },
    {
      name: 'a variable of main is not defined in a subworkflow',
      yaml: 'main:\n  steps:\n    - a:\n        assign:\n          - x: 1\n    - c:\n        call: sub\nsub:\n  steps:\n    - r:\n        return: ${x}',
      error: /step "r", line 10: symbol 'x'/,
    },
    {
      name: 'keywords in upper case are not variables',
      yaml: '- r:\n    return: ${TRUE AND NOT False OR NULL == null}',
      error: null,
    },
    {
      name: 'a plain-name function that is no subworkflow is refused',
      yaml: '- r:\n    return: ${lenn("abc")}',
      error: /lenn\(\) is neither a subworkflow of this workflow nor a standard library function/,
    },
    {
      name: 'an unknown dotted function is left to the runtime (a host may add functions)',
      yaml: '- r:\n    return: ${t.custom(1)}',
      error: null,
    },
    {
      name: 'an except local read in a subworkflow of the same name is not confused',
      yaml: 'main:\n  steps:\n    - t:\n        try:\n          steps:\n            - r:\n                raise: 1\n        except:\n          as: e\n          steps:\n            - k:\n                assign:\n                  - x: ${e}\n    - c:\n        call: sub\nsub:\n  params: [x]\n  steps:\n    - r2:\n        return: ${x}',
      error: null,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      if (c.error) assert.throws(() => parseWorkflow(c.yaml), c.error);
      else assert.doesNotThrow(() => parseWorkflow(c.yaml));
    });
  }
});

describe('next into nested steps', () => {
  const cases: { name: string; yaml: string; want: Value }[] = [
    {
      name: 'into a try body: an error there is still caught',
      yaml: '- j:\n    next: inner\n- t:\n    try:\n      steps:\n        - first:\n            assign:\n              - x: 1\n        - inner:\n            raise: "caught"\n    except:\n      as: e\n      steps:\n        - r:\n            return: ${e}',
      want: 'caught',
    },
    {
      name: 'into a switch case: the case runs from there, then its own next',
      yaml: '- j:\n    next: two\n- s:\n    switch:\n      - condition: false\n        steps:\n          - one:\n              return: "one"\n          - two:\n              assign:\n                - x: "two"\n        next: r\n- skipped:\n    return: "skipped"\n- r:\n    return: ${x}',
      want: 'two',
    },
    {
      name: 'two levels deep, then the steps after each block',
      yaml: '- j:\n    next: deep\n- outer:\n    steps:\n      - mid:\n          steps:\n            - deep:\n                assign:\n                  - l: ["deep"]\n      - tail:\n          assign:\n            - l: ${list.concat(l, "tail")}\n- r:\n    return: ${l}',
      want: ['deep', 'tail'],
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const r = await run(c.yaml);
      assert.equal(r.state, 'SUCCEEDED', JSON.stringify(r.error));
      assert.deepEqual(r.result, c.want);
    });
  }
});
