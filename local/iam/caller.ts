// Who calls a local API, and the one check every API server makes before its handler: the caller
// is named by its bearer token (the issuer's access tokens name their principal; any other token,
// like the fake one Google's clients pointed at the local cloud hold, is the local user), and the
// policy decides. With IAM off the gate lets everything through, as before issue 17.
import type { IncomingMessage } from 'node:http';
import { RunwayError } from '../../services/shared/errors.ts';
import type { RequestFlags } from './methods.ts';
import type { Policy, RequestResources } from './policy.ts';

/** What names the holder of one of its tokens: the local issuer (`TokenIssuer.identify`). */
export interface Identifier {
  identify(bearer: string | undefined): string | undefined;
}

/** The prefix of every access token the local issuer mints (issuer.ts). */
export const ISSUER_TOKEN_PREFIX = 'ya29.local.';

/** Google's answer to a request without credentials. */
export function unauthenticated(
  message = 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
): RunwayError {
  return new RunwayError('UNAUTHENTICATED', message, {
    info: {
      reason: 'CREDENTIALS_MISSING',
      domain: 'googleapis.com',
      metadata: {},
    },
  });
}

/** Google's answer to a token it does not accept (expired, revoked, never issued). */
export function invalidCredentials(): RunwayError {
  return new RunwayError(
    'UNAUTHENTICATED',
    'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
    { info: { reason: 'ACCESS_TOKEN_TYPE_UNSUPPORTED', domain: 'googleapis.com', metadata: {} } },
  );
}

/**
 * The principal an `Authorization` header names. No header (or not a bearer token): 401. A token
 * shaped as the issuer's that it does not know (expired or forged): 401, as Google refuses a dead
 * token. Any other bearer token: `localUser`, so Google's clients with a fake token act as the
 * developer.
 */
export function identifyCaller(
  authorization: string | string[] | undefined,
  issuer: Identifier | undefined,
  localUser: string,
): string {
  const header = Array.isArray(authorization) ? authorization[0] : authorization;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) throw unauthenticated();
  const token = m[1]!;
  const principal = issuer?.identify(token);
  if (principal) return principal;
  if (token.startsWith(ISSUER_TOKEN_PREFIX)) throw invalidCredentials();
  return localUser;
}

/** The check an API server makes on each request, before its handler does anything. */
export interface Gate {
  /** Whether calls are checked at all (false: IAM off). */
  readonly on: boolean;
  /** The caller's principal (IAM off: the local user, unchecked). */
  caller(req: IncomingMessage): string;
  /**
   * Throws 401 for an unidentified caller, or Google's PERMISSION_DENIED for the first
   * permission `method` of `service` needs (methods.ts) that the caller lacks on `resources`.
   */
  authorize(
    req: IncomingMessage,
    service: string,
    method: string,
    resources: RequestResources,
    flags?: RequestFlags,
  ): void;
}

/** IAM off: nobody is identified or refused. */
export const openGate: Gate = {
  on: false,
  caller: () => 'user:developer@local',
  authorize: () => {},
};

/** IAM on: `policy` decides for the caller `issuer` (or the local user) names. */
export function policyGate(options: {
  policy: Policy;
  issuer?: Identifier;
  localUser: string;
}): Gate {
  const { policy, issuer, localUser } = options;
  const caller = (req: IncomingMessage) =>
    identifyCaller(req.headers.authorization, issuer, localUser);
  return {
    on: true,
    caller,
    authorize(req, service, method, resources, flags) {
      policy.authorize(caller(req), service, method, resources, flags);
    },
  };
}
