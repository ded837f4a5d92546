// text: string functions (Google's reference pages stdlib/text/*). Indexes and lengths count
// characters (code points); regexps are RE2's dialect (re2.ts).
import { raise } from '../errors.ts';
import type { Value } from '../values.ts';
import { bytes, chars, codePointIndex, fn, integer, str, utf8 } from './args.ts';
import { findAllRegex, matchRegex, replaceAllRegex } from './re2.ts';
import type { WfFunction } from './types.ts';

function split(source: string, separator: string): string[] {
  if (separator === '') raise('ValueError', 'text.split: separator must not be an empty string');
  return source.split(separator);
}

/** An empty substr matches before every character and at the end, as the page says. */
function replaceAll(source: string, substr: string, repl: string): string {
  const parts = substr === '' ? ['', ...chars(source), ''] : source.split(substr);
  return parts.join(repl);
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

/** The page returns the indexes alone: text.find_all("00000", "00") is [0, 2]. */
function findAll(source: string, substr: string): Value[] {
  const out: Value[] = [];
  // Google's pages say nothing of an empty substr; it is taken to occur nowhere.
  if (substr === '') return out;
  const cps = codePointIndex(source);
  for (let i = source.indexOf(substr); i >= 0; i = source.indexOf(substr, i + substr.length))
    out.push(BigInt(cps[i]!));
  return out;
}

/**
 * Percent-encodes all but letters, digits and `.-_`, the characters the page leaves alone
 * (encodeURIComponent also spares `!~*'()`).
 */
function urlEncode(source: string): string {
  return encodeURIComponent(source).replace(
    /[!~'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** `+` is a space, as text.url_decode's page says; `%2B` stays a plus. */
function urlDecode(source: string): string {
  try {
    return decodeURIComponent(source.replace(/\+/g, ' '));
  } catch {
    return raise('ValueError', 'text.url_decode: malformed percent-encoding');
  }
}

// ---- charsets for text.encode and text.decode ----

interface Charset {
  decode(data: Uint8Array): string;
  encode(text: string): Uint8Array;
}

const REPLACEMENT = '\uFFFD';

function unencodable(charset: string): never {
  return raise('ValueError', `text.encode: the text has characters ${charset} cannot represent`);
}

/**
 * A one-byte charset from the character each byte stands for (U+FFFD where it stands for none);
 * text.decode's page puts U+FFFD for each byte it cannot decode.
 */
function singleByte(name: string, table: string[]): Charset {
  const bytes = new Map(table.map((c, b) => [c, b]));
  bytes.delete(REPLACEMENT);
  return {
    decode: (data) => Array.from(data, (b) => table[b]!).join(''),
    encode: (text) => Uint8Array.from(text, (c) => bytes.get(c) ?? unencodable(name)),
  };
}

const byteTable = (decode: (b: number) => string) =>
  Array.from({ length: 256 }, (_, b) => decode(b));
const asciiTable = byteTable((b) => (b < 0x80 ? String.fromCharCode(b) : REPLACEMENT));
const latin1Table = byteTable((b) => String.fromCharCode(b));

/** ISO-8859-N from the WHATWG tables Node carries; those it lacks (or maps to windows-125x) are left out. */
function isoTable(label: string): string[] | undefined {
  try {
    const decoder = new TextDecoder(label);
    if (decoder.encoding !== label) return undefined;
    const text = decoder.decode(Uint8Array.from({ length: 256 }, (_, b) => b));
    return text.length === 256 ? [...text] : undefined;
  } catch {
    return undefined;
  }
}

/** The bytes, each byte that is no part of a well-formed sequence replaced by U+FFFD on its own. */
function decodeUtf8Lenient(data: Uint8Array): string {
  const text = new TextDecoder('utf-8', { ignoreBOM: true });
  let out = '';
  let run = 0;
  for (let i = 0; i < data.length; ) {
    const n = utf8SequenceLength(data, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += text.decode(data.subarray(run, i)) + REPLACEMENT;
    run = ++i;
  }
  return out + text.decode(data.subarray(run));
}

const inRange = (b: number | undefined, lo = 0x80, hi = 0xbf) =>
  b !== undefined && b >= lo && b <= hi;

/** The length of the well-formed UTF-8 sequence at `i` (Unicode's table 3-7), or 0. */
function utf8SequenceLength(d: Uint8Array, i: number): number {
  const b = d[i]!;
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return inRange(d[i + 1]) ? 2 : 0;
  if (b >= 0xe0 && b <= 0xef) {
    const ok = inRange(d[i + 1], b === 0xe0 ? 0xa0 : 0x80, b === 0xed ? 0x9f : 0xbf);
    return ok && inRange(d[i + 2]) ? 3 : 0;
  }
  if (b >= 0xf0 && b <= 0xf4) {
    const ok = inRange(d[i + 1], b === 0xf0 ? 0x90 : 0x80, b === 0xf4 ? 0x8f : 0xbf);
    return ok && inRange(d[i + 2]) && inRange(d[i + 3]) ? 4 : 0;
  }
  return 0;
}

/** UTF-16 big- or little-endian; plain UTF-16 writes a big-endian byte order mark and reads one. */
function utf16(order: 'be' | 'le' | 'bom'): Charset {
  const le = (text: string) => new Uint8Array(Buffer.from(text, 'utf16le'));
  const be = (text: string) => le(text).map((_, i, b) => b[i ^ 1]!);
  const lenient = (label: string) => {
    const decoder = new TextDecoder(label, { ignoreBOM: true });
    return (data: Uint8Array) => decoder.decode(data);
  };
  const decodeBE = lenient('utf-16be');
  const decodeLE = lenient('utf-16le');
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
  decode: decodeUtf8Lenient,
  encode: (text) => new Uint8Array(Buffer.from(text, 'utf8')),
};

/** UTF-8 as text.decode reads it; json.decode reads bytes the same way, as its page says. */
export const decodeUtf8 = (data: Uint8Array): string => UTF8.decode(data);

function charsets(): Record<string, Charset> {
  const ascii = singleByte('US-ASCII', asciiTable);
  const latin1 = singleByte('ISO-8859-1', latin1Table);
  const table: Record<string, Charset> = {
    'UTF-8': UTF8,
    UTF8: UTF8,
    'US-ASCII': ascii,
    ASCII: ascii,
    'ISO-8859-1': latin1,
    LATIN1: latin1,
    'UTF-16': utf16('bom'),
    'UTF-16BE': utf16('be'),
    'UTF-16LE': utf16('le'),
  };
  for (let n = 2; n <= 16; n++) {
    const iso = isoTable(`iso-8859-${n}`);
    if (iso) table[`ISO-8859-${n}`] = singleByte(`ISO-8859-${n}`, iso);
  }
  return table;
}

// Built on first use: 15 TextDecoders cost every `workflows run` about 5 % of its start.
let CHARSETS: ReturnType<typeof charsets> | undefined;

/** IANA names, case-insensitive as the pages say (`_` read as `-`, as in ISO_8859-1). */
function charset(name: Value | undefined): Charset {
  if (name === undefined || name === null) return UTF8;
  CHARSETS ??= charsets();
  const cs = CHARSETS[str(name, 'charset').toUpperCase().replace(/_/g, '-')];
  if (!cs)
    raise(
      'ValueError',
      `unsupported charset ${JSON.stringify(name)}: use UTF-8, US-ASCII, ISO-8859-1 (or another ISO-8859 part), UTF-16, UTF-16BE or UTF-16LE`,
    );
  return cs;
}

export const textFunctions: [string, WfFunction][] = [
  [
    'text.split',
    fn(['source', 'separator'], ([s, sep]) => split(str(s, 'source'), utf8(sep, 'separator'))),
  ],
  ['text.to_upper', fn(['source'], ([s]) => str(s, 'source').toUpperCase())],
  ['text.to_lower', fn(['source'], ([s]) => str(s, 'source').toLowerCase())],
  [
    'text.replace_all',
    fn(['source', 'substr', 'repl'], ([s, a, b]) =>
      replaceAll(str(s, 'source'), utf8(a, 'substr'), utf8(b, 'repl')),
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
    fn(['source', 'substr'], ([s, sub]) => findAll(str(s, 'source'), utf8(sub, 'substr'))),
  ],
  ['text.find_all_regex', fn(['source', 'regexp'], ([s, r]) => findAllRegex(str(s, 'source'), r))],
  [
    'text.replace_all_regex',
    fn(['source', 'regexp', 'repl'], ([s, r, repl]) =>
      replaceAllRegex(str(s, 'source'), r, utf8(repl, 'repl')),
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
