// What a command needs from the outside world, passed in so tests hand in their own.
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Resolves when the user asks the command to stop (SIGINT, SIGTERM). */
  stopSignal: Promise<NodeJS.Signals>;
}

export type Command = (argv: string[], io: CliIo) => Promise<number>;

export function processIo(): CliIo {
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const)
      process.once(signal, () => resolve(signal));
  });
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    stopSignal,
  };
}
