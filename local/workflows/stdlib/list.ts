// list: copies of a list with one element appended or prepended (Google's reference pages
// stdlib/list/concat and stdlib/list/prepend). `val` is one element even when it is a list.
import { raise } from '../errors.ts';
import { isList, typeName, type Value } from '../values.ts';
import { fn } from './args.ts';
import type { WfFunction } from './types.ts';

function objs(v: Value | undefined, fnName: string): Value[] {
  if (!isList(v ?? null))
    raise('TypeError', `${fnName}: objs must be a list, got '${typeName(v ?? null)}'`);
  return v as Value[];
}

export const listFunctions: [string, WfFunction][] = [
  ['list.concat', fn(['objs', 'val'], ([l, v]) => [...objs(l, 'list.concat'), v ?? null])],
  ['list.prepend', fn(['objs', 'val'], ([l, v]) => [v ?? null, ...objs(l, 'list.prepend')])],
];
