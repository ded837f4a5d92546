// The console's routes over real sockets, with an in-memory source: pages, assets and their
// caching, live updates, and the refusals that keep other pages and hosts out of its actions.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { Refused } from '../cli/exit.ts';
import { loadAssets } from './assets.ts';
import { fakeSnapshot, fakeSource } from './fake-source.ts';
import { type RunningConsole, startConsole } from './server.ts';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  raw: Buffer;
}

describe('the console server', () => {
  const source = fakeSource(fakeSnapshot(3));
  let ui: RunningConsole;
  let host: string;
  let cookie: string;
  let token: string;

  /** One request with exactly these headers (a browser's, or a hostile page's). */
  function request(
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: string | Buffer,
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: ui.port, method, path, headers: { host, ...headers } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const raw = Buffer.concat(chunks);
            const text =
              res.headers['content-encoding'] === 'gzip'
                ? gunzipSync(raw).toString()
                : raw.toString();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, raw });
          });
        },
      );
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const post = (body: string, headers: Record<string, string> = {}) =>
    request(
      'POST',
      '/actions',
      {
        origin: `http://${host}`,
        cookie,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        ...headers,
      },
      body,
    );

  before(async () => {
    ui = await startConsole({ source, assets: await loadAssets(), port: 0 });
    host = `127.0.0.1:${ui.port}`;
    const page = await request('GET', '/');
    cookie = String(page.headers['set-cookie']).split(';')[0]!;
    token = /name="token" value="([^"]+)"/.exec(page.body)![1]!;
  });

  after(() => ui.close());

  test('the overview: one card per pipeline, no-cache, a CSP, a session cookie', async () => {
    const r = await request('GET', '/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.headers['cache-control'], 'no-cache');
    assert.match(String(r.headers['content-security-policy']), /script-src 'self'/);
    assert.match(
      String(r.headers['set-cookie']),
      /^runway_console=[\w-]+; Path=\/; HttpOnly; SameSite=Strict$/,
    );
    assert.equal((r.body.match(/<article class="card"/g) ?? []).length, 3);
    assert.match(r.body, /class="seg candidate w50" data-percent="50"/);
    assert.match(r.body, /step 2: 50% <span class="muted">\(current\)/);
    assert.match(r.body, /Awaits approval before 100%/);
    assert.match(r.body, /bake ends in <time data-until="\d+">/);
    assert.match(r.body, /REJECTED/);
  });

  test('a known session keeps its cookie and token', async () => {
    const r = await request('GET', '/', { cookie });
    assert.equal(r.headers['set-cookie'], undefined);
    assert.match(r.body, new RegExp(`name="token" value="${token}"`));
  });

  test('assets: content-hashed, immutable, gzipped when asked', async () => {
    const assets = await loadAssets();
    const page = await request('GET', '/');
    assert.ok(page.body.includes(`/assets/${assets.script}`));
    assert.match(assets.script, /^app-[0-9a-f]{12}\.js$/);
    const r = await request('GET', `/assets/${assets.script}`, { 'accept-encoding': 'gzip, br' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.equal(r.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.match(r.body, /EventSource/);
    const css = await request('GET', `/assets/${assets.style}`);
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(css.headers['content-encoding'], undefined);
  });

  const pages: { name: string; path: string; status: number; want?: RegExp[]; not?: RegExp[] }[] = [
    {
      name: 'a release at a gate: approve and reject enabled, thresholds shown',
      path: '/releases/p0-run',
      status: 200,
      want: [
        /data-action="approve"[^>]*title="approve the release at its gate"[^>]*>Approve</,
        /5xx ratio at most 0.05, at least 10 requests/,
        /data-action="abort"[^>]*>Abort</,
      ],
      not: [/data-action="approve"[^>]*disabled/],
    },
    {
      name: 'a release with no gate: approve disabled, saying why',
      path: '/releases/p1-run',
      status: 200,
      want: [
        /data-action="approve"[^>]*title="this release is not waiting at an approval gate"[^>]*disabled/,
      ],
    },
    {
      name: 'a rejected release: its reason and its failing logs',
      path: '/releases/p1-bad',
      status: 200,
      want: [
        /class="reason">acceptance tests failed: Execution &#39;p1-acceptance-x1&#39;/,
        /href="\/logs\?execution=p1-acceptance-x1">failing logs/,
        /data-action="abort"[^>]*disabled>Abort/,
        /Billed steps<\/dt><dd class="billed">60/,
      ],
    },
    { name: 'an unknown release', path: '/releases/nope', status: 404 },
    {
      name: 'history filtered by outcome',
      path: '/pipelines/p2?outcome=REJECTED',
      status: 200,
      want: [/<option value="REJECTED" selected>/, /badge rejected/],
      not: [/badge promoted/],
    },
    { name: 'history with a bad outcome', path: '/pipelines/p2?outcome=%3Cb%3E', status: 400 },
    { name: 'history of an unknown pipeline', path: '/pipelines/nope', status: 404 },
    {
      name: 'logs, escaped',
      path: '/logs?workflows=1',
      status: 200,
      want: [/hello &lt;world&gt;/],
      not: [/<world>/],
    },
    { name: 'logs of nothing', path: '/logs', status: 400 },
    { name: 'logs of a bad name', path: '/logs?service=..%2Fetc', status: 400 },
    { name: 'no such page', path: '/nope', status: 404 },
  ];

  for (const c of pages)
    test(`GET ${c.path}: ${c.name}`, async () => {
      const r = await request('GET', c.path, { cookie });
      assert.equal(r.status, c.status, r.body);
      for (const re of c.want ?? []) assert.match(r.body, re);
      for (const re of c.not ?? []) assert.doesNotMatch(r.body, re);
    });

  test('another Host (a rebound DNS name) is refused', async () => {
    const r = await request('GET', '/', { host: 'evil.example' });
    assert.equal(r.status, 421);
  });

  test('a method a path does not take: 405 with Allow', async () => {
    const r = await request('PUT', '/actions', {});
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, 'POST');
  });

  test('live updates: an event stream whose first event is the page', async () => {
    const first = await new Promise<{ type: string; text: string }>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: ui.port, path: '/events?page=%2F', headers: { host } },
        (res) => {
          let text = '';
          res.on('data', (c) => {
            text += c;
            if (text.includes('event: live')) {
              resolve({ type: String(res.headers['content-type']), text });
              req.destroy();
            }
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(first.type, 'text/event-stream; charset=utf-8');
    assert.match(first.text, /^retry: 1000\n\nevent: live\ndata: <h1>Pipelines<\/h1>\n/);
  });

  test('live logs: every line first, then only the new ones', async () => {
    const events: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: ui.port,
          path: `/events?page=${encodeURIComponent('/logs?workflows=1')}`,
          headers: { host },
        },
        (res) => {
          let text = '';
          res.on('data', (c) => {
            text += c;
            const done = text.split('\n\n').filter((e) => e.startsWith('event:'));
            if (done.length === 1 && events.length === 0) {
              events.push(done[0]!);
              source.logLines.push('2026-12-02T10:00:01.000Z stdout more');
            }
            if (done.length === 2) {
              events.push(done[1]!);
              req.destroy();
              resolve();
            }
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(events, [
      'event: reset\ndata: 2026-12-02T10:00:00.000Z stdout hello <world>',
      'event: lines\ndata: 2026-12-02T10:00:01.000Z stdout more',
    ]);
  });

  test('live updates of a bad page are refused before the stream', async () => {
    for (const page of ['//evil.example/', 'http://evil.example/', '/nope'])
      assert.notEqual(
        (await request('GET', `/events?page=${encodeURIComponent(page)}`)).status,
        200,
        page,
      );
  });

  const good = { token: '', action: 'approve', pipeline: 'p0', execution: 'p0-run', reason: 'ok' };

  test('an action from the console: done, through the source', async () => {
    const before = source.acted.length;
    const r = await post(form({ ...good, token }));
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(JSON.parse(r.body), { message: 'approve: done' });
    assert.deepEqual(source.acted.slice(before), [
      { token, action: 'approve', pipeline: 'p0', execution: 'p0-run', to: null, reason: 'ok' },
    ]);
    const header = await post(form({ ...good, token: '' }), { 'x-runway-token': token });
    assert.equal(header.status, 200, 'the token may come in the header');
    const noOrigin = await post(form({ ...good, token }), {
      origin: '',
      'sec-fetch-site': 'same-origin',
    });
    assert.equal(noOrigin.status, 403, 'an empty Origin is no origin of ours');
  });

  const refusals: {
    name: string;
    body: () => string | Buffer;
    headers?: () => Record<string, string>;
    omit?: string[];
    status: number;
    want: RegExp;
  }[] = [
    {
      name: 'a cross-origin POST',
      body: () => form({ ...good, token }),
      headers: () => ({ origin: 'http://evil.example' }),
      status: 403,
      want: /cross-origin request refused/,
    },
    {
      name: 'a POST from localhost on another port',
      body: () => form({ ...good, token }),
      headers: () => ({ origin: `http://localhost:${ui.port + 1}` }),
      status: 403,
      want: /cross-origin/,
    },
    {
      name: 'no Origin and a cross-site Sec-Fetch-Site',
      body: () => form({ ...good, token }),
      headers: () => ({ 'sec-fetch-site': 'cross-site' }),
      omit: ['origin'],
      status: 403,
      want: /cross-origin/,
    },
    {
      name: 'neither Origin nor Sec-Fetch-Site',
      body: () => form({ ...good, token }),
      omit: ['origin'],
      status: 403,
      want: /cross-origin/,
    },
    {
      name: 'a missing token',
      body: () => form({ ...good }),
      status: 403,
      want: /session token/,
    },
    {
      name: 'a wrong token',
      body: () => form({ ...good, token: `${token.slice(0, -1)}A` }),
      status: 403,
      want: /session token/,
    },
    {
      name: 'a token without its session cookie',
      body: () => form({ ...good, token }),
      omit: ['cookie'],
      status: 403,
      want: /session token/,
    },
    {
      name: 'a token of another session',
      body: () => form({ ...good, token }),
      headers: () => ({ cookie: 'runway_console=AAAAAAAAAAAAAAAAAAAAAAAA' }),
      status: 403,
      want: /session token/,
    },
    {
      name: 'a header token and a different form token',
      body: () => form({ ...good, token: 'x' }),
      headers: () => ({ 'x-runway-token': token }),
      status: 403,
      want: /session token/,
    },
    {
      name: 'a body over 16 KB (declared)',
      body: () => form({ ...good, token, reason: 'x'.repeat(20_000) }),
      status: 413,
      want: /body over 16384 bytes/,
    },
    {
      name: 'a text/plain body (what any page may send without a preflight)',
      body: () => form({ ...good, token }),
      headers: () => ({ 'content-type': 'text/plain' }),
      status: 415,
      want: /application\/x-www-form-urlencoded/,
    },
    {
      name: 'JSON',
      body: () => JSON.stringify({ ...good, token }),
      headers: () => ({ 'content-type': 'application/json' }),
      status: 415,
      want: /form/,
    },
    {
      name: 'a bad % escape',
      body: () => `${form({ ...good, token })}&reason=%zz`,
      status: 400,
      want: /bad % escape/,
    },
    {
      name: 'an unknown field',
      body: () => `${form({ ...good, token })}&admin=1`,
      status: 400,
      want: /unknown field "admin"/,
    },
    {
      name: 'a field twice',
      body: () => `${form({ ...good, token })}&pipeline=p1`,
      status: 400,
      want: /field pipeline given twice/,
    },
    {
      name: 'an unknown action',
      body: () => form({ ...good, token, action: 'delete' }),
      status: 400,
      want: /action must be/,
    },
    {
      name: 'a bad pipeline name',
      body: () => form({ ...good, token, pipeline: '../x' }),
      status: 400,
      want: /pipeline must be/,
    },
    {
      name: 'a rollback to something that is no digest',
      body: () => form({ ...good, token, action: 'rollback', to: 'latest' }),
      status: 400,
      want: /to must be a digest/,
    },
    {
      name: 'a reason over 1000 characters',
      body: () => form({ ...good, token, reason: 'x'.repeat(1001) }),
      status: 400,
      want: /at most 1000/,
    },
  ];

  for (const c of refusals)
    test(`refused: ${c.name} (${c.status})`, async () => {
      const before = source.acted.length;
      const headers: Record<string, string> = {
        origin: `http://${host}`,
        cookie,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        ...(c.headers?.() ?? {}),
      };
      for (const name of c.omit ?? []) delete headers[name];
      const r = await request('POST', '/actions', headers, c.body());
      assert.equal(r.status, c.status, r.body);
      assert.match(JSON.parse(r.body).error, c.want);
      assert.equal(source.acted.length, before, 'nothing was done');
    });

  test('refused: a body over 16 KB sent in chunks, without a length (413)', async () => {
    const r = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: ui.port,
          method: 'POST',
          path: '/actions',
          headers: {
            host,
            origin: `http://${host}`,
            cookie,
            'content-type': 'application/x-www-form-urlencoded',
            'transfer-encoding': 'chunked',
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 20; i++) req.write('x'.repeat(1024));
      req.end();
    });
    assert.equal(r, 413);
  });

  test('what the cloud refuses is a 409 with its reason; without JS, an HTML page', async () => {
    source.refuse = new Refused('no open gate for p1: no release is running');
    try {
      const r = await post(form({ ...good, token, pipeline: 'p1', execution: '' }));
      assert.equal(r.status, 409);
      assert.deepEqual(JSON.parse(r.body), { error: 'no open gate for p1: no release is running' });
      const html = await post(form({ ...good, token }), { accept: 'text/html' });
      assert.equal(html.status, 409);
      assert.match(html.body, /<p>no open gate for p1: no release is running<\/p>/);
    } finally {
      source.refuse = null;
    }
  });

  test('pages share one read of the cloud per half poll', async () => {
    const before = source.snapshotReads;
    await Promise.all([
      request('GET', '/'),
      request('GET', '/'),
      request('GET', '/releases/p0-run'),
    ]);
    assert.ok(source.snapshotReads - before <= 1, `${source.snapshotReads - before} reads`);
  });
});
