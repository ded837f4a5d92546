// HCL's expression language, as much of it as Terraform IAM grants use: the strings
// @cdktf/hcl2json leaves in its JSON ("serviceAccount:${var.accounts.ci}") are parsed here and
// evaluated against a scope that terraform.ts supplies. References resolve lazily, so a value
// nothing asks for (a service's URL, known only after apply) is never computed.

/** A Terraform value; objects and maps are plain records, lists, tuples and sets arrays. */
export type Value = null | boolean | number | string | Value[] | ValueMap | Lazy;
export interface ValueMap {
  [key: string]: Value;
}

/**
 * An object whose attributes are computed when read: a resource instance, a module's outputs, a
 * for_each collection. `get` answers undefined for an attribute it does not have.
 */
export class Lazy {
  constructor(
    readonly label: string,
    readonly keys: () => string[],
    readonly get: (key: string) => Value | undefined,
  ) {}
}

/** An expression that cannot be evaluated; terraform.ts prefixes the address it came from. */
export class ExprError extends Error {
  override name = 'ExprError';
}

export type Expr =
  | { kind: 'literal'; value: Value }
  | { kind: 'template'; parts: (string | Expr)[] }
  | { kind: 'ref'; root: string }
  | { kind: 'attr'; target: Expr; name: string }
  | { kind: 'index'; target: Expr; key: Expr }
  | { kind: 'splat'; target: Expr; each: Expr }
  | { kind: 'call'; name: string; args: Expr[]; expand: boolean }
  | { kind: 'tuple'; items: Expr[] }
  | { kind: 'object'; items: { key: Expr; value: Expr }[] }
  | {
      kind: 'for';
      object: boolean;
      keyVar?: string;
      valueVar: string;
      coll: Expr;
      key?: Expr;
      value: Expr;
      cond?: Expr;
      group: boolean;
    }
  | { kind: 'unary'; op: '!' | '-'; operand: Expr }
  | { kind: 'binary'; op: string; left: Expr; right: Expr }
  | { kind: 'cond'; test: Expr; then: Expr; else: Expr };

// The splat's placeholder: `x[*].name` evaluates `.name` on each element bound to it.
const SPLAT_ITEM = '\0splat';

// ---- parsing ----------------------------------------------------------------------------------

const BINARY: string[][] = [
  ['||'],
  ['&&'],
  ['==', '!='],
  ['<', '>', '<=', '>='],
  ['+', '-'],
  ['*', '/', '%'],
];

class Parser {
  pos = 0;
  constructor(readonly src: string) {}

  fail(message: string): never {
    const near = this.src.slice(this.pos, this.pos + 30);
    throw new ExprError(`${message} at ${JSON.stringify(near || 'the end')}`);
  }

  /** Skips spaces, newlines and comments (type constraints keep their comments). */
  skip(): void {
    for (;;) {
      const rest = this.src.slice(this.pos);
      const m = /^(?:\s+|#[^\n]*|\/\/[^\n]*|\/\*[\s\S]*?\*\/)/.exec(rest);
      if (!m || m[0].length === 0) return;
      this.pos += m[0].length;
    }
  }

  peek(token: string): boolean {
    this.skip();
    return this.src.startsWith(token, this.pos);
  }

  eat(token: string): boolean {
    if (!this.peek(token)) return false;
    this.pos += token.length;
    return true;
  }

  expect(token: string): void {
    if (!this.eat(token)) this.fail(`expected ${token}`);
  }

  ident(): string | undefined {
    this.skip();
    const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(this.src.slice(this.pos));
    if (!m) return undefined;
    this.pos += m[0].length;
    return m[0];
  }

  /** `foo` only when followed by a non-identifier character (so `for` is not `format`). */
  keyword(word: string): boolean {
    this.skip();
    const after = this.src[this.pos + word.length] ?? '';
    if (this.src.startsWith(word, this.pos) && !/[A-Za-z0-9_-]/.test(after)) {
      this.pos += word.length;
      return true;
    }
    return false;
  }

  expression(): Expr {
    const test = this.binary(0);
    if (this.peek('?')) {
      this.pos++;
      const then = this.expression();
      this.expect(':');
      return { kind: 'cond', test, then, else: this.expression() };
    }
    return test;
  }

  binary(level: number): Expr {
    if (level >= BINARY.length) return this.unary();
    let left = this.binary(level + 1);
    for (;;) {
      this.skip();
      // Longest operators first, and `=>` or `=` (object syntax) is no comparison.
      const op = [...BINARY[level]!]
        .sort((a, b) => b.length - a.length)
        .find((o) => this.src.startsWith(o, this.pos) && !this.src.startsWith('=>', this.pos));
      if (!op || (op === '<' && this.src.startsWith('<<', this.pos))) return left;
      this.pos += op.length;
      left = { kind: 'binary', op, left, right: this.binary(level + 1) };
    }
  }

  unary(): Expr {
    if (this.eat('!')) return { kind: 'unary', op: '!', operand: this.unary() };
    if (this.peek('-') && !/^-\d/.test(this.src.slice(this.pos))) {
      this.pos++;
      return { kind: 'unary', op: '-', operand: this.unary() };
    }
    return this.postfix(this.primary());
  }

  postfix(target: Expr): Expr {
    for (;;) {
      this.skip();
      if (this.src.startsWith('[*]', this.pos) || this.src.startsWith('.*', this.pos)) {
        this.pos += this.src.startsWith('[*]', this.pos) ? 3 : 2;
        const each = this.postfix({ kind: 'ref', root: SPLAT_ITEM });
        return { kind: 'splat', target, each };
      }
      if (this.src[this.pos] === '.') {
        this.pos++;
        this.skip();
        const num = /^\d+/.exec(this.src.slice(this.pos));
        if (num) {
          this.pos += num[0].length;
          target = { kind: 'index', target, key: { kind: 'literal', value: Number(num[0]) } };
          continue;
        }
        const name = this.ident();
        if (!name) this.fail('expected an attribute name');
        target = { kind: 'attr', target, name };
        continue;
      }
      if (this.src[this.pos] === '[') {
        this.pos++;
        const key = this.expression();
        this.expect(']');
        target = { kind: 'index', target, key };
        continue;
      }
      return target;
    }
  }

  primary(): Expr {
    this.skip();
    const c = this.src[this.pos];
    if (c === undefined) this.fail('expected an expression');
    if (c === '"') return this.quoted();
    if (c === '(') {
      this.pos++;
      const e = this.expression();
      this.expect(')');
      return e;
    }
    if (c === '[') return this.tuple();
    if (c === '{') return this.object();
    if (this.src.startsWith('<<', this.pos)) this.fail('heredoc strings are not supported');
    const num = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(this.src.slice(this.pos));
    if (num) {
      this.pos += num[0].length;
      return { kind: 'literal', value: Number(num[0]) };
    }
    const name = this.ident();
    if (!name) this.fail('expected an expression');
    if (name === 'true' || name === 'false') return { kind: 'literal', value: name === 'true' };
    if (name === 'null') return { kind: 'literal', value: null };
    if (this.peek('(')) return this.call(name);
    return { kind: 'ref', root: name };
  }

  call(name: string): Expr {
    this.expect('(');
    const args: Expr[] = [];
    let expand = false;
    while (!this.eat(')')) {
      args.push(this.expression());
      if (this.eat('...')) expand = true;
      if (!this.eat(',')) {
        this.expect(')');
        break;
      }
    }
    return { kind: 'call', name, args, expand };
  }

  tuple(): Expr {
    this.expect('[');
    if (this.keyword('for')) return this.forExpr(false, ']');
    const items: Expr[] = [];
    while (!this.eat(']')) {
      items.push(this.expression());
      if (!this.eat(',')) {
        this.expect(']');
        break;
      }
    }
    return { kind: 'tuple', items };
  }

  object(): Expr {
    this.expect('{');
    if (this.keyword('for')) return this.forExpr(true, '}');
    const items: { key: Expr; value: Expr }[] = [];
    while (!this.eat('}')) {
      const start = this.pos;
      const bare = this.ident();
      let key: Expr;
      if (bare !== undefined && (this.peek('=') || this.peek(':')) && !this.peek('==')) {
        key = { kind: 'literal', value: bare };
      } else {
        this.pos = start;
        key = this.expression();
      }
      if (!this.eat('=') && !this.eat(':')) this.fail('expected = or : in an object');
      items.push({ key, value: this.expression() });
      this.eat(',');
    }
    return { kind: 'object', items };
  }

  forExpr(object: boolean, close: string): Expr {
    const first = this.ident();
    if (!first) this.fail('expected a variable after for');
    let keyVar: string | undefined;
    let valueVar = first;
    if (this.eat(',')) {
      keyVar = first;
      const second = this.ident();
      if (!second) this.fail('expected a second variable after for');
      valueVar = second;
    }
    if (!this.keyword('in')) this.fail('expected in');
    const coll = this.expression();
    this.expect(':');
    let key: Expr | undefined;
    let value = this.expression();
    let group = false;
    if (object) {
      this.expect('=>');
      key = value;
      value = this.expression();
      group = this.eat('...');
    }
    const cond = this.keyword('if') ? this.expression() : undefined;
    this.expect(close);
    return {
      kind: 'for',
      object,
      ...(keyVar ? { keyVar } : {}),
      valueVar,
      coll,
      ...(key ? { key } : {}),
      value,
      ...(cond ? { cond } : {}),
      group,
    };
  }

  /** A quoted string inside an expression: a template of its own. */
  quoted(): Expr {
    this.expect('"');
    const parts = this.templateParts('"');
    return simplify(parts);
  }

  /** Literal text and `${…}` parts up to `end` (a quote) or the end of the source. */
  templateParts(end: string | undefined): (string | Expr)[] {
    const parts: (string | Expr)[] = [];
    let text = '';
    for (;;) {
      const c = this.src[this.pos];
      if (c === undefined) {
        if (end !== undefined) this.fail('unterminated string');
        break;
      }
      if (end !== undefined && c === end) {
        this.pos++;
        break;
      }
      if (end !== undefined && c === '\\') {
        text += unescapeChar(this.src[this.pos + 1] ?? '');
        this.pos += 2;
        continue;
      }
      if (this.src.startsWith('$${', this.pos) || this.src.startsWith('%%{', this.pos)) {
        text += this.src.slice(this.pos + 1, this.pos + 3);
        this.pos += 3;
        continue;
      }
      if (this.src.startsWith('%{', this.pos))
        this.fail('template directives (%{…}) are not supported');
      if (this.src.startsWith('${', this.pos)) {
        if (text) parts.push(text);
        text = '';
        this.pos += 2;
        this.eat('~');
        parts.push(this.expression());
        this.eat('~');
        this.expect('}');
        continue;
      }
      text += c;
      this.pos++;
    }
    if (text) parts.push(text);
    return parts;
  }
}

function unescapeChar(c: string): string {
  return ({ n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' } as Record<string, string>)[c] ?? c;
}

function simplify(parts: (string | Expr)[]): Expr {
  if (parts.length === 0) return { kind: 'literal', value: '' };
  if (parts.length === 1 && typeof parts[0] === 'string')
    return { kind: 'literal', value: parts[0] };
  return { kind: 'template', parts };
}

const cache = new Map<string, Expr>();

/**
 * A string as hcl2json gives it: literal text with `${…}` interpolations. A string that is one
 * interpolation and nothing else is that expression's value, not its text (as in HCL).
 */
export function parseTemplate(src: string): Expr {
  let e = cache.get(src);
  if (!e) {
    const p = new Parser(src);
    const parts = p.templateParts(undefined);
    const [only] = parts;
    e =
      parts.length === 1 && only !== undefined && typeof only !== 'string' ? only : simplify(parts);
    cache.set(src, e);
  }
  return e;
}

/** A bare expression (the text of a type constraint, say, without its `${…}`). */
export function parseExpression(src: string): Expr {
  const p = new Parser(src);
  const e = p.expression();
  p.skip();
  if (p.pos < src.length) p.fail('unexpected text after the expression');
  return e;
}

// ---- evaluation -------------------------------------------------------------------------------

export interface Scope {
  /** A reference's root (`var`, `local`, `each`, a resource type…): its value, or undefined. */
  lookup(root: string): Value | undefined;
  /** Functions beyond the built-in ones (file(), which needs the module's directory). */
  functions?: Record<string, (args: Value[]) => Value>;
}

export function typeName(v: Value): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Lazy) return 'object';
  return typeof v === 'object' ? 'object' : typeof v;
}

export function isObject(v: Value): v is ValueMap | Lazy {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The attribute names of an object or map. */
export function keysOf(v: ValueMap | Lazy): string[] {
  return v instanceof Lazy ? v.keys() : Object.keys(v);
}

export function attrOf(v: ValueMap | Lazy, key: string): Value | undefined {
  return v instanceof Lazy ? v.get(key) : Object.hasOwn(v, key) ? v[key] : undefined;
}

/** A value with every lazy object read through (for functions such as jsonencode). */
export function materialize(v: Value): Exclude<Value, Lazy> {
  if (Array.isArray(v)) return v.map(materialize);
  if (v instanceof Lazy || isObject(v)) {
    const out: ValueMap = {};
    for (const k of keysOf(v)) out[k] = materialize(attrOf(v, k) ?? null);
    return out;
  }
  return v;
}

export function toText(v: Value, what = 'value'): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new ExprError(`${what} is ${typeName(v)}, not a string`);
}

function toBool(v: Value, what: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new ExprError(`${what} is ${typeName(v)}, not a bool`);
}

function toNumber(v: Value, what: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  throw new ExprError(`${what} is ${typeName(v)}, not a number`);
}

/** The elements of a list, set or tuple, or the [key, value] pairs of a map or object. */
function entries(v: Value, what: string): [Value, Value][] {
  if (Array.isArray(v)) return v.map((x, i) => [i, x]);
  if (isObject(v)) return keysOf(v).map((k) => [k, attrOf(v, k) ?? null]);
  throw new ExprError(`${what} is ${typeName(v)}, not a collection`);
}

function describe(e: Expr): string {
  switch (e.kind) {
    case 'ref':
      return e.root;
    case 'attr':
      return `${describe(e.target)}.${e.name}`;
    case 'index':
      return `${describe(e.target)}[${e.key.kind === 'literal' ? JSON.stringify(e.key.value) : '…'}]`;
    case 'call':
      return `${e.name}(…)`;
    default:
      return 'the expression';
  }
}

export function evaluate(e: Expr, scope: Scope): Value {
  switch (e.kind) {
    case 'literal':
      return e.value;
    case 'template':
      return e.parts
        .map((p) => (typeof p === 'string' ? p : toText(evaluate(p, scope), describe(p))))
        .join('');
    case 'ref': {
      const v = scope.lookup(e.root);
      if (v === undefined) throw new ExprError(`${e.root} is not a known reference`);
      return v;
    }
    case 'attr': {
      const target = evaluate(e.target, scope);
      if (!isObject(target)) {
        throw new ExprError(
          `${describe(e.target)} is ${typeName(target)}, so it has no .${e.name}`,
        );
      }
      const v = attrOf(target, e.name);
      if (v === undefined) throw new ExprError(`${describe(e.target)} has no attribute ${e.name}`);
      return v;
    }
    case 'index':
      return index(evaluate(e.target, scope), evaluate(e.key, scope), describe(e.target));
    case 'splat': {
      const target = evaluate(e.target, scope);
      const items = target === null ? [] : Array.isArray(target) ? target : [target];
      return items.map((item) =>
        evaluate(e.each, { ...scope, lookup: (r) => (r === SPLAT_ITEM ? item : scope.lookup(r)) }),
      );
    }
    case 'call':
      return callFunction(e, scope);
    case 'tuple':
      return e.items.map((x) => evaluate(x, scope));
    case 'object': {
      const out: ValueMap = {};
      for (const item of e.items)
        out[toText(evaluate(item.key, scope), 'an object key')] = evaluate(item.value, scope);
      return out;
    }
    case 'for':
      return forExpression(e, scope);
    case 'unary': {
      const v = evaluate(e.operand, scope);
      return e.op === '!' ? !toBool(v, describe(e.operand)) : -toNumber(v, describe(e.operand));
    }
    case 'binary':
      return binary(e, scope);
    case 'cond':
      return toBool(evaluate(e.test, scope), 'the condition')
        ? evaluate(e.then, scope)
        : evaluate(e.else, scope);
  }
}

function index(target: Value, key: Value, what: string): Value {
  if (Array.isArray(target)) {
    const i = toNumber(key, 'an index');
    if (!Number.isInteger(i) || i < 0 || i >= target.length) {
      throw new ExprError(`${what} has no element ${i} (it has ${target.length})`);
    }
    return target[i]!;
  }
  if (isObject(target)) {
    const k = toText(key, 'a key');
    const v = attrOf(target, k);
    if (v === undefined) throw new ExprError(`${what} has no key ${JSON.stringify(k)}`);
    return v;
  }
  throw new ExprError(`${what} is ${typeName(target)}, so it cannot be indexed`);
}

function forExpression(e: Extract<Expr, { kind: 'for' }>, scope: Scope): Value {
  const pairs = entries(evaluate(e.coll, scope), describe(e.coll));
  const out: Value[] = [];
  const obj: ValueMap = {};
  const groups: Record<string, Value[]> = {};
  for (const [k, v] of pairs) {
    const inner: Scope = {
      ...scope,
      lookup: (r) => (r === e.valueVar ? v : r === e.keyVar ? k : scope.lookup(r)),
    };
    if (e.cond && !toBool(evaluate(e.cond, inner), 'the for condition')) continue;
    const value = evaluate(e.value, inner);
    if (!e.object) {
      out.push(value);
      continue;
    }
    const key = toText(evaluate(e.key!, inner), 'a for key');
    if (e.group) {
      groups[key] ??= [];
      groups[key].push(value);
    } else if (Object.hasOwn(obj, key))
      throw new ExprError(`the for expression makes key ${key} twice`);
    else obj[key] = value;
  }
  return e.object ? (e.group ? groups : obj) : out;
}

function equal(a: Value, b: Value): boolean {
  return JSON.stringify(materialize(a)) === JSON.stringify(materialize(b));
}

function binary(e: Extract<Expr, { kind: 'binary' }>, scope: Scope): Value {
  if (e.op === '&&' || e.op === '||') {
    const left = toBool(evaluate(e.left, scope), describe(e.left));
    if (e.op === '&&' ? !left : left) return left;
    return toBool(evaluate(e.right, scope), describe(e.right));
  }
  const l = evaluate(e.left, scope);
  const r = evaluate(e.right, scope);
  if (e.op === '==') return equal(l, r);
  if (e.op === '!=') return !equal(l, r);
  const a = toNumber(l, describe(e.left));
  const b = toNumber(r, describe(e.right));
  switch (e.op) {
    case '<':
      return a < b;
    case '>':
      return a > b;
    case '<=':
      return a <= b;
    case '>=':
      return a >= b;
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
    default:
      return a % b;
  }
}

function distinct(items: Value[]): Value[] {
  const seen = new Set<string>();
  return items.filter((x) => {
    const k = JSON.stringify(materialize(x));
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function list(v: Value, fn: string): Value[] {
  if (Array.isArray(v)) return v;
  throw new ExprError(`${fn}() wants a list, not ${typeName(v)}`);
}

function map(v: Value, fn: string): ValueMap | Lazy {
  if (isObject(v)) return v;
  throw new ExprError(`${fn}() wants a map or object, not ${typeName(v)}`);
}

const str = (v: Value, fn: string) => toText(v, `${fn}()'s argument`);

/** Terraform's functions that IAM grants and their inputs plausibly use. */
const FUNCTIONS: Record<string, (args: Value[]) => Value> = {
  toset: ([v]) => distinct(list(v ?? null, 'toset')),
  tolist: ([v]) => [...list(v ?? null, 'tolist')],
  tomap: ([v]) => materialize(map(v ?? null, 'tomap')),
  tostring: ([v]) => (v === null ? null : str(v ?? null, 'tostring')),
  tonumber: ([v]) => (v === null ? null : toNumber(v ?? null, 'tonumber()')),
  tobool: ([v]) => (v === null ? null : toBool(v ?? null, 'tobool()')),
  coalesce: (args) => {
    const v = args.find((a) => a !== null && a !== '');
    if (v === undefined) throw new ExprError('coalesce() found no non-null, non-empty argument');
    return v;
  },
  coalescelist: (args) => args.find((a) => Array.isArray(a) && a.length > 0) ?? [],
  compact: ([v]) => list(v ?? null, 'compact').filter((x) => x !== null && x !== ''),
  concat: (args) => args.flatMap((a) => list(a, 'concat')),
  contains: ([l, x]) => list(l ?? null, 'contains').some((y) => equal(y, x ?? null)),
  distinct: ([v]) => distinct(list(v ?? null, 'distinct')),
  element: ([l, i]) => {
    const items = list(l ?? null, 'element');
    if (items.length === 0) throw new ExprError('element() of an empty list');
    return items[toNumber(i ?? null, 'element() index') % items.length]!;
  },
  flatten: ([v]) => {
    const flat = (x: Value): Value[] => (Array.isArray(x) ? x.flatMap(flat) : [x]);
    return flat(list(v ?? null, 'flatten'));
  },
  format: ([f, ...rest]) => {
    let i = 0;
    return str(f ?? null, 'format').replace(/%[sdv%]/g, (m) =>
      m === '%%' ? '%' : toText(rest[i++] ?? null, 'a format() argument'),
    );
  },
  join: ([sep, l]) =>
    list(l ?? null, 'join')
      .map((x) => str(x, 'join'))
      .join(str(sep ?? null, 'join')),
  keys: ([m]) => keysOf(map(m ?? null, 'keys')).sort(),
  values: ([m]) => {
    const o = map(m ?? null, 'values');
    return keysOf(o)
      .sort()
      .map((k) => attrOf(o, k) ?? null);
  },
  length: ([v]) =>
    typeof v === 'string'
      ? [...v].length
      : Array.isArray(v)
        ? v.length
        : keysOf(map(v ?? null, 'length')).length,
  lookup: ([m, k, d]) => {
    const v = attrOf(map(m ?? null, 'lookup'), str(k ?? null, 'lookup'));
    if (v !== undefined) return v;
    if (d === undefined)
      throw new ExprError(`lookup() found no key ${String(k)} and has no default`);
    return d;
  },
  lower: ([s]) => str(s ?? null, 'lower').toLowerCase(),
  upper: ([s]) => str(s ?? null, 'upper').toUpperCase(),
  merge: (args) =>
    Object.assign({}, ...args.filter((a) => a !== null).map((a) => materialize(map(a, 'merge')))),
  replace: ([s, from, to]) => {
    const f = str(from ?? null, 'replace');
    const t = str(to ?? null, 'replace');
    const m = /^\/(.*)\/$/.exec(f);
    return str(s ?? null, 'replace').replace(
      m ? new RegExp(m[1]!, 'g') : new RegExp(escapeRe(f), 'g'),
      () => t,
    );
  },
  split: ([sep, s]) => str(s ?? null, 'split').split(str(sep ?? null, 'split')),
  startswith: ([s, p]) => str(s ?? null, 'startswith').startsWith(str(p ?? null, 'startswith')),
  endswith: ([s, p]) => str(s ?? null, 'endswith').endsWith(str(p ?? null, 'endswith')),
  trimprefix: ([s, p]) => {
    const t = str(s ?? null, 'trimprefix');
    const q = str(p ?? null, 'trimprefix');
    return t.startsWith(q) ? t.slice(q.length) : t;
  },
  trimsuffix: ([s, p]) => {
    const t = str(s ?? null, 'trimsuffix');
    const q = str(p ?? null, 'trimsuffix');
    return q && t.endsWith(q) ? t.slice(0, -q.length) : t;
  },
  trimspace: ([s]) => str(s ?? null, 'trimspace').trim(),
  jsonencode: ([v]) => JSON.stringify(materialize(v ?? null)),
  base64encode: ([s]) => Buffer.from(str(s ?? null, 'base64encode')).toString('base64'),
  setunion: (args) => distinct(args.flatMap((a) => list(a, 'setunion'))),
  setsubtract: ([a, b]) => {
    const minus = list(b ?? null, 'setsubtract');
    return distinct(list(a ?? null, 'setsubtract')).filter((x) => !minus.some((y) => equal(x, y)));
  },
  setintersection: ([first, ...rest]) => {
    const others = rest.map((r) => list(r, 'setintersection'));
    return distinct(list(first ?? null, 'setintersection')).filter((x) =>
      others.every((o) => o.some((y) => equal(x, y))),
    );
  },
  one: ([v]) => {
    const items = list(v ?? null, 'one');
    if (items.length > 1) throw new ExprError(`one() of a list of ${items.length}`);
    return items[0] ?? null;
  },
};

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function callFunction(e: Extract<Expr, { kind: 'call' }>, scope: Scope): Value {
  const fn = scope.functions?.[e.name] ?? FUNCTIONS[e.name];
  if (!fn) throw new ExprError(`the function ${e.name}() is not supported`);
  let args = e.args.map((a) => evaluate(a, scope));
  if (e.expand) args = [...args.slice(0, -1), ...list(args.at(-1) ?? null, e.name)];
  return fn(args);
}

// ---- type constraints -------------------------------------------------------------------------

/**
 * Converts a variable's value to its type constraint as Terraform does where it matters to the
 * reader: optional object attributes get their default (or null), sets lose duplicates, and
 * primitives convert between string, number and bool.
 */
export function convert(v: Value, type: Expr, what: string): Value {
  if (v === null) return null;
  if (type.kind === 'ref') {
    switch (type.root) {
      case 'any':
        return v;
      case 'string':
        return toText(v, what);
      case 'number':
        return toNumber(v, what);
      case 'bool':
        return toBool(v, what);
    }
    throw new ExprError(`${what}: the type ${type.root} is not known`);
  }
  if (type.kind !== 'call') throw new ExprError(`${what}: the type constraint is not understood`);
  const [inner] = type.args;
  switch (type.name) {
    case 'list':
    case 'set': {
      const items = (Array.isArray(v) ? v : fail(what, v, type.name)).map((x, i) =>
        convert(x, inner!, `${what}[${i}]`),
      );
      return type.name === 'set' ? distinct(items) : items;
    }
    case 'map': {
      if (!isObject(v)) fail(what, v, 'map');
      const out: ValueMap = {};
      for (const k of keysOf(v)) out[k] = convert(attrOf(v, k) ?? null, inner!, `${what}["${k}"]`);
      return out;
    }
    case 'object':
      return convertObject(v, inner, what);
    case 'tuple':
      if (!Array.isArray(v) || inner?.kind !== 'tuple') return fail(what, v, 'tuple');
      return v.map((x, i) => (inner.items[i] ? convert(x, inner.items[i]!, `${what}[${i}]`) : x));
    case 'optional':
      return convert(v, inner!, what);
  }
  throw new ExprError(`${what}: the type ${type.name}(…) is not known`);
}

function fail(what: string, v: Value, want: string): never {
  throw new ExprError(`${what} is ${typeName(v)}, not a ${want}`);
}

function convertObject(v: Value, attrs: Expr | undefined, what: string): Value {
  if (!isObject(v)) fail(what, v, 'object');
  if (attrs?.kind !== 'object') throw new ExprError(`${what}: object() wants {attribute = type}`);
  const out: ValueMap = {};
  for (const { key, value: t } of attrs.items) {
    const name = key.kind === 'literal' ? String(key.value) : '';
    const given = attrOf(v, name);
    const optional = t.kind === 'call' && t.name === 'optional';
    if (given === undefined || given === null) {
      if (!optional && given === undefined) {
        throw new ExprError(`${what} lacks the required attribute ${name}`);
      }
      const dflt = optional && t.args[1] ? evaluate(t.args[1], { lookup: () => undefined }) : null;
      out[name] = dflt === null ? null : convert(dflt, t, `${what}.${name}`);
      continue;
    }
    out[name] = convert(given, t, `${what}.${name}`);
  }
  return out;
}
