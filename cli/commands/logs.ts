// `runway logs`: what the local cloud's processes wrote.
//   runway logs NAME [--revision NAME]      a service's or worker pool's revisions (all, or one)
//   runway logs --execution NAME             a job execution's tasks
//   runway logs --workflows                  sys.log and call logging of the release workflow
//   --follow keeps printing new lines until Ctrl-C.
// Lines carry their time, the stream, and for jobs the task and attempt.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Command } from '../io.ts';
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

export const logsCommand: Command = async (argv, io) => {
  let positional: string[];
  let flags: Map<string, string | true>;
  try {
    ({ positional, flags } = parseArgs(argv, {
      revision: true,
      execution: true,
      workflows: false,
      home: true,
      lines: true,
      follow: false,
    }));
    const chosen = [positional.length > 0, flags.has('execution'), flags.has('workflows')];
    if (chosen.filter(Boolean).length !== 1 || positional.length > 1) {
      throw new UsageError(
        'usage: runway logs SERVICE|WORKER_POOL [--revision NAME] | --execution NAME | --workflows [--lines N] [--follow]',
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
  let paths: string[] = [];
  let what: string;
  if (flags.has('workflows')) {
    what = 'the release workflow';
    paths = [join(logs, 'workflows.log')];
  } else if (flags.has('execution')) {
    const name = basename(String(flags.get('execution')));
    what = `execution ${name}`;
    for (const job of await readdir(join(logs, 'jobs')).catch(() => [] as string[])) {
      const path = join(logs, 'jobs', job, `${name}.log`);
      if (await stat(path).catch(() => undefined)) paths.push(path);
    }
  } else {
    const name = basename(positional[0]!);
    const revision = flags.get('revision');
    what = typeof revision === 'string' ? `revision ${revision}` : `service or worker pool ${name}`;
    const all = [
      ...(await files(join(logs, 'services', name))),
      ...(await files(join(logs, 'workerPools', name))),
    ];
    paths =
      typeof revision === 'string'
        ? all.filter((p) => basename(p) === `${basename(revision)}.log`)
        : all;
  }
  // Bytes already shown per file, so --follow prints only what is new.
  const shown = new Map<string, number>();
  const read = async () =>
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
