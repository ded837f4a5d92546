// base64: bytes or strings to base64 text and back.
import { isBytes } from '../values.ts';
import { fn, str } from './args.ts';
import type { WfFunction } from './types.ts';

export const base64Functions: [string, WfFunction][] = [
  [
    'base64.encode',
    fn(['data', 'padding?'], ([d, pad]) => {
      const b = Buffer.from(isBytes(d!) ? d : Buffer.from(str(d, 'data'))).toString('base64');
      return pad === false ? b.replace(/=+$/, '') : b;
    }),
  ],
  [
    'base64.decode',
    fn(['data', 'padding?'], ([d]) => new Uint8Array(Buffer.from(str(d, 'data'), 'base64'))),
  ],
];
