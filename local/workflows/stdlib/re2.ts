// RE2 patterns, the dialect of Google's text.*_regex functions, run on JavaScript's engine:
// translated (inline flags at the start, named groups, \A, \z, \pL, POSIX classes), refused with a
// ValueError where JavaScript cannot express them, and matched leftmost-longest as RE2 does ("if
// multiple matches start at the same index, then the longest one is replaced").
import { raise } from '../errors.ts';
import type { Value } from '../values.ts';
import { codePointIndex, utf8 } from './args.ts';

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
  const p = utf8(pattern, 'regexp');
  const { source, flags } = translate(p);
  try {
    new RegExp(source, flags);
  } catch (err) {
    return refuse(p, (err as Error).message.replace(/^Invalid regular expression: /, ''));
  }
  return { source, flags, alternatives: /[|?(]/.test(p), probes: new Map() };
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

export function findAllRegex(source: string, regexp: Value | undefined): Value[] {
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
export function replaceAllRegex(source: string, regexp: Value | undefined, repl: string): string {
  let out = '';
  let last = 0;
  for (const { start, end } of matches(source, re2(regexp), codePointIndex(source))) {
    out += source.slice(last, start) + repl;
    last = end;
  }
  return out + source.slice(last);
}

export function matchRegex(source: string, regexp: Value | undefined): boolean {
  const re = re2(regexp);
  return new RegExp(re.source, re.flags).test(source);
}
