// `runway release PIPELINE IMAGE@DIGEST [--override-freeze NAME --reason TEXT] [--wait]`: asks
// the deployer to release an image through one pipeline (POST /releases), as a push would, and
// explicitly: a digest the reconcile refuses (rolled back, rejected) is released when asked so.
// A freeze blocks it (409) unless overridden by a listed overrider (else 403). With --wait it
// follows the release and exits 0 only when it ends PROMOTED.
import { parseDigestRef, shortDigest } from '../../services/shared/image-ref.ts';
import { workflowResultSchema } from '../../services/shared/workflow-result.ts';
import { UsageError } from '../args.ts';
import type { Caller, Deployer, DeployerAnswer, ExecutionView, Executions } from '../cloud.ts';
import { googleMessage } from '../cloud.ts';
import { Refused } from '../exit.ts';
import type { Command } from '../io.ts';
import { stageOf } from '../../local/watch.ts';
import {
  type Parsed,
  parseOperator,
  runOperator,
  text,
  type WaitOptions,
  waitForExecution,
} from '../operate.ts';
import { stageLine } from '../table.ts';

export interface ReleaseOptions {
  parsed: Parsed;
  pipeline: string;
  image: string;
  digest: string;
  overrideFreeze: string | null;
  reason: string | null;
  wait: boolean;
}

const USAGE =
  'usage: runway release PIPELINE IMAGE@DIGEST [--override-freeze NAME --reason TEXT] [--wait] [--as MEMBER] [--home DIR | --project P --region R]';

export function parseRelease(argv: string[], env: NodeJS.ProcessEnv): ReleaseOptions {
  const parsed = parseOperator(
    argv,
    env,
    { 'override-freeze': true, reason: true, wait: false },
    2,
    USAGE,
  );
  const image = parsed.positional[1]!;
  let digest: string;
  try {
    digest = parseDigestRef(image).digest;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  const overrideFreeze = text(parsed.flags, 'override-freeze') ?? null;
  const reason = text(parsed.flags, 'reason') ?? null;
  if (overrideFreeze !== null && !reason?.trim())
    throw new UsageError('--override-freeze needs --reason: an override is recorded with why');
  if (overrideFreeze === null && reason !== null)
    throw new UsageError('--reason goes with --override-freeze');
  return {
    parsed,
    pipeline: parsed.positional[0]!,
    image,
    digest,
    overrideFreeze,
    reason,
    wait: parsed.flags.has('wait'),
  };
}

type Started = { kind: 'started'; pipeline: string; execution: string } | { kind: 'duplicate' };

/** The deployer's answer: what started, or why nothing did (Refused). */
export function releaseAnswer(answer: DeployerAnswer): Started {
  const message =
    typeof answer.body === 'string'
      ? googleMessage(answer.body)
      : ((answer.body as { error?: { message?: string } } | null)?.error?.message ??
        JSON.stringify(answer.body));
  if (answer.status === 409) throw new Refused(`frozen: ${message}`);
  if (answer.status === 403) throw new Refused(`not allowed: ${message}`);
  if (answer.status === 404) throw new Refused(message);
  if (answer.status === 400) throw new Refused(`the deployer refused the request: ${message}`);
  if (answer.status !== 202 && answer.status !== 200)
    throw new Error(`the deployer answered ${answer.status}: ${message}`);
  const releases = (answer.body as { releases?: Started[] } | null)?.releases ?? [];
  const first = releases.find((r) => r.kind === 'started') ?? releases[0];
  if (!first) throw new Error(`the deployer started nothing: ${JSON.stringify(answer.body)}`);
  return first;
}

export interface ReleaseDeps {
  deployer: Deployer;
  executions: Pick<Executions, 'get' | 'list'>;
  caller: Caller;
}

/** The running execution releasing `digest` through `pipeline`, as the deployer labels it. */
async function runningRelease(
  executions: ReleaseDeps['executions'],
  pipeline: string,
  digest: string,
): Promise<ExecutionView | undefined> {
  const list = await executions.list({
    labels: { pipeline, digest: shortDigest(digest) },
    limit: 10,
  });
  return list.find((e) => e.state === 'ACTIVE') ?? list[0];
}

export async function release(
  deps: ReleaseDeps,
  options: Omit<ReleaseOptions, 'parsed'>,
  io: { out: (line: string) => void; err: (line: string) => void; timeScale: number },
  wait: WaitOptions = {},
): Promise<number> {
  // Who asks, and why, go with every release: history and the events say so.
  const by = await deps.caller.member();
  const started = releaseAnswer(
    await deps.deployer.release({
      pipeline: options.pipeline,
      image: options.image,
      by,
      ...(options.reason ? { reason: options.reason } : {}),
      ...(options.overrideFreeze
        ? { overrideFreeze: options.overrideFreeze, reason: options.reason ?? '' }
        : {}),
    }),
  );
  const short = shortDigest(options.digest);
  let name: string | undefined;
  if (started.kind === 'started') {
    name = started.execution;
    io.out(`release ${name.split('/').pop()} of ${options.pipeline} (${short}) started`);
  } else {
    io.out(`a release of ${short} through ${options.pipeline} is already running`);
  }
  if (!options.wait) return 0;
  name ??= (await runningRelease(deps.executions, options.pipeline, options.digest))?.name;
  if (!name) throw new Error(`cannot find the running release of ${short}`);
  let stage = '';
  const done = await waitForExecution(deps.executions, name, {
    ...wait,
    onRoutine: (routine) => {
      const next = stageOf(routine, stage);
      if (next !== stage) io.err(`  → ${next}`);
      stage = next;
    },
  });
  if (!done) throw new Error(`stopped waiting; release ${name.split('/').pop()} goes on`);
  const result = workflowResultSchema.safeParse(done.result);
  if (!result.success) {
    io.out(`${done.state}: ${done.error ?? 'no result'}`);
    return 1;
  }
  for (const s of result.data.stages) io.err(`  ${stageLine(s, io.timeScale)}`);
  io.out(`${result.data.outcome}${result.data.reason ? `: ${result.data.reason}` : ''}`);
  return result.data.outcome === 'PROMOTED' ? 0 : 1;
}

export const releaseCommand: Command = (argv, io) =>
  // The deployer knows the pipelines (an unknown one is its 404): no runway.yaml needed here.
  runOperator('release', argv, io, parseRelease, async ({ options, target, cloud }) =>
    release(
      cloud,
      options,
      {
        out: (line) => io.stdout.write(`${line}\n`),
        err: (line) => io.stderr.write(`${line}\n`),
        timeScale: target.kind === 'local' ? target.timeScale : 1,
      },
      { stop: io.stopSignal },
    ),
  );
