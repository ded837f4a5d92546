// Publishing runway's events from the deployer: one REST call to Pub/Sub's topics.publish, with
// google-auth-library's credentials on Google (the deployer already bundles it for tokens) or none
// against PUBSUB_EMULATOR_HOST. Loaded on the first event, never at start-up; @google-cloud/pubsub
// would bring gRPC and its protos into the bundle for one call.
import { RunwayError } from '../shared/errors.ts';
import type { EventMessage } from '../shared/events.ts';
import type { Notifier } from './release.ts';
import { commonJs } from './startup/common-js.ts';

const SCOPE = 'https://www.googleapis.com/auth/pubsub';

export interface PublisherOptions {
  /** `HOST:PORT` of the emulator: plain HTTP, no credentials unless `metadataCredentials`. */
  emulatorHost?: string;
  /**
   * With an emulator host: call with the metadata server's token of the process's account
   * (GCE_METADATA_HOST, the local cloud's), so the local cloud's IAM sees who publishes.
   */
  metadataCredentials?: boolean;
  timeoutMs?: number;
}

/** The status of a refused publish as the error's code: a denial stays a denial. */
function refusedCode(status: number): 'PERMISSION_DENIED' | 'UNAUTHENTICATED' | 'UNAVAILABLE' {
  if (status === 403) return 'PERMISSION_DENIED';
  if (status === 401) return 'UNAUTHENTICATED';
  return 'UNAVAILABLE';
}

/** A Notifier over Pub/Sub's REST API; `topic` is `projects/PROJECT/topics/TOPIC`. */
export function pubsubPublisher(options: PublisherOptions = {}): Notifier {
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (options.emulatorHost) {
    const base = options.emulatorHost.includes('://')
      ? options.emulatorHost
      : `http://${options.emulatorHost}`;
    let compute: Promise<{ getAccessToken(): Promise<{ token?: string | null }> }> | undefined;
    const authorization = async (): Promise<Record<string, string>> => {
      if (!options.metadataCredentials) return {};
      compute ??= import('google-auth-library').then((m) => new (commonJs(m).Compute)());
      const { token } = await (await compute).getAccessToken();
      return token ? { authorization: `Bearer ${token}` } : {};
    };
    return {
      async publish(topic, message) {
        let res: Response;
        try {
          res = await fetch(`${base}/v1/${topic}:publish`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...(await authorization()) },
            body: JSON.stringify({ messages: [message] }),
            signal: AbortSignal.timeout(timeoutMs),
          });
        } catch (err) {
          const why = (err as Error).cause ?? err;
          throw new RunwayError(
            'UNAVAILABLE',
            `publishing to ${topic}: ${(why as Error).message}`,
            {
              cause: err,
            },
          );
        }
        if (!res.ok)
          throw new RunwayError(
            refusedCode(res.status),
            `publishing to ${topic}: ${res.status} ${(await res.text()).slice(0, 500)}`,
          );
      },
    };
  }
  let auth: Promise<{ request(o: object): Promise<unknown> }> | undefined;
  const client = () => {
    auth ??= import('google-auth-library').then((m) =>
      new (commonJs(m).GoogleAuth)({ scopes: [SCOPE] }).getClient(),
    );
    // A failed load (no credentials yet, say) is tried again on the next event.
    auth.catch(() => {
      auth = undefined;
    });
    return auth;
  };
  return {
    async publish(topic: string, message: EventMessage) {
      try {
        await (await client()).request({
          url: `https://pubsub.googleapis.com/v1/${topic}:publish`,
          method: 'POST',
          data: { messages: [message] },
          timeout: timeoutMs,
        });
      } catch (err) {
        throw new RunwayError('UNAVAILABLE', `publishing to ${topic}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    },
  };
}
