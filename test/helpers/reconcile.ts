// The local stack's scheduled reconcile (runway-reconcile, every 15 minutes of workflow time: 45 s
// of wall time at --time-scale 20) paused, for tests that call /reconcile themselves and must not
// race it.
import assert from 'node:assert/strict';
import type { StackInfo } from '../../local/stack.ts';
import { localAuthorization } from '../../services/shared/clients.ts';

export async function pauseScheduledReconcile(info: StackInfo): Promise<void> {
  assert.ok(info.scheduler, 'the stack runs a local Cloud Scheduler');
  const job = `projects/${info.project}/locations/${info.region}/jobs/runway-reconcile`;
  const res = await fetch(`${info.scheduler}/v1/${job}:pause`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...localAuthorization },
    body: '{}',
  });
  assert.equal(res.status, 200, await res.text());
}
