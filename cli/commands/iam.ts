// `runway local iam unused`: the grants of the running stack's Terraform that no call used since
// it started, so an excess grant shows as a missing one does (a release failing with
// PERMISSION_DENIED). `used` lists the others with the permissions they granted.
import type { Command } from '../io.ts';
import { stackHome } from '../home.ts';
import { parseArgs, UsageError } from '../args.ts';
import { readStackInfo } from '../../local/stack.ts';

interface Grant {
  principal: string;
  role: string;
  resource: string;
  source?: string;
}

export const iamCommand: Command = async (argv, io) => {
  let positional: string[];
  let flags: Map<string, string | true>;
  try {
    ({ positional, flags } = parseArgs(argv, { home: true, json: false }));
    if (positional.length !== 1 || !['unused', 'used'].includes(positional[0]!))
      throw new UsageError('usage: runway local iam unused|used [--json]');
  } catch (err) {
    io.stderr.write(`runway local iam: ${(err as UsageError).message}\n`);
    return 2;
  }
  const home = stackHome(io, flags);
  const info = await readStackInfo(home);
  if (!info) {
    io.stderr.write(
      `runway local iam: no local cloud is running (no ${home}/stack.json); start one with \`runway local up\`\n`,
    );
    return 2;
  }
  if (!info.iam) {
    io.stderr.write(
      'runway local iam: the running local cloud has IAM off (runway local up --iam on)\n',
    );
    return 2;
  }
  const which = positional[0] as 'unused' | 'used';
  let body: {
    unused?: { binding: Grant; checkable: boolean }[];
    used?: { binding: Grant; permissions: string[] }[];
  };
  try {
    const res = await fetch(`${info.iam}/${which}`);
    if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
    body = (await res.json()) as typeof body;
  } catch (err) {
    io.stderr.write(`runway local iam: the stack did not answer: ${(err as Error).message}\n`);
    return 1;
  }
  if (flags.get('json') === true) {
    io.stdout.write(`${JSON.stringify(body[which] ?? [])}\n`);
    return 0;
  }
  const line = (g: Grant, note: string) =>
    `${g.principal}  ${g.role}  on ${g.resource}${note}\n    ${g.source ?? ''}\n`;
  if (which === 'unused') {
    const rows = body.unused ?? [];
    io.stdout.write(
      rows.length === 0
        ? 'every grant was used\n'
        : `${rows.length} grant(s) no call used since the stack started:\n${rows
            .map((u) =>
              line(u.binding, u.checkable ? '' : '  (grants nothing the local cloud checks)'),
            )
            .join('')}`,
    );
  } else {
    for (const u of body.used ?? [])
      io.stdout.write(line(u.binding, `  (${u.permissions.join(', ')})`));
  }
  return 0;
};
