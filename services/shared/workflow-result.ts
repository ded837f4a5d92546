// What an execution of the release workflow returns, and how the deployer and `runway status` read it.
import { z } from 'zod';

export const outcomes = ['PROMOTED', 'ROLLED_BACK', 'REJECTED', 'DUPLICATE', 'SUPERSEDED'] as const;
export const stageNames = [
  'validate',
  'claim',
  'staging',
  'test',
  'promote',
  'gate',
  'abort',
  'watch',
  'rollback',
  'report',
] as const;

export const stageSchema = z.object({
  name: z.enum(stageNames),
  start: z.iso.datetime({ offset: true }),
  end: z.iso.datetime({ offset: true }).nullable(),
  outcome: z.enum(['OK', 'FAILED', 'SKIPPED']),
  detail: z.string().nullable().default(null),
  /** A decision (a gate's answer, an abort, a rollback): who made it and why. */
  by: z.string().nullable().optional(),
  reason: z.string().nullable().optional(),
});

export const workflowResultSchema = z.object({
  outcome: z.enum(outcomes),
  /** "rollback" for an operator's rollback (action rollback); absent for a release. */
  action: z.enum(['release', 'rollback']).optional(),
  pipeline: z.string(),
  digest: z.string(),
  reason: z.string().nullable().default(null),
  staging: z.object({ service: z.string(), revision: z.string().nullable() }),
  live: z.object({
    service: z.string(),
    revision: z.string().nullable(),
    previousRevision: z.string().nullable().default(null),
  }),
  stages: z.array(stageSchema),
});

export type Outcome = (typeof outcomes)[number];
export type Stage = z.output<typeof stageSchema>;
export type WorkflowResult = z.output<typeof workflowResultSchema>;
