// The engine's two error types: DeployError refuses a definition before it runs; WorkflowError is
// raised inside a workflow, and `except` catches its `value` (a built-in `{message, tags}` map, or
// whatever a `raise` step raised).
import { type Value, type WfMap, wfMap } from './values.ts';

/** The built-in error tags Google documents. */
export type ErrorTag =
  | 'AuthError'
  | 'ConnectionError'
  | 'ConnectionFailedError'
  | 'HttpError'
  | 'IndexError'
  | 'KeyError'
  | 'OperationError'
  | 'ParallelNestingError'
  | 'RecursionError'
  | 'ResourceLimitError'
  | 'ResponseTypeError'
  | 'SystemError'
  | 'TimeoutError'
  | 'TypeError'
  | 'UnhandledBranchError'
  | 'ValueError'
  | 'ZeroDivisionError';

/** A definition Google's deploy would refuse; the message names the step and line. */
export class DeployError extends Error {
  override name = 'DeployError';
  readonly code = 'INVALID_ARGUMENT';
  constructor(
    message: string,
    readonly step?: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

export class WorkflowError extends Error {
  override name = 'WorkflowError';
  /** The raised value, exactly as `except: as: e` sees it. */
  readonly value: Value;
  /**
   * False for an error no `try` may catch or retry. Google's "Workflow errors" page: a
   * ResourceLimitError raised internally "cannot be caught and causes immediate execution
   * failure". A workflow that raises a map tagged ResourceLimitError itself can still catch it.
   */
  readonly catchable: boolean;

  constructor(value: Value, options?: { cause?: unknown; catchable?: boolean }) {
    super(describe(value), options);
    this.value = value;
    this.catchable = options?.catchable ?? true;
  }
}

/** Raise a built-in error: `{message, tags}` plus any extra fields (code, headers, body, operation…). */
export function raise(
  tag: ErrorTag | ErrorTag[],
  message: string,
  extra: Record<string, Value> = {},
): never {
  throw builtinError(tag, message, extra);
}

export function builtinError(
  tag: ErrorTag | ErrorTag[],
  message: string,
  extra: Record<string, Value> = {},
): WorkflowError {
  const tags = Array.isArray(tag) ? tag : [tag];
  return new WorkflowError(wfMap({ message, tags, ...extra }), {
    catchable: !tags.includes('ResourceLimitError'),
  });
}

/** The tags of a raised value, empty when it has none (a raised string, say). */
export function tagsOf(value: Value): string[] {
  if (!(value instanceof Map)) return [];
  const tags = value.get('tags');
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
}

function describe(value: Value): string {
  if (typeof value === 'string') return value;
  if (value instanceof Map) {
    const m = (value as WfMap).get('message');
    if (typeof m === 'string') return m;
  }
  return 'workflow error';
}
