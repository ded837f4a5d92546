// Who may call the deployer: an OIDC token from the configured service account for the
// configured audience, checked with google-auth-library (signature, expiry, issuer, audience).
// The issuer and its signing keys are Google's unless configured (the local cloud's issuer).
// The library is loaded on the first token, not at startup: emulator mode never needs it.
import type { OAuth2Client, TokenPayload } from 'google-auth-library';
import { RunwayError } from '../shared/errors.ts';
import { commonJs } from './startup/common-js.ts';

export interface TokenVerifier {
  /** Resolves with the verified payload, or rejects with UNAUTHENTICATED / PERMISSION_DENIED. */
  verify(
    authorization: string | undefined,
    expected: { audience: string; serviceAccount: string },
  ): Promise<TokenPayload>;
}

/** Google's issuers of ID tokens, both spellings it uses. */
export const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];

type Certs = Record<string, string>;

/**
 * `certs` are the signing keys: tests hand in their own (a map, or a function to fail fetching);
 * otherwise they are fetched from `certsUrl` (Google's format: key id -> PEM), Google's own by
 * default, and the library caches them as the answer's Cache-Control says. `issuers` are the
 * accepted `iss` values, Google's by default.
 */
export function createVerifier(
  options: { certs?: Certs | (() => Promise<Certs>); certsUrl?: string; issuers?: string[] } = {},
): TokenVerifier {
  const issuers = options.issuers ?? GOOGLE_ISSUERS;
  let loading: Promise<OAuth2Client> | undefined;
  const oauth = () => {
    loading ??= import('google-auth-library').then(
      (m) =>
        new (commonJs(m).OAuth2Client)(
          options.certsUrl
            ? { endpoints: { oauth2FederatedSignonPemCertsUrl: options.certsUrl } }
            : {},
        ),
    );
    return loading;
  };
  const given = options.certs;
  const fetchCerts =
    typeof given === 'function'
      ? given
      : given
        ? async () => given
        : async () => (await (await oauth()).getFederatedSignonCertsAsync()).certs as Certs;
  return {
    async verify(authorization, expected) {
      const m = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(authorization ?? '');
      if (!m)
        throw new RunwayError(
          'UNAUTHENTICATED',
          'missing or malformed Authorization: Bearer token',
        );
      const client = await oauth();
      // Not reaching Google's keys says nothing about the token: 503, so Pub/Sub redelivers.
      let certs: Certs;
      try {
        certs = await fetchCerts();
      } catch (err) {
        throw new RunwayError(
          'UNAVAILABLE',
          `cannot fetch the token signing keys to verify the token: ${(err as Error).message.split('\n')[0]}`,
          { cause: err },
        );
      }
      let payload: TokenPayload | undefined;
      try {
        const ticket = await client.verifySignedJwtWithCertsAsync(
          m[1]!,
          certs,
          expected.audience,
          issuers,
        );
        payload = ticket.getPayload();
      } catch (err) {
        throw new RunwayError(
          'UNAUTHENTICATED',
          `invalid token: ${(err as Error).message.split('\n')[0]}`,
          { cause: err },
        );
      }
      if (!payload) throw new RunwayError('UNAUTHENTICATED', 'invalid token: no payload');
      if (payload.email !== expected.serviceAccount || payload.email_verified !== true) {
        throw new RunwayError(
          'PERMISSION_DENIED',
          `token of ${payload.email ?? 'no email'} may not call this route`,
        );
      }
      return payload;
    },
  };
}
