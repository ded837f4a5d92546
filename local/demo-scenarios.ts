// The demo's scenarios, shared by `runway demo`, the end-to-end tests and the benchmark: sample
// builds pushed through the local registry, each followed until its release ends, and what live
// serves afterwards.
import { appendFile, cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './images.ts';
import { targetOf } from '../services/shared/pipeline-config.ts';
import type { Stack } from './stack.ts';
import { type ReleaseRun, waitForRelease } from './watch.ts';
import { localAuthorization } from '../services/shared/clients.ts';
import { regionsOf } from '../services/shared/workflow-args.ts';

export interface Scenario {
  name: string;
  /** What the release must end as. */
  expect: 'PROMOTED' | 'REJECTED';
  tag: string;
  /** The directory pushed (made by `prepare`). */
  dir: string;
  /** The version live serves afterwards (in every region of a multi-region pipeline). */
  liveAfter: string;
  /** The pipeline it releases (default: the first). */
  pipeline?: string;
}

export interface ScenarioRun {
  scenario: Scenario;
  digest: string;
  run: ReleaseRun;
  live: string | null;
  ok: boolean;
  wallMs: number;
}

/**
 * The sample builds: v1, v2 (canary), one failing its checks, one never listening on $PORT; and
 * 2.1.0 released to two regions at once (runway.yaml's sample-global).
 */
export async function prepareScenarios(): Promise<{
  scenarios: Scenario[];
  cleanup: () => Promise<void>;
}> {
  const sample = join(repoRoot, 'services', 'sample-app');
  const v2 = await sampleVersion('2.0.0');
  // Its own build (a digest of its own, so its release is told apart from v2's).
  const global = await sampleVersion('2.1.0');
  return {
    scenarios: [
      { name: 'v1: first release', expect: 'PROMOTED', tag: 'v1', dir: sample, liveAfter: '1.0.0' },
      { name: 'v2: canary promotion', expect: 'PROMOTED', tag: 'v2', dir: v2, liveAfter: '2.0.0' },
      {
        name: 'a build failing its checks',
        expect: 'REJECTED',
        tag: 'v3-broken-checks',
        dir: join(sample, 'broken-checks'),
        liveAfter: '2.0.0',
      },
      {
        name: 'a build listening on 8000',
        expect: 'REJECTED',
        tag: 'v4-broken-port',
        dir: join(sample, 'broken-port'),
        liveAfter: '2.0.0',
      },
      {
        name: 'v2.1 to two regions',
        expect: 'PROMOTED',
        tag: 'v2.1',
        dir: global,
        liveAfter: '2.1.0',
        pipeline: 'sample-global',
      },
    ],
    cleanup: () =>
      Promise.all([v2, global].map((d) => rm(d, { recursive: true, force: true }))).then(() => {}),
  };
}

/** A copy of the sample app (without its broken builds) whose VERSION is `version`: a new image. */
export async function sampleVersion(version: string, knobs: SampleKnobs = {}): Promise<string> {
  const out = await mkdtemp(join(tmpdir(), `runway-sample-${version}-`));
  await cp(join(repoRoot, 'services', 'sample-app'), out, {
    recursive: true,
    filter: (src) => !/broken-|\.test\.ts$/.test(src),
  });
  await writeFile(join(out, 'VERSION'), `${version}\n`);
  const env = Object.entries(knobs).map(([k, v]) => `ENV ${k}=${v}\n`);
  if (env.length > 0) await appendFile(join(out, 'Dockerfile'), env.join(''));
  return out;
}

/** The sample app's knobs (services/sample-app/server.js), baked into the image as ENV. */
export interface SampleKnobs {
  ERROR_RATE?: number;
  LATENCY_MS?: number;
  ERRORS_AFTER_SECONDS?: number;
  CRASH_AFTER_SECONDS?: number;
}

/** What the pipeline's live service answers on /version (in `region`), or null when it does not. */
export async function liveVersion(
  stack: Stack,
  pipeline = stack.config.pipelines[0]!,
  region = stack.info.region,
): Promise<string | null> {
  const res = await fetch(
    `${stack.run.url}/v2/projects/${stack.info.project}/locations/${region}/services/${targetOf(pipeline.live)}`,
    { headers: localAuthorization },
  );
  if (!res.ok) return null;
  const { uri } = (await res.json()) as { uri: string };
  const answer = await fetch(`${uri}/version`).catch(() => undefined);
  if (!answer?.ok) return null;
  return ((await answer.json()) as { version?: string }).version ?? null;
}

/** Pushes a scenario's build and follows its release to the end. */
export async function runScenario(
  stack: Stack,
  scenario: Scenario,
  onStage?: (stage: string, seconds: number, again: boolean) => void,
): Promise<ScenarioRun> {
  const pipeline = pipelineOf(stack, scenario);
  const started = Date.now();
  const pushed = await stack.registry.push(scenario.dir, `${pipeline.image}:${scenario.tag}`);
  const run = await waitForRelease(stack.info, pushed.digest, onStage ? { onStage } : {});
  // Every region's: one version when they agree, else each region's.
  const named = regionsOf(pipeline.live);
  const regions = named.length > 0 ? named : [stack.info.region];
  const versions = await Promise.all(regions.map((r) => liveVersion(stack, pipeline, r)));
  const live = versions.every((v) => v === versions[0])
    ? versions[0]!
    : regions.map((r, i) => `${r} ${versions[i] ?? 'nothing'}`).join(', ');
  return {
    scenario,
    digest: pushed.digest,
    run,
    live,
    ok: run.result?.outcome === scenario.expect && live === scenario.liveAfter,
    wallMs: Date.now() - started,
  };
}

/** The pipeline a scenario releases: the one it names, else the first. */
export function pipelineOf(stack: Stack, scenario: Scenario) {
  const pipeline = scenario.pipeline
    ? stack.config.pipelines.find((p) => p.name === scenario.pipeline)
    : stack.config.pipelines[0];
  if (!pipeline) throw new Error(`the scenario ${scenario.name} names no pipeline of runway.yaml`);
  return pipeline;
}
