// `runway approve PIPELINE [--reason TEXT]` (and `reject`, reject.ts): answers the gate the
// pipeline's release waits at. The gate is live's annotation runway.dev/gate; the answer is a POST
// of {decision, by, reason} to its callback URL. Only an approver it names may answer: runway
// refuses anyone else here (exit 1), as the workflow would ignore them, and on Google IAM
// (workflows.callbacks.send) decides who may send at all.
import type { Pipeline } from '../../services/shared/pipeline-config.ts';
import { shortDigest } from '../../services/shared/image-ref.ts';
import type { Callbacks, Caller, GateAnswer, Services } from '../cloud.ts';
import { Refused } from '../exit.ts';
import type { Command } from '../io.ts';
import { describeBefore, liveState } from '../live-state.ts';
import { type Parsed, parseOperator, runOperator, text } from '../operate.ts';
import { pipelineOf } from '../target.ts';

export type Decision = GateAnswer['decision'];

export interface GateOptions {
  parsed: Parsed;
  pipeline: string;
  decision: Decision;
  reason: string | null;
}

export function parseGate(decision: Decision, argv: string[], env: NodeJS.ProcessEnv): GateOptions {
  const parsed = parseOperator(
    argv,
    env,
    { reason: true },
    1,
    `usage: runway ${decision} PIPELINE [--reason TEXT] [--as MEMBER] [--home DIR | --project P --region R]`,
  );
  return {
    parsed,
    pipeline: parsed.positional[0]!,
    decision,
    reason: text(parsed.flags, 'reason') ?? null,
  };
}

/** What answering a gate needs of the cloud. */
export interface GateDeps {
  services: Pick<Services, 'service'>;
  callbacks: Callbacks;
  caller: Caller;
}

/**
 * The approver the caller is, spelt as the gate lists it (the workflow compares literally; IAM
 * emails compare without case), or null.
 */
export function approverOf(caller: string, approvers: readonly string[]): string | null {
  const lower = caller.toLowerCase();
  return approvers.find((a) => a.toLowerCase() === lower) ?? null;
}

/** Answers the open gate of `pipeline`'s live service; returns the line to print. */
export async function answerGate(
  deps: GateDeps,
  pipeline: Pick<Pipeline, 'name' | 'live'>,
  decision: Decision,
  reason: string | null,
): Promise<string> {
  if (!('service' in pipeline.live))
    throw new Refused(`no open gate: ${pipeline.name} releases a job, which has no gates`);
  const live = await deps.services.service(pipeline.live.service);
  if (!live)
    throw new Refused(
      `no open gate: ${pipeline.name}'s live service ${pipeline.live.service} does not exist yet`,
    );
  const state = liveState(live.annotations);
  const gate = state.gate;
  if (!gate) {
    const why = state.held
      ? `its release is held by the freeze ${state.held.freeze} until ${state.held.until}, not waiting for approval`
      : state.claim
        ? `its release ${state.claim.execution} is not waiting for approval`
        : 'no release is running';
    throw new Refused(`no open gate for ${pipeline.name}: ${why}`);
  }
  const caller = await deps.caller.member();
  const by = approverOf(caller, gate.approvers);
  if (!by)
    throw new Refused(
      `${caller} is not an approver of ${pipeline.name}'s gate (approvers: ${gate.approvers.join(', ') || 'none'})`,
    );
  await deps.callbacks.send(gate.url, { decision, by, reason });
  const what = decision === 'approve' ? 'approved' : 'rejected';
  return `${what}: release ${gate.execution} of ${pipeline.name} (${gate.digest ? shortDigest(gate.digest) : '?'}) ${describeBefore(gate.before)}, by ${by}${reason ? `: ${reason}` : ''}`;
}

export function gateCommand(decision: Decision): Command {
  return (argv, io) =>
    runOperator(
      decision,
      argv,
      io,
      (a, env) => parseGate(decision, a, env),
      async ({ options, target, cloud }) => {
        const { pipeline } = await pipelineOf(target, options.pipeline);
        io.stdout.write(`${await answerGate(cloud, pipeline, decision, options.reason)}\n`);
        return 0;
      },
    );
}

export const approveCommand: Command = gateCommand('approve');
