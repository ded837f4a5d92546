// `runway status`: services (revisions, traffic, tags, digests) and recent releases (stages,
// outcome, billed steps), read through Google's clients from the local cloud or from Google.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from '../io.ts';
import {
  type WorkflowResult,
  workflowResultSchema,
} from '../../services/shared/workflow-result.ts';
import { clientOptionsFor } from '../../services/shared/clients.ts';
import { stageOf } from '../../local/watch.ts';
import { parseArgs, UsageError } from '../args.ts';
import { seconds, stageSeconds, table } from '../table.ts';

interface Target {
  project: string;
  region: string;
  workflow: string;
  env: NodeJS.ProcessEnv;
  /** The local cloud's time scale (stage times are workflow time); 1 on Google. */
  timeScale?: number;
}

export interface ServiceStatus {
  name: string;
  uri: string;
  ready: boolean;
  revisions: {
    name: string;
    percent: number;
    tags: string[];
    digest: string | null;
    ready: boolean;
  }[];
}

export interface ReleaseStatus {
  execution: string;
  state: string;
  startTime: string | null;
  durationMs: number | null;
  billedSteps: number | null;
  result: WorkflowResult | null;
  error: string | null;
  /** While ACTIVE: the release stage running now (claim, staging, test, promote, …). */
  stage: string | null;
  /** While ACTIVE: labels the deployer set (pipeline, short digest). */
  labels: Record<string, string>;
}

/** Where the local stack wrote its endpoints, or flags and env for Google. */
async function resolveTarget(
  flags: Map<string, string | true>,
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<Target> {
  const project = flags.get('project');
  if (typeof project === 'string') {
    const region = flags.get('region');
    if (typeof region !== 'string') throw new UsageError('--project needs --region');
    const workflow = flags.get('workflow');
    return {
      project,
      region,
      workflow: typeof workflow === 'string' ? workflow : 'runway-release',
      env,
    };
  }
  const dir = env.RUNWAY_HOME ?? join(cwd, '.runway');
  let stack: {
    run?: string;
    workflows?: string;
    project?: string;
    region?: string;
    timeScale?: number;
  };
  try {
    stack = JSON.parse(await readFile(join(dir, 'stack.json'), 'utf8'));
  } catch {
    throw new UsageError(
      `no local stack is running (no ${join(dir, 'stack.json')}); start one with \`runway local up\`, or pass --project and --region for Google`,
    );
  }
  if (!stack.run || !stack.project || !stack.region)
    throw new UsageError(`${join(dir, 'stack.json')} is incomplete`);
  const host = (url: string) => new URL(url).host;
  return {
    project: stack.project,
    region: stack.region,
    workflow: 'runway-release',
    ...(stack.timeScale ? { timeScale: stack.timeScale } : {}),
    env: {
      ...env,
      RUN_EMULATOR_HOST: host(stack.run),
      ...(stack.workflows ? { WORKFLOWS_EMULATOR_HOST: host(stack.workflows) } : {}),
    },
  };
}

export async function readServices(t: Target): Promise<ServiceStatus[]> {
  const { ServicesClient, RevisionsClient } = await import('@google-cloud/run');
  const options = clientOptionsFor(t.env, 'RUN_EMULATOR_HOST');
  const services = new ServicesClient(options);
  const revisions = new RevisionsClient(options);
  try {
    const [list] = await services.listServices({
      parent: `projects/${t.project}/locations/${t.region}`,
    });
    const out: ServiceStatus[] = [];
    for (const s of list) {
      const [revs] = await revisions.listRevisions({ parent: s.name ?? '' });
      const short = (n: string | null | undefined) => (n ?? '').split('/').pop() ?? '';
      const traffic = s.trafficStatuses ?? [];
      out.push({
        name: short(s.name),
        uri: s.uri ?? '',
        ready:
          String(s.terminalCondition?.state) === 'CONDITION_SUCCEEDED' ||
          s.terminalCondition?.state === 2,
        revisions: revs.map((r) => {
          const name = short(r.name);
          const entries = traffic.filter(
            (x) =>
              x.revision === name || (x.revision === '' && short(s.latestReadyRevision) === name),
          );
          const image = r.containers?.[0]?.image ?? '';
          return {
            name,
            percent: entries.reduce((sum, x) => sum + (x.percent ?? 0), 0),
            tags: entries.map((x) => x.tag ?? '').filter(Boolean),
            digest:
              r.annotations?.['runway.dev/digest'] ??
              /@(sha256:[0-9a-f]{64})$/.exec(image)?.[1] ??
              null,
            ready: (r.conditions ?? []).some(
              (c) =>
                c.type === 'Ready' && (String(c.state) === 'CONDITION_SUCCEEDED' || c.state === 2),
            ),
          };
        }),
      });
    }
    return out;
  } finally {
    await Promise.all([services.close(), revisions.close()]);
  }
}

export async function readReleases(t: Target, limit = 10): Promise<ReleaseStatus[]> {
  const { ExecutionsClient } = await import('@google-cloud/workflows');
  const client = new ExecutionsClient(clientOptionsFor(t.env, 'WORKFLOWS_EMULATOR_HOST'));
  try {
    const [list] = await client.listExecutions(
      {
        parent: `projects/${t.project}/locations/${t.region}/workflows/${t.workflow}`,
        pageSize: limit,
        view: 'FULL',
      },
      { autoPaginate: false },
    );
    return list.slice(0, limit).map((e) => {
      const ts = (x: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
        x ? Number(x.seconds ?? 0) * 1000 + Math.round((x.nanos ?? 0) / 1e6) : null;
      const start = ts(e.startTime);
      const end = ts(e.endTime);
      let result: WorkflowResult | null = null;
      if (e.result) {
        const parsed = workflowResultSchema.safeParse(JSON.parse(e.result));
        if (parsed.success) result = parsed.data;
      }
      const steps =
        e.labels?.['runway-billed-steps'] ?? (e as { stepsBilled?: string }).stepsBilled;
      return {
        execution: (e.name ?? '').split('/').pop() ?? '',
        state: String(e.state ?? ''),
        startTime: start === null ? null : new Date(start).toISOString(),
        durationMs:
          start !== null && end !== null
            ? end - start
            : start !== null && e.state === 'ACTIVE'
              ? Date.now() - start
              : null,
        billedSteps: steps === undefined ? null : Number(steps),
        result,
        error: e.error?.payload ?? null,
        stage:
          e.state === 'ACTIVE'
            ? stageOf(
                (e as { status?: { currentSteps?: { routine?: string | null }[] | null } }).status
                  ?.currentSteps?.[0]?.routine ?? 'main',
              )
            : null,
        labels: { ...(e.labels ?? {}) },
      };
    });
  } finally {
    await client.close();
  }
}

export function renderStatus(
  services: ServiceStatus[],
  releases: ReleaseStatus[],
  scale = 1,
): string {
  const serviceRows = services.flatMap((s) =>
    s.revisions
      .sort((a, b) => b.percent - a.percent || a.name.localeCompare(b.name))
      .map((r, i) => [
        i === 0 ? s.name : '',
        r.name,
        r.percent ? `${r.percent}%` : '-',
        r.tags.join(',') || '-',
        r.digest ? r.digest.replace('sha256:', '').slice(0, 12) : '-',
        r.ready ? 'ready' : 'not ready',
      ]),
  );
  const releaseRows = releases.map((r) => [
    r.execution.slice(0, 12),
    r.state,
    r.result?.outcome ?? (r.stage ? `running: ${r.stage}` : r.error ? 'ERROR' : '-'),
    r.result?.pipeline ?? r.labels.pipeline ?? '-',
    r.result ? r.result.digest.replace('sha256:', '').slice(0, 12) : (r.labels.digest ?? '-'),
    seconds(r.durationMs ?? undefined),
    r.billedSteps === null ? '-' : String(r.billedSteps),
  ]);
  // Each release's stages go on a line of their own under its row, outside the columns.
  const [header = '', ...lines] = releaseRows.length
    ? table(
        ['RELEASE', 'STATE', 'OUTCOME', 'PIPELINE', 'DIGEST', 'TIME', 'STEPS'],
        releaseRows,
      ).split('\n')
    : [];
  const releaseLines = lines.flatMap((line, i) => {
    const stages = releases[i]?.result?.stages
      .map(
        (s) =>
          `${s.name} ${stageSeconds(s.end ? Date.parse(s.end) - Date.parse(s.start) : undefined, scale)} ${s.outcome.toLowerCase()}`,
      )
      .join(' · ');
    return stages ? [line, `    ${stages}`] : [line];
  });
  return [
    services.length
      ? table(['SERVICE', 'REVISION', 'TRAFFIC', 'TAGS', 'DIGEST', 'STATE'], serviceRows)
      : 'no services',
    '',
    releases.length ? [header, ...releaseLines].join('\n') : 'no releases',
  ].join('\n');
}

export const statusCommand: Command = async (argv, io) => {
  try {
    const { flags } = parseArgs(argv, { json: false, project: true, region: true, workflow: true });
    const target = await resolveTarget(flags, io.env, io.cwd);
    const [services, releases] = await Promise.all([readServices(target), readReleases(target)]);
    io.stdout.write(
      flags.has('json')
        ? `${JSON.stringify({ services, releases })}\n`
        : `${renderStatus(services, releases, target.timeScale)}\n`,
    );
    return 0;
  } catch (err) {
    io.stderr.write(`runway status: ${(err as Error).message}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
};
