// The local cloud's users: a steady trickle of requests to every pipeline's live service, in each
// of its regions, so a canary has traffic to be judged on, as it would in production. Cloud Monitoring counts them
// like any request. Off with a rate of 0.
import { isServicePipeline, type PipelineConfig } from '../services/shared/pipeline-config.ts';
import { localAuthorization } from '../services/shared/clients.ts';
import { regionsOf } from '../services/shared/workflow-args.ts';

export interface Users {
  /** Requests sent, and how many of them were answered at all. */
  readonly sent: number;
  readonly answered: number;
  stop(): Promise<void>;
}

/**
 * Calls `GET /` on each pipeline's live service `perSecond` times a second, spread evenly; a
 * service that does not exist yet is looked up again a second later. Requests never overlap
 * more than a few deep, so a slow service is not flooded.
 */
export function startUsers(options: {
  config: PipelineConfig;
  /** The local Cloud Run Admin API's base URL. */
  run: string;
  project: string;
  region: string;
  perSecond: number;
}): Users {
  let sent = 0;
  let answered = 0;
  let stopped = false;
  const loops: Promise<void>[] = [];
  const pending = new Set<Promise<unknown>>();
  const stopping = new AbortController();
  // Each live service in each of its regions (live.regions, else the stack's region), once.
  const services = [
    ...new Set(
      options.config.pipelines.filter(isServicePipeline).flatMap((p) => {
        const named = regionsOf(p.live);
        return (named.length > 0 ? named : [options.region]).map(
          (r) => `${r}/services/${p.live.service}`,
        );
      }),
    ),
  ];
  const interval = options.perSecond > 0 ? 1000 / options.perSecond : 0;
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms).unref?.());
  // Not AbortSignal.timeout inside AbortSignal.any: on Node 20 it can be collected and never fire.
  const timeout = (ms: number) => {
    const c = new AbortController();
    setTimeout(() => c.abort(new DOMException('timed out', 'TimeoutError')), ms).unref?.();
    return c.signal;
  };

  /** `service`: REGION/services/ID. */
  async function uriOf(service: string): Promise<string | undefined> {
    const url = `${options.run}/v2/projects/${options.project}/locations/${service}`;
    const res = await fetch(url, { headers: localAuthorization }).catch(() => undefined);
    if (!res?.ok) return undefined;
    return ((await res.json()) as { uri?: string }).uri;
  }

  // Paced by count, not by sleeps: each tick sends what the rate owes since the service was
  // found, so timers that fire late (a busy machine) do not lower the rate.
  async function visit(service: string): Promise<void> {
    let uri: string | undefined;
    let inFlight = 0;
    let since = 0;
    let mine = 0;
    while (!stopped) {
      if (!uri) {
        uri = await uriOf(service);
        since = Date.now();
        mine = 0;
        if (!uri) await pause(1000);
        continue;
      }
      const owed = Math.floor(((Date.now() - since) * options.perSecond) / 1000) - mine;
      // Never more than 32 at once: what a slow service cannot take is dropped, not queued.
      mine += owed;
      for (let i = 0; i < owed && inFlight < 32; i++) {
        inFlight++;
        sent++;
        const request = fetch(uri, { signal: AbortSignal.any([stopping.signal, timeout(10_000)]) })
          .then(async (r) => {
            await r.arrayBuffer();
            answered++;
          })
          .catch(() => {})
          .finally(() => {
            inFlight--;
            pending.delete(request);
          });
        pending.add(request);
      }
      await pause(Math.max(5, interval));
    }
  }

  if (interval > 0) for (const s of services) loops.push(visit(s));
  return {
    get sent() {
      return sent;
    },
    get answered() {
      return answered;
    },
    // Stops sending and abandons what is in flight, so nothing reaches the stack as it closes.
    async stop() {
      stopped = true;
      stopping.abort();
      await Promise.all([...loops, ...pending]);
    },
  };
}
