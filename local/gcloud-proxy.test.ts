// The gcloud proxy over real sockets: loopback hosts (region-prefixed or not) are forwarded with
// their Host header intact, CONNECT to loopback is tunnelled, and everything else is refused.
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { closeServer } from './api-server.ts';
import { type GcloudProxy, loopbackTarget, startGcloudProxy } from './gcloud-proxy.ts';

describe('loopbackTarget', () => {
  const cases: { host: string; want: string | null }[] = [
    { host: '127.0.0.1', want: '127.0.0.1' },
    { host: 'us-central1-127.0.0.1', want: '127.0.0.1' },
    { host: 'localhost', want: '127.0.0.1' },
    { host: 'europe-west1-localhost', want: '127.0.0.1' },
    { host: 'northamerica-northeast1-run.localhost', want: '127.0.0.1' },
    { host: 'RUN.LOCALHOST', want: '127.0.0.1' },
    { host: '[::1]', want: '::1' },
    { host: 'run.googleapis.com', want: null },
    { host: 'us-central1-run.googleapis.com', want: null },
    { host: 'localhost.example.com', want: null },
    { host: '127.0.0.2', want: null },
    { host: '10.0.0.1', want: null },
    { host: 'us-central1-', want: null },
    { host: '', want: null },
  ];
  for (const c of cases)
    test(c.host || '(empty)', () => assert.equal(loopbackTarget(c.host), c.want));
});

let upstream: Server;
let port: number;
let proxy: GcloudProxy;

/** A request sent to the proxy with `target` as its (absolute-form) request target. */
function viaProxy(
  target: string,
  method = 'GET',
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: proxy.port, method, path: target, headers: { host: 'ignored' } },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

before(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () =>
      res.end(JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, body })),
    );
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  port = (upstream.address() as AddressInfo).port;
  proxy = await startGcloudProxy();
});

after(async () => {
  await proxy.close();
  await closeServer(upstream);
});

describe('forwarding', () => {
  test('a region-prefixed loopback host reaches the local endpoint with its Host header', async () => {
    const r = await viaProxy(
      `http://us-central1-127.0.0.1:${port}/apis/serving.knative.dev/v1/namespaces/p/services?alt=json`,
    );
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), {
      method: 'GET',
      url: '/apis/serving.knative.dev/v1/namespaces/p/services?alt=json',
      host: `us-central1-127.0.0.1:${port}`,
      body: '',
    });
  });

  test('a body goes through unchanged', async () => {
    const body = JSON.stringify({ spec: { traffic: [{ percent: 100, latestRevision: true }] } });
    const r = await viaProxy(`http://localhost:${port}/x`, 'PUT', body);
    assert.equal(JSON.parse(r.body).body, body);
  });

  const refusals: { name: string; target: string; status: number; message: RegExp }[] = [
    {
      name: "Google's own host",
      target: 'http://run.googleapis.com/v1/x',
      status: 403,
      message: /forwards only to the local cloud on this machine, not to run\.googleapis\.com/,
    },
    {
      name: 'another machine',
      target: 'http://10.0.0.1:8080/',
      status: 403,
      message: /not to 10\.0\.0\.1/,
    },
    {
      name: 'an https URL (only CONNECT carries TLS)',
      target: 'https://run.googleapis.com/',
      status: 403,
      message: /forwards only to the local cloud/,
    },
    {
      name: 'a direct request, not a proxied one',
      target: '/v1/projects',
      status: 400,
      message: /takes proxied http:\/\/ requests/,
    },
    {
      name: 'a port out of range',
      target: 'http://127.0.0.1:999999/',
      status: 400,
      message: /takes proxied/,
    },
  ];
  for (const c of refusals) {
    test(`refused: ${c.name}`, async () => {
      const r = await viaProxy(c.target);
      assert.equal(r.status, c.status);
      assert.match(JSON.parse(r.body).error.message, c.message);
    });
  }

  test('a loopback port with nothing listening answers 503, naming it', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const free = (dead.address() as AddressInfo).port;
    await closeServer(dead);
    const r = await viaProxy(`http://127.0.0.1:${free}/`);
    assert.equal(r.status, 503);
    assert.match(
      JSON.parse(r.body).error.message,
      new RegExp(`127\\.0\\.0\\.1:${free} did not answer`),
    );
  });
});

describe('CONNECT', () => {
  /** The proxy's answer to CONNECT `target`, and what a request through the tunnel gets. */
  function tunnel(target: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(proxy.port, '127.0.0.1', () => {
        socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
      });
      let text = '';
      let sent = false;
      socket.on('data', (d) => {
        text += d;
        if (!sent && text.startsWith('HTTP/1.1 200')) {
          sent = true;
          socket.write(`GET /tunnelled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        }
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
  }

  test('to a loopback port: a tunnel', async () => {
    const text = await tunnel(`us-central1-127.0.0.1:${port}`);
    assert.match(text, /^HTTP\/1\.1 200 Connection Established/);
    assert.match(text, /"url":"\/tunnelled"/);
  });

  test('to any other host: 403, and no connection', async () => {
    const text = await tunnel('oauth2.googleapis.com:443');
    assert.match(text, /^HTTP\/1\.1 403 Forbidden/);
    assert.match(text, /not to oauth2\.googleapis\.com:443/);
  });
});
