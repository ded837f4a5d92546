// The engine's speed: steps per second on a tight loop (the target: >= 1,000,000 steps/s
// on about 90,000 steps) and the cost of starting an execution of a parsed workflow (<= 1 ms).
// Medians of several runs; the last line is one JSON object of all figures.
import { parseWorkflow, startExecution } from '../local/workflows/engine.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const loop = parseWorkflow(`
- loop:
    for:
      value: i
      range: [1, 89990]
      steps:
        - add:
            assign:
              - x: \${i}
- done:
    return: 0
`);
const tiny = parseWorkflow('- r:\n    return: 1\n');

const rates: number[] = [];
let steps = 0;
for (let run = 0; run < 7; run++) {
  const t0 = performance.now();
  const r = await startExecution(loop, null).done;
  const ms = performance.now() - t0;
  if (r.state !== 'SUCCEEDED') throw new Error(`loop failed: ${JSON.stringify(r.error)}`);
  steps = r.steps.internal;
  rates.push(steps / (ms / 1000));
  console.log(
    `run ${run}: ${steps} steps in ${ms.toFixed(1)} ms = ${Math.round(steps / (ms / 1000))} steps/s`,
  );
}

const starts: number[] = [];
for (let run = 0; run < 2000; run++) {
  const t0 = performance.now();
  const ex = startExecution(tiny, null);
  starts.push(performance.now() - t0);
  await ex.done;
}
const startToDone: number[] = [];
for (let run = 0; run < 2000; run++) {
  const t0 = performance.now();
  await startExecution(tiny, null).done;
  startToDone.push(performance.now() - t0);
}

// Cancel latency: an endless loop is cancelled once it is busy; time until `done` resolves.
const endless = parseWorkflow(
  '- a:\n    assign:\n      - n: 0\n- b:\n    assign:\n      - n: ${n + 1}\n    next: b\n',
);
const cancels: number[] = [];
for (let run = 0; run < 9; run++) {
  const ex = startExecution(endless, null, { limits: { maxSteps: 1e12 } });
  while (ex.steps.internal < 50_000) await new Promise((r) => setImmediate(r));
  const t0 = performance.now();
  ex.cancel();
  const r = await ex.done;
  if (r.state !== 'CANCELLED') throw new Error(`cancel ended ${r.state}`);
  cancels.push(performance.now() - t0);
}
console.log(
  `cancel latency median ${median(cancels).toFixed(3)} ms, max ${Math.max(...cancels).toFixed(3)} ms (target <= 100 ms)`,
);

const figures = {
  loopSteps: steps,
  stepsPerSecondMedian: Math.round(median(rates)),
  stepsPerSecondTarget: 1_000_000,
  startExecutionMsMedian: Number(median(starts).toFixed(4)),
  tinyExecutionMsMedian: Number(median(startToDone).toFixed(4)),
  startExecutionMsTarget: 1,
  cancelLatencyMsMedian: Number(median(cancels).toFixed(3)),
  cancelLatencyMsMax: Number(Math.max(...cancels).toFixed(3)),
  cancelLatencyMsTarget: 100,
};
console.log(
  `steps/s median ${figures.stepsPerSecondMedian} (target >= 1,000,000); start ${figures.startExecutionMsMedian} ms (target <= 1 ms)`,
);
console.log(JSON.stringify(figures));
