// SIGTERM: the deployer process stops accepting, lets the in-flight push finish (its Workflows call
// held open by a slow stub), closes kept-alive connections and exits 0.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { type IncomingMessage, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { drainOnSigterm } from '../../services/deployer/main.ts';
import { silentLogger } from '../../services/shared/logger.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const IMG = 'us-central1-docker.pkg.dev/local-project/apps/web';
const CONFIG = `project: local-project
region: us-central1
pipelines:
  - name: web
    image: ${IMG}
    staging: { service: web-staging }
    live: { service: web }
    acceptance: { job: web-acceptance }
`;
const push = (n: number) =>
  JSON.stringify({
    message: {
      data: Buffer.from(
        JSON.stringify({ action: 'INSERT', digest: `${IMG}@sha256:${String(n).repeat(64)}` }),
      ).toString('base64'),
      messageId: String(n),
    },
    subscription: 'projects/local-project/subscriptions/runway-push',
  });

/** A Workflows Executions stub whose creates wait until the test lets them go. */
function slowWorkflows() {
  const held: ServerResponse[] = [];
  let onHeld = () => {};
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.method === 'GET') return void res.end('{"executions":[]}');
      held.push(res);
      onHeld();
    });
  });
  return {
    server,
    held: () =>
      new Promise<void>((r) => {
        if (held.length > 0) return r();
        onHeld = r;
      }),
    release: () => {
      for (const res of held.splice(0))
        res.end('{"name":"projects/p/locations/l/workflows/w/executions/e1","state":"ACTIVE"}');
    },
  };
}

function startDeployer(workflowsHost: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/deployer/main.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      GOOGLE_CLOUD_PROJECT: 'local-project',
      RUNWAY_REGION: 'us-central1',
      RUNWAY_CONFIG_YAML: CONFIG,
      RUNWAY_ALLOW_UNAUTHENTICATED_PUSH: 'true',
      PUBSUB_EMULATOR_HOST: '127.0.0.1:1',
      WORKFLOWS_EMULATOR_HOST: workflowsHost,
      PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: { re: RegExp; resolve: (l: Record<string, unknown>) => void }[] = [];
  let buf = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buf += chunk;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
      buf = buf.slice(i + 1);
      lines.push(line);
      for (const w of waiters.splice(0))
        if (w.re.test(String(line.message))) w.resolve(line);
        else waiters.push(w);
    }
  });
  const logged = (re: RegExp) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const seen = lines.find((l) => re.test(String(l.message)));
      if (seen) resolve(seen);
      else waiters.push({ re, resolve });
    });
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  return { child, logged, exited };
}

/** A request on a fresh connection (no pooled socket): resolves with the status or the error code. */
const probe = (port: number) =>
  new Promise<number | string>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end();
  });

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('deployer SIGTERM', () => {
  const cases = [
    { name: 'an in-flight push completes, then exit 0', inflight: true },
    { name: 'idle with a kept-alive connection: exit 0 at once', inflight: false },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const wf = slowWorkflows();
      await new Promise<void>((r) => wf.server.listen(0, '127.0.0.1', r));
      const d = startDeployer(`127.0.0.1:${(wf.server.address() as AddressInfo).port}`);
      children.push(d.child);
      try {
        const port = Number((await d.logged(/listening/)).port);
        const base = `http://127.0.0.1:${port}`;
        // fetch keeps its connection alive afterwards: draining must not wait for it.
        assert.equal((await fetch(`${base}/healthz`)).status, 200);
        let pushed: Promise<Response> | undefined;
        if (c.inflight) {
          pushed = fetch(`${base}/pubsub/artifact-registry`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: push(1),
          });
          await wf.held();
        }
        let t0 = performance.now();
        d.child.kill('SIGTERM');
        await d.logged(/SIGTERM: draining/);
        if (c.inflight) {
          assert.equal(await probe(port), 'ECONNREFUSED', 'no new connections while draining');
          assert.equal(d.child.exitCode, null, 'still running while a request is open');
          wf.release();
          assert.equal((await pushed!).status, 204, 'the in-flight push was answered');
          t0 = performance.now();
        }
        const exit = await d.exited;
        assert.deepEqual(exit, { code: 0, signal: null });
        // The client keeps its connection alive for seconds; the deployer must not wait for it.
        const waited = performance.now() - t0;
        assert.ok(waited < 1_500, `exited ${waited.toFixed(0)} ms after its last answer`);
      } finally {
        wf.release();
        wf.server.close();
      }
    });
  }

  test('a request still open after the grace period: connections cut, exit 0', async () => {
    const server = createServer(() => {
      // never answers
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const pending = probe(port);
    await new Promise((r) => server.once('connection', r));
    const exited = new Promise<number>((resolve) =>
      drainOnSigterm(server, silentLogger, resolve, 100),
    );
    process.emit('SIGTERM', 'SIGTERM');
    assert.equal(await exited, 0);
    assert.equal(await pending, 'ECONNRESET', 'the hung request was cut');
  });
});
