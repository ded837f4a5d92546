import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  eventMessage,
  eventSchema,
  eventTypes,
  parseEventMessage,
  type RunwayEventInput,
} from './events.ts';
import { describeZodError } from './validation.ts';

const D = `sha256:${'a'.repeat(64)}`;
const AT = '2026-12-02T01:09:47Z';
const AT_CANONICAL = '2026-12-02T01:09:47.000000000Z';
const EXEC = 'projects/p/locations/us-central1/workflows/runway-release/executions/e1';
const base = { pipeline: 'web', digest: D, execution: EXEC, at: AT };
const result = {
  outcome: 'ROLLED_BACK' as const,
  pipeline: 'web',
  digest: D,
  reason: 'step 50: 12% errors',
  staging: { service: 'web-staging', revision: 'web-staging-00002' },
  live: { service: 'web', revision: 'web-00001', previousRevision: 'web-00001' },
  stages: [{ name: 'claim' as const, start: AT, end: AT, outcome: 'OK' as const }],
};

/** One good event of every type, as the workflow (or the deployer) would build it. */
const good: Record<(typeof eventTypes)[number], RunwayEventInput> = {
  'release.started': {
    type: 'release.started',
    ...base,
    by: 'user:oncall@example.com',
    reason: 'hotfix for the checkout',
    image: `us-central1-docker.pkg.dev/p/apps/web@${D}`,
    source: 'manual',
    override: { freeze: 'year-end', by: 'user:oncall@example.com', reason: 'hotfix' },
  },
  'stage.ended': {
    type: 'stage.ended',
    ...base,
    by: 'pubsub',
    stage: { name: 'test', start: AT, end: AT, outcome: 'FAILED', detail: '1 check failed' },
  },
  'gate.opened': {
    type: 'gate.opened',
    ...base,
    gate: {
      stage: 'promote',
      before: 'live',
      deadline: '2026-12-03T01:09:47+00:00',
      url: 'https://workflowexecutions.googleapis.com/v1/projects/p/locations/l/workflows/w/executions/e1/callbacks/c1',
    },
  },
  'gate.decided': {
    type: 'gate.decided',
    ...base,
    by: 'group:release-managers@example.com',
    reason: 'looks good',
    gate: { stage: 'promote', before: '100' },
    decision: 'approve',
  },
  'step.advanced': { type: 'step.advanced', ...base, percent: 50, previousPercent: 10 },
  'release.ended': {
    type: 'release.ended',
    ...base,
    reason: 'step 50: 12% errors',
    outcome: 'ROLLED_BACK',
    result,
  },
  'release.blocked': {
    type: 'release.blocked',
    ...base,
    execution: null,
    by: 'pubsub',
    freeze: 'year-end',
    until: '2026-12-27T00:00:00+01:00',
  },
  'rollback.done': {
    type: 'rollback.done',
    ...base,
    by: 'user:oncall@example.com',
    from: 'web-00003',
    to: 'web-00002',
    toDigest: `sha256:${'b'.repeat(64)}`,
  },
};

describe('every event type: built into a message and read back', () => {
  for (const type of eventTypes) {
    test(type, () => {
      const msg = eventMessage(good[type]);
      assert.equal(msg.attributes.type, type);
      assert.equal(msg.attributes.pipeline, 'web');
      assert.equal(
        msg.attributes.outcome,
        type === 'release.ended' ? 'ROLLED_BACK' : undefined,
        'outcome only on release.ended',
      );
      const back = parseEventMessage(msg);
      assert.equal(back.type, type);
      assert.equal(back.at, AT_CANONICAL, 'at comes out canonical');
      assert.deepEqual(back, eventSchema.parse(good[type]));
      // The bytes a push envelope decodes to are read the same.
      assert.deepEqual(parseEventMessage({ ...msg, data: Buffer.from(msg.data, 'base64') }), back);
    });
  }
});

test('left-out nullable fields read as null; timestamps come out canonical', () => {
  const e = eventSchema.parse({
    type: 'release.blocked',
    pipeline: 'web',
    digest: D,
    at: AT,
    freeze: 'year-end',
    until: '2026-12-27T00:00:00+01:00',
  });
  assert.deepEqual(e, {
    type: 'release.blocked',
    pipeline: 'web',
    digest: D,
    execution: null,
    at: AT_CANONICAL,
    by: null,
    reason: null,
    freeze: 'year-end',
    until: '2026-12-26T23:00:00.000000000Z',
  });
  const started = eventSchema.parse({ ...good['release.started'], override: undefined });
  assert.equal(started.type === 'release.started' && started.override, null);
  const decided = eventSchema.parse(good['gate.decided']);
  assert.equal(decided.type === 'gate.decided' && decided.outcome, null, 'the release goes on');
});

describe('malformed events are refused naming the field', () => {
  const cases: { name: string; event: unknown; want: RegExp }[] = [
    { name: 'not an object', event: 'release.started', want: /object|type/ },
    {
      name: 'no type',
      event: { ...good['step.advanced'], type: undefined },
      want: /type must be one of release\.started, stage\.ended/,
    },
    {
      name: 'unknown type',
      event: { ...good['step.advanced'], type: 'release.paused' },
      want: /type must be one of/,
    },
    {
      name: 'type in another case',
      event: { ...good['step.advanced'], type: 'STEP.ADVANCED' },
      want: /type must be one of/,
    },
    {
      name: 'no pipeline',
      event: { ...good['step.advanced'], pipeline: undefined },
      want: /^pipeline: /,
    },
    {
      name: 'no digest (null must be said)',
      event: { ...good['step.advanced'], digest: undefined },
      want: /^digest: /,
    },
    {
      name: 'a short digest',
      event: { ...good['step.advanced'], digest: 'sha256:abc' },
      want: /^digest: must be a digest/,
    },
    { name: 'no at', event: { ...good['step.advanced'], at: undefined }, want: /^at: / },
    {
      name: 'at without an offset',
      event: { ...good['step.advanced'], at: '2026-12-02T01:09:47' },
      want: /^at: must be an RFC 3339 timestamp/,
    },
    {
      name: 'by is not an IAM member',
      event: { ...good['step.advanced'], by: 'alice' },
      want: /^by: must be an IAM member .*"pubsub" or "scheduler"/,
    },
    {
      name: 'an unknown field (a typo in the workflow)',
      event: { ...good['step.advanced'], previousPercentage: 10 },
      want: /previousPercentage/,
    },
    {
      name: 'a field of another type',
      event: { ...good['step.advanced'], freeze: 'year-end' },
      want: /freeze/,
    },
    {
      name: 'step.advanced backwards',
      event: { ...good['step.advanced'], percent: 10, previousPercent: 50 },
      want: /^percent: a step advances: 10 is not above previousPercent 50/,
    },
    {
      name: 'step.advanced over 100',
      event: { ...good['step.advanced'], percent: 150 },
      want: /^percent: /,
    },
    {
      name: 'step.advanced percent as text',
      event: { ...good['step.advanced'], percent: '50' },
      want: /^percent: /,
    },
    {
      name: 'stage.ended with an unknown stage',
      event: {
        ...good['stage.ended'],
        stage: { name: 'deploy', start: AT, end: AT, outcome: 'OK' },
      },
      want: /^stage\.name: /,
    },
    {
      name: 'gate.opened without a deadline',
      event: {
        ...good['gate.opened'],
        gate: { stage: 'promote', before: 'live', url: 'https://x.example/c' },
      },
      want: /^gate\.deadline: /,
    },
    {
      name: 'gate.opened with a gate point of 50',
      event: {
        ...good['gate.opened'],
        gate: { ...(good['gate.opened'] as { gate: object }).gate, before: '50' },
      },
      want: /^gate\.before: /,
    },
    {
      name: 'gate.opened with a non-http URL',
      event: {
        ...good['gate.opened'],
        gate: { ...(good['gate.opened'] as { gate: object }).gate, url: 'javascript:alert(1)' },
      },
      want: /^gate\.url: must be an http\(s\) URL/,
    },
    {
      name: 'gate.decided with an unknown decision',
      event: { ...good['gate.decided'], decision: 'maybe' },
      want: /^decision: must be "approve", "reject", "timeout" or "abort"/,
    },
    {
      name: 'release.ended whose result says otherwise',
      event: { ...good['release.ended'], outcome: 'PROMOTED' },
      want: /^result\.outcome: is ROLLED_BACK but the event's outcome is PROMOTED/,
    },
    {
      name: 'release.ended of another pipeline',
      event: { ...good['release.ended'], pipeline: 'api' },
      want: /^result\.pipeline: is web but the event's pipeline is api/,
    },
    {
      name: 'release.ended with an unknown outcome',
      event: { ...good['release.ended'], outcome: 'DONE' },
      want: /^outcome: /,
    },
    {
      name: 'release.ended without a result',
      event: { ...good['release.ended'], result: undefined },
      want: /^result: /,
    },
    {
      name: 'release.blocked without until',
      event: { ...good['release.blocked'], until: undefined },
      want: /^until: /,
    },
    {
      name: 'release.blocked naming a freeze that is not a name',
      event: { ...good['release.blocked'], freeze: 'Year End' },
      want: /^freeze: a freeze name/,
    },
    {
      name: 'release.started with an override without a reason',
      event: {
        ...good['release.started'],
        override: { freeze: 'year-end', by: 'user:a@example.com', reason: '  ' },
      },
      want: /^override\.reason: must say why/,
    },
    {
      name: 'release.started from an unknown source',
      event: { ...good['release.started'], source: 'cron' },
      want: /^source: /,
    },
    {
      name: 'rollback.done without the digest it went to',
      event: { ...good['rollback.done'], toDigest: undefined },
      want: /^toDigest: /,
    },
    {
      name: 'a reason longer than 4096 characters',
      event: { ...good['step.advanced'], reason: 'x'.repeat(5000) },
      want: /^reason: must be at most 4096/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = eventSchema.safeParse(c.event);
      assert.equal(r.success, false, 'refused');
      if (!r.success) assert.match(describeZodError(r.error), c.want);
      assert.throws(
        () => eventMessage(c.event as RunwayEventInput),
        /^RunwayError: invalid event: /,
      );
    });
  }
});

describe('malformed messages are refused saying why', () => {
  const ok = eventMessage(good['release.ended']);
  const data = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64');
  const cases: { name: string; message: Parameters<typeof parseEventMessage>[0]; want: RegExp }[] =
    [
      { name: 'no data', message: { attributes: ok.attributes }, want: /no data/ },
      { name: 'empty data', message: { data: '', attributes: ok.attributes }, want: /no data/ },
      {
        name: 'data not base64',
        message: { data: '%%%', attributes: ok.attributes },
        want: /not base64/,
      },
      {
        name: 'data not JSON',
        message: { data: Buffer.from('not json').toString('base64'), attributes: ok.attributes },
        want: /not UTF-8 JSON/,
      },
      {
        name: 'data not UTF-8',
        message: {
          data: Buffer.from([0xff, 0xfe, 0x7b]).toString('base64'),
          attributes: ok.attributes,
        },
        want: /not UTF-8 JSON/,
      },
      {
        name: 'data JSON null',
        message: { data: data(null), attributes: ok.attributes },
        want: /invalid event: /,
      },
      {
        name: 'data an invalid event',
        message: {
          data: data({ ...good['release.ended'], outcome: 'DONE' }),
          attributes: ok.attributes,
        },
        want: /invalid event: outcome: /,
      },
      { name: 'no attributes', message: { data: ok.data }, want: /attribute type is missing/ },
      {
        name: 'type attribute disagrees',
        message: { data: ok.data, attributes: { ...ok.attributes, type: 'release.started' } },
        want: /attribute type is "release\.started", the event says "release\.ended"/,
      },
      {
        name: 'pipeline attribute disagrees',
        message: { data: ok.data, attributes: { ...ok.attributes, pipeline: 'api' } },
        want: /attribute pipeline is "api"/,
      },
      {
        name: 'outcome attribute missing on release.ended',
        message: { data: ok.data, attributes: { type: 'release.ended', pipeline: 'web' } },
        want: /attribute outcome is missing, the event says "ROLLED_BACK"/,
      },
    ];
  for (const c of cases) {
    test(c.name, () => {
      assert.throws(
        () => parseEventMessage(c.message),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'INVALID_ARGUMENT');
          assert.match(err.message, c.want);
          return true;
        },
      );
    });
  }

  test('extra attributes are allowed (Pub/Sub and users may add their own)', () => {
    const e = parseEventMessage({ ...ok, attributes: { ...ok.attributes, team: 'payments' } });
    assert.equal(e.type, 'release.ended');
  });
});
