// The instances of one revision: at most one process at a time (the local Cloud Run does not
// scale out), started on the first request or at deploy, probed until it listens on $PORT,
// scaled to zero after an idle period unless the revision keeps a minimum instance, restarted on
// the next request after a crash, and stopped with SIGTERM then SIGKILL when it is retired.
import type { ProcessLedger } from '../process-ledger.ts';
import { ContainerProcess, type Exit, freePort, type LogFile, probeStartup } from './process.ts';

export interface InstanceSettings {
  argv: string[];
  cwd: string;
  /** Environment without PORT; the instance adds its own. */
  env: Record<string, string>;
  log: LogFile;
  /** How long a start may take before it fails. */
  startupTimeoutMs: number;
  /** Idle time before scaling to zero; only when minInstances is 0. */
  idleMs: number;
  graceMs: number;
  ledger?: ProcessLedger;
}

/** Why an instance could not start, in Cloud Run's words. */
export class StartupError extends Error {
  override name = 'StartupError';
}

interface Running {
  proc: ContainerProcess;
  port: number;
}

export class RevisionInstances {
  #running: Running | undefined;
  #starting: Promise<Running> | undefined;
  #inflight = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #minInstances = 0;
  #lastUsed = 0;
  #retired = false;
  /** Closed for good (its revision or service deleted, the stack closing): never starts again. */
  #closed = false;
  /** Crashes (exits nobody asked for) since the revision was created. */
  crashes = 0;
  /** The last start's spawn-to-ready time. */
  lastStartupMs: number | undefined;

  constructor(
    readonly settings: InstanceSettings,
    readonly onCrash: (exit: Exit) => void = () => {},
  ) {}

  get running(): boolean {
    return this.#running !== undefined;
  }

  get pid(): number | undefined {
    return this.#running?.proc.pid;
  }

  /** Starts an instance unless one runs or is starting; rejects with StartupError. */
  start(): Promise<Running> {
    // A request that reached the revision as it was being deleted must not start an instance
    // nobody will stop (a retired revision, which a tag URL may still call, does start again).
    if (this.#closed) return Promise.reject(new StartupError('The revision no longer exists.'));
    this.#retired = false;
    if (this.#running) return Promise.resolve(this.#running);
    this.#starting ??= this.#start().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  async #start(): Promise<Running> {
    const port = await freePort();
    const proc = new ContainerProcess({
      argv: this.settings.argv,
      cwd: this.settings.cwd,
      env: { ...this.settings.env, PORT: String(port) },
      log: this.settings.log,
      ...(this.settings.ledger ? { ledger: this.settings.ledger } : {}),
    });
    const result = await probeStartup(proc, port, { timeoutMs: this.settings.startupTimeoutMs });
    if (!result.ok) {
      await proc.stop(0);
      const head = `The user-provided container failed to start and listen on the port defined provided by the PORT=${port} environment variable`;
      switch (result.reason) {
        case 'exited': {
          // A hard-coded port that another process holds ends in EADDRINUSE: say which port.
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([proc.closed, new Promise((r) => (timer = setTimeout(r, 500)))]);
          clearTimeout(timer);
          const inUse = proc.tail
            .map((l) => /EADDRINUSE\b.*?:(\d+)\b/.exec(l)?.[1])
            .find((p) => p !== undefined && Number(p) !== port);
          throw new StartupError(
            `${head}: the container exited ${result.exit.signal ? `on ${result.exit.signal}` : `with code ${result.exit.code}`} before it listened${inUse ? `: it tried to listen on port ${inUse}, which is in use, instead of $PORT` : ''}.`,
          );
        }
        case 'wrong-port':
          throw new StartupError(
            `${head}: it listens on port ${result.ports.join(', ')} instead. Read the port to listen on from $PORT.`,
          );
        default:
          throw new StartupError(
            `${head} within the allocated timeout (${Math.round(this.settings.startupTimeoutMs / 1000)} s). This can happen when the port is misconfigured or the startup takes too long.`,
          );
      }
    }
    this.lastStartupMs = result.ms;
    const running = { proc, port };
    this.#running = running;
    this.#lastUsed = Date.now();
    void proc.exited.then((exit) => {
      if (this.#running === running) this.#running = undefined;
      if (!proc.stopping) {
        this.crashes++;
        const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
        const warm = this.#minInstances > 0 && !this.#retired;
        this.settings.log.write(
          'runway',
          `instance ${how}; ${warm ? 'starting a new one (min instances)' : 'the next request starts a new one'}`,
        );
        this.onCrash(exit);
        // Cloud Run replaces the instance; back off when it keeps crashing.
        const backoff = Math.min(10_000, 50 * 2 ** Math.min(this.crashes - 1, 8));
        if (warm) {
          setTimeout(() => {
            if (!this.#retired && this.#minInstances > 0) void this.start().catch(() => {});
          }, backoff).unref();
        }
      }
    });
    if (this.#retired) void this.stop();
    else this.#armIdle();
    return running;
  }

  /** The port of a ready instance for one request; call the returned release when it ends. */
  async acquire(): Promise<{ port: number; release: () => void }> {
    for (;;) {
      const lease = this.tryAcquire();
      if (lease) return lease;
      await this.start();
    }
  }

  /** A lease on the running instance without waiting, or undefined when none runs. */
  tryAcquire(): { port: number; release: () => void } | undefined {
    const running = this.#running;
    if (!running) return undefined;
    this.#inflight++;
    this.#lastUsed = Date.now();
    let released = false;
    return {
      port: running.port,
      release: () => {
        if (released) return;
        released = true;
        this.#inflight--;
        this.#lastUsed = Date.now();
        this.#armIdle();
      },
    };
  }

  /** A connection to `port` was refused: wait (briefly) for that instance's exit to be seen. */
  async refused(port: number): Promise<void> {
    const running = this.#running;
    if (running?.port !== port) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      running.proc.exited,
      new Promise((resolve) => {
        timer = setTimeout(resolve, 1000);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Keeps `n` instances warm (the local Cloud Run runs at most one). */
  setMinInstances(n: number): void {
    this.#minInstances = n;
    if (n > 0) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
    }
    if (n > 0 && !this.#retired) void this.start().catch(() => {});
    this.#armIdle();
  }

  // One timer per instance, re-armed for the remaining idle time, not one per request.
  #armIdle(): void {
    if (this.#idleTimer || this.#minInstances > 0 || !this.#running) return;
    const tick = () => {
      this.#idleTimer = undefined;
      if (this.#minInstances > 0 || !this.#running) return;
      const idleFor = Date.now() - this.#lastUsed;
      if (this.#inflight === 0 && idleFor >= this.settings.idleMs) {
        void this.stop();
        return;
      }
      this.#idleTimer = setTimeout(tick, Math.max(10, this.settings.idleMs - idleFor));
      this.#idleTimer.unref();
    };
    this.#idleTimer = setTimeout(tick, this.settings.idleMs);
    this.#idleTimer.unref();
  }

  /** Stops the instance (SIGTERM, SIGKILL after the grace period). */
  async stop(): Promise<void> {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const running = this.#running ?? (await this.#starting?.catch(() => undefined));
    this.#running = undefined;
    await running?.proc.stop(this.settings.graceMs);
  }

  /** No traffic any more: stop, and stay stopped until a request (a tag URL) asks again. */
  async retire(): Promise<void> {
    this.#retired = true;
    this.#minInstances = 0;
    await this.stop();
  }

  /** Stops for good: its revision or service is gone. A later request's start is refused. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.retire();
  }

  /** Immediate SIGKILL, for a stack shutting down in a hurry. */
  kill(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#running?.proc.kill();
  }
}
