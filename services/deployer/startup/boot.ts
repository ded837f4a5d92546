// The deployer image's entry point. It runs the bundle (deployer.cjs) through V8's code cache:
// the image build starts the bundle once, serves one push and saves every function V8 compiled
// (deployer.cjs.cache), so a cold instance deserializes them instead of compiling them again.
// The cache belongs to one build (its first line is the build's id, which esbuild writes into this
// file): V8 itself checks only its version, its flags and the source's length. A cache of another
// build, V8 or flags is not used; the bundle then compiles as usual, only slower.
// RUNWAY_CODE_CACHE=write makes the cache when the process exits (code-cache.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';

declare const RUNWAY_BUILD_ID: string;

const bundle = join(__dirname, 'deployer.cjs');
const cacheFile = `${bundle}.cache`;
const header = Buffer.from(`${RUNWAY_BUILD_ID}\n`);
const writing = process.env.RUNWAY_CODE_CACHE === 'write';

/** The cache's V8 data, or why there is none: logged by the deployer when it listens. */
function readCache(): { data?: Buffer; status: 'none' | 'other-build' } {
  if (writing) return { status: 'none' };
  let data: Buffer;
  try {
    data = readFileSync(cacheFile);
  } catch {
    return { status: 'none' };
  }
  if (!data.subarray(0, header.length).equals(header)) return { status: 'other-build' };
  return { data: data.subarray(header.length), status: 'none' };
}

/** Compiles the bundle; the cache's bytes are dropped once V8 has read them. */
function compile(): { script: Script; codeCache: string } {
  const cache = readCache();
  // The build made the file one ASCII function expression (scripts/build.mjs, wrapAsFunction).
  const script = new Script(readFileSync(bundle, 'latin1'), {
    filename: bundle,
    ...(cache.data ? { cachedData: cache.data } : {}),
  });
  return {
    script,
    codeCache: cache.data ? (script.cachedDataRejected ? 'rejected' : 'used') : cache.status,
  };
}

const { script, codeCache } = compile();
const mod: { exports: { main?: (env: NodeJS.ProcessEnv, startup: object) => void } } = {
  exports: {},
};
script.runInThisContext()(mod.exports, createRequire(bundle), mod, bundle, __dirname);
if (writing)
  process.once('exit', () =>
    writeFileSync(cacheFile, Buffer.concat([header, script.createCachedData()])),
  );
if (typeof mod.exports.main !== 'function') throw new Error(`${bundle} exports no main()`);
mod.exports.main(process.env, { codeCache });
