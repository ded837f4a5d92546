// The values a workflow computes with, as Google Workflows types them.
// int is a JS bigint (64-bit, overflow is an error), double a JS number, so typeof tells them apart.
// Maps keep insertion order and accept any string key, so they are JS Maps.

export type WfMap = Map<string, Value>;
export type Value = null | boolean | bigint | number | string | Uint8Array | Value[] | WfMap;

/** Workflows type names, as `get_type` returns them and as error messages name them. */
export type TypeName =
  | 'null'
  | 'boolean'
  | 'integer'
  | 'double'
  | 'string'
  | 'bytes'
  | 'list'
  | 'map';

export function typeName(v: Value): TypeName {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return 'boolean';
    case 'bigint':
      return 'integer';
    case 'number':
      return 'double';
    case 'string':
      return 'string';
    default:
      if (v instanceof Uint8Array) return 'bytes';
      if (Array.isArray(v)) return 'list';
      return 'map';
  }
}

export function isMap(v: Value): v is WfMap {
  return v instanceof Map;
}

export function isList(v: Value): v is Value[] {
  return Array.isArray(v);
}

export function isBytes(v: Value): v is Uint8Array {
  return v instanceof Uint8Array;
}

/** A map from plain entries, for building results and errors. */
export function wfMap(entries: Record<string, Value>): WfMap {
  return new Map(Object.entries(entries));
}

/**
 * A double as `string()` and `+` print it: with a fraction even when integral (`string(2.0)` is
 * "2.0", telling it apart from the integer 2), otherwise the shortest text that reads back exactly.
 */
export function doubleText(n: number): string {
  // toFixed drops the sign of negative zero, which a double keeps.
  if (Object.is(n, -0)) return '-0.0';
  return Number.isInteger(n) ? n.toFixed(1) : String(n);
}
