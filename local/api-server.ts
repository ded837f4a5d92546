// What every API of the local cloud shares: JSON request bodies read with a size cap, handlers
// whose throws become Google-shaped errors, and a server listening on loopback.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { invalidArgument, RunwayError, sendGoogleError } from '../services/shared/errors.ts';

/** Reads a body of any type. An oversized body is read to its end (and dropped) so the client sees the 413, not a reset. */
export async function readRawBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= maxBytes) chunks.push(chunk as Buffer);
    else if (size > 4 * maxBytes) req.destroy();
  }
  if (size > maxBytes) {
    throw new RunwayError('INVALID_ARGUMENT', `request body is larger than ${maxBytes} bytes`, {
      httpStatus: 413,
    });
  }
  return Buffer.concat(chunks);
}

/** Reads a JSON object body (an empty body is `{}`), capped like readRawBody. */
export async function readJsonBody(
  req: IncomingMessage,
  maxBytes: number,
): Promise<Record<string, unknown>> {
  const raw = await readRawBody(req, maxBytes);
  if (raw.length === 0) return {};
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw invalidArgument('request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidArgument('request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/** Answers 200 with a JSON body. */
export function sendJson(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res
    .writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    })
    .end(text);
}

/** Starts an HTTP server on loopback whose handler errors are answered Google-shaped. */
export async function serveApi(
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  options: { host?: string; port?: number } = {},
): Promise<{ server: Server; host: string; url: string }> {
  const server = createServer((req, res) => {
    handler(req, res).catch((err) => sendGoogleError(res, err));
  });
  // Longer than a client's idle keep-alive sockets live (Node's agents: 5 s, the same as a
  // server's default), so the server never closes a socket just as a client reuses it: that race
  // answered a command ECONNRESET now and then. Google's front ends keep idle connections longer.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const addr = server.address() as AddressInfo;
  const host = `${addr.address}:${addr.port}`;
  return { server, host, url: `http://${host}` };
}

/** Stops listening and drops open connections, resolving once the server has closed. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
