// Google's Pub/Sub emulator, when the gcloud SDK on this machine has it: run its launcher script
// directly (gcloud's wrapper adds seconds), in its own process group so stopping it stops its JVM.
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, realpathSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, dirname, join } from 'node:path';
import type { ProcessLedger } from '../process-ledger.ts';

export interface EmulatorProcess {
  url: string;
  host: string;
  pid: number;
  close(): Promise<void>;
}

const LAUNCHER = join('platform', 'pubsub-emulator', 'bin', 'cloud-pubsub-emulator');

/** The emulator's launcher: `RUNWAY_PUBSUB_EMULATOR`, else beside the `gcloud` on PATH; undefined when absent. */
export function findEmulator(env: NodeJS.ProcessEnv): string | undefined {
  const executable = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (env.RUNWAY_PUBSUB_EMULATOR)
    return executable(env.RUNWAY_PUBSUB_EMULATOR) ? env.RUNWAY_PUBSUB_EMULATOR : undefined;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const gcloud = join(dir, 'gcloud');
    if (!executable(gcloud)) continue;
    const root = dirname(dirname(realpathSync(gcloud)));
    const launcher = join(root, LAUNCHER);
    return executable(launcher) && hasJava(env) ? launcher : undefined;
  }
  return undefined;
}

function hasJava(env: NodeJS.ProcessEnv): boolean {
  if (env.JAVA_HOME) return true;
  return (env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, 'java'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function stopGroup(
  child: ChildProcess,
  graceMs: number,
  ledger: ProcessLedger | undefined,
): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) return resolve();
    const pid = child.pid;
    const timer = setTimeout(() => kill(pid, 'SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      // The JVM may outlive the launcher shell for a moment; make sure the group is gone.
      kill(pid, 'SIGKILL');
      resolve();
    });
    kill(pid, 'SIGTERM');
  }).then(() => ledger?.remove(child.pid));
}

function kill(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is already gone.
  }
}

/** Starts the emulator on a free loopback port and waits until it answers, or fails within `timeoutMs`. */
export async function startEmulator(
  launcher: string,
  options: {
    project: string;
    dataDir?: string;
    timeoutMs?: number;
    onOutput?: (line: string) => void;
    /** Records the emulator's process group as it starts, for the next `local up` after a kill. */
    ledger?: ProcessLedger;
  },
): Promise<EmulatorProcess> {
  const port = await freePort();
  const args = [`--host=127.0.0.1`, `--port=${port}`];
  if (options.dataDir) args.push(`--dir=${options.dataDir}`);
  const child = spawn(launcher, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  options.ledger?.add(child.pid, "Google's Pub/Sub emulator");
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      output.push(line);
      if (output.length > 50) output.shift();
      options.onOutput?.(line);
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const exited = new Promise<'exited'>((r) => child.once('exit', () => r('exited')));
  while (Date.now() < deadline) {
    const state = await Promise.race([
      exited,
      fetch(url, { signal: AbortSignal.timeout(500) }).then(
        (res) => (res.ok ? 'ready' : 'waiting'),
        () => 'waiting',
      ),
    ]);
    if (state === 'ready') {
      return {
        url,
        host: `127.0.0.1:${port}`,
        pid: child.pid!,
        close: () => stopGroup(child, 5_000, options.ledger),
      };
    }
    if (state === 'exited') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stopGroup(child, 1_000, options.ledger);
  throw new Error(
    `Google's Pub/Sub emulator did not start on port ${port}:\n${output.slice(-10).join('\n')}`,
  );
}
