// uuid: random identifiers.
import { randomUUID } from '../node-crypto.ts';
import { fn } from './args.ts';
import type { WfFunction } from './types.ts';

export const uuidFunctions: [string, WfFunction][] = [
  ['uuid.generate', fn([], () => randomUUID())],
];
