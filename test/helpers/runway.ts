// `runway ARGS` run in-process against a stack's home, as a user runs it: its exit code and
// output. The e2e tests of the operator commands and the console share it.
import { PassThrough } from 'node:stream';
import { main } from '../../cli/main.ts';

export interface RunwayRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A `runway` bound to `home` (RUNWAY_HOME and the working directory); `env` adds variables. */
export function runwayIn(home: () => string) {
  return async (args: string[], env: Record<string, string> = {}): Promise<RunwayRun> => {
    const out = new PassThrough();
    const err = new PassThrough();
    let stdout = '';
    let stderr = '';
    out.on('data', (c) => (stdout += c));
    err.on('data', (c) => (stderr += c));
    const code = await main(args, {
      stdout: out,
      stderr: err,
      env: { RUNWAY_HOME: home(), ...env },
      cwd: home(),
      stopSignal: new Promise(() => {}),
    });
    return { code, stdout, stderr };
  };
}
