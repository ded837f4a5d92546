#!/usr/bin/env node
// The runway command line. Runs the prebuilt bundle in dist/cli/ (scripts/build-cli.mjs), rebuilt
// first when a file it was built from changed; the TypeScript sources through tsx when
// RUNWAY_DEV=1 or when no bundle can be had. The bundle saves ~0.45 s of compilation per command.
// Built-ins through getBuiltinModule, where Node has it: an ESM import of node:fs builds a facade
// that loads its streams too (~5 ms).
const builtin =
  process.getBuiltinModule ?? (await import('node:module')).createRequire(import.meta.url);
const { existsSync, readFileSync, statSync } = builtin('node:fs');
const { pathToFileURL } = builtin('node:url');

const root = new URL('..', import.meta.url);
const cliDir = new URL('dist/cli/', root);

/**
 * The current build's directory if every file it was built from still has the size and mtime
 * recorded at build time (a stat per file, ~100 files, well under 1 ms; mtime of directories would
 * miss edits in place), else undefined.
 */
function freshBundle() {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(new URL('manifest.json', cliDir), 'utf8'));
  } catch {
    return undefined;
  }
  for (const [file, [mtimeMs, size]] of Object.entries(manifest.inputs)) {
    const s = statSync(new URL(file, root), { throwIfNoEntry: false });
    if (!s || s.mtimeMs !== mtimeMs || s.size !== size) return undefined;
  }
  const dir = new URL(`${manifest.id}/`, cliDir);
  return existsSync(new URL('main.js', dir)) ? dir : undefined;
}

/** A new build's directory, or undefined (no esbuild, say, or sources that do not compile). */
async function rebuild() {
  try {
    const { buildCli } = await import('../scripts/build-cli.mjs');
    return pathToFileURL(`${await buildCli()}/`);
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND')
      process.stderr.write(`runway: bundling failed, running the sources (${err?.message})\n`);
    return undefined;
  }
}

async function loadMain() {
  if (process.env.RUNWAY_DEV !== '1') {
    const dir = freshBundle() ?? (await rebuild());
    if (dir) return import(new URL('main.js', dir).href);
  }
  const { register } = await import('tsx/esm/api');
  register();
  return import('../cli/main.ts');
}

const { main } = await loadMain();
process.exitCode = await main(process.argv.slice(2));
