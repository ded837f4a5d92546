// The service runway's demo releases: a dependency-free HTTP app that honours Cloud Run's
// container contract ($PORT, SIGTERM) so the same directory runs on Cloud Run and in the local cloud.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const here = new URL('.', import.meta.url);
const version = (() => {
  try {
    return readFileSync(new URL('VERSION', here), 'utf8').trim();
  } catch {
    return process.env.APP_VERSION ?? 'dev';
  }
})();
const port = Number(process.env.PORT ?? 8080);

/**
 * Knobs for tests and demos of canary analysis, read from the environment (a Dockerfile's ENV or
 * the revision's env): ERROR_RATE (0..1) of the home page's answers are 500s, spread evenly (every
 * other request at 0.5), so a test sees the rate it set; LATENCY_MS delays every answer but the
 * health check's; ERRORS_AFTER_SECONDS holds the errors back until that long after start, so a
 * release passes its acceptance and then fails live; CRASH_AFTER_SECONDS (above 0) makes the
 * process exit 1 that long after start, as a crashing instance does.
 */
function knobs(env) {
  const number = (name, min, max) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return min;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new Error(`${name}=${JSON.stringify(raw)}: must be a number in ${min}..${max}`);
    return n;
  };
  return {
    errorRate: number('ERROR_RATE', 0, 1),
    latencyMs: number('LATENCY_MS', 0, 60_000),
    errorsAfterMs: number('ERRORS_AFTER_SECONDS', 0, 86_400) * 1000,
    crashAfterMs: number('CRASH_AFTER_SECONDS', 0, 86_400) * 1000,
  };
}

const { errorRate, latencyMs, errorsAfterMs, crashAfterMs } = knobs(process.env);
if (crashAfterMs > 0)
  setTimeout(() => {
    console.error(
      JSON.stringify({ severity: 'ERROR', message: 'crashing on purpose (CRASH_AFTER_SECONDS)' }),
    );
    process.exit(1);
  }, crashAfterMs).unref();
const started = Date.now();
let served = 0;
/** Whether this home-page answer is an error: ERROR_RATE of them, evenly spread. */
const failing = () => {
  if (errorRate === 0 || Date.now() - started < errorsAfterMs) return false;
  served += 1;
  return Math.floor(served * errorRate) > Math.floor((served - 1) * errorRate);
};

const server = createServer((req, res) => {
  const json = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const path = new URL(req.url ?? '/', 'http://app').pathname;
  if (path === '/healthz') return json(200, { status: 'ok' });
  if (path === '/version') return json(200, { version, revision: process.env.K_REVISION ?? null });
  if (path === '/') {
    const answer = () => {
      if (failing()) return json(500, { error: 'failing on purpose (ERROR_RATE)' });
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`hello from the runway sample app, version ${version}\n`);
    };
    return latencyMs > 0 ? setTimeout(answer, latencyMs) : answer();
  }
  return json(404, { error: 'not found' });
});

server.listen(port, () =>
  console.log(JSON.stringify({ severity: 'INFO', message: `listening on ${port}`, version })),
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
