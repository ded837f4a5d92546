// runway's own Pub/Sub push bridge, for machines without Google's emulator: the Pub/Sub REST v1
// surface runway uses (topics, push and pull subscriptions, publish, pull, acknowledge) with push
// delivery as Google does it: the same envelope, redelivery on non-2xx or after the ack deadline
// (even while the first push is still open), exponential backoff from the retry policy.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readJsonBody, serveApi } from '../api-server.ts';
import { alreadyExists, invalidArgument, notFound } from '../../services/shared/errors.ts';
import { type Logger, silentLogger } from '../../services/shared/logger.ts';
import { pushEnvelope } from '../../services/shared/pubsub.ts';

const MAX_BODY_BYTES = 10 * 1024 * 1024;
const NAME = /^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;

interface Topic {
  name: string;
}

interface StoredMessage {
  messageId: string;
  data: string;
  attributes: Record<string, string>;
  publishTime: string;
}

interface Delivery {
  message: StoredMessage;
  attempt: number;
  ackId: string;
  acked: boolean;
  timer?: NodeJS.Timeout;
}

interface Subscription {
  name: string;
  topic: string;
  pushEndpoint?: string;
  ackDeadlineSeconds: number;
  minimumBackoffMs: number;
  maximumBackoffMs: number;
  /** Pull subscriptions keep messages here until acknowledged. */
  queue: Delivery[];
  inflight: Map<string, Delivery>;
}

export interface BridgeOptions {
  host?: string;
  port?: number;
  logger?: Logger;
  /** Divides ack deadlines and backoff, as the local cloud compresses time. */
  timeScale?: number;
  fetch?: typeof fetch;
}

export interface PushBridge {
  url: string;
  /** `HOST:PORT`, the value of PUBSUB_EMULATOR_HOST. */
  host: string;
  /** Pushes attempted, for tests and status. */
  stats(): { published: number; pushes: number; acked: number };
  close(): Promise<void>;
}

function parseDuration(value: unknown, fallbackMs: number, field: string): number {
  if (value === undefined) return fallbackMs;
  if (typeof value !== 'string' || !/^\d+(\.\d+)?s$/.test(value)) {
    throw invalidArgument(`${field} must be a duration such as "10s"`, [
      { field, description: 'bad duration' },
    ]);
  }
  return Number.parseFloat(value) * 1000;
}

export async function startPushBridge(options: BridgeOptions = {}): Promise<PushBridge> {
  const log = options.logger ?? silentLogger;
  const scale = options.timeScale ?? 1;
  const doFetch = options.fetch ?? fetch;
  const topics = new Map<string, Topic>();
  const subs = new Map<string, Subscription>();
  const counters = { published: 0, pushes: 0, acked: 0 };
  const open = new Set<AbortController>();
  const pending = new Set<Delivery>();
  let closed = false;
  let nextId = 1;

  const schedule = (sub: Subscription, d: Delivery, delayMs: number) => {
    if (closed || d.acked) return;
    clearTimeout(d.timer);
    d.timer = setTimeout(() => void push(sub, d), delayMs / scale);
  };

  const backoff = (sub: Subscription, attempt: number) =>
    Math.min(sub.maximumBackoffMs, sub.minimumBackoffMs * 2 ** Math.max(0, attempt - 1));

  async function push(sub: Subscription, d: Delivery): Promise<void> {
    if (closed || d.acked || !subs.has(sub.name)) return;
    d.attempt++;
    counters.pushes++;
    // Like Google, an ack deadline that passes while the push is open means another delivery.
    const deadline = setTimeout(
      () => {
        if (!d.acked) schedule(sub, d, 0);
      },
      (sub.ackDeadlineSeconds * 1000) / scale,
    );
    const ctl = new AbortController();
    open.add(ctl);
    let ok = false;
    try {
      const res = await doFetch(sub.pushEndpoint!, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(
          pushEnvelope(
            sub.name,
            { ...d.message, data: Buffer.from(d.message.data, 'base64') },
            d.attempt,
          ),
        ),
        signal: ctl.signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      ok = res.status >= 200 && res.status < 300;
      if (!ok)
        log.debug('push answered non-2xx', {
          subscription: sub.name,
          status: res.status,
          attempt: d.attempt,
        });
    } catch (err) {
      if (!closed)
        log.debug('push failed', { subscription: sub.name, error: err, attempt: d.attempt });
    } finally {
      open.delete(ctl);
      clearTimeout(deadline);
    }
    if (d.acked) return;
    if (ok) {
      d.acked = true;
      pending.delete(d);
      clearTimeout(d.timer);
      counters.acked++;
      return;
    }
    schedule(sub, d, backoff(sub, d.attempt));
  }

  function deliver(sub: Subscription, message: StoredMessage) {
    const d: Delivery = { message, attempt: 0, ackId: randomUUID(), acked: false };
    if (sub.pushEndpoint) {
      pending.add(d);
      schedule(sub, d, 0);
    } else sub.queue.push(d);
  }

  function topicName(project: string, id: string) {
    if (!NAME.test(id))
      throw invalidArgument(`invalid topic name ${JSON.stringify(id)}`, [
        { field: 'name', description: 'bad topic id' },
      ]);
    return `projects/${project}/topics/${id}`;
  }

  function subName(project: string, id: string) {
    if (!NAME.test(id))
      throw invalidArgument(`invalid subscription name ${JSON.stringify(id)}`, [
        { field: 'name', description: 'bad subscription id' },
      ]);
    return `projects/${project}/subscriptions/${id}`;
  }

  const subJson = (s: Subscription) => ({
    name: s.name,
    topic: s.topic,
    pushConfig: s.pushEndpoint ? { pushEndpoint: s.pushEndpoint } : {},
    ackDeadlineSeconds: s.ackDeadlineSeconds,
    retryPolicy: {
      minimumBackoff: `${s.minimumBackoffMs / 1000}s`,
      maximumBackoff: `${s.maximumBackoffMs / 1000}s`,
    },
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://bridge');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (url.pathname === '/' && req.method === 'GET') return void res.end('Ok\n');
    const m =
      /^\/v1\/projects\/([^/]+)\/(topics|subscriptions)\/([^/:]+)(?::(publish|pull|acknowledge))?$/.exec(
        url.pathname,
      );
    if (!m) throw notFound(`no route for ${req.method} ${url.pathname}`);
    const [, project, kind, id, verb] = m as unknown as [
      string,
      string,
      string,
      string,
      string | undefined,
    ];
    if (kind === 'topics') {
      const name = topicName(project, decodeURIComponent(id));
      if (req.method === 'PUT' && !verb) {
        await readJsonBody(req, MAX_BODY_BYTES);
        if (topics.has(name)) throw alreadyExists('Topic already exists');
        topics.set(name, { name });
        return send(200, { name });
      }
      const topic = topics.get(name);
      if (!topic) throw notFound('Topic not found');
      if (req.method === 'GET' && !verb) return send(200, { name });
      if (req.method === 'DELETE' && !verb) {
        topics.delete(name);
        return send(200, {});
      }
      if (req.method === 'POST' && verb === 'publish') {
        const body = await readJsonBody(req, MAX_BODY_BYTES);
        const messages = body.messages;
        if (!Array.isArray(messages) || messages.length === 0)
          throw invalidArgument('messages must be a non-empty list');
        const ids: string[] = [];
        const stored: StoredMessage[] = messages.map((raw, i) => {
          const msg = (raw ?? {}) as { data?: unknown; attributes?: unknown };
          if (msg.data !== undefined && typeof msg.data !== 'string')
            throw invalidArgument(`messages[${i}].data must be base64`);
          const attributes = (msg.attributes ?? {}) as Record<string, string>;
          if (msg.data === undefined && Object.keys(attributes).length === 0) {
            throw invalidArgument(`messages[${i}] needs data or attributes`);
          }
          const messageId = String(nextId++);
          ids.push(messageId);
          return {
            messageId,
            data: msg.data ?? '',
            attributes,
            publishTime: new Date().toISOString(),
          };
        });
        counters.published += stored.length;
        for (const sub of subs.values())
          if (sub.topic === name) for (const s of stored) deliver(sub, s);
        return send(200, { messageIds: ids });
      }
      throw notFound(`no route for ${req.method} ${url.pathname}`);
    }
    const name = subName(project, decodeURIComponent(id));
    if (req.method === 'PUT' && !verb) {
      const body = await readJsonBody(req, MAX_BODY_BYTES);
      if (subs.has(name)) throw alreadyExists('Subscription already exists');
      const topic = typeof body.topic === 'string' ? body.topic : '';
      if (!topics.has(topic)) throw notFound('Subscription topic does not exist');
      const push = (body.pushConfig ?? {}) as { pushEndpoint?: unknown };
      if (
        push.pushEndpoint !== undefined &&
        (typeof push.pushEndpoint !== 'string' || !/^https?:\/\//.test(push.pushEndpoint))
      ) {
        throw invalidArgument('pushConfig.pushEndpoint must be an http(s) URL');
      }
      const ack = body.ackDeadlineSeconds ?? 10;
      if (typeof ack !== 'number' || ack < 10 || ack > 600)
        throw invalidArgument('ackDeadlineSeconds must be 10..600');
      const retry = (body.retryPolicy ?? undefined) as
        | { minimumBackoff?: unknown; maximumBackoff?: unknown }
        | undefined;
      const sub: Subscription = {
        name,
        topic,
        ...(typeof push.pushEndpoint === 'string' ? { pushEndpoint: push.pushEndpoint } : {}),
        ackDeadlineSeconds: ack,
        // Without a retry policy Google redelivers at once; with one, backoff between its bounds.
        minimumBackoffMs: retry
          ? parseDuration(retry.minimumBackoff, 10_000, 'retryPolicy.minimumBackoff')
          : 100,
        maximumBackoffMs: retry
          ? parseDuration(retry.maximumBackoff, 600_000, 'retryPolicy.maximumBackoff')
          : 100,
        queue: [],
        inflight: new Map(),
      };
      subs.set(name, sub);
      return send(200, subJson(sub));
    }
    const sub = subs.get(name);
    if (!sub) throw notFound('Subscription does not exist');
    if (req.method === 'GET' && !verb) return send(200, subJson(sub));
    if (req.method === 'DELETE' && !verb) {
      subs.delete(name);
      return send(200, {});
    }
    if (req.method === 'POST' && verb === 'pull') {
      const body = await readJsonBody(req, MAX_BODY_BYTES);
      const max =
        typeof body.maxMessages === 'number' && body.maxMessages > 0
          ? Math.min(body.maxMessages, 1000)
          : 100;
      const out = sub.queue.splice(0, max);
      for (const d of out) {
        d.attempt++;
        sub.inflight.set(d.ackId, d);
      }
      return send(200, {
        receivedMessages: out.map((d) => ({
          ackId: d.ackId,
          message: d.message,
          deliveryAttempt: d.attempt,
        })),
      });
    }
    if (req.method === 'POST' && verb === 'acknowledge') {
      const body = await readJsonBody(req, MAX_BODY_BYTES);
      if (!Array.isArray(body.ackIds)) throw invalidArgument('ackIds must be a list');
      for (const id of body.ackIds) if (typeof id === 'string') sub.inflight.delete(id);
      return send(200, {});
    }
    throw notFound(`no route for ${req.method} ${url.pathname}`);
  }

  const { server, host, url } = await serveApi(route, options);
  return {
    url,
    host,
    stats: () => ({ ...counters }),
    async close() {
      closed = true;
      for (const d of pending) clearTimeout(d.timer);
      for (const ctl of open) ctl.abort();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
