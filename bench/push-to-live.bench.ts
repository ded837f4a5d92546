// Push to live on a warm local stack, real time (no time scaling), direct promotion and one
// trivial check (target <= 3 s median), with the breakdown by stage:
//   registry     `local push` of the sample app: snapshot, digest, notification published
//   pubsub       publish to the push reaching a subscriber (a second push subscription on `gcr`
//                to a receiver in this process measures it)
//   deployer     the rest until the execution exists: token/envelope checks, starting the workflow
//   engine       the workflow's own time outside the stages below (validation, claim, report)
//   staging      staging revision deployed and ready
//   job          the acceptance job run
//   live         live revision deployed, ready, traffic and annotations written
// Medians over several releases of distinct builds. The last line is one JSON object of all figures.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sampleVersion } from '../local/demo-scenarios.ts';
import { ensureSubscription } from '../local/pubsub/index.ts';
import { startStack, TOPIC } from '../local/stack.ts';
import { waitForRelease } from '../local/watch.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Math.round(x);

const work = await mkdtemp(join(tmpdir(), 'runway-bench-p2l-'));
const config = join(work, 'runway.yaml');
await writeFile(
  config,
  `project: local-project
region: us-central1
pipelines:
  - name: bench
    image: us-central1-docker.pkg.dev/local-project/apps/bench-app
    staging: { service: bench-staging }
    live: { service: bench }
    acceptance:
      job: bench-acceptance
      checks:
        - name: health
          request: { path: /healthz }
          expect: { status: 200 }
    promotion: { strategy: direct }
`,
);
const stack = await startStack({ config, home: join(work, 'home') });

// A second subscriber on gcr, to time Pub/Sub's own delivery.
const arrivals = new Map<string, number>();
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    const at = performance.now();
    try {
      const data = JSON.parse(Buffer.from(JSON.parse(body).message.data, 'base64').toString()) as {
        digest: string;
      };
      if (!arrivals.has(data.digest)) arrivals.set(data.digest, at);
    } catch {}
    res.writeHead(204).end();
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
await ensureSubscription(stack.pubsub.url, stack.info.project, 'bench-timer', {
  topic: TOPIC,
  pushEndpoint: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`,
});

const rows: Record<string, number>[] = [];
const runs = 7;
for (let i = 0; i <= runs; i++) {
  const dir = await sampleVersion(`${i}.0.0`);
  const t0 = performance.now();
  const wall0 = Date.now();
  const pushed = await stack.registry.push(dir, `${stack.config.pipelines[0]!.image}:v${i}`);
  const t1 = performance.now();
  const run = await waitForRelease(stack.info, pushed.digest, { pollMs: 5 });
  const total = performance.now() - t0;
  if (run.result?.outcome !== 'PROMOTED') throw new Error(`release ${i}: ${JSON.stringify(run)}`);
  const executions = await fetch(
    `${stack.info.workflows}/v1/projects/${stack.info.project}/locations/${stack.info.region}/workflows/runway-release/executions?view=FULL&filter=${encodeURIComponent(`labels.digest="${pushed.digest.slice(7, 19)}"`)}`,
  ).then((r) => r.json() as Promise<{ executions: { startTime: string; endTime: string }[] }>);
  const e = executions.executions[0]!;
  const started = Date.parse(e.startTime) - wall0; // since the push began, wall clock
  const stage = (name: string) => {
    const s = run.result!.stages.find((x) => x.name === name);
    return s?.end ? Date.parse(s.end) - Date.parse(s.start) : 0;
  };
  const pubsub = (arrivals.get(pushed.digestRef) ?? t1) - t1;
  const staging = stage('staging');
  const job = stage('test');
  const live = stage('promote');
  const execution = Date.parse(e.endTime) - Date.parse(e.startTime);
  if (i === 0) continue; // the first release creates the services: not a warm one
  rows.push({
    total,
    registry: t1 - t0,
    pubsub,
    // Pub/Sub pushes to both subscriptions at about the same time; what is left after the
    // receiver's delivery is the deployer's share (0 when its push arrived first).
    pubsub_and_deployer: started - (t1 - t0),
    deployer: Math.max(0, started - (t1 - t0) - pubsub),
    engine: Math.max(0, execution - staging - job - live),
    staging,
    job,
    live,
    execution,
  });
  await rm(dir, { recursive: true, force: true });
}
await stack.close();
receiver.close();
await rm(work, { recursive: true, force: true });

const figures = Object.fromEntries(
  Object.keys(rows[0]!).map((k) => [`${k}_ms_median`, round(median(rows.map((r) => r[k]!)))]),
);
figures.releases = rows.length;
console.log(
  `push to live (direct, one check, real time, warm stack): ${figures.total_ms_median} ms median over ${rows.length} releases (target <= 3000 ms)`,
);
for (const k of [
  'registry',
  'pubsub',
  'deployer',
  'pubsub_and_deployer',
  'engine',
  'staging',
  'job',
  'live',
]) {
  console.log(`  ${k.padEnd(20)} ${String(figures[`${k}_ms_median`]).padStart(5)} ms`);
}
console.log(JSON.stringify({ pubsub: stack.info.pubsubKind, ...figures }));
