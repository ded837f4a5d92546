// The v1 (Knative) API's pure parts: the region a host names, label selectors, and traffic
// targets turned into v2's with Knative's rules.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { labelSelector, regionOfHost, trafficFromKnative } from './knative.ts';

describe('regionOfHost', () => {
  const cases: { host: string | undefined; want: string | null }[] = [
    { host: 'us-central1-run.googleapis.com', want: 'us-central1' },
    { host: 'us-central1-127.0.0.1:8080', want: 'us-central1' },
    { host: 'northamerica-northeast1-localhost:1', want: 'northamerica-northeast1' },
    { host: 'run.googleapis.com', want: null },
    { host: '127.0.0.1:8080', want: null },
    { host: 'localhost', want: null },
    { host: undefined, want: null },
  ];
  for (const c of cases) test(String(c.host), () => assert.equal(regionOfHost(c.host), c.want));
});

describe('labelSelector', () => {
  const labels = { 'serving.knative.dev/service': 'web', team: 'a' };
  const cases: { selector: string | null; want: boolean }[] = [
    { selector: null, want: true },
    { selector: 'serving.knative.dev/service=web', want: true },
    { selector: 'serving.knative.dev/service = web', want: true },
    { selector: 'serving.knative.dev/service==web', want: true },
    { selector: 'serving.knative.dev/service=api', want: false },
    { selector: 'team!=b', want: true },
    { selector: 'team!=a', want: false },
    { selector: 'team', want: true },
    { selector: '!team', want: false },
    { selector: '!owner', want: true },
    { selector: 'team=a,serving.knative.dev/service=web', want: true },
    { selector: 'team=a,serving.knative.dev/service=api', want: false },
  ];
  for (const c of cases)
    test(String(c.selector), () => assert.equal(labelSelector(c.selector)(labels), c.want));

  for (const bad of ['a in (b)', 'a=b=c', '!a=b', '=b', 'a b'])
    test(`refused: ${bad}`, () => assert.throws(() => labelSelector(bad), /cannot parse/));
});

describe('trafficFromKnative', () => {
  test('latest, by name, with tags and zero percent', () => {
    assert.deepEqual(
      trafficFromKnative([
        { latestRevision: true, percent: 70 },
        { revisionName: 'web-1', percent: 30, tag: 'old' },
        { revisionName: 'web-2', tag: 'new', url: 'http://ignored' },
      ]),
      [
        { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 70 },
        {
          type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION',
          revision: 'web-1',
          percent: 30,
          tag: 'old',
        },
        {
          type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION',
          revision: 'web-2',
          percent: 0,
          tag: 'new',
        },
      ],
    );
    assert.deepEqual(trafficFromKnative(undefined), []);
  });

  const refusals: { name: string; traffic: unknown; message: RegExp }[] = [
    { name: 'not a list', traffic: { percent: 100 }, message: /must be a list/ },
    {
      name: 'a target that is no object',
      traffic: ['web-1'],
      message: /spec\.traffic\[0\] must be an object/,
    },
    {
      name: 'configurationName',
      traffic: [{ configurationName: 'web', percent: 100 }],
      message: /must not set/,
    },
    {
      name: 'an unknown field',
      traffic: [{ revision: 'web-1', percent: 100 }],
      message: /Unknown name "revision"/,
    },
    {
      name: 'both',
      traffic: [{ latestRevision: true, revisionName: 'web-1' }],
      message: /may not set revisionName/,
    },
    { name: 'neither', traffic: [{ latestRevision: false, percent: 100 }], message: /got neither/ },
    {
      name: 'latestRevision not a boolean',
      traffic: [{ latestRevision: 'yes', revisionName: 'a' }],
      message: /true or false/,
    },
    {
      name: 'a negative percent',
      traffic: [{ latestRevision: true, percent: -1 }],
      message: /whole number/,
    },
    {
      name: 'a fractional percent',
      traffic: [{ latestRevision: true, percent: 50.5 }],
      message: /whole number/,
    },
    {
      name: 'a percent as text',
      traffic: [{ latestRevision: true, percent: '100' }],
      message: /whole number/,
    },
  ];
  for (const c of refusals)
    test(`refused: ${c.name}`, () =>
      assert.throws(() => trafficFromKnative(c.traffic as never), c.message));
});
