// Where the console's data comes from and where its actions go: the same code as the CLI's
// commands (status's readers and pipeline states, history's rows, logs' files, approve, reject,
// abort and rollback), over one cloud (cli/cloud.ts) opened for the whole session: Google's
// clients against the local stack's endpoints, or against Google with the credentials.
import { join } from 'node:path';
import { UsageError } from '../cli/args.ts';
import type { Cloud, ExecutionView } from '../cli/cloud.ts';
import { abortRelease } from '../cli/commands/abort.ts';
import { answerGate } from '../cli/commands/approve.ts';
import { type HistoryRow, readHistory } from '../cli/commands/history.ts';
import { type LogSelection, logFiles, logTail } from '../cli/commands/logs.ts';
import { rollBack } from '../cli/commands/rollback.ts';
import { openJobReader, openServiceReader, pipelineStatuses } from '../cli/commands/status.ts';
import { Refused } from '../cli/exit.ts';
import { targetOf } from '../services/shared/pipeline-config.ts';
import { liveState } from '../cli/live-state.ts';
import { pipelineOf, readConfig, type Target } from '../cli/target.ts';
import type { Snapshot } from './model.ts';
import type { ActionForm } from './security.ts';

export interface LogView {
  what: string;
  /** New whole lines since the last call (all of them on the first). */
  read(): Promise<string[]>;
  /** Said above the lines: where they are when they are not here. */
  note: string | null;
}

export interface ConsoleSource {
  snapshot(): Promise<Snapshot>;
  /** One execution of the release workflow by id, or null when there is none. */
  execution(id: string): Promise<ExecutionView | null>;
  history(pipeline: string, limit: number): Promise<HistoryRow[]>;
  logs(selection: LogSelection): Promise<LogView>;
  /** Does what the form asks, as the CLI command would; the line it would print. */
  act(form: ActionForm): Promise<string>;
  close(): Promise<void>;
}

/** How many executions a snapshot reads: enough for every pipeline's running and last release. */
const SNAPSHOT_EXECUTIONS = 60;

export async function cloudSource(target: Target, cloud: Cloud): Promise<ConsoleSource> {
  const reader = await openServiceReader(target);
  const jobReader = await openJobReader(target);
  const timeScale = target.kind === 'local' ? target.timeScale : 1;
  let member: string | null = null;
  const who = async () => {
    member ??= await cloud.caller.member().catch(() => null);
    return member;
  };
  const executionName = (id: string) =>
    `projects/${target.project}/locations/${target.region}/workflows/${target.workflow}/executions/${id}`;
  return {
    async snapshot() {
      const [services, jobs, executions, config, caller] = await Promise.all([
        reader.read(),
        jobReader.read(),
        cloud.executions.list({ labels: {}, limit: SNAPSHOT_EXECUTIONS }),
        readConfig(target, false),
        who(),
      ]);
      const at = new Date();
      return {
        at,
        kind: target.kind,
        project: target.project,
        region: target.region,
        timeScale,
        member: caller,
        services,
        jobs,
        executions,
        config,
        pipelines: pipelineStatuses(
          config?.pipelines ?? null,
          services,
          at,
          config?.freezes ?? [],
          jobs,
          target.region,
        ),
      };
    },
    async execution(id) {
      try {
        return await cloud.executions.get(executionName(id));
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code === 5 || code === 404) return null;
        throw err;
      }
    },
    history: (pipeline, limit) => readHistory(cloud.executions, pipeline, limit),
    async logs(selection) {
      if (target.kind !== 'local')
        return {
          what: selection.kind === 'workflows' ? 'the release workflow' : describe(selection),
          read: async () => [],
          note: `On Google these logs are in Cloud Logging: https://console.cloud.google.com/logs/query?project=${target.project}`,
        };
      const { what, paths } = await logFiles(join(target.info.home, 'logs'), selection);
      return { what, read: logTail(paths), note: paths.length ? null : 'no log files yet' };
    },
    async act(form) {
      const { config, pipeline } = await pipelineOf(target, form.pipeline);
      switch (form.action) {
        case 'approve':
        case 'reject': {
          if (form.execution) {
            const live = await cloud.services.service(targetOf(pipeline.live));
            const gate = live ? liveState(live.annotations).gate : null;
            if (gate && gate.execution !== form.execution)
              throw new Refused(
                `the open gate is release ${gate.execution}'s now, not ${form.execution}'s; reload and look again`,
              );
          }
          return answerGate(cloud, pipeline, form.action, form.reason);
        }
        case 'abort':
          return abortRelease(cloud, config, pipeline, target.project, form.reason);
        case 'rollback': {
          const lines: string[] = [];
          await rollBack(
            cloud,
            config,
            pipeline,
            target.project,
            { to: form.to, reason: form.reason, wait: false },
            (line) => lines.push(line),
          );
          return lines.join('\n');
        }
        default:
          throw new UsageError(`unknown action ${String(form.action)}`);
      }
    },
    close: async () => {
      await Promise.all([reader.close(), jobReader.close(), cloud.close()]);
    },
  };
}

function describe(selection: LogSelection): string {
  if (selection.kind === 'execution') return `execution ${selection.execution}`;
  if (selection.kind === 'service')
    return selection.revision ? `revision ${selection.revision}` : `service ${selection.service}`;
  return 'the release workflow';
}
