// map: reading nested keys, merging and deleting; each returns a new map (Google's reference
// pages stdlib/map/*). Merged maps keep the first map's key order, new keys after it.
import { raise } from '../errors.ts';
import { mergeMaps, withoutKey } from '../sharing.ts';
import { isList, isMap, typeName, type Value, type WfMap } from '../values.ts';
import { fn, str } from './args.ts';
import type { WfFunction } from './types.ts';

function aMap(v: Value | undefined, fnName: string, what: string): WfMap {
  if (!isMap(v ?? null))
    raise('TypeError', `${fnName}: ${what} must be a map, got '${typeName(v ?? null)}'`);
  return v as WfMap;
}

/** map.get's `keys`: one string, or a list of strings walked one level each. */
function keyPath(keys: Value | undefined): string[] {
  const path = isList(keys ?? null) ? (keys as Value[]) : [keys ?? null];
  for (const k of path)
    if (typeof k !== 'string')
      raise(
        'TypeError',
        `map.get: keys must be a string or a list of strings, got '${typeName(k)}'`,
      );
  return path as string[];
}

/** A missing key, or a value on the path that is not a map, gives null rather than an error. */
function get(map: Value, path: string[]): Value {
  let cur = map;
  for (const key of path) {
    if (!isMap(cur) || !cur.has(key)) return null;
    cur = cur.get(key)!;
  }
  return cur;
}

function mergeNested(first: WfMap, second: WfMap): WfMap {
  const out = new Map(first);
  for (const [k, v] of second) {
    const mine = out.get(k);
    out.set(k, mine !== undefined && isMap(mine) && isMap(v) ? mergeNested(mine, v) : v);
  }
  return out;
}

export const mapFunctions: [string, WfFunction][] = [
  ['map.get', fn(['map', 'keys'], ([m, keys]) => get(m ?? null, keyPath(keys)))],
  [
    'map.merge',
    fn(['first', 'second'], ([a, b]) =>
      mergeMaps(aMap(a, 'map.merge', 'first'), aMap(b, 'map.merge', 'second')),
    ),
  ],
  [
    'map.merge_nested',
    fn(['first', 'second'], ([a, b]) =>
      mergeNested(aMap(a, 'map.merge_nested', 'first'), aMap(b, 'map.merge_nested', 'second')),
    ),
  ],
  [
    'map.delete',
    fn(['map', 'key'], ([m, key]) => withoutKey(aMap(m, 'map.delete', 'map'), str(key, 'key'))),
  ],
];
