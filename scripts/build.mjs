#!/usr/bin/env node
// Bundles the production entry points into single ESM files under dist/, so the container images
// need no TypeScript toolchain and the deployer pays for loading one file, not hundreds.
//   node scripts/build.mjs [--only deployer] [--outdir DIR] [--no-sourcemap]
// The local stack uses --only and --outdir to build an image's final stage into its own directory.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const { values: flags } = parseArgs({
  options: {
    only: { type: 'string', multiple: true },
    outdir: { type: 'string', default: 'dist' },
    'no-sourcemap': { type: 'boolean', default: false },
  },
});

const root = fileURLToPath(new URL('..', import.meta.url));
// Each service's entry point; its bundle is `<outdir>/<service>/index.js`.
const entries = {
  deployer: 'services/deployer/main.ts',
  acceptance: 'services/acceptance/main.ts',
};
const present = Object.fromEntries(
  Object.entries(entries).filter(
    ([service, src]) =>
      existsSync(`${root}/${src}`) && (!flags.only || flags.only.includes(service)),
  ),
);
// One build per service, so each directory is self-contained for its image. Code splitting turns
// the deployer's lazy imports (the Run and Artifact Registry clients, only /reconcile needs them)
// into chunks that are read when first used, not parsed at startup.
for (const [service, src] of Object.entries(present)) {
  await build({
    absWorkingDir: root,
    entryPoints: { index: src },
    outdir: `${flags.outdir}/${service}`,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: flags['no-sourcemap'] ? false : 'linked',
    legalComments: 'none',
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
    logLevel: 'warning',
  });
}
console.log(`built ${Object.keys(present).join(', ') || 'nothing'} into ${flags.outdir}/`);
