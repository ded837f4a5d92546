// Between workflow values and plain JSON: integers stay exact (bigint), doubles stay doubles.
import { raise } from './errors.ts';
import { isBytes, isList, isMap, type Value } from './values.ts';

/** Plain JS (from JSON.parse or YAML with bigints) to a workflow value. */
export function fromPlain(v: unknown): Value {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'boolean':
    case 'string':
    case 'bigint':
      return v;
    case 'number':
      return Number.isInteger(v) && Number.isSafeInteger(v) ? BigInt(v) : v;
    case 'object':
      if (Array.isArray(v)) return v.map(fromPlain);
      if (v instanceof Map) return new Map([...v].map(([k, x]) => [String(k), fromPlain(x)]));
      return new Map(
        Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, fromPlain(x)]),
      );
    default:
      return raise('TypeError', `cannot convert ${typeof v} to a workflow value`);
  }
}

/** Parses JSON text keeping integers exact: `1` is an int, `1.0` and `1e3` are doubles. */
export function parseJsonValue(text: string): Value {
  try {
    return new JsonReader(text).document();
  } catch (err) {
    if (err instanceof SyntaxError) raise('ValueError', `invalid JSON: ${err.message}`);
    throw err;
  }
}

// JSON.parse turns every number into a double before a reviver sees it (Node 20 has no source
// text in revivers), so 64-bit integers need a reader of their own.
const LITERALS: [string, Value][] = [
  ['true', true],
  ['false', false],
  ['null', null],
];

class JsonReader {
  private i = 0;
  constructor(private readonly s: string) {}

  document(): Value {
    const v = this.value(0);
    this.ws();
    if (this.i < this.s.length) this.fail('unexpected text after the JSON value');
    return v;
  }

  private fail(what: string): never {
    throw new SyntaxError(`${what} at position ${this.i}`);
  }

  private ws() {
    const s = this.s;
    while (
      this.i < s.length &&
      (s[this.i] === ' ' || s[this.i] === '\n' || s[this.i] === '\r' || s[this.i] === '\t')
    )
      this.i++;
  }

  private value(depth: number): Value {
    if (depth > 512) this.fail('JSON nested too deeply');
    this.ws();
    const c = this.s[this.i];
    if (c === '{') {
      this.i++;
      const m = new Map<string, Value>();
      this.ws();
      if (this.s[this.i] === '}') {
        this.i++;
        return m;
      }
      for (;;) {
        this.ws();
        if (this.s[this.i] !== '"') this.fail('expected a string key');
        const k = this.string();
        this.ws();
        if (this.s[this.i++] !== ':') this.fail('expected ":"');
        m.set(k, this.value(depth + 1));
        this.ws();
        const d = this.s[this.i++];
        if (d === '}') return m;
        if (d !== ',') this.fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      this.i++;
      const l: Value[] = [];
      this.ws();
      if (this.s[this.i] === ']') {
        this.i++;
        return l;
      }
      for (;;) {
        l.push(this.value(depth + 1));
        this.ws();
        const d = this.s[this.i++];
        if (d === ']') return l;
        if (d !== ',') this.fail('expected "," or "]"');
      }
    }
    if (c === '"') return this.string();
    const rest = this.s.slice(this.i, this.i + 5);
    for (const [word, v] of LITERALS) {
      if (rest.startsWith(word)) {
        this.i += word.length;
        return v;
      }
    }
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (!m)
      this.fail(c === undefined ? 'unexpected end of JSON' : `unexpected ${JSON.stringify(c)}`);
    this.i += m[0].length;
    if (m[1] === undefined && m[2] === undefined) {
      const b = BigInt(m[0]);
      // Beyond 64 bits an integer can only be a double, as Google reads it.
      return b >= -(1n << 63n) && b < 1n << 63n ? b : Number(m[0]);
    }
    return Number(m[0]);
  }

  private string(): string {
    const start = this.i;
    this.i++;
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined) this.fail('unterminated string');
      if (c === '"') break;
      if (c === '\\') this.i++;
      else if (c < ' ') this.fail('control character in string');
      this.i++;
    }
    this.i++;
    return JSON.parse(this.s.slice(start, this.i)) as string;
  }
}

/** A double as JSON prints it: integral doubles keep no fraction (`2`), like Google's output. */
function formatDouble(n: number): string {
  if (!Number.isFinite(n)) raise('ValueError', `cannot encode ${n} as JSON`);
  return JSON.stringify(n);
}

/** Encodes a value as JSON text; bytes cannot be encoded, as in Google Workflows. */
export function toJsonText(v: Value, indent = 0): string {
  const out: string[] = [];
  const pad = (depth: number) => (indent ? `\n${' '.repeat(indent * depth)}` : '');
  const walk = (x: Value, depth: number) => {
    if (x === null) out.push('null');
    else if (typeof x === 'boolean') out.push(String(x));
    else if (typeof x === 'bigint') out.push(x.toString());
    else if (typeof x === 'number') out.push(formatDouble(x));
    else if (typeof x === 'string') out.push(JSON.stringify(x));
    else if (isBytes(x)) raise('TypeError', 'bytes cannot be JSON-encoded; use base64.encode');
    else if (isList(x)) {
      if (x.length === 0) return void out.push('[]');
      out.push('[');
      x.forEach((e, i) => {
        if (i) out.push(',');
        out.push(pad(depth + 1));
        walk(e, depth + 1);
      });
      out.push(`${pad(depth)}]`);
    } else if (isMap(x)) {
      if (x.size === 0) return void out.push('{}');
      out.push('{');
      let i = 0;
      for (const [k, e] of x) {
        if (i++) out.push(',');
        out.push(`${pad(depth + 1)}${JSON.stringify(k)}:${indent ? ' ' : ''}`);
        walk(e, depth + 1);
      }
      out.push(`${pad(depth)}}`);
    }
  };
  walk(v, 0);
  return out.join('');
}
