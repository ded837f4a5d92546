// The console's browser assets: the build `npm ci` made (dist/console/, scripts/build-console.mjs)
// when every file it was built from is unchanged, else built now in memory. Each is kept gzipped
// too, and served under its content-hashed name as immutable.
import { readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

export interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
}

export interface AssetSet {
  /** The hashed file names the pages link. */
  script: string;
  style: string;
  files: Map<string, Asset>;
}

interface Built {
  script: string;
  style: string;
  files: Record<string, Uint8Array>;
}

// URLs from this source file's place (the CLI bundle keeps import.meta.url pointing here).
const root = new URL('..', import.meta.url);
const dist = new URL('dist/console/', root);

function typeOf(name: string): string {
  return name.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8';
}

/** The installed build, if it is fresh: every input still has the size and mtime it was built from. */
function installed(): Built | undefined {
  let manifest: { script: string; style: string; inputs: Record<string, [number, number]> };
  try {
    manifest = JSON.parse(readFileSync(new URL('manifest.json', dist), 'utf8'));
    for (const [file, [mtimeMs, size]] of Object.entries(manifest.inputs)) {
      const s = statSync(new URL(file, root), { throwIfNoEntry: false });
      if (!s || s.mtimeMs !== mtimeMs || s.size !== size) return undefined;
    }
    return {
      script: manifest.script,
      style: manifest.style,
      files: Object.fromEntries(
        [manifest.script, manifest.style].map((n) => [n, readFileSync(new URL(n, dist))]),
      ),
    };
  } catch {
    return undefined;
  }
}

let cached: Promise<AssetSet> | undefined;

/** The assets, loaded once per process. */
export function loadAssets(): Promise<AssetSet> {
  cached ??= (async () => {
    let built = installed();
    if (!built) {
      const script = new URL('scripts/build-console.mjs', root).href;
      const { buildConsole } = (await import(script)) as {
        buildConsole(o: { write: boolean }): Promise<Built>;
      };
      built = await buildConsole({ write: false });
    }
    const files = new Map<string, Asset>();
    for (const [name, contents] of Object.entries(built.files)) {
      const body = Buffer.from(contents);
      files.set(name, { type: typeOf(name), body, gzip: gzipSync(body, { level: 9 }) });
    }
    return { script: built.script, style: built.style, files };
  })();
  return cached;
}
