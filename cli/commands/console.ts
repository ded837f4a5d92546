// `runway console [--port N] [--project P --region R] [--no-open]`: serves the web console
// (console/server.ts) on 127.0.0.1 until Ctrl-C, against the local stack or Google, and opens it
// in the browser unless --no-open. `runway local up` serves it too (serveConsole).
import { spawn } from 'node:child_process';
import { loadAssets } from '../../console/assets.ts';
import { type RunningConsole, startConsole } from '../../console/server.ts';
import { cloudSource } from '../../console/source.ts';
import { parseArgs, UsageError } from '../args.ts';
import { localMember, openCloud } from '../cloud.ts';
import { fail } from '../exit.ts';
import type { CliIo, Command } from '../io.ts';
import { resolveTarget, targetFlags } from '../target.ts';

/** The console over the target the flags name (the local stack by default), listening on `port`. */
export async function serveConsole(
  flags: Map<string, string | true>,
  io: Pick<CliIo, 'cwd' | 'env'>,
  port = 0,
): Promise<RunningConsole> {
  const member = flags.has('project') ? null : localMember(flags, io.env);
  const target = await resolveTarget(flags, io);
  const cloud = await openCloud(target, member);
  try {
    const source = await cloudSource(target, cloud);
    return await startConsole({ source, assets: await loadAssets(), port });
  } catch (err) {
    await cloud.close().catch(() => {});
    throw err;
  }
}

/** The command that opens a URL in the user's browser here: $BROWSER, else the platform's opener. */
export function browserCommand(
  url: string,
  platform: NodeJS.Platform,
  env: NodeJS.ProcessEnv,
): [string, string[]] {
  if (env.BROWSER) return [env.BROWSER, [url]];
  if (platform === 'darwin') return ['open', [url]];
  if (platform === 'win32') return ['cmd', ['/c', 'start', '""', url]];
  return ['xdg-open', [url]];
}

function openBrowser(url: string, io: Pick<CliIo, 'env' | 'stderr'>): void {
  const [command, args] = browserCommand(url, process.platform, io.env);
  try {
    const child = spawn(command, args, { stdio: 'ignore', detached: true });
    child.on('error', () => io.stderr.write(`runway console: open ${url} in a browser\n`));
    child.unref();
  } catch {
    io.stderr.write(`runway console: open ${url} in a browser\n`);
  }
}

export function parsePort(flags: Map<string, string | true>): number {
  const text = flags.get('port');
  if (text === undefined) return 0;
  const port = Number(text);
  if (typeof text !== 'string' || !Number.isInteger(port) || port < 0 || port > 65_535)
    throw new UsageError(`--port must be a whole number from 0 to 65535 (got ${String(text)})`);
  return port;
}

export const consoleCommand: Command = async (argv, io) => {
  let running: RunningConsole;
  let flags: Map<string, string | true>;
  try {
    const parsed = parseArgs(argv, { ...targetFlags, as: true, port: true, 'no-open': false });
    flags = parsed.flags;
    if (parsed.positional.length)
      throw new UsageError(
        'usage: runway console [--port N] [--no-open] [--as MEMBER] [--home DIR | --project P --region R]',
      );
    if (flags.has('project') && flags.has('as'))
      throw new UsageError(
        '--as is for the local cloud; on Google you act as your application default credentials',
      );
    running = await serveConsole(flags, io, parsePort(flags));
  } catch (err) {
    return fail(io, 'console', err);
  }
  io.stdout.write(`runway console: ${running.url}   (Ctrl-C stops it)\n`);
  if (!flags.has('no-open')) openBrowser(running.url, io);
  await io.stopSignal;
  await running.close();
  return 0;
};
