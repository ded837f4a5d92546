// Pub/Sub for the local cloud: Google's emulator when gcloud has it, else runway's push bridge.
// Both speak the Pub/Sub REST API, so callers (and PUBSUB_EMULATOR_HOST) do not care which runs.
import { localAuthorization } from '../../services/shared/clients.ts';
import type { Logger } from '../../services/shared/logger.ts';
import type { Gate } from '../iam/caller.ts';
import type { ProcessLedger } from '../process-ledger.ts';
import { startPushBridge } from './bridge.ts';
import { findEmulator, startEmulator } from './emulator.ts';
import { startGateProxy } from './iam.ts';
import { type IdTokenSigner, type OidcToken, type PushRelay, startPushRelay } from './relay.ts';

export type { IdTokenSigner, OidcToken, PushRelay };

export type PubSubKind = 'emulator' | 'bridge';

export interface LocalPubSub {
  kind: PubSubKind;
  url: string;
  host: string;
  /** With Google's emulator and a signer: where pushes with an OIDC token go to get one. */
  relay?: PushRelay;
  close(): Promise<void>;
}

export interface PubSubOptions {
  project: string;
  /** `auto` (the default) uses the emulator when it is installed. */
  prefer?: PubSubKind | 'auto';
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  timeScale?: number;
  /** Where the emulator's process group is recorded as it starts. */
  ledger?: ProcessLedger;
  /**
   * Signs pushes' OIDC tokens (the local issuer). The bridge signs each push itself; Google's
   * emulator sends none, so its token-carrying subscriptions push through a relay that adds one.
   */
  sign?: IdTokenSigner;
  /**
   * IAM on: each call's permission is checked (methods.ts's Pub/Sub rows). The bridge checks its
   * own routes; Google's emulator, which checks nothing, is reached through a REST gate proxy
   * (iam.ts), whose address is then the one callers get.
   */
  gate?: Gate;
}

/** Google's emulator with the gate proxy in front of it, when IAM is on. */
async function gated(
  emulator: { url: string; host: string; close(): Promise<void> },
  gate: Gate | undefined,
) {
  if (!gate) return emulator;
  const proxy = await startGateProxy({ target: emulator.url, gate }).catch(async (err) => {
    await emulator.close();
    throw err;
  });
  return {
    url: proxy.url,
    host: proxy.host,
    async close() {
      await proxy.close();
      await emulator.close();
    },
  };
}

export async function startPubSub(options: PubSubOptions): Promise<LocalPubSub> {
  const prefer = options.prefer ?? 'auto';
  if (prefer !== 'bridge') {
    const launcher = findEmulator(options.env ?? process.env);
    if (launcher) {
      try {
        const emulator = await gated(
          await startEmulator(launcher, {
            project: options.project,
            ...(options.ledger ? { ledger: options.ledger } : {}),
          }),
          options.gate,
        );
        if (!options.sign) return { kind: 'emulator', ...emulator };
        const relay = await startPushRelay({ sign: options.sign }).catch(async (err) => {
          await emulator.close();
          throw err;
        });
        return {
          kind: 'emulator',
          url: emulator.url,
          host: emulator.host,
          relay,
          async close() {
            await relay.close();
            await emulator.close();
          },
        };
      } catch (err) {
        if (prefer === 'emulator') throw err;
        options.logger?.warn('Google Pub/Sub emulator failed to start; using the push bridge', {
          error: err,
        });
      }
    } else if (prefer === 'emulator') {
      throw new Error(
        "Google's Pub/Sub emulator is not installed (gcloud components install pubsub-emulator)",
      );
    }
  }
  const bridge = await startPushBridge({
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.timeScale ? { timeScale: options.timeScale } : {}),
    ...(options.sign ? { sign: options.sign } : {}),
    ...(options.gate ? { gate: options.gate } : {}),
  });
  return { kind: 'bridge', url: bridge.url, host: bridge.host, close: () => bridge.close() };
}

/** Who a helper below calls as: an `Authorization` header (default: the local user's fake token). */
export interface CallAs {
  authorization?: string;
}

const headersAs = (as: CallAs = {}) => ({
  'content-type': 'application/json',
  authorization: as.authorization ?? localAuthorization.authorization,
});

/**
 * Creates a topic, and a push or pull subscription to it, through the REST API; existing ones are
 * kept. They call as the local user (as `terraform apply` by the developer), unless told otherwise.
 */
export async function ensureTopic(
  base: string,
  project: string,
  topic: string,
  as: CallAs = {},
): Promise<void> {
  const res = await fetch(`${base}/v1/projects/${project}/topics/${topic}`, {
    method: 'PUT',
    body: '{}',
    headers: headersAs(as),
  });
  if (!res.ok && res.status !== 409)
    throw new Error(`creating topic ${topic} failed: ${res.status} ${await res.text()}`);
}

export async function ensureSubscription(
  base: string,
  project: string,
  name: string,
  config: {
    topic: string;
    pushEndpoint?: string;
    /** Pushes carry an ID token of this account (Google's default audience: the endpoint). */
    oidcToken?: OidcToken;
    ackDeadlineSeconds?: number;
    minimumBackoff?: string;
    maximumBackoff?: string;
  },
  /** The LocalPubSub: with a relay, a token-carrying push goes through it. */
  via: { relay?: PushRelay } = {},
  as: CallAs = {},
): Promise<void> {
  const full = `projects/${project}/subscriptions/${name}`;
  const { pushEndpoint, oidcToken } = config;
  const pushConfig = pushEndpoint
    ? {
        pushEndpoint:
          oidcToken && via.relay ? via.relay.route(full, pushEndpoint, oidcToken) : pushEndpoint,
        ...(oidcToken ? { oidcToken } : {}),
      }
    : undefined;
  const body = {
    topic: `projects/${project}/topics/${config.topic}`,
    ...(pushConfig ? { pushConfig } : {}),
    ackDeadlineSeconds: config.ackDeadlineSeconds ?? 10,
    ...(config.minimumBackoff
      ? {
          retryPolicy: {
            minimumBackoff: config.minimumBackoff,
            maximumBackoff: config.maximumBackoff ?? '600s',
          },
        }
      : {}),
  };
  const res = await fetch(`${base}/v1/projects/${project}/subscriptions/${name}`, {
    method: 'PUT',
    body: JSON.stringify(body),
    headers: headersAs(as),
  });
  if (!res.ok && res.status !== 409)
    throw new Error(`creating subscription ${name} failed: ${res.status} ${await res.text()}`);
}

/** Publishes one message with the REST API; returns its id. */
export async function publish(
  base: string,
  project: string,
  topic: string,
  data: unknown,
  attributes?: Record<string, string>,
  as: CallAs = {},
): Promise<string> {
  const res = await fetch(`${base}/v1/projects/${project}/topics/${topic}:publish`, {
    method: 'POST',
    headers: headersAs(as),
    body: JSON.stringify({
      messages: [
        {
          data: Buffer.from(JSON.stringify(data)).toString('base64'),
          ...(attributes ? { attributes } : {}),
        },
      ],
    }),
  });
  if (!res.ok) throw new Error(`publishing to ${topic} failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { messageIds?: string[] };
  return body.messageIds?.[0] ?? '';
}
