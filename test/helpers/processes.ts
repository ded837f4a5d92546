// Process checks for tests that must leave nothing running.
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

/** True while `pid` runs; a zombie waiting for a reaper (PID 1 here may never reap) counts as gone. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}

/** The command line of `pid`, for messages. */
export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').slice(0, 200);
  } catch {
    return '?';
  }
}

/** Every descendant of `pid`, from /proc (Linux). */
export async function descendants(pid: number): Promise<number[]> {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    for (const t of await readdir(`/proc/${p}/task`).catch(() => [] as string[])) {
      const text = await readFile(`/proc/${p}/task/${t}/children`, 'utf8').catch(() => '');
      for (const c of text.split(/\s+/).filter(Boolean).map(Number)) {
        out.push(c);
        queue.push(c);
      }
    }
  }
  return out;
}
