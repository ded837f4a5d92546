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

test('every patch of a service that carries a template names an update mask', () => {
  for (const c of calls(parse(source)).filter((x) => x.call.endsWith('services.patch'))) {
    const body = c.args.body as Record<string, unknown> | undefined;
    assert.ok(
      c.args.updateMask,
      `a services.patch without updateMask would replace the whole service: ${JSON.stringify(body).slice(0, 120)}`,
    );
  }
});
