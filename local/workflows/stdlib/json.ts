// json: encoding values to JSON bytes or text and decoding them, exact for 64-bit integers.
import { parseJsonValue, toJsonText } from '../convert.ts';
import { raise } from '../errors.ts';
import { isBytes, isMap, type Value } from '../values.ts';
import { fn, str } from './args.ts';
import type { WfFunction } from './types.ts';

/** `indent: true` indents by two spaces; a map may say `{indent: "    "}`. */
function indentOf(i: Value | undefined): number {
  if (i === undefined || i === null || i === false) return 0;
  if (i === true) return 2;
  if (isMap(i) && typeof i.get('indent') === 'string') return (i.get('indent') as string).length;
  return raise('TypeError', 'indent must be a boolean or a map with indent');
}

export const jsonFunctions: [string, WfFunction][] = [
  [
    'json.encode',
    fn(
      ['data', 'indent?'],
      ([d, i]) => new Uint8Array(Buffer.from(toJsonText(d ?? null, indentOf(i)))),
    ),
  ],
  [
    'json.encode_to_string',
    fn(['data', 'indent?'], ([d, i]) => toJsonText(d ?? null, indentOf(i))),
  ],
  [
    'json.decode',
    fn(['data'], ([d]) =>
      parseJsonValue(isBytes(d!) ? Buffer.from(d).toString('utf8') : str(d, 'data')),
    ),
  ],
];
