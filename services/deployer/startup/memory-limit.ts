// Runs a command under a memory limit the way Cloud Run does: in a memory cgroup. Node reads the
// cgroup's limit when it starts and sizes V8's heap from it (under 512 MiB: 1 MiB semi-spaces and a
// heap limit near 270 MB), so the deployer's image needs no heap flags. Flags would do the same,
// but any V8 flag also makes V8 refuse the code cache Node ships for its own modules: about 45 ms
// more at every cold start (bench/deployer-cold-start.bench.ts).
// Where no cgroup can be made here (not Linux, not root, a read-only cgroupfs), V8 flags of the
// same sizes stand in; `how` says which, and cold-start figures are then pessimistic.
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MemoryLimit {
  how: 'cgroup v1' | 'cgroup v2' | 'V8 flags';
  mib: number;
  /** The cgroup's directory, when it is one. */
  dir?: string;
  /** `[node, ...args]` as a command that runs under the limit; the process keeps node's pid. */
  wrap(command: readonly string[]): string[];
  /** Removes the cgroup once the processes in it have exited (the kernel lets go of an exited
   * process a little after its parent sees it exit). */
  close(): Promise<void>;
}

/** Where the memory controller lives: cgroup v1 mounts it apart, v2 has one hierarchy. */
function controller(root: string): { how: 'cgroup v1' | 'cgroup v2'; dir: string } | undefined {
  try {
    if (readFileSync(join(root, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory'))
      return { how: 'cgroup v2', dir: root };
  } catch {
    // not a v2 root
  }
  try {
    readFileSync(join(root, 'memory', 'memory.limit_in_bytes'));
    return { how: 'cgroup v1', dir: join(root, 'memory') };
  } catch {
    return undefined;
  }
}

/** The heap sizes V8 chooses for a `mib` limit, as flags. */
function heapFlags(mib: number): string[] {
  return ['--max-semi-space-size=1', `--max-old-space-size=${Math.floor(mib / 2)}`];
}

export function memoryLimit(
  mib: number,
  options: { cgroupRoot?: string; name?: string } = {},
): MemoryLimit {
  const found =
    process.platform === 'linux' ? controller(options.cgroupRoot ?? '/sys/fs/cgroup') : undefined;
  if (found) {
    const dir = join(found.dir, options.name ?? `runway-${process.pid}-${Date.now()}`);
    try {
      mkdirSync(dir);
      const file = found.how === 'cgroup v1' ? 'memory.limit_in_bytes' : 'memory.max';
      writeFileSync(join(dir, file), String(mib * 1024 * 1024));
      const procs = join(dir, 'cgroup.procs');
      return {
        how: found.how,
        mib,
        dir,
        // The shell joins the cgroup, then becomes node: Node reads the limit at its own start.
        wrap: (command) => ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', procs, ...command],
        close: () => removeWhenEmpty(dir),
      };
    } catch {
      try {
        rmdirSync(dir);
      } catch {
        // never made
      }
    }
  }
  return {
    how: 'V8 flags',
    mib,
    wrap: ([node, ...args]) => [node!, ...heapFlags(mib), ...args],
    close: async () => {},
  };
}

async function removeWhenEmpty(dir: string, deadline = Date.now() + 5_000): Promise<void> {
  for (;;) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || Date.now() > deadline)
        throw new Error(`cannot remove the memory cgroup ${dir}`, { cause: err });
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
