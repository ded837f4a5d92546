// retry: the predicates that decide nothing (Google's reference pages stdlib/retry/always and
// stdlib/retry/never). The HTTP-aware default_retry predicates live with http; the backoff of
// the predefined policies (retry.default_backoff: 1 s, at most 60 s, times 1.25) is the parser's.
import { fn } from './args.ts';
import type { WfFunction } from './types.ts';

export const retryFunctions: [string, WfFunction][] = [
  ['retry.always', fn(['exception'], () => true)],
  ['retry.never', fn(['exception'], () => false)],
];
