// The local cloud's token issuer: an RS256 key made at start-up, its public half served as a JWKS
// (and as Google's PEM map), Google-shaped ID tokens, and opaque access tokens bound to a
// principal. `identify` answers who a bearer token belongs to, for the local APIs' IAM checks.
import {
  createHash,
  createPublicKey,
  generateKeyPair,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { closeServer, readJsonBody, sendJson, serveApi } from '../api-server.ts';
import { invalidArgument, notFound } from '../../services/shared/errors.ts';

/** Google's lifetime of both kinds of token: one hour. */
export const TOKEN_LIFETIME_S = 3600;
/** The local user every CLI call acts as unless told otherwise (issue 17). */
export const LOCAL_USER = 'user:developer@local';
/** Where the issuer serves its keys, as Google serves them at www.googleapis.com. */
export const JWKS_PATH = '/oauth2/v3/certs';
export const PEM_CERTS_PATH = '/oauth2/v1/certs';

/** `serviceAccount:EMAIL` for Google's service accounts, `user:EMAIL` for anyone else. */
export function principalOf(email: string): string {
  return /\.gserviceaccount\.com$/.test(email) ? `serviceAccount:${email}` : `user:${email}`;
}

/** The email of a `serviceAccount:` or `user:` principal. */
export function emailOf(principal: string): string {
  const m = /^(?:serviceAccount|user):([^@\s]+@[^@\s]+)$/.exec(principal);
  if (!m) throw new Error(`not a user or service account principal: ${principal}`);
  return m[1]!;
}

/** The numeric `sub` Google gives an account: 21 digits, the same for the same email every time. */
export function subjectOf(email: string): string {
  const n = BigInt(`0x${createHash('sha256').update(email).digest('hex').slice(0, 18)}`);
  return `1${String(n).padStart(20, '0').slice(-20)}`;
}

export interface IdTokenClaims {
  iss: string;
  aud: string;
  azp: string;
  email: string;
  email_verified: boolean;
  exp: number;
  iat: number;
  sub: string;
}

interface AccessGrant {
  principal: string;
  /** Epoch milliseconds after which the token is refused. */
  expiry: number;
  scopes: string[];
}

export interface IssuerOptions {
  /** The `iss` of every ID token: the issuer's own base URL. */
  url: string;
  /** RS256 key pair; `startIssuer` makes one. */
  keys: { privateKey: KeyObject; publicKey: KeyObject };
  now?: () => number;
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Mints and checks the local cloud's tokens. Holds no socket: `startIssuer` serves its keys. */
export class TokenIssuer {
  readonly url: string;
  readonly kid: string;
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  readonly #now: () => number;
  readonly #access = new Map<string, AccessGrant>();
  /** The map's size that triggers the next sweep of expired grants: doubled after each. */
  #sweepAt = 1024;

  constructor(options: IssuerOptions) {
    this.url = options.url;
    this.#privateKey = options.keys.privateKey;
    this.#publicKey = options.keys.publicKey;
    this.#now = options.now ?? Date.now;
    // The key's own thumbprint-like id, so a token names the key that signed it.
    const der = this.#publicKey.export({ type: 'spki', format: 'der' });
    this.kid = createHash('sha256').update(der).digest('hex').slice(0, 40);
  }

  /** The public key as a JWK, as Google's JWKS lists it. */
  get jwk(): Record<string, string> {
    const { n, e } = this.#publicKey.export({ format: 'jwk' }) as { n: string; e: string };
    return { kty: 'RSA', alg: 'RS256', use: 'sig', kid: this.kid, n, e };
  }

  get pem(): string {
    return this.#publicKey.export({ type: 'spki', format: 'pem' }) as string;
  }

  /** An RS256 ID token for `email` with audience `audience`, valid for an hour. */
  idToken(email: string, audience: string): string {
    if (!audience) throw new Error('an ID token needs an audience');
    const iat = Math.floor(this.#now() / 1000);
    const sub = subjectOf(email);
    const claims: IdTokenClaims = {
      iss: this.url,
      aud: audience,
      azp: sub,
      email,
      email_verified: true,
      exp: iat + TOKEN_LIFETIME_S,
      iat,
      sub,
    };
    const signed = `${b64url({ alg: 'RS256', kid: this.kid, typ: 'JWT' })}.${b64url(claims)}`;
    return `${signed}.${sign('sha256', Buffer.from(signed), this.#privateKey).toString('base64url')}`;
  }

  /** An opaque access token for `principal` (`serviceAccount:…` or `user:…`). */
  accessToken(
    principal: string,
    scopes: string[] = ['https://www.googleapis.com/auth/cloud-platform'],
  ): { token: string; expiresIn: number } {
    emailOf(principal);
    const now = this.#now();
    // Expired grants go as new ones come, so a long-lived cloud holds about an hour's worth; the
    // threshold doubles past what is live, so sweeping stays amortised O(1) per token.
    if (this.#access.size >= this.#sweepAt) {
      for (const [t, g] of this.#access) if (g.expiry <= now) this.#access.delete(t);
      this.#sweepAt = Math.max(1024, this.#access.size * 2);
    }
    const token = `ya29.local.${randomBytes(32).toString('base64url')}`;
    this.#access.set(token, { principal, expiry: now + TOKEN_LIFETIME_S * 1000, scopes });
    return { token, expiresIn: TOKEN_LIFETIME_S - 1 };
  }

  /** The claims of an ID token this issuer signed and that has not expired; undefined otherwise. */
  verifyIdToken(token: string, audience?: string): IdTokenClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [head, body, signature] = parts as [string, string, string];
    let header: { alg?: unknown; kid?: unknown };
    let claims: IdTokenClaims;
    try {
      header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    // Only our algorithm and our key: `alg: none` or another key's kid never reach verify().
    if (header?.alg !== 'RS256' || header.kid !== this.kid) return undefined;
    const ok = verify(
      'sha256',
      Buffer.from(`${head}.${body}`),
      this.#publicKey,
      Buffer.from(signature, 'base64url'),
    );
    if (!ok || typeof claims !== 'object' || claims === null) return undefined;
    const now = this.#now() / 1000;
    if (claims.iss !== this.url || typeof claims.exp !== 'number' || now >= claims.exp)
      return undefined;
    if (audience !== undefined && claims.aud !== audience) return undefined;
    return claims;
  }

  /**
   * Who a bearer token (or an `Authorization` header's value) belongs to: the principal of a live
   * access token this issuer minted; undefined for anything else. Google's APIs take access
   * tokens only, so an ID token identifies no one here (Cloud Run's invoker check takes those,
   * through `verifyIdToken` with the service's audiences).
   */
  identify(bearer: string | undefined): string | undefined {
    if (!bearer) return undefined;
    const token = bearer.replace(/^Bearer\s+/i, '').trim();
    const grant = this.#access.get(token);
    if (!grant) return undefined;
    if (grant.expiry > this.#now()) return grant.principal;
    this.#access.delete(token);
    return undefined;
  }
}

/** An RS256 key pair; 2048 bits, as Google's signing keys. */
export async function newKeyPair(): Promise<IssuerOptions['keys']> {
  const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', {
    modulusLength: 2048,
  });
  return { privateKey, publicKey };
}

/** The public key of a JWK, for tests and tools that hold a JWKS. */
export function keyOfJwk(jwk: Record<string, unknown>): KeyObject {
  return createPublicKey({ key: jwk as never, format: 'jwk' });
}

// The IAM Credentials API's two minting methods, at its paths: how a caller outside the local
// cloud's processes (the CLI) gets a service account's token, as impersonation does on Google.
// Who may mint is the IAM half's check (`iam.serviceAccounts.getOpenIdToken`/`getAccessToken`).
const CREDENTIALS =
  /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):(generateIdToken|generateAccessToken)$/;
const SERVICE_ACCOUNT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z0-9.-]+\.gserviceaccount\.com$/;

async function serveCredentials(
  issuer: TokenIssuer,
  [, account, method]: RegExpExecArray,
  req: IncomingMessage,
): Promise<unknown> {
  const email = decodeURIComponent(account!);
  if (!SERVICE_ACCOUNT.test(email))
    throw invalidArgument(
      `Invalid form of account ID ${email}. Should be [Gaia ID |Email |Unique ID |] of the account`,
    );
  const body = await readJsonBody(req, 64 * 1024);
  if (method === 'generateIdToken') {
    if (typeof body.audience !== 'string' || body.audience === '')
      throw invalidArgument('Audience is required', [
        { field: 'audience', description: 'required' },
      ]);
    return { token: issuer.idToken(email, body.audience) };
  }
  const scope = body.scope;
  if (!Array.isArray(scope) || scope.length === 0 || scope.some((s) => typeof s !== 'string'))
    throw invalidArgument('Scope is required', [{ field: 'scope', description: 'required' }]);
  const { token, expiresIn } = issuer.accessToken(principalOf(email), scope as string[]);
  return { accessToken: token, expireTime: new Date(Date.now() + expiresIn * 1000).toISOString() };
}

// The local stand-in for `gcloud auth login`: an access token of a user, for the CLI's `--as`.
// Google has no such API (a user's token comes from signing in); here anyone on this machine may
// act as any user, as `--as` already lets them: the point is to see what that user may do.
const USER_TOKEN = /^\/local\/v1\/users\/([^/:]+):generateAccessToken$/;
const USER_EMAIL = /^[^@\s/:]+@[^@\s/:]+$/;

async function serveUserToken(
  issuer: TokenIssuer,
  [, account]: RegExpExecArray,
  req: IncomingMessage,
): Promise<unknown> {
  const email = decodeURIComponent(account!);
  if (!USER_EMAIL.test(email) || /\.gserviceaccount\.com$/.test(email))
    throw invalidArgument(
      `${email} is not a user's email: a service account's token comes from IAM Credentials (projects/-/serviceAccounts/EMAIL:generateAccessToken)`,
    );
  const body = await readJsonBody(req, 64 * 1024);
  const scope = Array.isArray(body.scope)
    ? (body.scope as unknown[]).filter((s): s is string => typeof s === 'string')
    : ['https://www.googleapis.com/auth/cloud-platform'];
  const { token, expiresIn } = issuer.accessToken(`user:${email}`, scope);
  return { accessToken: token, expireTime: new Date(Date.now() + expiresIn * 1000).toISOString() };
}

// Keys never rotate during a cloud's life; an hour of caching is what Google's own endpoints say.
const CACHE = { 'cache-control': 'public, max-age=3600' };

/** The issuer's discovery document and keys, as accounts.google.com and googleapis.com serve them. */
async function serveKeys(
  issuer: TokenIssuer,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://issuer').pathname;
  const credentials = CREDENTIALS.exec(path);
  if (credentials && req.method === 'POST')
    return sendJson(res, await serveCredentials(issuer, credentials, req));
  const user = USER_TOKEN.exec(path);
  if (user && req.method === 'POST') return sendJson(res, await serveUserToken(issuer, user, req));
  if (req.method !== 'GET' && req.method !== 'HEAD')
    throw notFound(`no route for ${req.method} ${path}`);
  for (const [k, v] of Object.entries(CACHE)) res.setHeader(k, v);
  switch (path) {
    case '/.well-known/openid-configuration':
      return sendJson(res, {
        issuer: issuer.url,
        jwks_uri: `${issuer.url}${JWKS_PATH}`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        claims_supported: ['aud', 'azp', 'email', 'email_verified', 'exp', 'iat', 'iss', 'sub'],
      });
    case JWKS_PATH:
      return sendJson(res, { keys: [issuer.jwk] });
    case PEM_CERTS_PATH:
      return sendJson(res, { [issuer.kid]: issuer.pem });
    default:
      throw notFound(`no route for ${req.method} ${path}`);
  }
}

export interface LocalIssuer {
  issuer: TokenIssuer;
  /** `http://127.0.0.1:PORT`: the `iss` of its tokens, and where its keys are. */
  url: string;
  jwksUrl: string;
  /** Google's v1 format (kid → PEM), what google-auth-library verifies with in Node. */
  certsUrl: string;
  close(): Promise<void>;
}

/** Makes a key pair and serves its public half on loopback. */
export async function startIssuer(
  options: { now?: () => number; port?: number } = {},
): Promise<LocalIssuer> {
  const keys = await newKeyPair();
  let issuer: TokenIssuer | undefined;
  const { server, url } = await serveApi(
    (req, res) => serveKeys(issuer!, req, res),
    options.port === undefined ? {} : { port: options.port },
  );
  issuer = new TokenIssuer({ url, keys, ...(options.now ? { now: options.now } : {}) });
  return {
    issuer,
    url,
    jwksUrl: `${url}${JWKS_PATH}`,
    certsUrl: `${url}${PEM_CERTS_PATH}`,
    close: () => closeServer(server),
  };
}
