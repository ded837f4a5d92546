// `runway local up`: starts the local cloud and keeps it running until Ctrl-C or SIGTERM.
import { resolve } from 'node:path';
import type { Command } from '../io.ts';
import type { PubSubKind } from '../../local/pubsub/index.ts';
import { type StartPhase, startPhases, startStack } from '../../local/stack.ts';
import { followReleases } from '../../local/watch.ts';
import { stackHome } from '../home.ts';
import { parseArgs, timeScaleOption, UsageError } from '../args.ts';
import { serveConsole } from './console.ts';

export const upCommand: Command = async (argv, io) => {
  let flags: Map<string, string | true>;
  let scale: number;
  let pauseAt: StartPhase | undefined;
  let users: number;
  let metricsDelay: number;
  try {
    ({ flags } = parseArgs(argv, {
      json: false,
      'time-scale': true,
      config: true,
      home: true,
      pubsub: true,
      users: true,
      'metrics-delay': true,
      iam: true,
      infra: true,
      'local-owner': true,
    }));
    users = numberOption(flags, 'users', 10, 10_000);
    metricsDelay = numberOption(flags, 'metrics-delay', 0, 3_600);
    scale = timeScaleOption(flags, io.env, 1);
    pauseAt = testPause(io.env);
  } catch (err) {
    io.stderr.write(`runway local up: ${(err as UsageError).message}\n`);
    return 2;
  }
  const pubsub = String(flags.get('pubsub') ?? 'auto');
  if (!['auto', 'emulator', 'bridge'].includes(pubsub)) {
    io.stderr.write('runway local up: --pubsub must be auto, emulator or bridge\n');
    return 2;
  }
  const iam = String(flags.get('iam') ?? 'on');
  if (!['on', 'off'].includes(iam)) {
    io.stderr.write('runway local up: --iam must be on or off\n');
    return 2;
  }
  const infra = resolve(io.cwd, String(flags.get('infra') ?? 'infra/envs/example'));
  // --local-owner none: the local user holds only what the Terraform grants it.
  const owner = flags.get('local-owner');
  if (
    owner === true ||
    (owner !== undefined && owner !== 'none' && !/^user:\S+@\S+$/.test(owner))
  ) {
    io.stderr.write('runway local up: --local-owner must be user:EMAIL or none\n');
    return 2;
  }
  const localUser = owner === 'none' ? false : owner;
  const json = flags.get('json') === true;
  const say = (line: string) => {
    if (!json) io.stderr.write(`${line}\n`);
  };
  let stack: Awaited<ReturnType<typeof startStack>>;
  try {
    stack = await startStack({
      config: resolve(io.cwd, String(flags.get('config') ?? 'runway.yaml')),
      home: stackHome(io, flags),
      timeScale: scale,
      users,
      metricsDelaySeconds: metricsDelay,
      pubsub: pubsub as PubSubKind | 'auto',
      env: io.env,
      iam: iam as 'on' | 'off',
      ...(iam === 'on' ? { infra } : {}),
      ...(localUser !== undefined ? { localUser } : {}),
      onProgress: (m) => say(`… ${m}`),
      ...(pauseAt
        ? {
            atPhase: async (phase: StartPhase) => {
              if (phase !== pauseAt) return;
              io.stderr.write(`runway local up: paused at ${phase} (RUNWAY_TEST_PAUSE_AT)\n`);
              await new Promise<never>(() => {});
            },
          }
        : {}),
    });
  } catch (err) {
    io.stderr.write(`runway local up: ${(err as Error).message}\n`);
    return 1;
  }
  const { info } = stack;
  // The web console over this stack, on a free port (`runway console` serves one on its own).
  const ui = await serveConsole(new Map([['home', info.home]]), io).catch((err) => {
    io.stderr.write(`runway local up: the console did not start: ${(err as Error).message}\n`);
    return null;
  });
  if (json) io.stdout.write(`${JSON.stringify({ ...info, console: ui?.url ?? null })}\n`);
  else {
    io.stdout.write(
      [
        `runway local cloud is up (project ${info.project}, region ${info.region}${scale > 1 ? `, time x${scale}` : ''})`,
        `  Cloud Run API      ${info.run}`,
        `  Workflows API      ${info.workflows}`,
        `  Pub/Sub            ${info.pubsub} (${info.pubsubKind === 'emulator' ? "Google's emulator" : "runway's push bridge"})`,
        `  Artifact Registry  ${info.registry}`,
        `  deployer           ${info.deployer}`,
        `  console            ${ui?.url ?? 'not running'}`,
        `  IAM                ${iam === 'on' ? `on: the grants of ${infra} (--iam off for none)` : 'off: every call allowed (--iam off)'}`,
        `  users              ${users === 0 ? 'none (--users 0)' : `${users} requests/s to each live service (--users)`}`,
        ...info.pipelines.map((p) => `  pipeline ${p.name.padEnd(9)} watches ${p.image}`),
        '',
        'Release an image:  runway local push DIR IMAGE_REF   (e.g. runway local push services/sample-app ' +
          `${info.pipelines[0]?.image ?? 'IMAGE'}:v1)`,
        'Watch:             runway status   ·   runway logs SERVICE   ·   Ctrl-C stops everything',
        '',
      ].join('\n'),
    );
  }
  // Releases as they happen, so the terminal running the stack is not silent.
  if (!json) void followReleases(info, (line) => io.stderr.write(`${line}\n`), io.stopSignal);
  const signal = await io.stopSignal;
  say(`${signal}: stopping the local cloud`);
  await ui?.close().catch(() => {});
  await stack.close();
  return 0;
};

/** A whole number flag from 0 to `max`, or `fallback` when absent. */
function numberOption(
  flags: Map<string, string | true>,
  name: string,
  fallback: number,
  max: number,
) {
  const raw = flags.get(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw === true || !Number.isInteger(n) || n < 0 || n > max)
    throw new UsageError(`--${name} must be a whole number from 0 to ${max}`);
  return n;
}

/**
 * For tests only: RUNWAY_TEST_PAUSE_AT=PHASE holds start-up at that phase for good, after saying
 * so on stderr, so a test can kill `local up` there (SIGKILL) and check the next one cleans up.
 */
function testPause(env: NodeJS.ProcessEnv): StartPhase | undefined {
  const phase = env.RUNWAY_TEST_PAUSE_AT;
  if (phase === undefined || phase === '') return undefined;
  if (!(startPhases as readonly string[]).includes(phase))
    throw new UsageError(`RUNWAY_TEST_PAUSE_AT must be one of ${startPhases.join(', ')}`);
  return phase as StartPhase;
}
