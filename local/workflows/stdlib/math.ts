// math: numbers keep their type as Google's reference pages say (stdlib/math/*): abs keeps the
// argument's type, floor gives an integer, max and min give an integer only for two integers.
import { raise } from '../errors.ts';
import { fn, num } from './args.ts';
import type { WfFunction } from './types.ts';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function abs(x: bigint | number): bigint | number {
  if (typeof x === 'number') return Math.abs(x);
  // Documented: |MinInt64| does not fit in 64 bits.
  if (x === INT64_MIN) raise('ValueError', 'math.abs of -9223372036854775808 overflows int64');
  return x < 0n ? -x : x;
}

function floor(x: bigint | number): bigint {
  // An integer is already its own floor; going through a double would lose digits past 2^53.
  if (typeof x === 'bigint') return x;
  const f = BigInt(Math.floor(x));
  if (f < INT64_MIN || f > INT64_MAX) raise('ValueError', `math.floor(${x}) overflows int64`);
  return f;
}

/** The larger (or smaller) of two numbers: an integer when both are, otherwise a double. */
function pick(x: bigint | number, y: bigint | number, larger: boolean): bigint | number {
  if (typeof x === 'bigint' && typeof y === 'bigint') return x > y === larger ? x : y;
  const [a, b] = [Number(x), Number(y)];
  return a > b === larger ? a : b;
}

export const mathFunctions: [string, WfFunction][] = [
  ['math.abs', fn(['x'], ([x]) => abs(num(x, 'x')))],
  ['math.floor', fn(['x'], ([x]) => floor(num(x, 'x')))],
  ['math.max', fn(['x', 'y'], ([x, y]) => pick(num(x, 'x'), num(y, 'y'), true))],
  ['math.min', fn(['x', 'y'], ([x, y]) => pick(num(x, 'x'), num(y, 'y'), false))],
];
