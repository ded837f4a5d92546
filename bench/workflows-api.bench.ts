// The Executions API under load on loopback: 1,000 concurrent executions of a small workflow
// (target: all complete, RSS <= 300 MB), cancel latency (target <= 100 ms), and 10,000 malformed
// requests answered with Google-shaped 400s while the server keeps serving. Bounded in count.
// The last line is one JSON object of all figures.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startExecutionsServer } from '../local/workflows/api/server.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const dir = mkdtempSync(join(tmpdir(), 'runway-bench-'));
writeFileSync(
  join(dir, 'small.yaml'),
  'main:\n  params: [args]\n  steps:\n    - wait:\n        call: sys.sleep\n        args: {seconds: 0.2}\n    - r:\n        return: ${args.n * 2}\n',
);
writeFileSync(join(dir, 'forever.yaml'), '- s:\n    call: sys.sleep\n    args: {seconds: 3600}\n');
const server = await startExecutionsServer({ dir, project: 'p', location: 'us-central1' });
const parent = `${server.url}/v1/projects/p/locations/us-central1/workflows`;
const post = (path: string, body: string) =>
  fetch(`${parent}/${path}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
  });

// 1,000 concurrent executions.
const t0 = performance.now();
const created = await Promise.all(
  Array.from(
    { length: 1000 },
    async (_, n) =>
      (
        (await (
          await post('small/executions', JSON.stringify({ argument: JSON.stringify({ n }) }))
        ).json()) as { name: string }
      ).name,
  ),
);
let peakRss = process.memoryUsage().rss;
let done = 0;
while (done < created.length) {
  done = 0;
  for (let i = 0; i < created.length; i += 50) {
    const states = await Promise.all(
      created
        .slice(i, i + 50)
        .map(
          async (name) =>
            ((await (await fetch(`${server.url}/v1/${name}`)).json()) as { state: string }).state,
        ),
    );
    done += states.filter((s) => s === 'SUCCEEDED').length;
  }
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  if (performance.now() - t0 > 60_000)
    throw new Error(`only ${done} of 1000 executions finished in 60 s`);
}
const concurrentMs = performance.now() - t0;
console.log(
  `1000 concurrent executions done in ${concurrentMs.toFixed(0)} ms, peak RSS ${(peakRss / 1e6).toFixed(0)} MB`,
);

// Cancel latency.
const cancels: number[] = [];
for (let i = 0; i < 20; i++) {
  const { name } = (await (await post('forever/executions', '{}')).json()) as { name: string };
  const c0 = performance.now();
  const res = (await (
    await fetch(`${server.url}/v1/${name}:cancel`, { method: 'POST' })
  ).json()) as { state: string };
  cancels.push(performance.now() - c0);
  if (res.state !== 'CANCELLED') throw new Error(`cancel answered ${res.state}`);
}
console.log(`cancel latency median ${median(cancels).toFixed(2)} ms`);

// 10,000 malformed requests.
const bad = ['{', '[]', '{"argument": 5}', '{"argument": "{nope"}', 'x'.repeat(100)];
let google400 = 0;
const m0 = performance.now();
for (let i = 0; i < 10_000; i += 100) {
  const answers = await Promise.all(
    Array.from({ length: 100 }, async (_, j) => {
      const res = await post('small/executions', bad[(i + j) % bad.length]!);
      const body = (await res.json()) as { error?: { code?: number; status?: string } };
      return (
        res.status === 400 && body.error?.code === 400 && body.error.status === 'INVALID_ARGUMENT'
      );
    }),
  );
  google400 += answers.filter(Boolean).length;
}
const malformedMs = performance.now() - m0;
const after = (await post('small/executions', JSON.stringify({ argument: '{"n": 1}' }))).status;
console.log(
  `${google400} of 10000 malformed requests got Google-shaped 400s in ${malformedMs.toFixed(0)} ms; a good request then answered ${after}`,
);
await server.close();
console.log(
  JSON.stringify({
    concurrentExecutions: 1000,
    concurrentMs: Math.round(concurrentMs),
    peakRssMb: Math.round(peakRss / 1e6),
    rssTargetMb: 300,
    cancelMsMedian: Number(median(cancels).toFixed(2)),
    cancelTargetMs: 100,
    malformedRequests: 10_000,
    malformedGoogle400s: google400,
    servingAfterMalformed: after === 200,
  }),
);
