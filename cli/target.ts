// Where a command acts: the local stack (`<home>/stack.json`, home from --home or RUNWAY_HOME) or
// Google (--project and --region, application default credentials); and a pipeline's settings,
// from the runway.yaml the stack runs, or --config (default ./runway.yaml).
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type StackInfo, readStackInfo } from '../local/stack.ts';
import {
  type Pipeline,
  type PipelineConfig,
  parsePipelineConfig,
} from '../services/shared/pipeline-config.ts';
import { UsageError } from './args.ts';
import { localMember } from './cloud.ts';
import { Refused } from './exit.ts';
import { stackHome } from './home.ts';
import type { CliIo } from './io.ts';

/** The flags every command that reads the stack or Google takes (a parseArgs spec). */
export const targetFlags = {
  home: true,
  project: true,
  region: true,
  workflow: true,
  config: true,
} as const;

interface Common {
  project: string;
  region: string;
  /** The release workflow's name: runway-release unless --workflow says otherwise. */
  workflow: string;
  /** runway.yaml, when one is known; commands that need a pipeline's settings read it. */
  configPath: string | null;
}

export type Target =
  | (Common & {
      kind: 'local';
      info: StackInfo;
      timeScale: number;
      /** Who calls (`--as`, RUNWAY_AS, or the local user). */
      member: string;
      /**
       * The member's access token from the stack's issuer (identity on), so the stack's IAM sees
       * them; absent with identity off, where every call is the local user's.
       */
      token?: string;
    })
  | (Common & { kind: 'google'; env: NodeJS.ProcessEnv });

/** Resolves the target from the flags: Google with --project, else the local stack. */
export async function resolveTarget(
  flags: Map<string, string | true>,
  io: Pick<CliIo, 'cwd' | 'env'>,
): Promise<Target> {
  const text = (name: string) => {
    const v = flags.get(name);
    return typeof v === 'string' ? v : undefined;
  };
  const workflow = text('workflow') ?? 'runway-release';
  const config = text('config');
  const project = text('project');
  if (project !== undefined) {
    const region = text('region');
    if (region === undefined) throw new UsageError('--project needs --region');
    if (flags.has('home')) throw new UsageError('--home is for the local cloud, not --project');
    return {
      kind: 'google',
      project,
      region,
      workflow,
      configPath: resolve(io.cwd, config ?? 'runway.yaml'),
      env: io.env,
    };
  }
  if (flags.has('region')) throw new UsageError('--region needs --project');
  const home = stackHome(io, flags);
  const info = await readStackInfo(home);
  if (!info)
    throw new UsageError(
      `no local stack is running (no ${join(home, 'stack.json')}); start one with \`runway local up\`, or pass --project and --region for Google`,
    );
  if (!info.run || !info.workflows || !info.project || !info.region)
    throw new UsageError(`${join(home, 'stack.json')} is incomplete`);
  const member = localMember(flags, io.env);
  const token = info.issuer ? await memberToken(info.issuer, member) : undefined;
  return {
    kind: 'local',
    member,
    ...(token ? { token } : {}),
    project: info.project,
    region: info.region,
    workflow,
    configPath: config ? resolve(io.cwd, config) : (info.config ?? resolve(io.cwd, 'runway.yaml')),
    info,
    timeScale: info.timeScale ?? 1,
  };
}

/**
 * runway.yaml of the target; when it is missing or does not parse, null, or with `required` the
 * error (a UsageError when there is none to read).
 */
export async function readConfig(
  target: Target,
  required: boolean,
): Promise<PipelineConfig | null> {
  const path = target.configPath;
  let text: string;
  try {
    if (path === null) throw new Error('no runway.yaml known');
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (!required) return null;
    throw new UsageError(
      `cannot read the pipelines' configuration ${path ?? ''}: ${(err as Error).message}; pass --config runway.yaml`,
    );
  }
  try {
    return parsePipelineConfig(text, path ?? 'runway.yaml');
  } catch (err) {
    if (required) throw err;
    return null;
  }
}

/** A pipeline of the target's runway.yaml; an unknown name is refused, naming the known ones. */
export async function pipelineOf(
  target: Target,
  name: string,
): Promise<{ config: PipelineConfig; pipeline: Pipeline }> {
  const config = (await readConfig(target, true))!;
  const pipeline = config.pipelines.find((p) => p.name === name);
  if (!pipeline)
    throw new Refused(
      `no pipeline named ${name} in ${target.configPath} (pipelines: ${config.pipelines.map((p) => p.name).join(', ')})`,
    );
  return { config, pipeline };
}

/** `projects/P/locations/R`. */
export function locationOf(target: Target): string {
  return `projects/${target.project}/locations/${target.region}`;
}

/**
 * An access token of `member` from the stack's issuer: a user's from its local sign-in stand-in,
 * a service account's from IAM Credentials (as impersonation gets one on Google). A group or a
 * domain holds no token: the local cloud cannot call as one.
 */
export async function memberToken(issuer: string, member: string): Promise<string> {
  const [kind, email] = member.split(/:(.*)/s) as [string, string];
  const path =
    kind === 'user'
      ? `/local/v1/users/${encodeURIComponent(email)}:generateAccessToken`
      : kind === 'serviceAccount'
        ? `/v1/projects/-/serviceAccounts/${encodeURIComponent(email)}:generateAccessToken`
        : undefined;
  if (!path)
    throw new UsageError(
      `--as ${member}: the local cloud's APIs are called by a user or a service account; a ${kind} holds no token`,
    );
  let res: Response;
  try {
    res = await fetch(`${issuer}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ scope: ['https://www.googleapis.com/auth/cloud-platform'] }),
    });
  } catch (err) {
    throw new Error(
      `the stack's token issuer at ${issuer} did not answer: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const text = await res.text();
  if (!res.ok) throw new Refused(`the stack's token issuer refused a token for ${member}: ${text}`);
  return (JSON.parse(text) as { accessToken: string }).accessToken;
}
