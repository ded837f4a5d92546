#!/usr/bin/env node
// Bundles the production entry points under dist/, so the container images need no TypeScript
// toolchain and each service pays for loading one file, not hundreds.
//   node scripts/build.mjs [--only deployer] [--outdir DIR] [--no-sourcemap] [--code-cache]
//                         [--deployer-entry FILE]
// The local stack uses --only and --outdir to build an image's final stage into its own directory.
// --code-cache also makes the deployer's V8 code cache (services/deployer/startup/code-cache.ts), as its image does.
// --deployer-entry builds another program the deployer's way (the cold-start benchmark's floor).
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const { values: flags } = parseArgs({
  options: {
    only: { type: 'string', multiple: true },
    outdir: { type: 'string', default: 'dist' },
    'no-sourcemap': { type: 'boolean', default: false },
    'code-cache': { type: 'boolean', default: false },
    'deployer-entry': { type: 'string', default: 'services/deployer/main.ts' },
  },
});

const root = fileURLToPath(new URL('..', import.meta.url));

// Packages the deployer loads but never needs, replaced in its bundle by a few lines each (see
// each file for why). RUNWAY_BUNDLE_KEEP=name,... keeps the real ones (to measure what each costs).
const deployerReplacements = Object.fromEntries(
  Object.entries({
    '@grpc/grpc-js': 'grpc-rest-only.cjs',
    '@grpc/proto-loader': 'grpc-rest-only.cjs',
    debug: 'debug-off.cjs',
    'mime-db': 'mime-db-api.cjs',
  })
    .filter(([name]) => !(process.env.RUNWAY_BUNDLE_KEEP ?? '').split(',').includes(name))
    .map(([name, file]) => [name, `${root}/services/deployer/startup/bundle/${file}`]),
);

/** An esbuild plugin: each package named in `files` is that file; its package.json a stub. */
function replace(files) {
  const names = Object.keys(files).map((n) => n.replace(/[/.]/g, '\\$&'));
  return {
    name: 'replace-packages',
    setup(b) {
      if (names.length === 0) return;
      b.onResolve({ filter: new RegExp(`^(${names.join('|')})(/.*)?$`) }, ({ path }) => {
        const name = Object.keys(files).find((n) => path === n || path.startsWith(`${n}/`));
        const rest = path.slice(name.length);
        if (rest === '') return { path: files[name] };
        if (rest === '/package.json') return { path: name, namespace: 'replaced-package' };
        return {
          errors: [{ text: `${path}: ${name} is replaced in this bundle (${files[name]})` }],
        };
      });
      b.onLoad({ filter: /.*/, namespace: 'replaced-package' }, ({ path }) => ({
        contents: JSON.stringify({ name: path, version: '0.0.0-replaced' }),
        loader: 'json',
      }));
    },
  };
}

/**
 * Makes deployer.cjs the function Node's CommonJS loader would wrap it in, so boot.ts compiles the
 * file's text as it is: read as latin1, a large file becomes a string outside V8's heap, with no
 * UTF-8 decoding and no copy for a wrapper (~4 ms of a cold start, and less for the GC to scan).
 * Latin-1 reads ASCII exactly, and esbuild escapes everything else (its default charset).
 */
function wrapAsFunction(dir) {
  const file = `${dir}/deployer.cjs`;
  const text = readFileSync(file);
  const bad = text.findIndex((byte) => byte > 0x7f);
  if (bad >= 0)
    throw new Error(`${file}: byte ${bad} is not ASCII; boot.ts reads the bundle as latin1`);
  writeFileSync(file, `(function (exports, require, module, __filename, __dirname) {\n${text}\n})`);
  if (!existsSync(`${file}.map`)) return;
  // The source map: one more line at the top.
  const map = JSON.parse(readFileSync(`${file}.map`, 'utf8'));
  writeFileSync(`${file}.map`, JSON.stringify({ ...map, mappings: `;${map.mappings}` }));
}

// Each service's bundle options; its image runs `<outdir>/<service>/index.(c)js`.
const services = {
  // CommonJS in one file, so boot.ts can run it through V8's code cache (see boot.ts); the clients
  // only /reconcile needs stay behind lazy wrappers that V8 compiles when first called.
  deployer: {
    entryPoints: { index: 'services/deployer/startup/boot.ts', deployer: flags['deployer-entry'] },
    format: 'cjs',
    outExtension: { '.js': '.cjs' },
    // main.ts's "run directly" check; the bundle is started by boot.ts instead.
    // boot.ts takes only a code cache made from this very build.
    define: { 'import.meta.url': '"runway:bundle"', RUNWAY_BUILD_ID: JSON.stringify(randomUUID()) },
    // Less text to read at every cold start (6.2 -> 4.0 MB, about 15 ms); names stay, so stack
    // traces in the logs still read.
    minifyWhitespace: true,
    minifySyntax: true,
    plugins: [replace(deployerReplacements)],
    after: wrapAsFunction,
  },
  // ESM with code splitting: chunks are read when first used, not parsed at startup.
  acceptance: {
    entryPoints: { index: 'services/acceptance/main.ts' },
    format: 'esm',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    // CommonJS dependencies inside an ESM bundle still call require().
    banner: {
      js: [
        "import { createRequire as __cr } from 'node:module';",
        "import { fileURLToPath as __fu } from 'node:url';",
        "import { dirname as __dn } from 'node:path';",
        'const require = __cr(import.meta.url);',
        'const __filename = __fu(import.meta.url);',
        'const __dirname = __dn(__filename);',
      ].join(' '),
    },
  },
};
const chosen = Object.entries(services).filter(
  ([service, o]) =>
    Object.values(o.entryPoints).every((src) => existsSync(`${root}/${src}`)) &&
    (!flags.only || flags.only.includes(service)),
);
// One build per service, so each directory is self-contained for its image.
for (const [service, options] of chosen) {
  rmSync(`${flags.outdir}/${service}`, { recursive: true, force: true });
  const { after, ...esbuildOptions } = options;
  await build({
    absWorkingDir: root,
    outdir: `${flags.outdir}/${service}`,
    bundle: true,
    platform: 'node',
    target: 'node20',
    sourcemap: flags['no-sourcemap'] ? false : 'linked',
    legalComments: 'none',
    logLevel: 'warning',
    ...esbuildOptions,
  });
  after?.(`${flags.outdir}/${service}`);
}
if (flags['code-cache'] && chosen.some(([service]) => service === 'deployer')) {
  execFileSync(
    process.execPath,
    ['--import', 'tsx', 'services/deployer/startup/code-cache.ts', `${flags.outdir}/deployer`],
    { cwd: root, stdio: 'inherit' },
  );
}
console.log(`built ${chosen.map(([s]) => s).join(', ') || 'nothing'} into ${flags.outdir}/`);
