// Process checks for tests that must leave nothing running.
import { readFileSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';

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

/** Processes whose working directory, command line or environment mention `root`. */
export async function processesUnder(root: string): Promise<{ pid: number; command: string }[]> {
  const found: { pid: number; command: string }[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const pid = Number(entry);
    const [cwd, cmdline, environ] = await Promise.all([
      readlink(`/proc/${pid}/cwd`).catch(() => ''),
      readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''),
      readFile(`/proc/${pid}/environ`, 'utf8').catch(() => ''),
    ]);
    if ([cwd, cmdline, environ].some((text) => text.includes(root)) && alive(pid))
      found.push({ pid, command: commandOf(pid) });
  }
  return found;
}

/**
 * The listening sockets (TCP, IPv4 or IPv6) on `ports`, each with the process that holds it when /proc says (a
 * fixed port such as 8000 may be held by another test's process, which is not a leftover).
 */
export async function listenersAmong(
  ports: Iterable<number>,
): Promise<{ port: number; pid: number | undefined }[]> {
  const wanted = new Set(ports);
  const inodes = new Map<string, number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const row of text.split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/);
      const port = Number.parseInt(cols[1]?.split(':')[1] ?? '', 16);
      if (cols[3] === '0A' && wanted.has(port)) inodes.set(cols[9] ?? '', port);
    }
  }
  const owners = new Map<string, number>();
  if (inodes.size > 0) {
    for (const entry of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(entry)) continue;
      for (const fd of await readdir(`/proc/${entry}/fd`).catch(() => [] as string[])) {
        const link = await readlink(`/proc/${entry}/fd/${fd}`).catch(() => '');
        const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
        if (inode && inodes.has(inode)) owners.set(inode, Number(entry));
      }
    }
  }
  return [...inodes].map(([inode, port]) => ({ port, pid: owners.get(inode) }));
}
