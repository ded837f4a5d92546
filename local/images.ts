// runway's own images for the local cloud. The deployer's and the acceptance job's Dockerfiles are
// multi-stage: a build stage bundles with esbuild, the final stage copies the bundle. Locally the
// build stage is `scripts/build.mjs`, run into a directory laid out like the final stage, next to
// the same Dockerfile, so the local registry snapshots what the real image would hold.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { access, copyFile, mkdir, rm } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildRecipe } from './build/docker.ts';
import type { ProcessLedger } from './process-ledger.ts';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export type RunwayImage = 'deployer' | 'acceptance';
const RUNWAY_IMAGES: readonly RunwayImage[] = ['deployer', 'acceptance'];

/**
 * Builds `name`'s final stage into `<outRoot>/<name>`; returns that directory. The build runs in a
 * process group of its own, recorded in `ledger` while it runs, and `onStart` hears it started.
 * `source` is the checkout to build (default: this one); it needs its `node_modules`.
 */
export async function buildRunwayImage(
  name: RunwayImage,
  outRoot: string,
  options: { ledger?: ProcessLedger; onStart?: () => void; source?: string } = {},
): Promise<string> {
  const source = options.source ?? repoRoot;
  const dir = join(outRoot, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const argv = [
    join(source, 'scripts', 'build.mjs'),
    '--only',
    name,
    '--outdir',
    join(dir, 'dist'),
    '--no-sourcemap',
  ];
  const child = spawn(process.execPath, argv, {
    cwd: source,
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
  await copyFile(join(source, 'services', name, 'Dockerfile'), join(dir, 'Dockerfile'));
  return dir;
}

/**
 * The local Cloud Build's `docker build -f services/NAME/Dockerfile .` of a runway checkout: its
 * build stage run as `runway local up` runs it, so the image is the one `up` deploys. Any other
 * Dockerfile, or a context that is not a runway checkout, is left to the plain snapshot.
 */
export function runwayRecipe(outRoot: string, ledger?: ProcessLedger): BuildRecipe {
  return async (image, log) => {
    const name = RUNWAY_IMAGES.find(
      (n) => normalize(image.dockerfile) === join('services', n, 'Dockerfile'),
    );
    if (!name) return undefined;
    const isCheckout = await access(join(image.context, 'scripts', 'build.mjs')).then(
      () => true,
      () => false,
    );
    if (!isCheckout) return undefined;
    log(`runway's ${name} image: its build stage runs as scripts/build.mjs --only ${name}`);
    const dir = await buildRunwayImage(name, join(outRoot, randomUUID()), {
      source: image.context,
      ...(ledger ? { ledger } : {}),
    });
    return { context: dir, dockerfile: 'Dockerfile' };
  };
}
