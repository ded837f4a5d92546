// A test server for one suite: listening on 127.0.0.1:0 before its tests, closed after them.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before } from 'node:test';

/** Returns the server's base URL, known once the suite's `before` has run. */
export function loopbackServer(server: Server): () => string {
  let base = '';
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return () => base;
}
