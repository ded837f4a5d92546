// The console's overview with 20 pipelines (an in-memory source, console/fake-source.ts, so what is
// timed is the console's own work): the time to answer GET / over a real socket, first request and
// median of the rest (target <= 300 ms), the render alone, and the page's weight gzipped: the
// overview's HTML, its script and its stylesheet (target <= 150 KB); and how long a change in the
// cloud takes to reach an open page as a server-sent event (target: within a second, the issue's
// "a release started from the CLI appears within a second"). The last line is one JSON object of
// all figures.
//   node --import tsx bench/console.bench.ts [--rounds N] [--pipelines N]
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { loadAssets } from '../console/assets.ts';
import { fakeSnapshot, fakeSource } from '../console/fake-source.ts';
import { cards } from '../console/model.ts';
import { overview } from '../console/pages.ts';
import { startConsole } from '../console/server.ts';

const { values } = parseArgs({
  options: { rounds: { type: 'string' }, pipelines: { type: 'string' } },
});
const rounds = Number(values.rounds ?? 31);
const count = Number(values.pipelines ?? 20);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

const snapshot = fakeSnapshot(count);
const assets = await loadAssets();
// pollMs 0: every request reads the source again, as a page load does after a while.
const ui = await startConsole({ source: fakeSource(snapshot), assets, pollMs: 0 });

async function get(path: string, gzip = true) {
  const started = performance.now();
  const res = await fetch(`${ui.url}${path}`, {
    headers: gzip ? { 'accept-encoding': 'gzip' } : { 'accept-encoding': 'identity' },
  });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`);
  return { ms: performance.now() - started, body };
}

const first = await get('/');
const times: number[] = [];
for (let i = 0; i < rounds; i++) times.push((await get('/')).ms);
const renders: number[] = [];
for (let i = 0; i < rounds; i++) {
  const started = performance.now();
  overview(
    cards(snapshot, () => snapshot.at.getTime()),
    snapshot.at.getTime(),
  );
  renders.push(performance.now() - started);
}
const page = (await get('/', false)).body;
const weights = {
  html: gzipSync(page).length,
  script: assets.files.get(assets.script)!.gzip.length,
  style: assets.files.get(assets.style)!.gzip.length,
};
const totalKb = (weights.html + weights.script + weights.style) / 1024;
await ui.close();

// A change seen live: a console polling as it does by default, one page's event stream open; the
// cloud's traffic split changes, and the time until the stream carries the new overview is timed.
const liveUi = await startConsole({ source: fakeSource(snapshot), assets });
const stream = await fetch(`${liveUi.url}/events?page=/`);
const reader = stream.body!.getReader();
const decoder = new TextDecoder();
let buffered = '';
/** The data of the next `live` event. */
async function nextLive(): Promise<string> {
  for (;;) {
    const end = buffered.indexOf('\n\n');
    if (end >= 0) {
      const frame = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (frame.startsWith('event: live'))
        return frame
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
      continue;
    }
    const { value, done } = await reader.read();
    if (done) throw new Error('the event stream ended');
    buffered += decoder.decode(value, { stream: true });
  }
}
await nextLive();
const seen: number[] = [];
const moving = snapshot.services.find((s) => s.revisions.length >= 2)!;
for (let i = 1; i <= 9; i++) {
  const candidate = 50 + i * 5;
  moving.revisions[0]!.percent = 100 - candidate;
  moving.revisions[1]!.percent = candidate;
  const changed = performance.now();
  while (!(await nextLive()).includes(`data-percent="${candidate}"`));
  seen.push(performance.now() - changed);
}
await reader.cancel();
await liveUi.close();

const figures = {
  pipelines: count,
  overview_first_ms: round(first.ms),
  overview_median_ms: round(median(times)),
  overview_target_ms: 300,
  overview_met: median(times) <= 300 && first.ms <= 300,
  render_median_ms: round(median(renders), 3),
  page_bytes_raw: page.length,
  page_gzip_bytes: weights,
  page_gzip_kb: round(totalKb),
  page_target_kb: 150,
  page_met: totalKb <= 150,
  change_seen_median_ms: round(median(seen)),
  change_seen_max_ms: round(Math.max(...seen)),
  change_seen_target_ms: 1000,
  change_seen_met: Math.max(...seen) <= 1000,
};
console.log(
  `overview of ${count} pipelines over HTTP: first ${figures.overview_first_ms} ms, median ${figures.overview_median_ms} ms (target <= 300 ms); render alone ${figures.render_median_ms} ms`,
);
console.log(
  `page weight gzipped: HTML ${weights.html} B + script ${weights.script} B + style ${weights.style} B = ${figures.page_gzip_kb} KB (target <= 150 KB; ${page.length} B of HTML raw)`,
);
console.log(
  `a change in the cloud seen on an open page: median ${figures.change_seen_median_ms} ms, at most ${figures.change_seen_max_ms} ms of 9 (target <= 1000 ms)`,
);
console.log(JSON.stringify(figures));
