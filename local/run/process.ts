// One container instance of the local Cloud Run: a real process in its own process group, its
// stdout and stderr appended to a log file line by line, stopped the way Cloud Run stops one
// (SIGTERM, then SIGKILL after the grace period). Services' instances also get a startup probe:
// a TCP connect to $PORT, the default probe Cloud Run gives a container.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, readFile, readlink } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { ProcessLedger } from '../process-ledger.ts';

export interface ProcessSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Where stdout and stderr lines go. */
  log: LogFile;
  /** A prefix for each log line, e.g. `task 0 attempt 1`. */
  label?: string;
  /** Records the process group while it runs, for the next `local up` after a kill. */
  ledger?: ProcessLedger;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A log file several processes append to; each line carries the time and the stream. */
export class LogFile {
  #stream: WriteStream | undefined;
  /** Lines written before the file is open. */
  #early: string[] = [];
  #ready: Promise<void>;
  #closed = false;
  constructor(readonly path: string) {
    this.#ready = mkdir(dirname(path), { recursive: true }).then(() => {
      this.#stream = createWriteStream(path, { flags: 'a' });
      for (const line of this.#early.splice(0)) this.#stream.write(line);
    });
  }
  write(stream: string, text: string, label?: string): void {
    // A process still printing while the stack stops writes nothing once the file is closed
    // (a write after end would throw where no one can catch it).
    if (this.#closed) return;
    const line = `${new Date().toISOString()} ${label ? `${label} ` : ''}${stream}: ${text}\n`;
    if (this.#stream) this.#stream.write(line);
    else this.#early.push(line);
  }
  async close(): Promise<void> {
    this.#closed = true;
    await this.#ready;
    await new Promise<void>((resolve) => (this.#stream ? this.#stream.end(resolve) : resolve()));
  }
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `node` in an image's command means this machine's Node, so images run without a PATH lookup. */
function resolveArgv(argv: string[]): string[] {
  return argv[0] === 'node' ? [process.execPath, ...argv.slice(1)] : argv;
}

export class ContainerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  /** Resolves once the process has exited and its output streams are drained. */
  readonly closed: Promise<void>;
  /** The last lines it wrote (stdout and stderr), for explaining a failed start. */
  readonly tail: string[] = [];
  #exit: Exit | undefined;
  #stopping = false;

  constructor(readonly spec: ProcessSpec) {
    const [file, ...args] = resolveArgv(spec.argv);
    this.child = spawn(file!, args, {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    spec.ledger?.add(this.child.pid, `${spec.argv.join(' ').slice(0, 80)} in ${spec.cwd}`);
    for (const stream of ['stdout', 'stderr'] as const) {
      const readable = this.child[stream];
      if (!readable) continue;
      createInterface({ input: readable, crlfDelay: Number.POSITIVE_INFINITY }).on(
        'line',
        (line) => {
          spec.log.write(stream, line, spec.label);
          this.tail.push(line);
          if (this.tail.length > 50) this.tail.shift();
        },
      );
    }
    this.closed = new Promise<void>((resolve) => this.child.once('close', () => resolve()));
    this.exited = new Promise<Exit>((resolve) => {
      this.child.once('error', (err) => {
        spec.log.write('runway', `could not start ${spec.argv[0]}: ${err.message}`, spec.label);
        this.#exit = { code: 127, signal: null };
        resolve(this.#exit);
      });
      this.child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        spec.ledger?.remove(this.child.pid);
        resolve(this.#exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exit(): Exit | undefined {
    return this.#exit;
  }

  /** True once stop() was called: an exit after that is not a crash. */
  get stopping(): boolean {
    return this.#stopping;
  }

  #signal(signal: NodeJS.Signals): void {
    if (this.#exit || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      try {
        this.child.kill(signal);
      } catch {}
    }
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves when it has exited. */
  async stop(graceMs = 10_000): Promise<Exit> {
    this.#stopping = true;
    if (this.#exit) return this.#exit;
    this.#signal('SIGTERM');
    const timer = setTimeout(() => this.#signal('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    // The leader has gone; take anything it left in its group with it.
    this.#signal('SIGKILL');
    return exit;
  }

  /** SIGKILL now (used when the stack itself is stopping in a hurry). */
  kill(): void {
    this.#stopping = true;
    this.#signal('SIGKILL');
  }
}

function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Ports a process tree listens on (Linux /proc; empty elsewhere). */
export async function listeningPorts(pid: number): Promise<number[]> {
  try {
    const pids = [pid];
    for (let i = 0; i < pids.length && i < 64; i++) {
      const tasks = await readdir(`/proc/${pids[i]}/task`).catch(() => [] as string[]);
      for (const task of tasks) {
        const children = await readFile(`/proc/${pids[i]}/task/${task}/children`, 'utf8').catch(
          () => '',
        );
        for (const c of children.split(/\s+/).filter(Boolean)) pids.push(Number(c));
      }
    }
    const inodes = new Set<string>();
    for (const p of pids) {
      const fds = await readdir(`/proc/${p}/fd`).catch(() => [] as string[]);
      for (const fd of fds) {
        const link = await readlink(`/proc/${p}/fd/${fd}`).catch(() => '');
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (m) inodes.add(m[1]!);
      }
    }
    const ports = new Set<number>();
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      const text = await readFile(table, 'utf8').catch(() => '');
      for (const row of text.split('\n').slice(1)) {
        const cols = row.trim().split(/\s+/);
        if (cols[3] === '0A' && inodes.has(cols[9] ?? '')) {
          ports.add(Number.parseInt(cols[1]!.split(':')[1]!, 16));
        }
      }
    }
    return [...ports];
  } catch {
    return [];
  }
}

export type ProbeResult =
  | { ok: true; ms: number }
  | { ok: false; reason: 'exited'; exit: Exit }
  | { ok: false; reason: 'timeout' }
  | { ok: false; reason: 'wrong-port'; ports: number[] };

/**
 * Cloud Run's default startup probe: TCP connects to `port` until one succeeds, the process exits,
 * or `timeoutMs` passes. On Linux it also notices a process that listens on another port and
 * says so after `wrongPortAfterMs`, instead of waiting out the timeout.
 */
export async function probeStartup(
  proc: ContainerProcess,
  port: number,
  options: { timeoutMs: number; wrongPortAfterMs?: number },
): Promise<ProbeResult> {
  const start = performance.now();
  const wrongPortAfter = options.wrongPortAfterMs ?? 1500;
  let nextPortCheck = start + wrongPortAfter;
  let delay = 2;
  const exited = proc.exited.then((exit) => ({
    ok: false as const,
    reason: 'exited' as const,
    exit,
  }));
  for (;;) {
    if (proc.exit) return { ok: false, reason: 'exited', exit: proc.exit };
    if (await tryConnect(port)) return { ok: true, ms: performance.now() - start };
    const now = performance.now();
    if (now - start > options.timeoutMs) return { ok: false, reason: 'timeout' };
    if (now >= nextPortCheck && proc.pid !== undefined) {
      nextPortCheck = now + 1000;
      const ports = (await listeningPorts(proc.pid)).filter((p) => p !== port);
      if (ports.length > 0 && !(await tryConnect(port))) {
        return { ok: false, reason: 'wrong-port', ports };
      }
    }
    const wait = new Promise<null>((resolve) => setTimeout(resolve, delay, null));
    const done = await Promise.race([wait, exited]);
    if (done) return done;
    delay = now - start < 1000 ? 2 : 25;
  }
}
