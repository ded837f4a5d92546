// The local Cloud Run's front end: each service URL and each tag URL is a listener on loopback
// whose requests go to a revision's instance. A service URL splits requests by traffic percent;
// a tag URL reaches its revision directly. A request to a revision scaled to zero waits for it to
// start; with nothing to serve, a 503, as Cloud Run answers.
import {
  Agent,
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer } from '../api-server.ts';
import type { RevisionInstances } from './instances.ts';

export interface Backend {
  revision: string;
  instances: RevisionInstances;
  /**
   * Called as a request to this backend begins; the function it returns hears the request's
   * status (the backend's, or the router's own 502/503/504) once its response has ended.
   */
  begin?: () => (status: number) => void;
  /** The revision's request timeout (its template's `timeout`, 300 s by default). */
  timeoutMs?: number;
}

/** Why a request is refused before it is routed (Cloud Run's invoker check). */
export interface Refusal {
  status: number;
  message: string;
}

/** The check a listener makes of each request before routing it; undefined lets it through. */
export type RequestGate = (req: IncomingMessage) => Refusal | undefined;

/** What a listener serves right now: a weighted choice of backends, or why not. */
export type Routing =
  | { kind: 'split'; targets: { backend: Backend; percent: number }[] }
  | { kind: 'none'; status: number; message: string };

export interface Listener {
  url: string;
  port: number;
  route: () => Routing;
  close(): Promise<void>;
}

const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });

function pick(targets: { backend: Backend; percent: number }[]): Backend | undefined {
  let roll = Math.random() * 100;
  for (const t of targets) {
    if (t.percent <= 0) continue;
    roll -= t.percent;
    if (roll < 0) return t.backend;
  }
  return targets.filter((t) => t.percent > 0).at(-1)?.backend;
}

function refuse(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${message}\n`;
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** A request without a body can be sent again: nothing of it was consumed. */
const bodiless = (req: IncomingMessage) =>
  !req.headers['transfer-encoding'] && (req.headers['content-length'] ?? '0') === '0';

/**
 * A request's record: its status as soon as the router knows it, reported with its latency once
 * the response has ended (or the caller went away), whichever comes last; once per request.
 */
function meter(backend: Backend, res: ServerResponse): (status: number) => void {
  const done = backend.begin?.();
  if (!done) return () => {};
  let status: number | undefined;
  let closed = false;
  let recorded = false;
  const settle = () => {
    if (status === undefined || !closed || recorded) return;
    recorded = true;
    done(status);
  };
  res.once('close', () => {
    closed = true;
    settle();
  });
  return (s) => {
    status ??= s;
    settle();
  };
}

async function forward(
  req: IncomingMessage,
  res: ServerResponse,
  backend: Backend,
  answered: (status: number) => void,
  retried = false,
): Promise<void> {
  let lease = backend.instances.tryAcquire();
  try {
    lease ??= await backend.instances.acquire();
  } catch (err) {
    answered(503);
    refuse(
      res,
      503,
      `Service Unavailable: revision ${backend.revision} could not start: ${(err as Error).message}`,
    );
    return;
  }
  res.once('close', lease.release);
  const headers = req.headers;
  headers['x-forwarded-for'] = req.socket.remoteAddress ?? '127.0.0.1';
  headers['x-forwarded-proto'] = 'http';
  const upstream = request({
    host: '127.0.0.1',
    port: lease.port,
    method: req.method,
    path: req.url,
    headers,
    agent,
  });
  upstream.on('response', (answer) => {
    answered(answer.statusCode ?? 502);
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.rawHeaders);
    answer.pipe(res);
    answer.once('error', () => res.destroy());
  });
  upstream.once('error', (err: NodeJS.ErrnoException) => {
    if (timedOut) return;
    // Refused, or a kept-alive connection reset under an idempotent request: the instance died
    // and its exit is not processed yet. The request did not reach it, so (without a body) it
    // goes to the instance that replaces it, as Cloud Run would route it.
    const neverReached =
      err.code === 'ECONNREFUSED' ||
      (err.code === 'ECONNRESET' &&
        upstream.reusedSocket &&
        ['GET', 'HEAD', 'OPTIONS'].includes(req.method ?? ''));
    if (neverReached && !retried && !res.headersSent && bodiless(req)) {
      lease.release();
      void backend.instances
        .refused(lease.port)
        .then(() => forward(req, res, backend, answered, true));
      return;
    }
    answered(502);
    refuse(res, 502, `Bad Gateway: revision ${backend.revision} did not answer: ${err.message}`);
  });
  req.pipe(upstream);
  // Cloud Run's request timeout: a request still unanswered after the revision's timeout gets 504.
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    answered(504);
    refuse(
      res,
      504,
      `Gateway Timeout: revision ${backend.revision} did not answer within its ${(backend.timeoutMs ?? 300_000) / 1000} s request timeout`,
    );
    upstream.destroy();
  }, backend.timeoutMs ?? 300_000);
  timer.unref();
  res.once('close', () => clearTimeout(timer));
  res.once('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
}

/**
 * Opens a listener on loopback whose requests follow `route()`, read anew for each request, once
 * `gate` (if any) lets them through.
 */
export async function openListener(route: () => Routing, gate?: RequestGate): Promise<Listener> {
  const listener: Partial<Listener> & { route: () => Routing } = { route };
  const server: Server = createServer((req, res) => {
    const refusal = gate?.(req);
    if (refusal) {
      req.resume();
      refuse(res, refusal.status, refusal.message);
      return;
    }
    const routing = listener.route();
    if (routing.kind === 'none') {
      req.resume();
      refuse(res, routing.status, routing.message);
      return;
    }
    const backend = pick(routing.targets);
    if (!backend) {
      req.resume();
      refuse(res, 503, 'Service Unavailable: no revision serves traffic');
      return;
    }
    void forward(req, res, backend, meter(backend, res));
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  listener.port = port;
  listener.url = `http://127.0.0.1:${port}`;
  listener.close = () => closeServer(server);
  return listener as Listener;
}
