// A build's source as `gcloud builds submit` uploads it: the directory's files less those its
// `.gcloudignore` names (gcloud's `#!include:FILE` too), or, without one, gcloud's default rules
// when the directory is a git checkout (`.gcloudignore`, `.git`, `.gitignore` and what
// `.gitignore` ignores); nothing is left out otherwise. Packed as a gzipped tarball.
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ignore from 'ignore';
import * as tar from 'tar';

/** gcloud's default `.gcloudignore` (googlecloudsdk/command_lib/util/gcloudignore.py). */
export const DEFAULT_GCLOUDIGNORE = '.gcloudignore\n.git\n.gitignore\n';

export class SourceError extends Error {
  override name = 'SourceError';
}

const exists = (path: string) =>
  lstat(path).then(
    () => true,
    () => false,
  );

/** `#!include:FILE` lines replaced by FILE's lines (one level deep, files beside it only). */
async function expandIncludes(text: string, dir: string): Promise<string> {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^#!include:(.*)$/.exec(line);
    if (!m) {
      out.push(line);
      continue;
    }
    const file = m[1]!;
    if (file.includes('/'))
      throw new SourceError(`${line}: may only include files in the same directory`);
    const included = await readFile(join(dir, file), 'utf8').catch(() => {
      throw new SourceError(`${line}: the included file ${join(dir, file)} cannot be read`);
    });
    // An include inside an included file is a comment, as gcloud reads it.
    out.push(...included.split(/\r?\n/));
  }
  return out.join('\n');
}

/** The ignore rules gcloud would use for `dir`, and where they came from. */
export async function ignoreRules(dir: string): Promise<{ rules: string; from: string }> {
  const own = join(dir, '.gcloudignore');
  if (await exists(own)) {
    return { rules: await expandIncludes(await readFile(own, 'utf8'), dir), from: own };
  }
  const git = (await exists(join(dir, '.git'))) || (await exists(join(dir, '.gitignore')));
  if (!git) return { rules: '', from: 'none (no .gcloudignore, not a git checkout)' };
  const withGit = (await exists(join(dir, '.gitignore')))
    ? `${DEFAULT_GCLOUDIGNORE}#!include:.gitignore\n`
    : DEFAULT_GCLOUDIGNORE;
  return { rules: await expandIncludes(withGit, dir), from: "gcloud's default rules" };
}

/**
 * The paths uploaded, relative with `/`, directories with a trailing `/`, sorted. An ignored
 * directory is not entered: nothing under it comes back, as in gcloud and git.
 */
export async function sourceFiles(dir: string, rules: string): Promise<string[]> {
  const ig = ignore().add(rules);
  const out: string[] = [];
  const walk = async (rel: string) => {
    const entries = await readdir(join(dir, rel), { withFileTypes: true });
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (ig.ignores(`${path}/`)) continue;
        out.push(`${path}/`);
        await walk(path);
      } else if (!ig.ignores(path)) {
        out.push(path);
      }
    }
  };
  await walk('');
  return out;
}

/** The gzipped tarball of `dir` as gcloud would upload it, and how many entries it holds. */
export async function sourceTarball(
  dir: string,
): Promise<{ data: Buffer; files: number; from: string }> {
  const { rules, from } = await ignoreRules(dir);
  const files = await sourceFiles(dir, rules);
  if (files.length === 0)
    throw new SourceError(
      `nothing to upload: ${dir} is empty, or its ignore rules (${from}) leave out every file`,
    );
  const chunks: Buffer[] = [];
  const stream = tar.c(
    { gzip: true, cwd: dir, portable: true, noDirRecurse: true, follow: false },
    files.map((f) => f.replace(/\/$/, '')),
  );
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return { data: Buffer.concat(chunks), files: files.length, from };
}
