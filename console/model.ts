// What the console's pages show, derived from one snapshot of the cloud (what `runway status` reads:
// services, executions, runway.yaml, each pipeline's release state) by pure functions, so the pages
// render without I/O and tests and the benchmark hand in snapshots of their own.
import { stageOf } from '../local/watch.ts';
import type { ExecutionView } from '../cli/cloud.ts';
import { type HistoryRow, historyRow } from '../cli/commands/history.ts';
import type { JobStatus, PipelineStatus, ServiceStatus } from '../cli/commands/status.ts';
import { describeAnalysis } from '../cli/live-state.ts';
import { shortDigest } from '../services/shared/image-ref.ts';
import {
  type Pipeline,
  type PipelineConfig,
  targetOf,
} from '../services/shared/pipeline-config.ts';
import type { AnalysisReport } from '../services/shared/workflow-result.ts';

export interface Snapshot {
  /** When it was read (the server's clock). */
  at: Date;
  kind: 'local' | 'google';
  project: string;
  region: string;
  /** How much faster than the wall the workflow's clock runs (local cloud; 1 on Google). */
  timeScale: number;
  /** Who the console acts as; null when not known yet (Google: the credentials). */
  member: string | null;
  services: ServiceStatus[];
  /** The region's Cloud Run jobs: a job pipeline's live state is on its live job. */
  jobs?: JobStatus[];
  /** The release workflow's executions, newest first. */
  executions: ExecutionView[];
  config: PipelineConfig | null;
  pipelines: PipelineStatus[];
}

/** When a split of a running release was first seen, in ms since the epoch (the bake countdown). */
export type StepClock = (key: string) => number;

export interface Segment {
  revision: string;
  percent: number;
  tags: string[];
  digest: string | null;
  role: 'stable' | 'candidate' | 'other';
}

export interface TrafficBar {
  service: string;
  region: string;
  segments: Segment[];
}

export interface CanaryStep {
  percent: number;
  state: 'done' | 'current' | 'pending' | 'failed';
  /** What the analysis measured at this step, where the release recorded it. */
  analysis: string | null;
}

export interface Running {
  execution: string;
  digest: string | null;
  tag: string | null;
  stage: string;
  steps: CanaryStep[] | null;
  /** The current canary step's bake ends at this instant (ms since the epoch), as seen from here. */
  bakeEndsAt: number | null;
  gate: PipelineStatus['gate'];
  held: PipelineStatus['held'];
}

/** A job pipeline's job on its card: a job has no traffic to draw, only the digest it runs. */
export interface JobRow {
  job: string;
  role: 'live' | 'staging';
  /** The digest its template runs (runway.dev/digest, else its image's), or null. */
  digest: string | null;
  /** Its newest execution, or null when it never ran (or does not exist yet). */
  latestExecution: string | null;
  exists: boolean;
}

export interface Card {
  name: string;
  /** A service pipeline's live is a service, a job pipeline's a job (live.service names it). */
  kind: 'service' | 'job';
  region: string;
  live: { service: string; digest: string | null; tag: string | null; previous: string | null };
  /** The digest most recently refused on live (rejected, rolled back or aborted). */
  lastFailed: string | null;
  bars: TrafficBar[];
  /** A job pipeline's live and staging jobs (none for a service pipeline). */
  jobs: JobRow[];
  running: Running | null;
  last: HistoryRow | null;
  freezes: PipelineStatus['freezes'];
}

interface Args {
  image?: string | null;
  tag?: string | null;
  to?: string | null;
  action?: string;
  promotion?: {
    strategy?: string;
    steps?: number[];
    bakeSeconds?: number;
    health?: { maxErrorRatio?: number; minRequests?: number } | null;
    analysis?: {
      metrics?: { builtin?: string; max?: number; compareTo?: string }[];
      minRequests?: number;
    } | null;
  };
}

interface Result {
  /** Each canary step's analysis (promotion.analysis), as the workflow recorded it. */
  analysis?: AnalysisReport[];
  outcome?: string;
  digest?: string;
  reason?: string | null;
  staging?: { service?: string; revision?: string | null };
  live?: { service?: string; revision?: string | null; previousRevision?: string | null };
  stages?: {
    name: string;
    start: string;
    end: string | null;
    outcome: string;
    detail?: string | null;
    by?: string | null;
    reason?: string | null;
  }[];
}

const object = <T>(v: unknown): Partial<T> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Partial<T>) : {};

export const argsOf = (e: ExecutionView) => object<Args>(e.argument);
export const resultOf = (e: ExecutionView) => object<Result>(e.result);

/** The digest an execution releases (its image) or rolls back to. */
export function digestOf(e: ExecutionView): string | null {
  const result = resultOf(e);
  if (result.digest) return result.digest;
  const args = argsOf(e);
  if (args.image?.includes('@')) return args.image.slice(args.image.lastIndexOf('@') + 1);
  return args.to ?? null;
}

/** The executions of one pipeline: labelled with it by the deployer or by runway's actions. */
export const executionsOf = (s: Snapshot, pipeline: string) =>
  s.executions.filter((e) => e.labels.pipeline === pipeline);

/** The tag a digest was pushed with, from the newest release of it that names one. */
export function tagOf(executions: ExecutionView[], digest: string | null): string | null {
  if (!digest) return null;
  for (const e of executions) {
    const args = argsOf(e);
    if (args.tag && args.image?.endsWith(`@${digest}`)) return args.tag;
  }
  return null;
}

function pipelineConfig(s: Snapshot, name: string): Pipeline | null {
  return s.config?.pipelines.find((p) => p.name === name) ?? null;
}

function bar(s: Snapshot, service: string): TrafficBar | null {
  const found = s.services.find((x) => x.name === service);
  if (!found) return null;
  const segments = found.revisions
    .filter((r) => r.percent > 0 || r.tags.includes('candidate'))
    .map((r) => ({
      revision: r.name,
      percent: r.percent,
      tags: r.tags,
      digest: r.digest,
      role: r.tags.includes('candidate')
        ? ('candidate' as const)
        : r.tags.includes('stable') || r.percent === 100
          ? ('stable' as const)
          : ('other' as const),
    }))
    .sort((a, b) => (a.role === 'candidate' ? 1 : 0) - (b.role === 'candidate' ? 1 : 0));
  return { service, region: s.region, segments };
}

/** The canary steps of a release: done, current (the candidate's share of live now), pending. */
export function canarySteps(
  e: ExecutionView,
  candidatePercent: number | null,
  result: Partial<Result> = resultOf(e),
): CanaryStep[] | null {
  const promotion = argsOf(e).promotion;
  if (promotion?.strategy !== 'canary' || !promotion.steps?.length) return null;
  const promote = result.stages?.find((x) => x.name === 'promote');
  const failedAt = /canary at (\d+)%/.exec(result.reason ?? promote?.detail ?? '');
  const failedPercent = result.outcome === 'ROLLED_BACK' && failedAt ? Number(failedAt[1]) : null;
  const current = e.state === 'ACTIVE' ? candidatePercent : null;
  const reached =
    result.outcome === 'PROMOTED'
      ? promotion.steps.length
      : current !== null
        ? promotion.steps.indexOf(current)
        : failedPercent !== null
          ? promotion.steps.indexOf(failedPercent)
          : -1;
  const analysis = analysisOf(result);
  const reports = result.analysis ?? [];
  return promotion.steps.map((percent, i) => ({
    percent,
    state:
      failedPercent === percent
        ? 'failed'
        : i < reached
          ? 'done'
          : i === reached && current !== null
            ? 'current'
            : 'pending',
    analysis: ((r) => (r ? describeAnalysis(r) : failedPercent === percent ? analysis : null))(
      reports.find((r) => r.percent === percent),
    ),
  }));
}

/** The analysis figures a release recorded: a 5xx ratio, or an inconclusive count. */
export function analysisOf(result: Partial<Result>): string | null {
  const texts = [result.reason, ...(result.stages ?? []).map((x) => x.detail)];
  for (const t of texts) {
    const m = /(5xx ratio \d+\/\d+ is above [\d.]+|inconclusive: \d+ requests[^;]*)/.exec(t ?? '');
    if (m) return m[1]!;
  }
  return null;
}

/** The running release of a pipeline, if any: its stage, canary step, bake countdown, gate. */
function running(s: Snapshot, p: PipelineStatus, clock: StepClock): Running | null {
  const own = executionsOf(s, p.name);
  const e =
    (p.running ? s.executions.find((x) => x.id === p.running) : undefined) ??
    own.find((x) => x.state === 'ACTIVE' && (argsOf(x).action ?? 'release') === 'release');
  if (!e || (e.state !== 'ACTIVE' && e.state !== 'QUEUED')) return null;
  const digest = digestOf(e);
  // A job has no revisions or traffic: no candidate share, no canary steps.
  const live = p.kind === 'job' ? undefined : s.services.find((x) => x.name === p.live);
  const candidate = live?.revisions.find(
    (r) => r.tags.includes('candidate') && r.digest === digest,
  );
  const steps = canarySteps(e, candidate?.percent ?? null);
  const bakeSeconds = argsOf(e).promotion?.bakeSeconds ?? 0;
  const baking = candidate && candidate.percent > 0 && candidate.percent < 100 && !p.gate;
  const since = baking ? clock(`${e.id}:${candidate.percent}`) : null;
  return {
    execution: e.id,
    digest,
    tag: argsOf(e).tag ?? null,
    stage: p.gate ? 'gate' : p.held ? 'held' : stageOf(e.routine ?? 'main'),
    steps,
    bakeEndsAt: since === null ? null : since + (bakeSeconds * 1000) / Math.max(1, s.timeScale),
    gate: p.gate,
    held: p.held,
  };
}

function jobRow(s: Snapshot, job: string, role: JobRow['role']): JobRow {
  const found = s.jobs?.find((j) => j.name === job);
  return {
    job,
    role,
    digest:
      found?.annotations['runway.dev/digest'] ??
      /@(sha256:[0-9a-f]{64})$/.exec(found?.image ?? '')?.[1] ??
      null,
    latestExecution: found?.latestExecution ?? null,
    exists: found !== undefined,
  };
}

/** One card per pipeline, in runway.yaml's order. */
export function cards(s: Snapshot, clock: StepClock): Card[] {
  return s.pipelines.map((p) => {
    const own = executionsOf(s, p.name);
    const config = pipelineConfig(s, p.name);
    const staging = config ? [targetOf(config.staging)] : [];
    const services = p.kind === 'job' ? [] : [p.live, ...staging];
    const jobs =
      p.kind === 'job'
        ? [jobRow(s, p.live, 'live'), ...staging.map((j) => jobRow(s, j, 'staging'))]
        : [];
    const last = own
      .filter((e) => e.state !== 'ACTIVE' && e.state !== 'QUEUED')
      .map(historyRow)
      .find((r) => r !== null);
    return {
      name: p.name,
      kind: p.kind,
      region: config?.region ?? s.region,
      live: { service: p.live, digest: p.digest, tag: tagOf(own, p.digest), previous: p.previous },
      lastFailed: p.lastFailed,
      bars: services.map((x) => bar(s, x)).filter((b): b is TrafficBar => b !== null),
      jobs,
      running: running(s, p, clock),
      last: last ?? null,
      freezes: p.freezes,
    };
  });
}

export interface Action {
  enabled: boolean;
  /** Why it is disabled (a tooltip), or what it does. */
  why: string;
}

export interface StageRow {
  name: string;
  outcome: string;
  /** Wall time (workflow time divided by the time scale), and the workflow's own. */
  wallMs: number | null;
  workflowMs: number | null;
  detail: string | null;
  by: string | null;
  reason: string | null;
  end: string | null;
}

export interface ReleaseModel {
  id: string;
  pipeline: string;
  kind: 'release' | 'rollback' | 'abort';
  state: string;
  outcome: string;
  digest: string | null;
  tag: string | null;
  by: string | null;
  reason: string | null;
  error: string | null;
  startTime: string | null;
  wallMs: number | null;
  current: string | null;
  stages: StageRow[];
  steps: CanaryStep[] | null;
  thresholds: { maxErrorRatio: number | null; minRequests: number | null } | null;
  bakeSeconds: number | null;
  decisions: StageRow[];
  revisions: { service: string; revision: string; role: string }[];
  /** The acceptance job execution whose failure rejected the release. */
  failedJob: string | null;
  billedSteps: number | null;
  gate: PipelineStatus['gate'];
  actions: Record<'approve' | 'reject' | 'abort' | 'rollback', Action>;
  /** What a rollback goes back to: live's previous digest. */
  rollbackTo: string | null;
}

function gateAction(s: Snapshot, p: PipelineStatus | undefined, id: string, verb: string): Action {
  if (!p?.gate || p.gate.execution !== id)
    return { enabled: false, why: 'this release is not waiting at an approval gate' };
  const approvers = p.gate.approvers;
  if (s.member && !approvers.some((a) => a.toLowerCase() === s.member!.toLowerCase()))
    return {
      enabled: false,
      why: `${s.member} is not an approver of this gate (approvers: ${approvers.join(', ') || 'none'})`,
    };
  return { enabled: true, why: `${verb} the release at its gate` };
}

/** Can live be rolled back to its previous digest now, and if not, why. */
export function rollbackAction(p: PipelineStatus | undefined): Action {
  if (!p) return { enabled: false, why: 'the pipeline is not in runway.yaml' };
  if (!p.previous) return { enabled: false, why: 'live records no previous digest to go back to' };
  if (p.previous === p.digest) return { enabled: false, why: 'the previous digest is live' };
  return { enabled: true, why: `live back to ${shortDigest(p.previous)}` };
}

const FAILED_JOB = /Execution '([A-Za-z0-9._-]+)'/;

/** Everything the release page shows of one execution. */
export function releaseModel(s: Snapshot, e: ExecutionView): ReleaseModel {
  const args = argsOf(e);
  const result = resultOf(e);
  const row = historyRow(e);
  const pipelineName =
    e.labels.pipeline ?? (e.result ? (result as { pipeline?: string }).pipeline : undefined) ?? '';
  const p = s.pipelines.find((x) => x.name === pipelineName);
  const scale = Math.max(1, s.timeScale);
  const stages: StageRow[] = (result.stages ?? []).map((x) => {
    const ms = x.end ? Date.parse(x.end) - Date.parse(x.start) : null;
    return {
      name: x.name,
      outcome: x.outcome,
      workflowMs: ms,
      wallMs: ms === null ? null : ms / scale,
      detail: x.detail ?? null,
      by: x.by ?? null,
      reason: x.reason ?? null,
      end: x.end,
    };
  });
  const digest = digestOf(e);
  const live = s.services.find((x) => x.name === p?.live);
  const candidate = live?.revisions.find(
    (r) => r.tags.includes('candidate') && r.digest === digest,
  );
  // The older health form, or an analysis's fixed 5xx ratio.
  const ratio = args.promotion?.analysis?.metrics?.find(
    (m) => m.builtin === 'error-ratio' && !m.compareTo,
  );
  const health =
    args.promotion?.health ??
    (args.promotion?.analysis
      ? { maxErrorRatio: ratio?.max, minRequests: args.promotion.analysis.minRequests }
      : null);
  const config = pipelineConfig(s, pipelineName);
  const revisions: ReleaseModel['revisions'] = [];
  const addRevision = (
    service: string | undefined,
    revision: string | null | undefined,
    role: string,
  ) => {
    if (service && revision && !revisions.some((r) => r.revision === revision))
      revisions.push({ service, revision, role });
  };
  addRevision(result.staging?.service, result.staging?.revision, 'staging');
  addRevision(result.live?.service, result.live?.revision, 'live');
  addRevision(result.live?.service, result.live?.previousRevision, 'previous');
  if (digest && config?.kind === 'service' && (args.action ?? 'release') === 'release') {
    addRevision(
      config.staging.service,
      `${config.staging.service}-${shortDigest(digest)}`,
      'staging',
    );
    addRevision(config.live.service, `${config.live.service}-${shortDigest(digest)}`, 'live');
  }
  const failedText = [e.error, result.reason, ...stages.map((x) => x.detail)].find((t) =>
    FAILED_JOB.test(t ?? ''),
  );
  const active = e.state === 'ACTIVE' || e.state === 'QUEUED';
  const kind = (e.labels.action ?? args.action ?? 'release') as ReleaseModel['kind'];
  const start = e.startTime ? Date.parse(e.startTime) : null;
  const end = e.endTime ? Date.parse(e.endTime) : active ? s.at.getTime() : null;
  const steps = canarySteps(e, candidate?.percent ?? null, result);
  return {
    id: e.id,
    pipeline: pipelineName,
    kind,
    state: e.state,
    outcome: row?.outcome ?? e.state,
    digest,
    tag: args.tag ?? null,
    by: row?.by ?? null,
    reason: row?.reason ?? result.reason ?? null,
    error: e.error,
    startTime: e.startTime,
    wallMs: start !== null && end !== null ? end - start : null,
    current: active ? (p?.gate?.execution === e.id ? 'gate' : stageOf(e.routine ?? 'main')) : null,
    stages,
    steps,
    thresholds: health
      ? { maxErrorRatio: health.maxErrorRatio ?? null, minRequests: health.minRequests ?? null }
      : null,
    bakeSeconds: steps ? (args.promotion?.bakeSeconds ?? null) : null,
    decisions: stages.filter((x) => x.by),
    revisions,
    failedJob: failedText ? FAILED_JOB.exec(failedText)![1]! : null,
    billedSteps: e.labels['runway-billed-steps'] ? Number(e.labels['runway-billed-steps']) : null,
    gate: p?.gate?.execution === e.id ? p.gate : null,
    actions: {
      approve: gateAction(s, p, e.id, 'approve'),
      reject: gateAction(s, p, e.id, 'reject'),
      abort:
        active && kind === 'release' && p?.kind !== 'job'
          ? { enabled: true, why: 'stop the release (live goes back if it moved)' }
          : {
              enabled: false,
              why: !active
                ? `the ${kind} has ended (${row?.outcome ?? e.state})`
                : kind !== 'release'
                  ? 'only a release can be aborted'
                  : 'a job release runs to its end (it has no control channel); roll back after it',
            },
      rollback: rollbackAction(p),
    },
    rollbackTo: p?.previous ?? null,
  };
}

/** A pipeline's history rows, filtered by outcome (null: all). */
export function historyModel(rows: HistoryRow[], outcome: string | null): HistoryRow[] {
  return outcome ? rows.filter((r) => r.outcome === outcome) : rows;
}
