// text: string functions (Google's reference pages stdlib/text/*). Indexes and lengths count
// characters (code points); regexps are RE2's dialect (re2.ts).
import { raise } from '../errors.ts';
import type { Value } from '../values.ts';
import { bytes, chars, codePointIndex, fn, integer, str } from './args.ts';
import { findAllRegex, matchRegex, replaceAllRegex } from './re2.ts';
import type { WfFunction } from './types.ts';

function split(source: string, separator: string): string[] {
  if (separator === '') raise('ValueError', 'text.split: separator must not be an empty string');
  return source.split(separator);
}

/** Negative indexes count from the end; both are then clamped to the string, as the page says. */
function substring(source: string, start: bigint, end: bigint): string {
  const c = chars(source);
  const n = BigInt(c.length);
  const at = (i: bigint) => {
    const j = i < 0n ? n + i : i;
    return Number(j < 0n ? 0n : j > n ? n : j);
  };
  return c.slice(at(start), at(end)).join('');
}

function findAll(source: string, substr: string): Value[] {
  const out: Value[] = [];
  // Google's pages say nothing of an empty substr; it is taken to occur nowhere.
  if (substr === '') return out;
  const cps = codePointIndex(source);
  for (let i = source.indexOf(substr); i >= 0; i = source.indexOf(substr, i + substr.length)) {
    out.push(
      new Map<string, Value>([
        ['index', BigInt(cps[i]!)],
        ['match', substr],
      ]),
    );
  }
  return out;
}

/** Percent-encodes all but RFC 3986's unreserved characters (JavaScript also spares `!'()*`). */
function urlEncode(source: string): string {
  return encodeURIComponent(source).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function urlDecode(source: string): string {
  try {
    return decodeURIComponent(source);
  } catch {
    return raise('ValueError', 'text.url_decode: malformed percent-encoding');
  }
}

// ---- charsets for text.encode and text.decode ----

interface Charset {
  decode(data: Uint8Array): string;
  encode(text: string): Uint8Array;
}

function undecodable(charset: string): never {
  return raise('ValueError', `text.decode: the bytes are not valid ${charset}`);
}

function unencodable(charset: string): never {
  return raise('ValueError', `text.encode: the text has characters ${charset} cannot represent`);
}

/** US-ASCII and ISO-8859-1: one byte per character, up to `max`. */
function singleByte(name: string, max: number): Charset {
  return {
    decode: (data) => (data.some((b) => b > max) ? undecodable(name) : latin1(data)),
    encode: (text) => {
      const out = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c > max) unencodable(name);
        out[i] = c;
      }
      return out;
    },
  };
}

const latin1 = (data: Uint8Array) => Buffer.from(data).toString('latin1');

function strictDecoder(label: string, name: string): (data: Uint8Array) => string {
  const decoder = new TextDecoder(label, { fatal: true, ignoreBOM: true });
  return (data) => {
    try {
      return decoder.decode(data);
    } catch {
      return undecodable(name);
    }
  };
}

/** UTF-16 big- or little-endian; plain UTF-16 writes a big-endian byte order mark and reads one. */
function utf16(order: 'be' | 'le' | 'bom'): Charset {
  const le = (text: string) => new Uint8Array(Buffer.from(text, 'utf16le'));
  const be = (text: string) => le(text).map((_, i, b) => b[i ^ 1]!);
  const decodeBE = strictDecoder('utf-16be', 'UTF-16BE');
  const decodeLE = strictDecoder('utf-16le', 'UTF-16LE');
  if (order === 'be') return { decode: decodeBE, encode: be };
  if (order === 'le') return { decode: decodeLE, encode: le };
  return {
    decode: (data) =>
      data[0] === 0xff && data[1] === 0xfe
        ? decodeLE(data.subarray(2))
        : decodeBE(data[0] === 0xfe && data[1] === 0xff ? data.subarray(2) : data),
    encode: (text) => new Uint8Array([0xfe, 0xff, ...be(text)]),
  };
}

const UTF8: Charset = {
  decode: strictDecoder('utf-8', 'UTF-8'),
  encode: (text) => new Uint8Array(Buffer.from(text, 'utf8')),
};

/** Strict UTF-8: bytes that are not UTF-8 raise ValueError rather than becoming U+FFFD. */
export const decodeUtf8 = (data: Uint8Array): string => UTF8.decode(data);

const CHARSETS: Record<string, Charset> = {
  'UTF-8': UTF8,
  UTF8: UTF8,
  'US-ASCII': singleByte('US-ASCII', 0x7f),
  ASCII: singleByte('US-ASCII', 0x7f),
  'ISO-8859-1': singleByte('ISO-8859-1', 0xff),
  LATIN1: singleByte('ISO-8859-1', 0xff),
  'UTF-16': utf16('bom'),
  'UTF-16BE': utf16('be'),
  'UTF-16LE': utf16('le'),
};

function charset(name: Value | undefined): Charset {
  if (name === undefined || name === null) return UTF8;
  const cs = CHARSETS[str(name, 'charset').toUpperCase().replace(/_/g, '-')];
  if (!cs)
    raise(
      'ValueError',
      `unsupported charset ${JSON.stringify(name)}: use UTF-8, US-ASCII, ISO-8859-1, UTF-16, UTF-16BE or UTF-16LE`,
    );
  return cs;
}

export const textFunctions: [string, WfFunction][] = [
  [
    'text.split',
    fn(['source', 'separator'], ([s, sep]) => split(str(s, 'source'), str(sep, 'separator'))),
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
    fn(['source', 'start', 'end'], ([s, a, b]) =>
      substring(str(s, 'source'), integer(a, 'start'), integer(b, 'end')),
    ),
  ],
  [
    'text.find_all',
    fn(['source', 'substr'], ([s, sub]) => findAll(str(s, 'source'), str(sub, 'substr'))),
  ],
  ['text.find_all_regex', fn(['source', 'regexp'], ([s, r]) => findAllRegex(str(s, 'source'), r))],
  [
    'text.replace_all_regex',
    fn(['source', 'regexp', 'repl'], ([s, r, repl]) =>
      replaceAllRegex(str(s, 'source'), r, str(repl, 'repl')),
    ),
  ],
  ['text.match_regex', fn(['source', 'regexp'], ([s, r]) => matchRegex(str(s, 'source'), r))],
  ['text.url_encode', fn(['source'], ([s]) => urlEncode(str(s, 'source')))],
  [
    'text.url_encode_plus',
    fn(['source'], ([s]) => urlEncode(str(s, 'source')).replace(/%20/g, '+')),
  ],
  ['text.url_decode', fn(['source'], ([s]) => urlDecode(str(s, 'source')))],
  ['text.decode', fn(['data', 'charset?'], ([d, cs]) => charset(cs).decode(bytes(d, 'data')))],
  ['text.encode', fn(['text', 'charset?'], ([t, cs]) => charset(cs).encode(str(t, 'text')))],
];
