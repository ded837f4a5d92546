// text: string functions; indexes and lengths count characters, regexps are RE2's dialect.
import { raise } from '../errors.ts';
import { isBytes, type Value } from '../values.ts';
import { chars, fn, num, str } from './args.ts';
import type { WfFunction } from './types.ts';

/** An RE2-style pattern as a JS regex; lookarounds and backreferences, which RE2 lacks, are refused. */
function re2(pattern: Value | undefined, flags = 'gu'): RegExp {
  const p = str(pattern, 'regexp');
  if (/\(\?<?[=!]|\\[1-9]/.test(p))
    raise(
      'ValueError',
      `regexp ${JSON.stringify(p)} uses lookaround or backreferences, which RE2 does not support`,
    );
  try {
    return new RegExp(p, flags);
  } catch (err) {
    return raise('ValueError', `invalid regexp ${JSON.stringify(p)}: ${(err as Error).message}`);
  }
}

export const textFunctions: [string, WfFunction][] = [
  [
    'text.split',
    fn(['source', 'separator'], ([s, sep]) => str(s, 'source').split(str(sep, 'separator'))),
  ],
  ['text.to_upper', fn(['source'], ([s]) => str(s, 'source').toUpperCase())],
  ['text.to_lower', fn(['source'], ([s]) => str(s, 'source').toLowerCase())],
  [
    'text.replace_all',
    fn(['source', 'substr', 'repl'], ([s, a, b]) =>
      str(s, 'source').split(str(a, 'substr')).join(str(b, 'repl')),
    ),
  ],
  [
    'text.substring',
    fn(['source', 'start', 'end'], ([s, a, b]) => {
      const c = chars(str(s, 'source'));
      return c
        .slice(Math.max(0, Number(num(a, 'start'))), Math.max(0, Number(num(b, 'end'))))
        .join('');
    }),
  ],
  [
    'text.find_all',
    fn(['source', 'substr'], ([s, sub]) => {
      const src = str(s, 'source');
      const needle = str(sub, 'substr');
      const out: Value[] = [];
      if (needle === '') return out;
      for (let i = src.indexOf(needle); i >= 0; i = src.indexOf(needle, i + needle.length)) {
        out.push(
          new Map<string, Value>([
            ['index', BigInt(chars(src.slice(0, i)).length)],
            ['match', needle],
          ]),
        );
      }
      return out;
    }),
  ],
  ['text.match_regex', fn(['source', 'regexp'], ([s, r]) => re2(r, 'u').test(str(s, 'source')))],
  ['text.url_encode', fn(['source'], ([s]) => encodeURIComponent(str(s, 'source')))],
  [
    'text.decode',
    fn(['data', 'charset?'], ([d]) =>
      isBytes(d!) ? Buffer.from(d).toString('utf8') : raise('TypeError', 'data must be bytes'),
    ),
  ],
  [
    'text.encode',
    fn(['text', 'charset?'], ([t]) => new Uint8Array(Buffer.from(str(t, 'text'), 'utf8'))),
  ],
  [
    'text.find_all_regex',
    fn(['source', 'regexp'], ([s, r]) => {
      const src = str(s, 'source');
      return [...src.matchAll(re2(r))].map(
        (m) =>
          new Map<string, Value>([
            ['index', BigInt(chars(src.slice(0, m.index)).length)],
            ['match', m[0]],
          ]),
      );
    }),
  ],
  [
    'text.replace_all_regex',
    fn(['source', 'regexp', 'repl'], ([s, r, repl]) =>
      // RE2 writes groups as \1; JS as $1.
      str(s, 'source').replace(
        re2(r),
        str(repl, 'repl')
          .replace(/\$/g, '$$$$')
          .replace(/\\(\d)/g, '$$$1'),
      ),
    ),
  ],
  [
    'text.url_decode',
    fn(['source'], ([s]) => {
      try {
        return decodeURIComponent(str(s, 'source'));
      } catch {
        return raise('ValueError', 'text.url_decode: malformed percent-encoding');
      }
    }),
  ],
  [
    'text.url_encode_plus',
    fn(['source'], ([s]) => encodeURIComponent(str(s, 'source')).replace(/%20/g, '+')),
  ],
];
