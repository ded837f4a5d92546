// The release state workflows/release.yaml keeps in the live service's annotations, read for the
// operator commands: the claim of the running release, an open gate, a hold for a freeze, the
// digest live serves, the one before it, and the digests the reconcile must not release again.
// A value that does not parse reads as absent: status must show what it can.
import { z } from 'zod';

const gateSchema = z.object({
  execution: z.string(),
  url: z.string(),
  stage: z.string(),
  before: z.string(),
  digest: z.string().nullable(),
  deadline: z.string(),
  approvers: z.array(z.string()).default([]),
});

const heldSchema = z.object({
  execution: z.string(),
  freeze: z.string(),
  until: z.string(),
  before: z.string(),
});

const claimSchema = z.object({
  digest: z.string().nullable(),
  publishTime: z.string().nullable().optional(),
  execution: z.string(),
  control: z.string().nullable().optional(),
  /** Seconds since the epoch (the workflow's sys.now()). */
  at: z.number().nullable().optional(),
  until: z.number().nullable().optional(),
});

const abortSchema = z.object({
  execution: z.string(),
  by: z.string().nullable().optional(),
  reason: z.string().nullable().optional(),
  at: z.string().nullable().optional(),
});

export type Gate = z.output<typeof gateSchema>;
export type Held = z.output<typeof heldSchema>;
export type Claim = z.output<typeof claimSchema>;

export interface LiveState {
  digest: string | null;
  published: string | null;
  /** The digest live served before: what `runway rollback` goes back to by default. */
  previous: string | null;
  refused: string[];
  claim: Claim | null;
  gate: Gate | null;
  held: Held | null;
  abort: z.output<typeof abortSchema> | null;
}

function decoded<T>(schema: z.ZodType<T>, text: string | undefined): T | null {
  if (!text) return null;
  try {
    const r = schema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

const nonEmpty = (s: string | undefined) => (s ? s : null);

export function liveState(annotations: Record<string, string>): LiveState {
  return {
    digest: nonEmpty(annotations['runway.dev/digest']),
    published: nonEmpty(annotations['runway.dev/published']),
    previous: nonEmpty(annotations['runway.dev/previous']),
    refused: decoded(z.array(z.string()), annotations['runway.dev/refused']) ?? [],
    claim: decoded(claimSchema, annotations['runway.dev/claim']),
    gate: decoded(gateSchema, annotations['runway.dev/gate']),
    held: decoded(heldSchema, annotations['runway.dev/held']),
    abort: decoded(abortSchema, annotations['runway.dev/abort']),
  };
}

/** "before live traffic moves" / "before 100%" / "before 50%": what a gate or a hold waits before. */
export function describeBefore(before: string): string {
  return before === 'live' ? 'before live traffic moves' : `before ${before}%`;
}
