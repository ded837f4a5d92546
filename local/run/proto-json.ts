// Request bodies checked against the Cloud Run v2 protos that Google's client package ships, the
// way Google's REST front end checks them: unknown fields and wrong types are INVALID_ARGUMENT
// with Google's wording and the field's path; enums are accepted as names or numbers (the Node
// client sends numbers) and come out as names; snake_case and lowerCamelCase names both work.
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';
import { invalidArgument } from '../../services/shared/errors.ts';

const require = createRequire(import.meta.url);

let root: protobuf.Root | undefined;
function protos(): protobuf.Root {
  if (!root) {
    root = protobuf.Root.fromJSON(require('@google-cloud/run/build/protos/protos.json'));
    root.resolveAll();
  }
  return root;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

const INT32 = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32 = new Set(['uint32', 'fixed32']);
const INT64 = new Set(['int64', 'sint64', 'sfixed64', 'uint64', 'fixed64']);

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (name: string) => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function invalidValue(path: string, kind: string, value: unknown): Error {
  const shown = JSON.stringify(value);
  return invalidArgument(
    `Invalid value at '${path}' (${kind}), ${shown && shown.length > 80 ? `${shown.slice(0, 80)}...` : shown}`,
    [{ field: path, description: `Invalid value (${kind})` }],
  );
}

/**
 * Decodes `value` as the proto3 JSON of message `typeName` (e.g. `google.cloud.run.v2.Service`).
 * `path` names the value in errors the way Google does (`service.template`). `root` holds the
 * message (default: the Cloud Run protos; other local APIs pass their client package's).
 */
export function decodeMessage(
  typeName: string,
  value: unknown,
  path: string,
  root?: protobuf.Root,
): JsonObject {
  return decodeType((root ?? protos()).lookupType(typeName), value, path);
}

function decodeType(type: protobuf.Type, value: unknown, path: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidValue(path, `type.googleapis.com/${type.fullName.slice(1)}`, value);
  }
  const out: JsonObject = {};
  for (const [key, raw] of Object.entries(value)) {
    const field = type.fields[key] ?? type.fields[camel(key)];
    if (!field) {
      throw invalidArgument(
        `Invalid JSON payload received. Unknown name "${key}" at '${path}': Cannot find field.`,
        [{ field: path, description: `Unknown name "${key}": Cannot find field.` }],
      );
    }
    if (raw === null) continue;
    const at = path ? `${path}.${snake(field.name)}` : snake(field.name);
    if (field.map) {
      if (typeof raw !== 'object' || Array.isArray(raw)) throw invalidValue(at, 'map', raw);
      const map: JsonObject = {};
      for (const [k, v] of Object.entries(raw)) map[k] = decodeField(field, v, `${at}[${k}]`);
      out[field.name] = map;
    } else if (field.repeated) {
      if (!Array.isArray(raw)) throw invalidValue(at, 'list', raw);
      out[field.name] = raw.map((v, i) => decodeField(field, v, `${at}[${i}]`));
    } else {
      out[field.name] = decodeField(field, raw, at);
    }
  }
  return out;
}

function decodeField(field: protobuf.Field, value: unknown, path: string): Json {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Enum) return decodeEnum(resolved, value, path);
  if (resolved instanceof protobuf.Type) return decodeWellKnown(resolved, value, path);
  return decodeScalar(field.type, value, path);
}

function decodeEnum(type: protobuf.Enum, value: unknown, path: string): Json {
  if (typeof value === 'string' && value in type.values) return value;
  if (
    typeof value === 'number' &&
    Number.isInteger(value) &&
    type.valuesById[value] !== undefined
  ) {
    return type.valuesById[value] as string;
  }
  throw invalidValue(path, `type.googleapis.com/${type.fullName.slice(1)}`, value);
}

function decodeWellKnown(type: protobuf.Type, value: unknown, path: string): Json {
  switch (type.fullName) {
    case '.google.protobuf.Timestamp':
      if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return value;
      throw invalidValue(path, 'type.googleapis.com/google.protobuf.Timestamp', value);
    case '.google.protobuf.Duration':
      if (typeof value === 'string' && /^-?\d{1,12}(\.\d{1,9})?s$/.test(value)) return value;
      throw invalidValue(path, 'type.googleapis.com/google.protobuf.Duration', value);
    case '.google.protobuf.FieldMask':
      if (typeof value === 'string') return value;
      throw invalidValue(path, 'type.googleapis.com/google.protobuf.FieldMask', value);
    case '.google.protobuf.Value':
    case '.google.protobuf.Struct':
    case '.google.protobuf.ListValue':
    case '.google.protobuf.Any':
      return value as Json;
    case '.google.protobuf.Int32Value':
      return decodeScalar('int32', value, path);
    case '.google.protobuf.Int64Value':
      return decodeScalar('int64', value, path);
    case '.google.protobuf.BoolValue':
      return decodeScalar('bool', value, path);
    case '.google.protobuf.StringValue':
      return decodeScalar('string', value, path);
    default:
      return decodeType(type, value, path);
  }
}

function decodeScalar(kind: string, value: unknown, path: string): Json {
  const label = `TYPE_${kind.toUpperCase()}`;
  if (kind === 'string') {
    if (typeof value === 'string') return value;
    throw invalidValue(path, label, value);
  }
  if (kind === 'bool') {
    if (typeof value === 'boolean') return value;
    throw invalidValue(path, label, value);
  }
  if (kind === 'bytes') {
    if (typeof value === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) return value;
    throw invalidValue(path, label, value);
  }
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(value.trim())
        ? Number(value)
        : Number.NaN;
  if (kind === 'double' || kind === 'float') {
    if (Number.isFinite(n)) return n;
    throw invalidValue(path, label, value);
  }
  const ok =
    Number.isInteger(n) &&
    (INT32.has(kind)
      ? n >= -(2 ** 31) && n < 2 ** 31
      : UINT32.has(kind)
        ? n >= 0 && n < 2 ** 32
        : INT64.has(kind) && Number.isSafeInteger(n));
  if (!ok) throw invalidValue(path, label, value);
  return n;
}
