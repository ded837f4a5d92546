// json: values to JSON bytes or text and back (Google's reference pages stdlib/json/*), exact for
// 64-bit integers.
import { parseJsonValue, toJsonText } from '../convert.ts';
import { raise } from '../errors.ts';
import { isBytes, isList, isMap, type Value } from '../values.ts';
import { fn, str } from './args.ts';
import { decodeUtf8 } from './text.ts';
import type { WfFunction } from './types.ts';

/** How indented output is laid out: each element on a new line, `prefix`, then `indent` per level. */
interface Layout {
  prefix: string;
  indent: string;
}

/**
 * The `indent` argument: a boolean, or a map with optional string `prefix` (default "") and
 * `indent` (default four spaces); `true` is the same as `{}` and `false` as leaving it out.
 */
function layoutOf(indent: Value | undefined): Layout | null {
  if (indent === undefined || indent === null || indent === false) return null;
  if (indent === true) return { prefix: '', indent: '    ' };
  if (!isMap(indent))
    raise('TypeError', 'indent must be a boolean or a map with optional prefix and indent');
  const option = (key: string, fallback: string) => {
    const v = indent.get(key);
    return v === undefined ? fallback : str(v, `indent.${key}`);
  };
  return { prefix: option('prefix', ''), indent: option('indent', '    ') };
}

/**
 * JSON text of `value`; bytes raise ValueError, as the page says. Indented, the page's wording
 * follows Go's json.MarshalIndent, so its layout is taken too: no prefix before the first line,
 * `": "` after a key, and empty lists and maps kept as `[]` and `{}`.
 */
function encode(value: Value, layout: Layout | null): string {
  const out: string[] = [];
  const newline = (depth: number) =>
    layout ? `\n${layout.prefix}${layout.indent.repeat(depth)}` : '';
  const colon = layout ? ': ' : ':';
  const walk = (v: Value, depth: number) => {
    if (isBytes(v)) raise('ValueError', 'bytes cannot be JSON-encoded; use base64.encode first');
    if (isList(v) && v.length > 0) {
      out.push('[');
      v.forEach((e, i) => {
        out.push(i ? ',' : '', newline(depth + 1));
        walk(e, depth + 1);
      });
      out.push(newline(depth), ']');
    } else if (isMap(v) && v.size > 0) {
      out.push('{');
      let i = 0;
      for (const [k, e] of v) {
        out.push(i++ ? ',' : '', newline(depth + 1), JSON.stringify(k), colon);
        walk(e, depth + 1);
      }
      out.push(newline(depth), '}');
    } else out.push(toJsonText(v));
  };
  walk(value, 0);
  return out.join('');
}

/** Bytes are read as `text.decode(data, "UTF-8")` would read them, as the page says. */
function decode(data: Value | undefined): Value {
  return parseJsonValue(isBytes(data ?? null) ? decodeUtf8(data as Uint8Array) : str(data, 'data'));
}

export const jsonFunctions: [string, WfFunction][] = [
  [
    'json.encode',
    fn(
      ['data', 'indent?'],
      ([d, i]) => new Uint8Array(Buffer.from(encode(d ?? null, layoutOf(i)))),
    ),
  ],
  ['json.encode_to_string', fn(['data', 'indent?'], ([d, i]) => encode(d ?? null, layoutOf(i)))],
  ['json.decode', fn(['data'], ([d]) => decode(d))],
];
