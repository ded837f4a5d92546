// Google's Pub/Sub emulator keeps a subscription's `pushConfig.oidcToken` but pushes without a
// token. The relay stands between its push and the endpoint: the subscription's push endpoint is
// the relay's URL for it, and the relay forwards each push with an OIDC token of the
// subscription's account and audience, answering with the endpoint's status so the emulator's
// acks and redeliveries follow the endpoint as they would on Google.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { closeServer, readRawBody, serveApi } from '../api-server.ts';
import { notFound } from '../../services/shared/errors.ts';

export interface OidcToken {
  serviceAccountEmail: string;
  /** Google's default: the push endpoint's URL. */
  audience?: string;
}

/** Mints an ID token of `email` for `audience` (the local issuer). */
export type IdTokenSigner = (email: string, audience: string) => string;

export interface PushRelay {
  url: string;
  /** The push endpoint to give the emulator for `subscription`: the relay's URL for it. */
  route(subscription: string, pushEndpoint: string, oidcToken: OidcToken): string;
  close(): Promise<void>;
}

interface Route {
  endpoint: string;
  email: string;
  audience: string;
}

const MAX_BODY_BYTES = 10 * 1024 * 1024;

async function forward(
  routes: Map<string, Route>,
  sign: IdTokenSigner,
  open: Set<AbortController>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://relay').pathname;
  const route = req.method === 'POST' ? routes.get(path) : undefined;
  if (!route) throw notFound(`no push route ${req.method} ${path}`);
  const body = await readRawBody(req, MAX_BODY_BYTES);
  const ctl = new AbortController();
  open.add(ctl);
  try {
    const answer = await fetch(route.endpoint, {
      method: 'POST',
      headers: {
        'content-type': String(req.headers['content-type'] ?? 'application/json'),
        authorization: `Bearer ${sign(route.email, route.audience)}`,
      },
      body,
      signal: ctl.signal,
    });
    const text = Buffer.from(await answer.arrayBuffer());
    res
      .writeHead(answer.status, {
        'content-type': answer.headers.get('content-type') ?? 'text/plain',
        'content-length': text.length,
      })
      .end(text);
  } catch (err) {
    // The endpoint did not answer: a nack, and the emulator redelivers as Google would.
    res.writeHead(502, { 'content-type': 'text/plain' }).end(`push failed: ${String(err)}\n`);
  } finally {
    open.delete(ctl);
  }
}

export async function startPushRelay(options: { sign: IdTokenSigner }): Promise<PushRelay> {
  const routes = new Map<string, Route>();
  const open = new Set<AbortController>();
  const { server, url } = await serveApi((req, res) =>
    forward(routes, options.sign, open, req, res),
  );
  return {
    url,
    route(subscription, pushEndpoint, oidcToken) {
      const path = `/push/${encodeURIComponent(subscription)}`;
      routes.set(path, {
        endpoint: pushEndpoint,
        email: oidcToken.serviceAccountEmail,
        audience: oidcToken.audience || pushEndpoint,
      });
      return `${url}${path}`;
    },
    async close() {
      for (const ctl of open) ctl.abort();
      await closeServer(server);
    },
  };
}
