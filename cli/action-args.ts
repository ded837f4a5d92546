// The release workflow's arguments for an operator's action (abort, rollback): the pipeline's usual
// arguments with no image, who asks, why, (rollback) where to, and the freezes' windows as the
// deployer passes them, so the workflow refuses a rollback a freeze covers. Started with labels
// {pipeline, action} so `runway history` finds them.
import { freezeArguments } from '../services/shared/freezes.ts';
import type { PipelineConfig, Pipeline } from '../services/shared/pipeline-config.ts';

export type Action = 'abort' | 'rollback';

export interface ActionRequest {
  action: Action;
  by: string;
  reason: string | null;
  /** rollback: the digest to go back to; null for live's previous one. */
  to?: string | null;
}

export function actionArguments(
  config: Pick<PipelineConfig, 'freezes'>,
  pipeline: Pipeline,
  project: string,
  request: ActionRequest,
  now = new Date(),
): Record<string, unknown> {
  return {
    pipeline: pipeline.name,
    project,
    region: pipeline.region,
    image: null,
    tag: null,
    publishTime: null,
    kind: pipeline.kind,
    staging: pipeline.staging,
    live: pipeline.live,
    acceptance: pipeline.acceptance,
    ...(pipeline.kind === 'job'
      ? { taskCount: pipeline.taskCount, promotion: { strategy: 'direct' } }
      : { promotion: pipeline.promotion }),
    notify: pipeline.notify,
    source: 'manual',
    action: request.action,
    by: request.by,
    reason: request.reason,
    ...(request.action === 'rollback' ? { to: request.to ?? null } : {}),
    freezes: freezeArguments(config.freezes, pipeline.name, now),
  };
}

export function actionLabels(pipeline: string, action: Action): Record<string, string> {
  return { pipeline, action };
}
