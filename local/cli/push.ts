// `runway local push DIR IMAGE_REF`: snapshots DIR into the running stack's registry, which
// announces the push on the topic `gcr` like Artifact Registry. Prints the digest reference.
import { resolve } from 'node:path';
import type { Command } from '../../cli/io.ts';
import { stackHome } from './home.ts';
import { parseArgs, UsageError } from './args.ts';
import { readStackInfo } from '../stack.ts';

export const pushCommand: Command = async (argv, io) => {
  let positional: string[];
  let flags: Map<string, string | true>;
  try {
    ({ positional, flags } = parseArgs(argv, { file: true, home: true, json: false }));
    if (positional.length !== 2)
      throw new UsageError('usage: runway local push DIR IMAGE_REF [--file Dockerfile]');
  } catch (err) {
    io.stderr.write(`runway local push: ${(err as UsageError).message}\n`);
    return 2;
  }
  const home = stackHome(io, flags);
  const info = await readStackInfo(home);
  if (!info) {
    io.stderr.write(
      `runway local push: no local cloud is running (no ${home}/stack.json); start one with \`runway local up\`\n`,
    );
    return 2;
  }
  const [dir, image] = positional as [string, string];
  const file = flags.get('file');
  let res: Response;
  try {
    res = await fetch(`${info.registry}/local/v1/images:push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        dir: resolve(io.cwd, dir),
        image,
        ...(typeof file === 'string' ? { dockerfile: file } : {}),
      }),
    });
  } catch (err) {
    io.stderr.write(
      `runway local push: the local registry at ${info.registry} does not answer (${(err as Error).message}); is \`runway local up\` still running?\n`,
    );
    return 1;
  }
  const body = (await res.json().catch(() => ({}))) as {
    digestRef?: string;
    error?: { message: string };
  };
  if (!res.ok || !body.digestRef) {
    io.stderr.write(
      `runway local push: ${body.error?.message ?? `the registry answered ${res.status}`}\n`,
    );
    return 1;
  }
  io.stdout.write(flags.get('json') ? `${JSON.stringify(body)}\n` : `${body.digestRef}\n`);
  return 0;
};
