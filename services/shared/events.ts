// Every event runway publishes on a pipeline's notify topic: one zod schema, a union on `type`.
// The workflow builds most of them in YAML, so fields stay flat and simply named; the message's
// attributes repeat `type` and `pipeline` (and `outcome` on release.ended) for subscription filters.
import { z } from 'zod';
import { RunwayError } from './errors.ts';
import { actor, freezeName, pipelineName } from './names.ts';
import { timestampSchema } from './timestamp.ts';
import { parseOrThrow } from './validation.ts';
import { gatePoints, overrideSchema, releaseSources } from './workflow-args.ts';
import {
  analysisReportSchema,
  outcomes,
  stageSchema,
  workflowResultSchema,
} from './workflow-result.ts';

/** Where a gate stands: the configured points, or after an inconclusive analysis. */
const gateAt = z.enum([...gatePoints, 'analysis']);

export const eventTypes = [
  'release.started',
  'stage.ended',
  'gate.opened',
  'gate.decided',
  'step.advanced',
  'release.ended',
  'release.blocked',
  'rollback.done',
] as const;
export type EventType = (typeof eventTypes)[number];

const digest = z.string({ error: 'must be a digest sha256:HEX' }).regex(/^sha256:[0-9a-f]{64}$/, {
  error: 'must be a digest sha256: and 64 lowercase hex digits',
});

const revision = z.string().min(1).max(253);
const text = z.string().max(4096, { error: 'must be at most 4096 characters' });
const stageName = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, { error: 'must be a stage name' });

/** Fields every event has; the nullable ones may be left out and read as null. */
const common = {
  pipeline: pipelineName,
  /** The release's digest (sha256:…); null only where no single digest is concerned. */
  digest: digest.nullable(),
  /** The Workflows execution's name or id; null when nothing runs (a blocked push). */
  execution: z.string().min(1).max(1024).nullable().default(null),
  at: timestampSchema,
  by: actor.nullable().default(null),
  reason: text.nullable().default(null),
};

const event = <T extends EventType, S extends z.ZodRawShape>(type: T, shape: S) =>
  z.strictObject({ type: z.literal(type), ...common, ...shape });

export const eventSchema = z
  .discriminatedUnion(
    'type',
    [
      event('release.started', {
        image: z.string().min(1).max(1024),
        source: z.enum(releaseSources),
        override: overrideSchema.nullable().default(null),
      }),
      event('stage.ended', { stage: stageSchema }),
      event('gate.opened', {
        gate: z.strictObject({
          stage: stageName,
          before: gateAt,
          deadline: timestampSchema,
          url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
        }),
      }),
      event('gate.decided', {
        gate: z.strictObject({ stage: stageName, before: gateAt }),
        /** An abort sent while the gate was open decides it too. */
        decision: z.enum(['approve', 'reject', 'timeout', 'abort'], {
          error: 'must be "approve", "reject", "timeout" or "abort"',
        }),
        /** The outcome the decision ends the release with; null when the release goes on. */
        outcome: z.enum(outcomes).nullable().default(null),
      }),
      event('step.advanced', {
        percent: z.number().int().min(1).max(100),
        previousPercent: z.number().int().min(0).max(99),
        /** The analysis of the step before, which let this one go ahead; null for the first. */
        analysis: analysisReportSchema.nullable().default(null),
      }),
      event('release.ended', { outcome: z.enum(outcomes), result: workflowResultSchema }),
      event('release.blocked', { freeze: freezeName, until: timestampSchema }),
      event('rollback.done', { from: revision.nullable(), to: revision, toDigest: digest }),
    ],
    { error: `type must be one of ${eventTypes.join(', ')}` },
  )
  .superRefine((e, ctx) => {
    if (e.type === 'step.advanced' && e.percent <= e.previousPercent)
      ctx.addIssue({
        code: 'custom',
        path: ['percent'],
        message: `a step advances: ${e.percent} is not above previousPercent ${e.previousPercent}`,
      });
    if (e.type === 'release.ended') {
      if (e.result.outcome !== e.outcome)
        ctx.addIssue({
          code: 'custom',
          path: ['result', 'outcome'],
          message: `is ${e.result.outcome} but the event's outcome is ${e.outcome}`,
        });
      if (e.result.pipeline !== e.pipeline)
        ctx.addIssue({
          code: 'custom',
          path: ['result', 'pipeline'],
          message: `is ${e.result.pipeline} but the event's pipeline is ${e.pipeline}`,
        });
    }
  });

export type RunwayEvent = z.output<typeof eventSchema>;
export type RunwayEventInput = z.input<typeof eventSchema>;

/** A Pub/Sub message as the REST API's publish takes it and a pull returns it. */
export interface EventMessage {
  data: string;
  attributes: Record<string, string>;
}

/** The attributes subscriptions filter on. */
export function eventAttributes(e: RunwayEvent): Record<string, string> {
  return {
    type: e.type,
    pipeline: e.pipeline,
    ...(e.type === 'release.ended' ? { outcome: e.outcome } : {}),
  };
}

/** Validates an event and builds its message: JSON data in base64, and the filter attributes. */
export function eventMessage(input: RunwayEventInput): EventMessage {
  const e = parseOrThrow(eventSchema, input, 'invalid event');
  return {
    data: Buffer.from(JSON.stringify(e)).toString('base64'),
    attributes: eventAttributes(e),
  };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Reads an event from a received message (data as base64 text, or the bytes a push envelope
 * decodes to): valid JSON, a valid event, and attributes that say the same. Throws
 * INVALID_ARGUMENT naming what is wrong.
 */
export function parseEventMessage(message: {
  data?: string | Uint8Array | null;
  attributes?: Record<string, string> | null;
}): RunwayEvent {
  const { data } = message;
  if (data === undefined || data === null || data.length === 0)
    throw new RunwayError('INVALID_ARGUMENT', 'invalid event message: no data');
  if (typeof data === 'string' && !BASE64.test(data))
    throw new RunwayError('INVALID_ARGUMENT', 'invalid event message: data is not base64');
  const bytes = typeof data === 'string' ? Buffer.from(data, 'base64') : Buffer.from(data);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new RunwayError('INVALID_ARGUMENT', 'invalid event message: data is not UTF-8 JSON');
  }
  const e = parseOrThrow(eventSchema, json, 'invalid event');
  const attributes = message.attributes ?? {};
  for (const [key, want] of Object.entries(eventAttributes(e))) {
    if (attributes[key] !== want)
      throw new RunwayError(
        'INVALID_ARGUMENT',
        `invalid event message: attribute ${key} is ${attributes[key] === undefined ? 'missing' : JSON.stringify(attributes[key])}, the event says ${JSON.stringify(want)}`,
      );
  }
  return e;
}
