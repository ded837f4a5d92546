// Declarative acceptance checks: a request to the release under test and what its answer must be.
// Shared by runway.yaml (pipeline config), the workflow arguments and the acceptance job.
import { z } from 'zod';

/** A record whose keys must match `pattern`; zod's own key errors say only "Invalid key in record". */
function keyedRecord<V extends z.ZodType>(pattern: RegExp, rule: string, value: V, max: number) {
  return z.record(z.string(), value).superRefine((record, ctx) => {
    const keys = Object.keys(record);
    if (keys.length > max) ctx.addIssue({ code: 'custom', message: `at most ${max} entries` });
    for (const key of keys) {
      if (!pattern.test(key)) {
        ctx.addIssue({ code: 'custom', path: key.length <= 128 ? [key] : [], message: rule });
      }
    }
  });
}

const headers = keyedRecord(
  /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/,
  'must be a valid HTTP header name',
  z.string().max(8192),
  50,
);
const jsonExpectations = keyedRecord(
  /^[A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+|\[\d+\])*$/,
  'must be a path like a.b[0].c',
  z.json(),
  100,
);

export const acceptanceCheckSchema = z.strictObject({
  name: z.string().min(1).max(200),
  request: z
    .strictObject({
      method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']).default('GET'),
      path: z
        .string()
        .max(2048)
        .regex(/^\/[^\s]*$/, { error: 'must start with / and contain no whitespace' }),
      headers: headers.optional(),
      /** A string is sent as is; anything else as JSON. */
      body: z.union([z.string().max(1_000_000), z.json()]).optional(),
      timeoutMs: z.number().int().min(1).max(300_000).default(10_000),
    })
    .default({ method: 'GET', path: '/', timeoutMs: 10_000 }),
  expect: z
    .strictObject({
      /** One status, or any of several. */
      status: z
        .union([
          z.number().int().min(100).max(599),
          z.array(z.number().int().min(100).max(599)).min(1),
        ])
        .default(200),
      headers: headers.optional(),
      /** Values at simple paths in a JSON body: `version`, `data.items[0].id`. */
      json: jsonExpectations.optional(),
      bodyContains: z.string().max(10_000).optional(),
      maxLatencyMs: z.number().int().min(1).max(300_000).optional(),
    })
    .default({ status: 200 }),
});

export const acceptanceChecksSchema = z
  .array(acceptanceCheckSchema)
  .max(500, { error: 'at most 500 checks' });

export type AcceptanceCheck = z.output<typeof acceptanceCheckSchema>;
export type AcceptanceCheckInput = z.input<typeof acceptanceCheckSchema>;
