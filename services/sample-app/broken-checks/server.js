// A build that starts and listens, but fails the acceptance checks: its health route is broken.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://app').pathname;
  if (path === '/version') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ version: 'broken-checks' }));
  }
  res.writeHead(500, { 'content-type': 'text/plain' });
  res.end('internal error\n');
});
server.listen(port);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
