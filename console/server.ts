// The runway console: a web app on 127.0.0.1 that shows pipelines, releases, history and logs, and
// answers gates, aborts and rolls back through the same code as the CLI. Pages are rendered on the
// server (pages.ts); one script applies live updates, sent as server-sent events whenever a page's
// fragment changes. No token of the cloud ever reaches the page: the server holds the clients.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { UsageError } from '../cli/args.ts';
import type { ExecutionView } from '../cli/cloud.ts';
import type { LogSelection } from '../cli/commands/logs.ts';
import { Refused } from '../cli/exit.ts';
import type { AssetSet } from './assets.ts';
import { escapeHtml, type Html } from './html.ts';
import { cards, historyModel, releaseModel, rollbackAction, type Snapshot } from './model.ts';
import * as pages from './pages.ts';
import {
  allowedHosts,
  checkHost,
  checkSameOrigin,
  parseActionForm,
  Refusal,
  readBody,
  Sessions,
  sessionCookie,
  sessionOf,
  TOKEN_HEADER,
} from './security.ts';
import type { ConsoleSource } from './source.ts';

export interface ConsoleOptions {
  source: ConsoleSource;
  assets: AssetSet;
  /** How often live pages re-read the cloud while someone watches (default 300 ms). */
  pollMs?: number;
  now?: () => number;
}

interface Page {
  status: number;
  title: string;
  body: Html;
}

interface Route {
  method: 'GET' | 'POST';
  path: RegExp;
  handle: (c: Call, match: RegExpExecArray) => Promise<void>;
}

interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  session: string;
}

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const HISTORY_LIMIT = 100;

const SECURITY_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

export class ConsoleApp {
  readonly #source: ConsoleSource;
  readonly #assets: AssetSet;
  readonly #pollMs: number;
  readonly #now: () => number;
  readonly #sessions = new Sessions();
  #hosts = new Set<string>();
  #snapshot: { at: number; value: Promise<Snapshot> } | null = null;
  /** When each split of a running release was first seen (the bake countdown). */
  readonly #steps = new Map<string, number>();
  /** Executions that ended, which do not change again. */
  readonly #ended = new Map<string, ExecutionView>();
  readonly #streams = new Set<ServerResponse>();

  readonly #routes: Route[] = [
    { method: 'GET', path: /^\/$/, handle: (c) => this.#page(c) },
    { method: 'GET', path: /^\/pipelines\/[^/]+$/, handle: (c) => this.#page(c) },
    { method: 'GET', path: /^\/releases\/[^/]+$/, handle: (c) => this.#page(c) },
    { method: 'GET', path: /^\/logs$/, handle: (c) => this.#page(c) },
    { method: 'GET', path: /^\/events$/, handle: (c) => this.#events(c) },
    {
      method: 'GET',
      path: /^\/assets\/([A-Za-z0-9_.-]+)$/,
      handle: (c, m) => this.#asset(c, m[1]!),
    },
    {
      method: 'GET',
      path: /^\/healthz$/,
      handle: async (c) => this.#send(c, 200, 'text/plain', 'ok'),
    },
    { method: 'POST', path: /^\/actions$/, handle: (c) => this.#action(c) },
  ];

  constructor(options: ConsoleOptions) {
    this.#source = options.source;
    this.#assets = options.assets;
    this.#pollMs = options.pollMs ?? 300;
    this.#now = options.now ?? Date.now;
  }

  /** The port it listens on: only Host headers naming it are answered. */
  listeningOn(port: number): void {
    this.#hosts = allowedHosts(port);
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    void this.#dispatch(req, res).catch((err) => {
      if (!res.headersSent) this.#error(req, res, err);
      else res.destroy();
    });
  };

  async #dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    checkHost(req, this.#hosts);
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const routes = this.#routes.filter((r) => r.path.test(url.pathname));
    if (routes.length === 0) throw new Refusal(404, `no page at ${url.pathname}`);
    const route = routes.find((r) => r.method === req.method);
    if (!route) {
      res.setHeader('allow', routes.map((r) => r.method).join(', '));
      throw new Refusal(405, `${req.method} is not allowed on ${url.pathname}`);
    }
    let session = sessionOf(req);
    if (!session) {
      session = this.#sessions.create();
      res.setHeader('set-cookie', sessionCookie(session));
    }
    await route.handle({ req, res, url, session }, route.path.exec(url.pathname)!);
  }

  #error(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const status =
      err instanceof Refusal
        ? err.status
        : err instanceof Refused
          ? 409
          : err instanceof UsageError
            ? 400
            : 502;
    const message = err instanceof Error ? err.message : String(err);
    if ((req.headers.accept ?? '').includes('application/json'))
      this.#send({ req, res }, status, 'application/json', JSON.stringify({ error: message }));
    else
      this.#send(
        { req, res },
        status,
        'text/html; charset=utf-8',
        `<!doctype html><html lang="en"><title>runway console: ${status}</title><h1>${status}</h1><p>${escapeHtml(message)}</p><p><a href="/">Back to the pipelines</a></p></html>`,
      );
  }

  #send(
    c: Pick<Call, 'req' | 'res'>,
    status: number,
    type: string,
    body: string | Buffer,
    headers: Record<string, string> = {},
  ): void {
    const gzip = /\bgzip\b/.test(String(c.req.headers['accept-encoding'] ?? ''));
    const raw = typeof body === 'string' ? Buffer.from(body) : body;
    const out = gzip && raw.length > 512 ? gzipSync(raw) : raw;
    c.res.writeHead(status, {
      ...SECURITY_HEADERS,
      'content-type': type,
      'cache-control': 'no-cache',
      ...(out !== raw ? { 'content-encoding': 'gzip', vary: 'accept-encoding' } : {}),
      ...headers,
      'content-length': String(out.length),
    });
    c.res.end(c.req.method === 'HEAD' ? undefined : out);
  }

  /** The cloud as of at most half a poll ago; one read at a time, shared by every page. */
  snapshot(): Promise<Snapshot> {
    const now = this.#now();
    if (this.#snapshot && now - this.#snapshot.at < this.#pollMs / 2) return this.#snapshot.value;
    const value = this.#source.snapshot();
    this.#snapshot = { at: now, value };
    value.catch(() => {
      if (this.#snapshot?.value === value) this.#snapshot = null;
    });
    return value;
  }

  #clock = (key: string): number => {
    let since = this.#steps.get(key);
    if (since === undefined) {
      if (this.#steps.size > 1000) this.#steps.clear();
      since = this.#now();
      this.#steps.set(key, since);
    }
    return since;
  };

  async #execution(s: Snapshot, id: string): Promise<ExecutionView | null> {
    const seen = s.executions.find((e) => e.id === id) ?? this.#ended.get(id);
    if (seen) return seen;
    const e = await this.#source.execution(id);
    if (e && e.state !== 'ACTIVE' && e.state !== 'QUEUED') {
      if (this.#ended.size > 500) this.#ended.clear();
      this.#ended.set(id, e);
    }
    return e;
  }

  /** The page at a path (and query): status, title, the live fragment. */
  async render(path: string): Promise<Page> {
    const url = new URL(path, 'http://console.invalid');
    const s = await this.snapshot();
    const now = this.#now();
    const part = url.pathname.split('/').map(decodeURIComponent);
    if (url.pathname === '/')
      return { status: 200, title: 'Pipelines', body: pages.overview(cards(s, this.#clock), now) };
    if (part[1] === 'releases' && part[2]) {
      const e = await this.#execution(s, part[2]);
      if (!e)
        return {
          status: 404,
          title: 'Not found',
          body: pages.notFound(`No execution ${part[2]} of the release workflow.`),
        };
      const m = releaseModel(s, e);
      return {
        status: 200,
        title: `${m.kind} ${m.id.slice(0, 8)} of ${m.pipeline}`,
        body: pages.release(m, now, s.timeScale),
      };
    }
    if (part[1] === 'pipelines' && part[2]) {
      const name = part[2];
      const outcome = url.searchParams.get('outcome') || null;
      if (outcome !== null && !(pages.OUTCOMES as readonly string[]).includes(outcome))
        throw new Refusal(400, `outcome must be one of ${pages.OUTCOMES.join(', ')}`);
      const p = s.pipelines.find((x) => x.name === name);
      if (!p)
        return { status: 404, title: 'Not found', body: pages.notFound(`No pipeline ${name}.`) };
      const rows = historyModel(await this.#source.history(name, HISTORY_LIMIT), outcome);
      return {
        status: 200,
        title: `History of ${name}`,
        body: pages.history(name, rows, outcome, p.digest, rollbackAction(p)),
      };
    }
    throw new Refusal(404, `no page at ${url.pathname}`);
  }

  async #page(c: Call): Promise<void> {
    const path = c.url.pathname + c.url.search;
    const s = await this.snapshot();
    const page = c.url.pathname === '/logs' ? await this.#logsPage(c.url) : await this.render(path);
    const doc = pages.layout({
      title: page.title,
      path,
      token: this.#sessions.token(c.session),
      assets: this.#assets,
      snapshot: s,
      body: page.body,
    });
    this.#send(c, page.status, 'text/html; charset=utf-8', doc.text);
  }

  async #logsPage(url: URL): Promise<Page> {
    const view = await this.#source.logs(logSelection(url));
    const lines = await view.read();
    return {
      status: 200,
      title: `Logs of ${view.what}`,
      body: pages.logs(view.what, lines.slice(-2000), view.note),
    };
  }

  /** Server-sent events for a page: its fragment whenever it changes, or a log's new lines. */
  async #events(c: Call): Promise<void> {
    const page = c.url.searchParams.get('page') ?? '/';
    if (!page.startsWith('/') || page.startsWith('//'))
      throw new Refusal(400, 'page must be a path');
    const target = new URL(page, 'http://console.invalid');
    const logs = target.pathname === '/logs' ? await this.#source.logs(logSelection(target)) : null;
    if (!logs) await this.render(page); // a bad page is refused before the stream starts
    c.res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    c.res.write('retry: 1000\n\n');
    this.#streams.add(c.res);
    let last = '';
    let first = true;
    let busy = false;
    const push = async () => {
      if (busy) return;
      busy = true;
      try {
        if (logs) {
          const lines = await logs.read();
          if (first || lines.length)
            c.res.write(event(first ? 'reset' : 'lines', lines.slice(-2000).join('\n')));
          first = false;
        } else {
          const body = (await this.render(page)).body.text;
          // The first is sent too: the page may have changed since it was rendered.
          if (body !== last) c.res.write(event('live', body));
          last = body;
        }
      } catch {
        // The cloud did not answer this time; the next tick tries again.
      } finally {
        busy = false;
      }
    };
    await push();
    const timer = setInterval(push, this.#pollMs);
    const heartbeat = setInterval(() => c.res.write(': keep-alive\n\n'), 15_000);
    c.res.on('close', () => {
      clearInterval(timer);
      clearInterval(heartbeat);
      this.#streams.delete(c.res);
    });
  }

  async #asset(c: Call, name: string): Promise<void> {
    const asset = this.#assets.files.get(name);
    if (!asset) throw new Refusal(404, `no asset ${name}`);
    const gzip = /\bgzip\b/.test(String(c.req.headers['accept-encoding'] ?? ''));
    const body = gzip ? asset.gzip : asset.body;
    c.res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': asset.type,
      'cache-control': 'public, max-age=31536000, immutable',
      vary: 'accept-encoding',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      'content-length': String(body.length),
    });
    c.res.end(body);
  }

  async #action(c: Call): Promise<void> {
    checkSameOrigin(c.req);
    const type = c.req.headers['content-type'];
    if ((type ?? '').split(';')[0]!.trim().toLowerCase() !== 'application/x-www-form-urlencoded')
      throw new Refusal(415, 'an action is a form: application/x-www-form-urlencoded');
    const form = parseActionForm(type, await readBody(c.req));
    const header = c.req.headers[TOKEN_HEADER];
    const token = typeof header === 'string' ? header : form.token;
    if (!this.#sessions.verify(sessionOf(c.req), token) || (form.token && form.token !== token))
      throw new Refusal(403, 'missing or wrong session token: reload the console and try again');
    const message = await this.#source.act(form);
    this.#snapshot = null; // the next read shows what the action did
    if ((c.req.headers.accept ?? '').includes('application/json'))
      this.#send(c, 200, 'application/json', JSON.stringify({ message }));
    else
      this.#send(
        c,
        200,
        'text/html; charset=utf-8',
        `<!doctype html><html lang="en"><title>runway console</title><p>${escapeHtml(message)}</p><p><a href="/">Back to the pipelines</a></p></html>`,
      );
  }

  /** Ends the live streams (a server's close waits for its connections). */
  closeStreams(): void {
    for (const res of this.#streams) res.end();
    this.#streams.clear();
  }
}

function event(name: string, data: string): string {
  return `event: ${name}\n${data
    .split('\n')
    .map((l) => `data: ${l}`)
    .join('\n')}\n\n`;
}

/** The log a URL asks for: ?service=S[&revision=R], ?execution=E or ?workflows=1. */
export function logSelection(url: URL): LogSelection {
  const q = url.searchParams;
  const name = /^[A-Za-z0-9_.-]{1,128}$/;
  const service = q.get('service');
  const execution = q.get('execution');
  const revision = q.get('revision');
  const chosen = [service !== null, execution !== null, q.has('workflows')].filter(Boolean).length;
  if (chosen !== 1)
    throw new Refusal(
      400,
      'logs of what: ?service=NAME[&revision=NAME], ?execution=NAME or ?workflows=1',
    );
  for (const [k, v] of [
    ['service', service],
    ['execution', execution],
    ['revision', revision],
  ] as const)
    if (v !== null && !name.test(v)) throw new Refusal(400, `${k} must be a resource name`);
  if (execution !== null) return { kind: 'execution', execution };
  if (service !== null) return { kind: 'service', service, revision };
  return { kind: 'workflows' };
}

export interface RunningConsole {
  url: string;
  port: number;
  app: ConsoleApp;
  server: Server;
  close(): Promise<void>;
}

/** Serves the console on 127.0.0.1 (`port` 0: any free one). Closing it closes the source too. */
export async function startConsole(
  options: ConsoleOptions & { port?: number },
): Promise<RunningConsole> {
  const app = new ConsoleApp(options);
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, app.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  app.listeningOn(port);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    app,
    server,
    close: async () => {
      app.closeStreams();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await options.source.close();
    },
  };
}
