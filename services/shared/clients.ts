// Google's own client libraries pointed at the local cloud: REST ("fallback") mode over plain HTTP
// on loopback, with a fake access token so they never look for credentials or a metadata server,
// or, in a process the local cloud gave an identity (GCE_METADATA_HOST), with its own tokens.
import { Compute, OAuth2Client } from 'google-auth-library';

export interface LocalEndpoint {
  /** `127.0.0.1:PORT` or `http://127.0.0.1:PORT`. */
  host: string;
}

/** The token Google's clients pointed at the local cloud hold: the local cloud's IAM takes it for the local user. */
export const LOCAL_FAKE_TOKEN = 'local-fake-token';

/** The header a plain `fetch` to a local API sends, so it calls as the local user, as the clients do. */
export const localAuthorization = { authorization: `Bearer ${LOCAL_FAKE_TOKEN}` } as const;

/** The header of a call with `token` (the caller's own), else as the local user. */
export function bearer(token: string | undefined): { authorization: string } {
  return token ? { authorization: `Bearer ${token}` } : localAuthorization;
}

/**
 * Options for any `@google-cloud/*` client to talk to a local emulator at `host`. With
 * `credentials: 'metadata'` it calls with the tokens of the metadata server google-auth-library
 * finds (GCE_METADATA_HOST), so the local cloud's IAM checks see the process's own account.
 */
export function localClientOptions(
  host: string,
  options: {
    /** `{token}`: an access token the caller holds (the CLI's `--as`, from the stack's issuer). */
    credentials?: 'fake' | 'metadata' | { token: string };
  } = {},
) {
  const url = new URL(host.includes('://') ? host : `http://${host}`);
  let authClient: OAuth2Client;
  if (options.credentials === 'metadata') {
    authClient = new Compute();
  } else {
    const given = typeof options.credentials === 'object' ? options.credentials.token : undefined;
    authClient = new OAuth2Client();
    authClient.setCredentials({
      access_token: given ?? LOCAL_FAKE_TOKEN,
      // A given token lives an hour (the issuer's); a CLI command is done long before.
      expiry_date: Date.now() + (given ? 3_000_000 : 365 * 86_400_000),
    });
  }
  return {
    fallback: true as const,
    apiEndpoint: url.hostname,
    port: Number(url.port),
    protocol: url.protocol.replace(':', '') as 'http',
    authClient,
  };
}

/**
 * Options for a client of `service`: local when the matching `*_EMULATOR_HOST` is set in `env`,
 * else Google's defaults (Application Default Credentials).
 */
export function clientOptionsFor(
  env: NodeJS.ProcessEnv,
  variable:
    | 'RUN_EMULATOR_HOST'
    | 'WORKFLOWS_EMULATOR_HOST'
    | 'ARTIFACT_REGISTRY_EMULATOR_HOST'
    | 'PUBSUB_EMULATOR_HOST',
) {
  const host = env[variable];
  return host ? localClientOptions(host) : { fallback: true as const };
}
