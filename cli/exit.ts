// How a command ends: 0 done; 1 refused (no open gate, not an approver, frozen, unknown digest,
// nothing running), or anything else that went wrong; 2 bad usage. The reason goes to stderr.
import { UsageError } from './args.ts';
import type { CliIo } from './io.ts';

/** The cloud or runway said no: the command was well formed, but it cannot be done now. */
export class Refused extends Error {
  override name = 'Refused';
}

/** Writes `runway COMMAND: message` to stderr and returns the exit code for `err`. */
export function fail(io: Pick<CliIo, 'stderr'>, command: string, err: unknown): number {
  const message = err instanceof Error ? err.message : String(err);
  io.stderr.write(`runway ${command}: ${message}\n`);
  return err instanceof UsageError ? 2 : 1;
}
