// The expression compiler on its own: keywords, comparisons and the lazily evaluated if().
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareNumbers, compileExpression, type Scope } from './expression.ts';
import type { Value } from './values.ts';
import { raisedTags } from '../../test/helpers/raised.ts';

/** Evaluates `src` with `vars` in scope; a call of `boom()` fails, to show what was evaluated. */
function evaluate(src: string, vars: Record<string, Value> = {}): Value {
  const scope: Scope = {
    get: (name) => {
      if (!(name in vars)) throw new Error(`no variable ${name}`);
      return vars[name]!;
    },
    has: (name) => name in vars,
    call: (name) => {
      throw new Error(`${name}() was evaluated`);
    },
  };
  return compileExpression(src)(scope);
}

describe('expression keywords', () => {
  const cases: [string, Value][] = [
    ['true', true],
    ['True', true],
    ['TRUE', true],
    ['False', false],
    ['FALSE', false],
    ['true AND false', false],
    ['false OR true', true],
    ['NOT false', true],
    ['1 IN [1]', true],
  ];
  for (const [src, want] of cases) test(src, () => assert.equal(evaluate(src), want));

  for (const src of ['true And false', 'false Or true', 'Not false']) {
    test(`${src} does not parse: mixed case is no keyword`, () => {
      assert.throws(() => compileExpression(src), /unexpected trailing input/);
    });
  }

  test('tRUE is a variable name', () => assert.equal(evaluate('tRUE', { tRUE: 1n }), 1n));
});

describe('comparisons', () => {
  const cases: [string, Value][] = [
    ['9007199254740993 == 9007199254740992.0', false],
    ['9007199254740993 > 9007199254740992.0', true],
    ['9223372036854775807 < 9223372036854775808.0', true],
    ['2 == 2.0', true],
    ['2 < 2.5', true],
    ['3 > 2.5', true],
    ['-3 < -2.5', true],
    ['2.5 > 2', true],
    ['"a" < "b"', true],
    ['"ab" > "a"', true],
    ['"\uffff" < "\u{1F600}"', true],
    ['[1, [2]] == [1, [2]]', true],
    ['{"a": 1, "b": 2} == {"b": 2, "a": 1}', true],
    ['1 == "1"', false],
    ['null == null', true],
    ['null != 0', true],
  ];
  for (const [src, want] of cases) test(src, () => assert.equal(evaluate(src), want));

  test('ordering different types is a TypeError', () => {
    assert.deepEqual(
      raisedTags(() => evaluate('1 < "2"')),
      ['TypeError'],
    );
  });

  test('compareNumbers is exact between integers and doubles', () => {
    assert.equal(compareNumbers(1n, 1.5), -1);
    assert.equal(compareNumbers(2.0, 2n), 0);
    assert.equal(compareNumbers(1n, Number.POSITIVE_INFINITY), -1);
    assert.equal(compareNumbers(Number.NEGATIVE_INFINITY, 1n), -1);
    assert.ok(Number.isNaN(compareNumbers(1n, Number.NaN)));
  });
});

describe('if(condition, ifTrue, ifFalse)', () => {
  const cases: [string, Value][] = [
    ['if(5 > 3, "Foo", "Bar")', 'Foo'],
    ['if(false, "Foo", "Bar")', 'Bar'],
    ['if(null, "Foo", "Bar")', 'Bar'],
    ['if(true, 1, boom())', 1n],
    ['if(false, boom(), 2)', 2n],
    ['if(true, if(false, 1, 2), 3)', 2n],
  ];
  for (const [src, want] of cases) test(src, () => assert.equal(evaluate(src), want));

  test('a condition that is neither boolean nor null is a TypeError', () => {
    assert.deepEqual(
      raisedTags(() => evaluate('if(1, "a", "b")')),
      ['TypeError'],
    );
  });

  for (const src of ['if(true, 1)', 'if(true, 1, 2, 3)']) {
    test(`${src} does not compile`, () => {
      assert.throws(() => compileExpression(src), /takes 3 arguments/);
    });
  }
});
