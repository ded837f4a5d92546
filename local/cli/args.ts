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
