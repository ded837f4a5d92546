// map: reading nested keys, merging and deleting; each returns a new map.
import { raise } from '../errors.ts';
import { isList, isMap, type Value } from '../values.ts';
import { fn, str } from './args.ts';
import type { WfFunction } from './types.ts';

function mergeNested(a: Value, b: Value): Value {
  if (!isMap(a) || !isMap(b)) return b;
  const out = new Map(a);
  for (const [k, v] of b) out.set(k, out.has(k) ? mergeNested(out.get(k)!, v) : v);
  return out;
}

export const mapFunctions: [string, WfFunction][] = [
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
    'map.merge_nested',
    fn(['first', 'second'], ([a, b]) => {
      if (!isMap(a ?? null) || !isMap(b ?? null))
        raise('TypeError', 'map.merge_nested needs two maps');
      return mergeNested(a!, b!);
    }),
  ],
];
