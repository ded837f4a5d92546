// Runs a substituted build's steps as local processes in its workspace: `/workspace` is the
// workspace directory, `waitFor` makes a DAG (none: every earlier step; `-`: at once), step and
// build timeouts kill the step's process group, `allowFailure`/`allowExitCodes` let a step fail
// without failing the build. Then `images` are pushed, as Google pushes them after the steps.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { delimiter, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { ProcessLedger } from '../process-ledger.ts';
import { findBuilder, stepArgv, unknownBuilderMessage, whichSync } from './builders.ts';
import type { BuildConfig, BuildStep } from './config.ts';
import { START } from './config.ts';
import type { LocalDocker } from './docker.ts';

export type Status =
  | 'QUEUED'
  | 'WORKING'
  | 'SUCCESS'
  | 'FAILURE'
  | 'INTERNAL_ERROR'
  | 'TIMEOUT'
  | 'CANCELLED';

export interface TimeSpan {
  startMs: number;
  endMs?: number;
}

export interface StepRun {
  status: Status;
  timing?: TimeSpan;
  exitCode?: number;
}

export interface PushedImage {
  name: string;
  digest: string;
  pushTiming: TimeSpan;
}

export interface BuildRun {
  status: Status;
  startMs?: number;
  finishMs?: number;
  steps: StepRun[];
  images: PushedImage[];
  statusDetail: string;
  failureInfo?: {
    type: 'USER_BUILD_STEP' | 'PUSH_IMAGE_NOT_FOUND' | 'PUSH_FAILED' | 'FETCH_SOURCE_FAILED';
    detail: string;
  };
  timing: { BUILD?: TimeSpan; PUSH?: TimeSpan };
}

export interface RunnerOptions {
  /** The workspace directory: `/workspace` of the steps. */
  workspace: string;
  /** The builder's own files (`HOME`, `BUILDER_OUTPUT`, scripts); outside the workspace. */
  builderDir: string;
  docker: LocalDocker;
  /** Where PATH and the npm cache come from (default process.env). */
  hostEnv?: NodeJS.ProcessEnv;
  /** Every step gets these: gcloud's endpoint overrides and token for the local cloud. */
  cloudEnv?: Record<string, string>;
  /** Built-in and user substitutions, for `automapSubstitutions`. */
  substitutions: Record<string, string>;
  log: (line: string) => void;
  now?: () => number;
  /** Timeouts run this many times faster (the local cloud's --time-scale). */
  timeScale?: number;
  ledger?: ProcessLedger;
}

const FINAL: ReadonlySet<Status> = new Set([
  'SUCCESS',
  'FAILURE',
  'INTERNAL_ERROR',
  'TIMEOUT',
  'CANCELLED',
]);

/** `/workspace` and paths under it, rewritten to the real directory. */
export function rewriteWorkspace(text: string, workspace: string): string {
  return text.replace(
    /(^|[^\w./-])\/workspace(?=$|[/\s"':;,=)}\]])/g,
    (_m, before: string) => `${before}${workspace}`,
  );
}

function stepLabel(step: BuildStep, i: number): string {
  return step.id ? `Step #${i} - ${JSON.stringify(step.id)}` : `Step #${i}`;
}

/** Splits a stream into lines, flushing the last partial line on end. */
function lines(stream: NodeJS.ReadableStream | null, each: (line: string) => void): Promise<void> {
  return new Promise((done) => {
    if (!stream) return done();
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split(/\r?\n/);
      rest = parts.pop() ?? '';
      for (const p of parts) each(p);
      if (rest.length > 64 * 1024) {
        each(rest);
        rest = '';
      }
    });
    stream.on('end', () => {
      if (rest) each(rest);
      done();
    });
    stream.on('error', () => done());
  });
}

export class BuildRunner {
  readonly state: BuildRun;
  readonly #build: BuildConfig;
  readonly #o: RunnerOptions;
  readonly #now: () => number;
  readonly #scale: number;
  readonly #running = new Map<number, { child?: ChildProcess; stop: (status: Status) => void }>();
  readonly #deps: number[][];
  #stopped: Status | undefined;
  #wake: (() => void) | undefined;

  constructor(build: BuildConfig, options: RunnerOptions) {
    this.#build = build;
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#scale = options.timeScale ?? 1;
    this.state = {
      status: 'QUEUED',
      steps: build.steps.map(() => ({ status: 'QUEUED' })),
      images: [],
      statusDetail: '',
      timing: {},
    };
    const ids = new Map(build.steps.map((s, i) => [s.id, i]));
    this.#deps = build.steps.map((s, i) => {
      if (s.waitFor.length === 0) return Array.from({ length: i }, (_, k) => k);
      return s.waitFor.filter((w) => w !== START).map((w) => ids.get(w)!);
    });
  }

  /** Stops the build: running steps are killed and marked CANCELLED. */
  cancel(): void {
    this.#stop('CANCELLED', 'Build was cancelled');
  }

  async run(): Promise<BuildRun> {
    const s = this.state;
    s.status = 'WORKING';
    s.startMs = this.#now();
    s.timing.BUILD = { startMs: s.startMs };
    this.#o.log('BUILD');
    const buildTimer = setTimeout(
      () => this.#stop('TIMEOUT', `Build timed out after ${this.#build.timeoutMs / 1000}s`),
      this.#build.timeoutMs / this.#scale,
    );
    try {
      await this.#runSteps();
      s.timing.BUILD.endMs = this.#now();
      if (!this.#stopped && this.#build.images.length > 0) await this.#pushImages();
    } finally {
      clearTimeout(buildTimer);
    }
    s.status = this.#stopped ?? 'SUCCESS';
    s.finishMs = this.#now();
    this.#o.log(s.status === 'SUCCESS' ? 'DONE' : `ERROR: ${s.statusDetail}`);
    return s;
  }

  #stop(status: Status, detail: string, failure?: BuildRun['failureInfo']): void {
    if (this.#stopped) return;
    this.#stopped = status;
    this.state.status = status;
    this.state.statusDetail = detail;
    if (failure) this.state.failureInfo = failure;
    for (const [, r] of this.#running) r.stop(status === 'TIMEOUT' ? 'TIMEOUT' : 'CANCELLED');
    this.#wake?.();
  }

  async #runSteps(): Promise<void> {
    const steps = this.state.steps;
    const started = new Set<number>();
    const inFlight = new Set<Promise<void>>();
    for (;;) {
      if (this.#stopped) break;
      for (let i = 0; i < steps.length; i++) {
        if (started.has(i)) continue;
        if (!this.#deps[i]!.every((d) => FINAL.has(steps[d]!.status))) continue;
        started.add(i);
        const p = this.#runStep(i).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      if (inFlight.size === 0) break;
      await new Promise<void>((wake) => {
        this.#wake = wake;
        for (const p of inFlight) p.then(wake, wake);
      });
    }
    await Promise.allSettled([...inFlight]);
  }

  async #runStep(i: number): Promise<void> {
    const step = this.#build.steps[i]!;
    const run = this.state.steps[i]!;
    const label = stepLabel(step, i);
    const log = (line: string) => this.#o.log(`${label}: ${line}`);
    run.status = 'WORKING';
    run.timing = { startMs: this.#now() };
    this.#o.log(`Starting ${label}`);
    let status: Status;
    let why = '';
    try {
      ({ status, why } = await this.#execute(step, i, log));
    } catch (err) {
      status = 'FAILURE';
      why = (err as Error).message;
      log(why);
    }
    if (run.status === 'WORKING') run.status = status;
    run.timing.endMs = this.#now();
    this.#o.log(`Finished ${label}`);
    if (run.status === 'SUCCESS' || this.#stopped) return;
    const allowed =
      step.allowExitCodes.length > 0
        ? run.exitCode !== undefined && step.allowExitCodes.includes(run.exitCode)
        : step.allowFailure;
    if (allowed && run.status === 'FAILURE') return;
    const detail = `Build step failure: build step ${i} ${JSON.stringify(step.name)} failed: ${why}`;
    this.#stop('FAILURE', detail, { type: 'USER_BUILD_STEP', detail });
  }

  async #execute(
    step: BuildStep,
    i: number,
    log: (line: string) => void,
  ): Promise<{ status: Status; why: string }> {
    const ws = this.#o.workspace;
    const builder = findBuilder(step.name);
    if (!builder) {
      log(unknownBuilderMessage(step.name));
      return { status: 'FAILURE', why: unknownBuilderMessage(step.name) };
    }
    const cwd = this.#cwd(step);
    await mkdir(cwd, { recursive: true });
    const env = this.#env(step);
    const args = step.args.map((a) => rewriteWorkspace(a, ws));
    const entrypoint = rewriteWorkspace(step.entrypoint, ws);
    if (builder.kind === 'docker' && (!entrypoint || entrypoint === 'docker') && !step.script) {
      try {
        await this.#o.docker.run(args, cwd, log);
        this.state.steps[i]!.exitCode = 0;
        return { status: 'SUCCESS', why: '' };
      } catch (err) {
        log((err as Error).message);
        this.state.steps[i]!.exitCode = 1;
        return { status: 'FAILURE', why: 'step exited with non-zero status: 1' };
      }
    }
    let argv: string[];
    if (step.script) {
      const file = join(this.#o.builderDir, 'scripts', `step-${i}`);
      await mkdir(dirname(file), { recursive: true });
      const text = rewriteWorkspace(step.script, ws);
      await writeFile(file, text);
      await chmod(file, 0o755);
      argv = text.startsWith('#!') ? [file] : ['sh', file];
    } else {
      argv = stepArgv(
        builder,
        { entrypoint, args },
        (name) => whichSync(name, env.PATH ?? '', cwd) !== undefined,
      );
    }
    return this.#spawn(argv, cwd, env, step, i, log);
  }

  #cwd(step: BuildStep): string {
    const ws = this.#o.workspace;
    if (!step.dir) return ws;
    const dir = rewriteWorkspace(step.dir, ws);
    const abs = isAbsolute(dir) ? resolve(dir) : resolve(ws, dir);
    const rel = relative(ws, abs);
    if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      throw new Error(
        `dir ${JSON.stringify(step.dir)} is outside /workspace; the local Cloud Build runs steps only under the workspace`,
      );
    }
    return abs;
  }

  #env(step: BuildStep): Record<string, string> {
    const host = this.#o.hostEnv ?? process.env;
    const ws = this.#o.workspace;
    const env: Record<string, string> = {
      PATH: [dirname(process.execPath), host.PATH ?? ''].join(delimiter),
      HOME: join(this.#o.builderDir, 'home'),
      BUILDER_OUTPUT: join(this.#o.builderDir, 'outputs'),
      CLOUDSDK_CONFIG: join(this.#o.builderDir, 'gcloud'),
      // npm keeps the machine's cache: a build offline still installs what the machine has.
      npm_config_cache: host.npm_config_cache ?? join(host.HOME ?? this.#o.builderDir, '.npm'),
    };
    for (const k of ['LANG', 'TMPDIR', 'TZ']) if (host[k]) env[k] = host[k];
    Object.assign(env, this.#o.cloudEnv);
    if (step.automapSubstitutions ?? this.#build.options.automapSubstitutions) {
      Object.assign(env, this.#o.substitutions);
    }
    for (const e of [...this.#build.options.env, ...step.env]) {
      const at = e.indexOf('=');
      env[e.slice(0, at)] = rewriteWorkspace(e.slice(at + 1), ws);
    }
    return env;
  }

  async #spawn(
    argv: string[],
    cwd: string,
    env: Record<string, string>,
    step: BuildStep,
    i: number,
    log: (line: string) => void,
  ): Promise<{ status: Status; why: string }> {
    const run = this.state.steps[i]!;
    const [command, ...rest] = argv;
    if (!command)
      return { status: 'FAILURE', why: 'the step has no command: give args or an entrypoint' };
    await mkdir(env.HOME!, { recursive: true });
    await mkdir(env.BUILDER_OUTPUT!, { recursive: true });
    if (env.CLOUDSDK_CONFIG?.startsWith(this.#o.builderDir)) {
      // A fresh gcloud configuration that already knows it is not on Google Compute Engine.
      await mkdir(env.CLOUDSDK_CONFIG, { recursive: true });
      await writeFile(join(env.CLOUDSDK_CONFIG, 'gce'), 'False');
    }
    const child = spawn(command, rest, {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid) this.#o.ledger?.add(child.pid, `build step ${i} (${step.name})`);
    let stoppedAs: Status | undefined;
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const stop = (status: Status) => {
      stoppedAs ??= status;
      run.status = status;
      kill();
    };
    this.#running.set(i, { child, stop });
    const timer =
      step.timeoutMs === undefined
        ? undefined
        : setTimeout(() => stop('TIMEOUT'), step.timeoutMs / this.#scale);
    const output = Promise.all([lines(child.stdout, log), lines(child.stderr, log)]);
    const exit = await new Promise<{ code: number | null; error?: string }>((done) => {
      child.once('error', (err: NodeJS.ErrnoException) =>
        done({
          code: null,
          error:
            err.code === 'ENOENT'
              ? `exec: ${JSON.stringify(command)}: executable file not found in $PATH`
              : err.message,
        }),
      );
      child.once('close', (code) => done({ code }));
    });
    clearTimeout(timer);
    kill();
    await output;
    this.#running.delete(i);
    if (child.pid) this.#o.ledger?.remove(child.pid);
    if (stoppedAs === 'TIMEOUT')
      return { status: 'TIMEOUT', why: `step timed out after ${step.timeoutMs! / 1000}s` };
    if (stoppedAs) return { status: stoppedAs, why: 'the build was stopped' };
    if (exit.error) {
      log(exit.error);
      return { status: 'FAILURE', why: exit.error };
    }
    run.exitCode = exit.code ?? 1;
    if (exit.code === 0) return { status: 'SUCCESS', why: '' };
    return { status: 'FAILURE', why: `step exited with non-zero status: ${run.exitCode}` };
  }

  async #pushImages(): Promise<void> {
    const s = this.state;
    s.timing.PUSH = { startMs: this.#now() };
    this.#o.log('PUSH');
    const missing = this.#build.images.filter((img) => !this.#o.docker.has(img));
    if (missing.length > 0) {
      const detail = `failed to find one or more images after execution of build steps: [${missing.join(' ')}]`;
      this.#o.log(`ERROR: ${detail}`);
      this.#stop('FAILURE', detail, { type: 'PUSH_IMAGE_NOT_FOUND', detail });
      return;
    }
    for (const name of this.#build.images) {
      if (this.#stopped) return;
      const start = this.#now();
      this.#o.log(`Pushing ${name}`);
      try {
        const { digest } = await this.#o.docker.push(name);
        s.images.push({ name, digest, pushTiming: { startMs: start, endMs: this.#now() } });
        this.#o.log(`${name}: digest: ${digest}`);
      } catch (err) {
        const detail = `failed to push ${name}: ${(err as Error).message}`;
        this.#stop('FAILURE', detail, { type: 'PUSH_FAILED', detail });
        return;
      }
    }
    s.timing.PUSH.endMs = this.#now();
  }
}
