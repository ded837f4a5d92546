#!/usr/bin/env node
// Builds the console's browser assets (console/client/: one script bundled by esbuild, one
// stylesheet) into dist/console/ under content-hashed names, which the console serves as
// immutable; dist/console/manifest.json names them and records the size and mtime of every file
// they were built from, so a stale build is seen. Run by `npm ci` (build-cli.mjs's prepare) and,
// without writing, by the console when the build is missing or stale.
//   node scripts/build-console.mjs
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const consoleDir = join(root, 'dist', 'console');
const STYLE = 'console/client/style.css';

const hashed = (base, ext, contents) =>
  `${base}-${createHash('sha256').update(contents).digest('hex').slice(0, 12)}.${ext}`;

/** The traffic bars' widths as classes (w0 … w100): no inline styles, so the CSP forbids them all. */
function widths() {
  let out = '';
  for (let i = 0; i <= 100; i++) out += `.w${i}{width:${i}%}`;
  return out;
}

/**
 * Builds the assets; returns {script, style, files: {name: contents}, inputs}. With `write`, also
 * writes them and the manifest to dist/console/.
 */
export async function buildConsole({ write = true } = {}) {
  const { build, transform } = await import('esbuild');
  const started = Date.now();
  const js = await build({
    absWorkingDir: root,
    entryPoints: ['console/client/app.ts'],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    write: false,
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const script = js.outputFiles[0].contents;
  const css = await transform(`${readFileSync(join(root, STYLE), 'utf8')}\n${widths()}`, {
    loader: 'css',
    minify: true,
  });
  const style = Buffer.from(css.code);
  const names = { script: hashed('app', 'js', script), style: hashed('style', 'css', style) };
  const inputs = {};
  for (const file of [...Object.keys(js.metafile.inputs), STYLE, 'scripts/build-console.mjs']) {
    const s = statSync(join(root, file));
    inputs[file] = s.mtimeMs < started - 50 ? [s.mtimeMs, s.size] : [-1, -1];
  }
  const files = { [names.script]: Buffer.from(script), [names.style]: style };
  if (write) {
    mkdirSync(consoleDir, { recursive: true });
    for (const [name, contents] of Object.entries(files))
      writeFileSync(join(consoleDir, name), contents);
    const manifest = join(consoleDir, 'manifest.json');
    writeFileSync(`${manifest}.${process.pid}`, JSON.stringify({ ...names, inputs }));
    renameSync(`${manifest}.${process.pid}`, manifest);
  }
  return { ...names, files, inputs };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  const built = await buildConsole();
  console.log(
    `built the console's assets into ${relative(root, consoleDir)}/ (${built.script}, ${built.style}) in ${Math.round(performance.now() - started)} ms`,
  );
}
