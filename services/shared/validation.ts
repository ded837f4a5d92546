// Turns zod's issues into messages a person can act on: `pipelines[1].promotion.steps[2]: must be 1..100`.
import type { z } from 'zod';
import { type FieldViolation, RunwayError } from './errors.ts';

/** `a.b[2].c` from a zod path; keys that are not identifiers are quoted: `labels["x-y"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$-]*$/.test(key))
      out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

export function violations(error: z.ZodError): FieldViolation[] {
  return error.issues.map((issue) => ({
    field: formatPath(issue.path),
    description: issue.message,
  }));
}

/** One line per problem, `path: message`, or just the message at the root. */
export function describeZodError(error: z.ZodError): string {
  return violations(error)
    .map((v) => (v.field ? `${v.field}: ${v.description}` : v.description))
    .join('; ');
}

/**
 * Parses `input` with `schema`; on failure throws INVALID_ARGUMENT whose message starts with
 * `what` ("invalid workflow arguments") and lists every bad field.
 */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new RunwayError('INVALID_ARGUMENT', `${what}: ${describeZodError(result.error)}`, {
    violations: violations(result.error),
  });
}
