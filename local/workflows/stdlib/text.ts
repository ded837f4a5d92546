// text: string functions (Google's reference pages stdlib/text/*). Indexes and lengths count
// characters (code points); regexps are RE2's dialect, translated to JavaScript's, and match
// leftmost-longest as the pages say ("if multiple matches start at the same index, then the
// longest one is replaced").
import { raise } from '../errors.ts';
import type { Value } from '../values.ts';
import { bytes, chars, fn, integer, str } from './args.ts';
import type { WfFunction } from './types.ts';

// ---- RE2 patterns as JavaScript regexps ----

interface Re2 {
  /** The pattern as JavaScript source, to be compiled with `flags`. */
  source: string;
  flags: string;
  /**
   * The pattern has alternatives (`|`, `?`, groups), so the first match JavaScript finds may not
   * be the longest. Greedy quantifiers over single characters alone always find the longest.
   */
  alternatives: boolean;
  /** Compiled lookups for longestEnd, by length. */
  probes: Map<number, RegExp>;
}

function refuse(pattern: string, what: string): never {
  return raise('ValueError', `regexp ${JSON.stringify(pattern)}: ${what}`);
}

// JavaScript's `u` mode only lets these be escaped; RE2 lets any punctuation be.
const SYNTAX_CHARS = new Set('^$\\.*+?()[]{}|/');

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

/** One escape sequence at `i`: its JavaScript spelling and how many characters it used. */
function translateEscape(pattern: string, i: number, inClass: boolean): [string, number] {
  const c = pattern[i + 1];
  if (c === undefined) return refuse(pattern, 'trailing backslash');
  if (/[1-9]/.test(c) || c === 'k') refuse(pattern, 'backreferences are not supported (RE2)');
  if (!inClass && c === 'A') return ['(?<![\\s\\S])', 2];
  if (!inClass && c === 'z') return ['(?![\\s\\S])', 2];
  if ((c === 'p' || c === 'P') && pattern[i + 2] !== '{' && pattern[i + 2] !== undefined)
    return [`\\${c}{${pattern[i + 2]}}`, 3];
  if (c === 'x' && pattern[i + 2] === '{') return ['\\u{', 3];
  if (/[0-9A-Za-z]/.test(c) || c.charCodeAt(0) > 0x7f) return [`\\${c}`, 2];
  if (SYNTAX_CHARS.has(c) || (inClass && c === '-')) return [`\\${c}`, 2];
  return [`\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`, 2];
}

/** A group opening `(?…` at `i`: named groups and `(?:` pass; lookarounds and inner flags do not. */
function translateGroup(pattern: string, i: number): [string, number] {
  const rest = pattern.slice(i, i + 4);
  if (rest.startsWith('(?P<')) return ['(?<', 4];
  if (/^\(\?(?:[=!]|<[=!])/.test(rest))
    refuse(pattern, 'lookaround assertions are not supported (RE2)');
  if (rest.startsWith('(?:') || rest.startsWith('(?<')) return [rest.slice(0, 3), 3];
  return refuse(
    pattern,
    'inline flags are supported here only at the start of the pattern, as (?i), (?m) or (?s)',
  );
}

/** A `[:name:]` class inside brackets at `i`, as ranges. */
function translatePosix(pattern: string, i: number): [string, number] {
  const m = /^\[:(\^?)([a-z]+):\]/.exec(pattern.slice(i));
  if (!m) return ['\\[', 1];
  const ranges = m[1] ? undefined : POSIX_CLASSES[m[2]!];
  if (ranges === undefined) refuse(pattern, `unsupported character class [:${m[1]}${m[2]}:]`);
  return [ranges, m[0].length];
}

function translate(pattern: string): { source: string; flags: string } {
  let flags = 'u';
  let i = 0;
  const lead = /^\(\?([imsU]+)\)/.exec(pattern);
  if (lead) {
    if (lead[1]!.includes('U')) refuse(pattern, 'the U (ungreedy) flag is not supported here');
    // RE2's i, m and s mean what JavaScript's flags of the same letters mean.
    flags += [...new Set(lead[1])].join('');
    i = lead[0].length;
  }
  let out = '';
  let inClass = false;
  while (i < pattern.length) {
    const c = pattern[i]!;
    let piece: [string, number] = [c, 1];
    if (c === '\\') piece = translateEscape(pattern, i, inClass);
    else if (inClass && c === '[' && pattern[i + 1] === ':') piece = translatePosix(pattern, i);
    else if (inClass) inClass = c !== ']';
    else if (c === '(' && pattern[i + 1] === '?') piece = translateGroup(pattern, i);
    else if (c === '[') {
      inClass = true;
      // RE2 reads a `]` first in a class as a literal; JavaScript would close the class.
      const head = /^\[\^?\]?/.exec(pattern.slice(i))![0];
      piece = [head.endsWith(']') ? `${head.slice(0, -1)}\\]` : head, head.length];
    }
    out += piece[0];
    i += piece[1];
  }
  return { source: out, flags };
}

function re2(pattern: Value | undefined): Re2 {
  const p = str(pattern, 'regexp');
  const { source, flags } = translate(p);
  try {
    new RegExp(source, flags);
  } catch (err) {
    return refuse(p, (err as Error).message.replace(/^Invalid regular expression: /, ''));
  }
  return { source, flags, alternatives: /[|?(]/.test(p), probes: new Map() };
}

/** The code-point index of every UTF-16 offset of `s`. */
function codePointIndex(s: string): Uint32Array {
  const index = new Uint32Array(s.length + 1);
  let cp = 0;
  for (let i = 0; i < s.length; i++, cp++) {
    index[i] = cp;
    if (s.codePointAt(i)! > 0xffff) index[++i] = cp;
  }
  index[s.length] = cp;
  return index;
}

interface Span {
  start: number;
  end: number;
}

/**
 * From a match at `start` ending at `end`, the longest match at `start`. JavaScript takes the
 * first alternative that matches; RE2 here takes the longest, so ask for ever longer ones: a match
 * at `start` at least one character longer, which a lookbehind checks by counting back to the
 * start of `tail`. `tail` keeps the character before `start`, so `^`, `\b` and `\A` still see it,
 * and the count stays as short as the match.
 */
function longestEnd(re: Re2, src: string, cps: Uint32Array, start: number, end: number): number {
  const from = start === 0 ? 0 : start - (/[\uDC00-\uDFFF]/.test(src[start - 1]!) ? 2 : 1);
  const tail = src.slice(from);
  while (end < src.length) {
    const atLeast = cps[end]! - cps[from]! + 1;
    const longer = probe(re, atLeast);
    longer.lastIndex = start - from;
    const m = longer.exec(tail);
    if (!m) break;
    end = start + m[0].length;
  }
  return end;
}

/** The pattern, matching only where at least `atLeast` characters precede its end. */
function probe(re: Re2, atLeast: number): RegExp {
  let p = re.probes.get(atLeast);
  if (!p) {
    p = new RegExp(`(?:${re.source})(?<=(?<![\\s\\S])[\\s\\S]{${atLeast},})`, `${re.flags}y`);
    re.probes.set(atLeast, p);
  }
  return p;
}

/**
 * Every match of `re` in `src`, as RE2 finds them: leftmost, then longest, not overlapping, and an
 * empty match right where the previous match ended skipped (so an empty pattern matches k+1 times
 * in k characters, as the replace_all_regex page says).
 */
function matches(src: string, re: Re2, cps: Uint32Array): Span[] {
  const scan = new RegExp(re.source, `${re.flags}g`);
  const out: Span[] = [];
  let lastEnd = -1;
  for (let pos = 0; pos <= src.length; ) {
    scan.lastIndex = pos;
    const m = scan.exec(src);
    if (!m) break;
    const start = m.index;
    let end = start + m[0].length;
    if (re.alternatives) end = longestEnd(re, src, cps, start, end);
    if (end === start && start === lastEnd) {
      pos = start + (src.codePointAt(start)! > 0xffff ? 2 : 1);
      continue;
    }
    out.push({ start, end });
    lastEnd = pos = end;
  }
  return out;
}

function findAllRegex(source: string, regexp: Value | undefined): Value[] {
  const cps = codePointIndex(source);
  return matches(source, re2(regexp), cps).map(
    ({ start, end }) =>
      new Map<string, Value>([
        ['index', BigInt(cps[start]!)],
        ['match', source.slice(start, end)],
      ]),
  );
}

/** `repl` is literal text: the page says backreferences such as `\1` are not supported. */
function replaceAllRegex(source: string, regexp: Value | undefined, repl: string): string {
  let out = '';
  let last = 0;
  for (const { start, end } of matches(source, re2(regexp), codePointIndex(source))) {
    out += source.slice(last, start) + repl;
    last = end;
  }
  return out + source.slice(last);
}

function matchRegex(source: string, regexp: Value | undefined): boolean {
  const re = re2(regexp);
  return new RegExp(re.source, re.flags).test(source);
}

// ---- plain strings ----

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
