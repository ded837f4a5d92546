// What the operator commands (approve, reject, abort, rollback, release, history) share: their
// flags, parsed once into typed options; the target and its cloud opened and closed around the
// command's work; the exit code from what was thrown; and waiting for an execution to end.
import { parseArgs, UsageError } from './args.ts';
import {
  type Cloud,
  type ExecutionView,
  type Executions,
  localMember,
  openCloud,
} from './cloud.ts';
import { fail } from './exit.ts';
import type { CliIo } from './io.ts';
import { resolveTarget, type Target, targetFlags } from './target.ts';

export interface Parsed {
  positional: string[];
  flags: Map<string, string | true>;
  /** Who the local cloud takes the caller for (--as, RUNWAY_AS); null on Google (credentials). */
  member: string | null;
}

/**
 * Parses argv with the target's flags, `--as`, and `spec`; `count` positionals exactly. `--as` is
 * the local cloud's: on Google the caller is whoever the credentials are.
 */
export function parseOperator(
  argv: string[],
  env: NodeJS.ProcessEnv,
  spec: Record<string, boolean>,
  count: number,
  usage: string,
): Parsed {
  const { positional, flags } = parseArgs(argv, { ...targetFlags, as: true, ...spec });
  if (positional.length !== count) throw new UsageError(usage);
  const google = flags.has('project');
  if (google && flags.has('as'))
    throw new UsageError(
      '--as is for the local cloud; on Google you act as your application default credentials',
    );
  return { positional, flags, member: google ? null : localMember(flags, env) };
}

/** A flag's text value, or undefined. */
export function text(flags: Map<string, string | true>, name: string): string | undefined {
  const v = flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export interface Context<O> {
  options: O;
  target: Target;
  cloud: Cloud;
  io: CliIo;
}

/**
 * Runs an operator command: parse (bad usage: 2), resolve the target, open its cloud, act, close.
 * What `act` throws becomes the exit code: Refused and anything else 1, UsageError 2.
 */
export async function runOperator<O extends { parsed: Parsed }>(
  name: string,
  argv: string[],
  io: CliIo,
  parse: (argv: string[], env: NodeJS.ProcessEnv) => O,
  act: (context: Context<O>) => Promise<number>,
  openWith: (target: Target, member: string | null) => Promise<Cloud> = openCloud,
): Promise<number> {
  let cloud: Cloud | undefined;
  try {
    const options = parse(argv, io.env);
    const target = await resolveTarget(options.parsed.flags, io);
    cloud = await openWith(target, options.parsed.member);
    return await act({ options, target, cloud, io });
  } catch (err) {
    return fail(io, name, err);
  } finally {
    await cloud?.close().catch(() => {});
  }
}

export interface WaitOptions {
  sleep?: (ms: number) => Promise<void>;
  pollMs?: number;
  /** Resolves when the user stops waiting (Ctrl-C): the execution goes on without us. */
  stop?: Promise<unknown>;
  /** Hears the routine the execution runs whenever it changes. */
  onRoutine?: (routine: string) => void;
}

const STOPPED = Symbol('stopped');

/** Polls an execution until it is no longer ACTIVE (or QUEUED); null if told to stop first. */
export async function waitForExecution(
  executions: Pick<Executions, 'get'>,
  name: string,
  options: WaitOptions = {},
): Promise<ExecutionView | null> {
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const stop = options.stop?.then(() => STOPPED) ?? new Promise<never>(() => {});
  let routine: string | null = null;
  for (;;) {
    const e = await executions.get(name);
    if (e.state !== 'ACTIVE' && e.state !== 'QUEUED') return e;
    if (e.routine && e.routine !== routine) {
      routine = e.routine;
      options.onRoutine?.(routine);
    }
    if ((await Promise.race([sleep(options.pollMs ?? 250), stop])) === STOPPED) return null;
  }
}
