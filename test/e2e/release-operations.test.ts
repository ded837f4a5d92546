// Operating releases, workflows/release.yaml's part, on the local engine over the fake Run API:
// gates answered over a real callback endpoint, aborts and rollbacks as executions of the same
// workflow, freezes holding a release, the watch after promotion, and the events on the notify
// topic. Time runs 1,000 times faster (a 60 s bake is 60 ms). The same operations through
// runway's commands, on the local cloud, are in test/e2e/operate.test.ts.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { fromPlain, toJsonText } from '../../local/workflows/convert.ts';
import { createEndpoints } from '../../local/workflows/connectors/index.ts';
import { startExecution, timeScaledClock } from '../../local/workflows/engine.ts';
import type { FakeRun } from '../fixtures/fake-run.ts';
import { parseEventMessage } from '../../services/shared/events.ts';
import { fakeCloud, releaseWorkflow } from '../helpers/release-engine.ts';

const workflow = releaseWorkflow;
const SCALE = 1000;
const clock = timeScaledClock(SCALE);
const IMG = 'us-central1-docker.pkg.dev/local-project/apps/web';
const base = 'projects/local-project/locations/us-central1';
const ANN = 'user:ann@example.com';

const cloud = fakeCloud(clock);
const callbacks = cloud.callbacks;
let run: FakeRun;
before(async () => {
  run = await cloud.started;
});

let counter = 0;
/** A digest no test has used. */
const fresh = () => `sha256:${(++counter).toString(16).padStart(2, '0').repeat(32)}`;
const short = (d: string) => d.slice(7, 19);

function args(digest: string | null, extra: Record<string, unknown> = {}) {
  return {
    pipeline: 'web',
    project: 'local-project',
    region: 'us-central1',
    image: digest === null ? null : `${IMG}@${digest}`,
    staging: { service: 'web-staging' },
    live: { service: 'web' },
    acceptance: { job: 'web-acceptance', timeoutSeconds: 60, taskCount: 1, checks: null },
    promotion: { strategy: 'direct' },
    notify: null,
    source: 'manual',
    ...extra,
  };
}

interface Stage {
  name: string;
  outcome: string;
  by: string | null;
  reason: string | null;
}
/** A release's or an operation's result, as far as these tests read it. */
interface Result {
  outcome?: string;
  action?: string;
  reason: string;
  digest: string;
  delivered?: boolean;
  live: { revision: string; previousRevision: string };
  stages: Stage[];
}
interface Outcome {
  state: string;
  result?: Result;
  error?: unknown;
}

/** Starts an execution; `done` resolves with its result or error as plain JSON. */
function start(a: unknown): Promise<Outcome> {
  const ex = startExecution(workflow, fromPlain(a), {
    clock,
    callbacks: callbacks.hub,
    endpoints: createEndpoints({
      RUN_EMULATOR_HOST: run.host,
      MONITORING_EMULATOR_HOST: run.host,
      PUBSUB_EMULATOR_HOST: run.host,
    }),
    env: { projectId: 'local-project', location: 'us-central1', workflowId: 'runway-release' },
  });
  return ex.done.then((r) => ({
    state: r.state,
    ...(r.result ? { result: JSON.parse(toJsonText(r.result)) } : {}),
    ...(r.error ? { error: JSON.parse(toJsonText(r.error.payload)) } : {}),
  }));
}

const live = () => run.services.get(`${base}/services/web`)!;
const annotation = (key: string) => {
  const text = live()?.annotations[key];
  return text ? JSON.parse(text) : undefined;
};

/** Waits (polling the fake's state) until `check` holds; the workflow runs on its own clock. */
async function until<T>(check: () => T | undefined, what: string, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const canary = (extra: Record<string, unknown> = {}) => ({
  strategy: 'canary',
  steps: [10, 100],
  bakeSeconds: 60,
  health: null,
  ...extra,
});
const approval = (extra: Record<string, unknown> = {}) => ({
  before: ['live'],
  timeoutSeconds: 3600,
  onTimeout: 'reject',
  approvers: [ANN],
  ...extra,
});

async function promote(digest = fresh()) {
  const r = await start(args(digest));
  assert.equal(r.result?.outcome, 'PROMOTED', JSON.stringify(r));
  return digest;
}

describe('operating releases (workflow, fake Cloud Run)', () => {
  before(async () => {
    await promote();
  });

  test('a gate before live: the gate is on live, an answer from a non-approver is ignored, an approver approves, and who and why are recorded', async () => {
    const d = fresh();
    const done = start(args(d, { promotion: { strategy: 'direct', approval: approval() } }));
    const gate = await until(() => annotation('runway.dev/gate'), 'the gate');
    assert.equal(gate.before, 'live');
    assert.equal(gate.digest, d);
    assert.deepEqual(gate.approvers, [ANN]);
    assert.ok(Date.parse(gate.deadline) > clock.now() + 3000_000, 'deadline about an hour on');
    assert.equal(live().annotations['runway.dev/digest'] === d, false, 'live untouched');
    assert.equal(
      await callbacks.send(gate.url, { decision: 'approve', by: 'user:bob@example.com' }),
      200,
    );
    assert.equal(
      await callbacks.send(gate.url, { decision: 'approve', by: ANN, reason: 'looks good' }),
      200,
    );
    const r = await done;
    assert.equal(r.result?.outcome, 'PROMOTED', JSON.stringify(r));
    const gates = r.result!.stages.filter((s) => s.name === 'gate');
    assert.deepEqual(
      gates.map((s) => [s.outcome, s.by]),
      [
        ['SKIPPED', 'user:bob@example.com'],
        ['OK', ANN],
      ],
      'the ignored answer is on record too',
    );
    const g = gates[1]!;
    assert.deepEqual([g.outcome, g.by, g.reason], ['OK', ANN, 'looks good']);
    assert.equal(live().annotations['runway.dev/gate'], undefined, 'the gate is gone');
    assert.equal(live().annotations['runway.dev/digest'], d);
  });

  test('rejected at the gate before live: REJECTED, live untouched, the digest refused for the reconcile', async () => {
    const before_ = live().annotations['runway.dev/digest'];
    const d = fresh();
    const done = start(args(d, { promotion: { strategy: 'direct', approval: approval() } }));
    const gate = await until(() => annotation('runway.dev/gate'), 'the gate');
    await callbacks.send(gate.url, { decision: 'reject', by: ANN, reason: 'not on a Friday' });
    const r = await done;
    assert.equal(r.result?.outcome, 'REJECTED', JSON.stringify(r));
    assert.match(
      r.result!.reason,
      /reject at the gate before live by user:ann@example.com: not on a Friday/,
    );
    assert.equal(live().annotations['runway.dev/digest'], before_);
    assert.ok(annotation('runway.dev/refused').includes(d));
    assert.equal(live().annotations['runway.dev/claim'], undefined);
  });

  const timeouts = [
    { name: 'reject', outcome: 'REJECTED' },
    { name: 'promote', outcome: 'PROMOTED' },
  ];
  for (const c of timeouts) {
    test(`no answer by the deadline: onTimeout ${c.name} → ${c.outcome}`, async () => {
      const d = fresh();
      const r = await start(
        args(d, {
          promotion: {
            strategy: 'direct',
            approval: approval({ timeoutSeconds: 120, onTimeout: c.name }),
          },
        }),
      );
      assert.equal(r.result?.outcome, c.outcome, JSON.stringify(r));
      assert.equal(live().annotations['runway.dev/gate'], undefined);
    });
  }

  test('rejected at the gate before 100 %: ROLLED_BACK, live back on the stable revision', async () => {
    const stable = live().traffic[0]!.revision;
    const d = fresh();
    const done = start(args(d, { promotion: canary({ approval: approval({ before: ['100'] }) }) }));
    const gate = await until(() => annotation('runway.dev/gate'), 'the gate');
    assert.equal(gate.before, '100');
    assert.equal(live().traffic.find((t) => t.tag === 'candidate')?.percent, 10);
    await callbacks.send(gate.url, { decision: 'reject', by: ANN, reason: 'errors in the logs' });
    const r = await done;
    assert.equal(r.result?.outcome, 'ROLLED_BACK', JSON.stringify(r));
    assert.deepEqual(
      live().traffic.map((t) => [t.revision, t.percent]),
      [[stable, 100]],
    );
  });

  test('an abort mid-bake ends the canary at once: ROLLED_BACK, who and why recorded', async () => {
    const stable = live().traffic[0]!.revision;
    const d = fresh();
    const started = Date.now();
    const done = start(args(d, { promotion: canary({ bakeSeconds: 3600 }) }));
    await until(
      () => live().traffic.find((t) => t.tag === 'candidate' && t.percent === 10),
      'the first step',
    );
    const aborted = await start(args(null, { action: 'abort', by: ANN, reason: 'pager went off' }));
    assert.equal(aborted.state, 'SUCCEEDED', JSON.stringify(aborted));
    assert.equal(aborted.result?.delivered, true);
    assert.equal(aborted.result?.digest, d);
    const r = await done;
    assert.ok(Date.now() - started < 3000, 'long before the hour-long bake ended');
    assert.equal(r.result?.outcome, 'ROLLED_BACK', JSON.stringify(r));
    const stage = r.result!.stages.at(-1)!;
    assert.deepEqual([stage.name, stage.by, stage.reason], ['abort', ANN, 'pager went off']);
    assert.deepEqual(
      live().traffic.map((t) => [t.revision, t.percent]),
      [[stable, 100]],
    );
    assert.equal(live().annotations['runway.dev/abort'], undefined, 'the abort is cleared');
  });

  test("an abort before live traffic moved: REJECTED at the release's next traffic change", async () => {
    const before_ = live().annotations['runway.dev/digest'];
    run.jobDelayMs.value = 400;
    try {
      const d = fresh();
      const done = start(args(d));
      await until(
        () => run.jobRuns.length > 0 && annotation('runway.dev/claim')?.digest === d,
        'the tests',
      );
      const aborted = await start(args(null, { action: 'abort', by: ANN, reason: 'wrong build' }));
      assert.equal(aborted.result?.delivered, false, 'a direct release has no control channel');
      const r = await done;
      assert.equal(r.result?.outcome, 'REJECTED', JSON.stringify(r));
      assert.match(r.result!.reason, /aborted by user:ann@example.com: wrong build/);
      assert.equal(live().annotations['runway.dev/digest'], before_);
    } finally {
      run.jobDelayMs.value = 0;
    }
  });

  test('an abort with no release running is refused', async () => {
    const r = await start(args(null, { action: 'abort', by: ANN }));
    assert.equal(r.state, 'FAILED');
    assert.match(JSON.stringify(r.error), /abort refused: no release of web is running/);
  });

  test('rollback to the previous digest: one patch; digest, previous and refused recorded', async () => {
    const first = await promote();
    const second = await promote();
    const r = await start(args(null, { action: 'rollback', by: ANN, reason: 'latency' }));
    assert.equal(r.result?.outcome, 'ROLLED_BACK', JSON.stringify(r));
    assert.equal(r.result?.action, 'rollback');
    assert.equal(r.result?.digest, first);
    assert.equal(r.result?.live.revision, `web-${short(first)}`);
    assert.equal(r.result?.live.previousRevision, `web-${short(second)}`);
    assert.deepEqual(
      live().traffic.map((t) => [t.revision, t.percent, t.tag]),
      [[`web-${short(first)}`, 100, 'stable']],
    );
    assert.equal(live().annotations['runway.dev/digest'], first);
    assert.equal(live().annotations['runway.dev/previous'], second);
    assert.ok(annotation('runway.dev/refused').includes(second));
  });

  const named = [
    { name: 'a named digest whose revision exists', ok: true },
    { name: 'a digest never released (no revision)', ok: false },
  ];
  for (const c of named) {
    test(`rollback to ${c.name}`, async () => {
      const target = await promote();
      await promote();
      const to = c.ok ? target : fresh();
      const r = await start(args(null, { action: 'rollback', to, by: ANN }));
      if (c.ok) {
        assert.equal(r.result?.outcome, 'ROLLED_BACK', JSON.stringify(r));
        assert.equal(live().annotations['runway.dev/digest'], to);
      } else {
        assert.equal(r.state, 'FAILED');
        assert.match(JSON.stringify(r.error), /rollback refused: no revision web-/);
      }
    });
  }

  test('a rollback while a canary runs aborts it first, then rolls live back', async () => {
    const previous = await promote();
    const current = await promote();
    const d = fresh();
    const done = start(args(d, { promotion: canary({ bakeSeconds: 3600 }) }));
    await until(
      () => live().traffic.find((t) => t.tag === 'candidate' && t.percent === 10),
      'the first step',
    );
    const r = await start(args(null, { action: 'rollback', by: ANN, reason: 'undo' }));
    assert.equal(r.result?.outcome, 'ROLLED_BACK', JSON.stringify(r));
    assert.equal((await done).result?.outcome, 'ROLLED_BACK');
    assert.equal(live().annotations['runway.dev/digest'], previous);
    assert.equal(live().annotations['runway.dev/previous'], current);
    assert.deepEqual(
      live().traffic.map((t) => t.percent),
      [100],
    );
  });

  test('a freeze holds a release before live traffic moves until it ends; an override lifts it', async () => {
    const now = clock.now();
    const window = {
      start: new Date(now - 3600_000).toISOString(),
      end: new Date(now + 400_000).toISOString(),
    };
    const freezes = [{ name: 'lunch', actions: ['release'], overriders: [ANN], windows: [window] }];
    const d = fresh();
    const started = Date.now();
    const done = start(args(d, { freezes }));
    const held = await until(() => annotation('runway.dev/held'), 'the hold');
    assert.deepEqual([held.freeze, held.before], ['lunch', 'live']);
    const r = await done;
    assert.equal(r.result?.outcome, 'PROMOTED', JSON.stringify(r));
    assert.ok(Date.now() - started >= 300, 'held until the window ended');
    assert.equal(live().annotations['runway.dev/held'], undefined);
    const lifted = await start(
      args(fresh(), {
        freezes: [
          {
            ...freezes[0],
            windows: [{ ...window, end: new Date(clock.now() + 3600_000).toISOString() }],
          },
        ],
        override: { freeze: 'lunch', by: ANN, reason: 'hotfix' },
      }),
    );
    assert.equal(lifted.result?.outcome, 'PROMOTED', JSON.stringify(lifted));
  });

  test('a freeze of releases does not freeze rollbacks; one naming rollback does', async () => {
    await promote();
    await promote();
    const now = clock.now();
    const windows = [
      { start: new Date(now - 1000).toISOString(), end: new Date(now + 3600_000).toISOString() },
    ];
    const free = await start(
      args(null, {
        action: 'rollback',
        freezes: [{ name: 'r', actions: ['release'], overriders: [], windows }],
      }),
    );
    assert.equal(free.result?.outcome, 'ROLLED_BACK', JSON.stringify(free));
    const frozen = await start(
      args(null, {
        action: 'rollback',
        freezes: [{ name: 'all', actions: ['release', 'rollback'], overriders: [], windows }],
      }),
    );
    assert.equal(frozen.state, 'FAILED');
    assert.match(JSON.stringify(frozen.error), /rollback refused: the freeze all covers rollbacks/);
  });

  test('the watch after 100 %: a 5xx burst rolls live back; quiet minutes keep it', async () => {
    const stable = live().traffic[0]!.revision;
    const health = {
      maxErrorRatio: 0.1,
      minRequests: 10,
      dataWaitSeconds: 0,
      onInconclusive: 'rollback',
    };
    run.requestCounts.splice(0, Infinity, { codeClass: '2xx', count: 100 });
    try {
      const kept = await start(
        args(fresh(), { promotion: { strategy: 'direct', watchSeconds: 120, health } }),
      );
      assert.equal(kept.result?.outcome, 'PROMOTED', JSON.stringify(kept));
      assert.equal(kept.result!.stages.at(-1)?.name, 'watch');
      assert.equal(
        live().annotations['runway.dev/claim'],
        undefined,
        'the claim ends with the watch',
      );
      const stableNow = live().traffic[0]!.revision;
      const stableDigest = live().annotations['runway.dev/digest'];
      const d = fresh();
      const done = start(args(d, { promotion: { strategy: 'direct', watchSeconds: 600, health } }));
      await until(() => live().annotations['runway.dev/digest'] === d, 'the promotion');
      assert.ok(annotation('runway.dev/claim'), 'the claim is kept while watched');
      run.requestCounts.splice(
        0,
        Infinity,
        { codeClass: '2xx', count: 50 },
        { codeClass: '5xx', count: 50 },
      );
      const r = await done;
      assert.equal(r.result?.outcome, 'ROLLED_BACK', JSON.stringify(r));
      assert.match(
        r.result!.reason,
        /while watched after promotion: errors: 5xx ratio 50\/100 is above 0\.1/,
      );
      assert.deepEqual(
        live().traffic.map((t) => [t.revision, t.percent]),
        [[stableNow, 100]],
      );
      const recorded = live().annotations;
      assert.equal(
        recorded['runway.dev/digest'],
        stableDigest,
        'live records the digest it serves',
      );
      assert.equal(recorded['runway.dev/previous'], d, 'and the one rolled back as previous');
      assert.match(recorded['runway.dev/refused'] ?? '', new RegExp(d));
      void stable;
    } finally {
      run.requestCounts.length = 0;
    }
  });

  test('the watch without health thresholds: an instance crashing after 100 % rolls live back', async () => {
    const stableNow = live().traffic[0]!.revision;
    const d = fresh();
    const done = start(args(d, { promotion: { strategy: 'direct', watchSeconds: 600 } }));
    await until(() => live().annotations['runway.dev/digest'] === d, 'the promotion');
    run.crashedRevisions.add(`web-${short(d)}`);
    try {
      const r = await done;
      assert.equal(r.result?.outcome, 'ROLLED_BACK', JSON.stringify(r));
      assert.match(
        r.result!.reason,
        /while watched after promotion: the release crashed: Container terminated on signal 9/,
      );
      assert.deepEqual(
        live().traffic.map((t) => [t.revision, t.percent]),
        [[stableNow, 100]],
      );
    } finally {
      run.crashedRevisions.clear();
    }
  });

  test('the events on the notify topic: one message per event, its type an attribute', async () => {
    run.published.length = 0;
    const d = fresh();
    const done = start(
      args(d, {
        notify: { topic: 'runway-events' },
        promotion: canary({ steps: [50, 100], bakeSeconds: 30, approval: approval() }),
      }),
    );
    const gate = await until(() => annotation('runway.dev/gate'), 'the gate');
    await callbacks.send(gate.url, { decision: 'approve', by: ANN });
    assert.equal((await done).result?.outcome, 'PROMOTED');
    const events = run.published.map((m) => ({
      topic: m.topic,
      attributes: m.attributes,
      event: JSON.parse(Buffer.from(m.data, 'base64').toString()),
    }));
    // Each one as runway's event schema reads it (services/shared/events.ts).
    for (const m of run.published)
      assert.doesNotThrow(
        () => parseEventMessage({ data: m.data, attributes: m.attributes ?? {} }),
        m.data,
      );
    assert.ok(events.every((e) => e.topic === 'projects/local-project/topics/runway-events'));
    assert.ok(
      events.every((e) => e.attributes?.type === e.event.type && e.attributes?.pipeline === 'web'),
    );
    assert.deepEqual(
      events.map((e) =>
        e.event.type === 'stage.ended' ? `stage.ended:${e.event.stage.name}` : e.event.type,
      ),
      [
        'release.started',
        'stage.ended:claim',
        'stage.ended:staging',
        'stage.ended:test',
        'gate.opened',
        'gate.decided',
        'step.advanced',
        'step.advanced',
        'stage.ended:promote',
        'release.ended',
      ],
    );
    assert.ok(
      events.every((e) => e.event.digest === d && e.event.pipeline === 'web' && e.event.at),
    );
    assert.equal(events.at(-1)!.event.outcome, 'PROMOTED');
    assert.equal(events.find((e) => e.event.type === 'gate.decided')!.event.decision, 'approve');
  });
});
