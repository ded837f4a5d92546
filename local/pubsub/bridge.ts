// runway's own Pub/Sub push bridge, for machines without Google's emulator: the Pub/Sub REST v1
// surface runway uses (topics, push and pull subscriptions, publish, pull, acknowledge) with push
// delivery as Google does it: the same envelope, redelivery on non-2xx or after the ack deadline
// (even while the first push is still open), exponential backoff from the retry policy.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { closeServer, readJsonBody, sendJson, serveApi } from '../api-server.ts';
import { alreadyExists, invalidArgument, notFound } from '../../services/shared/errors.ts';
import { type Logger, silentLogger } from '../../services/shared/logger.ts';
import { pushEnvelope } from '../../services/shared/pubsub.ts';
import { type Gate, openGate } from '../iam/caller.ts';
import { PUBSUB, pubsubCall } from './iam.ts';
import type { IdTokenSigner, OidcToken } from './relay.ts';

const MAX_BODY_BYTES = 10 * 1024 * 1024;
const NAME = /^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;
const RESOURCE =
  /^\/v1\/projects\/([^/]+)\/(topics|subscriptions)\/([^/:]+)(?::(publish|pull|acknowledge))?$/;

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
  /** Pushes carry an ID token of this account for this audience (the endpoint by default). */
  oidcToken?: OidcToken;
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
  /** Signs the OIDC tokens of pushes; without it pushes go without a token, as the emulator's. */
  sign?: IdTokenSigner;
  /** Each request's IAM check (local/iam), before its handler; absent: none. */
  gate?: Gate;
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

/** A resource's full name from its URL id; INVALID_ARGUMENT when the id breaks Pub/Sub's rule. */
function resourceName(project: string, kind: 'topics' | 'subscriptions', id: string): string {
  const what = kind === 'topics' ? 'topic' : 'subscription';
  if (!NAME.test(id))
    throw invalidArgument(`invalid ${what} name ${JSON.stringify(id)}`, [
      { field: 'name', description: `bad ${what} id` },
    ]);
  return `projects/${project}/${kind}/${id}`;
}

/** A published message as stored: data or attributes, its id (taken once valid) and the time. */
function storedMessage(raw: unknown, i: number, nextId: () => string): StoredMessage {
  const msg = (raw ?? {}) as { data?: unknown; attributes?: unknown };
  if (msg.data !== undefined && typeof msg.data !== 'string')
    throw invalidArgument(`messages[${i}].data must be base64`);
  const attributes = (msg.attributes ?? {}) as Record<string, string>;
  if (msg.data === undefined && Object.keys(attributes).length === 0) {
    throw invalidArgument(`messages[${i}] needs data or attributes`);
  }
  return {
    messageId: nextId(),
    data: msg.data ?? '',
    attributes,
    publishTime: new Date().toISOString(),
  };
}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/** `pushConfig.oidcToken` checked: an account's email, and an optional audience. */
function oidcTokenFrom(raw: unknown, pushEndpoint: unknown): OidcToken | undefined {
  if (raw === undefined || raw === null) return undefined;
  const o = raw as { serviceAccountEmail?: unknown; audience?: unknown };
  const field = 'push_config.oidc_token.service_account_email';
  if (
    typeof o !== 'object' ||
    typeof o.serviceAccountEmail !== 'string' ||
    !EMAIL.test(o.serviceAccountEmail)
  )
    throw invalidArgument(
      'pushConfig.oidcToken.serviceAccountEmail must be a service account email',
      [{ field, description: 'invalid service account email' }],
    );
  if (o.audience !== undefined && typeof o.audience !== 'string')
    throw invalidArgument('pushConfig.oidcToken.audience must be a string');
  if (pushEndpoint === undefined)
    throw invalidArgument('pushConfig.oidcToken needs pushConfig.pushEndpoint');
  return {
    serviceAccountEmail: o.serviceAccountEmail,
    ...(o.audience ? { audience: o.audience } : {}),
  };
}

/** A subscription from its PUT body; the topic's existence is the caller's check. */
function subscriptionFrom(name: string, body: Record<string, unknown>): Subscription {
  const topic = typeof body.topic === 'string' ? body.topic : '';
  const push = (body.pushConfig ?? {}) as { pushEndpoint?: unknown; oidcToken?: unknown };
  if (
    push.pushEndpoint !== undefined &&
    (typeof push.pushEndpoint !== 'string' || !/^https?:\/\//.test(push.pushEndpoint))
  ) {
    throw invalidArgument('pushConfig.pushEndpoint must be an http(s) URL');
  }
  const oidcToken = oidcTokenFrom(push.oidcToken, push.pushEndpoint);
  const ack = body.ackDeadlineSeconds ?? 10;
  if (typeof ack !== 'number' || ack < 10 || ack > 600)
    throw invalidArgument('ackDeadlineSeconds must be 10..600');
  const retry = (body.retryPolicy ?? undefined) as
    | { minimumBackoff?: unknown; maximumBackoff?: unknown }
    | undefined;
  return {
    name,
    topic,
    ...(typeof push.pushEndpoint === 'string' ? { pushEndpoint: push.pushEndpoint } : {}),
    ...(oidcToken ? { oidcToken } : {}),
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
}

const subscriptionJson = (s: Subscription) => ({
  name: s.name,
  topic: s.topic,
  pushConfig: s.pushEndpoint
    ? { pushEndpoint: s.pushEndpoint, ...(s.oidcToken ? { oidcToken: s.oidcToken } : {}) }
    : {},
  ackDeadlineSeconds: s.ackDeadlineSeconds,
  retryPolicy: {
    minimumBackoff: `${s.minimumBackoffMs / 1000}s`,
    maximumBackoff: `${s.maximumBackoffMs / 1000}s`,
  },
});

/** The bridge's state: topics, subscriptions, deliveries in flight, and the pushes themselves. */
class Bridge {
  readonly #topics = new Set<string>();
  readonly #subs = new Map<string, Subscription>();
  readonly #counters = { published: 0, pushes: 0, acked: 0 };
  readonly #open = new Set<AbortController>();
  readonly #pending = new Set<Delivery>();
  readonly #log: Logger;
  readonly #scale: number;
  readonly #fetch: typeof fetch;
  readonly #sign: IdTokenSigner | undefined;
  #closed = false;
  #nextId = 1;

  constructor(options: BridgeOptions) {
    this.#log = options.logger ?? silentLogger;
    this.#scale = options.timeScale ?? 1;
    this.#fetch = options.fetch ?? fetch;
    this.#sign = options.sign;
  }

  /** Google signs each push with a fresh token of the subscription's account; the audience defaults to the endpoint. */
  #authorization(sub: Subscription): Record<string, string> {
    if (!sub.oidcToken || !this.#sign) return {};
    const { serviceAccountEmail, audience } = sub.oidcToken;
    return {
      authorization: `Bearer ${this.#sign(serviceAccountEmail, audience || sub.pushEndpoint!)}`,
    };
  }

  // --- topics ---

  createTopic(name: string): { name: string } {
    if (this.#topics.has(name)) throw alreadyExists('Topic already exists');
    this.#topics.add(name);
    return { name };
  }

  topic(name: string): { name: string } {
    if (!this.#topics.has(name)) throw notFound('Topic not found');
    return { name };
  }

  deleteTopic(name: string): void {
    this.topic(name);
    this.#topics.delete(name);
  }

  publish(topic: string, messages: unknown): { messageIds: string[] } {
    if (!Array.isArray(messages) || messages.length === 0)
      throw invalidArgument('messages must be a non-empty list');
    const stored = messages.map((raw, i) => storedMessage(raw, i, () => String(this.#nextId++)));
    this.#counters.published += stored.length;
    for (const sub of this.#subs.values())
      if (sub.topic === topic) for (const s of stored) this.#deliver(sub, s);
    return { messageIds: stored.map((s) => s.messageId) };
  }

  // --- subscriptions ---

  createSubscription(name: string, body: Record<string, unknown>) {
    if (this.#subs.has(name)) throw alreadyExists('Subscription already exists');
    const topic = typeof body.topic === 'string' ? body.topic : '';
    if (!this.#topics.has(topic)) throw notFound('Subscription topic does not exist');
    const sub = subscriptionFrom(name, body);
    this.#subs.set(name, sub);
    return subscriptionJson(sub);
  }

  subscription(name: string): Subscription {
    const sub = this.#subs.get(name);
    if (!sub) throw notFound('Subscription does not exist');
    return sub;
  }

  getSubscription(name: string) {
    return subscriptionJson(this.subscription(name));
  }

  deleteSubscription(name: string): void {
    this.subscription(name);
    this.#subs.delete(name);
  }

  pull(sub: Subscription, maxMessages: unknown) {
    const max =
      typeof maxMessages === 'number' && maxMessages > 0 ? Math.min(maxMessages, 1000) : 100;
    const out = sub.queue.splice(0, max);
    for (const d of out) {
      d.attempt++;
      sub.inflight.set(d.ackId, d);
    }
    return {
      receivedMessages: out.map((d) => ({
        ackId: d.ackId,
        message: d.message,
        deliveryAttempt: d.attempt,
      })),
    };
  }

  acknowledge(sub: Subscription, ackIds: unknown): void {
    if (!Array.isArray(ackIds)) throw invalidArgument('ackIds must be a list');
    for (const id of ackIds) if (typeof id === 'string') sub.inflight.delete(id);
  }

  // --- push delivery ---

  #deliver(sub: Subscription, message: StoredMessage): void {
    const d: Delivery = { message, attempt: 0, ackId: randomUUID(), acked: false };
    if (sub.pushEndpoint) {
      this.#pending.add(d);
      this.#schedule(sub, d, 0);
    } else sub.queue.push(d);
  }

  #schedule(sub: Subscription, d: Delivery, delayMs: number): void {
    if (this.#closed || d.acked) return;
    clearTimeout(d.timer);
    d.timer = setTimeout(() => void this.#push(sub, d), delayMs / this.#scale);
  }

  #backoff(sub: Subscription, attempt: number): number {
    return Math.min(sub.maximumBackoffMs, sub.minimumBackoffMs * 2 ** Math.max(0, attempt - 1));
  }

  async #push(sub: Subscription, d: Delivery): Promise<void> {
    if (this.#closed || d.acked || !this.#subs.has(sub.name)) return;
    d.attempt++;
    this.#counters.pushes++;
    // Like Google, an ack deadline that passes while the push is open means another delivery.
    const deadline = setTimeout(
      () => {
        if (!d.acked) this.#schedule(sub, d, 0);
      },
      (sub.ackDeadlineSeconds * 1000) / this.#scale,
    );
    const ctl = new AbortController();
    this.#open.add(ctl);
    let ok = false;
    try {
      ok = await this.#post(sub, d, ctl.signal);
    } finally {
      this.#open.delete(ctl);
      clearTimeout(deadline);
    }
    if (d.acked) return;
    if (!ok) return this.#schedule(sub, d, this.#backoff(sub, d.attempt));
    d.acked = true;
    this.#pending.delete(d);
    clearTimeout(d.timer);
    this.#counters.acked++;
  }

  /** One push of the envelope; true when the endpoint answered 2xx. */
  async #post(sub: Subscription, d: Delivery, signal: AbortSignal): Promise<boolean> {
    try {
      const envelope = pushEnvelope(
        sub.name,
        { ...d.message, data: Buffer.from(d.message.data, 'base64') },
        d.attempt,
      );
      const res = await this.#fetch(sub.pushEndpoint!, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.#authorization(sub) },
        body: JSON.stringify(envelope),
        signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      const ok = res.status >= 200 && res.status < 300;
      if (!ok)
        this.#log.debug('push answered non-2xx', {
          subscription: sub.name,
          status: res.status,
          attempt: d.attempt,
        });
      return ok;
    } catch (err) {
      if (!this.#closed)
        this.#log.debug('push failed', { subscription: sub.name, error: err, attempt: d.attempt });
      return false;
    }
  }

  stats() {
    return { ...this.#counters };
  }

  /** Stops redelivery and aborts the pushes in flight. */
  close(): void {
    this.#closed = true;
    for (const d of this.#pending) clearTimeout(d.timer);
    for (const ctl of this.#open) ctl.abort();
  }
}

/** A route: the resource's full name and the request's JSON body; answers the JSON body. */
type Handler = (bridge: Bridge, name: string, body: Record<string, unknown>) => Promise<unknown>;

// Keyed `METHOD` or `METHOD:verb`, per collection. The URL's id is checked before the method, and
// a method without a route on an existing resource is NOT_FOUND, as before the table.
const ROUTES: Record<'topics' | 'subscriptions', Record<string, Handler>> = {
  topics: {
    PUT: async (b, name) => b.createTopic(name),
    GET: async (b, name) => b.topic(name),
    DELETE: async (b, name) => {
      b.deleteTopic(name);
      return {};
    },
    'POST:publish': async (b, name, body) => {
      b.topic(name);
      return b.publish(name, body.messages);
    },
  },
  subscriptions: {
    PUT: async (b, name, body) => b.createSubscription(name, body),
    GET: async (b, name) => b.getSubscription(name),
    DELETE: async (b, name) => {
      b.deleteSubscription(name);
      return {};
    },
    'POST:pull': async (b, name, body) => b.pull(b.subscription(name), body.maxMessages),
    'POST:acknowledge': async (b, name, body) => {
      b.acknowledge(b.subscription(name), body.ackIds);
      return {};
    },
  },
};

/**
 * One request: its resource's name checked, its body read, the caller's permission checked
 * (methods.ts's Pub/Sub rows, as the emulator's gate proxy checks them: iam.ts), then the handler.
 */
async function route(
  bridge: Bridge,
  gate: Gate,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://bridge');
  if (url.pathname === '/' && req.method === 'GET') return void res.end('Ok\n');
  const noRoute = () => notFound(`no route for ${req.method} ${url.pathname}`);
  const m = RESOURCE.exec(url.pathname);
  if (!m) throw noRoute();
  const [, project, kind, id, verb] = m as unknown as [
    string,
    string,
    'topics' | 'subscriptions',
    string,
    string | undefined,
  ];
  const name = resourceName(project, kind, decodeURIComponent(id));
  const handler = ROUTES[kind][verb ? `${req.method}:${verb}` : (req.method ?? '')];
  gate.caller(req);
  if (!handler) {
    req.resume();
    if (kind === 'topics') bridge.topic(name);
    else bridge.subscription(name);
    throw noRoute();
  }
  const body = req.method === 'GET' || req.method === 'DELETE' ? {} : await readBody(req);
  if (req.method === 'GET' || req.method === 'DELETE') req.resume();
  const call = pubsubCall(req.method ?? '', url.pathname, body);
  if (!call) throw noRoute();
  gate.authorize(req, PUBSUB, call.method, call.resources);
  sendJson(res, await handler(bridge, name, body));
}

const readBody = (req: IncomingMessage) => readJsonBody(req, MAX_BODY_BYTES);

export async function startPushBridge(options: BridgeOptions = {}): Promise<PushBridge> {
  const bridge = new Bridge(options);
  const gate = options.gate ?? openGate;
  const { server, host, url } = await serveApi(
    (req, res) => route(bridge, gate, req, res),
    options,
  );
  return {
    url,
    host,
    stats: () => bridge.stats(),
    async close() {
      bridge.close();
      await closeServer(server);
    },
  };
}
