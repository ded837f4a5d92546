// `runway logs`: what the local cloud's processes wrote.
//   runway logs NAME [--revision NAME]      a service's or worker pool's revisions (all, or one)
//   runway logs --execution NAME             a job execution's tasks
//   runway logs --workflows                  sys.log and call logging of the release workflow
//   --follow keeps printing new lines until Ctrl-C.
// Lines carry their time, the stream, and for jobs the task and attempt.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { CliIo, Command } from '../io.ts';
import { parseArgs, UsageError } from '../args.ts';
import { stackHome } from '../home.ts';

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  const withTimes = await Promise.all(
    entries
      .filter((e) => e.endsWith('.log'))
      .map(async (e) => ({ path: join(dir, e), mtime: (await stat(join(dir, e))).mtimeMs })),
  );
  return withTimes.sort((a, b) => a.mtime - b.mtime).map((f) => f.path);
}

/** Whose logs: a service's (all its revisions, or one), a job execution's, or the workflow's. */
export type LogSelection =
  | { kind: 'service'; service: string; revision: string | null }
  | { kind: 'execution'; execution: string }
  | { kind: 'workflows' };

/** The files of a selection under the stack's logs directory, and how to name it. */
export async function logFiles(
  logs: string,
  selection: LogSelection,
): Promise<{ what: string; paths: string[] }> {
  if (selection.kind === 'workflows')
    return { what: 'the release workflow', paths: [join(logs, 'workflows.log')] };
  if (selection.kind === 'execution') {
    const name = basename(selection.execution);
    const paths: string[] = [];
    for (const job of await readdir(join(logs, 'jobs')).catch(() => [] as string[])) {
      const path = join(logs, 'jobs', job, `${name}.log`);
      if (await stat(path).catch(() => undefined)) paths.push(path);
    }
    return { what: `execution ${name}`, paths };
  }
  const service = basename(selection.service);
  const { revision } = selection;
  // A service's revisions, or a worker pool's: their names do not overlap in one region.
  const all = [
    ...(await files(join(logs, 'services', service))),
    ...(await files(join(logs, 'workerPools', service))),
  ];
  return revision !== null
    ? {
        what: `revision ${revision}`,
        paths: all.filter((p) => basename(p) === `${basename(revision)}.log`),
      }
    : { what: `service or worker pool ${service}`, paths: all };
}

/**
 * Reads a set of log files again and again, returning only the whole lines written since the last
 * read, sorted by their time, each as `TIME [FILE] TEXT` (the file named when there are several).
 */
export function logTail(paths: string[]): () => Promise<string[]> {
  // Bytes already shown per file, so a follow prints only what is new.
  const shown = new Map<string, number>();
  return async () =>
    (
      await Promise.all(
        paths.map(async (p) => {
          const buffer = await readFile(p).catch(() => undefined);
          if (buffer === undefined) return [];
          const from = shown.get(p) ?? 0;
          const end = buffer.lastIndexOf(10) + 1; // whole lines only
          if (end <= from) return [];
          shown.set(p, end);
          const prefix = paths.length > 1 ? `${basename(p, '.log')} ` : '';
          return buffer
            .subarray(from, end)
            .toString('utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => `${l.slice(0, 24)} ${prefix}${l.slice(25)}`);
        }),
      )
    )
      .flat()
      .sort();
}

export const logsCommand: Command = async (argv, io) => {
  let positional: string[];
  let flags: Map<string, string | true>;
  try {
    ({ positional, flags } = parseArgs(argv, {
      revision: true,
      execution: true,
      workflows: false,
      build: true,
      home: true,
      lines: true,
      follow: false,
    }));
    const chosen = [
      positional.length > 0,
      flags.has('execution'),
      flags.has('workflows'),
      flags.has('build'),
    ];
    if (chosen.filter(Boolean).length !== 1 || positional.length > 1) {
      throw new UsageError(
        'usage: runway logs SERVICE|WORKER_POOL [--revision NAME] | --execution NAME | --workflows | --build ID [--lines N] [--follow]',
      );
    }
  } catch (err) {
    io.stderr.write(`runway logs: ${(err as UsageError).message}\n`);
    return 2;
  }
  const lines = Number(flags.get('lines') ?? 200);
  if (!(Number.isInteger(lines) && lines > 0)) {
    io.stderr.write('runway logs: --lines must be a positive integer\n');
    return 2;
  }
  const logs = join(stackHome(io, flags), 'logs');
  if (flags.has('build')) return buildLog(join(logs, 'builds'), String(flags.get('build')), io);
  const revision = flags.get('revision');
  const { what, paths } = await logFiles(
    logs,
    flags.has('workflows')
      ? { kind: 'workflows' }
      : flags.has('execution')
        ? { kind: 'execution', execution: String(flags.get('execution')) }
        : {
            kind: 'service',
            service: positional[0]!,
            revision: typeof revision === 'string' ? revision : null,
          },
  );
  const read = logTail(paths);
  const texts = await read();
  if (texts.length === 0) {
    io.stderr.write(
      `runway logs: no logs for ${what} under ${logs} (is the name right, and did \`runway local up\` run with this home?)\n`,
    );
    return 1;
  }
  io.stdout.write(`${texts.slice(-lines).join('\n')}\n`);
  if (!flags.has('follow')) return 0;
  let stopped = false;
  void io.stopSignal.then(() => {
    stopped = true;
  });
  while (!stopped) {
    await new Promise((r) => setTimeout(r, 300));
    const more = await read();
    if (more.length) io.stdout.write(`${more.join('\n')}\n`);
  }
  return 0;
};

/** A Cloud Build build's log, as `<home>/logs/builds/ID.log` holds it. */
async function buildLog(dir: string, id: string, io: CliIo): Promise<number> {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) {
    io.stderr.write(`runway logs: ${JSON.stringify(id.slice(0, 80))} is not a build id\n`);
    return 2;
  }
  const text = await readFile(join(dir, `${id}.log`), 'utf8').catch(() => undefined);
  if (text === undefined) {
    io.stderr.write(
      `runway logs: no log for build ${id} under ${dir} (is the id right, and did \`runway local up\` run with this home?)\n`,
    );
    return 1;
  }
  io.stdout.write(text);
  return 0;
}
