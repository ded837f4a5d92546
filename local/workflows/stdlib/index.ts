// The standard library: every module's functions by their full name (`text.split`, `len`).
import { httpFunctions } from './http.ts';
import { base64Functions } from './base64.ts';
import { eventsFunctions } from './events.ts';
import { expressionHelpers } from './expression-helpers.ts';
import { hashFunctions } from './hash.ts';
import { jsonFunctions } from './json.ts';
import { listFunctions } from './list.ts';
import { mapFunctions } from './map.ts';
import { mathFunctions } from './math.ts';
import { retryFunctions } from './retry.ts';
import { sysFunctions } from './sys.ts';
import { textFunctions } from './text.ts';
import { timeFunctions } from './time.ts';
import type { FunctionRegistry } from './types.ts';
import { uuidFunctions } from './uuid.ts';

export const stdlib: FunctionRegistry = new Map([
  ...expressionHelpers,
  ...base64Functions,
  ...eventsFunctions,
  ...hashFunctions,
  ...httpFunctions,
  ...jsonFunctions,
  ...listFunctions,
  ...mapFunctions,
  ...mathFunctions,
  ...retryFunctions,
  ...sysFunctions,
  ...textFunctions,
  ...timeFunctions,
  ...uuidFunctions,
]);
