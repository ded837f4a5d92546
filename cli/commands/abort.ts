// `runway abort PIPELINE [--reason TEXT]`: stops the pipeline's running release. An execution of
// the release workflow with action "abort" marks live (runway.dev/abort) and tells the release on
// its control channel: during a bake, a gate, a hold or a watch it stops at once, else at its next
// traffic change. A release that moved live traffic ends ROLLED_BACK, one that had not REJECTED.
// The abort itself takes a moment; this waits for it and prints what it reached.
import { shortDigest } from '../../services/shared/image-ref.ts';
import type { Pipeline, PipelineConfig } from '../../services/shared/pipeline-config.ts';
import { actionArguments, actionLabels } from '../action-args.ts';
import type { Caller, Executions } from '../cloud.ts';
import { Refused } from '../exit.ts';
import type { Command } from '../io.ts';
import {
  type Parsed,
  parseOperator,
  runOperator,
  text,
  type WaitOptions,
  waitForExecution,
} from '../operate.ts';
import { pipelineOf } from '../target.ts';

export interface AbortOptions {
  parsed: Parsed;
  pipeline: string;
  reason: string | null;
}

export function parseAbort(argv: string[], env: NodeJS.ProcessEnv): AbortOptions {
  const parsed = parseOperator(
    argv,
    env,
    { reason: true },
    1,
    'usage: runway abort PIPELINE [--reason TEXT] [--as MEMBER] [--home DIR | --project P --region R]',
  );
  return { parsed, pipeline: parsed.positional[0]!, reason: text(parsed.flags, 'reason') ?? null };
}

export interface AbortDeps {
  executions: Pick<Executions, 'start' | 'get'>;
  caller: Caller;
}

/** What an abort execution returns (workflows/release.yaml send_abort). */
interface AbortResult {
  execution?: string;
  digest?: string | null;
  delivered?: boolean;
}

/** Starts the abort and waits for it; returns the line to print, or throws Refused. */
export async function abortRelease(
  deps: AbortDeps,
  config: Pick<PipelineConfig, 'freezes'>,
  pipeline: Pipeline,
  project: string,
  reason: string | null,
  wait: WaitOptions = {},
): Promise<string> {
  const by = await deps.caller.member();
  const started = await deps.executions.start(
    actionArguments(config, pipeline, project, { action: 'abort', by, reason }),
    actionLabels(pipeline.name, 'abort'),
  );
  const done = await waitForExecution(deps.executions, started.name, wait);
  if (!done) return `abort ${started.id} is on its way; the release will see it`;
  if (done.state !== 'SUCCEEDED') {
    const message = done.error ?? done.state;
    throw new Refused(message.startsWith('abort refused: ') ? message.slice(15) : message);
  }
  const r = (done.result ?? {}) as AbortResult;
  const digest = r.digest ? ` (${shortDigest(r.digest)})` : '';
  return r.delivered
    ? `aborted: release ${r.execution} of ${pipeline.name}${digest} was told at once, by ${by}`
    : `aborted: release ${r.execution} of ${pipeline.name}${digest} stops at its next traffic change, by ${by}`;
}

export const abortCommand: Command = (argv, io) =>
  runOperator('abort', argv, io, parseAbort, async ({ options, target, cloud }) => {
    const { config, pipeline } = await pipelineOf(target, options.pipeline);
    io.stdout.write(
      `${await abortRelease(cloud, config, pipeline, target.project, options.reason, { stop: io.stopSignal })}\n`,
    );
    return 0;
  });
