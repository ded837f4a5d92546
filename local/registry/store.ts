// The local Artifact Registry's storage: a directory snapshot becomes an immutable, content-
// addressed image. The digest is sha256 over a manifest listing every file (path, mode, size,
// sha256) and the Dockerfile's run config, so the same tree always gets the same digest and any
// change gets a new one. Layout under the root:
//   blobs/<hex>/...          the snapshot, never modified after it is renamed into place
//   manifests/<hex>.json     the manifest the digest is taken over
//   tags/<image>/<tag>       the digest a tag points at (image name URI-encoded)
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { failedPrecondition, invalidArgument, notFound } from '../../services/shared/errors.ts';
import { type ImageRef, imageName, parseImageRef } from '../../services/shared/image-ref.ts';
import { type ImageConfig, parseDockerfile } from '../../services/shared/dockerfile.ts';

export const LIMITS = { files: 20_000, bytes: 512 * 1024 * 1024 };

export interface ManifestFile {
  path: string;
  /** `f` regular, `x` executable, `l` symlink (target in `link`). */
  type: 'f' | 'x' | 'l';
  size: number;
  sha256?: string;
  link?: string;
}

export interface Manifest {
  mediaType: 'application/vnd.runway.local.image.v1+json';
  dockerfile: string;
  config: ImageConfig;
  files: ManifestFile[];
}

export interface StoredImage {
  /** `sha256:<hex>` */
  digest: string;
  /** The snapshot directory the image's processes run in. */
  dir: string;
  manifest: Manifest;
}

export interface PushResult {
  /** The full reference by digest: `HOST/P/R/IMAGE@sha256:…` */
  digestRef: string;
  digest: string;
  /** The full reference by tag, when the push named one. */
  tagRef?: string;
  /** False when the store already held this exact content. */
  created: boolean;
}

/** A glob of .dockerignore, as a regular expression over a relative path. */
function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        re += '.*';
        i++;
        if (pattern[i + 1] === '/') i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}(/.*)?$`);
}

function ignoreRules(text: string): { re: RegExp; negate: boolean }[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const p = normalize(negate ? l.slice(1) : l)
        .replace(/^\/+/, '')
        .replace(/\/+$/, '');
      return { re: globToRegExp(p), negate };
    });
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export class ImageStore {
  constructor(readonly root: string) {}

  /** Snapshots `dir` and points `ref`'s tag (if any) at it. */
  async push(dir: string, ref: string, options: { dockerfile?: string } = {}): Promise<PushResult> {
    const parsed = parseImageRef(ref);
    if (parsed.digest) {
      throw invalidArgument(
        `push names an image by tag or by name only, not by digest (the digest is computed): ${ref}`,
      );
    }
    const source = resolve(dir);
    const info = await stat(source).catch(() => undefined);
    if (!info) throw notFound(`directory ${source} does not exist`);
    if (!info.isDirectory()) throw invalidArgument(`${source} is not a directory`);
    const dockerfilePath = resolve(source, options.dockerfile ?? 'Dockerfile');
    const dockerfile = await readFile(dockerfilePath, 'utf8').catch(() => undefined);
    if (dockerfile === undefined) {
      throw failedPrecondition(
        `${dockerfilePath} does not exist: the local registry reads the image's CMD/ENTRYPOINT from it`,
      );
    }
    const config = parseDockerfile(
      dockerfile,
      relative(process.cwd(), dockerfilePath) || 'Dockerfile',
    );
    const ignore = ignoreRules(
      await readFile(join(source, '.dockerignore'), 'utf8').catch(() => ''),
    );
    const files = await this.#walk(source, ignore);
    // Copy first and hash the copy, so the digest is over exactly what was stored even if the
    // directory changes while it is pushed.
    const tmp = join(this.root, 'blobs', `.tmp-${randomUUID()}`);
    let digest: string;
    let created: boolean;
    try {
      await this.#copy(source, tmp, files);
      for (const file of files) {
        if (file.type !== 'l') file.sha256 = await sha256File(join(tmp, file.path));
      }
      const manifest: Manifest = {
        mediaType: 'application/vnd.runway.local.image.v1+json',
        dockerfile: relative(source, dockerfilePath).split(sep).join('/'),
        config,
        files,
      };
      const text = JSON.stringify(manifest);
      const hex = createHash('sha256').update(text).digest('hex');
      digest = `sha256:${hex}`;
      created = await this.#commit(tmp, hex, text);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    const name = imageName(parsed);
    const tag = parsed.tag ?? 'latest';
    await this.#writeTag(name, tag, digest);
    return { digestRef: `${name}@${digest}`, digest, tagRef: `${name}:${tag}`, created };
  }

  /** The image a reference names (by digest, or by tag through the tag's current digest). */
  async resolve(ref: string | ImageRef): Promise<StoredImage> {
    const parsed = typeof ref === 'string' ? parseImageRef(ref) : ref;
    const shown = typeof ref === 'string' ? ref : imageName(ref);
    const digest =
      parsed.digest ?? (await this.tagDigest(imageName(parsed), parsed.tag ?? 'latest'));
    if (!digest) throw notFound(`Image '${shown}' not found.`);
    const hex = digest.slice('sha256:'.length);
    const manifest = await readFile(join(this.root, 'manifests', `${hex}.json`), 'utf8').catch(
      () => undefined,
    );
    if (manifest === undefined) throw notFound(`Image '${shown}' not found.`);
    return { digest, dir: join(this.root, 'blobs', hex), manifest: JSON.parse(manifest) };
  }

  /** The digest `name:tag` points at, if the tag exists. */
  async tagDigest(name: string, tag: string): Promise<string | undefined> {
    const text = await readFile(this.#tagPath(name, tag), 'utf8').catch(() => undefined);
    return text?.trim() || undefined;
  }

  /** Every tag of `name` with its digest. */
  async tags(name: string): Promise<{ tag: string; digest: string }[]> {
    const dir = dirname(this.#tagPath(name, 'x'));
    const entries = await readdir(dir).catch(() => [] as string[]);
    const out: { tag: string; digest: string }[] = [];
    for (const tag of entries.filter((e) => !e.startsWith('.')).sort()) {
      const digest = await this.tagDigest(name, tag);
      if (digest) out.push({ tag, digest });
    }
    return out;
  }

  /** Names of the images with tags whose name starts with `prefix`. */
  async imageNames(prefix: string): Promise<string[]> {
    const entries = await readdir(join(this.root, 'tags')).catch(() => [] as string[]);
    return entries
      .map((e) => decodeURIComponent(e))
      .filter((n) => n.startsWith(prefix))
      .sort();
  }

  #tagPath(name: string, tag: string): string {
    return join(this.root, 'tags', encodeURIComponent(name), tag);
  }

  async #writeTag(name: string, tag: string, digest: string): Promise<void> {
    const path = this.#tagPath(name, tag);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${dirname(path)}/.${randomUUID()}`;
    await writeFile(tmp, `${digest}\n`);
    await rename(tmp, path);
  }

  async #walk(source: string, ignore: { re: RegExp; negate: boolean }[]): Promise<ManifestFile[]> {
    const files: ManifestFile[] = [];
    let bytes = 0;
    const ignored = (rel: string) => {
      let out = false;
      for (const rule of ignore) if (rule.re.test(rel)) out = !rule.negate;
      return out;
    };
    const visit = async (dir: string): Promise<void> => {
      const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      );
      for (const entry of entries) {
        const abs = join(dir, entry.name);
        const rel = relative(source, abs).split(sep).join('/');
        if (rel === '.git' || ignored(rel)) continue;
        if (entry.isDirectory()) {
          await visit(abs);
          continue;
        }
        if (files.length >= LIMITS.files) {
          throw invalidArgument(
            `${source} has more than ${LIMITS.files} files; add a .dockerignore for what the image does not need`,
          );
        }
        if (entry.isSymbolicLink()) {
          const link = await readlink(abs);
          const target = resolve(dirname(abs), link);
          if (isAbsolute(link) || !(target === source || target.startsWith(source + sep))) {
            throw invalidArgument(`${rel} is a symbolic link leaving the directory (${link})`);
          }
          files.push({ path: rel, type: 'l', size: 0, link });
          continue;
        }
        if (!entry.isFile()) continue;
        const info = await lstat(abs);
        bytes += info.size;
        if (bytes > LIMITS.bytes) {
          throw invalidArgument(
            `${source} holds more than ${LIMITS.bytes / 1024 / 1024} MB; add a .dockerignore for what the image does not need`,
          );
        }
        files.push({ path: rel, type: info.mode & 0o111 ? 'x' : 'f', size: info.size });
      }
    };
    await visit(source);
    return files;
  }

  async #copy(source: string, to: string, files: ManifestFile[]): Promise<void> {
    await mkdir(to, { recursive: true });
    for (const file of files) {
      const dest = join(to, file.path);
      await mkdir(dirname(dest), { recursive: true });
      if (file.type === 'l') await symlink(file.link!, dest);
      else {
        await copyFile(join(source, file.path), dest);
        await chmod(dest, file.type === 'x' ? 0o555 : 0o444);
      }
    }
  }

  /** Moves a hashed snapshot into blobs/<hex> unless the store holds it; true when it moved. */
  async #commit(tmp: string, hex: string, manifest: string): Promise<boolean> {
    const manifestPath = join(this.root, 'manifests', `${hex}.json`);
    if (await stat(manifestPath).catch(() => undefined)) return false;
    const final = join(this.root, 'blobs', hex);
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
    await mkdir(dirname(manifestPath), { recursive: true });
    const tmpManifest = join(dirname(manifestPath), `.${randomUUID()}`);
    await writeFile(tmpManifest, manifest);
    await rename(tmpManifest, manifestPath);
    return true;
  }
}
