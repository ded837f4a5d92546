// Static checks of workflows/release.yaml that hold for every path through it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';

const source = readFileSync(new URL('../../workflows/release.yaml', import.meta.url), 'utf8');

function calls(node: unknown, out: { call: string; args: Record<string, unknown> }[] = []) {
  if (Array.isArray(node)) for (const n of node) calls(n, out);
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (typeof o.call === 'string')
      out.push({ call: o.call, args: (o.args ?? {}) as Record<string, unknown> });
    for (const v of Object.values(o)) calls(v, out);
  }
  return out;
}

test('every connector call of the release workflow sets an explicit timeout', () => {
  const connectorCalls = calls(parse(source)).filter((c) => c.call.startsWith('googleapis.'));
  assert.ok(connectorCalls.length >= 10);
  for (const c of connectorCalls) {
    const params = c.args.connector_params as { timeout?: unknown } | undefined;
    assert.ok(params?.timeout !== undefined, `${c.call} has no connector_params.timeout`);
  }
});

const patches = () => calls(parse(source)).filter((c) => c.call.endsWith('services.patch'));
const body = (c: { args: Record<string, unknown> }) =>
  (c.args.body ?? {}) as Record<string, unknown>;

test('every patch of a service that carries a template names an update mask with template', () => {
  const withTemplate = patches().filter((c) => body(c).template !== undefined);
  // Staging's deploy and live's: a check over nothing would pass whatever the workflow did.
  assert.ok(withTemplate.length >= 2, `found ${withTemplate.length} template patches`);
  for (const c of withTemplate) {
    const mask = String(c.args.updateMask ?? '');
    assert.match(
      mask,
      /template/,
      `a services.patch without "template" in its updateMask ignores its template: ${JSON.stringify(body(c)).slice(0, 120)}`,
    );
  }
});

test("every template patch builds on the service's current template, so fields runway does not own survive", () => {
  // A patch of `template` replaces the whole template: a literal one would drop the service
  // account (the default compute account then, on which the workflow has no act-as), env, limits.
  const withTemplate = patches().filter((c) => body(c).template !== undefined);
  assert.ok(withTemplate.length >= 2);
  for (const c of withTemplate) {
    assert.match(
      String(body(c).template),
      /^\$\{candidate_template\(/,
      `template built from scratch: ${JSON.stringify(body(c).template).slice(0, 120)}`,
    );
  }
});

test('every patch names an update mask: without one, Cloud Run replaces the whole service', () => {
  const all = patches();
  assert.ok(all.length >= 5, `found ${all.length} patches`);
  for (const c of all) assert.ok(c.args.updateMask, JSON.stringify(body(c)).slice(0, 120));
});

test('every patch of a job sends the whole job, built on the job as read, with no update mask', () => {
  // UpdateJobRequest has no update_mask (Google refuses one): the body replaces the whole job, so
  // it is built by job_body from the job as read, keeping the fields runway does not own.
  const jobPatches = calls(parse(source)).filter((c) => c.call.endsWith('jobs.patch'));
  assert.ok(jobPatches.length >= 4, `found ${jobPatches.length} job patches`);
  for (const c of jobPatches) {
    assert.equal(c.args.updateMask, undefined, `a jobs.patch with an update mask`);
    assert.match(String(c.args.body), /^\$\{job_body\(/, `job body built from scratch`);
  }
});
