// events: callbacks; not emulated yet, each call raises a clear error.
import { raise } from '../errors.ts';
import { fn } from './args.ts';
import type { WfFunction } from './types.ts';

export const eventsFunctions: [string, WfFunction][] = [
  [
    'events.create_callback_endpoint',
    fn(
      ['http_callback_method?'],
      () =>
        raise(
          'SystemError',
          'events.create_callback_endpoint is not supported by the local engine yet',
        ),
      { blocking: true },
    ),
  ],
  [
    'events.await_callback',
    fn(
      ['callback', 'timeout?'],
      () => raise('SystemError', 'events.await_callback is not supported by the local engine yet'),
      { blocking: true },
    ),
  ],
];
