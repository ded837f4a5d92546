// The release workflow's arguments for an operator's action (abort, rollback): the pipeline's usual
// arguments with no image, and who asks, why, and (rollback) where to. Started with labels
// {pipeline, action} so `runway history` finds them.
//
// REPLACE(i16-policy): once services/shared/pipeline-config.ts `workflowArgsFor` takes an action
// (image null, by, reason, to) and fills in the freezes' windows, call it here instead of copying
// the pipeline's fields; until then the workflow sees no freezes (`freezes` defaults to []).
import type { Pipeline } from '../services/shared/pipeline-config.ts';

export type Action = 'abort' | 'rollback';

export interface ActionRequest {
  action: Action;
  by: string;
  reason: string | null;
  /** rollback: the digest to go back to; null for live's previous one. */
  to?: string | null;
}

export function actionArguments(
  pipeline: Pipeline,
  project: string,
  request: ActionRequest,
): Record<string, unknown> {
  return {
    pipeline: pipeline.name,
    project,
    region: pipeline.region,
    image: null,
    tag: null,
    publishTime: null,
    staging: pipeline.staging,
    live: pipeline.live,
    acceptance: pipeline.acceptance,
    promotion: pipeline.promotion,
    notify: pipeline.notify,
    source: 'manual',
    action: request.action,
    by: request.by,
    reason: request.reason,
    ...(request.action === 'rollback' ? { to: request.to ?? null } : {}),
  };
}

export function actionLabels(pipeline: string, action: Action): Record<string, string> {
  return { pipeline, action };
}
