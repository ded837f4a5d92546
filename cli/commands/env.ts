// `runway local env [--shell bash|fish|powershell] [--json]`: the lines that point gcloud and
// Google's clients at the running local cloud, for `eval "$(runway local env)"`. gcloud gets its
// own configuration directory under the stack's home, so the user's own is never read or changed.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { envVars, gcloudConfigDir } from '../../local/gcloud-env.ts';
import { readStackInfo } from '../../local/stack.ts';
import { parseArgs, UsageError } from '../args.ts';
import { fail } from '../exit.ts';
import { stackHome } from '../home.ts';
import type { Command } from '../io.ts';

export { envVars, gcloudConfigDir, LOCAL_TOKEN } from '../../local/gcloud-env.ts';

export const shells = ['bash', 'fish', 'powershell'] as const;
export type Shell = (typeof shells)[number];

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `value` as one literal word of `shell`: nothing in it is expanded, whatever it holds. */
export function quote(shell: Shell, value: string): string {
  if (value.includes('\0')) throw new Error('a value cannot hold a NUL character');
  switch (shell) {
    case 'bash':
      // Inside single quotes nothing is special; a quote ends them, is escaped, and reopens.
      return `'${value.replaceAll("'", `'\\''`)}'`;
    case 'fish':
      // fish's single quotes take \\ and \' as escapes, nothing else.
      return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
    case 'powershell':
      // PowerShell ends a single-quoted string at any of four quote marks; each is doubled.
      return `'${value.replace(/['\u2018\u2019\u201A\u201B]/g, '$&$&')}'`;
  }
}

/** One line per variable, in the shell's own syntax. */
export function renderEnv(vars: [string, string][], shell: Shell): string {
  return vars
    .map(([name, value]) => {
      if (!NAME.test(name)) throw new Error(`${JSON.stringify(name)} is not a variable name`);
      const v = quote(shell, value);
      if (shell === 'fish') return `set -gx ${name} ${v}`;
      if (shell === 'powershell') return `$env:${name} = ${v}`;
      return `export ${name}=${v}`;
    })
    .join('\n');
}

const HOW: Record<Shell, string> = {
  bash: 'eval "$(runway local env)"',
  fish: 'runway local env --shell fish | source',
  powershell: 'runway local env --shell powershell | Out-String | Invoke-Expression',
};

export const envCommand: Command = async (argv, io) => {
  try {
    const { positional, flags } = parseArgs(argv, { shell: true, home: true, json: false });
    if (positional.length > 0) throw new UsageError(`unexpected argument ${positional[0]}`);
    const shell = flags.get('shell') ?? 'bash';
    if (!shells.includes(shell as Shell))
      throw new UsageError(`--shell must be one of ${shells.join(', ')} (got ${String(shell)})`);
    const home = stackHome(io, flags);
    const info = await readStackInfo(home);
    if (!info)
      throw new UsageError(
        `no local stack is running (no ${join(home, 'stack.json')}); start one with \`runway local up\``,
      );
    const vars = envVars(info);
    // A fresh configuration of gcloud's own; `gce` answers gcloud's "on Google Compute Engine?".
    const config = gcloudConfigDir(info.home);
    await mkdir(config, { recursive: true });
    await writeFile(join(config, 'gce'), 'False');
    if (flags.has('json')) {
      io.stdout.write(`${JSON.stringify(Object.fromEntries(vars), null, 2)}\n`);
      return 0;
    }
    io.stdout.write(
      `# gcloud and Google's clients pointed at the local cloud in ${info.home}: ${HOW[shell as Shell]}\n${renderEnv(vars, shell as Shell)}\n`,
    );
    return 0;
  } catch (err) {
    return fail(io, 'local env', err);
  }
};
