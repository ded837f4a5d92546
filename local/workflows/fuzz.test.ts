// Properties over generated input: the parser refuses any text with a DeployError (never a crash),
// and any expression that parses evaluates to a value or a workflow error, never an engine bug.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseJsonValue, toJsonText } from './convert.ts';
import { DeployError, parseWorkflow, startExecution } from './engine.ts';
import type { Value } from './values.ts';

const tokens = [
  '1',
  '2.5',
  '-',
  '+',
  '*',
  '/',
  '//',
  '%',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  '.',
  '"a"',
  "'b'",
  'x',
  'm',
  'l',
  'and',
  'or',
  'not',
  'in',
  '==',
  '!=',
  '<',
  '>=',
  'true',
  'null',
  'len',
  'keys',
  'int',
  'string',
  'default',
  'text.split',
  '0',
  '9223372036854775807',
  ' ',
];

test('any expression text either deploys or is refused with DeployError', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...tokens), { maxLength: 25 }), (parts) => {
      const src = `- r:\n    return: '\${${parts.join(' ').replaceAll("'", "''")}}'`;
      try {
        parseWorkflow(src);
      } catch (err) {
        assert.ok(err instanceof DeployError, String(err));
      }
    }),
    { numRuns: 2000 },
  );
});

// Well-formed expressions from a small grammar, so most of them get past the parser and run.
const expression: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(
      '1',
      '0',
      '-3',
      '2.5',
      '0.0',
      '"a"',
      '""',
      'true',
      'false',
      'null',
      'x',
      'm',
      'l',
      's',
    ),
    fc.constantFrom('9223372036854775807', '[]', '{}', 'm.a', 'l[1]', 'l[5]', 'm["zz"]', 'm.a.b'),
    fc
      .tuple(
        tie('e'),
        fc.constantFrom('+', '-', '*', '/', '//', '%', '==', '!=', '<', '>=', 'and', 'or', 'in'),
        tie('e'),
      )
      .map(([a, op, b]) => `(${a} ${op} ${b})`),
    tie('e').map((a) => `-${a}`),
    tie('e').map((a) => `not ${a}`),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => `[${a}, ${b}]`),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => `(${a})[${b}]`),
    fc.tuple(tie('e')).map(([a]) => `{"k": ${a}}`),
    fc
      .tuple(
        fc.constantFrom(
          'len',
          'keys',
          'int',
          'double',
          'string',
          'get_type',
          'text.to_upper',
          'json.encode_to_string',
        ),
        tie('e'),
      )
      .map(([f, a]) => `${f}(${a})`),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => `default(${a}, ${b})`),
  ),
})).e;

test('an expression that deploys ends SUCCEEDED or FAILED with a tagged error, never SystemError', async () => {
  let ran = 0;
  await fc.assert(
    fc.asyncProperty(expression, async (expr) => {
      const src = `- init:\n    assign:\n      - x: 3\n      - s: "txt"\n      - m: {"a": 1}\n      - l: [1, 2]\n- r:\n    return: '\${${expr.replaceAll("'", "''")}}'`;
      let wf: ReturnType<typeof parseWorkflow>;
      try {
        wf = parseWorkflow(src);
      } catch (err) {
        // Only the length limit may refuse a well-formed expression.
        assert.match(String(err), /longer than 400 characters/);
        return;
      }
      ran++;
      const r = await startExecution(wf, null).done;
      if (r.state === 'FAILED') {
        const p = r.error?.payload;
        assert.ok(p instanceof Map, JSON.stringify(r.error));
        assert.notDeepEqual(p.get('tags'), ['SystemError'], `${expr}: ${String(p.get('message'))}`);
      } else assert.equal(r.state, 'SUCCEEDED');
    }),
    { numRuns: 1500 },
  );
  assert.ok(ran > 1000, `only ${ran} generated expressions deployed`);
});

test('any YAML-ish text is refused with DeployError or deploys', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (text) => {
      try {
        parseWorkflow(text);
      } catch (err) {
        assert.ok(err instanceof DeployError, String(err));
      }
    }),
    { numRuns: 2000 },
  );
});

// JSON values without integral doubles (those print as integers, as JSON has no other way).
const jsonValue: fc.Arbitrary<Value> = fc.letrec<{ v: Value }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
    fc.string(),
    fc.array(tie('v'), { maxLength: 4 }),
    fc
      .uniqueArray(fc.tuple(fc.string(), tie('v')), { maxLength: 4, selector: ([k]) => k })
      .map((entries) => new Map(entries)),
  ),
})).v;

test('JSON text round-trips through the value model exactly', () => {
  fc.assert(
    fc.property(jsonValue, (v) => {
      assert.deepEqual(parseJsonValue(toJsonText(v)), v);
    }),
    { numRuns: 1000 },
  );
});
