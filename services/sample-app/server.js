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

const server = createServer((req, res) => {
  const json = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const path = new URL(req.url ?? '/', 'http://app').pathname;
  if (path === '/healthz') return json(200, { status: 'ok' });
  if (path === '/version') return json(200, { version, revision: process.env.K_REVISION ?? null });
  if (path === '/') {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    return res.end(`hello from the runway sample app, version ${version}\n`);
  }
  return json(404, { error: 'not found' });
});

server.listen(port, () =>
  console.log(JSON.stringify({ severity: 'INFO', message: `listening on ${port}`, version })),
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
