// The release workflow on the local engine over the fake Run API (test/fixtures/fake-run.ts), for
// the tests of its paths: the workflow as it is deployed, and per suite a fake Cloud Run and
// loopback callbacks, started before its tests and closed after them.
import { after, before } from 'node:test';
import { deployableFile } from '../../local/workflows/deployable.ts';
import { parseWorkflow } from '../../local/workflows/engine.ts';
import type { Clock } from '../../local/workflows/stdlib/types.ts';
import { type FakeRun, startFakeRun } from '../fixtures/fake-run.ts';
import { type TestCallbacks, testCallbacks } from './callbacks.ts';

/** workflows/release.yaml as deployed (deployable.ts: its data as JSON). */
export const releaseWorkflow = parseWorkflow(
  deployableFile(new URL('../../workflows/release.yaml', import.meta.url)),
  { file: 'release.yaml' },
);

/** The suite's fake Cloud Run (`started`: once its `before` has run) and callbacks on `clock`. */
export function fakeCloud(clock?: Clock): { started: Promise<FakeRun>; callbacks: TestCallbacks } {
  let run: FakeRun | undefined;
  let ready!: (run: FakeRun) => void;
  const started = new Promise<FakeRun>((r) => (ready = r));
  const callbacks = testCallbacks(clock);
  before(async () => {
    run = await startFakeRun();
    ready(run);
  });
  after(async () => {
    await run?.close();
    await callbacks.close();
  });
  return { started, callbacks };
}
