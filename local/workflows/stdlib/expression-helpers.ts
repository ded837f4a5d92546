// The expression helpers: functions without a module (`len`, `int`, `default`...).
import { raise } from '../errors.ts';
import { isBytes, isList, isMap, typeName, type Value } from '../values.ts';
import { chars, fn } from './args.ts';
import type { WfFunction } from './types.ts';

/** `string()` of a value: numbers as Google prints them, booleans lowercase. */
export function stringify(v: Value): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (typeof v === 'number')
    return Number.isInteger(v) ? v.toFixed(1).replace(/\.0$/, '.0') : String(v);
  if (v === null) return 'null';
  return raise('TypeError', `string() cannot convert '${typeName(v)}'`);
}

export const expressionHelpers: [string, WfFunction][] = [
  [
    'len',
    fn(['value'], ([v]) => {
      if (typeof v === 'string') return BigInt(chars(v).length);
      if (isList(v!)) return BigInt(v.length);
      if (isMap(v!)) return BigInt(v.size);
      if (isBytes(v!)) return BigInt(v.length);
      return raise('TypeError', `len() of '${typeName(v ?? null)}' is not defined`);
    }),
  ],
  [
    'keys',
    fn(['map'], ([m]) =>
      isMap(m!)
        ? [...m.keys()]
        : raise('TypeError', `keys() needs a map, got '${typeName(m ?? null)}'`),
    ),
  ],
  [
    'int',
    fn(['value'], ([v]) => {
      if (typeof v === 'bigint') return v;
      if (typeof v === 'number') return BigInt(Math.trunc(v));
      if (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)) return BigInt(v.trim());
      if (typeof v === 'string' && /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(v))
        return BigInt(Math.trunc(Number(v)));
      if (typeof v === 'boolean') return v ? 1n : 0n;
      return raise(
        'ValueError',
        `int() cannot convert ${JSON.stringify(typeof v === 'string' ? v : typeName(v ?? null))}`,
      );
    }),
  ],
  [
    'double',
    fn(['value'], ([v]) => {
      if (typeof v === 'bigint' || typeof v === 'number') return Number(v);
      if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
      return raise(
        'ValueError',
        `double() cannot convert ${JSON.stringify(typeof v === 'string' ? v : typeName(v ?? null))}`,
      );
    }),
  ],
  ['string', fn(['value'], ([v]) => stringify(v ?? null))],
  [
    'default',
    fn(['value', 'default_value'], ([v, d]) => (v === null || v === undefined ? (d ?? null) : v)),
  ],
  ['get_type', fn(['value'], ([v]) => typeName(v ?? null))],
];
