// Who may call the deployer: an OIDC token from the configured service account for the
// configured audience, checked with google-auth-library (signature, expiry, issuer, audience).
// The library is loaded on the first token, not at startup: emulator mode never needs it.
import type { OAuth2Client, TokenPayload } from 'google-auth-library';
import { RunwayError } from '../shared/errors.ts';
import { commonJs } from './common-js.ts';

export interface TokenVerifier {
  /** Resolves with the verified payload, or rejects with UNAUTHENTICATED / PERMISSION_DENIED. */
  verify(
    authorization: string | undefined,
    expected: { audience: string; serviceAccount: string },
  ): Promise<TokenPayload>;
}

const ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];

/** `certs` is injected by tests (their own signing keys); production fetches Google's, cached. */
export function createVerifier(options: { certs?: Record<string, string> } = {}): TokenVerifier {
  let loading: Promise<OAuth2Client> | undefined;
  const oauth = () => {
    loading ??= import('google-auth-library').then((m) => new (commonJs(m).OAuth2Client)());
    return loading;
  };
  return {
    async verify(authorization, expected) {
      const m = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(authorization ?? '');
      if (!m)
        throw new RunwayError(
          'UNAUTHENTICATED',
          'missing or malformed Authorization: Bearer token',
        );
      let payload: TokenPayload | undefined;
      const client = await oauth();
      try {
        if (options.certs) {
          const ticket = await client.verifySignedJwtWithCertsAsync(
            m[1]!,
            options.certs,
            expected.audience,
            ISSUERS,
          );
          payload = ticket.getPayload();
        } else {
          const ticket = await client.verifyIdToken({
            idToken: m[1]!,
            audience: expected.audience,
          });
          payload = ticket.getPayload();
        }
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
