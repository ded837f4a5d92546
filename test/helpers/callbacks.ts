// Workflows callbacks for tests that run a workflow in-process (startExecution): endpoints on a
// real loopback listener, as `runway workflows run` opens one, so a test answers a gate or sends
// an abort with an HTTP POST, the way people and runway's commands do.
import { serveCallbacks } from '../../local/workflows/api/server.ts';
import { CallbackHub } from '../../local/workflows/stdlib/events.ts';
import type { Clock } from '../../local/workflows/stdlib/types.ts';
import { localAuthorization } from '../../services/shared/clients.ts';

export interface TestCallbacks {
  hub: CallbackHub;
  /** Every endpoint created, in order. */
  created: string[];
  /** POSTs `body` as JSON to a callback URL; resolves with the HTTP status. */
  send(url: string, body: unknown): Promise<number>;
  close(): Promise<void>;
}

export function testCallbacks(clock?: Clock): TestCallbacks {
  let listener: ReturnType<typeof serveCallbacks> | undefined;
  const created: string[] = [];
  const hub: CallbackHub = new CallbackHub({
    baseUrl: async () => {
      listener ??= serveCallbacks(hub, { host: '127.0.0.1' });
      return (await listener).url;
    },
    now: () => (clock ? clock.now() : Date.now()),
    onCreate: (url) => void created.push(url),
  });
  return {
    hub,
    created,
    async send(url, body) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...localAuthorization },
        body: JSON.stringify(body),
      });
      await res.arrayBuffer();
      return res.status;
    },
    async close() {
      if (listener) await (await listener).close();
    },
  };
}
