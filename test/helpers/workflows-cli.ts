// `runway workflows …` in-process, as tests drive it: its stdout and stderr captured as they come.
import { PassThrough } from 'node:stream';
import { runCommand } from '../../cli/commands/workflows.ts';

export interface CliRun {
  /** The exit code, once the command ends. */
  code: Promise<number>;
  stdout(): string;
  stderr(): string;
}

export function startCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd: string },
): CliRun {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c) => (stdout += c));
  err.on('data', (c) => (stderr += c));
  const code = runCommand(args, {
    stdout: out,
    stderr: err,
    env: options.env ?? {},
    cwd: options.cwd,
    stopSignal: new Promise(() => {}),
  });
  return { code, stdout: () => stdout, stderr: () => stderr };
}
