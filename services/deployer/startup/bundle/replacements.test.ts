// The stand-ins the deployer's bundle uses for packages it loads but never needs (scripts/build.mjs):
// each offers what its dependants touch while they load, and fails plainly where it is used for real.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);

test('grpc-rest-only: google-gax loads, and making a gRPC client says why it cannot', () => {
  const grpc = require('./grpc-rest-only.cjs');
  // google-gax's ClientStub extends Client when it loads.
  class ClientStub extends grpc.Client {}
  assert.throws(() => new ClientStub(), /gRPC is not in runway's deployer bundle.*fallback: true/);
  for (const use of [
    () => grpc.loadSync('x.proto'),
    () => grpc.fromJSON({}),
    () => grpc.credentials.createSsl(),
    () => grpc.ChannelCredentials.createInsecure(),
  ])
    assert.throws(use, /fallback: true/);
});

test('debug-off: the loggers express, its router and body-parser create are silent', () => {
  const createDebug = require('./debug-off.cjs');
  const log = createDebug('express:router');
  assert.equal(log('%s', 'x'), undefined);
  assert.equal(log.enabled, false);
  assert.equal(log.namespace, 'express:router');
  assert.equal(log.extend('layer').namespace, 'express:router:layer');
  assert.equal(createDebug.enabled('express:router'), false);
  assert.equal(createDebug.default, createDebug);
});

test('mime-db-api: mime-types over it names what the deployer sends', () => {
  const db = require('./mime-db-api.cjs') as Record<
    string,
    { charset?: string; extensions?: string[]; compressible?: boolean }
  >;
  const cases = [
    { ext: 'json', type: 'application/json', charset: 'UTF-8' },
    { ext: 'txt', type: 'text/plain' },
    { ext: 'html', type: 'text/html' },
    { ext: 'bin', type: 'application/octet-stream' },
  ];
  for (const c of cases) {
    const [type] = Object.entries(db).find(([, e]) => e.extensions?.includes(c.ext)) ?? [];
    assert.equal(type, c.type, c.ext);
    if (c.charset) assert.equal(db[c.type]?.charset, c.charset);
  }
  const extensions = Object.values(db).flatMap((e) => e.extensions ?? []);
  assert.equal(new Set(extensions).size, extensions.length, 'an extension names two types');
});
