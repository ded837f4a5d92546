import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRegistryNotification, registryNotificationSchema } from './artifact-registry.ts';
import { describeZodError } from './validation.ts';

const IMG = 'us-east1-docker.pkg.dev/my-project/my-repo/hello-world';
const DIGEST = `${IMG}@sha256:${'6ec128e26cd5'.padEnd(64, '0')}`;

describe('registry notification: accepted', () => {
  const cases = [
    {
      name: 'insert with tag',
      input: { action: 'INSERT', digest: DIGEST, tag: `${IMG}:1.1` },
      tag: '1.1',
    },
    { name: 'insert digest only', input: { action: 'INSERT', digest: DIGEST }, tag: undefined },
    { name: 'delete of a tag', input: { action: 'DELETE', tag: `${IMG}:old` }, tag: 'old' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const n = parseRegistryNotification(c.input);
      assert.equal(n.action, c.input.action);
      assert.equal(n.tag?.tag, c.tag);
      if (c.input.digest) assert.equal(n.digest?.image, 'hello-world');
    });
  }
});

describe('registry notification: rejected', () => {
  const cases: { name: string; input: unknown; want: RegExp }[] = [
    { name: 'not an object', input: [], want: /object/ },
    {
      name: 'unknown action',
      input: { action: 'UPDATE', digest: DIGEST },
      want: /action must be INSERT or DELETE/,
    },
    {
      name: 'lowercase action',
      input: { action: 'insert', digest: DIGEST },
      want: /action must be INSERT or DELETE/,
    },
    { name: 'missing action', input: { digest: DIGEST }, want: /action/ },
    {
      name: 'neither digest nor tag',
      input: { action: 'INSERT' },
      want: /names a digest or a tag/,
    },
    {
      name: 'digest field holds a tag',
      input: { action: 'INSERT', digest: `${IMG}:v1` },
      want: /digest: .*@sha256/,
    },
    {
      name: 'tag field holds a digest',
      input: { action: 'INSERT', tag: DIGEST },
      want: /tag: .*:TAG/,
    },
    {
      name: 'wrong digest algorithm',
      input: { action: 'INSERT', digest: `${IMG}@md5:abc` },
      want: /sha256 algorithm/,
    },
    {
      name: 'short digest',
      input: { action: 'INSERT', digest: `${IMG}@sha256:abc` },
      want: /64 lowercase hex/,
    },
    {
      name: 'different images',
      input: { action: 'INSERT', digest: DIGEST, tag: `${IMG}-other:v1` },
      want: /different images/,
    },
    {
      name: 'not a google host',
      input: { action: 'INSERT', digest: `evil.example/p/r/i@sha256:${'0'.repeat(64)}` },
      want: /not Artifact Registry/,
    },
    { name: 'digest not a string', input: { action: 'INSERT', digest: 42 }, want: /digest/ },
    {
      name: 'oversized reference',
      input: { action: 'INSERT', digest: `${IMG}/${'a'.repeat(5000)}` },
      want: /digest/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = registryNotificationSchema.safeParse(c.input);
      assert.equal(r.success, false);
      if (!r.success) assert.match(describeZodError(r.error), c.want);
    });
  }
});
