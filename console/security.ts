// What keeps other pages and other hosts out of the console: the Host must be the console's own
// loopback address (no DNS rebinding), a state-changing request must come from the console's own
// origin (Origin, else Sec-Fetch-Site) and carry the session's token, which is an HMAC of the
// session cookie under a key that never leaves this process, compared in constant time.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { pipelineName } from '../services/shared/names.ts';

export const SESSION_COOKIE = 'runway_console';
export const TOKEN_HEADER = 'x-runway-token';
/** A form is a few hundred bytes; anything near this is not the console's. */
export const MAX_BODY_BYTES = 16 * 1024;

export class Refusal extends Error {
  override name = 'Refusal';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class Sessions {
  readonly #key = randomBytes(32);

  /** A new session id for the cookie. */
  create(): string {
    return randomBytes(18).toString('base64url');
  }

  /** The token forms and scripts send back for a session. */
  token(session: string): string {
    return createHmac('sha256', this.#key).update(session).digest('base64url');
  }

  /** Does `token` belong to `session`? Constant time in the token's content. */
  verify(session: string | null, token: string | null): boolean {
    if (!session || !token) return false;
    const want = Buffer.from(this.token(session));
    const got = Buffer.from(token);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

/** The session id in the request's cookie, if any. */
export function sessionOf(req: IncomingMessage): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === SESSION_COOKIE) {
      const v = value.join('=');
      return /^[A-Za-z0-9_-]{16,64}$/.test(v) ? v : null;
    }
  }
  return null;
}

export function sessionCookie(session: string): string {
  return `${SESSION_COOKIE}=${session}; Path=/; HttpOnly; SameSite=Strict`;
}

/** The hosts the console answers to: its loopback address and `localhost`, on its port. */
export function allowedHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
}

/** Refuses a request whose Host is not the console's (a rebound DNS name, say). */
export function checkHost(req: IncomingMessage, hosts: Set<string>): void {
  const host = req.headers.host ?? '';
  if (!hosts.has(host.toLowerCase()))
    throw new Refusal(
      421,
      `this console answers on ${[...hosts][0]} only, not ${host || 'no host'}`,
    );
}

/**
 * Refuses a state-changing request that does not come from the console's own pages: its Origin
 * must be the console's; without one, Sec-Fetch-Site must say same-origin; with neither, refused.
 */
export function checkSameOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  const host = req.headers.host ?? '';
  if (origin !== undefined) {
    if (origin !== `http://${host}`)
      throw new Refusal(403, `cross-origin request refused (Origin ${origin})`);
    return;
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== 'same-origin')
    throw new Refusal(
      403,
      'cross-origin request refused (no Origin, and not Sec-Fetch-Site: same-origin)',
    );
}

/** The request's body as text, refused over `limit` bytes (413) as soon as it is seen. */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new Refusal(413, `body over ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new Refusal(413, `body over ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface ActionForm {
  token: string;
  action: 'approve' | 'reject' | 'abort' | 'rollback';
  pipeline: string;
  execution: string | null;
  to: string | null;
  reason: string | null;
}

const FIELDS = new Set(['token', 'action', 'pipeline', 'execution', 'to', 'reason']);
const ACTIONS = new Set(['approve', 'reject', 'abort', 'rollback']);

/**
 * An action's form (application/x-www-form-urlencoded): exactly these fields, each once; a pipeline
 * name, a digest, a reason of at most 1000 characters. Anything else is a 400 naming the field.
 */
export function parseActionForm(contentType: string | undefined, body: string): ActionForm {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded')
    throw new Refusal(415, 'an action is a form: application/x-www-form-urlencoded');
  if (/%(?![0-9A-Fa-f]{2})/.test(body)) throw new Refusal(400, 'malformed form: a bad % escape');
  const params = new URLSearchParams(body);
  const seen = new Set<string>();
  for (const [name] of params) {
    if (!FIELDS.has(name))
      throw new Refusal(400, `unknown field ${JSON.stringify(name.slice(0, 40))}`);
    if (seen.has(name)) throw new Refusal(400, `field ${name} given twice`);
    seen.add(name);
  }
  const get = (name: string) => {
    const v = params.get(name);
    return v === null || v === '' ? null : v;
  };
  const action = get('action');
  if (!action || !ACTIONS.has(action))
    throw new Refusal(400, 'action must be approve, reject, abort or rollback');
  const pipeline = get('pipeline');
  if (!pipeline || !pipelineName.safeParse(pipeline).success)
    throw new Refusal(400, 'pipeline must be a pipeline name');
  const execution = get('execution');
  if (execution !== null && !/^[A-Za-z0-9_-]{1,128}$/.test(execution))
    throw new Refusal(400, 'execution must be an execution id');
  const to = get('to');
  if (to !== null && !/^sha256:[0-9a-f]{64}$/.test(to))
    throw new Refusal(400, 'to must be a digest, sha256: and 64 hex digits');
  const reason = get('reason');
  if (reason !== null && reason.length > 1000)
    throw new Refusal(400, 'reason must be at most 1000 characters');
  return {
    token: get('token') ?? '',
    action: action as ActionForm['action'],
    pipeline,
    execution,
    to,
    reason,
  };
}
