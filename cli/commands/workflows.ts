// `runway workflows run FILE [--data JSON | --data-file PATH]
// [--set-env-vars K=V,... | --env-vars-file PATH]`: one execution, the result as JSON on stdout
// (exit 0), or the error map as JSON on stdout (exit 1); logs and step counts on stderr.
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { CliIo, Command } from '../io.ts';
import { parseArgs, UsageError } from '../args.ts';
import { parseJsonValue, toJsonText } from '../../local/workflows/convert.ts';
import { createEndpoints } from '../../local/workflows/connectors/index.ts';
import {
  DeployError,
  parseWorkflow,
  startExecution,
  timeScaledClock,
} from '../../local/workflows/engine.ts';
import { CallbackHub } from '../../local/workflows/stdlib/events.ts';
import { userEnvVarsProblem } from '../../local/workflows/stdlib/sys.ts';
import type { Clock } from '../../local/workflows/stdlib/types.ts';
import type { Value } from '../../local/workflows/values.ts';

const USAGE =
  'usage: runway workflows run FILE [--data JSON | --data-file PATH] [--set-env-vars KEY=VALUE,... | --env-vars-file PATH]';

/**
 * `--set-env-vars` as gcloud reads it: `KEY1=VALUE1,KEY2=VALUE2`, or, when a value holds a comma,
 * another delimiter named between carets first: `^@^KEY1=A,B@KEY2=C`. Each pair splits at its first
 * `=`; a later pair for the same key wins.
 */
export function parseSetEnvVars(text: string): Record<string, string> {
  let delimiter = ',';
  let list = text;
  const custom = /^\^([^^]+)\^/.exec(text);
  if (custom) {
    delimiter = custom[1]!;
    list = text.slice(custom[0].length);
  }
  const vars: Record<string, string> = {};
  if (list === '') return vars;
  for (const pair of list.split(delimiter)) {
    const eq = pair.indexOf('=');
    if (eq < 0)
      throw new UsageError(
        `--set-env-vars: ${JSON.stringify(pair)} is not KEY=VALUE; for values with commas, name another delimiter: ^@^KEY1=A,B@KEY2=C`,
      );
    vars[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return vars;
}

/** `--env-vars-file`: a YAML map of names to string values, as gcloud takes it. */
export function parseEnvVarsFile(text: string, file: string): Record<string, string> {
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true });
  } catch (err) {
    throw new UsageError(`--env-vars-file ${file}: not YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new UsageError(`--env-vars-file ${file}: expected a map of NAME: value`);
  const vars: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc)) {
    if (typeof value !== 'string')
      throw new UsageError(
        `--env-vars-file ${file}: the value of ${key} must be a string; quote it ("${String(value)}")`,
      );
    vars[key] = value;
  }
  return vars;
}

/** The user-defined environment variables the flags give, checked as a deploy checks them. */
async function userEnvVars(
  flags: Map<string, string | true>,
  cwd: string,
): Promise<Record<string, string>> {
  const inline = flags.get('set-env-vars');
  const file = flags.get('env-vars-file');
  if (inline !== undefined && file !== undefined)
    throw new UsageError('give --set-env-vars or --env-vars-file, not both');
  let vars: Record<string, string> = {};
  if (typeof inline === 'string') vars = parseSetEnvVars(inline);
  if (typeof file === 'string')
    vars = parseEnvVarsFile(await readFile(resolve(cwd, file), 'utf8'), file);
  const problem = userEnvVarsProblem(vars);
  if (problem) throw new UsageError(problem);
  return vars;
}

/** Workflow time runs RUNWAY_TIME_SCALE times faster than real time (a bad value: real time). */
function clockOf(env: NodeJS.ProcessEnv): Clock {
  const scale = Number(env.RUNWAY_TIME_SCALE ?? '1');
  return timeScaledClock(Number.isFinite(scale) && scale > 0 ? scale : 1);
}

function printable(v: Value): string {
  try {
    return toJsonText(v);
  } catch (err) {
    return JSON.stringify({ message: (err as Error).message, tags: ['TypeError'] });
  }
}

/**
 * Callbacks for one CLI execution. A listener on loopback starts at the first
 * `events.create_callback_endpoint` (so workflows without callbacks open no port) and each URL is
 * printed to stderr, so `curl` can resume the run as it would resume it on Google.
 */
function cliCallbacks(io: CliIo, clock: Clock) {
  // The HTTP server loads with the first callback endpoint: most runs never need it.
  let listener: Promise<{ url: string; close(): Promise<void> }> | undefined;
  const hub: CallbackHub = new CallbackHub({
    baseUrl: async () => {
      listener ??= import('../../local/workflows/api/server.ts').then((m) =>
        m.serveCallbacks(hub, { host: '127.0.0.1' }),
      );
      return (await listener).url;
    },
    now: () => clock.now(),
    onCreate: (url) => io.stderr.write(`callback endpoint: ${url}\n`),
  });
  return {
    hub,
    /** Ends the execution's callbacks, if it made any, and stops the listener. */
    close: async (executionId: () => string) => {
      if (!listener) return;
      hub.closeExecution(executionId());
      await (await listener).close();
    },
  };
}

export const runCommand: Command = async (argv, io) => {
  let file: string;
  let argument: Value | undefined;
  let envVars: Record<string, string>;
  try {
    const { positional, flags } = parseArgs(argv, {
      data: true,
      'data-file': true,
      'set-env-vars': true,
      'env-vars-file': true,
    });
    if (positional.length !== 1) throw new UsageError(USAGE);
    file = resolve(io.cwd, positional[0]!);
    if (flags.has('data') && flags.has('data-file'))
      throw new UsageError('give --data or --data-file, not both');
    const dataFile = flags.get('data-file');
    const text =
      typeof dataFile === 'string'
        ? await readFile(resolve(io.cwd, dataFile), 'utf8')
        : flags.get('data');
    if (typeof text === 'string') argument = parseJsonValue(text);
    envVars = await userEnvVars(flags, io.cwd);
  } catch (err) {
    io.stderr.write(`runway workflows run: ${(err as Error).message}\n`);
    return 2;
  }
  let source: string;
  try {
    source = await readFile(file, 'utf8');
  } catch (err) {
    io.stderr.write(`runway workflows run: cannot read ${file}: ${(err as Error).message}\n`);
    return 2;
  }
  let workflow: ReturnType<typeof parseWorkflow>;
  try {
    const shown = relative(io.cwd, file);
    workflow = parseWorkflow(source, {
      file: shown.startsWith('..') || isAbsolute(shown) ? file : shown,
    });
  } catch (err) {
    io.stderr.write(
      `runway workflows run: ${err instanceof DeployError ? '' : 'deploy error: '}${(err as Error).message}\n`,
    );
    return 2;
  }
  const clock = clockOf(io.env);
  const callbacks = cliCallbacks(io, clock);
  const execution = startExecution(workflow, argument, {
    endpoints: createEndpoints(io.env),
    clock,
    callbacks: callbacks.hub,
    env: {
      projectId: io.env.GOOGLE_CLOUD_PROJECT_ID ?? '',
      projectNumber: io.env.GOOGLE_CLOUD_PROJECT_NUMBER ?? '',
      location: io.env.GOOGLE_CLOUD_LOCATION ?? '',
      workflowId: io.env.GOOGLE_CLOUD_WORKFLOW_ID ?? '',
      revisionId: io.env.GOOGLE_CLOUD_WORKFLOW_REVISION_ID ?? '',
      serviceAccountName: io.env.GOOGLE_CLOUD_SERVICE_ACCOUNT_NAME ?? '',
      userEnvVars: envVars,
    },
    log: ({ severity, payload }) =>
      io.stderr.write(
        `${severity} ${typeof payload === 'string' ? payload : printable(payload)}\n`,
      ),
  });
  const onStop = () => execution.cancel();
  void io.stopSignal.then(onStop);
  const r = await execution.done;
  await callbacks.close(() => execution.id);
  io.stderr.write(
    `steps: ${r.steps.internal} internal, ${r.steps.external} external, ${r.steps.internal + r.steps.external} billed\n`,
  );
  if (r.state === 'SUCCEEDED') {
    io.stdout.write(`${printable(r.result ?? null)}\n`);
    return 0;
  }
  if (r.state === 'CANCELLED') {
    io.stdout.write(
      `${JSON.stringify({ message: 'execution cancelled', tags: ['CancelledError'] })}\n`,
    );
    return 1;
  }
  io.stdout.write(`${printable(r.error!.payload)}\n`);
  if (r.error?.context) io.stderr.write(`failed ${r.error.context}\n`);
  return 1;
};

export const serveCommand: Command = async (argv, io) => {
  const { startExecutionsServer } = await import('../../local/workflows/api/server.ts');
  let server: Awaited<ReturnType<typeof startExecutionsServer>>;
  try {
    const { positional, flags } = parseArgs(argv, {
      port: true,
      dir: true,
      project: true,
      location: true,
    });
    if (positional.length > 0)
      throw new UsageError('usage: runway workflows serve [--port N] [--dir DIR]');
    const port = Number(flags.get('port') ?? 0);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new UsageError('--port must be 0..65535');
    const dir = resolve(io.cwd, String(flags.get('dir') ?? 'workflows'));
    server = await startExecutionsServer({
      dir,
      port,
      project: String(flags.get('project') ?? io.env.GOOGLE_CLOUD_PROJECT ?? 'local-project'),
      location: String(flags.get('location') ?? 'us-central1'),
      engineOptions: {
        endpoints: createEndpoints(io.env),
        clock: clockOf(io.env),
        env: { serviceAccountName: io.env.GOOGLE_CLOUD_SERVICE_ACCOUNT_NAME ?? '' },
      },
    });
    io.stdout.write(`${JSON.stringify({ workflows: server.url, dir })}\n`);
  } catch (err) {
    io.stderr.write(`runway workflows serve: ${(err as Error).message}\n`);
    return 2;
  }
  await io.stopSignal;
  await server.close();
  return 0;
};
