#!/usr/bin/env node
// Derives the Workflows connector table (googleapis.SERVICE.VERSION.RESOURCE.METHOD → HTTP verb,
// path template, body field, long-running or not) from the google.api.http rules in the protos
// that Google's client packages ship. Run after upgrading a client: node scripts/gen-connectors.mjs
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const packages = [
  '@google-cloud/run',
  '@google-cloud/workflows',
  '@google-cloud/pubsub',
  '@google-cloud/artifact-registry',
  '@google-cloud/monitoring',
];
const VERBS = ['get', 'post', 'put', 'patch', 'delete'];

/** The discovery-style method name a connector uses: the path's custom verb, else the RPC's verb. */
function methodName(verb, path, rpc) {
  const custom = /:([A-Za-z]+)$/.exec(path);
  if (custom) return custom[1];
  const first = /^[A-Z][a-z]+/.exec(rpc)?.[0].toLowerCase() ?? verb;
  return first === 'update' && verb === 'patch' ? 'patch' : first;
}

// `projects.locations.services` from a path such as /v2/{name=projects/*/locations/*/services/*}.
function resourcePath(path) {
  const expanded = path
    .replace(/^\/v\d[a-z0-9]*\//, '')
    .replace(/:[A-Za-z]+$/, '')
    .replace(/\{[^}=]+=([^}]*)\}/g, '$1')
    .replace(/\{[^}]+\}/g, '*');
  return expanded
    .split('/')
    .filter((s) => s && s !== '*' && s !== '**')
    .join('.');
}

const table = {};
function walk(ns, prefix) {
  for (const [name, node] of Object.entries(ns.nested ?? {})) {
    if (node.methods && node.options?.['(google.api.default_host)']) {
      const host = node.options['(google.api.default_host)'];
      const service = host.replace(/\.googleapis\.com$/, '');
      for (const [mname, m] of Object.entries(node.methods)) {
        const o = m.options ?? {};
        // An additional binding is a resource of its own in the discovery document the connectors
        // come from (Revisions.GetRevision is services.revisions.get and workerPools.revisions.get).
        for (const binding of ['(google.api.http)', '(google.api.http).additional_bindings']) {
          const verb = VERBS.find((v) => o[`${binding}.${v}`]);
          if (!verb) continue;
          const path = o[`${binding}.${verb}`];
          const version = /^\/(v\d[a-z0-9]*)\//.exec(path)?.[1];
          if (!version) continue;
          const key = `${service}.${version}.${resourcePath(path)}.${methodName(verb, path, mname)}`;
          if (table[key]) continue;
          const body = o[`${binding}.body`];
          table[key] = {
            host,
            verb: verb.toUpperCase(),
            path,
            ...(body ? { body } : {}),
            ...(m.responseType === 'google.longrunning.Operation' ? { lro: true } : {}),
            rpc: `${prefix}${name}.${mname}`,
          };
        }
      }
    }
    walk(node, `${prefix}${name}.`);
  }
}
for (const pkg of packages) walk(require(`${pkg}/build/protos/protos.json`), '');
const sorted = Object.fromEntries(Object.entries(table).sort(([a], [b]) => a.localeCompare(b)));
const out = fileURLToPath(
  new URL('../local/workflows/connectors/apis.generated.json', import.meta.url),
);
const text = `${JSON.stringify(sorted, null, 1)}\n`;
if (process.argv.includes('--check')) {
  const { readFileSync } = await import('node:fs');
  if (readFileSync(out, 'utf8') !== text) {
    console.error('apis.generated.json is stale: run node scripts/gen-connectors.mjs');
    process.exit(1);
  }
} else {
  writeFileSync(out, text);
  console.log(`${Object.keys(sorted).length} connector methods written to ${out}`);
}
