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
  let parsed: unknown;
  try {
    // Mark integer literals so they survive as bigints; numbers with . or e stay doubles.
    parsed = JSON.parse(text, (_k, v, ctx?: { source?: string }) => {
      if (typeof v === 'number' && ctx?.source !== undefined && /^-?\d+$/.test(ctx.source)) {
        const b = BigInt(ctx.source);
        return b >= -(1n << 63n) && b < 1n << 63n ? b : v;
      }
      if (typeof v === 'number' && ctx?.source === undefined && Number.isInteger(v))
        return BigInt(v);
      return v;
    });
  } catch (err) {
    raise('ValueError', `invalid JSON: ${(err as Error).message}`);
  }
  return fromPlainKeepDoubles(parsed);
}

function fromPlainKeepDoubles(v: unknown): Value {
  if (typeof v === 'number') return v;
  if (Array.isArray(v)) return v.map(fromPlainKeepDoubles);
  if (v !== null && typeof v === 'object') {
    return new Map(
      Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, fromPlainKeepDoubles(x)]),
    );
  }
  return v as Value;
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
