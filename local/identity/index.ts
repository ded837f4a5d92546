// The local cloud's identity: one token issuer and one metadata server, and the ways the rest of
// the cloud asks them for tokens (processes through GCE_METADATA_HOST, the workflow engine and
// Pub/Sub pushes directly).
import { defaultServiceAccount, projectNumber } from '../run/resources.ts';
import type { Endpoints } from '../workflows/stdlib/types.ts';
import {
  type LocalIssuer,
  principalOf,
  startIssuer,
  TOKEN_LIFETIME_S,
  type TokenIssuer,
} from './issuer.ts';
import { MetadataServer } from './metadata.ts';

export { LOCAL_USER, principalOf } from './issuer.ts';

/** A cached engine token is replaced this long before it expires (google-auth-library: 5 min). */
const REFRESH_BEFORE_S = 300;

export interface LocalIdentity {
  issuer: TokenIssuer;
  /** The issuer's base URL: the `iss` of its ID tokens. */
  url: string;
  jwksUrl: string;
  /** Google's v1 PEM format of the same keys (google-auth-library verifies with it in Node). */
  certsUrl: string;
  metadata: MetadataServer;
  /**
   * The project's number. It is Cloud Run's own (`projectNumber(project)`: twelve digits derived
   * from the project id, the same on every start), so the default compute account
   * `NUMBER-compute@developer.gserviceaccount.com` is the one Cloud Run reports on templates.
   */
  projectNumber: string;
  /** What a revision, job task or workflow without an account runs as. */
  defaultServiceAccount: string;
  /** The workflow engine's tokens: an access token, or an ID token for an audience. */
  token: Endpoints['token'];
  /** An ID token of `email` for `audience` (Pub/Sub push). */
  sign(email: string, audience: string): string;
  /** What points a verifier at this issuer: the deployer's RUNWAY_TOKEN_ISSUER and _CERTS_URL. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startLocalIdentity(options: {
  project: string;
  region: string;
  now?: () => number;
}): Promise<LocalIdentity> {
  const local: LocalIssuer = await startIssuer(options.now ? { now: options.now } : {});
  const number = projectNumber(options.project);
  const fallback = defaultServiceAccount(options.project);
  const metadata = new MetadataServer({
    issuer: local.issuer,
    project: options.project,
    projectNumber: number,
    region: options.region,
  });
  const { issuer } = local;
  // The engine asks for a token on every connector call, as Workflows does; like Google's, it is
  // handed the same one until it nears expiry, so a release mints a few tokens, not thousands.
  const cache = new Map<string, { token: string; until: number }>();
  const cached = (key: string, mint: () => string): string => {
    const now = Date.now();
    const have = cache.get(key);
    if (have && have.until > now) return have.token;
    const token = mint();
    cache.set(key, { token, until: now + (TOKEN_LIFETIME_S - REFRESH_BEFORE_S) * 1000 });
    return token;
  };
  return {
    issuer,
    url: local.url,
    jwksUrl: local.jwksUrl,
    certsUrl: local.certsUrl,
    metadata,
    projectNumber: number,
    defaultServiceAccount: fallback,
    async token(kind, audienceOrScopes, serviceAccount) {
      const email = serviceAccount || fallback;
      if (kind === 'OIDC') {
        const audience = String(audienceOrScopes);
        return cached(`id ${email} ${audience}`, () => issuer.idToken(email, audience));
      }
      const scopes = Array.isArray(audienceOrScopes) ? audienceOrScopes : [audienceOrScopes];
      return cached(
        `access ${email} ${scopes.join(' ')}`,
        () => issuer.accessToken(principalOf(email), scopes).token,
      );
    },
    sign: (email, audience) => issuer.idToken(email, audience),
    env: { RUNWAY_TOKEN_ISSUER: local.url, RUNWAY_TOKEN_CERTS_URL: local.certsUrl },
    async close() {
      await metadata.close();
      await local.close();
    },
  };
}
