// `runway demo` (npm run demo): the whole pipeline on this machine. Starts the local cloud, pushes
// four sample builds through the registry, Pub/Sub, the deployer and the release workflow, shows
// each release stage by stage, ends with a summary table, and cleans up.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from '../io.ts';
import { shortDigest } from '../../services/shared/image-ref.ts';
import { isServicePipeline } from '../../services/shared/pipeline-config.ts';
import {
  pipelineOf,
  prepareScenarios,
  runScenario,
  type ScenarioRun,
} from '../../local/demo-scenarios.ts';
import { repoRoot } from '../../local/images.ts';
import type { PubSubKind } from '../../local/pubsub/index.ts';
import { type Stack, startStack } from '../../local/stack.ts';
import { parseArgs, timeScaleOption, type UsageError } from '../args.ts';
import { seconds, stageLine, table } from '../table.ts';

export const demoCommand: Command = async (argv, io) => {
  let flags: Map<string, string | true>;
  let scale: number;
  try {
    ({ flags } = parseArgs(argv, { 'time-scale': true, pubsub: true, keep: false }));
    scale = timeScaleOption(flags, io.env, 10);
  } catch (err) {
    io.stderr.write(`runway demo: ${(err as UsageError).message}\n`);
    return 2;
  }
  const out = (line = '') => io.stdout.write(`${line}\n`);
  const t0 = Date.now();
  out(
    `runway demo: the whole release pipeline on this machine${scale > 1 ? ` (time x${scale}: bakes and polls run ${scale} times faster; times are wall times, with each stage's workflow time, what Google would take, beside it)` : ''}`,
  );
  const home = await mkdtemp(join(tmpdir(), 'runway-demo-home-'));
  const { scenarios, cleanup } = await prepareScenarios();
  let stack: Stack | undefined;
  const stop = io.stopSignal.then(async (signal) => {
    out(`\n${signal}: stopping`);
    await stack?.close();
  });
  void stop;
  try {
    stack = await startStack({
      config: join(repoRoot, 'runway.yaml'),
      home,
      timeScale: scale,
      pubsub: String(flags.get('pubsub') ?? 'auto') as PubSubKind | 'auto',
      env: io.env,
      onProgress: (m) => out(`  … ${m}`),
    });
    const pipeline = stack.config.pipelines.find(isServicePipeline);
    if (!pipeline)
      throw new Error('the demo releases a service: runway.yaml has no service pipeline');
    out(
      `  ✓ local cloud up in ${seconds(Date.now() - t0)} · Pub/Sub: ${stack.info.pubsubKind === 'emulator' ? "Google's emulator" : "runway's push bridge"} · pipeline ${pipeline.name}: ${pipeline.staging.service} → ${pipeline.acceptance.job} → ${pipeline.live.service} (${pipeline.promotion.strategy})`,
    );
    const runs: ScenarioRun[] = [];
    for (const [i, scenario] of scenarios.entries()) {
      out(
        `\n${i + 1}/${scenarios.length} ${scenario.name}: push ${pipelineOf(stack, scenario).image}:${scenario.tag}`,
      );
      const r = await runScenario(stack, scenario, (stage, s, again) =>
        out(
          again
            ? `      … still in ${stage} at ${s.toFixed(0)} s`
            : `    → ${stage.padEnd(8)} at ${s.toFixed(1)} s`,
        ),
      );
      runs.push(r);
      for (const stage of r.run.result?.stages ?? []) out(`    ${stageLine(stage, scale)}`);
      const outcome = r.run.result?.outcome ?? r.run.error ?? r.run.state;
      out(
        `  ${r.ok ? '✓' : '✗'} ${outcome} (expected ${scenario.expect}) in ${seconds(r.wallMs)}, ${r.run.billedSteps} billed steps; live serves ${r.live ?? 'nothing'}${r.run.result?.reason && !r.run.result.stages.some((s) => s.detail === r.run.result?.reason) ? ` · ${r.run.result.reason}` : ''}`,
      );
    }
    out('\nsummary');
    out(
      table(
        ['SCENARIO', 'DIGEST', 'OUTCOME', 'EXPECTED', 'LIVE AFTER', 'WALL', 'STEPS'],
        runs.map((r) => [
          r.scenario.name,
          shortDigest(r.digest),
          r.run.result?.outcome ?? r.run.state,
          r.scenario.expect,
          r.live ?? '-',
          seconds(r.wallMs),
          String(r.run.billedSteps),
        ]),
      ),
    );
    const ok = runs.every((r) => r.ok);
    out(
      `\n${ok ? '✓ all releases ended as expected' : '✗ some releases did not end as expected'} in ${seconds(Date.now() - t0)}. Logs were in ${home}/logs; try \`runway local up\` to keep a stack running.`,
    );
    return ok ? 0 : 1;
  } catch (err) {
    io.stderr.write(`runway demo: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await stack?.close();
    await cleanup();
    if (!flags.get('keep')) await rm(home, { recursive: true, force: true });
  }
};
