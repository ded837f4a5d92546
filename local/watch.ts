// Following a release on the local cloud: the release workflow's executions for a digest (the
// deployer labels them with it), their live stage while they run, and their result when done.
import { shortDigest } from '../services/shared/image-ref.ts';
import type { WorkflowResult } from '../services/shared/workflow-result.ts';
import type { StackInfo } from './stack.ts';
import { localAuthorization } from '../services/shared/clients.ts';

// Google's Executions API names only the innermost routine running (status.currentSteps). The
// stage routines of release.yaml name their stage; its helpers (record, read_service,
// run_acceptance for the tests and the canary checks alike, ...) run inside whichever stage called
// them, so they keep the stage seen before, or, seen first, the stage they most often serve.
const STAGES: Record<string, string> = {
  main: 'starting',
  start_release: 'validate',
  claim_live: 'claim',
  deploy_staging: 'staging',
  restore_staging: 'staging',
  test_staging: 'test',
  promote_live: 'promote',
  canary_step: 'promote',
  judge_requests: 'promote',
  gate: 'gate',
  hold_while_frozen: 'held',
  watch_live: 'watch',
  canary_failed: 'cleanup',
  restore_after_error: 'cleanup',
  reject: 'cleanup',
  roll_back: 'rollback',
  send_abort: 'abort',
  report: 'report',
  // a job pipeline's path (release_job)
  release_job: 'starting',
  claim_job: 'claim',
  stage_job: 'staging',
  test_job: 'test',
  promote_job: 'promote',
  reject_job: 'cleanup',
  roll_back_job: 'rollback',
};
const HELPERS: Record<string, string> = {
  run_acceptance: 'test',
  release_claim: 'cleanup',
  abort_running: 'abort',
  run_job_acceptance: 'test',
  release_job_claim: 'cleanup',
};

/** The release stage a routine of release.yaml belongs to, given the stage seen before it. */
export function stageOf(routine: string, previous?: string): string {
  return STAGES[routine] ?? previous ?? HELPERS[routine] ?? 'running';
}

interface ApiExecution {
  name: string;
  state: 'ACTIVE' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  startTime: string;
  endTime?: string;
  result?: string;
  error?: { payload: string; context: string };
  labels?: Record<string, string>;
  status?: { currentSteps?: { routine: string; step: string }[] };
}

export interface ReleaseRun {
  execution: string;
  state: ApiExecution['state'];
  result: WorkflowResult | null;
  error: string | null;
  billedSteps: number;
  durationMs: number;
  /** How many executions the digest started (Pub/Sub may deliver twice; extras end DUPLICATE). */
  executions: number;
}

async function listFor(info: StackInfo, digest?: string): Promise<ApiExecution[]> {
  const filter = digest
    ? `&filter=${encodeURIComponent(`labels.digest="${shortDigest(digest)}"`)}`
    : '';
  const url = `${info.workflows}/v1/projects/${info.project}/locations/${info.region}/workflows/runway-release/executions?view=FULL&pageSize=100${filter}`;
  const res = await fetch(url, { headers: localAuthorization });
  if (!res.ok) throw new Error(`listing executions failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { executions?: ApiExecution[] }).executions ?? [];
}

/**
 * Waits for the release of `digest` to finish; `onStage` hears each stage as it starts, with the
 * seconds the release has run. Rejects after `timeoutMs`.
 */
export async function waitForRelease(
  info: StackInfo,
  digest: string,
  options: {
    timeoutMs?: number;
    pollMs?: number;
    /** Hears each stage as it starts, and again every `heartbeatMs` while it runs (`again`). */
    onStage?: (stage: string, seconds: number, again: boolean) => void;
    heartbeatMs?: number;
    /** Once all are done, wait this long for late deliveries to start more before answering. */
    quietMs?: number;
  } = {},
): Promise<ReleaseRun> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  const started = Date.now();
  let lastStage = '';
  let lastHeard = Date.now();
  const stages = new Map<string, string>();
  const heartbeat = options.heartbeatMs ?? 5000;
  for (;;) {
    const list = await listFor(info, digest);
    const active = list.filter((e) => e.state === 'ACTIVE');
    for (const e of active) {
      const routine = e.status?.currentSteps?.[0]?.routine ?? 'main';
      const stage = stageOf(routine, stages.get(e.name));
      stages.set(e.name, stage);
      if (stage !== lastStage || Date.now() - lastHeard >= heartbeat) {
        options.onStage?.(stage, (Date.now() - started) / 1000, stage === lastStage);
        lastStage = stage;
        lastHeard = Date.now();
      }
    }
    if (list.length > 0 && active.length === 0) {
      if (options.quietMs) {
        await new Promise((r) => setTimeout(r, options.quietMs));
        const again = await listFor(info, digest);
        if (again.length !== list.length || again.some((e) => e.state === 'ACTIVE')) continue;
      }
      const runs = list.map((e) => toRun(e, list.length));
      return runs.find((r) => r.result?.outcome !== 'DUPLICATE') ?? runs[0]!;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `the release of ${shortDigest(digest)} did not finish in time (${list.length} execution(s), ${active.length} active)`,
      );
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? 100));
  }
}

/** Resolves when a release of `digest` is running stage `stage` (or has already ended). */
export async function waitForStage(
  info: StackInfo,
  digest: string,
  stage: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await listFor(info, digest);
    if (list.some((e) => e.state !== 'ACTIVE')) return;
    const at = list.map((e) => stageOf(e.status?.currentSteps?.[0]?.routine ?? 'main'));
    if (at.includes(stage)) return;
    if (Date.now() > deadline)
      throw new Error(`the release of ${shortDigest(digest)} never reached ${stage}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function toRun(e: ApiExecution, executions: number): ReleaseRun {
  let result: WorkflowResult | null = null;
  try {
    result = e.result ? (JSON.parse(e.result) as WorkflowResult) : null;
  } catch {}
  let error: string | null = null;
  if (e.error) {
    try {
      const payload = JSON.parse(e.error.payload) as {
        message?: string;
        body?: { error?: { message?: unknown } };
      };
      error = payload.message ?? e.error.payload;
      // An HTTP error's message is only its status; Google's own message (a PERMISSION_DENIED
      // naming the permission, say) is in its body.
      const detail = payload.body?.error?.message;
      if (typeof detail === 'string' && detail !== '') error = `${error}: ${detail}`;
    } catch {
      error = e.error.payload;
    }
  }
  return {
    execution: e.name.split('/').pop() ?? e.name,
    state: e.state,
    result,
    error,
    billedSteps: Number(e.labels?.['runway-billed-steps'] ?? 0),
    durationMs: e.endTime ? Date.parse(e.endTime) - Date.parse(e.startTime) : 0,
    executions,
  };
}

/**
 * Follows every release on the stack until `stop` resolves, telling `say` when one starts, changes
 * stage and ends: what `runway local up` prints while it runs.
 */
export async function followReleases(
  info: StackInfo,
  say: (line: string) => void,
  stop: Promise<unknown>,
  pollMs = 500,
): Promise<void> {
  const seen = new Map<string, string>();
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  while (!stopped) {
    const list = await listFor(info).catch(() => [] as ApiExecution[]);
    for (const e of list) {
      const id = (e.name.split('/').pop() ?? '').slice(0, 8);
      const what = `release ${id} (${e.labels?.pipeline ?? '?'} ${e.labels?.digest ?? ''})`;
      const before = seen.get(e.name);
      const state =
        e.state === 'ACTIVE'
          ? stageOf(e.status?.currentSteps?.[0]?.routine ?? 'main', before)
          : e.state;
      if (before === state) continue;
      seen.set(e.name, state);
      if (e.state === 'ACTIVE') {
        say(`${what}: ${before === undefined ? 'started, ' : ''}${state}`);
        continue;
      }
      const run = toRun(e, 1);
      say(
        `${what}: ${run.result?.outcome ?? run.state} in ${(run.durationMs / 1000).toFixed(1)} s, ${run.billedSteps} billed steps${run.result?.reason ? ` (${run.result.reason})` : run.error ? ` (${run.error})` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
