// base64: bytes to Base64 text and back (Google's reference pages stdlib/base64/*), with the
// standard alphabet; `padding` (default true) adds `=` when encoding and requires it when decoding.
import { raise } from '../errors.ts';
import type { Value } from '../values.ts';
import { bool, bytesOf, fn, str } from './args.ts';
import type { WfFunction } from './types.ts';

const padded = (padding: Value | undefined) =>
  padding === undefined || padding === null ? true : bool(padding, 'padding');

function encode(data: Buffer, padding: boolean): string {
  const text = data.toString('base64');
  return padding ? text : text.replace(/=+$/, '');
}

/**
 * Strict decoding, as the page says: carriage returns and newlines are ignored; any other
 * character outside the alphabet, or (with padding) input not a multiple of 4 long, is a
 * ValueError. Without padding, `=` is outside the alphabet too.
 */
function decode(data: string, padding: boolean): Uint8Array {
  const text = data.replace(/[\r\n]/g, '');
  const body = padding ? text.replace(/={1,2}$/, '') : text;
  const bad = /[^A-Za-z0-9+/]/.exec(body);
  if (bad)
    raise('ValueError', `base64.decode: ${JSON.stringify(bad[0])} is not in the Base64 alphabet`);
  if (padding && text.length % 4 !== 0)
    raise('ValueError', 'base64.decode: with padding, the input length must be a multiple of 4');
  // A lone character in the last group carries fewer than 8 bits: no byte can come of it.
  if (body.length % 4 === 1)
    raise('ValueError', 'base64.decode: the input ends with a truncated group');
  return new Uint8Array(Buffer.from(body, 'base64'));
}

export const base64Functions: [string, WfFunction][] = [
  [
    'base64.encode',
    fn(['data', 'padding?'], ([d, pad]) => encode(bytesOf(d, 'data'), padded(pad))),
  ],
  ['base64.decode', fn(['data', 'padding?'], ([d, pad]) => decode(str(d, 'data'), padded(pad)))],
];
