// The core of the standard library the engine needs to run the release workflow and common
// definitions: expression helpers and the most used functions of sys, text, json, map, list,
// math and base64. Each is a WfFunction with Google's parameter names (call steps pass them by name).
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { parseJsonValue, toJsonText } from './convert.ts';
import { raise } from './errors.ts';
import { httpFunctions } from './http.ts';
import type { CallContext, Severity, WfFunction } from './stdlib/types.ts';
import { isBytes, isList, isMap, typeName, type Value } from './values.ts';

type Impl = (args: (Value | undefined)[], ctx: CallContext) => Value | Promise<Value>;

const fn = (params: string[], impl: Impl, opts: Partial<WfFunction> = {}): WfFunction => ({
  params: params.map((p) =>
    p.endsWith('?') ? { name: p.slice(0, -1), optional: true } : { name: p },
  ),
  impl,
  ...opts,
});

function str(v: Value | undefined, what: string): string {
  if (typeof v !== 'string')
    raise('TypeError', `${what} must be a string, got '${typeName(v ?? null)}'`);
  return v;
}

function num(v: Value | undefined, what: string): bigint | number {
  if (typeof v !== 'bigint' && typeof v !== 'number')
    raise('TypeError', `${what} must be a number, got '${typeName(v ?? null)}'`);
  return v;
}

/** `string()` of a value: numbers as Google prints them, booleans lowercase. */
export function stringify(v: Value): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (typeof v === 'number')
    return Number.isInteger(v) ? v.toFixed(1).replace(/\.0$/, '.0') : String(v);
  if (v === null) return 'null';
  return raise('TypeError', `string() cannot convert '${typeName(v)}'`);
}

const chars = (s: string) => Array.from(s);

/** `indent: true` indents by two spaces; a map may say `{indent: "    "}`. */
function indentOf(i: Value | undefined): number {
  if (i === undefined || i === null || i === false) return 0;
  if (i === true) return 2;
  if (isMap(i) && typeof i.get('indent') === 'string') return (i.get('indent') as string).length;
  return raise('TypeError', 'indent must be a boolean or a map with indent');
}

const entries: [string, WfFunction][] = [
  [
    'len',
    fn(['value'], ([v]) => {
      if (typeof v === 'string') return BigInt(chars(v).length);
      if (isList(v!)) return BigInt(v.length);
      if (isMap(v!)) return BigInt(v.size);
      if (isBytes(v!)) return BigInt(v.length);
      return raise('TypeError', `len() of '${typeName(v ?? null)}' is not defined`);
    }),
  ],
  [
    'keys',
    fn(['map'], ([m]) =>
      isMap(m!)
        ? [...m.keys()]
        : raise('TypeError', `keys() needs a map, got '${typeName(m ?? null)}'`),
    ),
  ],
  [
    'int',
    fn(['value'], ([v]) => {
      if (typeof v === 'bigint') return v;
      if (typeof v === 'number') return BigInt(Math.trunc(v));
      if (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)) return BigInt(v.trim());
      if (typeof v === 'string' && /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(v))
        return BigInt(Math.trunc(Number(v)));
      if (typeof v === 'boolean') return v ? 1n : 0n;
      return raise(
        'ValueError',
        `int() cannot convert ${JSON.stringify(typeof v === 'string' ? v : typeName(v ?? null))}`,
      );
    }),
  ],
  [
    'double',
    fn(['value'], ([v]) => {
      if (typeof v === 'bigint' || typeof v === 'number') return Number(v);
      if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
      return raise(
        'ValueError',
        `double() cannot convert ${JSON.stringify(typeof v === 'string' ? v : typeName(v ?? null))}`,
      );
    }),
  ],
  ['string', fn(['value'], ([v]) => stringify(v ?? null))],
  [
    'default',
    fn(['value', 'default_value'], ([v, d]) => (v === null || v === undefined ? (d ?? null) : v)),
  ],
  ['get_type', fn(['value'], ([v]) => typeName(v ?? null))],

  [
    'sys.get_env',
    fn(['name', 'default?'], ([name, d], ctx) => {
      const env: Record<string, string> = {
        GOOGLE_CLOUD_PROJECT_ID: ctx.env.projectId,
        GOOGLE_CLOUD_PROJECT_NUMBER: ctx.env.projectNumber,
        GOOGLE_CLOUD_LOCATION: ctx.env.location,
        GOOGLE_CLOUD_WORKFLOW_ID: ctx.env.workflowId,
        GOOGLE_CLOUD_WORKFLOW_REVISION_ID: ctx.env.revisionId,
        GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID: ctx.env.executionId,
      };
      const v = env[str(name, 'name')];
      return v === undefined || v === '' ? (d ?? null) : v;
    }),
  ],
  ['sys.now', fn([], (_a, ctx) => ctx.clock.now() / 1000)],
  [
    'sys.log',
    fn(
      ['data?', 'severity?', 'text?', 'json?', 'timeout?'],
      ([data, severity, text, json], ctx) => {
        const s = (typeof severity === 'string' ? severity.toUpperCase() : 'DEFAULT') as Severity;
        ctx.log(s, text ?? json ?? data ?? null);
        return null;
      },
    ),
  ],
  [
    'sys.sleep',
    fn(
      ['seconds'],
      async ([s], ctx) => {
        const seconds = Number(num(s, 'seconds'));
        if (seconds < 0) raise('ValueError', 'seconds must not be negative');
        await ctx.clock.sleep(seconds * 1000, ctx.signal);
        return null;
      },
      { blocking: true },
    ),
  ],
  [
    'sys.sleep_until',
    fn(
      ['time'],
      async ([t], ctx) => {
        const until = Date.parse(str(t, 'time'));
        if (Number.isNaN(until)) raise('ValueError', `time must be an RFC 3339 timestamp: ${t}`);
        await ctx.clock.sleep(Math.max(0, until - ctx.clock.now()), ctx.signal);
        return null;
      },
      { blocking: true },
    ),
  ],

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
    'json.encode',
    fn(
      ['data', 'indent?'],
      ([d, i]) => new Uint8Array(Buffer.from(toJsonText(d ?? null, indentOf(i)))),
    ),
  ],
  [
    'json.encode_to_string',
    fn(['data', 'indent?'], ([d, i]) => toJsonText(d ?? null, indentOf(i))),
  ],
  [
    'json.decode',
    fn(['data'], ([d]) =>
      parseJsonValue(isBytes(d!) ? Buffer.from(d).toString('utf8') : str(d, 'data')),
    ),
  ],

  [
    'base64.encode',
    fn(['data', 'padding?'], ([d, pad]) => {
      const b = Buffer.from(isBytes(d!) ? d : Buffer.from(str(d, 'data'))).toString('base64');
      return pad === false ? b.replace(/=+$/, '') : b;
    }),
  ],
  [
    'base64.decode',
    fn(['data', 'padding?'], ([d]) => new Uint8Array(Buffer.from(str(d, 'data'), 'base64'))),
  ],

  [
    'map.get',
    fn(['map', 'keys'], ([m, k]) => {
      let cur: Value = m ?? null;
      for (const key of isList(k!) ? k : [k ?? null]) {
        if (!isMap(cur) || typeof key !== 'string' || !cur.has(key)) return null;
        cur = cur.get(key)!;
      }
      return cur;
    }),
  ],
  [
    'map.merge',
    fn(['first', 'second'], ([a, b]) => {
      if (!isMap(a!) || !isMap(b!)) raise('TypeError', 'map.merge needs two maps');
      return new Map([...(a as Map<string, Value>), ...(b as Map<string, Value>)]);
    }),
  ],
  [
    'map.delete',
    fn(['map', 'key'], ([m, k]) => {
      if (!isMap(m!)) raise('TypeError', 'map.delete needs a map');
      const out = new Map(m as Map<string, Value>);
      out.delete(str(k, 'key'));
      return out;
    }),
  ],
  [
    'list.concat',
    fn(['objs', 'val'], ([l, v]) =>
      isList(l!) ? [...l, v ?? null] : raise('TypeError', 'list.concat needs a list'),
    ),
  ],
  [
    'list.prepend',
    fn(['objs', 'val'], ([l, v]) =>
      isList(l!) ? [v ?? null, ...l] : raise('TypeError', 'list.prepend needs a list'),
    ),
  ],

  [
    'math.abs',
    fn(['x'], ([x]) => {
      const v = num(x, 'x');
      return typeof v === 'bigint' ? (v < 0n ? -v : v) : Math.abs(v);
    }),
  ],
  ['math.floor', fn(['x'], ([x]) => BigInt(Math.floor(Number(num(x, 'x')))))],
  ['math.max', fn(['x', 'y'], ([x, y]) => (Number(num(x, 'x')) >= Number(num(y, 'y')) ? x! : y!))],
  ['math.min', fn(['x', 'y'], ([x, y]) => (Number(num(x, 'x')) <= Number(num(y, 'y')) ? x! : y!))],
  ['uuid.generate', fn([], () => randomUUID())],
  [
    'time.format',
    fn(['seconds', 'timezone?'], ([s]) =>
      new Date(Number(num(s, 'seconds')) * 1000)
        .toISOString()
        .replace(/\.000Z$/, 'Z')
        .replace(/(\.\d{3})Z$/, '$1000Z'),
    ),
  ],
  [
    'time.parse',
    fn(['value'], ([v]) => {
      const t = Date.parse(str(v, 'value'));
      if (Number.isNaN(t)) raise('ValueError', `time.parse: not an RFC 3339 timestamp: ${v}`);
      return t / 1000;
    }),
  ],
  ['retry.always', fn(['e'], () => true)],
  ['retry.never', fn(['e'], () => false)],
  [
    'events.create_callback_endpoint',
    fn(
      ['http_callback_method?'],
      () =>
        raise(
          'SystemError',
          'events.create_callback_endpoint is not supported by the local engine yet',
        ),
      { blocking: true },
    ),
  ],
  [
    'events.await_callback',
    fn(
      ['callback', 'timeout?'],
      () => raise('SystemError', 'events.await_callback is not supported by the local engine yet'),
      { blocking: true },
    ),
  ],
];

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

function bytesOf(v: Value | undefined, what: string): Buffer {
  if (isBytes(v ?? null)) return Buffer.from(v as Uint8Array);
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return raise('TypeError', `${what} must be bytes or a string`);
}

function mergeNested(a: Value, b: Value): Value {
  if (!isMap(a) || !isMap(b)) return b;
  const out = new Map(a);
  for (const [k, v] of b) out.set(k, out.has(k) ? mergeNested(out.get(k)!, v) : v);
  return out;
}

const more: [string, WfFunction][] = [
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
  [
    'hash.compute_checksum',
    fn(['data', 'algorithm'], ([d, a]) => {
      const alg = str(a, 'algorithm').toUpperCase();
      const names: Record<string, string> = {
        MD5: 'md5',
        SHA1: 'sha1',
        SHA256: 'sha256',
        SHA384: 'sha384',
        SHA512: 'sha512',
      };
      if (!names[alg])
        raise(
          'ValueError',
          `unsupported algorithm ${alg}: use MD5, SHA1, SHA256, SHA384 or SHA512`,
        );
      return new Uint8Array(createHash(names[alg]!).update(bytesOf(d, 'data')).digest());
    }),
  ],
  [
    'hash.compute_hmac',
    fn(['key', 'data', 'algorithm'], ([k, d, a]) => {
      const alg = str(a, 'algorithm').toUpperCase();
      const names: Record<string, string> = {
        SHA1: 'sha1',
        SHA256: 'sha256',
        SHA384: 'sha384',
        SHA512: 'sha512',
      };
      if (!names[alg])
        raise('ValueError', `unsupported algorithm ${alg}: use SHA1, SHA256, SHA384 or SHA512`);
      return new Uint8Array(
        createHmac(names[alg]!, bytesOf(k, 'key')).update(bytesOf(d, 'data')).digest(),
      );
    }),
  ],
  [
    'map.merge_nested',
    fn(['first', 'second'], ([a, b]) => {
      if (!isMap(a ?? null) || !isMap(b ?? null))
        raise('TypeError', 'map.merge_nested needs two maps');
      return mergeNested(a!, b!);
    }),
  ],
];

export const builtins: ReadonlyMap<string, WfFunction> = new Map([
  ...entries,
  ...more,
  ...httpFunctions,
]);
