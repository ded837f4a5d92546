// The local Cloud Scheduler driven by Google's own client (`@google-cloud/scheduler`, REST mode)
// and, for what the client cannot send, by raw HTTP; jobs run against a loopback target on a
// manual clock.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { after, afterEach, before, describe, test } from 'node:test';
import { CloudSchedulerClient } from '@google-cloud/scheduler';
import { localClientOptions } from '../../services/shared/clients.ts';
import { loopbackServer } from '../../test/helpers/loopback.ts';
import { type ManualClock, manualClock } from '../../test/helpers/manual-clock.ts';
import { timeScaledClock } from '../workflows/engine.ts';
import type { AttemptLog } from './scheduler.ts';
import { type LocalScheduler, startLocalScheduler } from './server.ts';

const PROJECT = 'local-project';
const PARENT = `projects/${PROJECT}/locations/us-central1`;
const START = Date.parse('2026-05-01T10:00:00Z');

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The job's target: records each request and answers the next status in `answers` (then 200). */
const received: Received[] = [];
const answers: number[] = [];
let hang = false;
const target = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    received.push({
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    });
    if (hang) return;
    res.writeHead(answers.shift() ?? 200).end('ok');
  });
});
const targetUrl = loopbackServer(target);

let clock: ManualClock;
let local: LocalScheduler;
let client: CloudSchedulerClient;
const logs: AttemptLog[] = [];
const tokens = {
  idToken: async (email: string, audience: string) => `id.${email}.${audience}`,
  accessToken: async (email: string) => `access.${email}`,
};

async function startScheduler(withTokens: boolean) {
  clock = manualClock(START);
  logs.length = 0;
  local = await startLocalScheduler({
    project: PROJECT,
    clock,
    ...(withTokens ? { tokens } : {}),
    log: (e) => logs.push(e),
  });
  client = new CloudSchedulerClient(localClientOptions(local.host));
}

async function stopScheduler() {
  await client.close();
  await local.close();
}

/** Waits for loopback I/O (never for wall time the test could inject). */
async function until(what: string, ok: () => boolean | Promise<boolean>) {
  for (let i = 0; i < 400; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`timed out waiting for ${what}`);
}

function httpJob(id: string, extra: Record<string, unknown> = {}) {
  return {
    name: `${PARENT}/jobs/${id}`,
    schedule: '*/15 * * * *',
    timeZone: 'Etc/UTC',
    httpTarget: {
      uri: `${targetUrl()}/reconcile`,
      httpMethod: 'POST' as const,
      headers: { 'Content-Type': 'application/json' },
      body: Buffer.from('{"verify":false}'),
    },
    ...extra,
  };
}

/**
 * A refusal as the REST client reports it: `code` is the HTTP status, and the message is Google's
 * error body, whose `status` names the canonical code.
 */
function refusal(err: unknown): { http: number; status: string; message: string } {
  const e = err as { code?: number; message: string };
  const body = JSON.parse(e.message.slice(e.message.indexOf('{'))) as {
    error: { status: string; message: string };
  };
  return { http: Number(e.code), status: body.error.status, message: body.error.message };
}
const refusedAs = (status: string) => (err: unknown) => refusal(err).status === status;

describe('jobs through @google-cloud/scheduler', () => {
  before(() => startScheduler(false));
  after(() => stopScheduler());
  afterEach(() => {
    received.length = 0;
    answers.length = 0;
  });

  test('create answers the job as Google renders it', async () => {
    const [job] = await client.createJob({ parent: PARENT, job: httpJob('crud') });
    assert.equal(job.name, `${PARENT}/jobs/crud`);
    assert.equal(job.state, 'ENABLED');
    assert.equal(job.schedule, '*/15 * * * *');
    assert.equal(job.timeZone, 'Etc/UTC');
    assert.equal(job.httpTarget?.httpMethod, 'POST');
    assert.equal(Buffer.from(job.httpTarget!.body as Uint8Array).toString(), '{"verify":false}');
    assert.deepEqual(job.httpTarget?.headers, {
      'Content-Type': 'application/json',
      'User-Agent': 'Google-Cloud-Scheduler',
    });
    assert.equal(job.attemptDeadline?.seconds, '180');
    assert.equal(job.retryConfig?.minBackoffDuration?.seconds, '5');
    assert.equal(job.retryConfig?.maxBackoffDuration?.seconds, '3600');
    assert.equal(job.retryConfig?.maxDoublings, 5);
    assert.equal(Number(job.userUpdateTime?.seconds) * 1000, START);
    assert.equal(Number(job.scheduleTime?.seconds) * 1000, Date.parse('2026-05-01T10:15:00Z'));
    assert.equal(job.lastAttemptTime, null);
  });

  test('create of an existing name is ALREADY_EXISTS', async () => {
    await assert.rejects(client.createJob({ parent: PARENT, job: httpJob('crud') }), (err) => {
      assert.deepEqual(refusal(err), {
        http: 409,
        status: 'ALREADY_EXISTS',
        message: `Job ${PARENT}/jobs/crud already exists.`,
      });
      return true;
    });
  });

  test('get, and NOT_FOUND for a job that is not there', async () => {
    const [job] = await client.getJob({ name: `${PARENT}/jobs/crud` });
    assert.equal(job.state, 'ENABLED');
    await assert.rejects(client.getJob({ name: `${PARENT}/jobs/nope` }), (err) => {
      assert.deepEqual(refusal(err), { http: 404, status: 'NOT_FOUND', message: 'Job not found.' });
      return true;
    });
  });

  test('list pages with pageSize and pageToken', async () => {
    for (const id of ['list-a', 'list-b', 'list-c']) {
      await client.createJob({ parent: PARENT, job: httpJob(id) });
    }
    const [first, , response] = await client.listJobs(
      { parent: PARENT, pageSize: 2 },
      { autoPaginate: false },
    );
    assert.equal(first.length, 2);
    assert.ok(response?.nextPageToken);
    const all = [];
    for await (const job of client.listJobsAsync({ parent: PARENT, pageSize: 2 }))
      all.push(job.name);
    assert.deepEqual(all.sort(), [
      `${PARENT}/jobs/crud`,
      `${PARENT}/jobs/list-a`,
      `${PARENT}/jobs/list-b`,
      `${PARENT}/jobs/list-c`,
    ]);
    const [other] = await client.listJobs({ parent: `projects/${PROJECT}/locations/europe-west1` });
    assert.deepEqual(other, []);
  });

  test('patch with an update mask changes only the masked fields and reschedules', async () => {
    const [job] = await client.updateJob({
      job: {
        name: `${PARENT}/jobs/crud`,
        schedule: '0 9 * * *',
        timeZone: 'Europe/Berlin',
        description: 'not in the mask',
      },
      updateMask: { paths: ['schedule', 'time_zone'] },
    });
    assert.equal(job.schedule, '0 9 * * *');
    assert.equal(job.timeZone, 'Europe/Berlin');
    assert.equal(job.description, '');
    assert.equal(job.httpTarget?.uri, `${targetUrl()}/reconcile`);
    // 09:00 in Berlin (CEST) on 2 May is 07:00 UTC.
    assert.equal(Number(job.scheduleTime?.seconds) * 1000, Date.parse('2026-05-02T07:00:00Z'));
  });

  test('patch of a nested field (http_target.uri) keeps the rest of the target', async () => {
    const [job] = await client.updateJob({
      job: { name: `${PARENT}/jobs/crud`, httpTarget: { uri: `${targetUrl()}/other` } },
      updateMask: { paths: ['http_target.uri'] },
    });
    assert.equal(job.httpTarget?.uri, `${targetUrl()}/other`);
    assert.equal(job.httpTarget?.httpMethod, 'POST');
    assert.equal(Buffer.from(job.httpTarget!.body as Uint8Array).toString(), '{"verify":false}');
  });

  test('patch of a job that is not there is NOT_FOUND', async () => {
    await assert.rejects(
      client.updateJob({
        job: { name: `${PARENT}/jobs/nope`, schedule: '* * * * *' },
        updateMask: { paths: ['schedule'] },
      }),
      refusedAs('NOT_FOUND'),
    );
  });

  test('pause and resume: state, and the contract that each needs the other state', async () => {
    const name = `${PARENT}/jobs/crud`;
    const [paused] = await client.pauseJob({ name });
    assert.equal(paused.state, 'PAUSED');
    assert.equal(paused.scheduleTime, null);
    await assert.rejects(client.pauseJob({ name }), refusedAs('FAILED_PRECONDITION'));
    const [resumed] = await client.resumeJob({ name });
    assert.equal(resumed.state, 'ENABLED');
    assert.ok(resumed.scheduleTime);
    await assert.rejects(client.resumeJob({ name }), refusedAs('FAILED_PRECONDITION'));
  });

  test('run dispatches now, even when paused, and reports the attempt', async () => {
    const name = `${PARENT}/jobs/list-a`;
    await client.pauseJob({ name });
    answers.push(200);
    await client.runJob({ name });
    await until('the forced run', () => received.length === 1);
    await until('its status', async () => (await client.getJob({ name }))[0].status != null);
    const [job] = await client.getJob({ name });
    assert.equal(job.state, 'PAUSED');
    assert.equal(Number(job.lastAttemptTime?.seconds) * 1000, clock.now());
    assert.deepEqual({ code: job.status?.code ?? 0 }, { code: 0 });
  });

  test('delete, then NOT_FOUND', async () => {
    for (const id of ['crud', 'list-a', 'list-b', 'list-c']) {
      await client.deleteJob({ name: `${PARENT}/jobs/${id}` });
    }
    await assert.rejects(client.deleteJob({ name: `${PARENT}/jobs/crud` }), refusedAs('NOT_FOUND'));
    const [left] = await client.listJobs({ parent: PARENT });
    assert.deepEqual(left, []);
  });
});

describe('refused jobs (INVALID_ARGUMENT unless named)', () => {
  before(() => startScheduler(false));
  after(() => stopScheduler());

  const base = () => ({
    ...httpJob('bad'),
    httpTarget: { uri: 'http://127.0.0.1:9/x', httpMethod: 'POST' as const },
  });
  const cases: { name: string; job: Record<string, unknown>; code?: string; message?: RegExp }[] = [
    {
      name: 'a job id with a dot',
      job: { ...base(), name: `${PARENT}/jobs/bad.id` },
      message: /Job name must be formatted/,
    },
    {
      name: 'a job id longer than 500 characters',
      job: { ...base(), name: `${PARENT}/jobs/${'a'.repeat(501)}` },
      message: /Job name must be formatted/,
    },
    {
      name: 'a job name in another location than the parent',
      job: { ...base(), name: 'projects/local-project/locations/europe-west1/jobs/x' },
    },
    {
      name: 'no schedule',
      job: { ...base(), schedule: '' },
      message: /Schedule or time zone is invalid\./,
    },
    {
      name: 'a bad schedule',
      job: { ...base(), schedule: '61 * * * *' },
      message: /Schedule or time zone is invalid\./,
    },
    {
      name: 'an unknown time zone',
      job: { ...base(), timeZone: 'Moon/Tranquility' },
      message: /Schedule or time zone is invalid\./,
    },
    { name: 'no target', job: { ...base(), httpTarget: undefined } },
    { name: 'no uri', job: { ...base(), httpTarget: { httpMethod: 'GET' } } },
    { name: 'a uri that is not http(s)', job: { ...base(), httpTarget: { uri: 'ftp://x/y' } } },
    {
      name: 'a body with GET',
      job: {
        ...base(),
        httpTarget: { uri: 'http://x/', httpMethod: 'GET', body: Buffer.from('x') },
      },
    },
    {
      name: 'headers of 80KB',
      job: { ...base(), httpTarget: { uri: 'http://x/', headers: { big: 'x'.repeat(80 * 1024) } } },
    },
    {
      name: 'an OIDC token without a service account',
      job: { ...base(), httpTarget: { uri: 'http://x/', oidcToken: { audience: 'a' } } },
    },
    { name: 'retryCount 6', job: { ...base(), retryConfig: { retryCount: 6 } } },
    { name: 'retryCount -1', job: { ...base(), retryConfig: { retryCount: -1 } } },
    {
      name: 'min backoff above max backoff',
      job: {
        ...base(),
        retryConfig: { minBackoffDuration: { seconds: 60 }, maxBackoffDuration: { seconds: 10 } },
      },
    },
    { name: 'an attempt deadline of 10s', job: { ...base(), attemptDeadline: { seconds: 10 } } },
    {
      name: 'an attempt deadline of 31 minutes',
      job: { ...base(), attemptDeadline: { seconds: 1860 } },
    },
    { name: 'a description of 501 characters', job: { ...base(), description: 'd'.repeat(501) } },
    {
      name: 'a Pub/Sub target is UNIMPLEMENTED locally',
      job: { ...base(), httpTarget: undefined, pubsubTarget: { topicName: 'projects/p/topics/t' } },
      code: 'UNIMPLEMENTED',
    },
    {
      name: 'an English-like schedule is UNIMPLEMENTED locally',
      job: { ...base(), schedule: 'every 15 minutes' },
      code: 'UNIMPLEMENTED',
    },
    {
      name: 'a project this cloud does not serve is NOT_FOUND',
      job: { ...base(), name: 'projects/other/locations/us-central1/jobs/x' },
      code: 'NOT_FOUND',
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const parent = String(c.job.name).includes('projects/other/')
        ? 'projects/other/locations/us-central1'
        : PARENT;
      await assert.rejects(client.createJob({ parent, job: c.job }), (err) => {
        const r = refusal(err);
        assert.equal(r.status, c.code ?? 'INVALID_ARGUMENT', r.message);
        if (c.message) assert.match(r.message, c.message);
        return true;
      });
    });
  }
});

describe('the wire, below the client', () => {
  before(() => startScheduler(false));
  after(() => stopScheduler());
  const post = (path: string, body: string) =>
    fetch(`${local.url}${path}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });

  const cases: { name: string; path: string; body: string; status: number; message: RegExp }[] = [
    {
      name: 'an unknown field',
      path: `/v1/${PARENT}/jobs`,
      body: JSON.stringify({ schedule: '* * * * *', httpTarget: { uri: 'http://x/' }, nope: 1 }),
      status: 400,
      message: /Unknown name "nope"/,
    },
    {
      name: 'an enum that is neither name nor number',
      path: `/v1/${PARENT}/jobs`,
      body: JSON.stringify({
        schedule: '* * * * *',
        httpTarget: { uri: 'http://x/', httpMethod: 'BREW' },
      }),
      status: 400,
      message: /http_target\.http_method/,
    },
    {
      name: 'two targets (a oneof)',
      path: `/v1/${PARENT}/jobs`,
      body: JSON.stringify({
        schedule: '* * * * *',
        httpTarget: { uri: 'http://x/' },
        pubsubTarget: { topicName: 't' },
      }),
      status: 400,
      message: /Oneof field 'target' is already set/,
    },
    {
      name: 'body that is not JSON',
      path: `/v1/${PARENT}/jobs`,
      body: '{"schedule":',
      status: 400,
      message: /not valid JSON/,
    },
    {
      name: 'a body over 1 MiB',
      path: `/v1/${PARENT}/jobs`,
      body: JSON.stringify({ description: 'x'.repeat(1024 * 1024 + 1) }),
      status: 413,
      message: /larger than/,
    },
    {
      name: 'an unknown verb',
      path: `/v1/${PARENT}/jobs/x:explode`,
      body: '{}',
      status: 404,
      message: /not found/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const res = await post(c.path, c.body);
      assert.equal(res.status, c.status);
      const body = (await res.json()) as { error: { message: string } };
      assert.match(body.error.message, c.message);
    });
  }

  test('enums by name, as gcloud sends them, and a page size that is not a number', async () => {
    const res = await post(
      `/v1/${PARENT}/jobs`,
      JSON.stringify({
        name: `${PARENT}/jobs/named`,
        schedule: '* * * * *',
        httpTarget: { uri: 'http://x/', httpMethod: 'PUT' },
      }),
    );
    assert.equal(res.status, 200);
    assert.equal(
      ((await res.json()) as { httpTarget: { httpMethod: string } }).httpTarget.httpMethod,
      'PUT',
    );
    const list = await fetch(`${local.url}/v1/${PARENT}/jobs?pageSize=abc`);
    assert.equal(list.status, 400);
    const bad = await fetch(`${local.url}/v1/${PARENT}/jobs?pageToken=forged`);
    assert.equal(bad.status, 400);
    const put = await fetch(`${local.url}/v1/${PARENT}/jobs/named`, { method: 'PUT', body: '{}' });
    assert.equal(put.status, 405);
  });
});

describe('running jobs on the clock', () => {
  afterEach(async () => {
    received.length = 0;
    answers.length = 0;
    hang = false;
    logs.length = 0;
    await stopScheduler();
  });

  test('at its cron time a job sends its method, headers and body; no token without a source', async () => {
    await startScheduler(false);
    await client.createJob({
      parent: PARENT,
      job: httpJob('tick', {
        httpTarget: {
          uri: `${targetUrl()}/reconcile`,
          httpMethod: 'PUT',
          headers: {
            'Content-Type': 'application/json',
            'X-Custom': 'yes',
            Authorization: 'Bearer mine',
          },
          body: Buffer.from('{"verify":false}'),
          oidcToken: { serviceAccountEmail: 'sched@local-project.iam.gserviceaccount.com' },
        },
      }),
    });
    await clock.advance(15 * 60_000 - 1);
    assert.equal(received.length, 0);
    await clock.advance(1);
    await until('the 10:15 run', () => received.length === 1);
    const r = received[0]!;
    assert.equal(r.method, 'PUT');
    assert.equal(r.path, '/reconcile');
    assert.equal(r.body, '{"verify":false}');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['x-custom'], 'yes');
    assert.equal(r.headers['user-agent'], 'Google-Cloud-Scheduler');
    assert.equal(r.headers['x-cloudscheduler'], 'true');
    assert.equal(r.headers['x-cloudscheduler-jobname'], 'tick');
    assert.equal(r.headers['x-cloudscheduler-scheduletime'], '2026-05-01T10:15:00.000Z');
    // A token mode overrides the job's own Authorization; with no token source, none is sent.
    assert.equal(r.headers.authorization, undefined);
    await until(
      'the status',
      async () => (await client.getJob({ name: `${PARENT}/jobs/tick` }))[0].status != null,
    );
    const [job] = await client.getJob({ name: `${PARENT}/jobs/tick` });
    assert.equal(Number(job.lastAttemptTime?.seconds) * 1000, Date.parse('2026-05-01T10:15:00Z'));
    assert.equal(job.status?.code ?? 0, 0);
    assert.equal(Number(job.scheduleTime?.seconds) * 1000, Date.parse('2026-05-01T10:30:00Z'));
    assert.deepEqual(
      logs.map((l) => l.type),
      ['AttemptStarted', 'AttemptFinished'],
    );
  });

  test('a body without a Content-Type goes as application/octet-stream', async () => {
    await startScheduler(false);
    await client.createJob({
      parent: PARENT,
      job: httpJob('octets', { httpTarget: { uri: `${targetUrl()}/x`, body: Buffer.from('raw') } }),
    });
    await client.runJob({ name: `${PARENT}/jobs/octets` });
    await until('the run', () => received.length === 1);
    assert.equal(received[0]!.headers['content-type'], 'application/octet-stream');
    assert.equal(received[0]!.method, 'POST');
  });

  const tokenCases = [
    {
      name: 'OIDC with an audience',
      auth: {
        oidcToken: { serviceAccountEmail: 'a@p.iam.gserviceaccount.com', audience: 'https://aud' },
      },
      want: 'Bearer id.a@p.iam.gserviceaccount.com.https://aud',
    },
    {
      name: 'OIDC without an audience uses the uri',
      auth: { oidcToken: { serviceAccountEmail: 'a@p.iam.gserviceaccount.com' } },
      want: () => `Bearer id.a@p.iam.gserviceaccount.com.${targetUrl()}/t`,
    },
    {
      name: 'OAuth',
      auth: { oauthToken: { serviceAccountEmail: 'b@p.iam.gserviceaccount.com' } },
      want: 'Bearer access.b@p.iam.gserviceaccount.com',
    },
    {
      name: 'no token mode keeps the job’s own Authorization',
      auth: { headers: { Authorization: 'Basic x' } },
      want: 'Basic x',
    },
  ];
  for (const c of tokenCases) {
    test(`with a token source: ${c.name}`, async () => {
      await startScheduler(true);
      await client.createJob({
        parent: PARENT,
        job: httpJob('auth', { httpTarget: { uri: `${targetUrl()}/t`, ...c.auth } }),
      });
      await client.runJob({ name: `${PARENT}/jobs/auth` });
      await until('the run', () => received.length === 1);
      assert.equal(
        received[0]!.headers.authorization,
        typeof c.want === 'function' ? c.want() : c.want,
      );
    });
  }

  test('non-2xx answers are retried with backoff until one succeeds', async () => {
    await startScheduler(false);
    answers.push(500, 503, 404);
    await client.createJob({
      parent: PARENT,
      job: httpJob('retry', {
        retryConfig: { retryCount: 3, minBackoffDuration: { seconds: 10 }, maxDoublings: 1 },
      }),
    });
    const name = `${PARENT}/jobs/retry`;
    const at = Date.parse('2026-05-01T10:15:00Z');
    await clock.advanceTo(at);
    await until('the first attempt', () => received.length === 1);
    await until('its status', async () => (await client.getJob({ name }))[0].status?.code === 2);
    let [job] = await client.getJob({ name });
    // 500 is UNKNOWN (2); the retry is the next scheduleTime.
    assert.equal(Number(job.scheduleTime?.seconds) * 1000, at + 10_000);
    await until('the retry to be set', () => clock.pending().includes(at + 10_000));
    await clock.advanceTo(at + 10_000);
    await until('the second attempt', () => received.length === 2);
    await until('UNAVAILABLE', async () => (await client.getJob({ name }))[0].status?.code === 14);
    await until('the retry to be set', () => clock.pending().includes(at + 30_000));
    await clock.advanceTo(at + 30_000);
    await until('the third attempt', () => received.length === 3);
    await until('NOT_FOUND', async () => (await client.getJob({ name }))[0].status?.code === 5);
    // Doubled once, then linear: 10s, 20s, 40s.
    [job] = await client.getJob({ name });
    assert.equal(Number(job.scheduleTime?.seconds) * 1000, at + 70_000);
    await until('the retry to be set', () => clock.pending().includes(at + 70_000));
    await clock.advanceTo(at + 70_000);
    await until('the fourth attempt', () => received.length === 4);
    await until('OK', async () => {
      const { status } = (await client.getJob({ name }))[0];
      return status != null && !status.code;
    });
    [job] = await client.getJob({ name });
    assert.equal(Number(job.lastAttemptTime?.seconds) * 1000, at + 70_000);
    assert.equal(Number(job.scheduleTime?.seconds) * 1000, Date.parse('2026-05-01T10:30:00Z'));
    assert.deepEqual(
      received.map((r) => r.headers['x-cloudscheduler-scheduletime']),
      Array(4).fill('2026-05-01T10:15:00.000Z'),
    );
  });

  test('retries stop at retryCount, and never run into the next scheduled time', async () => {
    await startScheduler(false);
    answers.push(500, 500, 500, 500, 500, 500);
    await client.createJob({
      parent: PARENT,
      job: httpJob('give-up', {
        schedule: '* * * * *',
        retryConfig: { retryCount: 5, minBackoffDuration: { seconds: 20 } },
      }),
    });
    await clock.advanceTo(Date.parse('2026-05-01T10:01:00Z'));
    const at = Date.parse('2026-05-01T10:01:00Z');
    await until('the retry to be set for +20s', () => clock.pending().includes(at + 20_000));
    assert.equal(received.length, 1);
    await clock.advance(20_000);
    await until('the retry at +20s', () => received.length === 2);
    // The next retry would be at +60s: the 10:02 run comes first, and is its own execution.
    await until('the 10:02 run to be set', () => clock.pending().includes(at + 60_000));
    await clock.advance(39_999);
    assert.equal(received.length, 2);
    await clock.advance(1);
    await until('the 10:02 run', () => received.length === 3);
    assert.equal(received[2]!.headers['x-cloudscheduler-scheduletime'], '2026-05-01T10:02:00.000Z');
  });

  test('retryCount 0: a failed attempt waits for the next scheduled time', async () => {
    await startScheduler(false);
    answers.push(500);
    await client.createJob({ parent: PARENT, job: httpJob('once') });
    await clock.advanceTo(Date.parse('2026-05-01T10:15:00Z'));
    await until('the attempt', () => received.length === 1);
    const name = `${PARENT}/jobs/once`;
    await until('its status', async () => (await client.getJob({ name }))[0].status?.code === 2);
    const [job] = await client.getJob({ name });
    assert.equal(Number(job.scheduleTime?.seconds) * 1000, Date.parse('2026-05-01T10:30:00Z'));
  });

  test('an attempt without an answer by the deadline is DEADLINE_EXCEEDED', async () => {
    await startScheduler(false);
    hang = true;
    await client.createJob({
      parent: PARENT,
      job: httpJob('slow', { attemptDeadline: { seconds: 15 } }),
    });
    const name = `${PARENT}/jobs/slow`;
    await client.runJob({ name });
    await until('the request', () => received.length === 1);
    await clock.advance(14_999);
    assert.equal((await client.getJob({ name }))[0].status, null);
    await clock.advance(1);
    await until(
      'DEADLINE_EXCEEDED',
      async () => (await client.getJob({ name }))[0].status?.code === 4,
    );
  });

  test('a paused job does not run at its time; resumed, it runs at the next one', async () => {
    await startScheduler(false);
    await client.createJob({ parent: PARENT, job: httpJob('sleepy') });
    const name = `${PARENT}/jobs/sleepy`;
    await client.pauseJob({ name });
    await clock.advanceTo(Date.parse('2026-05-01T10:20:00Z'));
    assert.equal(received.length, 0);
    const [job] = await client.resumeJob({ name });
    assert.equal(Number(job.scheduleTime?.seconds) * 1000, Date.parse('2026-05-01T10:30:00Z'));
    await clock.advanceTo(Date.parse('2026-05-01T10:30:00Z'));
    await until('the 10:30 run', () => received.length === 1);
  });

  test('an unreachable target is UNAVAILABLE', async () => {
    await startScheduler(false);
    await client.createJob({
      parent: PARENT,
      job: httpJob('gone', { httpTarget: { uri: 'http://127.0.0.1:1/x' } }),
    });
    const name = `${PARENT}/jobs/gone`;
    await client.runJob({ name });
    await until('UNAVAILABLE', async () => (await client.getJob({ name }))[0].status?.code === 14);
  });
});

describe('time scale', () => {
  test("on the cloud's time-scaled clock a job fires that many times faster than the wall", async () => {
    received.length = 0;
    // x600: a workflow minute is 100 ms of wall time.
    const scaled = await startLocalScheduler({ project: PROJECT, clock: timeScaledClock(600) });
    const scaledClient = new CloudSchedulerClient(localClientOptions(scaled.host));
    try {
      await scaledClient.createJob({
        parent: PARENT,
        job: httpJob('fast', { schedule: '* * * * *', httpTarget: { uri: `${targetUrl()}/f` } }),
      });
      const wallStart = Date.now();
      await until('two runs', () => received.length >= 2);
      assert.ok(Date.now() - wallStart < 2_000, 'two workflow minutes took under 2 s of wall time');
      const [a, b] = received.map((r) =>
        Date.parse(String(r.headers['x-cloudscheduler-scheduletime'])),
      );
      assert.equal(b! - a!, 60_000);
    } finally {
      await scaledClient.close();
      await scaled.close();
    }
  });
});
