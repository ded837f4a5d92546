import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_ATTRIBUTES, pushEnvelope, pushEnvelopeSchema } from './pubsub.ts';
import { describeZodError } from './validation.ts';

const SUB = 'projects/my-project/subscriptions/runway-push';
const data = Buffer.from('{"action":"INSERT"}').toString('base64');
const good = {
  message: {
    data,
    messageId: '1',
    publishTime: '2026-11-22T10:00:00.123Z',
    attributes: { a: 'b' },
  },
  subscription: SUB,
};

describe('push envelope: accepted forms', () => {
  const cases = [
    {
      name: 'Google camelCase',
      input: good,
      want: { messageId: '1', publishTime: '2026-11-22T10:00:00.123000000Z' },
    },
    {
      name: 'emulator snake_case',
      input: {
        message: { data, message_id: '7', publish_time: '2026-11-22T10:00:00Z' },
        subscription: SUB,
      },
      want: { messageId: '7', publishTime: '2026-11-22T10:00:00.000000000Z' },
    },
    {
      name: 'publish time with an offset comes out canonical',
      input: { ...good, message: { ...good.message, publishTime: '2026-11-22T11:00:00+01:00' } },
      want: { publishTime: '2026-11-22T10:00:00.000000000Z' },
    },
    {
      name: 'no attributes',
      input: { message: { data, messageId: '2' }, subscription: SUB },
      want: { messageId: '2' },
    },
    {
      name: 'delivery attempt',
      input: { ...good, deliveryAttempt: 3 },
      want: { deliveryAttempt: 3 },
    },
    {
      name: 'unknown extra fields ignored',
      input: { ...good, extra: 1, message: { ...good.message, x: 1 } },
      want: { messageId: '1' },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = pushEnvelopeSchema.parse(c.input);
      for (const [k, v] of Object.entries(c.want)) assert.equal(got[k as keyof typeof got], v, k);
      assert.equal(got.data.toString(), '{"action":"INSERT"}');
      assert.equal(got.subscription, SUB);
    });
  }
});

describe('push envelope: rejected with a message naming the field', () => {
  const manyAttrs = Object.fromEntries(
    Array.from({ length: MAX_ATTRIBUTES + 1 }, (_, i) => [`k${i}`, 'v']),
  );
  const cases: { name: string; input: unknown; want: RegExp }[] = [
    { name: 'not an object', input: 'hello', want: /object/ },
    { name: 'null', input: null, want: /object/ },
    { name: 'no message', input: { subscription: SUB }, want: /^message/ },
    {
      name: 'no data',
      input: { message: { messageId: '1' }, subscription: SUB },
      want: /message\.data: message\.data is required/,
    },
    {
      name: 'empty data',
      input: { message: { data: '', messageId: '1' }, subscription: SUB },
      want: /message\.data: must not be empty/,
    },
    {
      name: 'data not base64',
      input: { message: { data: '!!!not base64', messageId: '1' }, subscription: SUB },
      want: /standard base64/,
    },
    {
      name: 'data base64url',
      input: { message: { data: '-_-_', messageId: '1' }, subscription: SUB },
      want: /standard base64/,
    },
    {
      name: 'data bad padding',
      input: { message: { data: 'abc', messageId: '1' }, subscription: SUB },
      want: /standard base64/,
    },
    {
      name: 'data too large',
      input: { message: { data: 'A'.repeat(200_000), messageId: '1' }, subscription: SUB },
      want: /at most/,
    },
    {
      name: 'data a number',
      input: { message: { data: 5, messageId: '1' }, subscription: SUB },
      want: /message\.data/,
    },
    {
      name: 'no message id',
      input: { message: { data }, subscription: SUB },
      want: /messageId is required/,
    },
    {
      name: 'bad publish time',
      input: { message: { data, messageId: '1', publishTime: 'yesterday' }, subscription: SUB },
      want: /publishTime: must be an RFC 3339/,
    },
    {
      name: 'publish time in month 13',
      input: {
        message: { data, messageId: '1', publishTime: '2026-13-22T10:00:00Z' },
        subscription: SUB,
      },
      want: /message\.publishTime: must be an RFC 3339 timestamp: month 13/,
    },
    {
      name: 'emulator publish time at 24:00',
      input: {
        message: { data, message_id: '1', publish_time: '2026-11-22T24:00:00Z' },
        subscription: SUB,
      },
      want: /message\.publish_time: must be an RFC 3339 timestamp: hour 24/,
    },
    { name: 'no subscription', input: { message: { data, messageId: '1' } }, want: /subscription/ },
    {
      name: 'bad subscription',
      input: { message: { data, messageId: '1' }, subscription: 'runway' },
      want: /projects\/PROJECT\/subscriptions\/NAME/,
    },
    {
      name: 'attribute not string',
      input: { message: { data, messageId: '1', attributes: { a: 1 } }, subscription: SUB },
      want: /attribute values must be strings/,
    },
    {
      name: 'too many attributes',
      input: { message: { data, messageId: '1', attributes: manyAttrs }, subscription: SUB },
      want: /at most 100 attributes/,
    },
    {
      name: 'huge attribute value',
      input: {
        message: { data, messageId: '1', attributes: { a: 'x'.repeat(2000) } },
        subscription: SUB,
      },
      want: /at most 1024 bytes/,
    },
    {
      name: 'huge attribute key',
      input: {
        message: { data, messageId: '1', attributes: { ['k'.repeat(300)]: 'v' } },
        subscription: SUB,
      },
      want: /at most 256 bytes/,
    },
    {
      name: 'delivery attempt zero',
      input: { ...good, deliveryAttempt: 0 },
      want: /deliveryAttempt/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = pushEnvelopeSchema.safeParse(c.input);
      assert.equal(r.success, false);
      if (!r.success) assert.match(describeZodError(r.error), c.want);
    });
  }
});

test('pushEnvelope builds what the schema reads back', () => {
  const env = pushEnvelope(
    SUB,
    { data: 'x', messageId: '9', publishTime: '2026-11-22T10:00:00Z' },
    2,
  );
  const got = pushEnvelopeSchema.parse(env);
  assert.equal(got.data.toString(), 'x');
  assert.equal(got.deliveryAttempt, 2);
});
