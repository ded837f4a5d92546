// The release state workflows/release.yaml keeps in the live service's annotations, read for the
// operator commands: the claim of the running release, an open gate, a hold for a freeze, the
// digest live serves, the one before it, and the digests the reconcile must not release again.
// A value that does not parse reads as absent: status must show what it can.
import { z } from 'zod';
import { type AnalysisReport, analysisReportSchema } from '../services/shared/workflow-result.ts';

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
  /** The last canary step's analysis, while the next step bakes. */
  analysis: AnalysisReport | null;
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
    analysis: decoded(analysisReportSchema, annotations['runway.dev/analysis']),
  };
}

/** One analysis in a line: `PASSED at 10%: errors 0.004 <= 0.02, p99 212 ms <= 800 ms`. */
export function describeAnalysis(a: AnalysisReport): string {
  const metrics = a.metrics.map((m) => {
    const unit = m.compareTo ? 'x stable' : m.builtin === 'error-ratio' ? '' : ' ms';
    const value = m.value === null ? 'no data' : `${round(m.value)}${unit}`;
    const sign = m.verdict === 'FAILED' ? '>' : m.verdict === 'PASSED' ? '<=' : 'vs';
    return `${m.name} ${value} ${sign} ${round(m.threshold)}${unit}`;
  });
  const dry = a.dryRun ? ' (dry run)' : '';
  return `${a.verdict}${dry} at ${a.percent}% over ${a.requests} requests: ${metrics.join(', ')}`;
}

const round = (n: number) => Number(n.toPrecision(3));

/**
 * "before live traffic moves" / "before 100%" / "before 50%" / "after an inconclusive analysis":
 * what a gate or a hold waits before.
 */
export function describeBefore(before: string): string {
  if (before === 'analysis') return 'after an inconclusive analysis';
  return before === 'live' ? 'before live traffic moves' : `before ${before}%`;
}
