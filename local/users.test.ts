// The local users over real sockets: a Run API that knows one live service (after a while), and
// that service counting the requests it gets.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { loopbackServer } from '../test/helpers/loopback.ts';
import { parsePipelineConfig } from '../services/shared/pipeline-config.ts';
import { startUsers } from './users.ts';

let served = 0;
let known = false;
const app = loopbackServer(
  createServer((_req, res) => {
    served++;
    res.end('ok');
  }),
);
const api = loopbackServer(
  createServer((req, res) => {
    if (!known || !req.url?.endsWith('/services/web')) {
      res.writeHead(404).end('{}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ uri: app() }));
  }),
);
const config = parsePipelineConfig(
  `project: demo-project
region: us-central1
pipelines:
  - name: web
    image: us-central1-docker.pkg.dev/demo-project/apps/web
    staging: { service: web-staging }
    live: { service: web }
    acceptance: { job: web-acceptance }
`,
  'runway.yaml',
);

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('users call each live service at their rate, once it exists, and stop when told', async () => {
  served = 0;
  known = true;
  const users = startUsers({ config, run: api(), project: 'p', region: 'r', perSecond: 200 });
  await settle(500);
  await users.stop();
  await settle(50);
  // About 100 at 200/s over 0.5 s; a loaded machine's timers fire late, not the count.
  assert.ok(users.sent >= 60 && users.sent <= 110, `sent ${users.sent}`);
  // Stopping abandons what is in flight: the service may have counted a request not read back.
  assert.ok(
    users.answered <= served && served <= users.sent,
    `${users.answered} <= ${served} <= ${users.sent}`,
  );
  const after = served;
  await settle(100);
  assert.equal(served, after, 'nothing after stop');
});

test('a rate of 0 sends nothing; a service that does not exist yet is looked up again', async () => {
  served = 0;
  known = false;
  const none = startUsers({ config, run: api(), project: 'p', region: 'r', perSecond: 0 });
  const waiting = startUsers({ config, run: api(), project: 'p', region: 'r', perSecond: 100 });
  await settle(200);
  assert.equal(waiting.sent, 0, 'no service, no requests');
  known = true; // deployed by a first release: found at the next look, a second on
  await settle(1_300);
  await Promise.all([none.stop(), waiting.stop()]);
  assert.ok(waiting.sent > 0, 'found once it exists');
  assert.equal(none.sent, 0);
});

const asked: string[] = [];
const regional = loopbackServer(
  createServer((req, res) => {
    asked.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ uri: app() }));
  }),
);

test('a pipeline in several regions: users call its live service in each', async () => {
  const global = parsePipelineConfig(
    `project: demo-project
region: us-central1
pipelines:
  - name: web
    image: us-central1-docker.pkg.dev/demo-project/apps/web
    staging: { service: web-staging }
    live: { service: web, regions: [us-central1, europe-west1] }
    acceptance: { job: web-acceptance }
`,
    'runway.yaml',
  );
  const users = startUsers({
    config: global,
    run: regional(),
    project: 'p',
    region: 'us-central1',
    perSecond: 50,
  });
  await settle(200);
  await users.stop();
  assert.deepEqual([...new Set(asked)].sort(), [
    '/v2/projects/p/locations/europe-west1/services/web',
    '/v2/projects/p/locations/us-central1/services/web',
  ]);
});
