// Copy-on-write values: what one variable's write can never change elsewhere, and sizes kept as
// values change always equal a full recount (the limits' boundaries hold exactly).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { toJsonText } from './convert.ts';
import { type EngineOptions, parseWorkflow, startExecution } from './engine.ts';
import { tagsOf } from './errors.ts';
import {
  joinLists,
  mergeMaps,
  type Path,
  pushOwned,
  ownRoot,
  share,
  sizeOf,
  withoutKey,
  writePath,
} from './sharing.ts';
import { isList, isMap, type Value, type WfMap } from './values.ts';

async function run(yaml: string, options: EngineOptions = {}): Promise<string> {
  const r = await startExecution(parseWorkflow(yaml), null, options).done;
  if (r.state === 'SUCCEEDED') return toJsonText(r.result!);
  return `${r.state} ${tagsOf(r.error!.payload).join(',')}`;
}

/** The steps of a workflow from `assign` lists, then a return. */
const steps = (assigns: string[][], ret: string) =>
  `${assigns.map((a, i) => `- s${i}:\n    assign:\n${a.map((x) => `      - ${x}\n`).join('')}`).join('')}- done:\n    return: ${ret}\n`;

describe('a write through one variable never shows through another', () => {
  const cases: { name: string; yaml: string; want: string }[] = [
    {
      name: 'assignment, then writing the copy',
      yaml: steps([['a: {"k": [1, 2]}', 'b: ${a}', 'b.k[0]: 9']], '${[a, b]}'),
      want: '[{"k":[1,2]},{"k":[9,2]}]',
    },
    {
      name: 'assignment, then writing the original',
      yaml: steps([['a: {"k": [1, 2]}', 'b: ${a}', 'a.k[1]: 9']], '${[a, b]}'),
      want: '[{"k":[1,9]},{"k":[1,2]}]',
    },
    {
      name: 'a nested part held by another variable, then a nested write',
      yaml: steps(
        [['a: {"b": {"c": 1}}'], ['a.b.c: 2'], ['y: ${a.b}', 'z: ${a}', 'a.b.c: 3']],
        '${[a, y, z]}',
      ),
      want: '[{"b":{"c":3}},{"c":2},{"b":{"c":2}}]',
    },
    {
      name: 'writes in place, then the value shared, then written again',
      yaml: steps(
        [['m: {}', 'm.x.y: 1', 'm.x.z: 2', 'n: ${m}', 'm.x.y: 5', 'n.x.z: 6']],
        '${[m, n]}',
      ),
      want: '[{"x":{"y":5,"z":2}},{"x":{"y":1,"z":6}}]',
    },
    {
      name: 'list.concat, then writing the new list or the item',
      yaml: steps(
        [['l: [{"k": 1}]', 'x: {"k": 2}', 'm: ${list.concat(l, x)}', 'm[0].k: 5', 'x.k: 7']],
        '${[l, m, x]}',
      ),
      want: '[[{"k":1}],[{"k":5},{"k":2}],{"k":7}]',
    },
    {
      name: 'appending in place to a list, then writing the item or an earlier copy',
      yaml: steps(
        [
          ['r: []', 'x: {"k": 1}'],
          ['r: ${list.concat(r, x)}', 'c: ${r}', 'r: ${list.concat(r, x)}', 'x.k: 2'],
          ['r: ${list.concat(r, r)}', 'r[2][0].k: 3'],
        ],
        '${[r, c, x]}',
      ),
      want: '[[{"k":1},{"k":1},[{"k":3},{"k":1}]],[{"k":1}],{"k":2}]',
    },
    {
      name: 'map.merge, then writing the merged map',
      yaml: steps(
        [['a: {"n": {"v": 1}}', `b: '\${map.merge(a, {"x": 1})}'`, 'b.n.v: 2']],
        '${[a, b]}',
      ),
      want: '[{"n":{"v":1}},{"n":{"v":2},"x":1}]',
    },
    {
      name: 'a function handing back part of its argument',
      yaml: steps(
        [['x: {"a": {"k": 1}}', 'y: ${map.get(x, "a")}', 'y.k: 5', 'x.a.k: 6']],
        '${[x, y]}',
      ),
      want: '[{"a":{"k":6}},{"k":5}]',
    },
    {
      name: 'a list literal and list + holding part of a variable',
      yaml: steps(
        [['x: {"a": [{"k": 1}]}', 'y: ${[x.a]}', 'z: ${x.a + [0]}', 'x.a[0].k: 9']],
        '${[x, y, z]}',
      ),
      want: '[{"a":[{"k":9}]},[[{"k":1}]],[{"k":1},0]]',
    },
    {
      name: "a for loop's value is a copy of the item",
      yaml: `${steps([['l: [{"k": 1}, {"k": 2}]']], '${l}').replace(/- done:[\s\S]*/, '')}- loop:
    for:
      value: v
      in: \${l}
      steps:
        - w:
            assign:
              - v.k: 0
              - l[1].k: 5
- done:
    return: \${l}
`,
      want: '[{"k":1},{"k":5}]',
    },
    {
      name: "except's error is a copy of the raised value",
      yaml: `- init:
    assign:
      - m: {"k": 1}
      - out: null
- t:
    try:
      raise: \${m}
    except:
      as: e
      steps:
        - w:
            assign:
              - e.k: 2
              - out: \${[m, e]}
- done:
    return: \${out}
`,
      want: '[{"k":1},{"k":2}]',
    },
  ];
  for (const c of cases) test(c.name, async () => assert.equal(await run(c.yaml), c.want));

  test('subworkflow arguments and results', async () => {
    const yaml = `main:
  steps:
    - init:
        assign:
          - m: {"k": [1]}
    - c:
        call: change
        args:
          p: \${m}
        result: r
    - w:
        assign:
          - r.k[0]: 3
          - e: \${change(m)}
    - done:
        return: \${[m, r, e]}
change:
  params: [p]
  steps:
    - w:
        assign:
          - p.k[0]: 2
    - r:
        return: \${p}
`;
    assert.equal(await run(yaml), '[{"k":[1]},{"k":[3]},{"k":[2]}]');
  });

  test('parallel branches writing a shared map, one branch keeping a copy', async () => {
    const yaml = `- init:
    assign:
      - results: {"seed": 0}
      - copies: []
- p:
    parallel:
      shared: [results, copies]
      for:
        value: i
        range: [1, 5]
        steps:
          - w:
              assign:
                - mine: \${results}
                - results[string(i)]: \${i}
                - mine.seed: \${i}
- done:
    return: \${results}
`;
    assert.equal(await run(yaml), '{"seed":0,"1":1,"2":2,"3":3,"4":4,"5":5}');
  });
});

/** A value's size counted from scratch, as the limits define it (sharing.ts, sizeOf). */
function recount(v: Value): number {
  if (v === null || typeof v === 'boolean') return 1;
  if (typeof v === 'bigint' || typeof v === 'number') return 8;
  if (typeof v === 'string') return v.length;
  if (v instanceof Uint8Array) return v.byteLength;
  if (isList(v)) return v.reduce<number>((n, x) => n + recount(x) + 1, 2);
  let n = 2;
  for (const [k, x] of v) n += k.length + recount(x) + 2;
  return n;
}

/** Every container inside a value, the value included. */
function containers(v: Value, out: Value[] = []): Value[] {
  if (isList(v) || isMap(v)) {
    out.push(v);
    for (const x of v.values()) containers(x, out);
  }
  return out;
}

describe('sizes kept as values change equal a full recount', () => {
  const leaf = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.bigInt({ min: -5n, max: 5n }),
    fc.string({ maxLength: 6 }),
  );
  const op = fc.oneof(
    fc.record({
      k: fc.constant('write' as const),
      keys: fc.array(fc.nat(3), { maxLength: 3 }),
      leaf,
    }),
    fc.record({
      k: fc.constant('writeVar' as const),
      keys: fc.array(fc.nat(3), { maxLength: 3 }),
      from: fc.nat(2),
    }),
    fc.record({ k: fc.constant('push' as const), leaf }),
    fc.record({ k: fc.constant('share' as const), from: fc.nat(2) }),
    fc.record({ k: fc.constant('merge' as const), from: fc.nat(2) }),
    fc.record({ k: fc.constant('delete' as const), key: fc.nat(3) }),
    fc.record({ k: fc.constant('join' as const), from: fc.nat(2) }),
  );

  test('through writes, appends, merges, deletes and joins over shared parts', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        // Three variables; each op changes variable 0 from the others' values.
        const vars: Value[] = [new Map(), [], new Map([['a', 'x']])];
        for (const o of ops) {
          const v0 = vars[0]!;
          if (o.k === 'write' || o.k === 'writeVar') {
            const value = o.k === 'write' ? o.leaf : share(vars[o.from]!);
            const path = pathFor(v0, o.keys);
            if (path) vars[0] = writePath(v0 as WfMap, path, value);
          } else if (o.k === 'push' && isList(v0)) {
            vars[0] = ownRoot(joinLists(share(v0), []));
            pushOwned(vars[0] as Value[], o.leaf);
          } else if (o.k === 'share') vars[o.from] = share(v0);
          else if (o.k === 'merge' && isMap(v0) && isMap(vars[o.from]!))
            vars[0] = mergeMaps(v0, vars[o.from] as WfMap);
          else if (o.k === 'delete' && isMap(v0)) vars[0] = withoutKey(v0, `k${o.key}`);
          else if (o.k === 'join' && isList(v0) && isList(vars[o.from]!))
            vars[0] = joinLists(v0, vars[o.from] as Value[]);
          else if (o.k === 'join') vars[0] = [];
          for (const v of vars) for (const c of containers(v)) assert.equal(sizeOf(c), recount(c));
        }
      }),
      { numRuns: 300 },
    );
  });
});

/** A path of existing containers then one key, for writePath; undefined when there is none. */
function pathFor(root: Value, picks: number[]): Path | undefined {
  if (!isList(root) && !isMap(root)) return undefined;
  const path: Path = [];
  let c: Value = root;
  for (const p of picks) {
    if (isList(c)) {
      if (c.length === 0) return undefined;
      path.push(p % c.length);
      c = c[p % c.length]!;
    } else if (isMap(c)) {
      path.push(`k${p}`);
      const next = c.get(`k${p}`);
      if (next === undefined || !(isList(next) || isMap(next))) return path;
      c = next;
    } else return undefined;
  }
  if (isMap(c)) return [...path, 'k0'];
  if (isList(c) && c.length > 0) return [...path, 0];
  return path.length > 0 ? path : undefined;
}

describe('the limits hold at their exact boundaries', () => {
  const limited = (maxVariableBytes: number, maxStringBytes = 256 * 1024) => ({
    limits: { maxVariableBytes, maxStringBytes },
  });
  const cases: { name: string; yaml: string; limit: number; strings?: number; want: string }[] = [
    {
      // {} is 2, plus "ab" 2, "xyz" 3 and 2: 9.
      name: 'a nested write to exactly the variable limit',
      yaml: steps([['m: {}', 'm.ab: "xyz"']], '${m}'),
      limit: 9,
      want: '{"ab":"xyz"}',
    },
    {
      name: 'a nested write one byte over it',
      yaml: steps([['m: {}', 'm.ab: "xyz"']], '${m}'),
      limit: 8,
      want: 'FAILED ResourceLimitError',
    },
    {
      // [] is 2, then each "abc" 3 and 1: 6, then 10.
      name: 'appends in place to exactly the variable limit',
      yaml: steps(
        [['l: []', 'l: ${list.concat(l, "abc")}', 'l: ${list.concat(l, "abc")}']],
        '${len(l)}',
      ),
      limit: 10,
      want: '2',
    },
    {
      name: 'appends in place one byte over it',
      yaml: steps(
        [['l: []', 'l: ${list.concat(l, "abc")}', 'l: ${list.concat(l, "abc")}']],
        '${len(l)}',
      ),
      limit: 9,
      want: 'FAILED ResourceLimitError',
    },
    {
      name: 'a string in a map of exactly the string limit, in UTF-8 bytes',
      yaml: steps([['m: {}', 'm.s: "ééé"', 'm.s: "x"', 'm.t: "éé"']], '${m}'),
      limit: 1000,
      strings: 6,
      want: '{"s":"x","t":"éé"}',
    },
    {
      name: 'one byte over it',
      yaml: steps([['m: {"s": "x"}', 'm.t: "éé"', 'm.u: ${m.t + "a"}']], '${m}'),
      limit: 1000,
      strings: 4,
      want: 'FAILED ResourceLimitError',
    },
  ];
  for (const c of cases)
    test(c.name, async () => assert.equal(await run(c.yaml, limited(c.limit, c.strings)), c.want));

  // Two strings of 262,142 characters in a list: 2 + 2 × (262,142 + 1) = 524,288 = 512 KB.
  const big = (extra: string) =>
    `- init:\n    assign:\n      - s: "0123456789abcdef"\n- grow:\n    for:\n      value: i\n      range: [1, 14]\n      steps:\n        - double:\n            assign:\n              - s: \${s + s}\n- cut:\n    assign:\n      - t: \${text.substring(s, 0, 262142)}\n      - l: []\n      - l: \${list.concat(l, t)}\n      - l: \${list.concat(l, t${extra})}\n- done:\n    return: \${len(l)}\n`;
  test('a list of exactly 512 KB with the default limits', async () =>
    assert.equal(await run(big('')), '2'));
  test('a list one byte over 512 KB', async () =>
    assert.equal(await run(big(' + "x"')), 'FAILED ResourceLimitError'));
});
