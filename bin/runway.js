#!/usr/bin/env node
// The runway command line. Runs the prebuilt bundle in dist/cli/ (scripts/build-cli.mjs), rebuilt
// first when a file it was built from changed; the TypeScript sources through tsx when
// RUNWAY_DEV=1 or when no bundle can be had. The bundle saves ~0.45 s of compilation per command.
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

// node:fs through require: an ESM import of it reads every export, which loads node:stream (~3 ms).
const { existsSync, readFileSync, statSync } = createRequire(import.meta.url)('node:fs');

// Paths, not URLs: fs turns each URL back into a path, which made the check below 3x slower.
const root = fileURLToPath(new URL('..', import.meta.url));
const cliDir = `${root}dist/cli/`;

/**
 * The current build's directory if every file it was built from still has the size and mtime
 * recorded at build time (a stat per file, ~100 files, well under 1 ms; mtime of directories would
 * miss edits in place), else undefined.
 */
function freshBundle() {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(`${cliDir}manifest.json`, 'utf8'));
  } catch {
    return undefined;
  }
  for (const [file, [mtimeMs, size]] of Object.entries(manifest.inputs)) {
    const s = statSync(root + file, { throwIfNoEntry: false });
    if (!s || s.mtimeMs !== mtimeMs || s.size !== size) return undefined;
  }
  const dir = `${cliDir}${manifest.id}/`;
  return existsSync(`${dir}main.js`) ? dir : undefined;
}

/** A new build's directory, or undefined (no esbuild, say, or sources that do not compile). */
async function rebuild() {
  try {
    const { buildCli } = await import('../scripts/build-cli.mjs');
    return `${await buildCli()}/`;
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND')
      process.stderr.write(`runway: bundling failed, running the sources (${err?.message})\n`);
    return undefined;
  }
}

async function loadMain() {
  if (process.env.RUNWAY_DEV !== '1') {
    const dir = freshBundle() ?? (await rebuild());
    if (dir) return import(pathToFileURL(`${dir}main.js`).href);
  }
  const { register } = await import('tsx/esm/api');
  register();
  return import('../cli/main.ts');
}

const { main } = await loadMain();
process.exitCode = await main(process.argv.slice(2));
