import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  formatImageRef,
  imageName,
  parseDigestRef,
  parseImageRef,
  shortDigest,
} from './image-ref.ts';

const HEX = 'a'.repeat(64);
const AR = 'us-central1-docker.pkg.dev/my-project/apps/web';

describe('parseImageRef accepts full references', () => {
  const cases = [
    {
      name: 'AR by tag',
      ref: `${AR}:v1`,
      want: {
        location: 'us-central1',
        project: 'my-project',
        repository: 'apps',
        image: 'web',
        tag: 'v1',
      },
    },
    {
      name: 'AR by digest',
      ref: `${AR}@sha256:${HEX}`,
      want: { image: 'web', digest: `sha256:${HEX}` },
    },
    {
      name: 'AR by tag and digest',
      ref: `${AR}:v1@sha256:${HEX}`,
      want: { tag: 'v1', digest: `sha256:${HEX}` },
    },
    {
      name: 'AR multi-region',
      ref: 'us-docker.pkg.dev/my-project/apps/web',
      want: { location: 'us', image: 'web' },
    },
    {
      name: 'AR nested image path',
      ref: 'europe-west1-docker.pkg.dev/my-project/apps/team/web:main',
      want: { image: 'team/web', tag: 'main' },
    },
    {
      name: 'gcr.io',
      ref: 'gcr.io/my-project/web:latest',
      want: { host: 'gcr.io', repository: 'gcr.io', image: 'web' },
    },
    {
      name: 'regional gcr.io',
      ref: `eu.gcr.io/my-project/web@sha256:${HEX}`,
      want: { host: 'eu.gcr.io' },
    },
    {
      name: 'separators in image',
      ref: `${AR}/a.b_c__d--e:1.0-rc_1`,
      want: { image: 'web/a.b_c__d--e', tag: '1.0-rc_1' },
    },
    { name: 'uppercase tag', ref: `${AR}:Release-2`, want: { tag: 'Release-2' } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = parseImageRef(c.ref);
      for (const [k, v] of Object.entries(c.want)) assert.equal(got[k as keyof typeof got], v, k);
      assert.equal(formatImageRef(got), c.ref);
    });
  }
});

describe('parseImageRef rejects with the reason', () => {
  const cases = [
    { name: 'empty', ref: '', reason: /empty/ },
    { name: 'no host', ref: 'web:v1', reason: /registry host/ },
    { name: 'docker hub', ref: 'docker.io/library/nginx:1', reason: /not Artifact Registry/ },
    {
      name: 'too few AR parts',
      ref: 'us-docker.pkg.dev/my-project/web',
      reason: /HOST\/PROJECT\/REPOSITORY\/IMAGE/,
    },
    { name: 'sha512 digest', ref: `${AR}@sha512:${HEX}`, reason: /sha256 algorithm/ },
    { name: 'short digest', ref: `${AR}@sha256:${'a'.repeat(63)}`, reason: /64 lowercase hex/ },
    { name: 'long digest', ref: `${AR}@sha256:${'a'.repeat(65)}`, reason: /64 lowercase hex/ },
    { name: 'uppercase digest', ref: `${AR}@sha256:${'A'.repeat(64)}`, reason: /64 lowercase hex/ },
    { name: 'uppercase image', ref: 'us-docker.pkg.dev/my-project/apps/Web', reason: /lowercase/ },
    {
      name: 'path traversal',
      ref: 'us-docker.pkg.dev/my-project/apps/../etc',
      reason: /relative path/,
    },
    {
      name: 'empty component',
      ref: 'us-docker.pkg.dev/my-project//web',
      reason: /empty path component/,
    },
    {
      name: 'unicode homoglyph',
      ref: 'us-docker.pkg.dev/my-project/apps/wеb',
      reason: /non-ASCII/,
    },
    { name: 'whitespace', ref: `${AR} :v1`, reason: /whitespace/ },
    { name: 'newline injection', ref: `${AR}:v1\nINSERT`, reason: /control/ },
    { name: 'bad tag', ref: `${AR}:-v1`, reason: /not a valid tag/ },
    { name: 'tag too long', ref: `${AR}:${'t'.repeat(129)}`, reason: /not a valid tag/ },
    { name: 'bad project', ref: 'us-docker.pkg.dev/My_Project/apps/web', reason: /project id/ },
    { name: 'oversized', ref: `${AR}/${'x'.repeat(2000)}`, reason: /longer than/ },
    { name: 'url scheme', ref: `https://${AR}:v1`, reason: /registry host|not Artifact Registry/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.throws(
        () => parseImageRef(c.ref),
        (err: Error) => {
          assert.equal(err.name, 'ImageRefError');
          assert.match(err.message, c.reason);
          assert.equal((err as { code?: string }).code, 'INVALID_ARGUMENT');
          return true;
        },
      );
    });
  }
});

test('parseDigestRef requires a digest', () => {
  assert.throws(() => parseDigestRef(`${AR}:v1`), /must name the image by digest/);
  assert.equal(parseDigestRef(`${AR}@sha256:${HEX}`).digest, `sha256:${HEX}`);
});

test('imageName drops tag and digest; shortDigest keeps 12 hex digits', () => {
  assert.equal(imageName(parseImageRef(`${AR}:v1@sha256:${HEX}`)), AR);
  assert.equal(imageName(parseImageRef('gcr.io/my-project/web:v1')), 'gcr.io/my-project/web');
  assert.equal(shortDigest(`sha256:0123456789abcdef${'0'.repeat(48)}`), '0123456789ab');
});
