// The JSON reader for arguments: exact 64-bit integers, doubles kept as doubles, and bad input
// refused with a ValueError that says where.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseJsonValue, toJsonText } from './convert.ts';
import { WorkflowError } from './errors.ts';

describe('parseJsonValue', () => {
  const good: { name: string; text: string; want: unknown }[] = [
    { name: 'int', text: '42', want: 42n },
    { name: 'negative int', text: '-7', want: -7n },
    { name: 'int beyond 2^53 stays exact', text: '9007199254740993', want: 9007199254740993n },
    { name: 'int64 max', text: '9223372036854775807', want: 9223372036854775807n },
    {
      name: 'beyond int64 becomes a double',
      text: '9223372036854775808',
      want: 2 ** 63,
    },
    { name: 'double with a fraction', text: '1.5', want: 1.5 },
    { name: 'double written with .0', text: '2.0', want: 2 },
    { name: 'exponent is a double', text: '1e3', want: 1000 },
    { name: 'string with escapes', text: '"a\\"b\\u00e9\\n"', want: 'a"bé\n' },
    { name: 'literals', text: '[true, false, null]', want: [true, false, null] },
    {
      name: 'map keeps key order',
      text: '{"z": 1, "a": {"b": []}}',
      want: new Map<string, unknown>([
        ['z', 1n],
        ['a', new Map([['b', []]])],
      ]),
    },
    { name: 'whitespace around', text: ' \n [ 1 , 2 ] \t', want: [1n, 2n] },
  ];
  for (const c of good) test(c.name, () => assert.deepEqual(parseJsonValue(c.text), c.want));

  const bad: { name: string; text: string; want: RegExp }[] = [
    { name: 'empty', text: '', want: /invalid JSON: unexpected end of JSON at position 0/ },
    { name: 'trailing comma', text: '[1,]', want: /invalid JSON: unexpected "\]"/ },
    { name: 'unquoted key', text: '{a: 1}', want: /expected a string key/ },
    { name: 'text after the value', text: '1 2', want: /unexpected text after the JSON value/ },
    { name: 'unterminated string', text: '"abc', want: /unterminated string/ },
    { name: 'raw control character', text: '"a\u0001"', want: /control character/ },
    { name: 'leading zero', text: '01', want: /unexpected text after/ },
    { name: 'single quotes', text: "'a'", want: /unexpected "'"/ },
    { name: 'hostile nesting', text: '['.repeat(100_000), want: /nested too deeply/ },
  ];
  for (const c of bad) {
    test(`refuses ${c.name}`, () => {
      assert.throws(
        () => parseJsonValue(c.text),
        (err: unknown) =>
          err instanceof WorkflowError &&
          err.value instanceof Map &&
          c.want.test(String(err.value.get('message'))),
      );
    });
  }

  test('round trip through toJsonText', () => {
    const text = '{"a":[1,2.5,"x",null,true],"b":{"c":9223372036854775807}}';
    assert.equal(toJsonText(parseJsonValue(text)), text);
  });
});
