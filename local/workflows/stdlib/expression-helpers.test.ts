// The conversion helpers on their own: what int(), double() and string() accept and raise.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Value } from '../values.ts';
import { stringify, toDouble, toInt } from './expression-helpers.ts';
import { raisedTags } from '../../../test/helpers/raised.ts';

describe('int()', () => {
  const ok: [string, Value, bigint][] = [
    ['an integer', 5n, 5n],
    ['a double, truncated', 2.7, 2n],
    ['a negative double, truncated toward zero', -2.7, -2n],
    ['a decimal string', '42', 42n],
    ['a signed string with spaces', ' -7 ', -7n],
    ['the largest int64 as a string', '9223372036854775807', 9223372036854775807n],
    ['a string with a fraction', '2.7', 2n],
  ];
  for (const [name, v, want] of ok) test(name, () => assert.equal(toInt(v), want));

  const bad: [string, Value, string][] = [
    ['a word', 'abc', 'ValueError'],
    ['an empty string', '', 'ValueError'],
    ['a hexadecimal string', '0x10', 'ValueError'],
    ['a string past int64', '9223372036854775808', 'ValueError'],
    ['a double past int64', 1e20, 'ValueError'],
    ['infinity', Number.POSITIVE_INFINITY, 'ValueError'],
    ['a boolean', true, 'TypeError'],
    ['null', null, 'TypeError'],
    ['a list', [1n], 'TypeError'],
  ];
  for (const [name, v, tag] of bad)
    test(`${name} raises ${tag}`, () =>
      assert.deepEqual(
        raisedTags(() => toInt(v)),
        [tag],
      ));
});

describe('double()', () => {
  const ok: [string, Value, number][] = [
    ['an integer', 3n, 3],
    ['a double', 2.5, 2.5],
    ['a decimal string', '2.7', 2.7],
    ['an exponent', '1e3', 1000],
    ['an integral string', '-4', -4],
  ];
  for (const [name, v, want] of ok) test(name, () => assert.equal(toDouble(v), want));

  const bad: [string, Value, string][] = [
    ['a word', 'abc', 'ValueError'],
    ['Infinity', 'Infinity', 'ValueError'],
    ['a hexadecimal string', '0x10', 'ValueError'],
    ['an empty string', ' ', 'ValueError'],
    ['a boolean', false, 'TypeError'],
    ['null', null, 'TypeError'],
    ['a map', new Map(), 'TypeError'],
  ];
  for (const [name, v, tag] of bad)
    test(`${name} raises ${tag}`, () =>
      assert.deepEqual(
        raisedTags(() => toDouble(v)),
        [tag],
      ));
});

describe('string()', () => {
  const ok: [string, Value, string][] = [
    ['an integer', 27n, '27'],
    ['a double', 1.7, '1.7'],
    ['an integral double keeps its fraction', 2, '2.0'],
    ['negative zero keeps its sign', -0, '-0.0'],
    ['a boolean', false, 'false'],
    ['a string', 'x', 'x'],
  ];
  for (const [name, v, want] of ok) test(name, () => assert.equal(stringify(v), want));

  for (const [name, v] of [
    ['null', null],
    ['a list', [1n]],
    ['bytes', new Uint8Array([1])],
  ] as [string, Value][])
    test(`${name} raises TypeError`, () =>
      assert.deepEqual(
        raisedTags(() => stringify(v)),
        ['TypeError'],
      ));
});
