// A small, strict flag parser for runway's commands: unknown flags are errors, never ignored.
export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string | true>;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

/** `spec` maps each flag to whether it takes a value: `{ json: false, port: true }`. */
export function parseArgs(argv: string[], spec: Record<string, boolean>): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!(name in spec)) throw new UsageError(`unknown flag --${name}`);
    if (spec[name]) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      flags.set(name, value);
    } else {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      flags.set(name, true);
    }
  }
  return { positional, flags };
}

/**
 * The local cloud's time scale: --time-scale, else RUNWAY_TIME_SCALE, else `fallback`. Throws a
 * UsageError naming whichever of the two held a value outside 1 to 1000.
 */
export function timeScaleOption(
  flags: Map<string, string | true>,
  env: NodeJS.ProcessEnv,
  fallback: number,
): number {
  const flag = flags.get('time-scale');
  const [name, text] =
    typeof flag === 'string'
      ? ['--time-scale', flag]
      : env.RUNWAY_TIME_SCALE !== undefined
        ? ['RUNWAY_TIME_SCALE', env.RUNWAY_TIME_SCALE]
        : ['', String(fallback)];
  const scale = text.trim() === '' ? Number.NaN : Number(text);
  if (!(Number.isFinite(scale) && scale >= 1 && scale <= 1000))
    throw new UsageError(`${name} must be a number from 1 to 1000 (got ${JSON.stringify(text)})`);
  return scale;
}
