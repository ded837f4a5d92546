// The local metadata server (what GCE_METADATA_HOST names): the endpoints google-auth-library and
// gcp-metadata call on Cloud Run (token, identity, email, project id and number, the recursive
// service-account directory), with the `Metadata-Flavor: Google` check and answer header.
//
// One server, many identities, one loopback port per service account. gcp-metadata builds its URL
// as `new URL('/computeMetadata/v1', 'http://' + GCE_METADATA_HOST)`, so any path in the variable
// is dropped, and it sends no header naming the caller: the port is the only part of the variable
// that reaches the server. Every port shares one handler and one issuer; two processes running as
// the same account share a port, as two instances of one account share their tokens on Google.
// Loopback is no security boundary: any local process may ask any port, as any process may use
// any local emulator.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer } from '../api-server.ts';
import { principalOf, type TokenIssuer } from './issuer.ts';

const BASE = '/computeMetadata/v1/';
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

export interface MetadataOptions {
  issuer: TokenIssuer;
  project: string;
  projectNumber: string;
  region: string;
}

/** One identity's answers: the account its port stands for. */
interface Identity {
  email: string;
  options: MetadataOptions;
}

class MetadataError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const notFound = () => new MetadataError(404, 'Not Found');

function send(res: ServerResponse, status: number, body: string, type: string): void {
  res
    .writeHead(status, {
      'metadata-flavor': 'Google',
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      server: 'Metadata Server for VM',
      'x-frame-options': 'SAMEORIGIN',
    })
    .end(body);
}

/** What a route answers with 200; errors are thrown as MetadataError. */
interface Answer {
  body: string;
  type: string;
}

const text = (body: string): Answer => ({ body, type: 'application/text' });
const json = (body: unknown): Answer => ({ body: JSON.stringify(body), type: 'application/json' });

/**
 * GCE refuses a request without `Metadata-Flavor: Google` (or the legacy
 * `X-Google-Metadata-Request: True`), and any request carrying `X-Forwarded-For`: a proxied
 * request may come from outside the VM.
 */
function checkHeaders(req: IncomingMessage): void {
  if (req.headers['x-forwarded-for'] !== undefined)
    throw new MetadataError(403, 'Request had an X-Forwarded-For header and is not allowed.');
  const flavor = req.headers['metadata-flavor'];
  const legacy = req.headers['x-google-metadata-request'];
  if (flavor === 'Google' || (flavor === undefined && legacy === 'True')) return;
  throw new MetadataError(
    403,
    'Your client does not have permission to get URL from this server. Missing Metadata-Flavor:Google header.',
  );
}

/** The account directory, as `service-accounts/default/?recursive=true` answers it. */
function accountJson(email: string) {
  return { aliases: ['default'], email, scopes: [CLOUD_PLATFORM] };
}

/** `service-accounts/{default|EMAIL}/…`; another account's name is not on this instance. */
function serviceAccount(id: Identity, rest: string, url: URL): Answer {
  const [account, leaf = '', ...more] = rest.split('/');
  if ((account !== 'default' && account !== id.email) || more.length) throw notFound();
  const { issuer } = id.options;
  switch (leaf) {
    case '':
      if (url.searchParams.get('recursive') === 'true') return json(accountJson(id.email));
      return text('aliases\nemail\nidentity\nscopes\ntoken\n');
    case 'email':
      return text(id.email);
    case 'aliases':
      return text('default');
    case 'scopes':
      return text(`${CLOUD_PLATFORM}\n`);
    case 'token': {
      const scopes = (url.searchParams.get('scopes') ?? CLOUD_PLATFORM)
        .split(/[,\s]+/)
        .filter(Boolean);
      const { token, expiresIn } = issuer.accessToken(principalOf(id.email), scopes);
      return json({ access_token: token, expires_in: expiresIn, token_type: 'Bearer' });
    }
    case 'identity': {
      const audience = url.searchParams.get('audience');
      if (!audience) throw new MetadataError(400, 'non-empty audience parameter required');
      return text(issuer.idToken(id.email, audience));
    }
    default:
      throw notFound();
  }
}

function project(id: Identity, leaf: string): Answer {
  if (leaf === 'project-id') return text(id.options.project);
  if (leaf === 'numeric-project-id') return text(id.options.projectNumber);
  if (leaf === '') return text('numeric-project-id\nproject-id\n');
  throw notFound();
}

function instance(id: Identity, rest: string, url: URL): Answer {
  const { projectNumber, region } = id.options;
  const dir = rest.replace(/\/$/, '');
  if (dir.startsWith('service-accounts/'))
    return serviceAccount(id, rest.slice('service-accounts/'.length), url);
  switch (dir) {
    case '':
      return text('id\nregion\nservice-accounts/\nzone\n');
    case 'service-accounts':
      if (url.searchParams.get('recursive') === 'true')
        return json({ default: accountJson(id.email), [id.email]: accountJson(id.email) });
      return text(`default/\n${id.email}/\n`);
    case 'region':
      return text(`projects/${projectNumber}/regions/${region}`);
    case 'zone':
      return text(`projects/${projectNumber}/zones/${region}-1`);
    case 'id':
      return text('0000000000000000000');
    default:
      // attributes/cluster-name among others: not GKE, as on Cloud Run.
      throw notFound();
  }
}

function route(id: Identity, req: IncomingMessage): Answer {
  const url = new URL(req.url ?? '/', 'http://metadata.google.internal');
  checkHeaders(req);
  if (req.method !== 'GET') throw new MetadataError(405, 'Method Not Allowed');
  if (url.pathname === '/' || url.pathname === '/computeMetadata/') {
    return text(url.pathname === '/' ? 'computeMetadata/\n' : 'v1/\n');
  }
  if (!`${url.pathname}/`.startsWith(BASE)) throw notFound();
  const path = url.pathname.slice(BASE.length).replace(/\/$/, '');
  const [top = '', ...rest] = path.split('/');
  const tail = rest.join('/') + (url.pathname.endsWith('/') && rest.length ? '/' : '');
  switch (top) {
    case '':
      return text('instance/\nproject/\nuniverse/\n');
    case 'instance':
      return instance(id, tail, url);
    case 'project':
      return project(id, tail.replace(/\/$/, ''));
    case 'universe':
      if (tail === 'universe-domain') return text('googleapis.com');
      throw notFound();
    default:
      throw notFound();
  }
}

/** Serves every identity's port; `envFor` opens an account's port the first time it is asked. */
export class MetadataServer {
  readonly #ports = new Map<string, Promise<{ server: Server; host: string }>>();
  #closed = false;

  constructor(readonly options: MetadataOptions) {}

  /** `127.0.0.1:PORT`, the GCE_METADATA_HOST of a process running as `email`. */
  async hostFor(email: string): Promise<string> {
    if (this.#closed) throw new Error('the metadata server is closed');
    let port = this.#ports.get(email);
    if (!port) {
      port = this.#listen({ email, options: this.options });
      this.#ports.set(email, port);
    }
    return (await port).host;
  }

  /**
   * The variables that point google-auth-library at this account's port. gcp-metadata reads
   * GCE_METADATA_IP before GCE_METADATA_HOST, so both are set, to the same address.
   */
  async envFor(email: string): Promise<Record<string, string>> {
    const host = await this.hostFor(email);
    return { GCE_METADATA_HOST: host, GCE_METADATA_IP: host };
  }

  async #listen(id: Identity): Promise<{ server: Server; host: string }> {
    const server = createServer((req, res) => {
      try {
        const answer = route(id, req);
        send(res, 200, answer.body, answer.type);
      } catch (err) {
        const e = err instanceof MetadataError ? err : new MetadataError(500, String(err));
        send(res, e.status, `${e.message}\n`, 'text/plain; charset=utf-8');
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = server.address() as AddressInfo;
    return { server, host: `127.0.0.1:${port}` };
  }

  /** The accounts that have a port, for status and tests. */
  accounts(): string[] {
    return [...this.#ports.keys()];
  }

  async close(): Promise<void> {
    this.#closed = true;
    const ports = [...this.#ports.values()];
    this.#ports.clear();
    await Promise.all(
      ports.map((p) => p.then(({ server }) => closeServer(server)).catch(() => {})),
    );
  }
}
