// The `${…}` expression language: a lexer and a precedence-climbing parser that compile an
// expression once into a closure, so evaluating it in a loop costs no parsing.
// Precedence, loosest first, as Google documents it: or; and; comparison, equality and `in`;
// + -; * / // %; unary minus; not; then access (. [] and calls).
import { raise } from './errors.ts';
import { joinLists, share } from './sharing.ts';
import { doubleText, isList, isMap, typeName, type Value } from './values.ts';

export interface Scope {
  get(name: string): Value;
  has(name: string): boolean;
  /** Calls a function by its full name with positional arguments. */
  call(name: string, args: Value[]): Value;
}

export type Compiled = (scope: Scope) => Value;

type Tok =
  | { t: 'num'; v: bigint | number /** an integer literal too large for int64 */; big?: bigint }
  | { t: 'str'; v: string }
  | { t: 'id'; v: string }
  | { t: 'op'; v: string }
  | { t: 'end' };

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'true', 'false', 'null']);
/** Keywords that may also be capitalised: Google lists booleans as true, True and TRUE. */
const CAPITALISED = new Set(['true', 'false', 'null']);

/**
 * The keyword a word spells, if any. Google's "Data types" page allows lower- or upper-case
 * logical operators but not mixed case (`AND`, never `And`), and booleans in three forms.
 */
function keywordOf(word: string): string | undefined {
  const lower = word.toLowerCase();
  if (!KEYWORDS.has(lower)) return undefined;
  if (word === lower || word === word.toUpperCase()) return lower;
  const capitalised = lower[0]!.toUpperCase() + lower.slice(1);
  return CAPITALISED.has(lower) && word === capitalised ? lower : undefined;
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?/.exec(src.slice(i))!;
      const text = m[0];
      if (/[.eE]/.test(text)) out.push({ t: 'num', v: Number(text) });
      else {
        const v = BigInt(text);
        if (v > INT64_MAX) out.push({ t: 'num', v: Number(text), big: v });
        else out.push({ t: 'num', v });
      }
      i += text.length;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\') {
          const e = src[j + 1];
          const map: Record<string, string> = {
            n: '\n',
            t: '\t',
            r: '\r',
            '\\': '\\',
            '"': '"',
            "'": "'",
            '0': '\0',
          };
          if (e === 'u') {
            s += String.fromCharCode(Number.parseInt(src.slice(j + 2, j + 6), 16));
            j += 6;
            continue;
          }
          s += e !== undefined && e in map ? map[e] : (e ?? '');
          j += 2;
          continue;
        }
        s += src[j];
        j++;
      }
      if (j >= src.length) raise('ValueError', `unterminated string in expression: ${src}`);
      out.push({ t: 'str', v: s });
      i = j + 1;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      const word = m[0];
      const keyword = keywordOf(word);
      out.push(keyword ? { t: 'op', v: keyword } : { t: 'id', v: word });
      i += word.length;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (['//', '==', '!=', '<=', '>='].includes(two)) {
      out.push({ t: 'op', v: two });
      i += 2;
      continue;
    }
    if ('+-*/%<>()[].,:{}'.includes(c)) {
      out.push({ t: 'op', v: c });
      i++;
      continue;
    }
    raise('ValueError', `unexpected character ${JSON.stringify(c)} in expression: ${src}`);
  }
  out.push({ t: 'end' });
  return out;
}

/**
 * What an expression names, from its tokens: the variables it reads (names not after a dot and
 * not called) and the functions it calls (a name or dotted name followed by `(`), for the parser's
 * deploy-time checks. Keywords and string contents are tokens of their own, never names.
 */
export function expressionNames(src: string): { variables: string[]; functions: string[] } {
  const toks = lex(src);
  const isOp = (i: number, v: string) => toks[i]?.t === 'op' && toks[i]!.v === v;
  const variables: string[] = [];
  const functions: string[] = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.t !== 'id' || isOp(i - 1, '.')) continue;
    let end = i + 1;
    const parts = [t.v];
    while (isOp(end, '.') && toks[end + 1]?.t === 'id') {
      parts.push((toks[end + 1] as { v: string }).v);
      end += 2;
    }
    if (isOp(end, '(')) {
      functions.push(parts.join('.'));
      i = end - 1;
    } else variables.push(t.v);
  }
  return { variables, functions };
}

// ---- runtime semantics of the operators ----

export function isNumber(v: Value): v is bigint | number {
  return typeof v === 'bigint' || typeof v === 'number';
}

function checkInt(v: bigint): bigint {
  if (v > INT64_MAX || v < INT64_MIN) raise('ValueError', 'integer overflow');
  return v;
}

function typeError(op: string, a: Value, b: Value): never {
  raise(
    'TypeError',
    `unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`,
  );
}

export function equals(a: Value, b: Value): boolean {
  if (isNumber(a) && isNumber(b)) return compareNumbers(a, b) === 0;
  if (a === null || b === null) return a === b;
  if (typeof a !== typeof b) return false;
  if (isList(a)) return isList(b) && a.length === b.length && a.every((x, i) => equals(x, b[i]!));
  if (isMap(a)) {
    if (!isMap(b) || a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !equals(v, b.get(k)!)) return false;
    return true;
  }
  if (a instanceof Uint8Array) return b instanceof Uint8Array && Buffer.compare(a, b) === 0;
  return a === b;
}

/**
 * The sign of a - b, exact for an integer against a double (converting a 64-bit integer to a
 * double would round it: 9007199254740993 is not 9007199254740992.0). NaN when unordered.
 */
export function compareNumbers(a: bigint | number, b: bigint | number): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : a - b;
  const [int, dbl, sign] = typeof a === 'bigint' ? [a, b as number, 1] : [b as bigint, a, -1];
  if (Number.isNaN(dbl)) return Number.NaN;
  if (!Number.isFinite(dbl)) return dbl > 0 ? -sign : sign;
  const floor = Math.floor(dbl);
  const whole = BigInt(floor);
  // Equal to the floor of a double with a fraction still means smaller than the double.
  const c = int < whole ? -1 : int > whole ? 1 : floor === dbl ? 0 : -1;
  return c === 0 ? 0 : sign * c;
}

/** Strings order by Unicode code point (JS's `<` compares UTF-16 units, which differs past U+FFFF). */
function compareText(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a.charCodeAt(i) !== b.charCodeAt(i)) return a.codePointAt(i)! - b.codePointAt(i)!;
  }
  return a.length - b.length;
}

function compare(op: string, a: Value, b: Value): boolean {
  let c: number;
  if (isNumber(a) && isNumber(b)) c = compareNumbers(a, b);
  else if (typeof a === 'string' && typeof b === 'string') c = compareText(a, b);
  else typeError(op, a, b);
  return op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0;
}

function concatenable(v: Value): boolean {
  return typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean';
}

/** A scalar as `+` concatenates it: as `string()` prints it (doubles keep a fraction: 2.0). */
function asText(v: Value): string {
  return typeof v === 'number' ? doubleText(v) : String(v);
}

function arith(op: string, a: Value, b: Value): Value {
  if (op === '+') {
    if (typeof a === 'string' && typeof b === 'string') return a + b;
    // Google's table for +: a string with an integer, double or boolean on either side converts
    // the other operand and concatenates ("n=" + 1 is "n=1"); booleans with numbers stay errors.
    if ((typeof a === 'string' && concatenable(b)) || (typeof b === 'string' && concatenable(a)))
      return asText(a) + asText(b);
    // Both lists' items are now in a third: shared, so a write through either copies them.
    if (isList(a) && isList(b)) return joinLists(share(a), share(b));
  }
  if (!isNumber(a) || !isNumber(b)) typeError(op, a, b);
  if (typeof a === 'bigint' && typeof b === 'bigint') {
    switch (op) {
      case '+':
        return checkInt(a + b);
      case '-':
        return checkInt(a - b);
      case '*':
        return checkInt(a * b);
      case '/':
        if (b === 0n) raise('ZeroDivisionError', 'division by zero');
        return Number(a) / Number(b);
      case '//': {
        if (b === 0n) raise('ZeroDivisionError', 'integer division by zero');
        const q = a / b;
        return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
      }
      case '%': {
        if (b === 0n) raise('ZeroDivisionError', 'integer modulo by zero');
        const r = a % b;
        return r !== 0n && r < 0n !== b < 0n ? r + b : r;
      }
    }
  }
  const x = Number(a);
  const y = Number(b);
  switch (op) {
    case '+':
      return x + y;
    case '-':
      return x - y;
    case '*':
      return x * y;
    case '/':
      if (y === 0) raise('ZeroDivisionError', 'division by zero');
      return x / y;
    case '//':
      if (y === 0) raise('ZeroDivisionError', 'float division by zero');
      return Math.floor(x / y);
    default: {
      if (y === 0) raise('ZeroDivisionError', 'float modulo by zero');
      const r = x % y;
      return r !== 0 && r < 0 !== y < 0 ? r + y : r;
    }
  }
}

function truthy(v: Value, op: string): boolean {
  if (typeof v !== 'boolean')
    raise('TypeError', `'${op}' needs boolean operands, got '${typeName(v)}'`);
  return v;
}

/** `container[key]` and `container.key`. */
export function access(container: Value, key: Value, dotted: boolean): Value {
  if (isMap(container)) {
    if (typeof key !== 'string') raise('TypeError', `map keys are strings, got '${typeName(key)}'`);
    const v = container.get(key);
    if (v === undefined) raise('KeyError', `key not found: ${key}`);
    return v;
  }
  if (isList(container) && !dotted) {
    if (typeof key !== 'bigint')
      raise('TypeError', `list indices must be integers, got '${typeName(key)}'`);
    const i = Number(key);
    if (i < 0 || i >= container.length) raise('IndexError', `list index out of range: ${i}`);
    return container[i]!;
  }
  raise(
    'TypeError',
    `'${typeName(container)}' is not subscriptable${dotted ? ` (accessing .${String(key)})` : ''}`,
  );
}

function contains(needle: Value, haystack: Value): boolean {
  if (isList(haystack)) return haystack.some((x) => equals(x, needle));
  if (isMap(haystack)) {
    if (typeof needle !== 'string') return false;
    return haystack.has(needle);
  }
  if (typeof haystack === 'string' && typeof needle === 'string') return haystack.includes(needle);
  raise('TypeError', `argument of type '${typeName(haystack)}' is not iterable`);
}

// ---- parser: tokens to closures ----

class Parser {
  private pos = 0;
  constructor(
    private readonly toks: Tok[],
    private readonly src: string,
  ) {}

  private peek(): Tok {
    return this.toks[this.pos]!;
  }
  private next(): Tok {
    return this.toks[this.pos++]!;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.t === 'op' && t.v === v;
  }
  private expect(v: string) {
    if (!this.isOp(v)) this.fail(`expected '${v}'`);
    this.pos++;
  }
  fail(what: string): never {
    raise('ValueError', `invalid expression ${JSON.stringify(this.src)}: ${what}`);
  }

  /** The expression from token `at` up to a closing `)` that ends the input, if it is that. */
  lastArgument(at: number): Compiled | undefined {
    this.pos = at;
    const e = this.or();
    if (!this.isOp(')')) return undefined;
    this.pos++;
    return this.peek().t === 'end' ? e : undefined;
  }

  parse(): Compiled {
    const e = this.or();
    if (this.peek().t !== 'end') this.fail('unexpected trailing input');
    return e;
  }

  private or(): Compiled {
    let l = this.and();
    while (this.isOp('or')) {
      this.pos++;
      const a = l;
      const b = this.and();
      l = (s) => truthy(a(s), 'or') || truthy(b(s), 'or');
    }
    return l;
  }
  private and(): Compiled {
    let l = this.cmp();
    while (this.isOp('and')) {
      this.pos++;
      const a = l;
      const b = this.cmp();
      l = (s) => truthy(a(s), 'and') && truthy(b(s), 'and');
    }
    return l;
  }
  private cmp(): Compiled {
    let l = this.add();
    for (;;) {
      const t = this.peek();
      if (t.t !== 'op' || !['==', '!=', '<', '<=', '>', '>=', 'in'].includes(t.v)) return l;
      this.pos++;
      const a = l;
      const b = this.add();
      const op = t.v;
      if (op === '==') l = (s) => equals(a(s), b(s));
      else if (op === '!=') l = (s) => !equals(a(s), b(s));
      else if (op === 'in') l = (s) => contains(a(s), b(s));
      else l = (s) => compare(op, a(s), b(s));
    }
  }
  private add(): Compiled {
    let l = this.mul();
    while (this.isOp('+') || this.isOp('-')) {
      const op = (this.next() as { v: string }).v;
      const a = l;
      const b = this.mul();
      l = (s) => arith(op, a(s), b(s));
    }
    return l;
  }
  private mul(): Compiled {
    let l = this.unary();
    while (this.isOp('*') || this.isOp('/') || this.isOp('//') || this.isOp('%')) {
      const op = (this.next() as { v: string }).v;
      const a = l;
      const b = this.unary();
      l = (s) => arith(op, a(s), b(s));
    }
    return l;
  }
  private unary(): Compiled {
    if (this.isOp('-')) {
      this.pos++;
      // -9223372036854775808 is the smallest int, though its digits alone do not fit in one.
      const lit = this.toks[this.pos];
      if (lit?.t === 'num' && lit.big === -INT64_MIN) {
        this.pos++;
        return () => INT64_MIN;
      }
      const a = this.unary();
      return (s) => {
        const v = a(s);
        if (typeof v === 'bigint') return checkInt(-v);
        if (typeof v === 'number') return -v;
        raise('TypeError', `bad operand type for unary -: '${typeName(v)}'`);
      };
    }
    if (this.isOp('not')) {
      this.pos++;
      const a = this.unary();
      return (s) => !truthy(a(s), 'not');
    }
    return this.postfix();
  }
  private postfix(): Compiled {
    let e = this.primary();
    for (;;) {
      if (this.isOp('.')) {
        this.pos++;
        const t = this.next();
        if (t.t !== 'id' && !(t.t === 'op' && KEYWORDS.has(t.v)))
          this.fail('expected a name after "."');
        const key = (t as { v: string }).v;
        const c = e;
        e = (s) => access(c(s), key, true);
      } else if (this.isOp('[')) {
        this.pos++;
        const k = this.or();
        this.expect(']');
        const c = e;
        e = (s) => access(c(s), k(s), false);
      } else return e;
    }
  }
  private args(): Compiled[] {
    const args: Compiled[] = [];
    this.expect('(');
    if (!this.isOp(')')) {
      for (;;) {
        args.push(this.or());
        if (this.isOp(',')) this.pos++;
        else break;
      }
    }
    this.expect(')');
    return args;
  }

  /**
   * `if(condition, ifTrue, ifFalse)` (Google's "Expression helpers"): true picks ifTrue, false or
   * null picks ifFalse. Compiled here rather than called as a function so that only the chosen
   * branch is evaluated, the reading under which the guard in `if("k" in m, m.k, "none")` works
   * (the stored copy of Google's page we could read does not say either way).
   */
  private conditional(): Compiled {
    const args = this.args();
    if (args.length !== 3)
      this.fail(`if() takes 3 arguments (condition, ifTrue, ifFalse), got ${args.length}`);
    const [condition, ifTrue, ifFalse] = args as [Compiled, Compiled, Compiled];
    return (s) => {
      const c = condition(s);
      if (c === true) return ifTrue(s);
      if (c === false || c === null) return ifFalse(s);
      return raise('TypeError', `if() needs a boolean or null condition, got '${typeName(c)}'`);
    };
  }

  private primary(): Compiled {
    const t = this.next();
    switch (t.t) {
      case 'num':
      case 'str': {
        const v = t.v;
        return () => v;
      }
      case 'id': {
        if (t.v === 'if' && this.isOp('(')) return this.conditional();
        // A dotted name followed by `(` is a function: `text.split(x, ",")`.
        let name = t.v;
        let look = this.pos;
        while (
          this.toks[look]?.t === 'op' &&
          (this.toks[look] as { v: string }).v === '.' &&
          this.toks[look + 1]?.t === 'id'
        ) {
          look += 2;
        }
        if (this.toks[look]?.t === 'op' && (this.toks[look] as { v: string }).v === '(') {
          for (let i = this.pos; i < look; i += 2)
            name += `.${(this.toks[i + 1] as { v: string }).v}`;
          this.pos = look;
          const args = this.args();
          const fn = name;
          return (s) =>
            s.call(
              fn,
              args.map((a) => a(s)),
            );
        }
        const v = t.v;
        return (s) => s.get(v);
      }
      case 'op':
        switch (t.v) {
          case 'true':
            return () => true;
          case 'false':
            return () => false;
          case 'null':
            return () => null;
          case '(': {
            const e = this.or();
            this.expect(')');
            return e;
          }
          case '[': {
            const items: Compiled[] = [];
            if (!this.isOp(']')) {
              for (;;) {
                items.push(this.or());
                if (this.isOp(',')) this.pos++;
                else break;
              }
            }
            this.expect(']');
            return (s) => items.map((x) => share(x(s)));
          }
          case '{': {
            const entries: [Compiled, Compiled][] = [];
            if (!this.isOp('}')) {
              for (;;) {
                const k = this.or();
                this.expect(':');
                entries.push([k, this.or()]);
                if (this.isOp(',')) this.pos++;
                else break;
              }
            }
            this.expect('}');
            return (s) => {
              const m = new Map<string, Value>();
              for (const [k, v] of entries) {
                const key = k(s);
                if (typeof key !== 'string')
                  raise('TypeError', `map keys are strings, got '${typeName(key)}'`);
                m.set(key, share(v(s)));
              }
              return m;
            };
          }
        }
        return this.fail(`unexpected '${t.v}'`);
      default:
        return this.fail('unexpected end');
    }
  }
}

export const MAX_EXPRESSION_LENGTH = 400;

/** Compiles the text inside `${…}`. Throws WorkflowError (ValueError) on bad syntax. */
export function compileExpression(src: string): Compiled {
  return new Parser(lex(src), src).parse();
}

/** `list.concat(name, item)` whose list is a plain variable: that name and the item. */
export interface AppendForm {
  list: string;
  item: Compiled;
}

/**
 * The parts of `list.concat(name, item)`, so the runtime can append in place when the result is
 * assigned back to `name` (runtime.ts, appendTo); undefined for any other expression.
 */
export function appendForm(src: string): AppendForm | undefined {
  const toks = lex(src);
  const is = (i: number, t: string, v: string) => {
    const k = toks[i];
    return k !== undefined && k.t === t && (k as { v: unknown }).v === v;
  };
  if (!is(0, 'id', 'list') || !is(1, 'op', '.') || !is(2, 'id', 'concat') || !is(3, 'op', '('))
    return undefined;
  const name = toks[4];
  if (name?.t !== 'id' || !is(5, 'op', ',')) return undefined;
  const item = new Parser(toks, src).lastArgument(6);
  return item ? { list: name.v, item } : undefined;
}

/** Is this YAML string an expression (`${…}` as its whole value)? Returns the inner text. */
export function expressionText(s: string): string | undefined {
  const t = s.trim();
  return t.startsWith('${') && t.endsWith('}') ? t.slice(2, -1) : undefined;
}
