// Dependencies point one way: cli/ -> local/ and services/; local/ -> services/shared; services/
// never imports local/ or cli/, statically or with import(); scripts/ imports neither either.
// console/ (the web console) sits beside cli/: it may use local/, services/shared and the CLI's
// read-only helpers and commands, never the deployer or the acceptance job; only cli/ and test/
// import it, and its browser script (console/client/) imports nothing of the server side.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) yield* sources(path);
    else if (/\.(ts|mjs|cjs|js)$/.test(e.name)) yield path;
  }
}

/** The repository paths a file imports, from `from '…'`, `import('…')` and `require('…')`. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\(\s*)(['"])(\.[^'"]+)\1/g)];
  return specs.map((m) => relative(root, resolve(root, dirname(file), m[2]!)));
}

const rules: { from: string; mayNotImport: string[] }[] = [
  { from: 'services', mayNotImport: ['local/', 'cli/'] },
  { from: 'scripts', mayNotImport: ['local/', 'cli/'] },
  { from: 'local', mayNotImport: ['cli/'] },
  { from: 'services/shared', mayNotImport: ['services/deployer/', 'services/acceptance/'] },
  { from: 'services', mayNotImport: ['console/'] },
  { from: 'local', mayNotImport: ['console/'] },
  { from: 'console', mayNotImport: ['services/deployer/', 'services/acceptance/', 'cli/main.ts'] },
  {
    from: 'console/client',
    mayNotImport: ['cli/', 'local/', 'services/', 'console/server.ts', 'console/source.ts'],
  },
];

for (const rule of rules) {
  test(`${rule.from}/ imports nothing from ${rule.mayNotImport.join(' or ')}`, () => {
    const found = [...sources(rule.from)].flatMap((file) =>
      importsOf(file)
        .filter((target) => rule.mayNotImport.some((p) => target.startsWith(p)))
        .map((target) => `${file} -> ${target}`),
    );
    assert.deepEqual(found, []);
  });
}

test('the rule finds what it looks for (it would see a bad import)', () => {
  assert.deepEqual(
    importsOf('cli/main.ts').filter((t) => t.startsWith('cli/commands/')).length > 0,
    true,
  );
});
