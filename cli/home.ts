// Where the local stack keeps its state: --home, else RUNWAY_HOME, else ./.runway.
import { join, resolve } from 'node:path';
import type { CliIo } from './io.ts';

export function stackHome(
  io: Pick<CliIo, 'cwd' | 'env'>,
  flags: Map<string, string | true>,
): string {
  const flag = flags.get('home');
  return resolve(
    io.cwd,
    typeof flag === 'string' ? flag : (io.env.RUNWAY_HOME ?? join(io.cwd, '.runway')),
  );
}
