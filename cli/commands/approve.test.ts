// `runway approve|reject`: the command line, who may answer, and the answer as it reaches a gate's
// callback URL over a real socket.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { plainCallbacks, localCaller } from '../cloud.ts';
import { Refused } from '../exit.ts';
import { answerGate, approverOf, type Decision, parseGate } from './approve.ts';

describe('parseGate: PIPELINE, --reason, --as (the local cloud only), the target', () => {
  const cases: {
    name: string;
    argv: string[];
    env?: Record<string, string>;
    want: { pipeline: string; reason: string | null; member: string | null } | RegExp;
  }[] = [
    {
      name: 'a pipeline: the local user',
      argv: ['web'],
      want: { pipeline: 'web', reason: null, member: 'user:developer@local' },
    },
    {
      name: 'a reason and --as',
      argv: ['web', '--reason', 'looks good', '--as', 'user:alice@example.com'],
      want: { pipeline: 'web', reason: 'looks good', member: 'user:alice@example.com' },
    },
    {
      name: 'RUNWAY_AS',
      argv: ['web'],
      env: { RUNWAY_AS: 'serviceAccount:ci@p.iam.gserviceaccount.com' },
      want: {
        pipeline: 'web',
        reason: null,
        member: 'serviceAccount:ci@p.iam.gserviceaccount.com',
      },
    },
    {
      name: '--as wins over RUNWAY_AS',
      argv: ['web', '--as=user:bob@example.com'],
      env: { RUNWAY_AS: 'user:alice@example.com' },
      want: { pipeline: 'web', reason: null, member: 'user:bob@example.com' },
    },
    {
      name: 'on Google: the credentials say who',
      argv: ['web', '--project', 'p', '--region', 'us-central1'],
      env: { RUNWAY_AS: 'user:alice@example.com' },
      want: { pipeline: 'web', reason: null, member: null },
    },
    { name: 'no pipeline', argv: [], want: /^usage: runway approve PIPELINE/ },
    { name: 'two pipelines', argv: ['web', 'api'], want: /^usage:/ },
    { name: 'an unknown flag', argv: ['web', '--force'], want: /unknown flag --force/ },
    { name: '--reason without text', argv: ['web', '--reason'], want: /--reason needs a value/ },
    {
      name: '--as not a member',
      argv: ['web', '--as', 'alice'],
      want: /--as must be an IAM member/,
    },
    {
      name: 'RUNWAY_AS not a member',
      argv: ['web'],
      env: { RUNWAY_AS: 'alice@example.com' },
      want: /RUNWAY_AS must be an IAM member/,
    },
    {
      name: '--as on Google',
      argv: ['web', '--project', 'p', '--region', 'r', '--as', 'user:a@b.c'],
      want: /--as is for the local cloud/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      if (c.want instanceof RegExp) {
        assert.throws(() => parseGate('approve', c.argv, c.env ?? {}), {
          name: 'UsageError',
          message: c.want,
        });
        return;
      }
      const o = parseGate('approve', c.argv, c.env ?? {});
      assert.deepEqual({ pipeline: o.pipeline, reason: o.reason, member: o.parsed.member }, c.want);
    });
  }
});

describe('approverOf: the gate lists the caller (emails without case), spelt as listed', () => {
  const approvers = ['user:Alice@Example.com', 'group:release@example.com'];
  const cases = [
    { name: 'listed', caller: 'user:Alice@Example.com', want: 'user:Alice@Example.com' },
    {
      name: 'listed, other case',
      caller: 'user:alice@example.com',
      want: 'user:Alice@Example.com',
    },
    { name: 'not listed', caller: 'user:mallory@example.com', want: null },
    { name: 'same email, other kind', caller: 'serviceAccount:alice@example.com', want: null },
  ];
  for (const c of cases) test(c.name, () => assert.equal(approverOf(c.caller, approvers), c.want));
});

describe('answerGate: refuses without an open gate or as a non-approver; else POSTs the answer', () => {
  const heard: { body: unknown; path: string }[] = [];
  let url = '';
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      heard.push({ body: JSON.parse(body), path: req.url ?? '' });
      const gone = req.url?.endsWith('/gone');
      res.writeHead(gone ? 404 : 200, { 'content-type': 'application/json' });
      res.end(gone ? '{"error":{"code":404,"message":"callback not found"}}' : '{}');
    });
  });
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const gate = (path: string) =>
    JSON.stringify({
      execution: 'e-1',
      url: `${url}${path}`,
      stage: 'promote',
      before: 'live',
      digest: `sha256:${'a'.repeat(64)}`,
      deadline: '2026-12-03T10:00:00Z',
      approvers: ['user:alice@example.com'],
    });
  const pipeline = { name: 'web', live: { service: 'web' } };
  const cases: {
    name: string;
    /** A function: the server's URL is known only once it listens. */
    annotations: () => Record<string, string> | null;
    caller: string;
    decision: Decision;
    want: RegExp;
    refused?: boolean;
    sent?: unknown;
  }[] = [
    {
      name: 'no live service yet',
      annotations: () => null,
      caller: 'user:alice@example.com',
      decision: 'approve',
      want: /no open gate: web's live service web does not exist yet/,
      refused: true,
    },
    {
      name: 'nothing running',
      annotations: () => ({}),
      caller: 'user:alice@example.com',
      decision: 'approve',
      want: /no open gate for web: no release is running/,
      refused: true,
    },
    {
      name: 'a release held by a freeze is not at a gate',
      annotations: () => ({
        'runway.dev/held': JSON.stringify({
          execution: 'e-1',
          freeze: 'year-end',
          until: '2026-12-27T00:00:00Z',
          before: 'live',
        }),
      }),
      caller: 'user:alice@example.com',
      decision: 'approve',
      want: /held by the freeze year-end until 2026-12-27T00:00:00Z/,
      refused: true,
    },
    {
      name: 'a non-approver',
      annotations: () => ({ 'runway.dev/gate': gate('/cb') }),
      caller: 'user:mallory@example.com',
      decision: 'approve',
      want: /user:mallory@example.com is not an approver of web's gate \(approvers: user:alice@example.com\)/,
      refused: true,
    },
    {
      name: 'an approver approves',
      annotations: () => ({ 'runway.dev/gate': gate('/cb') }),
      caller: 'user:Alice@example.com',
      decision: 'approve',
      want: /^approved: release e-1 of web \(aaaaaaaaaaaa\) before live traffic moves, by user:alice@example.com: ok$/,
      sent: { decision: 'approve', by: 'user:alice@example.com', reason: 'ok' },
    },
    {
      name: 'an approver rejects',
      annotations: () => ({ 'runway.dev/gate': gate('/cb') }),
      caller: 'user:alice@example.com',
      decision: 'reject',
      want: /^rejected: release e-1/,
      sent: { decision: 'reject', by: 'user:alice@example.com', reason: 'ok' },
    },
    {
      name: 'the release stopped waiting meanwhile (404)',
      annotations: () => ({ 'runway.dev/gate': gate('/gone') }),
      caller: 'user:alice@example.com',
      decision: 'approve',
      want: /the gate is closed: the release no longer waits there \(callback not found\)/,
      refused: true,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      heard.length = 0;
      const deps = {
        services: {
          service: async () => {
            const annotations = c.annotations();
            return annotations ? { annotations, uri: '' } : null;
          },
        },
        callbacks: plainCallbacks(),
        caller: localCaller(c.caller),
      };
      const run = answerGate(deps, pipeline, c.decision, 'ok');
      if (c.refused) {
        await assert.rejects(run, (err: Error) => {
          assert.ok(err instanceof Refused, err.message);
          assert.match(err.message, c.want);
          return true;
        });
      } else {
        assert.match(await run, c.want);
        assert.deepEqual(
          heard.map((h) => h.body),
          [c.sent],
        );
      }
    });
  }
});
