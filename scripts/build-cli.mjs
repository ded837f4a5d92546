#!/usr/bin/env node
// Bundles the command line (cli/main.ts) into dist/cli/, which bin/runway.js runs instead of the
// TypeScript sources: ESM split per command, so `runway --help` reads the dispatcher alone and
// `runway workflows run` the engine alone. Run by `npm ci` (the `prepare` script, which also builds
// the console's assets: build-console.mjs) and by bin/runway.js when a source changed.
//   node scripts/build-cli.mjs   (npm run build:cli)
// Each build goes to dist/cli/<id>/ and dist/cli/manifest.json names the current one, with the
// size and mtime of every file it was built from; a process still running an older build keeps
// its files, and builds racing each other each finish whole.
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const cliDir = join(root, 'dist', 'cli');
// Files outside the bundle that change what it holds.
const buildFiles = ['scripts/build-cli.mjs', 'tsconfig.json'];
// Packages bundled in: Node takes ~40 ms to load yaml's 80 files and ~80 ms for zod's.
const bundled = ['yaml', 'zod'];
// Older builds kept for processes that may still load chunks from them (`runway local up`).
const KEEP = 4;

/**
 * Gives each module its own source file's URL as `import.meta.url`, so code that finds repository
 * files from it (local/images.ts's repoRoot, a createRequire of a JSON file) finds them from the
 * bundle too: the build directory sits at a fixed place under the repository.
 */
function sourceUrls(outdir) {
  return {
    name: 'source-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, async ({ path }) => {
        if (path.includes('/node_modules/')) return undefined;
        const text = await readFile(path, 'utf8');
        if (!text.includes('import.meta.url')) return undefined;
        const rel = JSON.stringify(relative(outdir, path).split('\\').join('/'));
        return {
          contents: text.replaceAll('import.meta.url', `new URL(${rel}, import.meta.url).href`),
          loader: 'ts',
        };
      });
    },
  };
}

/**
 * Every package but `bundled` loads from node_modules at run time, as it does under tsx: Google's
 * clients are CommonJS, and status.ts destructures their named exports, which esbuild would put
 * behind `default`.
 */
const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, ({ path }) => {
      const name = path.split('/', path.startsWith('@') ? 2 : 1).join('/');
      return bundled.includes(name) ? undefined : { path, external: true };
    });
  },
};

/** Builds the bundle; returns its directory. Throws when esbuild is missing or the build fails. */
export async function buildCli() {
  const { build } = await import('esbuild');
  // A time-ordered name, unique among concurrent builds.
  const id = `${Date.now().toString(36)}-${process.pid.toString(36)}`;
  const outdir = join(cliDir, id);
  mkdirSync(cliDir, { recursive: true });
  const started = Date.now();
  const result = await build({
    absWorkingDir: root,
    entryPoints: { main: 'cli/main.ts' },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    chunkNames: '[name]-[hash]',
    sourcemap: 'linked',
    // Less text to parse: the engine's chunk loads in ~41 ms instead of ~50.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'silent',
    metafile: true,
    // yaml's build for Node is CommonJS, which calls require().
    banner: {
      js: "import { createRequire as __runwayRequire } from 'node:module'; const require = __runwayRequire(import.meta.url);",
    },
    plugins: [sourceUrls(outdir), externalPackages],
  });
  const inputs = {};
  const packageFiles = bundled.map((name) => `node_modules/${name}/package.json`);
  for (const file of [...Object.keys(result.metafile.inputs), ...buildFiles, ...packageFiles]) {
    if (file.includes('node_modules/') && !packageFiles.includes(file)) continue;
    const s = statSync(join(root, file));
    // Changed while esbuild ran, so perhaps read before the change: the next command rebuilds.
    // (The margin: Linux stamps files from a clock that may lag by a tick.)
    inputs[file] = s.mtimeMs < started - 50 ? [s.mtimeMs, s.size] : [-1, -1];
  }
  const manifest = join(cliDir, 'manifest.json');
  writeFileSync(`${manifest}.${id}`, JSON.stringify({ id, inputs }));
  renameSync(`${manifest}.${id}`, manifest);
  prune(id);
  return outdir;
}

function prune(current) {
  const builds = readdirSync(cliDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== current)
    .map((e) => e.name)
    .sort();
  for (const old of builds.slice(0, -KEEP))
    rmSync(join(cliDir, old), { recursive: true, force: true });
}

/**
 * `npm ci`'s step (the `prepare` script, which also runs where scripts/ is not copied yet, as in
 * the images' build stage): silent when it works, and a failure only warns, as bin/runway.js then
 * runs the sources.
 */
export async function prepare() {
  try {
    await buildCli();
  } catch (err) {
    console.warn(
      `runway: the CLI bundle was not built (${err.message}); runway will run the sources`,
    );
  }
  try {
    const { buildConsole } = await import('./build-console.mjs');
    await buildConsole();
  } catch (err) {
    console.warn(
      `runway: the console's assets were not built (${err.message}); the console builds them when it starts`,
    );
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  const outdir = await buildCli();
  console.log(
    `built the CLI into ${relative(root, outdir)}/ in ${Math.round(performance.now() - started)} ms`,
  );
}
