// Billed Workflows steps per release, from the engine's accounting with Google's polling
// (targets: <= 75 for a direct release, <= 25 more per canary step, with or without Cloud
// Monitoring thresholds; <= 30 per canary step with a three-metric analysis; a job release within
// a direct release's 75; three regions direct <= 2.2x one region, and a three-metric canary step
// <= 30 per region). Cloud Run is the fake API of test/fixtures/fake-run.ts: its operations
// finish at once, so no polls are counted, and the figures are the same every run. The last line
// is one JSON object of all figures.
import { fromPlain } from '../local/workflows/convert.ts';
import { createEndpoints } from '../local/workflows/connectors/index.ts';
import { deployableFile } from '../local/workflows/deployable.ts';
import { parseWorkflow, startExecution, timeScaledClock } from '../local/workflows/engine.ts';
import { startFakeRun } from '../test/fixtures/fake-run.ts';
import { testCallbacks } from '../test/helpers/callbacks.ts';

const workflow = parseWorkflow(
  deployableFile(new URL('../workflows/release.yaml', import.meta.url)),
);
const run = await startFakeRun();
const callbacks = testCallbacks();
const IMG = 'us-central1-docker.pkg.dev/local-project/apps/web';
const args = (c: string, promotion: unknown) => ({
  pipeline: 'web',
  project: 'local-project',
  region: 'us-central1',
  image: `${IMG}@sha256:${c.repeat(64)}`,
  tag: null,
  publishTime: null,
  staging: { service: 'web-staging' },
  live: { service: 'web' },
  acceptance: { job: 'web-acceptance', timeoutSeconds: 60, taskCount: 1, checks: null },
  promotion,
  notify: null,
  source: 'manual',
});
/** Billed steps of one execution; `answer` runs once it has started (to approve a gate). */
async function billed(a: unknown, answer?: () => Promise<void>): Promise<number> {
  const ex = startExecution(workflow, fromPlain(a), {
    clock: timeScaledClock(1e6),
    callbacks: callbacks.hub,
    endpoints: createEndpoints({ RUN_EMULATOR_HOST: run.host, MONITORING_EMULATOR_HOST: run.host }),
  });
  await answer?.();
  const r = await ex.done;
  if (r.state !== 'SUCCEEDED') throw new Error(`release failed: ${JSON.stringify(r.error)}`);
  const outcome = (r.result as Map<string, unknown> | undefined)?.get('outcome');
  if (outcome !== 'PROMOTED' && outcome !== 'ROLLED_BACK')
    throw new Error(`release ended ${String(outcome)}`);
  return r.steps.internal + r.steps.external;
}
const first = await billed(args('1', { strategy: 'direct' }));
const direct = await billed(args('2', { strategy: 'direct' }));
const canary3 = await billed(
  args('3', { strategy: 'canary', steps: [10, 50, 100], bakeSeconds: 60, health: null }),
);
const canary1 = await billed(
  args('4', { strategy: 'canary', steps: [100], bakeSeconds: 60, health: null }),
);
// With Cloud Monitoring thresholds, and traffic in two response code classes.
run.requestCounts.push({ codeClass: '2xx', count: 100 }, { codeClass: '5xx', count: 1 });
const health = {
  maxErrorRatio: 0.05,
  minRequests: 20,
  dataWaitSeconds: 180,
  onInconclusive: 'rollback',
};
const monitored3 = await billed(
  args('5', { strategy: 'canary', steps: [10, 50, 100], bakeSeconds: 60, health }),
);
const monitored1 = await billed(
  args('6', { strategy: 'canary', steps: [100], bakeSeconds: 60, health }),
);
// promotion.analysis with three metrics (a 5xx ratio, a p99, a comparison with stable): two count
// queries and one latency query per step.
run.requestCounts.push({ codeClass: '2xx', count: 1000, revision: 'stable' });
run.requestLatencies.push({ ms: [100, 120, 140] }, { revision: 'stable', ms: [100, 110] });
const analysis = {
  metrics: [
    { name: 'errors', builtin: 'error-ratio', max: 0.05 },
    { name: 'p99', builtin: 'latency-p99', maxMs: 800 },
    { name: 'vs-stable', builtin: 'error-ratio', compareTo: 'stable', maxRatio: 100 },
  ],
  minRequests: 20,
};
const analysed3 = await billed(
  args('9', { strategy: 'canary', steps: [10, 50, 100], bakeSeconds: 60, analysis }),
);
const analysed1 = await billed(
  args('a', { strategy: 'canary', steps: [100], bakeSeconds: 60, analysis }),
);
// A gate before live, approved as soon as it opens; a watch of 5 minutes after a direct release.
const approveGate = async () => {
  for (;;) {
    const text = run.services.get('projects/local-project/locations/us-central1/services/web')
      ?.annotations['runway.dev/gate'];
    if (text) {
      const gate = JSON.parse(text) as { url: string };
      await callbacks.send(gate.url, { decision: 'approve', by: 'user:ann@example.com' });
      return;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
};
// Time runs a million times faster here: a long deadline, so the answer comes before it.
const approval = {
  before: ['live'],
  timeoutSeconds: 31_536_000,
  onTimeout: 'reject',
  approvers: ['user:ann@example.com'],
};
const gated = await billed(args('7', { strategy: 'direct', approval }), approveGate);
const watched = await billed(args('8', { strategy: 'direct', watchSeconds: 300, health }));
const rolledBack = await billed({
  ...args('8', { strategy: 'direct' }),
  image: null,
  action: 'rollback',
});
// A job pipeline (kind job): claim the live job, the staging job's template and one run of it
// (its operation done at once here: a real run adds its polls), the live job's template.
const jobArgs = (c: string, extra: Record<string, unknown> = {}) => ({
  ...args(c, { strategy: 'direct' }),
  pipeline: 'etl',
  image: `us-central1-docker.pkg.dev/local-project/apps/etl@sha256:${c.repeat(64)}`,
  kind: 'job',
  staging: { job: 'etl-staging' },
  live: { job: 'etl' },
  taskCount: 3,
  acceptance: null,
  ...extra,
});
const firstJob = await billed(jobArgs('1'));
const job = await billed(jobArgs('2'));
const jobAccepted = await billed(
  jobArgs('3', { acceptance: { job: 'etl-check', timeoutSeconds: 60, taskCount: 1 } }),
);
const jobRolledBack = await billed({ ...jobArgs('3'), image: null, action: 'rollback' });
// Three regions (live.regions): all at once; the first release creates each region's service.
const THREE = ['us-central1', 'europe-west1', 'asia-east1'];
const regionArgs = (c: string, promotion: unknown) => ({
  ...args(c, promotion),
  pipeline: 'global',
  staging: { service: 'global-staging' },
  live: { service: 'global', regions: THREE },
});
await billed(regionArgs('1', { strategy: 'direct' }));
const directRegions = await billed(regionArgs('2', { strategy: 'direct' }));
const analysedRegions3 = await billed(
  regionArgs('3', { strategy: 'canary', steps: [10, 50, 100], bakeSeconds: 60, analysis }),
);
const analysedRegions1 = await billed(
  regionArgs('4', { strategy: 'canary', steps: [100], bakeSeconds: 60, analysis }),
);
await run.close();
await callbacks.close();
const regionsRatio = Math.round((directRegions / direct) * 100) / 100;
const perAnalysedStepPerRegion =
  Math.round(((analysedRegions3 - analysedRegions1) / 2 / THREE.length) * 10) / 10;
const perCanaryStep = (canary3 - canary1) / 2;
const perMonitoredStep = (monitored3 - monitored1) / 2;
const perAnalysedStep = (analysed3 - analysed1) / 2;
console.log(
  `first release ${first}, direct ${direct}, canary [10,50,100] ${canary3}, canary [100] ${canary1}: ${perCanaryStep} per extra step; with Cloud Monitoring thresholds ${perMonitoredStep} per extra step`,
);
console.log(`canary step with a three-metric analysis: ${perAnalysedStep} (budget 30)`);
console.log(
  `direct with a gate before live ${gated} (${gated - direct} for the gate, budget 10); direct with a 5-minute watch ${watched} (${watched - direct} for the watch); a rollback ${rolledBack}`,
);
console.log(
  `job release: first ${firstJob}, then ${job}, with an acceptance job ${jobAccepted}; a job rollback ${jobRolledBack}`,
);
console.log(
  `three regions: direct ${directRegions} (${regionsRatio}x one region, budget 2.2x); a canary step with a three-metric analysis ${perAnalysedStepPerRegion} per region (budget 30)`,
);
console.log(
  JSON.stringify({
    threeRegionDirectSteps: directRegions,
    threeRegionDirectRatio: regionsRatio,
    threeRegionDirectRatioTarget: 2.2,
    perCanaryStepWithThreeMetricsPerRegion: perAnalysedStepPerRegion,
    firstJobReleaseSteps: firstJob,
    jobReleaseSteps: job,
    jobReleaseWithAcceptanceSteps: jobAccepted,
    jobRollbackSteps: jobRolledBack,
    gatedDirectSteps: gated,
    perGate: gated - direct,
    perGateTarget: 10,
    watchedDirectSteps5min: watched,
    rollbackSteps: rolledBack,
    firstReleaseSteps: first,
    directReleaseSteps: direct,
    directTarget: 75,
    canarySteps3: canary3,
    perCanaryStep,
    perCanaryStepWithMonitoring: perMonitoredStep,
    perCanaryStepWithThreeMetrics: perAnalysedStep,
    perCanaryStepWithThreeMetricsTarget: 30,
    perCanaryStepTarget: 25,
  }),
);
