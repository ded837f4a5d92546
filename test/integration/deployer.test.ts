// The deployer over real sockets against the local Executions API: verified pushes start releases
// with the right arguments; bad input gets its documented status and starts nothing.
import assert from 'node:assert/strict';
import { createSign, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ExecutionsClient } from '@google-cloud/workflows';
import { localClientOptions } from '../../services/shared/clients.ts';
import { type ExecutionsServer, startExecutionsServer } from '../../local/workflows/api/server.ts';
import { createApp } from '../../services/deployer/app.ts';
import { createVerifier } from '../../services/deployer/auth.ts';
import { workflowsExecutions } from '../../services/deployer/executions.ts';
import { LocalReleases } from '../../services/deployer/release.ts';
import { createLogger } from '../../services/shared/logger.ts';
import { parsePipelineConfig } from '../../services/shared/pipeline-config.ts';
import type { WorkflowArgs } from '../../services/shared/workflow-args.ts';
import { loopbackServer } from '../helpers/loopback.ts';

const PROJECT = 'local-project';
const REGION = 'us-central1';
const AUDIENCE = 'https://deployer.example/pubsub/artifact-registry';
const PUSHER = 'push@local-project.iam.gserviceaccount.com';
const IMG = 'us-central1-docker.pkg.dev/local-project/apps/web';
const D1 = `sha256:${'1'.repeat(64)}`;

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const certs = { k1: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

function token(
  claims: Record<string, unknown> = {},
  opts: { alg?: string; key?: typeof privateKey; kid?: string } = {},
) {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: opts.alg ?? 'RS256', typ: 'JWT', kid: opts.kid ?? 'k1' };
  const payload = {
    iss: 'https://accounts.google.com',
    aud: AUDIENCE,
    email: PUSHER,
    email_verified: true,
    iat: now,
    exp: now + 600,
    sub: '1',
    ...claims,
  };
  const unsigned = `${b64(header)}.${b64(payload)}`;
  if (header.alg === 'none') return `${unsigned}.`;
  const sig = createSign('RSA-SHA256')
    .update(unsigned)
    .sign(opts.key ?? privateKey)
    .toString('base64url');
  return `${unsigned}.${sig}`;
}

const config = parsePipelineConfig(`
project: ${PROJECT}
region: ${REGION}
pipelines:
  - name: web
    image: ${IMG}
    tags: [main, "v*"]
    staging: { service: web-staging }
    live: { service: web }
    acceptance: { job: web-acceptance }
`);

const logs: Record<string, unknown>[] = [];
let wf: ExecutionsServer;
let client: ExecutionsClient;
let server: Server;
let url = '';

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runway-deployer-'));
  // A stand-in release workflow that sleeps a moment (so duplicates overlap) and echoes its arguments.
  writeFileSync(
    join(dir, 'runway-release.yaml'),
    'main:\n  params: [args]\n  steps:\n    - wait:\n        call: sys.sleep\n        args: {seconds: 0.3}\n    - r:\n        return: ${args}\n',
  );
  wf = await startExecutionsServer({ dir, project: PROJECT, location: REGION });
  client = new ExecutionsClient(localClientOptions(wf.host));
  const app = createApp({
    project: PROJECT,
    pipelines: config,
    push: { audience: AUDIENCE, serviceAccount: PUSHER },
    verifier: createVerifier({ certs }),
    executions: workflowsExecutions(
      client,
      `projects/${PROJECT}/locations/${REGION}/workflows/runway-release`,
    ),
    logger: createLogger({
      stream: { write: (l: string) => logs.push(JSON.parse(l)) },
      level: 'DEBUG',
    }),
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.close();
  await client.close();
  await wf.close();
});

const envelope = (data: unknown, extra: Record<string, unknown> = {}) => ({
  message: {
    data: Buffer.from(typeof data === 'string' ? data : JSON.stringify(data)).toString('base64'),
    messageId: String(Math.random()),
    publishTime: '2026-11-22T10:00:00.000Z',
  },
  subscription: `projects/${PROJECT}/subscriptions/runway-push`,
  ...extra,
});
const insert = (digest = D1, tag: string | undefined = 'main') => ({
  action: 'INSERT',
  digest: `${IMG}@${digest}`,
  ...(tag ? { tag: `${IMG}:${tag}` } : {}),
});

/** `contentType` null sends none (a Buffer body, so fetch adds no text/plain of its own). */
async function push(
  body: unknown,
  auth: string | null = `Bearer ${token()}`,
  raw?: string,
  contentType: string | null = 'application/json',
) {
  return fetch(`${url}/pubsub/artifact-registry`, {
    method: 'POST',
    headers: {
      ...(contentType === null ? {} : { 'content-type': contentType }),
      ...(auth ? { authorization: auth } : {}),
    },
    body: Buffer.from(raw ?? JSON.stringify(body)),
  });
}

async function executions() {
  const [list] = await client.listExecutions(
    { parent: `projects/${PROJECT}/locations/${REGION}/workflows/runway-release`, view: 'FULL' },
    { autoPaginate: false },
  );
  return list;
}

interface BadInput {
  name: string;
  body?: unknown;
  raw?: string;
  auth?: string | null;
  /** Absent: application/json; null: no content-type header at all. */
  contentType?: string | null;
  status: number;
  log?: RegExp;
}

/** More hostile input, each naming the status the README documents. */
function extraCases(): BadInput[] {
  const t = token();
  const now = Math.floor(Date.now() / 1000);
  const sub = `projects/${PROJECT}/subscriptions/s`;
  const ev = (digestRef: string, extra: Record<string, unknown> = {}) =>
    envelope({ action: 'INSERT', digest: digestRef, ...extra });
  return [
    { name: 'empty bearer', body: envelope(insert()), auth: 'Bearer ', status: 401 },
    { name: 'lowercase bearer scheme', body: envelope(insert()), auth: `bearer ${t}`, status: 401 },
    { name: 'two tokens', body: envelope(insert()), auth: `Bearer ${t} ${t}`, status: 401 },
    {
      name: 'token with a space inside',
      body: envelope(insert()),
      auth: `Bearer ${t.slice(0, 20)} ${t.slice(20)}`,
      status: 401,
    },
    {
      name: 'token truncated',
      body: envelope(insert()),
      auth: `Bearer ${t.slice(0, -10)}`,
      status: 401,
    },
    {
      name: 'token with swapped payload',
      body: envelope(insert()),
      auth: `Bearer ${t.split('.')[0]}.${b64({ email: PUSHER, aud: AUDIENCE })}.${t.split('.')[2]}`,
      status: 401,
    },
    {
      name: 'HS256 token',
      body: envelope(insert()),
      auth: `Bearer ${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ aud: AUDIENCE, email: PUSHER })}.abc`,
      status: 401,
    },
    {
      name: 'token not yet valid',
      body: envelope(insert()),
      auth: `Bearer ${token({ iat: now + 3600, exp: now + 7200 })}`,
      status: 401,
    },
    {
      name: 'huge token',
      body: envelope(insert()),
      auth: `Bearer ${'a'.repeat(10_000)}`,
      status: 401,
    },
    { name: 'empty body', raw: '', status: 204, log: /not a valid Pub\/Sub push envelope/ },
    { name: 'JSON array body', body: [1, 2], status: 204, log: /not a valid/ },
    { name: 'JSON string body (strict JSON parsing)', body: 'hello', status: 400 },
    {
      name: 'message is null',
      body: { message: null, subscription: sub },
      status: 204,
      log: /not a valid/,
    },
    {
      name: 'message is a list',
      body: { message: [], subscription: sub },
      status: 204,
      log: /not a valid/,
    },
    {
      name: 'empty data',
      body: { message: { data: '', messageId: '1' }, subscription: sub },
      status: 204,
      log: /not a valid/,
    },
    {
      name: 'no message id',
      body: { message: { data: 'e30=' }, subscription: sub },
      status: 204,
      log: /not a valid/,
    },
    {
      name: 'bad subscription name',
      body: { ...envelope(insert()), subscription: 'runway' },
      status: 204,
      log: /not a valid/,
    },
    {
      name: 'negative delivery attempt',
      body: { ...envelope(insert()), deliveryAttempt: -1 },
      status: 204,
      log: /not a valid/,
    },
    {
      name: 'attribute value not a string',
      body: {
        ...envelope(insert()),
        message: { ...envelope(insert()).message, attributes: { a: 1 } },
      },
      status: 204,
      log: /not a valid/,
    },
    {
      name: 'data is base64 of a number',
      body: envelope('42'),
      status: 204,
      log: /not an Artifact Registry notification/,
    },
    {
      name: 'data is base64 of null',
      body: envelope('null'),
      status: 204,
      log: /not an Artifact Registry notification/,
    },
    {
      name: 'data is binary',
      body: {
        message: { data: Buffer.from([0xff, 0xfe, 0x00]).toString('base64'), messageId: '1' },
        subscription: sub,
      },
      status: 204,
      log: /not JSON/,
    },
    {
      name: 'uppercase image path',
      body: ev(`us-central1-docker.pkg.dev/local-project/apps/WEB@${D1}`),
      status: 204,
      log: /lowercase/,
    },
    {
      name: 'uppercase digest hex',
      body: ev(`${IMG}@sha256:${'A'.repeat(64)}`),
      status: 204,
      log: /64 lowercase hex/,
    },
    {
      name: 'digest with trailing junk',
      body: ev(`${IMG}@${D1}x`),
      status: 204,
      log: /64 lowercase hex/,
    },
    {
      name: 'double slash in reference',
      body: ev(`us-central1-docker.pkg.dev/local-project//web@${D1}`),
      status: 204,
      log: /empty path component/,
    },
    {
      name: 'scheme in reference',
      body: ev(`https://${IMG}@${D1}`),
      status: 204,
      log: /not an Artifact Registry notification/,
    },
    {
      name: 'gcr.io image no pipeline watches',
      body: ev(`gcr.io/local-project/web@${D1}`),
      status: 204,
      log: /no pipeline watches/,
    },
    {
      name: 'tag and digest of different images',
      body: ev(`${IMG}@${D1}`, { tag: `${IMG}-x:main` }),
      status: 204,
      log: /different images/,
    },
    {
      name: 'percent-encoded traversal',
      body: ev(`us-central1-docker.pkg.dev/local-project/apps/%2e%2e/web@${D1}`),
      status: 204,
      log: /not an Artifact Registry notification/,
    },
    {
      name: 'newline injected into the tag',
      body: ev(`${IMG}@${D1}`, { tag: `${IMG}:main\n{"severity":"CRITICAL"}` }),
      status: 204,
      log: /not an Artifact Registry notification/,
    },
    {
      name: 'oversized reference',
      body: ev(`${IMG}/${'a'.repeat(5000)}@${D1}`),
      status: 204,
      log: /not an Artifact Registry notification/,
    },
  ];
}

describe('deployer', () => {
  test('a verified push starts one release with the pipeline arguments and labels', async () => {
    const before = (await executions()).length;
    const res = await push(envelope(insert()));
    assert.equal(res.status, 204);
    const list = await executions();
    assert.equal(list.length, before + 1);
    const e = list[0]!;
    assert.equal(e.labels?.pipeline, 'web');
    assert.equal(e.labels?.digest, '111111111111');
    const args = JSON.parse(e.argument ?? '{}');
    assert.equal(args.image, `${IMG}@${D1}`);
    assert.equal(args.tag, 'main');
    assert.equal(args.source, 'pubsub');
    assert.equal(args.publishTime, '2026-11-22T10:00:00.000000000Z', 'canonical: UTC, 9 digits');
    assert.deepEqual(args.live, { service: 'web' });
  });

  describe('the publish time reaches the workflow in its one canonical spelling', () => {
    const cases = [
      { name: 'whole second, no fraction', sent: '2026-12-02T01:09:47Z' },
      { name: 'milliseconds', sent: '2026-12-02T01:09:47.078Z', want: '.078000000Z' },
      { name: 'offset across midnight', sent: '2026-12-02T03:09:47.5+02:00', want: '.500000000Z' },
      { name: 'emulator spelling, lowercase', sent: '2026-12-02t01:09:47z', snake: true },
    ];
    cases.forEach((c, i) => {
      test(c.name, async () => {
        const digest = `sha256:${(0xa0 + i).toString(16).repeat(32)}`;
        const env = envelope(insert(digest));
        const message = c.snake
          ? { data: env.message.data, message_id: env.message.messageId, publish_time: c.sent }
          : { ...env.message, publishTime: c.sent };
        assert.equal((await push({ ...env, message })).status, 204);
        const e = (await executions()).find((x) => x.labels?.digest === digest.slice(7, 19));
        assert.ok(e, 'a release started');
        const args = JSON.parse(e.argument ?? '{}');
        assert.equal(args.publishTime, `2026-12-02T01:09:47${c.want ?? '.000000000Z'}`);
      });
    });
  });

  test('a duplicate delivery while the release runs starts nothing more', async () => {
    const digest = `sha256:${'2'.repeat(64)}`;
    const before = (await executions()).length;
    const body = envelope(insert(digest));
    const statuses = await Promise.all([push(body), push(body)].map(async (p) => (await p).status));
    await push(body);
    assert.deepEqual(statuses, [204, 204]);
    const started = (await executions()).length - before;
    assert.equal(started, 1, 'racing deliveries to one instance start one release');
    assert.ok(
      logs.some((l) => /started or is starting this release/.test(String(l.message))),
      'the later duplicates were seen and skipped',
    );
  });

  test('a duplicate this instance did not start is found through Workflows', async () => {
    const digest = `sha256:${'4'.repeat(64)}`;
    // Started elsewhere (another instance, or by hand): only the Executions API knows.
    await client.createExecution({
      parent: `projects/${PROJECT}/locations/${REGION}/workflows/runway-release`,
      execution: { argument: '{}', labels: { pipeline: 'web', digest: '444444444444' } },
    });
    const before = (await executions()).length;
    const mark = logs.length;
    assert.equal((await push(envelope(insert(digest)))).status, 204);
    assert.equal((await executions()).length, before, 'nothing more started');
    assert.ok(logs.slice(mark).some((l) => /already running/.test(String(l.message))));
  });

  test('health answers', async () => {
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
  });

  const now = Math.floor(Date.now() / 1000);
  const cases: BadInput[] = [
    { name: 'no token', body: envelope(insert()), auth: null, status: 401 },
    { name: 'not a bearer token', body: envelope(insert()), auth: 'Basic abc', status: 401 },
    { name: 'garbage token', body: envelope(insert()), auth: 'Bearer abc.def.ghi', status: 401 },
    {
      name: 'forged signature',
      body: envelope(insert()),
      auth: `Bearer ${token({}, { key: other.privateKey })}`,
      status: 401,
    },
    {
      name: 'alg none',
      body: envelope(insert()),
      auth: `Bearer ${token({}, { alg: 'none' })}`,
      status: 401,
    },
    {
      name: 'expired',
      body: envelope(insert()),
      auth: `Bearer ${token({ iat: now - 7200, exp: now - 3600 })}`,
      status: 401,
    },
    {
      name: 'wrong audience',
      body: envelope(insert()),
      auth: `Bearer ${token({ aud: 'https://other' })}`,
      status: 401,
    },
    {
      name: 'wrong issuer',
      body: envelope(insert()),
      auth: `Bearer ${token({ iss: 'https://evil.example' })}`,
      status: 401,
    },
    {
      name: 'unknown key id',
      body: envelope(insert()),
      auth: `Bearer ${token({}, { kid: 'k9' })}`,
      status: 401,
    },
    {
      name: 'wrong email',
      body: envelope(insert()),
      auth: `Bearer ${token({ email: 'evil@x.iam.gserviceaccount.com' })}`,
      status: 403,
    },
    {
      name: 'email not verified',
      body: envelope(insert()),
      auth: `Bearer ${token({ email_verified: false })}`,
      status: 403,
    },
    { name: 'non-JSON body', raw: 'hello', status: 400 },
    { name: 'oversized body', raw: JSON.stringify({ pad: 'x'.repeat(1_100_000) }), status: 413 },
    {
      name: 'envelope without message',
      body: { subscription: `projects/${PROJECT}/subscriptions/s` },
      status: 204,
      log: /not a valid Pub\/Sub push envelope/,
    },
    {
      name: 'message without data',
      body: { message: { messageId: '1' }, subscription: `projects/${PROJECT}/subscriptions/s` },
      status: 204,
      log: /not a valid Pub\/Sub push envelope/,
    },
    {
      name: 'data not base64',
      body: {
        message: { data: '%%%', messageId: '1' },
        subscription: `projects/${PROJECT}/subscriptions/s`,
      },
      status: 204,
      log: /not a valid/,
    },
    { name: 'data not JSON', body: envelope('not json'), status: 204, log: /not JSON/ },
    {
      name: 'data JSON of the wrong shape',
      body: envelope({ hello: 1 }),
      status: 204,
      log: /not an Artifact Registry notification/,
    },
    {
      name: 'unknown action',
      body: envelope({ ...insert(), action: 'UPDATE' }),
      status: 204,
      log: /not an Artifact Registry notification/,
    },
    {
      name: 'DELETE event',
      body: envelope({ ...insert(), action: 'DELETE' }),
      status: 204,
      log: /DELETE event/,
    },
    {
      name: 'tag-only event',
      body: envelope({ action: 'INSERT', tag: `${IMG}:main` }),
      status: 204,
      log: /no digest/,
    },
    {
      name: 'digest of the wrong algorithm',
      body: envelope({ action: 'INSERT', digest: `${IMG}@sha512:${'a'.repeat(128)}` }),
      status: 204,
      log: /sha256 algorithm/,
    },
    {
      name: 'digest of the wrong length',
      body: envelope({ action: 'INSERT', digest: `${IMG}@sha256:abc` }),
      status: 204,
      log: /64 lowercase hex/,
    },
    {
      name: 'unwatched repository',
      body: envelope(
        insert(D1, 'main').digest
          ? {
              action: 'INSERT',
              digest: `us-central1-docker.pkg.dev/local-project/apps/other@${D1}`,
            }
          : {},
      ),
      status: 204,
      log: /no pipeline watches/,
    },
    {
      name: 'tag filtered out',
      body: envelope(insert(D1, 'feature-x')),
      status: 204,
      log: /matches no tag filter/,
    },
    {
      name: 'unicode homoglyph in reference',
      body: envelope({
        action: 'INSERT',
        digest: `us-central1-docker.pkg.dev/local-project/apps/wеb@${D1}`,
      }),
      status: 204,
      log: /non-ASCII/,
    },
    {
      name: 'path traversal in reference',
      body: envelope({
        action: 'INSERT',
        digest: `us-central1-docker.pkg.dev/local-project/apps/../web@${D1}`,
      }),
      status: 204,
      log: /relative path/,
    },
    {
      name: 'publish time in month 13 (acknowledged: it can never become valid)',
      body: {
        ...envelope(insert()),
        message: { ...envelope(insert()).message, publishTime: '2026-13-22T10:00:00Z' },
      },
      status: 204,
      log: /not a valid Pub\/Sub push envelope.*month 13/,
    },
    {
      name: 'publish time without an offset',
      body: {
        ...envelope(insert()),
        message: { ...envelope(insert()).message, publishTime: '2026-11-22T10:00:00' },
      },
      status: 204,
      log: /not a valid Pub\/Sub push envelope.*publishTime/,
    },
    {
      name: 'huge attribute map',
      body: {
        ...envelope(insert()),
        message: {
          ...envelope(insert()).message,
          attributes: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, 'v'])),
        },
      },
      status: 204,
      log: /at most 100 attributes/,
    },
    ...extraCases(),
    // What a web page can send cross-origin without a preflight; Pub/Sub always sends JSON.
    ...[
      'text/plain',
      'text/plain;charset=UTF-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonp',
      'application/json-seq',
    ].map((contentType) => ({
      name: `content-type ${contentType}`,
      body: envelope(insert()),
      contentType,
      status: 415,
      log: /content-type must be application\/json/,
    })),
    {
      name: 'no content-type',
      body: envelope(insert()),
      contentType: null,
      status: 415,
      log: /content-type must be application\/json/,
    },
    {
      name: 'a JSON charset the parser cannot decode',
      body: envelope(insert()),
      contentType: 'application/json; charset=latin1',
      status: 415,
      log: /charset/,
    },
  ];
  for (const c of cases) {
    test(`bad input: ${c.name}`, async () => {
      const before = (await executions()).length;
      const mark = logs.length;
      const res = await push(
        c.body,
        c.auth === null ? null : (c.auth ?? `Bearer ${token()}`),
        c.raw,
        c.contentType === undefined ? 'application/json' : c.contentType,
      );
      assert.equal(res.status, c.status);
      if (res.status >= 400) {
        const body = (await res.json()) as { error: { code: number; message: string } };
        assert.equal(body.error.code, c.status);
      }
      if (c.log)
        assert.ok(
          logs.slice(mark).some((l) => c.log!.test(String(l.message) + String(l.reason ?? ''))),
          `log matches ${c.log}`,
        );
      assert.equal((await executions()).length, before, 'no execution started');
      assert.equal((await fetch(`${url}/healthz`)).status, 200, 'still serving');
    });
  }

  test('manual release of a digest', async () => {
    const res = await fetch(`${url}/releases`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ pipeline: 'web', image: `${IMG}:v2@sha256:${'3'.repeat(64)}` }),
    });
    assert.equal(res.status, 202);
    const body = (await res.json()) as { releases: { kind: string }[] };
    assert.equal(body.releases[0]?.kind, 'started');
  });

  test('manual release of a tag without digest is refused', async () => {
    const res = await fetch(`${url}/releases`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ image: `${IMG}:v2` }),
    });
    assert.equal(res.status, 400);
  });
});

describe('POST /releases and the content-type rule, with pipelines sharing one image', () => {
  const shared = parsePipelineConfig(`
project: ${PROJECT}
region: ${REGION}
pipelines:
  - name: web
    image: ${IMG}
    staging: { service: web-staging }
    live: { service: web }
    acceptance: { job: web-acceptance }
  - name: web-eu
    image: ${IMG}
    region: europe-west1
    staging: { service: web-eu-staging }
    live: { service: web-eu }
    acceptance: { job: web-eu-acceptance }
  - name: web-main
    image: ${IMG}
    tags: [main]
    staging: { service: web-main-staging }
    live: { service: web-main }
    acceptance: { job: web-main-acceptance }
`);
  const started: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const base = loopbackServer(
    createServer(
      createApp({
        project: PROJECT,
        pipelines: shared,
        push: 'unauthenticated',
        scheduler: 'unauthenticated',
        verifier: createVerifier({ certs }),
        executions: {
          start: async (args) => {
            started.push(args.pipeline);
            return `projects/${PROJECT}/locations/${REGION}/workflows/w/executions/${started.length}`;
          },
          isActive: async () => false,
        },
        registry: { tagDigest: async () => undefined },
        run: {
          getService: async () => undefined,
          getJob: async () => undefined,
          runJob: async () => assert.fail('no verify'),
        },
        logger: createLogger({ stream: { write: (l: string) => lines.push(JSON.parse(l)) } }),
      }),
    ),
  );
  let n = 0;
  /** A digest no earlier case used, so this instance's memory of its releases never answers. */
  const fresh = () => `sha256:${(++n).toString(16).padStart(64, '0')}`;
  const post = (path: string, body: string | undefined, contentType: string | null) =>
    fetch(`${base()}${path}`, {
      method: 'POST',
      headers: contentType === null ? {} : { 'content-type': contentType },
      ...(body === undefined ? {} : { body: Buffer.from(body) }),
    });

  const cases: {
    name: string;
    /** A function gets a fresh digest reference; a string or undefined is sent as it is. */
    body: ((image: string) => unknown) | Record<string, unknown> | string | undefined;
    contentType?: string | null;
    status: number;
    starts?: string[];
    message?: RegExp;
  }[] = [
    {
      name: 'the named pipeline only',
      body: (image) => ({ pipeline: 'web', image }),
      status: 202,
      starts: ['web'],
    },
    {
      name: 'the other pipeline only',
      body: (image) => ({ pipeline: 'web-eu', image }),
      status: 202,
      starts: ['web-eu'],
    },
    {
      name: 'no pipeline named: every pipeline that takes the image',
      body: (image) => ({ image }),
      status: 202,
      starts: ['web', 'web-eu'],
    },
    {
      name: 'a tag in the reference reaches the tag filters',
      body: (image) => ({ pipeline: 'web-main', image: image.replace('@', ':main@') }),
      status: 202,
      starts: ['web-main'],
    },
    {
      name: 'unknown pipeline: 404 before starting anything',
      body: (image) => ({ pipeline: 'nope', image }),
      status: 404,
      message: /no pipeline named nope/,
    },
    {
      name: 'a pipeline that does not take the image: 404, nothing started',
      body: (image) => ({ pipeline: 'web-main', image }),
      status: 404,
      message: /web-main does not release .*only release tagged pushes/,
    },
    {
      name: 'no pipeline takes the image: 404',
      body: (image) => ({ image: image.replace('/web@', '/other@') }),
      status: 404,
      message: /no pipeline watches/,
    },
    {
      name: 'image by tag only',
      body: { image: `${IMG}:v2` },
      status: 400,
      message: /request: image: .*by digest/,
    },
    {
      name: 'image missing',
      body: { pipeline: 'web' },
      status: 400,
      message: /request: image: is required: a reference by digest/,
    },
    {
      name: 'image a number',
      body: (image) => ({ pipeline: 'web', image: image.length }),
      status: 400,
      message: /request: image: must be a string/,
    },
    {
      name: 'pipeline a number',
      body: (image) => ({ pipeline: 1, image }),
      status: 400,
      message: /request: pipeline: /,
    },
    {
      name: 'pipeline null',
      body: (image) => ({ pipeline: null, image }),
      status: 400,
      message: /request: pipeline: /,
    },
    {
      name: 'pipeline not a pipeline name',
      body: (image) => ({ pipeline: 'Web!', image }),
      status: 400,
      message: /request: pipeline: a pipeline name/,
    },
    {
      name: 'unknown field',
      body: (image) => ({ pipeline: 'web', image, force: true }),
      status: 400,
      message: /force/,
    },
    {
      name: 'pipelines, a plausible misspelling',
      body: (image) => ({ pipelines: ['web'], image }),
      status: 400,
      message: /pipelines/,
    },
    {
      name: 'oversized pipeline name',
      body: (image) => ({ pipeline: 'w'.repeat(5000), image }),
      status: 400,
      message: /request: pipeline: .*at most 63/,
    },
    {
      name: 'oversized image reference',
      body: (image) => ({ image: `${IMG}/${'a'.repeat(5000)}@${image.split('@')[1]}` }),
      status: 400,
      message: /request: image: .*(long|at most)/,
    },
    {
      name: 'body over the size limit',
      body: JSON.stringify({ pad: 'x'.repeat(1_100_000) }),
      status: 413,
    },
    { name: 'a JSON array', body: '[]', status: 400, message: /JSON object/ },
    { name: 'a JSON string', body: '"web"', status: 400 },
    { name: 'JSON null', body: 'null', status: 400 },
    { name: 'not JSON', body: 'pipeline=web', status: 400 },
    { name: 'no body', body: undefined, status: 400, message: /image: is required/ },
    {
      name: 'text/plain: what a web page sends without a preflight',
      body: (image) => ({ pipeline: 'web', image }),
      contentType: 'text/plain',
      status: 415,
      message: /content-type must be application\/json, not text\/plain/,
    },
    {
      name: 'no content-type',
      body: (image) => ({ pipeline: 'web', image }),
      contentType: null,
      status: 415,
      message: /content-type must be application\/json/,
    },
    {
      name: 'a form',
      body: (image) => ({ pipeline: 'web', image }),
      contentType: 'application/x-www-form-urlencoded',
      status: 415,
    },
    {
      name: 'multipart',
      body: (image) => ({ pipeline: 'web', image }),
      contentType: 'multipart/form-data; boundary=x',
      status: 415,
    },
    {
      name: 'application/json with a charset',
      body: (image) => ({ pipeline: 'web', image }),
      contentType: 'application/json; charset=utf-8',
      status: 202,
      starts: ['web'],
    },
    {
      name: 'media types are case-insensitive',
      body: (image) => ({ pipeline: 'web', image }),
      contentType: 'APPLICATION/JSON',
      status: 202,
      starts: ['web'],
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      started.length = 0;
      const mark = lines.length;
      const image = `${IMG}@${fresh()}`;
      const body =
        typeof c.body === 'function'
          ? JSON.stringify(c.body(image))
          : typeof c.body === 'object'
            ? JSON.stringify(c.body)
            : c.body;
      const res = await post(
        '/releases',
        body,
        c.contentType === undefined ? 'application/json' : c.contentType,
      );
      const answer = (await res.json()) as {
        releases?: { kind: string; pipeline: string }[];
        error?: { code: number; status: string; message: string };
      };
      assert.equal(res.status, c.status, JSON.stringify(answer));
      assert.deepEqual(started.sort(), c.starts ?? [], 'the releases started');
      if (c.status === 202) {
        assert.deepEqual(
          answer.releases!.map((r) => `${r.kind} ${r.pipeline}`).sort(),
          c.starts!.map((p) => `started ${p}`),
          'the answer reports exactly what started',
        );
        return;
      }
      assert.equal(answer.error?.code, c.status);
      if (c.message) assert.match(answer.error!.message, c.message);
      assert.ok(
        lines.slice(mark).some((l) => /request refused/.test(String(l.message))),
        'the refusal is logged',
      );
    });
  }

  // The rule holds on every route that reads a body.
  const routes = [
    {
      path: '/pubsub/artifact-registry',
      body: () => JSON.stringify(envelope({ action: 'INSERT', digest: `${IMG}@${fresh()}` })),
      ok: 204,
      starts: ['web', 'web-eu'],
    },
    { path: '/reconcile', body: () => '{}', ok: 200, starts: [] },
    {
      path: '/releases',
      body: () => JSON.stringify({ image: `${IMG}@${fresh()}` }),
      ok: 202,
      starts: ['web', 'web-eu'],
    },
  ];
  const types: { contentType: string | null; accepted: boolean }[] = [
    { contentType: 'application/json', accepted: true },
    { contentType: 'application/json; charset=utf-8', accepted: true },
    { contentType: 'Application/JSON; Charset=UTF-8', accepted: true },
    { contentType: 'text/plain', accepted: false },
    { contentType: 'text/plain;charset=UTF-8', accepted: false },
    { contentType: null, accepted: false },
    { contentType: 'application/x-www-form-urlencoded', accepted: false },
    { contentType: 'multipart/form-data; boundary=x', accepted: false },
    { contentType: 'application/json-patch+json', accepted: false },
  ];
  for (const r of routes)
    for (const t of types) {
      test(`${r.path} ${t.contentType ?? 'without content-type'}: ${t.accepted ? r.ok : 415}`, async () => {
        started.length = 0;
        const res = await post(r.path, r.body(), t.contentType);
        const text = await res.text();
        assert.equal(res.status, t.accepted ? r.ok : 415, text);
        assert.deepEqual(started.sort(), t.accepted ? r.starts : [], 'the releases started');
        if (!t.accepted)
          assert.deepEqual(JSON.parse(text), {
            error: {
              code: 415,
              status: 'INVALID_ARGUMENT',
              message: `content-type must be application/json, ${t.contentType === null ? 'none was sent' : `not ${t.contentType.split(';')[0]}`}`,
              details: [],
            },
          });
      });
    }
});

describe("Google's token signing keys unreachable", () => {
  test('a push answers 503 (Pub/Sub redelivers), not 401, and starts nothing', async () => {
    const started: string[] = [];
    const lines: Record<string, unknown>[] = [];
    const server = createApp({
      project: PROJECT,
      pipelines: config,
      push: { audience: AUDIENCE, serviceAccount: PUSHER },
      verifier: createVerifier({
        certs: () => Promise.reject(new Error('getaddrinfo ENOTFOUND www.googleapis.com')),
      }),
      executions: {
        start: async (args) => {
          started.push(args.image);
          return 'projects/p/executions/x';
        },
        isActive: async () => false,
      },
      logger: createLogger({ stream: { write: (l: string) => lines.push(JSON.parse(l)) } }),
    }).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const res = await fetch(
        `http://127.0.0.1:${(server.address() as AddressInfo).port}/pubsub/artifact-registry`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token()}` },
          body: JSON.stringify(envelope(insert())),
        },
      );
      assert.equal(res.status, 503);
      assert.match(JSON.stringify(await res.json()), /signing keys.*ENOTFOUND/);
      assert.deepEqual(started, []);
    } finally {
      server.close();
    }
  });
});

describe('deployer property: no envelope makes it answer 5xx or start a release it should not', () => {
  test('fast-check over arbitrary envelopes and event payloads', async () => {
    const fc = await import('fast-check');
    const before = (await executions()).length;
    const payload = fc.oneof(
      fc.jsonValue(),
      fc.record({
        action: fc.oneof(fc.constant('INSERT'), fc.constant('DELETE'), fc.string()),
        digest: fc.oneof(
          fc.string(),
          fc.constant(`${IMG}@sha256:${'f'.repeat(63)}`),
          fc.constant(`evil.example/p/r/i@${D1}`),
        ),
        tag: fc.option(fc.string(), { nil: undefined }),
      }),
    );
    const body = fc.oneof(
      fc.jsonValue(),
      payload.map((p) => envelope(p)),
      fc.record({
        message: fc.record({
          data: fc.string(),
          messageId: fc.string(),
          attributes: fc.dictionary(fc.string(), fc.string()),
        }),
        subscription: fc.string(),
      }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const res = await push(b);
        await res.arrayBuffer();
        return res.status < 500;
      }),
      { numRuns: 150 },
    );
    assert.equal((await executions()).length, before, 'no arbitrary input started a release');
  });
});

describe('LocalReleases: what this instance started, for a while', () => {
  const cases = [
    { name: 'fresh after remember', remember: ['a'], advance: 29_999, key: 'a', busy: true },
    { name: 'forgotten after the TTL', remember: ['a'], advance: 30_000, key: 'a', busy: false },
    { name: 'never seen', remember: ['a'], advance: 0, key: 'b', busy: false },
    {
      name: 'oldest dropped when full',
      remember: ['a', 'b', 'c'],
      advance: 0,
      key: 'a',
      busy: false,
    },
    { name: 'newest kept when full', remember: ['a', 'b', 'c'], advance: 0, key: 'c', busy: true },
  ];
  for (const c of cases) {
    test(c.name, () => {
      let t = 0;
      const local = new LocalReleases(30_000, () => t, 2);
      for (const k of c.remember) local.remember(k);
      t += c.advance;
      assert.equal(local.busy(c.key), c.busy);
    });
  }
  test('busy while being decided, free after', () => {
    const local = new LocalReleases();
    const end = local.begin('x');
    assert.equal(local.busy('x'), true);
    end();
    assert.equal(local.busy('x'), false);
  });
});

/**
 * A deployer over `config` (unauthenticated pushes) whose executions only record their arguments:
 * what it would start. Returns a push of `event` to it (once the suite's `before` has run).
 */
function recordingDeployer(
  config: ReturnType<typeof parsePipelineConfig>,
  started: WorkflowArgs[],
) {
  const base = loopbackServer(
    createServer(
      createApp({
        project: PROJECT,
        pipelines: config,
        push: 'unauthenticated',
        scheduler: 'unauthenticated',
        verifier: createVerifier({ certs }),
        executions: {
          start: async (args) => {
            started.push(args);
            return `projects/${PROJECT}/locations/${REGION}/workflows/w/executions/${started.length}`;
          },
          isActive: async () => false,
        },
        registry: { tagDigest: async () => undefined },
        run: {
          getService: async () => undefined,
          getJob: async () => undefined,
          runJob: async () => assert.fail('no verify'),
        },
        logger: createLogger({ stream: { write: () => true } }),
      }),
    ),
  );
  return (event: unknown) =>
    fetch(`${base()}/pubsub/artifact-registry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(envelope(event)),
    });
}

// A multi-region pipeline (issue 19) starts one execution for every region, with its regions and
// promotion.regions (defaults filled) in the arguments, beside the single-region pipeline.
describe('a multi-region pipeline', () => {
  const regional = parsePipelineConfig(`
project: ${PROJECT}
region: ${REGION}
pipelines:
  - name: web
    image: ${IMG}
    staging: { service: web-staging }
    live: { service: web }
    acceptance: { job: web-acceptance }
  - name: web-global
    image: ${IMG}
    staging: { service: global-staging }
    live: { service: global, regions: [us-central1, europe-west1, asia-east1] }
    acceptance: { job: global-acceptance }
    promotion: { strategy: direct, regions: { concurrency: 1 } }
`);
  const started: WorkflowArgs[] = [];
  const push = recordingDeployer(regional, started);

  test('a push of the image starts both pipelines, the regions in the arguments', async () => {
    const res = await push(insert(`sha256:${'ab'.repeat(32)}`));
    assert.equal(res.status, 204);
    assert.deepEqual(started.map((s) => s.pipeline).sort(), ['web', 'web-global']);
    const global = started.find((s) => s.pipeline === 'web-global')!;
    assert.deepEqual(global.live, {
      service: 'global',
      regions: ['us-central1', 'europe-west1', 'asia-east1'],
    });
    assert.deepEqual((global.promotion as { regions: unknown }).regions, {
      concurrency: 1,
      onFailure: 'rollback-all',
    });
  });
});

// A worker-pool pipeline is released by the one release workflow, like any other: a push starts
// an execution whose arguments say kind workerPool and name the pools.
describe('a worker-pool pipeline', () => {
  const pools = parsePipelineConfig(`
project: ${PROJECT}
region: ${REGION}
pipelines:
  - name: queue
    kind: workerPool
    image: ${IMG}
    staging: { workerPool: queue-staging }
    live: { workerPool: queue }
    promotion: { strategy: canary, steps: [25, 100], bakeSeconds: 30 }
`);
  const started: WorkflowArgs[] = [];
  const push = recordingDeployer(pools, started);

  test('a push of the image starts an execution with kind workerPool', async () => {
    const res = await push(insert(`sha256:${'cd'.repeat(32)}`));
    assert.equal(res.status, 204);
    assert.deepEqual(
      started.map(({ pipeline, kind, staging, live }) => ({ pipeline, kind, staging, live })),
      [
        {
          pipeline: 'queue',
          kind: 'workerPool',
          staging: { workerPool: 'queue-staging' },
          live: { workerPool: 'queue' },
        },
      ],
    );
  });
});
