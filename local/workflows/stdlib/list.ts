// list: appending and prepending; each returns a new list.
import { raise } from '../errors.ts';
import { isList } from '../values.ts';
import { fn } from './args.ts';
import type { WfFunction } from './types.ts';

export const listFunctions: [string, WfFunction][] = [
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
];
