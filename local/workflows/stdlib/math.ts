// math: numbers keep their type (integer or double) where Google's reference says so.
import { fn, num } from './args.ts';
import type { WfFunction } from './types.ts';

export const mathFunctions: [string, WfFunction][] = [
  [
    'math.abs',
    fn(['x'], ([x]) => {
      const v = num(x, 'x');
      return typeof v === 'bigint' ? (v < 0n ? -v : v) : Math.abs(v);
    }),
  ],
  ['math.floor', fn(['x'], ([x]) => BigInt(Math.floor(Number(num(x, 'x')))))],
  ['math.max', fn(['x', 'y'], ([x, y]) => (Number(num(x, 'x')) >= Number(num(y, 'y')) ? x! : y!))],
  ['math.min', fn(['x', 'y'], ([x, y]) => (Number(num(x, 'x')) <= Number(num(y, 'y')) ? x! : y!))],
];
