// runway's own images for the local cloud. The deployer's and the acceptance job's Dockerfiles are
// multi-stage: a build stage bundles with esbuild, the final stage copies the bundle. Locally the
// build stage is `scripts/build.mjs`, run into a directory laid out like the final stage, next to
// the same Dockerfile, so the local registry snapshots what the real image would hold.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export type RunwayImage = 'deployer' | 'acceptance';

/** Builds `name`'s final stage into `<outRoot>/<name>`; returns that directory. */
export async function buildRunwayImage(name: RunwayImage, outRoot: string): Promise<string> {
  const dir = join(outRoot, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await run(
    process.execPath,
    [
      join(repoRoot, 'scripts', 'build.mjs'),
      '--only',
      name,
      '--outdir',
      join(dir, 'dist'),
      '--no-sourcemap',
    ],
    { cwd: repoRoot },
  );
  await copyFile(join(repoRoot, 'services', name, 'Dockerfile'), join(dir, 'Dockerfile'));
  return dir;
}
