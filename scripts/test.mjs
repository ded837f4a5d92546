#!/usr/bin/env node
// Runs every *.test.ts under the project through Node's test runner with tsx.
// Usage: node scripts/test.mjs [PATH_FRAGMENT ...]   (fragments filter the files)
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const skip = new Set(['node_modules', 'dist', '.git', '.runway', '.terraform']);

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skip.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.name.endsWith('.test.ts')) yield relative(root, path);
  }
}

const filters = process.argv.slice(2);
// The slowest files first (end-to-end, the browser, then integration; each a whole stack or many
// processes), the many quick unit files after: with N at once, no long file starts last and runs
// alone at the end.
const rank = (f) =>
  /^test\/(e2e|browser)\//.test(f) ? 0 : f.startsWith('test/integration/') ? 1 : 2;
const files = [...walk(root)]
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ') || '*.test.ts'}`);
  process.exit(1);
}
const args = [
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  // Two files at once: on this 2-core machine three took longer (694 s of tests against 639 s).
  `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
  '--test-timeout=600000',
  // A file whose tests have all ended exits then, even if a handle it leaked (a browser's socket,
  // a timer) would keep it alive: once, the console's browser tests passed and then held their
  // process to the 10-minute timeout.
  '--test-force-exit',
  ...files,
];
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
