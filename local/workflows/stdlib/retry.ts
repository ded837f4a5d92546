// retry: the simplest retry predicates (the HTTP ones live with http).
import { fn } from './args.ts';
import type { WfFunction } from './types.ts';

export const retryFunctions: [string, WfFunction][] = [
  ['retry.always', fn(['e'], () => true)],
  ['retry.never', fn(['e'], () => false)],
];
