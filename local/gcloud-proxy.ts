// The local cloud's forward proxy for gcloud. `gcloud run` puts the region in front of its
// endpoint's host name (http://127.0.0.1:PORT/ becomes http://us-central1-127.0.0.1:PORT/), a name
// no resolver knows. Through an HTTP proxy gcloud resolves nothing: it sends the whole URL here,
// and this proxy sends it to 127.0.0.1:PORT with the Host header intact, so the local Cloud Run
// reads the region from it. gcloud's proxy setting covers every request it makes, so any loopback
// endpoint is forwarded; any other host is refused, so a command meant for the local cloud never
// reaches Google with a made-up token.
import {
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { RunwayError, sendGoogleError } from '../services/shared/errors.ts';
import { closeServer } from './api-server.ts';

export interface GcloudProxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  close(): Promise<void>;
}

// A Cloud Run region (`us-central1`, `northamerica-northeast1`) and a hyphen, as gcloud prefixes.
const REGION_PREFIX = /^[a-z]+-[a-z]+[0-9]+-/;

/**
 * Where a proxied request for `host` goes: 127.0.0.1 for a loopback name (`localhost`,
 * `127.0.0.1`, `[::1]`, `*.localhost`), with or without a region in front; null for any other.
 */
export function loopbackTarget(hostname: string): string | null {
  const name = hostname.toLowerCase().replace(REGION_PREFIX, '');
  if (name === 'localhost' || name.endsWith('.localhost') || name === '127.0.0.1')
    return '127.0.0.1';
  if (name === '[::1]' || name === '::1') return '::1';
  return null;
}

const refused = (host: string) =>
  new RunwayError(
    'PERMISSION_DENIED',
    `runway's gcloud proxy forwards only to the local cloud on this machine, not to ${host.slice(0, 200)}; unset CLOUDSDK_PROXY_TYPE, CLOUDSDK_PROXY_ADDRESS and CLOUDSDK_PROXY_PORT (a new shell) to reach Google`,
  );

// An absolute-form target, read by hand: WHATWG's URL refuses `us-central1-127.0.0.1` (a name whose
// last label is a number must be an IPv4 address), the very host gcloud run sends.
const ABSOLUTE = /^http:\/\/(\[[^\]/]+\]|[^/:?#]+)(?::(\d{1,5}))?([/?][^#]*)?$/i;

function forward(req: IncomingMessage, res: ServerResponse): void {
  const m = ABSOLUTE.exec(req.url ?? '');
  if (!m) {
    req.resume();
    const https = /^https:/i.test(req.url ?? '');
    sendGoogleError(
      res,
      https
        ? refused(String(req.url).slice(0, 200))
        : new RunwayError(
            'INVALID_ARGUMENT',
            `runway's gcloud proxy takes proxied http:// requests (an absolute URL), not ${String(req.url).slice(0, 200)}`,
          ),
    );
    return;
  }
  const [, hostname = '', port = '80', rest = '/'] = m;
  const host = m[2] ? `${hostname}:${port}` : hostname;
  const address = loopbackTarget(hostname);
  if (!address) {
    req.resume();
    sendGoogleError(res, refused(host));
    return;
  }
  const upstream = request(
    {
      host: address,
      port: Number(port),
      method: req.method,
      path: rest.startsWith('/') ? rest : `/${rest}`,
      headers: { ...req.headers, host },
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', (err) => {
    if (res.headersSent) res.destroy();
    else
      sendGoogleError(
        res,
        new RunwayError('UNAVAILABLE', `the local endpoint ${host} did not answer: ${err.message}`),
      );
  });
  req.pipe(upstream);
}

/** CONNECT to a loopback port becomes a tunnel (an https override); any other host is refused. */
function tunnel(req: IncomingMessage, client: Socket, head: Buffer, open: Set<Socket>): void {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(req.url ?? '');
  const address = m ? loopbackTarget(m[1]!) : null;
  if (!m || !address) {
    client.end(
      `HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n\r\n${refused(req.url ?? '').message}\n`,
    );
    return;
  }
  const upstream = connect(Number(m[2]), address, () => {
    open.add(client).add(upstream);
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'));
  client.on('error', () => upstream.destroy());
  for (const s of [client, upstream]) s.on('close', () => open.delete(s));
}

export async function startGcloudProxy(options: { port?: number } = {}): Promise<GcloudProxy> {
  const server: Server = createServer(forward);
  // Tunnels are no longer the server's connections: closing stops them by hand.
  const open = new Set<Socket>();
  server.on('connect', (req, client, head) => tunnel(req, client as Socket, head, open));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      for (const s of open) s.destroy();
      await closeServer(server);
    },
  };
}
