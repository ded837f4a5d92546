// How a step's builder image maps to a tool on this machine (the table README.md documents).
// The local Cloud Build runs no containers: each builder becomes the local command the image
// would run, with the image's ENTRYPOINT rules (a step's `entrypoint` replaces the image's; an
// image without one runs its first arg).
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

export type BuilderKind = 'docker' | 'node' | 'gcloud' | 'shell' | 'git' | 'npm';

export interface Builder {
  kind: BuilderKind;
  /** The image's ENTRYPOINT, empty when the image has none (its first arg is the command). */
  entrypoint: string[];
  /** node and bash images: docker-entrypoint.sh runs a first arg that is a command, else prepends this. */
  prepend?: string;
  /** What runs when there are no args and no entrypoint (the image's CMD). */
  cmd: string[];
}

interface Row {
  /** Image names without tag or digest, or a prefix ending in `/`. */
  images: string[];
  builder: Builder;
}

export const BUILDER_TABLE: readonly Row[] = [
  {
    images: ['node', 'docker.io/library/node', 'library/node'],
    builder: { kind: 'node', entrypoint: [], prepend: 'node', cmd: ['node'] },
  },
  {
    images: ['gcr.io/cloud-builders/npm'],
    builder: { kind: 'npm', entrypoint: ['npm'], cmd: [] },
  },
  {
    images: ['gcr.io/cloud-builders/docker', 'docker', 'docker.io/library/docker'],
    builder: { kind: 'docker', entrypoint: ['docker'], cmd: [] },
  },
  {
    images: ['gcr.io/cloud-builders/gcloud', 'gcr.io/cloud-builders/gcloud-slim'],
    builder: { kind: 'gcloud', entrypoint: ['gcloud'], cmd: [] },
  },
  {
    images: [
      'gcr.io/google.com/cloudsdktool/',
      'google/cloud-sdk',
      'gcr.io/google-containers/cloud-sdk',
    ],
    builder: { kind: 'gcloud', entrypoint: [], cmd: ['bash'] },
  },
  {
    images: ['bash', 'docker.io/library/bash'],
    builder: { kind: 'shell', entrypoint: [], prepend: 'bash', cmd: ['bash'] },
  },
  {
    images: ['ubuntu', 'debian', 'docker.io/library/ubuntu', 'docker.io/library/debian'],
    builder: { kind: 'shell', entrypoint: [], cmd: ['bash'] },
  },
  {
    images: ['alpine', 'busybox', 'docker.io/library/alpine', 'docker.io/library/busybox'],
    builder: { kind: 'shell', entrypoint: [], cmd: ['sh'] },
  },
  {
    images: ['gcr.io/cloud-builders/git'],
    builder: { kind: 'git', entrypoint: ['git'], cmd: [] },
  },
];

/** `node:20-slim` → `node`; `gcr.io/x/y@sha256:…` → `gcr.io/x/y`. */
export function imageWithoutTag(image: string): string {
  const noDigest = image.split('@')[0]!;
  const lastSlash = noDigest.lastIndexOf('/');
  const colon = noDigest.indexOf(':', lastSlash + 1);
  return colon < 0 ? noDigest : noDigest.slice(0, colon);
}

export function findBuilder(image: string): Builder | undefined {
  const name = imageWithoutTag(image);
  for (const row of BUILDER_TABLE) {
    for (const i of row.images) {
      if (i.endsWith('/') ? name.startsWith(i) : name === i) return row.builder;
    }
  }
  return undefined;
}

export function unknownBuilderMessage(image: string): string {
  return `the builder ${JSON.stringify(image)} is not one the local Cloud Build can run: it runs no containers, only builders mapped to local tools (node:*, gcr.io/cloud-builders/docker, gcr.io/cloud-builders/gcloud, gcr.io/google.com/cloudsdktool/*, gcr.io/cloud-builders/git, gcr.io/cloud-builders/npm, bash, ubuntu, debian, alpine, busybox); see local/build/README.md`;
}

/** `command -v`: the first executable on PATH (or the path itself when it has a slash). */
export function whichSync(command: string, path: string, cwd: string): string | undefined {
  const executable = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (command.includes('/')) {
    const p = isAbsolute(command) ? command : join(cwd, command);
    return executable(p) ? p : undefined;
  }
  for (const dir of path.split(delimiter)) {
    if (dir && executable(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

/**
 * The argv a step runs, as the image would: the step's entrypoint, else the image's, else the
 * first arg (docker-entrypoint.sh images prepend `node`/`bash` unless that arg is a command).
 */
export function stepArgv(
  builder: Builder,
  step: { entrypoint: string; args: readonly string[] },
  isCommand: (name: string) => boolean,
): string[] {
  if (step.entrypoint) return [step.entrypoint, ...step.args];
  if (builder.entrypoint.length > 0) return [...builder.entrypoint, ...step.args];
  if (step.args.length === 0) return [...builder.cmd];
  const first = step.args[0]!;
  if (builder.prepend && (first.startsWith('-') || !isCommand(first))) {
    return [builder.prepend, ...step.args];
  }
  return [...step.args];
}
