// `runway local env [--shell bash|fish|powershell] [--json]`: the lines that point gcloud and
// Google's clients at the running local cloud, for `eval "$(runway local env)"`. gcloud gets its
// own configuration directory under the stack's home, so the user's own is never read or changed.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readStackInfo, type StackInfo } from '../../local/stack.ts';
import { parseArgs, UsageError } from '../args.ts';
import { fail } from '../exit.ts';
import { stackHome } from '../home.ts';
import type { Command } from '../io.ts';

export const shells = ['bash', 'fish', 'powershell'] as const;
export type Shell = (typeof shells)[number];

/** The endpoints other parts of the local cloud add to stack.json when they run. */
type Info = StackInfo & { build?: string; storage?: string; scheduler?: string };

/** What gcloud sends as its token: the local cloud accepts any; Google would refuse this one. */
export const LOCAL_TOKEN = 'runway-local-token';

/** gcloud's configuration directory for a stack: `<home>/gcloud`. */
export const gcloudConfigDir = (home: string) => join(home, 'gcloud');

const trailing = (url: string) => (url.endsWith('/') ? url : `${url}/`);
const hostOf = (url: string) => url.replace(/^[a-z]+:\/\//, '').replace(/\/$/, '');

/** The emulator host variables: as the stack recorded them, or (older files) from its endpoints. */
function emulatorHosts(info: Info): Record<string, string> {
  const derived: Record<string, string> = {
    RUN_EMULATOR_HOST: hostOf(info.run),
    WORKFLOWS_EMULATOR_HOST: hostOf(info.workflows),
    PUBSUB_EMULATOR_HOST: hostOf(info.pubsub),
    ARTIFACT_REGISTRY_EMULATOR_HOST: hostOf(info.registry),
    MONITORING_EMULATOR_HOST: hostOf(info.monitoring),
    // @google-cloud/storage takes a URL here, not a host.
    ...(info.storage ? { STORAGE_EMULATOR_HOST: info.storage.replace(/\/$/, '') } : {}),
  };
  return { ...derived, ...(info.env ?? {}) };
}

/** The variables, in the order printed: gcloud's settings, then the client libraries'. */
export function envVars(info: Info): [string, string][] {
  const overrides: [string, string | undefined][] = [
    ['WORKFLOWEXECUTIONS', info.workflows],
    ['WORKFLOWS', info.workflows],
    ['RUN', info.run],
    ['PUBSUB', info.pubsub],
    ['ARTIFACTREGISTRY', info.registry],
    ['MONITORING', info.monitoring],
    ['CLOUDBUILD', info.build],
    ['CLOUDSCHEDULER', info.scheduler],
    // gcloud's storage client takes the JSON API's base URL, and finds uploads beside it.
    ['STORAGE', info.storage && `${trailing(info.storage)}storage/v1`],
  ];
  const proxy = info.gcloudProxy ? new URL(info.gcloudProxy) : undefined;
  return [
    ['CLOUDSDK_CONFIG', gcloudConfigDir(info.home)],
    ['CLOUDSDK_CORE_PROJECT', info.project],
    ['CLOUDSDK_AUTH_ACCESS_TOKEN', LOCAL_TOKEN],
    ['CLOUDSDK_CORE_CHECK_GCE_METADATA', 'false'],
    ['CLOUDSDK_RUN_REGION', info.region],
    ['CLOUDSDK_WORKFLOWS_LOCATION', info.region],
    ['CLOUDSDK_ARTIFACTS_LOCATION', info.region],
    ...overrides
      .filter((o): o is [string, string] => typeof o[1] === 'string' && o[1] !== '')
      .map(([api, url]): [string, string] => [
        `CLOUDSDK_API_ENDPOINT_OVERRIDES_${api}`,
        trailing(url),
      ]),
    // gcloud run puts the region in front of its endpoint's host, a name only this proxy knows.
    ...(proxy
      ? ([
          ['CLOUDSDK_PROXY_TYPE', 'http'],
          ['CLOUDSDK_PROXY_ADDRESS', proxy.hostname],
          ['CLOUDSDK_PROXY_PORT', proxy.port],
        ] as [string, string][])
      : []),
    ['GOOGLE_CLOUD_PROJECT', info.project],
    // Google's auth libraries: no probe of a metadata server (Node, Python).
    ['METADATA_SERVER_DETECTION', 'none'],
    ['NO_GCE_CHECK', 'True'],
    ...Object.entries(emulatorHosts(info)),
    ['RUNWAY_HOME', info.home],
  ];
}

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
