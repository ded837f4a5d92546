// For unit tests of the Workflows engine: the tags of the built-in error a function raises.
import assert from 'node:assert/strict';
import { WorkflowError } from '../../local/workflows/errors.ts';
import type { Value } from '../../local/workflows/values.ts';

export function raisedTags(fn: () => unknown): Value {
  try {
    fn();
  } catch (err) {
    if (err instanceof WorkflowError && err.value instanceof Map) return err.value.get('tags')!;
    throw err;
  }
  assert.fail('no error raised');
}
