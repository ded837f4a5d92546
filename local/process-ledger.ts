// The processes a local cloud starts, each in its own process group, recorded in its home the
// moment they start (one file each under `<home>/processes/`), so that the next `local up` can stop
// what a stack killed with SIGKILL left running. A record holds the pid's start time from
// /proc/PID/stat: a pid the kernel has since given to another process is never signalled.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ProcessRecord {
  /** The child's pid, which is also its process group (it was spawned detached). */
  pid: number;
  /** Its start time, in clock ticks after boot (field 22 of /proc/PID/stat). */
  start: number;
  what: string;
  /** The stack's own process, and its start time: while it lives, its children are its own. */
  owner: number;
  ownerStart: number;
}

/** Where a process ledger is kept in a stack's home. */
export const ledgerDir = (home: string) => join(home, 'processes');

/** The fields of /proc/PID/stat after the command name; undefined when `pid` does not exist. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses; the fields resume after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** When `pid` started, in clock ticks after boot; undefined when it does not exist (or not Linux). */
export function startTimeOf(pid: number): number | undefined {
  const field = statFields(pid)?.[19];
  return field === undefined ? undefined : Number(field);
}

/** The processes of group `pgid` that started at or after `since`. */
function groupMembers(pgid: number, since: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => {
      const fields = statFields(pid);
      return fields !== undefined && Number(fields[2]) === pgid && Number(fields[19]) >= since;
    });
}

const isLive = (pid: number, start: number) => startTimeOf(pid) === start;

/** Records this process's children, one file each, written synchronously as each one starts. */
export class ProcessLedger {
  readonly #ownerStart: number;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.#ownerStart = startTimeOf(process.pid) ?? 0;
  }

  /** Call right after spawning `pid` detached (its own process group). */
  add(pid: number | undefined, what: string): void {
    if (pid === undefined) return;
    const record: ProcessRecord = {
      pid,
      start: startTimeOf(pid) ?? 0,
      what,
      owner: process.pid,
      ownerStart: this.#ownerStart,
    };
    writeFileSync(join(this.dir, `${pid}.json`), `${JSON.stringify(record)}\n`);
  }

  /** Call once `pid` and its group are stopped. */
  remove(pid: number | undefined): void {
    if (pid !== undefined) rmSync(join(this.dir, `${pid}.json`), { force: true });
  }
}

function readRecords(dir: string): { file: string; record: ProcessRecord }[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  return files.flatMap((f) => {
    const file = join(dir, f);
    try {
      return [{ file, record: JSON.parse(readFileSync(file, 'utf8')) as ProcessRecord }];
    } catch {
      // A record cut short by the kill: the process it names cannot be checked, so forget it.
      rmSync(file, { force: true });
      return [];
    }
  });
}

/** Another live process that keeps a ledger in `dir` (a stack starting or running), if any. */
export function liveOwner(dir: string): number | undefined {
  return readRecords(dir).find(
    ({ record: r }) => r.owner !== process.pid && isLive(r.owner, r.ownerStart),
  )?.record.owner;
}

/**
 * Stops the process groups in `dir` whose owner has died, and forgets their records; returns what
 * it stopped. A group is signalled only while its leader is the process recorded (same start
 * time), or, the leader gone, while members remain (the kernel reuses no pid whose group lives).
 */
export async function stopLeftovers(dir: string, waitMs = 5_000): Promise<string[]> {
  const stopped: string[] = [];
  const pending: { pgid: number; since: number }[] = [];
  for (const { file, record: r } of readRecords(dir)) {
    if (isLive(r.owner, r.ownerStart)) continue;
    const leader = startTimeOf(r.pid);
    const ours =
      leader === undefined ? groupMembers(r.pid, r.start).length > 0 : leader === r.start;
    if (ours) {
      try {
        process.kill(-r.pid, 'SIGKILL');
        stopped.push(`${r.what} (pid ${r.pid})`);
        pending.push({ pgid: r.pid, since: r.start });
      } catch {
        // Gone between the check and the kill.
      }
    }
    rmSync(file, { force: true });
  }
  // SIGKILL is not instant: answer once they are gone, so their ports and files are free.
  const deadline = Date.now() + waitMs;
  while (
    pending.some((p) => groupMembers(p.pgid, p.since).some((pid) => !isZombie(pid))) &&
    Date.now() < deadline
  ) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return stopped;
}

/** A zombie has exited and only waits for a reaper (which, under some inits, never comes). */
function isZombie(pid: number): boolean {
  return statFields(pid)?.[0] === 'Z';
}
