// list: copies of a list with one element appended or prepended (Google's reference pages
// stdlib/list/concat and stdlib/list/prepend). `val` is one element even when it is a list.
import { raise } from '../errors.ts';
import { longestOf, sized, sizeOf } from '../sharing.ts';
import { isList, typeName, type Value } from '../values.ts';
import { fn } from './args.ts';
import type { WfFunction } from './types.ts';

function objs(v: Value | undefined, fnName: string): Value[] {
  if (!isList(v ?? null))
    raise('TypeError', `${fnName}: objs must be a list, got '${typeName(v ?? null)}'`);
  return v as Value[];
}

/** The new list's size from its parts', so that storing it does not walk it (sharing.ts). */
function withItem(list: Value[], item: Value, out: Value[]): Value[] {
  return sized(out, sizeOf(list) + sizeOf(item) + 1, Math.max(longestOf(list), longestOf(item)));
}

export const listFunctions: [string, WfFunction][] = [
  [
    'list.concat',
    {
      ...fn(['objs', 'val'], ([l, v]) => {
        const list = objs(l, 'list.concat');
        return withItem(list, v ?? null, [...list, v ?? null]);
      }),
      appends: true,
    },
  ],
  [
    'list.prepend',
    fn(['objs', 'val'], ([l, v]) => {
      const list = objs(l, 'list.prepend');
      return withItem(list, v ?? null, [v ?? null, ...list]);
    }),
  ],
];
