// The Pub/Sub push envelope, in both the field spellings Google's service uses (camelCase) and
// those its emulator sends (snake_case), normalised to one shape.
import { z } from 'zod';
import { timestampSchema } from './timestamp.ts';

/** Pub/Sub's documented limits on attributes. */
export const MAX_ATTRIBUTES = 100;
export const MAX_ATTRIBUTE_KEY_BYTES = 256;
export const MAX_ATTRIBUTE_VALUE_BYTES = 1024;
/** Pub/Sub's message size limit is 10 MB; runway's events are tiny, so push bodies are capped far lower. */
export const MAX_DATA_BYTES = 64 * 1024;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

export const attributesSchema = z
  .record(z.string(), z.string({ error: 'attribute values must be strings' }))
  .superRefine((attributes, ctx) => {
    const keys = Object.keys(attributes);
    if (keys.length > MAX_ATTRIBUTES) {
      ctx.addIssue({
        code: 'custom',
        message: `a message has at most ${MAX_ATTRIBUTES} attributes`,
      });
      return;
    }
    for (const key of keys) {
      // The path names the key only when it is short enough to print.
      const path = bytes(key) <= MAX_ATTRIBUTE_KEY_BYTES ? [key] : [];
      if (key.length === 0)
        ctx.addIssue({ code: 'custom', message: 'attribute keys must not be empty' });
      else if (bytes(key) > MAX_ATTRIBUTE_KEY_BYTES) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: `attribute keys must be at most ${MAX_ATTRIBUTE_KEY_BYTES} bytes`,
        });
      } else if (bytes(attributes[key]!) > MAX_ATTRIBUTE_VALUE_BYTES) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: `attribute values must be at most ${MAX_ATTRIBUTE_VALUE_BYTES} bytes`,
        });
      }
    }
  });

const messageSchema = z
  .object({
    data: z
      .string({ error: 'message.data is required (base64)' })
      .min(1, { error: 'must not be empty' })
      .max(Math.ceil(MAX_DATA_BYTES / 3) * 4, {
        error: `must decode to at most ${MAX_DATA_BYTES} bytes`,
      })
      .regex(BASE64, { error: 'must be standard base64' }),
    attributes: attributesSchema.optional(),
    messageId: z.string().min(1).max(256).optional(),
    message_id: z.string().min(1).max(256).optional(),
    // Canonical from here on (UTC, 9 fractional digits): Pub/Sub omits the fraction of a whole second.
    publishTime: timestampSchema.optional(),
    publish_time: timestampSchema.optional(),
    orderingKey: z.string().max(1024).optional(),
    ordering_key: z.string().max(1024).optional(),
  })
  .refine((m) => m.messageId !== undefined || m.message_id !== undefined, {
    error: 'messageId is required',
    path: ['messageId'],
  })
  .transform((m) => ({
    data: Buffer.from(m.data, 'base64'),
    attributes: m.attributes ?? {},
    messageId: (m.messageId ?? m.message_id)!,
    publishTime: m.publishTime ?? m.publish_time,
    orderingKey: m.orderingKey ?? m.ordering_key,
  }));

export const pushEnvelopeSchema = z
  .object({
    message: messageSchema,
    subscription: z
      .string({ error: 'subscription is required' })
      .regex(/^projects\/[^/]+\/subscriptions\/[^/]+$/, {
        error: 'must be projects/PROJECT/subscriptions/NAME',
      }),
    deliveryAttempt: z.number().int().min(1).optional(),
  })
  .transform((e) => ({
    ...e.message,
    subscription: e.subscription,
    deliveryAttempt: e.deliveryAttempt,
  }));

/** A push message after decoding: `data` as bytes, one spelling of every field. */
export type PushMessage = z.output<typeof pushEnvelopeSchema>;

/** Builds the envelope a push subscription sends, as Google's service spells it. */
export function pushEnvelope(
  subscription: string,
  message: {
    data: Buffer | string;
    messageId: string;
    publishTime: string;
    attributes?: Record<string, string>;
  },
  deliveryAttempt?: number,
) {
  const data = typeof message.data === 'string' ? Buffer.from(message.data) : message.data;
  return {
    message: {
      data: data.toString('base64'),
      attributes: message.attributes ?? {},
      messageId: message.messageId,
      publishTime: message.publishTime,
    },
    subscription,
    ...(deliveryAttempt === undefined ? {} : { deliveryAttempt }),
  };
}
