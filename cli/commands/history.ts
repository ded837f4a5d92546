// `runway history PIPELINE [--json] [--limit N] [--check]`: the pipeline's releases and rollbacks,
// newest first: outcome, digest, who, when and why; with --check, the exit code says whether the
// newest one ended well, for scripts. Read from the Executions API (executions labelled
// with the pipeline, FULL view for arguments and results): the deployer labels releases
// {pipeline, digest}, runway labels its actions {pipeline, action}. Aborts are not listed: the
// release they stopped is, with who aborted it and why.
import { shortDigest } from '../../services/shared/image-ref.ts';
import { UsageError } from '../args.ts';
import type { ExecutionView, Executions } from '../cloud.ts';
import type { Command } from '../io.ts';
import { type Parsed, parseOperator, runOperator, text } from '../operate.ts';
import { table } from '../table.ts';

export interface HistoryRow {
  kind: 'release' | 'rollback';
  execution: string;
  digest: string | null;
  outcome: string;
  by: string | null;
  at: string | null;
  reason: string | null;
}

export interface HistoryOptions {
  parsed: Parsed;
  pipeline: string;
  json: boolean;
  limit: number;
  /** Exit 1 unless the newest release or rollback ended well. */
  check: boolean;
}

export function parseHistory(argv: string[], env: NodeJS.ProcessEnv): HistoryOptions {
  const parsed = parseOperator(
    argv,
    env,
    { json: false, limit: true, check: false },
    1,
    'usage: runway history PIPELINE [--json] [--limit N] [--check] [--home DIR | --project P --region R]',
  );
  const limitText = text(parsed.flags, 'limit') ?? '20';
  const limit = Number(limitText);
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= 1000))
    throw new UsageError(`--limit must be a whole number from 1 to 1000 (got ${limitText})`);
  return {
    parsed,
    pipeline: parsed.positional[0]!,
    json: parsed.flags.has('json'),
    limit,
    check: parsed.flags.has('check'),
  };
}

interface Args {
  action?: string;
  image?: string | null;
  to?: string | null;
  by?: string | null;
  reason?: string | null;
}

interface Result {
  outcome?: string;
  digest?: string | null;
  reason?: string | null;
  stages?: { by?: string | null; reason?: string | null }[];
}

const record = <T>(v: unknown): Partial<T> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Partial<T>) : {};

function outcomeOf(e: ExecutionView, result: Partial<Result>): string {
  switch (e.state) {
    case 'SUCCEEDED':
      return result.outcome ?? 'SUCCEEDED';
    case 'ACTIVE':
    case 'QUEUED':
      return 'RUNNING';
    case 'FAILED':
      return /^(rollback|abort) refused: /.test(e.error ?? '') ? 'REFUSED' : 'FAILED';
    default:
      return e.state;
  }
}

/** One execution as a history row; null for what history does not list (aborts). */
export function historyRow(e: ExecutionView): HistoryRow | null {
  const args = record<Args>(e.argument);
  const action = e.labels.action ?? args.action ?? 'release';
  if (action === 'abort') return null;
  const kind = action === 'rollback' ? 'rollback' : 'release';
  const result = record<Result>(e.result);
  // A decision recorded in the stages (a gate's answer, an abort) says who ended it and why.
  const decision = [...(result.stages ?? [])].reverse().find((s) => s?.by);
  const imageDigest = args.image?.includes('@') ? args.image.split('@').pop()! : null;
  const error =
    e.state === 'SUCCEEDED' ? null : (e.error?.replace(/^(rollback|abort) refused: /, '') ?? null);
  return {
    kind,
    execution: e.id,
    digest: result.digest ?? (kind === 'rollback' ? (args.to ?? null) : imageDigest),
    outcome: outcomeOf(e, result),
    by: decision?.by ?? args.by ?? null,
    at: e.startTime,
    // A failure says why it failed; a decision, why its maker made it (or nothing, if they did
    // not say); else why the release was started (an override) or ended as it did.
    reason:
      error ?? (decision ? (decision.reason ?? null) : (args.reason ?? result.reason ?? null)),
  };
}

export function historyRows(executions: ExecutionView[]): HistoryRow[] {
  return executions.map(historyRow).filter((r): r is HistoryRow => r !== null);
}

export function renderHistory(rows: HistoryRow[]): string {
  if (rows.length === 0) return 'no releases or rollbacks';
  return table(
    ['WHEN', 'KIND', 'OUTCOME', 'DIGEST', 'BY', 'EXECUTION', 'REASON'],
    rows.map((r) => [
      r.at ? r.at.replace(/\.\d+Z$/, 'Z') : '-',
      r.kind,
      r.outcome,
      r.digest ? shortDigest(r.digest) : '-',
      r.by ?? '-',
      r.execution.slice(0, 8),
      r.reason ?? '',
    ]),
  );
}

/**
 * What --check exits with: 0 when the newest row ended well (a release PROMOTED, or DUPLICATE:
 * its digest was already live; a rollback ROLLED_BACK), else 1: it failed, was rejected, rolled
 * back, refused, cancelled or superseded, is still running, or there is none. gcloud's `workflows
 * run` exits 0 whatever the execution's state; this is the check a script makes instead.
 */
export function checkExit(rows: HistoryRow[]): number {
  const newest = rows[0];
  if (!newest) return 1;
  const good =
    newest.kind === 'rollback' ? ['ROLLED_BACK', 'SUCCEEDED'] : ['PROMOTED', 'DUPLICATE'];
  return good.includes(newest.outcome) ? 0 : 1;
}

/** The newest `limit` releases and rollbacks of a pipeline (aborts skipped, so read more). */
export async function readHistory(
  executions: Pick<Executions, 'list'>,
  pipeline: string,
  limit: number,
): Promise<HistoryRow[]> {
  const list = await executions.list({ labels: { pipeline }, limit: Math.min(1000, limit * 2) });
  return historyRows(list).slice(0, limit);
}

export const historyCommand: Command = (argv, io) =>
  runOperator('history', argv, io, parseHistory, async ({ options, cloud }) => {
    const rows = await readHistory(cloud.executions, options.pipeline, options.limit);
    io.stdout.write(options.json ? `${JSON.stringify(rows)}\n` : `${renderHistory(rows)}\n`);
    return options.check ? checkExit(rows) : 0;
  });
