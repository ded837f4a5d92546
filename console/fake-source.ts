// An in-memory ConsoleSource for the server's tests and the benchmark: `count` pipelines, each with
// a live service split between a stable and a candidate revision, a staging service, a canary
// release running at 50 %, a promoted and a rejected one before it; the first waits at a gate.
import type { ExecutionView } from '../cli/cloud.ts';
import { historyRows } from '../cli/commands/history.ts';
import { pipelineStatuses, type ServiceStatus } from '../cli/commands/status.ts';
import type { Snapshot } from './model.ts';
import type { ActionForm } from './security.ts';
import type { ConsoleSource } from './source.ts';

export const digestOf = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

function execution(
  id: string,
  pipeline: string,
  state: string,
  digest: string,
  extra: Partial<ExecutionView> = {},
): ExecutionView {
  return {
    name: `projects/p/locations/us-central1/workflows/runway-release/executions/${id}`,
    id,
    state,
    startTime: '2026-12-02T10:00:00.000Z',
    endTime: state === 'ACTIVE' ? null : '2026-12-02T10:01:00.000Z',
    argument: {
      pipeline,
      image: `us-central1-docker.pkg.dev/p/apps/${pipeline}@${digest}`,
      tag: `v-${id}`,
      action: 'release',
      by: 'pubsub',
      promotion: {
        strategy: 'canary',
        steps: [10, 50, 100],
        bakeSeconds: 60,
        health: { maxErrorRatio: 0.05, minRequests: 10 },
      },
    },
    result: null,
    error: null,
    labels: { pipeline, digest: digest.slice(7, 19) },
    routine: state === 'ACTIVE' ? 'canary_step' : null,
    ...extra,
  };
}

function result(pipeline: string, digest: string, outcome: string, reason: string | null) {
  const stage = (name: string, o: string, detail: string | null = null) => ({
    name,
    start: '2026-12-02T10:00:00Z',
    end: '2026-12-02T10:00:30Z',
    outcome: o,
    detail,
    by: null,
    reason: null,
  });
  return {
    outcome,
    action: 'release',
    pipeline,
    digest,
    reason,
    staging: {
      service: `${pipeline}-staging`,
      revision: `${pipeline}-staging-${digest.slice(7, 19)}`,
    },
    live: { service: pipeline, revision: null, previousRevision: null },
    stages:
      outcome === 'PROMOTED'
        ? [
            stage('claim', 'OK'),
            stage('staging', 'OK'),
            stage('test', 'OK'),
            stage('promote', 'OK'),
          ]
        : [stage('claim', 'OK'), stage('staging', 'OK'), stage('test', 'FAILED', reason)],
  };
}

/** A snapshot of `count` pipelines (names p0, p1, …), as the cloud source would read it. */
export function fakeSnapshot(count: number, at = new Date('2026-12-02T10:05:00Z')): Snapshot {
  const services: ServiceStatus[] = [];
  const executions: ExecutionView[] = [];
  const pipelines = [];
  for (let i = 0; i < count; i++) {
    const name = `p${i}`;
    const [old, live, next, bad] = [1, 2, 3, 4].map((k) => digestOf(i * 10 + k)) as [
      string,
      string,
      string,
      string,
    ];
    const rev = (d: string) => `${name}-${d.slice(7, 19)}`;
    const gate: Record<string, string> =
      i === 0
        ? {
            'runway.dev/gate': JSON.stringify({
              execution: `${name}-run`,
              url: 'http://127.0.0.1:9/callbacks/c',
              stage: 'promote',
              before: '100',
              digest: next,
              deadline: '2026-12-02T11:00:00Z',
              approvers: ['user:developer@local'],
            }),
          }
        : {};
    services.push(
      {
        name,
        uri: `http://127.0.0.1:1/${name}`,
        ready: true,
        annotations: {
          'runway.dev/digest': live,
          'runway.dev/previous': old,
          'runway.dev/claim': JSON.stringify({ digest: next, execution: `${name}-run` }),
          ...gate,
        },
        revisions: [
          { name: rev(live), percent: 50, tags: ['stable'], digest: live, ready: true },
          { name: rev(next), percent: 50, tags: ['candidate'], digest: next, ready: true },
          { name: rev(old), percent: 0, tags: [], digest: old, ready: true },
        ],
      },
      {
        name: `${name}-staging`,
        uri: `http://127.0.0.1:1/${name}-staging`,
        ready: true,
        annotations: {},
        revisions: [
          {
            name: `${name}-staging-${next.slice(7, 19)}`,
            percent: 100,
            tags: [],
            digest: next,
            ready: true,
          },
        ],
      },
    );
    const failed = `acceptance tests failed: Execution '${name}-acceptance-x1' failed: 1 of 1 task(s) failed. Logs: runway logs --execution ${name}-acceptance-x1`;
    executions.push(
      execution(`${name}-run`, name, 'ACTIVE', next),
      execution(`${name}-bad`, name, 'SUCCEEDED', bad, {
        result: result(name, bad, 'REJECTED', failed),
        labels: { pipeline: name, 'runway-billed-steps': '60' },
      }),
      execution(`${name}-good`, name, 'SUCCEEDED', live, {
        result: result(name, live, 'PROMOTED', null),
        labels: { pipeline: name, 'runway-billed-steps': '104' },
      }),
    );
    pipelines.push({ name, live: { service: name } });
  }
  return {
    at,
    kind: 'local',
    project: 'p',
    region: 'us-central1',
    timeScale: 1,
    member: 'user:developer@local',
    services,
    executions,
    config: null,
    pipelines: pipelineStatuses(pipelines, services, at),
  };
}

/** A source answering from a snapshot; what actions it was asked, and a way to refuse them. */
export function fakeSource(snapshot: Snapshot): ConsoleSource & {
  acted: ActionForm[];
  snapshotReads: number;
  refuse: Error | null;
  logLines: string[];
} {
  const source = {
    acted: [] as ActionForm[],
    snapshotReads: 0,
    refuse: null as Error | null,
    logLines: ['2026-12-02T10:00:00.000Z stdout hello <world>'],
    async snapshot() {
      source.snapshotReads++;
      return snapshot;
    },
    async execution(id: string) {
      return snapshot.executions.find((e) => e.id === id) ?? null;
    },
    async history(pipeline: string) {
      return historyRows(snapshot.executions.filter((e) => e.labels.pipeline === pipeline));
    },
    async logs() {
      let given = 0;
      return {
        what: 'the release workflow',
        note: null,
        read: async () => {
          const out = source.logLines.slice(given);
          given = source.logLines.length;
          return out;
        },
      };
    },
    async act(form: ActionForm) {
      if (source.refuse) throw source.refuse;
      source.acted.push(form);
      return `${form.action}: done`;
    },
    async close() {},
  };
  return source;
}
