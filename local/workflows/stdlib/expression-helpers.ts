// The expression helpers: functions without a module (`len`, `int`, `default`...), as Google's
// "Expression helpers" page lists them. Its conversion functions name the types they accept; any
// other type is a TypeError, and a string of the right type that does not spell a number is a
// ValueError (the meanings Google's "Workflow errors" page gives those two tags).
import { raise } from '../errors.ts';
import { doubleText, isBytes, isList, isMap, typeName, type Value } from '../values.ts';
import { chars, fn } from './args.ts';
import type { WfFunction } from './types.ts';

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** Decimal integers and decimal floating-point numbers, as `int()` and `double()` read strings. */
const INTEGER_TEXT = /^[+-]?\d+$/;
const DECIMAL_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** `string()` of a value: integers and booleans as written, doubles with a fraction ("2.0"). */
export function stringify(v: Value): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return doubleText(v);
  return raise(
    'TypeError',
    `string() accepts an integer, double, boolean or string, got '${typeName(v)}'`,
  );
}

function inInt64(v: bigint, what: string): bigint {
  if (v < INT64_MIN || v > INT64_MAX)
    raise('ValueError', `int() of ${what} is outside the 64-bit integer range`);
  return v;
}

/** A double to an integer, dropping the fraction (`int(2.7)` is 2, `int(-2.7)` is -2). */
function truncate(d: number, what: string): bigint {
  if (!Number.isFinite(d)) raise('ValueError', `int() cannot convert ${what} to an integer`);
  return inInt64(BigInt(Math.trunc(d)), what);
}

/** `int()`: an integer, a double (truncated) or a string spelling a number. */
export function toInt(v: Value): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return truncate(v, String(v));
  if (typeof v === 'string') {
    const text = v.trim();
    const shown = JSON.stringify(v);
    if (INTEGER_TEXT.test(text)) return inInt64(BigInt(text), shown);
    if (DECIMAL_TEXT.test(text)) return truncate(Number(text), shown);
    return raise('ValueError', `int() cannot parse ${shown} as a number`);
  }
  return raise('TypeError', `int() accepts a string or a double, got '${typeName(v)}'`);
}

/** `double()`: an integer, a double or a string spelling a decimal number. */
export function toDouble(v: Value): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') {
    const text = v.trim();
    const d = Number(text);
    // Number() also reads "0x10", "Infinity" and "": only decimal notation is a number here.
    if (DECIMAL_TEXT.test(text) && Number.isFinite(d)) return d;
    return raise('ValueError', `double() cannot parse ${JSON.stringify(v)} as a number`);
  }
  return raise('TypeError', `double() accepts a string or an integer, got '${typeName(v)}'`);
}

function len(v: Value): bigint {
  if (typeof v === 'string') return BigInt(chars(v).length);
  if (isList(v)) return BigInt(v.length);
  if (isMap(v)) return BigInt(v.size);
  if (isBytes(v)) return BigInt(v.length);
  return raise('TypeError', `len() accepts a list, map or string, got '${typeName(v)}'`);
}

export const expressionHelpers: [string, WfFunction][] = [
  ['len', fn(['value'], ([v]) => len(v ?? null))],
  [
    'keys',
    fn(['map'], ([m]) =>
      isMap(m ?? null)
        ? [...(m as Map<string, Value>).keys()]
        : raise('TypeError', `keys() accepts a map, got '${typeName(m ?? null)}'`),
    ),
  ],
  ['int', fn(['value'], ([v]) => toInt(v ?? null))],
  ['double', fn(['value'], ([v]) => toDouble(v ?? null))],
  ['string', fn(['value'], ([v]) => stringify(v ?? null))],
  [
    'default',
    fn(['val', 'defaultVal'], ([v, d]) => (v === null || v === undefined ? (d ?? null) : v)),
  ],
  // In an expression the compiler evaluates `if` itself, only the chosen branch (expression.ts);
  // this entry serves a `call: if` step, whose arguments are all evaluated before the call anyway.
  [
    'if',
    fn(['condition', 'ifTrue', 'ifFalse'], ([c, t, f]) => {
      if (c === true) return t ?? null;
      if (c === false || c === null) return f ?? null;
      return raise(
        'TypeError',
        `if() needs a boolean or null condition, got '${typeName(c ?? null)}'`,
      );
    }),
  ],
  ['get_type', fn(['value'], ([v]) => typeName(v ?? null))],
];
