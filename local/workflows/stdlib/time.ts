// time: seconds since the epoch to RFC 3339 text and back.
import { raise } from '../errors.ts';
import { fn, num, str } from './args.ts';
import type { WfFunction } from './types.ts';

export const timeFunctions: [string, WfFunction][] = [
  [
    'time.format',
    fn(['seconds', 'timezone?'], ([s]) =>
      new Date(Number(num(s, 'seconds')) * 1000)
        .toISOString()
        .replace(/\.000Z$/, 'Z')
        .replace(/(\.\d{3})Z$/, '$1000Z'),
    ),
  ],
  [
    'time.parse',
    fn(['value'], ([v]) => {
      const t = Date.parse(str(v, 'value'));
      if (Number.isNaN(t)) raise('ValueError', `time.parse: not an RFC 3339 timestamp: ${v}`);
      return t / 1000;
    }),
  ],
];
