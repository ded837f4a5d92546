// A build with the classic mistake: it listens on 8000 instead of $PORT, so it never becomes ready.
import { createServer } from 'node:http';

const server = createServer((_req, res) => res.end('ok\n'));
server.listen(8000, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
