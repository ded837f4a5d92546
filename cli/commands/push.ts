// `runway local push DIR IMAGE_REF`: snapshots DIR into the running stack's registry, which
// announces the push on the topic `gcr` like Artifact Registry. Prints the digest reference.
// With --wait it follows the release the push starts, stage by stage, and exits 0 only when it
// ends PROMOTED (1 for any other outcome), for scripts and CI.
import { resolve } from 'node:path';
import type { Command } from '../io.ts';
import { stackHome } from '../home.ts';
import { parseArgs, UsageError } from '../args.ts';
import { readStackInfo } from '../../local/stack.ts';
import { stageLine } from '../table.ts';
import { waitForRelease } from '../../local/watch.ts';
import { localAuthorization } from '../../services/shared/clients.ts';

export const pushCommand: Command = async (argv, io) => {
  let positional: string[];
  let flags: Map<string, string | true>;
  try {
    ({ positional, flags } = parseArgs(argv, {
      file: true,
      home: true,
      json: false,
      wait: false,
      timeout: true,
    }));
    if (positional.length !== 2)
      throw new UsageError(
        'usage: runway local push DIR IMAGE_REF [--file Dockerfile] [--wait [--timeout SECONDS]]',
      );
  } catch (err) {
    io.stderr.write(`runway local push: ${(err as UsageError).message}\n`);
    return 2;
  }
  const timeout = Number(flags.get('timeout') ?? 600);
  if (!(timeout > 0)) {
    io.stderr.write('runway local push: --timeout must be a positive number of seconds\n');
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
      headers: { 'content-type': 'application/json', ...localAuthorization },
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
  if (!flags.has('wait')) return 0;

  const digest = body.digestRef.split('@')[1]!;
  try {
    const run = await waitForRelease(info, digest, {
      timeoutMs: timeout * 1000,
      onStage: (stage, seconds, again) =>
        io.stderr.write(
          `${again ? `  … still in ${stage}` : `  → ${stage}`} at ${seconds.toFixed(1)} s\n`,
        ),
    });
    const outcome = run.result?.outcome ?? run.state;
    for (const stage of run.result?.stages ?? [])
      io.stderr.write(`  ${stageLine(stage, info.timeScale ?? 1)}\n`);
    io.stderr.write(
      `${outcome}${run.result?.reason ? `: ${run.result.reason}` : run.error ? `: ${run.error}` : ''}\n`,
    );
    return outcome === 'PROMOTED' ? 0 : 1;
  } catch (err) {
    io.stderr.write(`runway local push: ${(err as Error).message}\n`);
    return 1;
  }
};
