// The instances of one worker pool revision: as many processes as the pool's split gives it, with
// no port and no probe (a worker pool's container is not an HTTP server). An instance counts as
// started once it is still running a short grace after it was spawned. One that exits unasked is
// replaced, with a backoff when it keeps crashing, as Cloud Run replaces it; retired instances get
// SIGTERM, then SIGKILL after the grace period.
import type { ProcessLedger } from '../process-ledger.ts';
import { StartupError } from './instances.ts';
import { ContainerProcess, type Exit, type LogFile } from './process.ts';

export interface PoolInstanceSettings {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  log: LogFile;
  /** How long the first instance must keep running for the revision to be ready. */
  startMs: number;
  /** SIGTERM to SIGKILL. */
  graceMs: number;
  ledger?: ProcessLedger;
}

interface Slot {
  proc: ContainerProcess;
  /** Set once the slot's instance is to stop: its exit is then no crash. */
  stopping: boolean;
  restart?: NodeJS.Timeout;
}

export class PoolInstances {
  /** Instance slots by index; a slot past `#desired` is stopped. */
  readonly #slots = new Map<number, Slot>();
  #desired = 0;
  #retired = false;
  /** Exits nobody asked for since the revision was created. */
  crashes = 0;
  /** Replacement instances started after crashes. */
  restarts = 0;

  constructor(
    readonly settings: PoolInstanceSettings,
    readonly onCrash: (exit: Exit) => void = () => {},
  ) {}

  /** How many instances the split gives this revision. */
  get desired(): number {
    return this.#desired;
  }

  /** Process ids of the running instances, by index. */
  get pids(): number[] {
    return [...this.#slots.entries()]
      .sort(([a], [b]) => a - b)
      .filter(([, s]) => !s.stopping && s.proc.exit === undefined)
      .map(([, s]) => s.proc.pid)
      .filter((pid): pid is number => pid !== undefined);
  }

  /**
   * Starts instance 0 and resolves once it has run for the start grace; rejects with a
   * StartupError when it exits first. It keeps running until `scale` says otherwise.
   */
  async start(): Promise<void> {
    this.#retired = false;
    const slot = this.#spawn(0, false);
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      slot.proc.exited,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), this.settings.startMs);
      }),
    ]);
    clearTimeout(timer);
    if (exit === undefined) {
      this.#watch(0, slot);
      return;
    }
    this.#slots.delete(0);
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    throw new StartupError(
      `The user-provided container failed to start: it ${how} within ${this.settings.startMs} ms of starting. A worker pool's container must keep running.`,
    );
  }

  /** Runs `n` instances: starts the missing ones, stops those above `n`. */
  scale(n: number): void {
    if (this.#retired) return;
    this.#desired = n;
    for (let i = 0; i < n; i++) {
      // A slot still stopping from a smaller split is replaced, not counted.
      if (!this.#slots.get(i) || this.#slots.get(i)!.stopping) this.#watch(i, this.#spawn(i, true));
    }
    for (const [i, slot] of this.#slots) if (i >= n && !slot.stopping) void this.#stop(i, slot);
  }

  #spawn(index: number, log: boolean): Slot {
    if (log) this.settings.log.write('runway', `starting instance ${index}`);
    const slot: Slot = {
      proc: new ContainerProcess({
        argv: this.settings.argv,
        cwd: this.settings.cwd,
        env: this.settings.env,
        log: this.settings.log,
        label: `instance ${index}`,
        ...(this.settings.ledger ? { ledger: this.settings.ledger } : {}),
      }),
      stopping: false,
    };
    this.#slots.set(index, slot);
    return slot;
  }

  /** Replaces the slot's instance when it exits unasked. */
  #watch(index: number, slot: Slot): void {
    void slot.proc.exited.then((exit) => {
      if (slot.stopping || slot.proc.stopping || this.#slots.get(index) !== slot) return;
      this.crashes++;
      const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
      const again = !this.#retired && index < this.#desired;
      this.settings.log.write(
        'runway',
        `instance ${index} ${how}${again ? '; starting a new one' : ''}`,
      );
      this.onCrash(exit);
      if (!again) {
        this.#slots.delete(index);
        return;
      }
      // Cloud Run replaces the instance; back off when it keeps crashing.
      const backoff = Math.min(10_000, 50 * 2 ** Math.min(this.crashes - 1, 8));
      slot.restart = setTimeout(() => {
        if (this.#slots.get(index) !== slot || slot.stopping) return;
        if (this.#retired || index >= this.#desired) {
          this.#slots.delete(index);
          return;
        }
        this.restarts++;
        this.#watch(index, this.#spawn(index, true));
      }, backoff);
      slot.restart.unref();
    });
  }

  async #stop(index: number, slot: Slot): Promise<void> {
    slot.stopping = true;
    clearTimeout(slot.restart);
    await slot.proc.stop(this.settings.graceMs);
    if (this.#slots.get(index) === slot) this.#slots.delete(index);
  }

  /** Stops every instance; the revision runs none until `scale` asks again. */
  async retire(): Promise<void> {
    this.#retired = true;
    this.#desired = 0;
    await Promise.all([...this.#slots].map(([i, slot]) => this.#stop(i, slot)));
  }

  /** Immediate SIGKILL, for a stack shutting down in a hurry. */
  kill(): void {
    this.#retired = true;
    for (const slot of this.#slots.values()) {
      slot.stopping = true;
      clearTimeout(slot.restart);
      slot.proc.kill();
    }
  }
}
