// Pub/Sub's IAM in the local cloud: which method of Google's REST API v1 a request is (as Cloud
// Audit Logs names it, local/iam/methods.ts) and the resources its check names, for the bridge's
// own routes and for the gate proxy that stands in front of Google's emulator, which checks
// nothing itself. The proxy forwards a request only once the gate allowed it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'node:http';
import { closeServer, readRawBody, serveApi } from '../api-server.ts';
import { invalidArgument, RunwayError } from '../../services/shared/errors.ts';
import type { Gate } from '../iam/caller.ts';
import { type RequestResources, serviceAccountResource } from '../iam/policy.ts';

export const PUBSUB = 'pubsub.googleapis.com';
const PUBLISHER = 'google.pubsub.v1.Publisher';
const SUBSCRIBER = 'google.pubsub.v1.Subscriber';
const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** One Pub/Sub call: its method and the resources it is checked on. */
export interface PubSubCall {
  method: string;
  resources: RequestResources;
}

type Body = Record<string, unknown>;

const PATH =
  /^\/v1\/projects\/([^/]+)(?:\/(topics|subscriptions)(?:\/([^/:]+)(\/subscriptions)?)?)?(?::([A-Za-z]+))?$/;

/** The account a push subscription's OIDC token names, as act-as checks name it. */
function pushAccount(pushConfig: unknown): string | undefined {
  const email = (pushConfig as { oidcToken?: { serviceAccountEmail?: unknown } } | undefined)
    ?.oidcToken?.serviceAccountEmail;
  return typeof email === 'string' && email ? serviceAccountResource(email) : undefined;
}

const withAccount = (resource: string, pushConfig: unknown): RequestResources => {
  const sa = pushAccount(pushConfig);
  return { resource, ...(sa ? { serviceAccount: sa } : {}) };
};

const TOPIC_METHODS: Record<string, (name: string, body: Body) => PubSubCall> = {
  PUT: (name) => ({ method: `${PUBLISHER}.CreateTopic`, resources: { resource: name } }),
  GET: (name) => ({ method: `${PUBLISHER}.GetTopic`, resources: { resource: name } }),
  PATCH: (name) => ({ method: `${PUBLISHER}.UpdateTopic`, resources: { resource: name } }),
  DELETE: (name) => ({ method: `${PUBLISHER}.DeleteTopic`, resources: { resource: name } }),
  'POST:publish': (name) => ({ method: `${PUBLISHER}.Publish`, resources: { resource: name } }),
};

const SUBSCRIPTION_METHODS: Record<string, (name: string, body: Body) => PubSubCall> = {
  PUT: (name, body) => {
    // Google answers a subscription without a topic 400 before any check.
    if (typeof body.topic !== 'string' || body.topic === '')
      throw invalidArgument('topic is required', [{ field: 'topic', description: 'required' }]);
    return {
      method: `${SUBSCRIBER}.CreateSubscription`,
      resources: { ...withAccount(name, body.pushConfig), topic: body.topic },
    };
  },
  GET: (name) => ({ method: `${SUBSCRIBER}.GetSubscription`, resources: { resource: name } }),
  PATCH: (name, body) => ({
    method: `${SUBSCRIBER}.UpdateSubscription`,
    resources: withAccount(name, (body.subscription as Body | undefined)?.pushConfig),
  }),
  DELETE: (name) => ({ method: `${SUBSCRIBER}.DeleteSubscription`, resources: { resource: name } }),
  'POST:pull': (name) => ({ method: `${SUBSCRIBER}.Pull`, resources: { resource: name } }),
  'POST:acknowledge': (name) => ({
    method: `${SUBSCRIBER}.Acknowledge`,
    resources: { resource: name },
  }),
  'POST:modifyAckDeadline': (name) => ({
    method: `${SUBSCRIBER}.ModifyAckDeadline`,
    resources: { resource: name },
  }),
  'POST:modifyPushConfig': (name, body) => ({
    method: `${SUBSCRIBER}.ModifyPushConfig`,
    resources: withAccount(name, body.pushConfig),
  }),
};

/**
 * The Pub/Sub method an HTTP request is, with the resources its check names; undefined for what
 * this table does not know (snapshots, schemas, seek, detach), which the proxy refuses rather
 * than let through unchecked. `body` is the request's JSON (`{}` for none).
 */
export function pubsubCall(httpMethod: string, path: string, body: Body): PubSubCall | undefined {
  const m = PATH.exec(path);
  if (!m) return undefined;
  const [, project, kind, id, topicSubs, verb] = m;
  const key = verb ? `${httpMethod}:${verb}` : httpMethod;
  const parent = `projects/${project}`;
  if (!kind) return undefined;
  if (!id) {
    if (httpMethod !== 'GET' || verb) return undefined;
    const method =
      kind === 'topics' ? `${PUBLISHER}.ListTopics` : `${SUBSCRIBER}.ListSubscriptions`;
    return { method, resources: { resource: parent } };
  }
  const name = `${parent}/${kind}/${decodeURIComponent(id)}`;
  if (topicSubs) {
    if (kind !== 'topics' || httpMethod !== 'GET' || verb) return undefined;
    return { method: `${PUBLISHER}.ListTopicSubscriptions`, resources: { resource: name } };
  }
  const table = kind === 'topics' ? TOPIC_METHODS : SUBSCRIPTION_METHODS;
  return Object.hasOwn(table, key) ? table[key]!(name, body) : undefined;
}

/** Whether a request carries a JSON body the check needs (a subscription's topic or account). */
export function needsBody(httpMethod: string): boolean {
  return httpMethod === 'PUT' || httpMethod === 'PATCH' || httpMethod === 'POST';
}

export interface GateProxy {
  url: string;
  /** `HOST:PORT`: what PUBSUB_EMULATOR_HOST names with IAM on. */
  host: string;
  close(): Promise<void>;
}

/**
 * A REST proxy in front of Google's emulator: each request is named (`pubsubCall`), checked by
 * `gate`, and only then forwarded. Google's emulator also speaks gRPC on its own port; gRPC
 * callers that reach it there are not checked (README: limits).
 */
export async function startGateProxy(options: { target: string; gate: Gate }): Promise<GateProxy> {
  const target = new URL(options.target);
  const { server, host, url } = await serveApi(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://proxy').pathname;
    const raw = await readRawBody(req, MAX_BODY_BYTES);
    // The emulator's own liveness answer (`GET /`), which names no resource.
    if (!(path === '/' && req.method === 'GET')) {
      options.gate.caller(req);
      let body: Body = {};
      if (raw.length && needsBody(req.method ?? '')) {
        try {
          body = JSON.parse(raw.toString('utf8')) as Body;
        } catch {
          throw invalidArgument('request body is not valid JSON');
        }
      }
      const call = pubsubCall(req.method ?? '', path, body ?? {});
      if (!call)
        throw new RunwayError(
          'UNIMPLEMENTED',
          `${req.method} ${path} is not served with IAM on: the local cloud's Pub/Sub proxy checks topics and subscriptions only (local/pubsub/iam.ts)`,
        );
      options.gate.authorize(req, PUBSUB, call.method, call.resources);
    }
    await forward(target, req, raw, res);
  });
  return { url, host, close: () => closeServer(server) };
}

function forward(
  target: URL,
  req: IncomingMessage,
  body: Buffer,
  res: ServerResponse,
): Promise<void> {
  const { host: _h, connection: _c, 'content-length': _l, ...headers } = req.headers;
  return new Promise((resolve, reject) => {
    const out = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...headers, 'content-length': body.length },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('end', resolve);
        answer.on('error', reject);
      },
    );
    out.on('error', (err) =>
      reject(
        new RunwayError('UNAVAILABLE', `the Pub/Sub emulator did not answer: ${err.message}`, {
          cause: err,
        }),
      ),
    );
    out.end(body);
  });
}
