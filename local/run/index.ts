// The local Cloud Run: the Admin API v2 on loopback, services' revisions, jobs' tasks and worker
// pools' instances as real processes, and a router giving each service (and each traffic tag)
// its own loopback URL.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeServer, serveApi } from '../api-server.ts';
import type { Gate } from '../iam/caller.ts';
import { runApiHandler } from './api.ts';
import type { ProcessLedger } from '../process-ledger.ts';
import type { ImageSource } from './containers.ts';
import { Jobs } from './jobs.ts';
import { RequestMetrics } from './metrics.ts';
import { Operations } from './operations.ts';
import type { RunSettings } from './resources.ts';
import { Services } from './services.ts';
import { WorkerPools } from './worker-pools.ts';

export interface LocalRunOptions {
  project: string;
  region: string;
  images: ImageSource;
  logDir?: string;
  port?: number;
  /** A revision that does not listen within this fails (Cloud Run allows 240 s; default 30 s). */
  startupTimeoutMs?: number;
  /** Idle time before an instance without min instances scales to zero (default 5 min). */
  idleMs?: number;
  /** SIGTERM to SIGKILL (default 10 s, as Cloud Run). */
  graceMs?: number;
  /** How long a worker pool revision's first instance must keep running to be ready (default 1 s). */
  workerStartMs?: number;
  /** How long a write waits for its operation before answering (default 2 s; 0 answers at once). */
  settleMs?: number;
  /** The clock request counts are stamped with (a time-scaled stack passes its engine's). */
  now?: () => number;
  /** Records each process group as it starts, for the next `local up` after a kill. */
  ledger?: ProcessLedger;
  /** Each process's identity variables by its service account (RunSettings.identity). */
  identity?: RunSettings['identity'];
  /** The Admin API's IAM check (local/iam/caller.ts); absent: none. */
  gate?: Gate;
  /** Cloud Run's invoker check on the services' URLs (RunSettings.invoker); absent: none. */
  invoker?: RunSettings['invoker'];
  /** What a template naming no account runs as (RunSettings.defaultServiceAccount). */
  defaultServiceAccount?: string;
}

export interface LocalRun {
  /** `http://127.0.0.1:PORT`, the API's base URL. */
  url: string;
  /** `127.0.0.1:PORT`, the value for RUN_EMULATOR_HOST. */
  host: string;
  services: Services;
  jobs: Jobs;
  workerPools: WorkerPools;
  /** Request counts per revision and response code class, for the local Cloud Monitoring. */
  metrics: RequestMetrics;
  /** Stops every process (SIGTERM, then SIGKILL) and closes every listener. */
  close(): Promise<void>;
  /** SIGKILL to every process at once. */
  kill(): void;
  /** From now on every `n`th API request answers 503 (0 turns faults off); for resilience tests. */
  injectFaults(n: number): void;
}

export async function startLocalRun(options: LocalRunOptions): Promise<LocalRun> {
  const settings: RunSettings = {
    project: options.project,
    region: options.region,
    images: options.images,
    logDir: options.logDir ?? join(tmpdir(), `runway-run-logs-${process.pid}`),
    startupTimeoutMs: options.startupTimeoutMs ?? 30_000,
    idleMs: options.idleMs ?? 300_000,
    graceMs: options.graceMs ?? 10_000,
    workerStartMs: options.workerStartMs ?? 1_000,
    // Counts on the stack's clock (bake windows), latencies in wall time: a time scale compresses
    // the pipeline's waiting, not the app's own speed, so an 800 ms threshold means 800 ms.
    metrics: new RequestMetrics(options.now, () => performance.now()),
    ...(options.ledger ? { ledger: options.ledger } : {}),
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.invoker ? { invoker: options.invoker } : {}),
    ...(options.defaultServiceAccount
      ? { defaultServiceAccount: options.defaultServiceAccount }
      : {}),
  };
  const operations = new Operations();
  const services = new Services(settings, operations);
  const jobs = new Jobs(settings, operations);
  const workerPools = new WorkerPools(settings, operations);
  const faults = { everyNth: 0, count: 0 };
  const { server, host, url } = await serveApi(
    runApiHandler({
      services,
      jobs,
      workerPools,
      operations,
      settleMs: options.settleMs ?? 2_000,
      faults,
      ...(options.gate ? { gate: options.gate } : {}),
    }),
    options.port === undefined ? {} : { port: options.port },
  );
  return {
    url,
    host,
    services,
    jobs,
    workerPools,
    metrics: settings.metrics!,
    async close() {
      await closeServer(server);
      await Promise.all([services.close(), jobs.close(), workerPools.close()]);
    },
    kill() {
      services.kill();
      jobs.kill();
      workerPools.kill();
    },
    injectFaults(n) {
      faults.everyNth = n;
      faults.count = 0;
    },
  };
}
