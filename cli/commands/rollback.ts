// `runway rollback PIPELINE [--to DIGEST] [--reason TEXT] [--wait]`: live back to the digest it
// served before (runway.dev/previous) or to a named one whose revision still exists, in one
// etag-guarded traffic change. It runs as an execution of the release workflow (action
// "rollback"), so it takes its turn with releases; a release running when it starts is aborted
// first. Obvious refusals are answered here at once; the workflow checks them all again.
import { shortDigest } from '../../services/shared/image-ref.ts';
import { activeFreezes } from '../../services/shared/freezes.ts';
import type { Pipeline, PipelineConfig } from '../../services/shared/pipeline-config.ts';
import { UsageError } from '../args.ts';
import { actionArguments, actionLabels } from '../action-args.ts';
import type { Caller, ExecutionView, Executions, Services } from '../cloud.ts';
import { Refused } from '../exit.ts';
import type { Command } from '../io.ts';
import { liveState } from '../live-state.ts';
import {
  type Parsed,
  parseOperator,
  runOperator,
  text,
  type WaitOptions,
  waitForExecution,
} from '../operate.ts';
import { pipelineOf } from '../target.ts';

export interface RollbackOptions {
  parsed: Parsed;
  pipeline: string;
  /** A digest (sha256:…), or null for live's previous one. */
  to: string | null;
  reason: string | null;
  wait: boolean;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** `sha256:…`, or an image reference by digest (`IMAGE@sha256:…`): the digest. */
export function digestOf(value: string, flag: string): string {
  const digest = value.includes('@') ? value.slice(value.lastIndexOf('@') + 1) : value;
  if (!DIGEST.test(digest))
    throw new UsageError(
      `${flag} must be a digest, sha256: and 64 hex digits, or IMAGE@sha256:… (got ${JSON.stringify(value)})`,
    );
  return digest;
}

export function parseRollback(argv: string[], env: NodeJS.ProcessEnv): RollbackOptions {
  const parsed = parseOperator(
    argv,
    env,
    { to: true, reason: true, wait: false },
    1,
    'usage: runway rollback PIPELINE [--to DIGEST] [--reason TEXT] [--wait] [--as MEMBER] [--home DIR | --project P --region R]',
  );
  const to = text(parsed.flags, 'to');
  return {
    parsed,
    pipeline: parsed.positional[0]!,
    to: to === undefined ? null : digestOf(to, '--to'),
    reason: text(parsed.flags, 'reason') ?? null,
    wait: parsed.flags.has('wait'),
  };
}

export interface RollbackDeps {
  executions: Pick<Executions, 'start' | 'get'>;
  services: Pick<Services, 'service' | 'revisionExists'>;
  caller: Caller;
}

/** The digest a rollback goes to, or why it cannot (what the workflow's roll_back refuses). */
export async function rollbackTarget(
  services: RollbackDeps['services'],
  pipeline: { name: string; live: { service: string } },
  to: string | null,
): Promise<{ target: string; from: string | null }> {
  const live = await services.service(pipeline.live.service);
  if (!live) throw new Refused(`${pipeline.name} has no live service to roll back`);
  const state = liveState(live.annotations);
  const target = to ?? state.previous;
  if (!target)
    throw new Refused(
      `${pipeline.name}'s live service records no previous digest (runway.dev/previous); name one with --to`,
    );
  if (target === state.digest) throw new Refused(`${target} is already live`);
  const revision = `${pipeline.live.service}-${shortDigest(target)}`;
  if (!(await services.revisionExists(pipeline.live.service, revision)))
    throw new Refused(
      `unknown digest: ${pipeline.live.service} has no revision ${revision} for ${target}`,
    );
  return { target, from: state.digest };
}

interface RollbackResult {
  outcome?: string;
  digest?: string;
  live?: {
    revision?: string | null;
    previousRevision?: string | null;
    job?: string;
    workerPool?: string;
  };
}

/** What a finished rollback execution says: the line to print, or Refused. */
export function rollbackOutcome(done: ExecutionView, pipeline: string): string {
  if (done.state !== 'SUCCEEDED') {
    const message = done.error ?? `the rollback ended ${done.state}`;
    throw new Refused(
      message.startsWith('rollback refused: ')
        ? message.slice('rollback refused: '.length)
        : message,
    );
  }
  const r = (done.result ?? {}) as RollbackResult;
  if (r.live && 'job' in r.live)
    return `${r.outcome ?? 'ROLLED_BACK'}: ${pipeline} job ${r.live.job} on ${r.digest ? shortDigest(r.digest) : '?'}`;
  if (r.live && 'workerPool' in r.live)
    return `${r.outcome ?? 'ROLLED_BACK'}: ${pipeline} worker pool ${r.live.workerPool} on ${r.live.revision ?? '?'} (${r.digest ? shortDigest(r.digest) : '?'}), from ${r.live.previousRevision ?? 'nothing'}`;
  return `${r.outcome ?? 'ROLLED_BACK'}: ${pipeline} live on ${r.live?.revision ?? '?'} (${r.digest ? shortDigest(r.digest) : '?'}), from ${r.live?.previousRevision ?? 'nothing'}`;
}

export async function rollBack(
  deps: RollbackDeps,
  config: Pick<PipelineConfig, 'freezes'>,
  pipeline: Pipeline,
  project: string,
  options: Pick<RollbackOptions, 'to' | 'reason' | 'wait'>,
  say: (line: string) => void,
  wait: WaitOptions = {},
): Promise<void> {
  const frozen = activeFreezes(config.freezes, pipeline.name, 'rollback', new Date())[0];
  if (frozen)
    throw new Refused(
      `the freeze ${frozen.name} covers rollbacks of ${pipeline.name} until ${frozen.until.toISOString()}`,
    );
  // A job (worker pool) pipeline's live state is on its job (pool), which the workflow reads and
  // checks itself.
  const { target, from } =
    pipeline.kind !== 'service'
      ? { target: options.to, from: null }
      : await rollbackTarget(deps.services, pipeline, options.to);
  const by = await deps.caller.member();
  const started = await deps.executions.start(
    actionArguments(config, pipeline, project, {
      action: 'rollback',
      by,
      reason: options.reason,
      to: target,
    }),
    actionLabels(pipeline.name, 'rollback'),
  );
  say(
    pipeline.kind === 'job'
      ? `rollback ${started.id}: job ${pipeline.live.job} of ${pipeline.name} to ${target ? shortDigest(target) : 'its previous template'}, by ${by}`
      : pipeline.kind === 'workerPool'
        ? `rollback ${started.id}: worker pool ${pipeline.live.workerPool} of ${pipeline.name} to ${target ? shortDigest(target) : 'its previous revision'}, by ${by}`
        : `rollback ${started.id}: ${pipeline.name} from ${from ? shortDigest(from) : 'nothing'} to ${shortDigest(target!)}, by ${by}`,
  );
  if (!options.wait) return;
  const done = await waitForExecution(deps.executions, started.name, wait);
  if (!done) throw new Error(`stopped waiting; rollback ${started.id} goes on`);
  say(rollbackOutcome(done, pipeline.name));
}

export const rollbackCommand: Command = (argv, io) =>
  runOperator('rollback', argv, io, parseRollback, async ({ options, target, cloud }) => {
    const { config, pipeline } = await pipelineOf(target, options.pipeline);
    await rollBack(
      cloud,
      config,
      pipeline,
      target.project,
      options,
      (line) => io.stdout.write(`${line}\n`),
      { stop: io.stopSignal },
    );
    return 0;
  });
