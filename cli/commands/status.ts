// `runway status`: services (revisions, traffic, tags, digests), job pipelines' live jobs (their
// digest, running release, last refused digest) and recent releases (stages, outcome, billed
// steps), read through Google's clients from the local cloud or from Google.
import type { protos } from '@google-cloud/run';
import type { Command } from '../io.ts';
import {
  type WorkflowResult,
  workflowResultSchema,
} from '../../services/shared/workflow-result.ts';
import { clientOptionsFor, localClientOptions } from '../../services/shared/clients.ts';
import { stageOf } from '../../local/watch.ts';
import { activeFreezes } from '../../services/shared/freezes.ts';
import type { Freeze } from '../../services/shared/pipeline-config.ts';
import { parseArgs, UsageError } from '../args.ts';
import { googleMessage } from '../cloud.ts';
import { fail, Refused } from '../exit.ts';
import type { AnalysisReport } from '../../services/shared/workflow-result.ts';
import { describeAnalysis, describeBefore, liveState } from '../live-state.ts';
import { readConfig, resolveTarget, type Target, targetFlags } from '../target.ts';
import { seconds, stageSeconds, table } from '../table.ts';

export interface ServiceStatus {
  name: string;
  /** Its region, when read from several (a multi-region pipeline's live services). */
  region?: string;
  uri: string;
  ready: boolean;
  revisions: {
    name: string;
    percent: number;
    tags: string[];
    digest: string | null;
    ready: boolean;
  }[];
  /** Its runway.dev/* annotations: on a live service, the release state the workflow keeps. */
  annotations: Record<string, string>;
}

/** A Cloud Run job: a job pipeline's live state is in its runway.dev/* annotations. */
export interface JobStatus {
  name: string;
  /** The first container's image. */
  image: string | null;
  /** Its newest execution (short name), or null when it never ran. */
  latestExecution: string | null;
  /** Its runway.dev/* annotations: on a live job, the release state the workflow keeps. */
  annotations: Record<string, string>;
}

/** A release waiting at an approval gate (runway.dev/gate). */
export interface GateStatus {
  stage: string;
  /** "live" (before live traffic moves) or "100" (before the last canary step). */
  before: string;
  deadline: string;
  url: string;
  approvers: string[];
}

/** A release holding for a freeze (runway.dev/held): at its current split until `until`. */
export interface HeldStatus {
  freeze: string;
  until: string;
  before: string;
}

export interface PipelineStatus {
  name: string;
  /** A multi-region pipeline (live.regions) has a row per region, each naming it. */
  region?: string;
  /** A service pipeline's live is a service; a job pipeline's (kind job) is a job. */
  kind: 'service' | 'job';
  live: string;
  digest: string | null;
  /** The digest the running release claims (runway.dev/claim), or null when none runs. */
  candidate: string | null;
  /** The digest most recently refused (rejected, rolled back or aborted), or null. */
  lastFailed: string | null;
  /** What `runway rollback` goes back to by default. */
  previous: string | null;
  /** Digests the reconcile does not release again by itself. */
  refused: string[];
  /** The execution holding live's claim: the release running now. */
  running: string | null;
  gate: (GateStatus & { execution: string }) | null;
  held: (HeldStatus & { execution: string }) | null;
  /** The freezes in force now. */
  freezes: { name: string; until: string }[];
  /** A running canary's last step's analysis (runway.dev/analysis). */
  analysis: AnalysisReport | null;
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
  /** Waiting for an approver's answer. */
  gate?: GateStatus | null;
  /** Holding for a freeze. */
  held?: HeldStatus | null;
}

/** Options for Google's clients of `api` on the target: the stack's endpoint, or Google's. */
function optionsFor(t: Target, api: 'run' | 'workflows') {
  if (t.kind === 'local')
    return localClientOptions(
      api === 'run' ? t.info.run : t.info.workflows,
      t.token ? { credentials: { token: t.token } } : {},
    );
  return clientOptionsFor(t.env, api === 'run' ? 'RUN_EMULATOR_HOST' : 'WORKFLOWS_EMULATOR_HOST');
}

/**
 * The target's services, read through Google's Cloud Run client again and again over one pair of
 * clients (the console reads them every few hundred milliseconds); close() when done.
 */
export async function openServiceReader(
  t: Target,
  /** The regions to read (default the target's); with several, each service names its region. */
  regions: string[] = [t.region],
): Promise<{ read(): Promise<ServiceStatus[]>; close(): Promise<void> }> {
  const { ServicesClient, RevisionsClient } = await import('@google-cloud/run');
  const options = optionsFor(t, 'run');
  const services = new ServicesClient(options);
  const revisions = new RevisionsClient(options);
  const readRegion = async (region: string) => {
    const [list] = await services.listServices({
      parent: `projects/${t.project}/locations/${region}`,
    });
    const out: ServiceStatus[] = [];
    for (const s of list) {
      const [revs] = await revisions.listRevisions({ parent: s.name ?? '' });
      out.push({ ...serviceStatus(s, revs), ...(regions.length > 1 ? { region } : {}) });
    }
    return out;
  };
  return {
    read: async () => (await Promise.all(regions.map(readRegion))).flat(),
    close: async () => {
      await Promise.all([services.close(), revisions.close()]);
    },
  };
}

type RunService = protos.google.cloud.run.v2.IService;
type RunRevision = protos.google.cloud.run.v2.IRevision;

function serviceStatus(s: RunService, revs: RunRevision[]): ServiceStatus {
  const short = (n: string | null | undefined) => (n ?? '').split('/').pop() ?? '';
  const traffic = s.trafficStatuses ?? [];
  return {
    name: short(s.name),
    uri: s.uri ?? '',
    annotations: Object.fromEntries(
      Object.entries(s.annotations ?? {}).filter(([k]) => k.startsWith('runway.dev/')),
    ),
    ready:
      String(s.terminalCondition?.state) === 'CONDITION_SUCCEEDED' ||
      s.terminalCondition?.state === 2,
    revisions: revs.map((r) => {
      const name = short(r.name);
      const entries = traffic.filter(
        (x) => x.revision === name || (x.revision === '' && short(s.latestReadyRevision) === name),
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
          (c) => c.type === 'Ready' && (String(c.state) === 'CONDITION_SUCCEEDED' || c.state === 2),
        ),
      };
    }),
  };
}

export async function readServices(
  t: Target,
  regions: string[] = [t.region],
): Promise<ServiceStatus[]> {
  const reader = await openServiceReader(t, regions);
  try {
    return await reader.read();
  } finally {
    await reader.close();
  }
}

/**
 * The target's jobs, read through Google's Cloud Run client again and again over one client (the
 * console reads them with the services); close() when done.
 */
export async function openJobReader(
  t: Target,
): Promise<{ read(): Promise<JobStatus[]>; close(): Promise<void> }> {
  const { JobsClient } = await import('@google-cloud/run');
  const jobs = new JobsClient(optionsFor(t, 'run'));
  return {
    read: async () => {
      const [list] = await jobs.listJobs({ parent: `projects/${t.project}/locations/${t.region}` });
      return list.map(jobStatus);
    },
    close: () => jobs.close(),
  };
}

type RunJob = protos.google.cloud.run.v2.IJob;

export function jobStatus(j: RunJob): JobStatus {
  const short = (n: string | null | undefined) => (n ?? '').split('/').pop() ?? '';
  return {
    name: short(j.name),
    image: j.template?.template?.containers?.[0]?.image || null,
    latestExecution: short(j.latestCreatedExecution?.name) || null,
    annotations: Object.fromEntries(
      Object.entries(j.annotations ?? {}).filter(([k]) => k.startsWith('runway.dev/')),
    ),
  };
}

export async function readJobs(t: Target): Promise<JobStatus[]> {
  const reader = await openJobReader(t);
  try {
    return await reader.read();
  } finally {
    await reader.close();
  }
}

export async function readReleases(t: Target, limit = 10): Promise<ReleaseStatus[]> {
  const { ExecutionsClient } = await import('@google-cloud/workflows');
  const client = new ExecutionsClient(optionsFor(t, 'workflows'));
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
        i === 0 ? (s.region ? `${s.region}/${s.name}` : s.name) : '',
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
    r.result?.outcome ??
      (r.gate
        ? 'awaiting approval'
        : r.held
          ? `held: ${r.held.freeze}`
          : r.stage
            ? `running: ${r.stage}`
            : r.error
              ? 'ERROR'
              : '-'),
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
          `${s.name}${s.region ? `@${s.region}` : ''} ${stageSeconds(s.end ? Date.parse(s.end) - Date.parse(s.start) : undefined, scale)} ${s.outcome.toLowerCase()}`,
      )
      .join(' · ');
    const why = releases[i] ? failureOf(releases[i]) : null;
    return [line, ...(stages ? [`    ${stages}`] : []), ...(why ? [`    ${why}`] : [])];
  });
  return [
    services.length
      ? table(['SERVICE', 'REVISION', 'TRAFFIC', 'TAGS', 'DIGEST', 'STATE'], serviceRows)
      : 'no services',
    '',
    releases.length ? [header, ...releaseLines].join('\n') : 'no releases',
  ].join('\n');
}

/**
 * Why a release failed, in a line: its failed stage's detail, or the execution's error (the
 * message of a raised map, with the API's own message from an HTTP error's body, where a missing
 * grant names its permission: `Permission 'run.services.get' denied on resource …`).
 */
export function failureOf(r: ReleaseStatus): string | null {
  const failed = r.result?.stages.find((s) => s.outcome === 'FAILED' && s.detail);
  if (failed) return `${failed.name} failed: ${failed.detail}`;
  if (r.result || !r.error) return null;
  let parts: string[] = [r.error];
  try {
    const e = JSON.parse(r.error) as unknown;
    if (typeof e === 'string') parts = [e];
    else if (e && typeof e === 'object') {
      const m = e as { message?: unknown; body?: { error?: { message?: unknown } } };
      const api = m.body?.error?.message;
      parts = [m.message, api].filter(
        (x, i, all): x is string => typeof x === 'string' && x !== '' && all.indexOf(x) === i,
      );
      if (parts.length === 0) parts = [r.error];
    }
  } catch {}
  const text = parts.join(': ').replace(/\s+/g, ' ');
  return `error: ${text.length > 400 ? `${text.slice(0, 399)}…` : text}`;
}

/**
 * The freezes in force for a pipeline now: those runway.yaml's policies cover it with (so a freeze
 * shows before any release meets it), and the one its release holds for (runway.dev/held), each
 * name once with the latest end.
 */
export function activeFreezesOf(
  held: HeldStatus | null,
  now: Date,
  policies: { freezes: Freeze[]; pipeline: string } | null = null,
): { name: string; until: string }[] {
  const found = new Map<string, string>();
  if (policies)
    for (const f of activeFreezes(policies.freezes, policies.pipeline, 'release', now))
      found.set(f.name, f.until.toISOString());
  if (held && Date.parse(held.until) > now.getTime()) {
    const known = found.get(held.freeze);
    if (!known || Date.parse(known) < Date.parse(held.until)) found.set(held.freeze, held.until);
  }
  return [...found].map(([name, until]) => ({ name, until }));
}

/** A pipeline as status reads it: runway.yaml's, by its live service or live job. */
export type PipelineRef = {
  name: string;
  live: { service: string; regions?: string[] } | { job: string } | { workerPool: string };
};

/** The regions status reads: the target's, and every region a pipeline's live names. */
export function regionsToRead(region: string, pipelines: PipelineRef[]): string[] {
  const named = pipelines.flatMap((p) => ('regions' in p.live && p.live.regions) || []);
  return [...new Set([region, ...named])];
}

/**
 * Each pipeline's release state, from its live service's (or, for a job pipeline, its live job's)
 * annotations. The pipelines come from runway.yaml; without one, every service and job carrying
 * runway's state is a pipeline of its name.
 */
export function pipelineStatuses(
  pipelines: PipelineRef[] | null,
  services: ServiceStatus[],
  now: Date,
  freezes: Freeze[] = [],
  jobs: JobStatus[] = [],
  /** The target's region: where a pipeline naming no regions lives. */
  first?: string,
): PipelineStatus[] {
  const stateful = (r: { annotations: Record<string, string> }) =>
    Boolean(r.annotations['runway.dev/digest'] || r.annotations['runway.dev/claim']);
  const list: PipelineRef[] = pipelines ?? [
    ...services.filter(stateful).map((s) => ({ name: s.name, live: { service: s.name } })),
    ...jobs.filter(stateful).map((j) => ({ name: j.name, live: { job: j.name } })),
  ];
  // A worker pool's live state is on its live pool, which status does not read yet. A pipeline
  // in several regions has a row per region, from that region's live service.
  type Row = {
    name: string;
    live: { service: string; regions?: string[] } | { job: string };
    region: string | undefined;
  };
  const read = list.flatMap((p): Row[] => {
    if ('workerPool' in p.live) return [];
    const live = p.live;
    const regions = 'regions' in live ? (live.regions ?? []) : [];
    return regions.length > 0
      ? regions.map((region) => ({ name: p.name, live, region }))
      : [{ name: p.name, live, region: undefined }];
  });
  return read.map((p) => {
    const kind = 'job' in p.live ? ('job' as const) : ('service' as const);
    const live = 'job' in p.live ? p.live.job : p.live.service;
    // A service read from one region names none: it is in the target's.
    const here = (r: { name: string; region?: string }) =>
      r.name === live && (r.region ?? first) === (p.region ?? first);
    const annotations = (kind === 'job' ? jobs : services).find(here)?.annotations ?? {};
    const state = liveState(annotations);
    const gate = state.gate;
    const held = state.held;
    return {
      name: p.name,
      ...(p.region ? { region: p.region } : {}),
      kind,
      live,
      digest: state.digest,
      candidate: state.claim?.digest ?? gate?.digest ?? null,
      lastFailed: state.refused.at(-1) ?? null,
      previous: state.previous,
      refused: state.refused,
      running: state.claim?.execution ?? gate?.execution ?? held?.execution ?? null,
      gate: gate
        ? {
            execution: gate.execution,
            stage: gate.stage,
            before: gate.before,
            deadline: gate.deadline,
            url: gate.url,
            approvers: gate.approvers,
          }
        : null,
      held: held
        ? { execution: held.execution, freeze: held.freeze, until: held.until, before: held.before }
        : null,
      freezes: activeFreezesOf(held, now, { freezes, pipeline: p.name }),
      analysis: state.analysis,
    };
  });
}

/** The job pipelines' live jobs, one row each: digest, running release, last refused digest. */
export function renderJobPipelines(pipelines: PipelineStatus[]): string | null {
  const rows = pipelines
    .filter((p) => p.kind === 'job')
    .map((p) => [
      p.name,
      p.live,
      p.digest ? shortOf(p.digest) : '-',
      p.running ? `${p.running.slice(0, 12)} (${p.candidate ? shortOf(p.candidate) : '?'})` : '-',
      p.lastFailed ? shortOf(p.lastFailed) : '-',
    ]);
  if (!rows.length) return null;
  return table(['JOB PIPELINE', 'LIVE JOB', 'DIGEST', 'RUNNING (DIGEST)', 'LAST FAILED'], rows);
}

const shortOf = (digest: string) => digest.replace('sha256:', '').slice(0, 12);

/** Releases with the gate they wait at or the freeze they hold for, matched by execution. */
export function withWaits(releases: ReleaseStatus[], pipelines: PipelineStatus[]): ReleaseStatus[] {
  return releases.map((r) => {
    const gate = pipelines.find((p) => p.gate?.execution === r.execution)?.gate;
    const held = pipelines.find((p) => p.held?.execution === r.execution)?.held;
    return {
      ...r,
      gate: gate
        ? {
            stage: gate.stage,
            before: gate.before,
            deadline: gate.deadline,
            url: gate.url,
            approvers: gate.approvers,
          }
        : null,
      held: held ? { freeze: held.freeze, until: held.until, before: held.before } : null,
    };
  });
}

/** One line per pipeline that waits for someone or something: a gate, a hold, a freeze. */
export function renderWaits(pipelines: PipelineStatus[]): string[] {
  const lines: string[] = [];
  for (const p of pipelines) {
    if (p.gate)
      lines.push(
        `${p.name}: release ${p.gate.execution.slice(0, 12)} awaits approval ${describeBefore(p.gate.before)} (stage ${p.gate.stage}) until ${p.gate.deadline}; approvers: ${p.gate.approvers.join(', ') || 'none'}; answer with \`runway approve ${p.name}\` or \`runway reject ${p.name}\``,
      );
    if (p.held)
      lines.push(
        `${p.name}: release ${p.held.execution.slice(0, 12)} is held by the freeze ${p.held.freeze} until ${p.held.until}, ${describeBefore(p.held.before)}; live keeps its traffic split until then`,
      );
    for (const f of p.freezes)
      if (f.name !== p.held?.freeze) lines.push(`${p.name}: frozen by ${f.name} until ${f.until}`);
    if (p.analysis) lines.push(`${p.name}: canary analysis ${describeAnalysis(p.analysis)}`);
  }
  return lines;
}

export const statusCommand: Command = async (argv, io) => {
  try {
    const { flags } = parseArgs(argv, { ...targetFlags, as: true, json: false });
    if (flags.has('project') && flags.has('as'))
      throw new UsageError(
        '--as is for the local cloud; on Google you act as your application default credentials',
      );
    const target = await resolveTarget(flags, io);
    const config = await readConfig(target, flags.has('config'));
    const [services, jobs, releases] = await Promise.all([
      readServices(target, regionsToRead(target.region, config?.pipelines ?? [])),
      readJobs(target),
      readReleases(target),
    ]);
    // A job pipeline's live state is on its live job.
    const pipelines = pipelineStatuses(
      config?.pipelines ?? null,
      services,
      new Date(),
      config?.freezes ?? [],
      jobs,
      target.region,
    );
    const waiting = withWaits(releases, pipelines);
    const scale = target.kind === 'local' ? target.timeScale : 1;
    const waits = renderWaits(pipelines);
    const jobTable = renderJobPipelines(pipelines);
    io.stdout.write(
      flags.has('json')
        ? `${JSON.stringify({ services, jobs, releases: waiting, pipelines })}\n`
        : `${renderStatus(services, waiting, scale)}\n${jobTable ? `\n${jobTable}\n` : ''}${waits.length ? `\n${waits.join('\n')}\n` : ''}`,
    );
    return 0;
  } catch (err) {
    return fail(io, 'status', refusal(err));
  }
};

/**
 * A denial of the cloud's (gRPC code 7, or 403 in REST) as a refusal naming the permission, so
 * `runway status --as someone` says what they lack: Google's message already names it.
 */
export function refusal(err: unknown): unknown {
  const e = err as { code?: unknown; message?: unknown };
  if (e?.code !== 7 && e?.code !== 403) return err;
  // REST mode's message is Google's error body; gRPC's is prefixed with its code.
  const message = googleMessage(String(e.message ?? '').replace(/^7 PERMISSION_DENIED: /, ''));
  return new Refused(`PERMISSION_DENIED: ${message}`);
}
