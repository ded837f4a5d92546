// The `docker` builder of the local Cloud Build: `build`, `tag` and `push` over the local
// Artifact Registry instead of a Docker daemon. A build records the context and Dockerfile under
// its tags (the daemon's image cache, one per build); a push snapshots them into the registry,
// which announces the push on the topic `gcr`, so a build's push can start a release.
import { access } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { imageName, parseImageRef } from '../../services/shared/image-ref.ts';

export interface BuiltImage {
  context: string;
  /** Relative to the context. */
  dockerfile: string;
}

/** What a push needs: the local registry's push (it publishes the notification). */
export interface ImagePusher {
  push(
    dir: string,
    image: string,
    dockerfile?: string,
  ): Promise<{ digest: string; digestRef: string }>;
}

/**
 * Runs before a build is recorded, for Dockerfiles whose stages must produce files locally
 * (runway's own multi-stage images); returns the directory to snapshot instead of the context.
 */
export type BuildRecipe = (
  image: BuiltImage,
  log: (line: string) => void,
) => Promise<BuiltImage | undefined>;

export class DockerError extends Error {
  override name = 'DockerError';
}

const BUILD_FLAGS_WITH_VALUE = new Set([
  '--build-arg',
  '--cache-from',
  '--network',
  '--platform',
  '--label',
  '--target',
  '--secret',
  '--ssh',
  '--add-host',
  '--iidfile',
]);
const BUILD_FLAGS_ALONE = new Set(['--pull', '-q', '--quiet', '--no-cache', '--rm', '--force-rm']);

export function parseDockerBuild(args: readonly string[]): {
  tags: string[];
  file?: string;
  context: string;
} {
  const tags: string[] = [];
  let file: string | undefined;
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const [flag, inline] =
      a.startsWith('--') && a.includes('=')
        ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
        : [a, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      const v = args[++i];
      if (v === undefined) throw new DockerError(`docker build: flag needs an argument: ${flag}`);
      return v;
    };
    if (flag === '-t' || flag === '--tag') tags.push(value());
    else if (flag === '-f' || flag === '--file') file = value();
    else if (BUILD_FLAGS_WITH_VALUE.has(flag)) value();
    else if (BUILD_FLAGS_ALONE.has(flag)) continue;
    else if (flag.startsWith('-') && flag !== '-')
      throw new DockerError(
        `docker build: the local Cloud Build does not support the flag ${flag}`,
      );
    else positional.push(a);
  }
  if (positional.length !== 1)
    throw new DockerError(
      'docker build: "docker build" requires exactly 1 argument (the context directory)',
    );
  return { tags, ...(file ? { file } : {}), context: positional[0]! };
}

export class LocalDocker {
  readonly #images = new Map<string, BuiltImage>();

  constructor(
    private readonly workspace: string,
    private readonly pusher: ImagePusher,
    private readonly recipe?: BuildRecipe,
  ) {}

  static key(image: string): string {
    const ref = parseImageRef(image);
    return `${imageName(ref)}:${ref.tag ?? 'latest'}`;
  }

  has(image: string): boolean {
    try {
      return this.#images.has(LocalDocker.key(image));
    } catch {
      return false;
    }
  }

  /** Runs `docker ARGS` in `cwd`; resolves with the lines to log. */
  async run(args: readonly string[], cwd: string, log: (line: string) => void): Promise<void> {
    const [command, ...rest] = args;
    if (command === 'build') return this.#build(rest, cwd, log);
    if (command === 'tag') return this.#tag(rest, log);
    if (command === 'push') return this.#push(rest, log);
    throw new DockerError(
      `docker ${command ?? ''}: the local Cloud Build's docker builder runs build, tag and push only (local/build/README.md)`,
    );
  }

  async #build(args: readonly string[], cwd: string, log: (line: string) => void): Promise<void> {
    const { tags, file, context } = parseDockerBuild(args);
    const dir = resolve(cwd, context);
    if (!this.#inside(dir))
      throw new DockerError(`docker build: the context ${context} is outside the workspace`);
    const dockerfilePath = resolve(
      file ? (isAbsolute(file) ? file : join(cwd, file)) : join(dir, 'Dockerfile'),
    );
    if (!this.#inside(dockerfilePath))
      throw new DockerError(`docker build: the Dockerfile ${file} is outside the workspace`);
    await access(dockerfilePath).catch(() => {
      throw new DockerError(
        `docker build: unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${dockerfilePath}: no such file or directory`,
      );
    });
    for (const t of tags) parseImageRef(t);
    let image: BuiltImage = { context: dir, dockerfile: relative(dir, dockerfilePath) };
    image = (await this.recipe?.(image, log)) ?? image;
    for (const t of tags) {
      this.#images.set(LocalDocker.key(t), image);
      log(`Successfully tagged ${t}`);
    }
  }

  async #tag(args: readonly string[], log: (line: string) => void): Promise<void> {
    if (args.length !== 2)
      throw new DockerError(
        'docker tag: "docker tag" requires exactly 2 arguments: SOURCE_IMAGE TARGET_IMAGE',
      );
    const source = this.#images.get(LocalDocker.key(args[0]!));
    if (!source) throw new DockerError(`Error response from daemon: No such image: ${args[0]}`);
    this.#images.set(LocalDocker.key(args[1]!), source);
    log(`tagged ${args[0]} as ${args[1]}`);
  }

  async #push(args: readonly string[], log: (line: string) => void): Promise<void> {
    const images = args.filter((a) => !a.startsWith('-'));
    if (images.length !== 1)
      throw new DockerError('docker push: "docker push" requires exactly 1 argument');
    const { digest } = await this.push(images[0]!);
    log(`${parseImageRef(images[0]!).tag ?? 'latest'}: digest: ${digest}`);
  }

  /** Pushes an image built or tagged in this build; the registry announces it. */
  async push(image: string): Promise<{ digest: string; digestRef: string }> {
    const built = this.#images.get(LocalDocker.key(image));
    if (!built) throw new DockerError(`An image does not exist locally with the tag: ${image}`);
    return this.pusher.push(built.context, LocalDocker.key(image), built.dockerfile);
  }

  #inside(path: string): boolean {
    const rel = relative(this.workspace, path);
    return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
  }
}
