// What every library module shares: `fn` declares a function by Google's parameter names (a
// trailing `?` marks an optional one), and the argument readers raise Google's TypeError.
import { raise } from '../errors.ts';
import { isBytes, typeName, type Value } from '../values.ts';
import type { CallContext, WfFunction } from './types.ts';

export type Impl = (args: (Value | undefined)[], ctx: CallContext) => Value | Promise<Value>;

export const fn = (params: string[], impl: Impl, opts: Partial<WfFunction> = {}): WfFunction => ({
  params: params.map((p) =>
    p.endsWith('?') ? { name: p.slice(0, -1), optional: true } : { name: p },
  ),
  impl,
  ...opts,
});

export function str(v: Value | undefined, what: string): string {
  if (typeof v !== 'string')
    raise('TypeError', `${what} must be a string, got '${typeName(v ?? null)}'`);
  return v;
}

/**
 * A string that must be well-formed Unicode: the text pages raise ValueError for an argument that
 * is "not UTF-8 encoded", which here is a string holding a lone surrogate (`"\ud800"`).
 */
export function utf8(v: Value | undefined, what: string): string {
  const s = str(v, what);
  if (/\p{Cs}/u.test(s)) raise('ValueError', `${what} is not UTF-8 encoded (a lone surrogate)`);
  return s;
}

export function num(v: Value | undefined, what: string): bigint | number {
  if (typeof v !== 'bigint' && typeof v !== 'number')
    raise('TypeError', `${what} must be a number, got '${typeName(v ?? null)}'`);
  return v;
}

/** Characters, not UTF-16 units: Workflows counts and indexes strings by character. */
export const chars = (s: string) => Array.from(s);

export function bytesOf(v: Value | undefined, what: string): Buffer {
  if (isBytes(v ?? null)) return Buffer.from(v as Uint8Array);
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return raise('TypeError', `${what} must be bytes or a string`);
}

/** An integer argument: Google's pages raise TypeError for a double where they ask for an int. */
export function integer(v: Value | undefined, what: string): bigint {
  if (typeof v !== 'bigint')
    raise('TypeError', `${what} must be an integer, got '${typeName(v ?? null)}'`);
  return v;
}

export function bool(v: Value | undefined, what: string): boolean {
  if (typeof v !== 'boolean')
    raise('TypeError', `${what} must be a boolean, got '${typeName(v ?? null)}'`);
  return v;
}

/** A bytes argument, strictly (no string accepted in its place). */
export function bytes(v: Value | undefined, what: string): Uint8Array {
  if (!isBytes(v ?? null))
    raise('TypeError', `${what} must be bytes, got '${typeName(v ?? null)}'`);
  return v as Uint8Array;
}

/** The code-point index of every UTF-16 offset of `s`. */
export function codePointIndex(s: string): Uint32Array {
  const index = new Uint32Array(s.length + 1);
  let cp = 0;
  for (let i = 0; i < s.length; i++, cp++) {
    index[i] = cp;
    if (s.codePointAt(i)! > 0xffff) index[++i] = cp;
  }
  index[s.length] = cp;
  return index;
}
