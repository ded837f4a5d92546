// runway's own images for the local cloud. The deployer's and the acceptance job's Dockerfiles are
// multi-stage: a build stage bundles with esbuild, the final stage copies the bundle. Locally the
// build stage is `scripts/build.mjs`, run into a directory laid out like the final stage, next to
// the same Dockerfile, so the local registry snapshots what the real image would hold.
import { spawn } from 'node:child_process';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessLedger } from './process-ledger.ts';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export type RunwayImage = 'deployer' | 'acceptance';

/**
 * Builds `name`'s final stage into `<outRoot>/<name>`; returns that directory. The build runs in a
 * process group of its own, recorded in `ledger` while it runs, and `onStart` hears it started.
 */
export async function buildRunwayImage(
  name: RunwayImage,
  outRoot: string,
  options: { ledger?: ProcessLedger; onStart?: () => void } = {},
): Promise<string> {
  const dir = join(outRoot, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const argv = [
    join(repoRoot, 'scripts', 'build.mjs'),
    '--only',
    name,
    '--outdir',
    join(dir, 'dist'),
    '--no-sourcemap',
  ];
  const child = spawn(process.execPath, argv, {
    cwd: repoRoot,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  options.ledger?.add(child.pid, `the ${name} image build`);
  options.onStart?.();
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const exit = await new Promise<number | string | null>((resolve) => {
    child.once('error', (err) => resolve(err.message));
    child.once('close', (code, signal) => resolve(signal ?? code));
  });
  options.ledger?.remove(child.pid);
  if (exit !== 0)
    throw new Error(`building the ${name} image failed (${exit}): ${stderr.trim().slice(-2000)}`);
  await copyFile(join(repoRoot, 'services', name, 'Dockerfile'), join(dir, 'Dockerfile'));
  return dir;
}
